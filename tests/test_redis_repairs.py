"""Repairs after Redis lost data happen when something was lost, and only then: a socket
coming back to a worker that forgot its room's numbers, lines of a replaced epoch still on
their way, a Redis restarted from an older snapshot, a stall right after a beat, and an
envelope played back into Redis (docs/security.md T40, T39)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import redis.asyncio as aioredis

from signaling.cluster_messages import Deliver, Lost, Op, Resync, seal_ready
from signaling.cluster_repair import Repairs
from signaling.redis_bus import STALE_SECONDS
from tests.redis_server import own_redis_server, redis_server  # noqa: F401
from tests.test_redis_bus import Nodes, emptied, gate_inbox, welcomes  # noqa: F401 (fixtures)
from tests.test_redis_data_loss import HEARTBEAT, _agree, _busy_call, _relayed
from tests.test_router_contract import PATIENT, VISIT, Participant


async def test_a_socket_back_on_a_worker_that_forgot_the_room_repairs_nothing(emptied):  # noqa: F811
    nodes = Nodes(emptied, backoff=(0.2, 1.0), retain_seconds=1)
    try:
        await nodes.in_call()
        for i in range(5):
            await nodes.therapist.send({"type": "candidate", "to": PATIENT,
                                        "candidate": {"candidate": f"c:{i}", "sdpMid": "0"}})
            await nodes.patient.expect("candidate")
        before = welcomes(nodes.therapist)
        await nodes.b.leave(nodes.patient.seat, nodes.patient.conn)  # a reload
        nodes.b.detach(nodes.patient.conn)
        await asyncio.sleep(1.5)  # beats pass, and the stream's retention (1 s)
        again = Participant(nodes.b, nodes.patient.seat, nodes.b.new_conn_id())
        await again.join()
        await again.expect("welcome")
        await asyncio.sleep(2.0)
        assert welcomes(nodes.therapist) == before, "the therapist's call was torn down"
        assert nodes.buses[1].losses == 0 and nodes.buses[0].losses == 0
    finally:
        await nodes.close()


async def test_lines_of_a_replaced_epoch_are_one_loss_not_many(emptied):  # noqa: F811
    nodes = Nodes(emptied, backoff=(0.2, 1.0))
    try:
        await nodes.in_call()
        bus = nodes.buses[1]
        handler = bus._handler
        assert handler is not None

        async def slow(message: Op) -> None:  # lines queue up in b's inbox
            if isinstance(message, Deliver):
                await asyncio.sleep(0.3)
            await handler(message)

        bus._handler = slow
        for i in range(10):
            await nodes.therapist.send({"type": "candidate", "to": PATIENT,
                                        "candidate": {"candidate": f"c:{i}", "sdpMid": "0"}})
        await asyncio.sleep(0.2)
        async with aioredis.from_url(emptied) as client:
            await client.flushall()
        await asyncio.sleep(5)
        assert bus.losses == 1, f"{bus.losses} losses for one flush"
        bus._handler = handler
        await _agree(nodes, in_call=True, within=HEARTBEAT, what="after the flush")
    finally:
        await nodes.close()


async def test_a_restart_from_an_older_snapshot_leaves_both_sides_agreeing(own_redis_server):  # noqa: F811
    """Redis restarted from a snapshot keeps the epoch but takes its numbers back: the
    numbers sent after it would be taken for repeats and dropped."""
    nodes = Nodes(own_redis_server.url, backoff=(0.2, 1.0))
    try:
        await _busy_call(nodes)
        async with aioredis.from_url(own_redis_server.url) as client:
            await client.save()  # the snapshot the restart comes back to
        for i in range(20):  # numbers move on past the snapshot's
            await nodes.therapist.send({"type": "candidate", "to": PATIENT,
                                        "candidate": {"candidate": f"c:{i}", "sdpMid": "0"}})
            await nodes.patient.expect("candidate")
        own_redis_server.stop()
        await asyncio.sleep(0.5)
        own_redis_server.start()  # loads the snapshot
        await _relayed(nodes.therapist, nodes.patient,
                       {"type": "offer", "to": PATIENT, "sdp": "v=0 after"}, 3 * HEARTBEAT)
        await _agree(nodes, in_call=True, within=HEARTBEAT, what="after the restart")
        await nodes.b.leave(nodes.patient.seat, nodes.patient.conn)
        await _agree(nodes, in_call=False, within=HEARTBEAT, what="after she left")
    finally:
        await nodes.close()


async def test_a_stall_right_after_a_beat_is_repaired_when_it_ends(emptied):  # noqa: F811
    """The patient's process stalls after Redis ran its beat, before it read the answer,
    for longer than two record lives: the owner lets her go, and she is seated again."""
    nodes = Nodes(emptied, backoff=(0.2, 1.0))
    stalled = asyncio.Event()
    stalled.set()
    try:
        await nodes.in_call()
        bus = nodes.buses[1]
        script = bus._beat_script
        armed = [True]

        async def beat_script(**kwargs: Any) -> Any:
            answer = await script(**kwargs)
            if armed[0]:
                armed[0] = False
                stalled.clear()
                await asyncio.sleep(3.2)  # two record lives (1.5 s) and more
                stalled.set()
            return answer

        gate_inbox(bus, stalled)
        bus._beat_script = beat_script
        await nodes.therapist.expect("peer-left", timeout=8)  # the owner let her go
        await _agree(nodes, in_call=True, within=2 * HEARTBEAT, what="after the stall")
    finally:
        stalled.set()
        await nodes.close()


async def test_an_envelope_older_than_the_repeat_memory_is_not_handed_on(emptied):  # noqa: F811
    nodes = Nodes(emptied, backoff=(0.2, 1.0))
    try:
        await nodes.in_call()
        bus, sender = nodes.buses[1], nodes.buses[0]
        handed: list[Op] = []
        handler = bus._handler
        assert handler is not None

        async def recording(message: Op) -> None:
            handed.append(message)
            await handler(message)

        bus._handler = recording
        message = Deliver(nodes.patient.conn, {"type": "removed"})
        old = seal_ready(sender.node_id, 10**9, int(time.time()) - STALE_SECONDS - 5, message)
        await bus._open(VISIT, sender.seal.seal(old, bus.node_id, VISIT))
        assert handed == [Lost(VISIT)]  # a repair, not the message
        fresh = seal_ready(sender.node_id, 10**9 + 1, int(time.time()),
                           Deliver("nobody.c_x", {"type": "pong"}))
        await bus._open(VISIT, sender.seal.seal(fresh, bus.node_id, VISIT))
        assert handed[-1] == Deliver("nobody.c_x", {"type": "pong"})
    finally:
        await nodes.close()


async def test_a_resync_is_sent_again_until_its_node_answers():
    sent: list[tuple[str, Op]] = []

    async def send(node: str, room: str, message: Op) -> None:
        assert room == VISIT
        sent.append((node, message))

    repairs = Repairs("nowner", send, every=0.05)
    await repairs.ask(VISIT, {"nb", "nc", "nowner"})
    assert sorted(node for node, _ in sent) == ["nb", "nc"]  # never to itself
    assert all(m == Resync(VISIT, "nowner") for _, m in sent)
    sent.clear()
    await repairs.again({"nb", "nc"})
    assert sent == []  # not yet due
    await asyncio.sleep(0.06)
    repairs.answered(VISIT, "nb")
    await repairs.again({"nb", "nc"})
    assert [node for node, _ in sent] == ["nc"]  # the first send was lost: sent again
    await repairs.again({"nb"})  # nc's presence lapsed: let go
    assert repairs.nodes() == set()
