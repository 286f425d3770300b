"""A revoke is never lost between processes (issue 20, point 1; docs/security.md T38).

The therapist's socket is on the room's owner, the patient's on another process, and her
link is revoked through that other process while the owner is dead, stalled, or Redis
restarts. Each ends with her not seated, not relayed, and her socket closed with the
revoked close code, within a bounded time: a room rebuilt from the database asks whether
her link still opens the visit (`RoomHooks.link_current`), revoking clears her admission
in the same transaction, and the ejection is sent again until the room confirms it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import pytest

from server.auth.seat import seat_of
from server.keys import ROUTER, VISITS
from server.visits.signaling_wiring import stored_seat
from signaling.closes import CLOSE_REVOKED
from signaling.cluster_bus import OWNER_TTL
from signaling.protocol import ProtocolError
from tests.helpers import make_visit
from tests.redis_server import RedisServer, own_redis_server, redis_server  # noqa: F401
from tests.test_cross_process import _split_call, servers  # noqa: F401 (a fixture)
from tests.test_redis_bus import Nodes, emptied, gate_inbox  # noqa: F401 (a fixture)
from tests.test_router_contract import PATIENT, THERAPIST, VISIT, Participant


async def _revoked_and_closed(person: Participant, timeout: float) -> None:
    """The patient's socket (a recording sink) is told her link was revoked and closed
    with the revoked code within `timeout`; after the revoke it was never welcomed again
    (seated by a rebuilt room)."""
    start = len(person.sink.messages)
    ended = await person.expect("visit-ended", timeout=timeout)
    assert ended["reason"] == "link_revoked"
    assert person.sink.closed == CLOSE_REVOKED
    later = [m["type"] for m in person.sink.messages[start:]]
    assert "welcome" not in later, later


def _peer_joins_of(person: Participant, since: int, who: str) -> list[dict[str, Any]]:
    return [m for m in person.sink.messages[since:]
            if m["type"] == "peer-joined" and m.get("peer", {}).get("id") == who
            or m["type"] == "welcome" and any(p["id"] == who for p in m.get("peers", []))]


async def test_the_owners_death_after_a_revoke_does_not_seat_her_in_the_rebuilt_room(
        servers):  # noqa: F811
    """The issue's run: the owner stalls, the link is revoked through the other process
    (its ejection goes to the stalled owner's inbox and dies with it), the owner dies."""
    a, b = servers
    visit, therapist, patient = await _split_call(servers)  # therapist on b, patient on a
    owner = b.app[ROUTER]
    assert owner.counts()["rooms"] == 1, "the therapist's server must own the room"
    owner.bus.crash()  # stalled, then gone: nothing it was sent is ever read
    started, before = time.monotonic(), len(patient.seen)
    await a.app[VISITS].revoke(visit, "patient", actor="test")
    stored = (await a.app[VISITS].get(visit.id)).participant("patient")
    assert stored.admitted_at is None  # cleared with the revocation, in one transaction
    # Her therapist's browser reconnects to the survivor; the room is rebuilt there.
    back = await a.socket(await a.link(visit, "therapist"), session=therapist.session)
    assert await patient.closed_with(timeout=2 * OWNER_TTL + 4) == CLOSE_REVOKED
    assert time.monotonic() - started < 2 * OWNER_TTL + 4
    after = patient.seen[before:]
    assert [m["type"] for m in after] == ["visit-ended"], after  # never seated again
    assert after[0]["reason"] == "link_revoked"
    welcome = await back.expect("welcome", timeout=2 * OWNER_TTL + 4)
    assert welcome["peers"] == []  # she is not in the call
    await asyncio.sleep(0.5)
    patient_id = visit.participant("patient").id
    assert not any(m["type"] in ("peer-joined", "offer") for m in back.seen), back.seen
    assert not any(p["id"] == patient_id for m in back.seen if m["type"] == "lobby"
                   for p in m["waiting"]), back.seen


async def test_a_stalled_owner_leaves_her_out_and_confirms_the_ejection_when_it_answers(
        emptied):  # noqa: F811
    """The owner stops reading its inbox and renewing its rooms (SIGSTOP) long enough for
    its record to lapse; the room moves to the patient's node without her, and the
    owner, once it answers again, ejects her from its stale room and confirms."""
    nodes = Nodes(emptied, backoff=(0.2, 1.0))
    stalled = asyncio.Event()
    stalled.set()
    try:
        await nodes.in_call()
        bus = nodes.buses[0]
        renew = bus.renew

        async def stalled_renew(visit_ids: Any, ttl: float) -> None:
            await stalled.wait()
            await renew(visit_ids, ttl)

        gate_inbox(bus, stalled)
        bus.renew = stalled_renew  # type: ignore[method-assign]
        stalled.clear()
        since = len(nodes.therapist.sink.messages)
        nodes.store.revoke(PATIENT)  # what the visit service stores first
        await nodes.b.eject(VISIT, PATIENT, "link_revoked")
        await _revoked_and_closed(nodes.patient, timeout=3 * nodes.b.ttl + 3)
        assert nodes.b.ejections.pending, "the stalled owner cannot have confirmed it yet"
        stalled.set()  # the owner answers again
        deadline = time.monotonic() + 10
        while nodes.b.ejections.pending:
            assert time.monotonic() < deadline, "the ejection was never confirmed"
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)
        assert _peer_joins_of(nodes.therapist, since, PATIENT) == []
    finally:
        stalled.set()
        await nodes.close()


async def test_a_revoke_made_while_redis_is_down_is_not_undone_by_its_restart(
        own_redis_server):  # noqa: F811
    nodes = Nodes(own_redis_server.url, backoff=(0.2, 1.0))
    try:
        await nodes.in_call()
        since = len(nodes.therapist.sink.messages)
        own_redis_server.stop()
        nodes.store.revoke(PATIENT)
        await nodes.b.eject(VISIT, PATIENT, "link_revoked")  # no error escapes
        await asyncio.sleep(1.0)
        own_redis_server.start()  # the same port, and nothing remembered
        await _revoked_and_closed(nodes.patient, timeout=10)
        deadline = time.monotonic() + 10
        while nodes.b.ejections.pending:
            assert time.monotonic() < deadline, "the ejection was never confirmed"
            await asyncio.sleep(0.05)
        await asyncio.sleep(2.0)  # every node's resync has settled: she stays out
        assert _peer_joins_of(nodes.therapist, since, PATIENT) == []
        with contextlib.suppress(ProtocolError):  # refused where the room is this node's
            await nodes.therapist.send({"type": "offer", "to": PATIENT, "sdp": "v=0 after"})
        await asyncio.sleep(0.3)
        assert not any(m.get("sdp") == "v=0 after" for m in nodes.patient.sink.messages)
    finally:
        await nodes.close()


@pytest.mark.both_engines
async def test_revoking_clears_the_admission_and_the_link_no_longer_seats_anyone(client):
    visits = client.server.app[VISITS]
    visit = await make_visit(client)
    patient = visit.participant("patient")
    await visits.record_admission(visit.id, patient.id, admitted=True, device="device-1")
    stored = await visits.get(visit.id)
    opened = seat_of(stored, stored.participant("patient"), "device-1", link_id=patient.jti)
    assert opened.admitted and opened.link_id == patient.jti
    assert await visits.link_current(patient.id, patient.jti)
    await visits.revoke(visit, "patient", actor="test")
    assert not await visits.link_current(patient.id, patient.jti)
    assert not (await stored_seat(visits, opened)).admitted
    assert not await visits.link_current(patient.id, "")  # a seat without a link id
    assert not await visits.link_current(THERAPIST, patient.jti)  # someone else's link
    renewed = (await visits.reissue(await visits.get(visit.id), "patient", actor="test")
               ).participant("patient")
    assert await visits.link_current(patient.id, renewed.jti)
    assert not await visits.link_current(patient.id, patient.jti)  # the old one stays out


@pytest.mark.both_engines
async def test_a_socket_seated_again_after_a_reissue_keeps_its_old_link_and_is_turned_away(client):
    """A room rebuilt elsewhere re-reads the seat; it must not lend the old socket the new jti."""
    visits = client.server.app[VISITS]
    visit = await make_visit(client)
    stored = await visits.get(visit.id)
    opened = seat_of(stored, stored.participant("patient"), "device-1",
                     link_id=stored.participant("patient").jti)
    await visits.reissue(stored, "patient", actor="test")
    again = await stored_seat(visits, opened)
    assert again.link_id == opened.link_id
    assert not await visits.link_current(again.participant_id, again.link_id)
