"""TURN credentials follow admission, against a real coturn (tests/coturn_server.py): none
while waiting (nor on a second device), short-lived ones for the admitted, renewed with
`ice` while in the call, another user for a re-issued link, nothing new allocated with a
denied or revoked participant's credential once it expires, and coturn's per-link quota."""

from __future__ import annotations

import asyncio
import re
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
import redis.asyncio as aioredis
from aioice import stun
from aioice.turn import create_turn_endpoint

from server.runtime.config import Config
from server.keys import ROUTER, VISITS
from signaling.cluster_messages import Deliver, decode_message, open_envelope
from signaling.ice import turn_credentials
from tests.browser import Chromium, wait_state, wait_until
from tests.coturn_server import USER_QUOTA, CoturnServer, coturn  # noqa: F401 (fixture)
from tests.live import LiveServer, Socket, free_port, in_call, start_live_server
from tests.redis_server import RedisServer, redis_server  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parent.parent


@asynccontextmanager
async def _server(config: Config, coturn: CoturnServer,  # noqa: F811
                  seconds: int = 600, **overrides: Any) -> AsyncIterator[LiveServer]:
    """A live server offering the test's coturn, with credentials of `seconds`."""
    server = await start_live_server(config.with_overrides(
        turn_url=coturn.url, turn_secret=coturn.secret, turn_credential_seconds=seconds,
        **overrides))
    try:
        yield server
    finally:
        await server.close()


def _turn(message: dict[str, Any]) -> tuple[str, str] | None:
    """(username, credential) of the TURN server a message carries, if any."""
    for server in message.get("ice_servers", []):
        if server.get("username"):
            return server["username"], server["credential"]
    return None


def _newest_credential(sock: Socket) -> tuple[str, str]:
    found = [c for c in map(_turn, sock.seen) if c is not None]
    assert found, f"no TURN credential among {[m['type'] for m in sock.seen]}"
    return found[-1]


async def _allocate(coturn: CoturnServer, credential: tuple[str, str]) -> int:  # noqa: F811
    """Allocate a relay with a credential and release it: 200, or coturn's error code."""
    try:
        transport, _ = await asyncio.wait_for(create_turn_endpoint(
            asyncio.DatagramProtocol, ("127.0.0.1", coturn.port), *credential), 5)
    except stun.TransactionFailed as refused:
        return refused.response.error_code
    transport.close()
    return 200


async def _quiet(sock: Socket, seconds: float) -> list[dict[str, Any]]:
    """Every message the socket gets in the next `seconds` (until it closes)."""
    before = len(sock.seen)
    try:
        await sock.expect("never-sent", timeout=seconds)
    except (asyncio.TimeoutError, AssertionError):  # time is up, or the socket closed
        pass
    return sock.seen[before:]


async def test_a_waiting_socket_gets_no_turn_credential_until_admitted(live_config, coturn):  # noqa: F811
    async with _server(live_config, coturn) as live:
        visit, therapist, patient = await in_call(live)
    welcome = next(m for m in patient.seen if m["type"] == "welcome")
    assert welcome["status"] == "waiting" and welcome["turn"] is True
    waiting = patient.seen[:patient.seen.index(next(m for m in patient.seen
                                                     if m["type"] == "admitted"))]
    assert [_turn(m) for m in waiting] == [None] * len(waiting)
    # Admission brings it: the link's id in the username, valid for ten minutes.
    admitted = patient.seen[-1]
    username, _ = _turn(admitted)  # type: ignore[misc]
    participant = visit.participant("patient")
    assert username == f"{admitted['ice_expires_at']}:{participant.id}.{participant.jti}"
    assert time.time() + 590 < admitted["ice_expires_at"] <= time.time() + 600
    assert await _allocate(coturn, _turn(admitted)) == 200  # type: ignore[arg-type]
    # The therapist is admitted from her welcome on.
    therapist_welcome = next(m for m in therapist.seen if m["type"] == "welcome")
    host = visit.participant("therapist")
    assert _turn(therapist_welcome)[0].endswith(f":{host.id}.{host.jti}")  # type: ignore[index]


async def test_a_second_device_waits_without_a_turn_credential(live_config, coturn):  # noqa: F811
    async with _server(live_config, coturn) as live:
        visit, therapist, patient = await in_call(live)
        other = await live.socket(await live.link(visit, "patient"))  # a new browser
        welcome = await other.expect("welcome")
        await other.expect("waiting")
        await patient.expect("opened-elsewhere")
        assert welcome["status"] == "waiting" and _turn(welcome) is None
        assert all(_turn(m) is None for m in await _quiet(other, 0.5))
        # Admitted in turn, that device gets one.
        await therapist.send({"type": "admit", "participant": visit.participant("patient").id})
        assert _turn(await other.expect("admitted")) is not None


async def test_the_credential_is_renewed_in_the_call_and_stops_once_out(live_config, coturn):  # noqa: F811
    async with _server(live_config, coturn, seconds=2) as live:
        visit, therapist, patient = await in_call(live)
        first = patient.seen[-1]
        renewed = await patient.expect("ice", timeout=3)
        assert renewed["ice_expires_at"] > first["ice_expires_at"]
        (old_name, _), (new_name, new_password) = _turn(first), _turn(renewed)  # type: ignore[misc]
        assert new_name != old_name and new_name.split(":")[1] == old_name.split(":")[1]
        assert await _allocate(coturn, (new_name, new_password)) == 200
        # Moved back to the waiting room: no more credentials; the therapist's go on.
        await therapist.send({"type": "remove", "participant": visit.participant("patient").id})
        await patient.expect("waiting")
        after = await _quiet(patient, 2.5)
        assert [m["type"] for m in after if m["type"] == "ice"] == []
        assert _turn(await therapist.expect("ice", timeout=3)) is not None


async def test_a_reissued_link_gets_another_turn_user(live_config, coturn):  # noqa: F811
    async with _server(live_config, coturn) as live:
        visit, therapist, patient = await in_call(live)
        old_user = _newest_credential(patient)[0].split(":")[1]
        visit = await live.app[VISITS].reissue(visit, "patient", actor="test")
        await patient.expect("visit-ended")
        again = await live.socket(await live.link(visit, "patient"))
        await again.expect("waiting")
        await therapist.send({"type": "admit", "participant": visit.participant("patient").id})
        await again.expect("admitted")
        new_user = _newest_credential(again)[0].split(":")[1]
    participant = visit.participant("patient")
    assert new_user == f"{participant.id}.{participant.jti}" != old_user
    assert old_user.startswith(participant.id)


@pytest.mark.parametrize("way_out", ["revoked", "denied"])
async def test_a_turned_out_participants_credential_allocates_nothing_once_it_expires(
        live_config, coturn, way_out):  # noqa: F811
    async with _server(live_config, coturn, seconds=3) as live:
        visit, therapist, patient = await in_call(live)
        patient_id = visit.participant("patient").id
        assert await _allocate(coturn, _newest_credential(patient)) == 200  # it works now
        if way_out == "revoked":
            await therapist.send({"type": "remove", "participant": patient_id, "revoke": True})
            assert await patient.closed_with() == 4004
        else:  # out of the call, then turned away
            await therapist.send({"type": "remove", "participant": patient_id})
            await patient.expect("waiting")
            await therapist.send({"type": "deny", "participant": patient_id})
            assert await patient.closed_with() == 4003
        credential = _newest_credential(patient)  # the last one she ever got
        expires_at = int(credential[0].split(":")[0])
        assert expires_at <= time.time() + 3
        await asyncio.sleep(max(0.0, expires_at + 1.2 - time.time()))
        assert await _allocate(coturn, credential) == 401
        assert coturn.refusals_of(credential[0]) >= 1


async def test_credentials_are_minted_where_the_socket_is_and_never_cross_redis(
        tmp_path, live_config, coturn, redis_server):  # noqa: F811
    async with aioredis.from_url(redis_server.url) as client:
        await client.flushall()
    servers = []
    for _ in range(2):
        port = free_port()
        servers.append(await start_live_server(live_config.with_overrides(
            db=tmp_path / "shared.db", port=port, public_url=f"http://127.0.0.1:{port}",
            redis_url=redis_server.url, turn_url=coturn.url, turn_secret=coturn.secret)))
    try:
        a, b = servers
        visit = await a.visit()
        therapist = await b.socket(await b.link(visit, "therapist"))  # b owns the room
        await therapist.expect("welcome")
        patient = await a.socket(await a.link(visit, "patient"))
        await patient.expect("waiting")
        while not (await therapist.expect("lobby"))["waiting"]:
            pass
        await therapist.send({"type": "admit", "participant": visit.participant("patient").id})
        username, credential = _turn(await patient.expect("admitted"))  # type: ignore[misc]
        await asyncio.sleep(0.3)  # (whatever the owner streamed is in Redis by now)
        async with aioredis.from_url(redis_server.url, decode_responses=True) as client:
            streams = [key async for key in client.scan_iter(match="*", _type="stream")]
            stored = [(key.split(":", 2)[2], fields) for key in streams
                      for _, fields in await client.xrange(key)]
    finally:
        for server in servers:
            await server.close()
    # Envelopes are sealed (T39): opened with the group's key, as the receiving server does.
    seal = a.app[ROUTER].bus.seal
    messages = [decode_message(open_envelope(seal.open(fields["m"], fields["to"], room)).message)
                for room, fields in stored]
    opened = [repr(message) for message in messages]  # every field and value, as text
    entries = [str(fields) for _, fields in stored] + opened
    assert streams and any(isinstance(m, Deliver) and isinstance(m.message, dict)
                           and m.message["type"] == "admitted" for m in messages)  # the owner's
    assert [e for e in entries if credential in e or username in e or "credential" in e] == []


_TURN_USERNAME = """() => {
    const peer = [...window.visitroomCall.peers.values()][0];
    const turn = peer.session.pc.getConfiguration().iceServers.find((s) => s.username);
    return turn ? turn.username : null;
}"""


def _allocated_after(coturn: CoturnServer, user: str, username: str) -> bool:  # noqa: F811
    """Whether coturn logged an allocation for this TURN user with a credential that
    expires later than `username`'s."""
    pattern = rf"user <(\d+):{re.escape(user)}>: incoming packet ALLOCATE processed, success"
    return any(int(expiry) > int(username.split(":")[0])
               for expiry in re.findall(pattern, coturn.log()))


async def test_a_browser_in_the_call_relays_with_each_renewed_credential(live_config, coturn):  # noqa: F811
    async with _server(live_config, coturn, seconds=4, ice_relay_only=True) as live:
        visit = await live.visit()
        async with Chromium() as chromium:
            pages = {}
            for role in ("therapist", "patient"):
                page = pages[role] = await chromium.page()
                await page.goto(await live.link(visit, role))
                await page.wait_for_selector("#call-root[data-ready=true]", state="attached")
                await page.click("[data-testid=join-button]")
            patient = visit.participant("patient")
            await pages["therapist"].click(
                f"[data-testid=admit-button][data-participant={patient.id}]")
            for page in pages.values():
                await wait_state(page, "connected")
            page = pages["patient"]
            first = await page.evaluate(_TURN_USERNAME)
            assert first.endswith(f":{patient.id}.{patient.jti}")
            # An `ice` renewal reaches the open peer connection (setConfiguration)...
            await wait_until(page, f"({_TURN_USERNAME})() !== {first!r}", timeout=6)
            await asyncio.sleep(max(0.0, int(first.split(":")[0]) + 1.2 - time.time()))
            # ... so an ICE restart after the first credential lapsed relays again, with a
            # credential coturn still accepts.
            await page.evaluate("() => [...window.visitroomCall.peers.values()][0]"
                                ".session.pc.restartIce()")
            expired_ones = coturn.allocations_of(first)
            deadline = time.monotonic() + 10
            while not _allocated_after(coturn, f"{patient.id}.{patient.jti}", first):
                assert time.monotonic() < deadline, "no allocation with a renewed credential"
                await asyncio.sleep(0.2)
            assert coturn.allocations_of(first) == expired_ones
            await wait_state(page, "connected")
            assert page.errors == []  # type: ignore[attr-defined]


async def test_coturn_refuses_allocations_past_the_user_quota(coturn):  # noqa: F811
    user = "p_AAAAAAAAAAAAAAAA.j_BBBBBBBBBBBB"
    later = int(time.time()) + 600
    server = ("127.0.0.1", coturn.port)
    held = []
    try:
        for _ in range(USER_QUOTA):
            transport, _ = await asyncio.wait_for(create_turn_endpoint(
                asyncio.DatagramProtocol, server, *turn_credentials(coturn.secret, user, later)), 5)
            held.append(transport)
        # One more, with the same credential or a renewed one of the same link: refused.
        assert await _allocate(coturn, turn_credentials(coturn.secret, user, later)) == 486
        assert await _allocate(coturn, turn_credentials(coturn.secret, user, later + 300)) == 486
        # Another link has its own quota.
        other = "p_AAAAAAAAAAAAAAAA.j_CCCCCCCCCCCC"
        assert await _allocate(coturn, turn_credentials(coturn.secret, other, later)) == 200
    finally:
        for transport in held:
            transport.close()
        await asyncio.sleep(0.2)  # (their deletions go out)


def _documented_coturn_settings() -> list[str]:
    text = (ROOT / "docs" / "deployment.md").read_text()
    block = re.search(r"`/etc/turnserver\.conf`:\s*```ini\n(.*?)```", text, re.S)
    assert block, "docs/deployment.md shows no turnserver.conf"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_the_documented_coturn_settings_set_the_tests_user_quota_without_inline_comments():
    lines = _documented_coturn_settings()
    assert f"user-quota={USER_QUOTA}" in lines
    # coturn reads `key=value   # note` as the value "value   # note": a secret copied with
    # a note after it would never match VISITROOM_TURN_SECRET.
    assert [line for line in lines if "#" in line and not line.startswith("#")] == []
