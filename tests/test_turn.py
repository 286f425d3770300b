"""Calls through a real coturn (tests/coturn_server.py) with the credentials admission mints:
two aiortc bots and two Chromium pages forced to relay, and credentials coturn refuses.
(tests/test_turn_admission.py: who gets credentials, for how long, and coturn's quota.)"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from asyncio.subprocess import PIPE
from pathlib import Path

import pytest
from aioice import stun
from aioice.turn import create_turn_endpoint

from server.runtime.config import Config, ConfigError, config_from_env
from server.keys import CONFIG
from signaling.bot import VisitClient, VisitClientError
from signaling.ice import turn_credentials
from tests.browser import Chromium, remote_video_playing, screenshot, wait_state
from tests.coturn_server import CoturnServer, coturn  # noqa: F401 (fixture)
from tests.live import start_live_server

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def relay_live(live_config: Config, coturn: CoturnServer):  # noqa: F811
    """A live server whose calls must go through the test's coturn."""
    server = await start_live_server(live_config.with_overrides(
        turn_url=coturn.url, turn_secret=coturn.secret, ice_relay_only=True))
    yield server
    await server.close()


@pytest.fixture
async def turn_live(live_config: Config, coturn: CoturnServer):  # noqa: F811
    """A live server that offers the test's coturn but lets peers connect directly."""
    server = await start_live_server(live_config.with_overrides(
        turn_url=coturn.url, turn_secret=coturn.secret))
    yield server
    await server.close()


def _turn_server(messages: list[dict]) -> dict:
    """The TURN server of the newest message that carried one (admission brings it)."""
    return next(s for m in reversed(messages) if m["type"] in ("welcome", "admitted", "ice")
                for s in m.get("ice_servers", []) if s.get("username"))


def test_relay_only_needs_a_turn_url_and_secret(tmp_path):
    for turn in ({}, {"turn_url": "turn:127.0.0.1:3478"}, {"turn_secret": "s3cret"}):
        with pytest.raises(ConfigError, match="needs a TURN server"):
            Config(db=tmp_path / "v.db", ice_relay_only=True, **turn)
    with pytest.raises(ConfigError, match="VISITROOM_ICE_RELAY_ONLY"):
        config_from_env({"VISITROOM_ICE_RELAY_ONLY": "yes"})
    config = config_from_env({"VISITROOM_ICE_RELAY_ONLY": "on",
                              "VISITROOM_TURN_URL": "turn:127.0.0.1:3478",
                              "VISITROOM_TURN_SECRET": "s3cret"})
    assert config.ice_relay_only and "s3cret" not in repr(config)


async def test_welcome_lets_peers_use_every_candidate_by_default(live):
    visit = await live.visit()
    patient = await live.socket(await live.link(visit))
    assert (await patient.expect("welcome"))["ice_transport_policy"] == "all"


async def test_a_relay_only_bot_without_a_turn_server_says_so(live):
    visit = await live.visit()
    with pytest.raises(VisitClientError, match="no TURN server"):
        await VisitClient(await live.link(visit), relay=True).run(timeout=5)


async def test_two_bots_forced_to_relay_meet_through_coturn(relay_live, coturn, caplog):  # noqa: F811
    caplog.set_level(logging.DEBUG, logger="server")
    caplog.set_level(logging.DEBUG, logger="signaling")
    visit = await relay_live.visit()
    patient = VisitClient(await relay_live.link(visit, "patient"))
    therapist = VisitClient(await relay_live.link(visit, "therapist"), admit=True)
    results = await asyncio.gather(patient.run(timeout=20, stay=0.5),
                                   therapist.run(timeout=20, stay=0.5))
    for client, figures in zip((patient, therapist), results):
        assert figures.complete
        assert figures.video_frames >= 3 and figures.audio_frames >= 10
        assert figures.candidate_types == ("relay", "relay")
        welcome = next(m for m in client.messages if m["type"] == "welcome")
        assert welcome["ice_transport_policy"] == "relay"
        turn = _turn_server(client.messages)
        assert turn["urls"] == [coturn.url]
        assert coturn.allocations_of(turn["username"]) >= 1
        # The credential is the link's and short-lived, not the visit's whole window.
        participant = visit.participant(figures.role)
        expiry, user = turn["username"].split(":")
        assert user == f"{participant.id}.{participant.jti}"
        lifetime = relay_live.app[CONFIG].turn_credential_seconds
        assert time.time() < int(expiry) <= time.time() + lifetime < participant.expires_at
        assert turn["credential"] not in caplog.text
    assert coturn.secret not in caplog.text
    assert "socket open" in caplog.text  # the server did log, without the secret


async def test_run_py_bot_relay_goes_through_turn_when_the_server_allows_direct(turn_live, coturn):  # noqa: F811
    visit = await turn_live.visit()
    therapist = VisitClient(await turn_live.link(visit, "therapist"), admit=True)
    command = [sys.executable, str(ROOT / "run.py"), "bot", await turn_live.link(visit, "patient"),
               "--relay", "--loopback", "--json", "--timeout", "20", "--stay", "1"]
    process = await asyncio.create_subprocess_exec(*command, cwd=ROOT, stdout=PIPE, stderr=PIPE)
    figures, (out, err) = await asyncio.gather(therapist.run(timeout=25, stay=2),
                                               asyncio.wait_for(process.communicate(), 40))
    assert process.returncode == 0, err.decode()
    printed = json.loads(out)
    assert printed["candidate_types"][0] == "relay"  # the bot's own side is relayed
    assert figures.complete and figures.candidate_types[1] == "relay"
    welcome = next(m for m in therapist.messages if m["type"] == "welcome")
    assert welcome["ice_transport_policy"] == "all"
    patient = visit.participant("patient")
    assert coturn.allocations_of_user(f"{patient.id}.{patient.jti}") >= 1


async def test_coturn_refuses_a_forged_or_expired_credential(coturn):  # noqa: F811
    participant = "p_AAAAAAAAAAAAAAAA"
    later = int(time.time()) + 600
    server = ("127.0.0.1", coturn.port)

    async def allocate(username: str, password: str) -> None:
        transport, _ = await asyncio.wait_for(
            create_turn_endpoint(asyncio.DatagramProtocol, server, username, password), 5)
        transport.close()

    await allocate(*turn_credentials(coturn.secret, participant, later))  # the genuine one works
    forged = turn_credentials("not-the-clinic-secret", participant, later)
    expired = turn_credentials(coturn.secret, participant, int(time.time()) - 60)
    for username, password in (forged, expired):
        with pytest.raises(stun.TransactionFailed) as refused:
            await allocate(username, password)
        assert refused.value.response.error_code == 401
        assert coturn.refusals_of(username) >= 1
    assert coturn.allocations_of(forged[0]) == 1  # only the genuine allocation (same username)
    assert coturn.allocations_of(expired[0]) == 0


_SELECTED_PAIR = """async () => {
    const types = [];
    for (const peer of window.visitroomCall.peers.values()) {
        const report = await peer.session.pc.getStats();
        report.forEach((s) => {
            if (s.type !== 'transport' || !s.selectedCandidatePairId) return;
            const pair = report.get(s.selectedCandidatePairId);
            types.push([report.get(pair.localCandidateId).candidateType,
                        report.get(pair.remoteCandidateId).candidateType,
                        peer.session.pc.connectionState,
                        peer.session.pc.getConfiguration().iceTransportPolicy]);
        });
    }
    return types;
}"""


async def test_two_chromium_pages_forced_to_relay_meet_through_coturn(relay_live, coturn):  # noqa: F811
    visit = await relay_live.visit()
    async with Chromium() as chromium:
        pages = {}
        for role in ("therapist", "patient"):
            page = pages[role] = await chromium.page()
            await page.goto(await relay_live.link(visit, role))
            await page.wait_for_selector("#call-root[data-ready=true]", state="attached")
            await page.click("[data-testid=join-button]")
        await pages["therapist"].click(
            f"[data-testid=admit-button][data-participant={visit.participant('patient').id}]")
        for page in pages.values():
            await wait_state(page, "connected")
        for role, page in pages.items():
            assert await remote_video_playing(page)
            assert await page.evaluate(_SELECTED_PAIR) == [["relay", "relay", "connected", "relay"]]
            participant = visit.participant(role)
            assert coturn.allocations_of_user(f"{participant.id}.{participant.jti}") >= 1
            assert page.errors == []  # type: ignore[attr-defined]
        await screenshot(pages["patient"], "call-through-turn-patient-1280")
