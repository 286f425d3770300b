"""Nothing stale after Redis loses data (issue 20, point 5; docs/security.md T40), and
streams that keep messages only as long as replay needs (point 6).

Two Redis-router nodes on a real redis-server: the therapist's socket on `a`, which owns
the room, the patient's on `b`. Redis is flushed mid-call, restarted, left quiet past the
life of a node's counters, and a node dies without a word: each time both sides agree on
who is in the call within the heartbeat (the record's life, 1.5 s here, and a round).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

import redis.asyncio as aioredis

from signaling.protocol import ProtocolError
from tests.redis_server import RedisServer, own_redis_server, redis_server  # noqa: F401
from tests.test_redis_bus import Nodes, emptied, gate_inbox  # noqa: F401 (a fixture)
from tests.test_router_contract import PATIENT, THERAPIST, VISIT, Participant, _seat

HEARTBEAT = 2 * 1.5 + 1.5
"""Seconds within which both sides must agree: twice the nodes' record life (1.5 s),
and a margin for the repair's own round trips."""


def _present(person: Participant, who: str) -> bool:
    """Whether `who` is in the call as this socket was last told (welcome, admitted,
    peer-joined, peer-left)."""
    present = False
    for m in person.sink.messages:
        if m["type"] in ("welcome", "admitted"):
            present = any(p["id"] == who for p in m.get("peers", []))
        elif m["type"] == "peer-joined" and m["peer"]["id"] == who:
            present = True
        elif m["type"] == "peer-left" and m["peer"] == who:
            present = False
    return present


async def _agree(nodes: Nodes, *, in_call: bool, within: float, what: str) -> float:
    """Wait until both sockets and both nodes' live states say the call is (or is not)
    going on; returns how long it took."""
    started = time.monotonic()
    want = {VISIT: "in_call"} if in_call else None
    while True:
        states = [await n.live_states([VISIT]) for n in (nodes.a, nodes.b)]
        therapist_sees = _present(nodes.therapist, PATIENT)
        patient_sees = in_call and _present(nodes.patient, THERAPIST)
        live_ok = all(s == want for s in states) if want else all(
            s.get(VISIT) != "in_call" for s in states)
        if therapist_sees == in_call and patient_sees == in_call and live_ok:
            return time.monotonic() - started
        assert time.monotonic() - started < within, (
            f"{what}: after {within} s the therapist sees the patient: {therapist_sees}, "
            f"the patient sees the therapist: {patient_sees}, live states {states}; "
            f"therapist got {[m['type'] for m in nodes.therapist.sink.messages[-8:]]}, "
            f"patient got {[m['type'] for m in nodes.patient.sink.messages[-8:]]}")
        await asyncio.sleep(0.05)


async def _relayed(sender: Participant, receiver: Participant, message: dict[str, Any],
                   within: float) -> None:
    """Send `message` until the receiver gets it (a socket being seated again refuses)."""
    deadline = time.monotonic() + within
    while True:
        try:
            await sender.send(message)
            while (await receiver.expect(message["type"], timeout=0.5))["sdp"] != message["sdp"]:
                pass
            return
        except (AssertionError, ProtocolError):
            assert time.monotonic() < deadline, (
                f"{receiver.sink.label} got no {message['type']} {message['sdp']!r} within "
                f"{within} s; got {[m['type'] for m in receiver.sink.messages[-10:]]}")
            await asyncio.sleep(0.05)  # (a refusal comes back at once: let the nodes work)


async def _busy_call(nodes: Nodes) -> None:
    """In a call, with numbers well past 1 both ways (a restart at 1 is then a repeat)."""
    await nodes.in_call()
    for i in range(20):
        await nodes.therapist.send({"type": "candidate", "to": PATIENT,
                                    "candidate": {"candidate": f"c:{i}", "sdpMid": "0"}})
        await nodes.patient.send({"type": "candidate", "to": THERAPIST,
                                  "candidate": {"candidate": f"p:{i}", "sdpMid": "0"}})
    for _ in range(20):
        await nodes.patient.expect("candidate")
        await nodes.therapist.expect("candidate")


async def test_a_flush_mid_call_leaves_both_sides_agreeing_within_the_heartbeat(emptied):  # noqa: F811
    nodes = Nodes(emptied, backoff=(0.2, 1.0))
    try:
        await _busy_call(nodes)
        async with aioredis.from_url(emptied) as client:
            await client.flushall()
        # Signaling goes on both ways (numbers start again in a new epoch, not dropped
        # as repeats), and both sides still see each other.
        await _relayed(nodes.therapist, nodes.patient,
                       {"type": "offer", "to": PATIENT, "sdp": "v=0 after"}, HEARTBEAT)
        await _relayed(nodes.patient, nodes.therapist,
                       {"type": "answer", "to": THERAPIST, "sdp": "v=0 back"}, HEARTBEAT)
        await _agree(nodes, in_call=True, within=HEARTBEAT, what="after the flush")
        assert all(bus.losses >= 1 for bus in nodes.buses), "each node noticed on its own"
        # Her departure is not dropped as a repeat: the therapist is told, and no
        # dashboard keeps her "in call".
        await nodes.b.leave(nodes.patient.seat, nodes.patient.conn)
        await _agree(nodes, in_call=False, within=HEARTBEAT, what="after she left")
    finally:
        await nodes.close()


async def test_a_flush_with_no_traffic_is_noticed_and_repaired_by_every_node(emptied):  # noqa: F811
    nodes = Nodes(emptied, backoff=(0.2, 1.0))
    try:
        await _busy_call(nodes)
        welcomes = [sum(m["type"] == "welcome" for m in p.sink.messages)
                    for p in (nodes.therapist, nodes.patient)]
        async with aioredis.from_url(emptied) as client:
            await client.flushall()
        started = time.monotonic()
        # Nobody sends anything: each node's round finds the new epoch and seats its
        # sockets again (a fresh welcome each), without waiting for a message.
        for person, before in zip((nodes.therapist, nodes.patient), welcomes):
            while sum(m["type"] == "welcome" for m in person.sink.messages) == before:
                assert time.monotonic() - started < HEARTBEAT, (
                    f"{person.sink.label} was not seated again within {HEARTBEAT} s of a "
                    "flush with no traffic")
                await asyncio.sleep(0.05)
        await _agree(nodes, in_call=True, within=HEARTBEAT, what="after the quiet flush")
        await nodes.b.leave(nodes.patient.seat, nodes.patient.conn)
        await _agree(nodes, in_call=False, within=HEARTBEAT, what="after she left")
    finally:
        await nodes.close()


async def test_a_redis_restart_mid_call_leaves_both_sides_agreeing(own_redis_server):  # noqa: F811
    nodes = Nodes(own_redis_server.url, backoff=(0.2, 1.0))
    try:
        await _busy_call(nodes)
        own_redis_server.stop()
        await asyncio.sleep(0.5)
        own_redis_server.start()  # the same port, and nothing remembered
        await _relayed(nodes.therapist, nodes.patient,
                       {"type": "offer", "to": PATIENT, "sdp": "v=0 after"}, 3 * HEARTBEAT)
        await _agree(nodes, in_call=True, within=HEARTBEAT, what="after the restart")
        await nodes.b.leave(nodes.patient.seat, nodes.patient.conn)
        await _agree(nodes, in_call=False, within=HEARTBEAT, what="after she left")
        # Only live rooms were repaired: nothing of other visits this node heard of.
        assert set(nodes.buses[0]._last) <= {VISIT, "-"}
    finally:
        await nodes.close()


async def test_a_quiet_call_keeps_its_numbers_past_their_time_to_live(emptied):  # noqa: F811
    """Counters outlived their last message by 600 s; a call quiet that long lost them and
    the next message (a departure) was dropped as a repeat. Here they live 1 s."""
    nodes = Nodes(emptied, backoff=(0.2, 1.0), keep_seconds=1)
    try:
        await _busy_call(nodes)
        await asyncio.sleep(2.5)  # quiet, past the counters' time to live
        async with aioredis.from_url(emptied, decode_responses=True) as client:
            for bus in nodes.buses:
                assert await client.exists(f"visitroom:seq:{bus.node_id}"), (
                    f"node {bus.node_id}'s counters lapsed while it lived")
        await nodes.b.leave(nodes.patient.seat, nodes.patient.conn)
        await _agree(nodes, in_call=False, within=HEARTBEAT, what="after a quiet call")
    finally:
        await nodes.close()


async def test_a_member_whose_process_died_leaves_the_room_within_the_heartbeat(emptied):  # noqa: F811
    """The patient's process dies without a word (no leave, no renewal): the owner lets
    her go once her process's presence lapses, and the therapist is told `peer-left`."""
    nodes = Nodes(emptied, backoff=(0.2, 1.0))
    try:
        await _busy_call(nodes)
        nodes.buses[1].crash()
        started = time.monotonic()
        left = await nodes.therapist.expect("peer-left", timeout=2 * HEARTBEAT)
        assert left["peer"] == PATIENT
        assert time.monotonic() - started < 2 * HEARTBEAT
        while (await nodes.a.live_states([VISIT])).get(VISIT) == "in_call":
            assert time.monotonic() - started < 2 * HEARTBEAT, "the dashboard says in call"
            await asyncio.sleep(0.05)
    finally:
        await nodes.close()


async def test_streams_keep_messages_only_as_long_as_replay_needs(emptied):  # noqa: F811
    nodes = Nodes(emptied, backoff=(0.2, 1.0), retain_seconds=1)
    try:
        await _busy_call(nodes)
        stream = f"visitroom:stream:{VISIT}"
        async with aioredis.from_url(emptied, decode_responses=True) as client:
            assert await client.xlen(stream) > 20
            assert 0 < await client.pttl(stream) <= 1000
            await asyncio.sleep(1.2)
            await nodes.therapist.send({"type": "offer", "to": PATIENT, "sdp": "v=0 late"})
            assert (await nodes.patient.expect("offer"))["sdp"] == "v=0 late"
            entries = await client.xrange(stream)
            assert len(entries) == 1, f"{len(entries)} entries kept, older than 1 s"
            await asyncio.sleep(1.2)
            assert not await client.exists(stream), "an idle room's stream outlived retention"
    finally:
        await nodes.close()


def test_the_default_retention_is_what_replay_needs() -> None:
    from signaling.redis_bus import RedisClusterBus
    from tests.redis_server import group_seal

    bus = RedisClusterBus("redis://127.0.0.1:1/0", "nretention", group_seal())  # never connects
    connect = bus.redis.connection_pool.connection_kwargs["socket_connect_timeout"]
    # The longest an inbox is away before it replays: three silent pings, the backoff's
    # cap, connecting, and the subscription's confirmation (5 s).
    away = 3 * bus.ping_seconds + bus.backoff[1] + connect + 5
    retained = bus.retain_ms / 1000
    assert away < retained <= 2 * away, (away, retained)


async def test_the_repair_after_a_restart_covers_live_rooms_only(own_redis_server,  # noqa: F811
                                                                 caplog):
    """A node that had heard of many visits repaired every one of them after a restart
    (a resync each, to every node); only rooms with sockets or owned here are repaired."""
    nodes = Nodes(own_redis_server.url, backoff=(0.2, 1.0))
    try:
        await _busy_call(nodes)
        others = [f"v_over{i:012d}" for i in range(5)]
        for visit_id in others:  # visits over and done with: both sockets left
            people = [Participant(node, replace(_seat(who, role), visit_id=visit_id),
                                  node.new_conn_id())
                      for node, who, role in ((nodes.a, THERAPIST, "therapist"),
                                              (nodes.b, PATIENT, "patient"))]
            for person in people:
                await person.join()
                await person.expect("welcome")
            for person in people:
                await person.router.leave(person.seat, person.conn)
                person.router.detach(person.conn)
        await asyncio.sleep(1.0)  # a round or two
        own_redis_server.stop()
        await asyncio.sleep(0.3)
        own_redis_server.start()
        await _agree(nodes, in_call=True, within=3 * HEARTBEAT, what="after the restart")
        await asyncio.sleep(1.0)
        repaired = [r.getMessage() for r in caplog.records if "room resync" in r.getMessage()]
        assert repaired and all(VISIT in line for line in repaired), repaired
    finally:
        await nodes.close()


async def test_a_stalled_process_let_go_of_comes_back_into_the_call(emptied):  # noqa: F811
    """The patient's process stalls (no renewal, no inbox) past its presence's life: the
    owner lets her go; when it answers again it finds its presence lapsed and seats her
    again, and both sides see each other again."""
    nodes = Nodes(emptied, backoff=(0.2, 1.0))
    stalled = asyncio.Event()
    stalled.set()
    try:
        await _busy_call(nodes)
        bus = nodes.buses[1]
        beat = bus.beat

        async def stalled_beat(life: float, rooms: Any) -> None:
            await stalled.wait()
            await beat(life, rooms)

        gate_inbox(bus, stalled)
        bus.beat = stalled_beat  # type: ignore[method-assign]
        stalled.clear()
        await _agree(nodes, in_call=False, within=2 * HEARTBEAT, what="while hers stalled")
        stalled.set()
        await _agree(nodes, in_call=True, within=HEARTBEAT, what="once hers answered again")
    finally:
        stalled.set()
        await nodes.close()
