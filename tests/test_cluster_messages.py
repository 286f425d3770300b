"""The seam between processes: typed messages that round-trip, a bus that drops what it
cannot read and carries on, connection ids from the router, rooms that act through a
handler per message type, and a cluster router that asks its local router only through
its methods."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from pathlib import Path
from typing import Any, AsyncIterator

import msgspec
import pytest
import redis.asyncio as aioredis

from signaling.bus import Delivery
from signaling.cluster import ClusterRouter
from signaling.cluster_bus import node_of
from signaling.cluster_memory import MemoryCluster
from signaling.cluster_messages import (
    KINDS,
    NO_ROOM,
    Deliver,
    Eject,
    Ejected,
    EjectSession,
    End,
    Forward,
    Join,
    Leave,
    Lost,
    Op,
    Resync,
    Resynced,
    decode_message,
    encode_message,
    open_envelope,
    seal_ready,
)
from signaling.protocol import INBOUND, RELAYED, Inbound, ProtocolError
from signaling.redis_bus import RedisClusterBus, new_node_id
from signaling.room import HANDLERS, Room
from signaling.router import LocalRouter
from tests.redis_server import RedisServer, group_seal, redis_server  # noqa: F401 (a fixture)
from tests.test_router_contract import (
    PATIENT,
    THERAPIST,
    VISIT,
    MemoryStore,
    Participant,
    _seat,
)

ROOT = Path(__file__).resolve().parent.parent

EXAMPLES: list[Op] = [
    Deliver("na1b2c3d4e5f6.c_x", {"type": "welcome", "peers": [{"id": PATIENT}], "n": 1.5}),
    Deliver("na1b2c3d4e5f6.c_x", '{"type":"offer","sdp":"v=0","from":"p"}', 1000),
    Forward("na1b2c3d4e5f6.c_x", '{"type":"offer","to":"p","sdp":"v=0 ü"}'),
    Forward("na1b2c3d4e5f6.c_x", "", "demo-control", {"action": "play", "frame": 2}),
    Join(_seat(PATIENT, "patient"), "na1b2c3d4e5f6.c_x", {"ice_servers": [{"urls": ["stun:x"]}]}),
    Leave(_seat(THERAPIST, "therapist"), "na1b2c3d4e5f6.c_y"),
    End(VISIT, "cancelled"),
    Eject(VISIT, PATIENT, "link_revoked", "na1b2c3d4e5f6", "na1b2c3d4e5f6.3"),
    EjectSession(VISIT, THERAPIST, "link_revoked", "s" * 64, "na1b2c3d4e5f6",
                 "na1b2c3d4e5f6.4"),
    Ejected("na1b2c3d4e5f6.3"),
    Resync(VISIT),
    Resync(VISIT, "na1b2c3d4e5f6"),
    Resynced(VISIT, "na1b2c3d4e5f6"),
    Lost(None),
    Lost(VISIT),
]


# -- the messages ------------------------------------------------------------------------


def test_every_kind_of_message_between_processes_round_trips_unchanged():
    assert {type(m) for m in EXAMPLES} == set(KINDS), "an example of every kind"
    for message in EXAMPLES:
        if isinstance(message, Lost):
            continue
        assert decode_message(encode_message(message)) == message


def test_a_loss_is_never_taken_from_another_process():
    # Only a node's own bus says that messages were lost; a peer saying so would make the
    # receiver repair every room it holds.
    for message in (Lost(None), Lost(VISIT)):
        with pytest.raises((msgspec.DecodeError, msgspec.ValidationError)):
            decode_message(encode_message(message))


def test_an_envelope_keeps_its_sender_number_time_and_message():
    for number, message in enumerate(EXAMPLES, 1):
        if isinstance(message, Lost):
            continue
        envelope = open_envelope(seal_ready("na1b2c3d4e5f6", number, 1_700_000_000, message))
        assert (envelope.sender, envelope.number, envelope.sent) == (
            "na1b2c3d4e5f6", number, 1_700_000_000)
        assert decode_message(envelope.message) == message


def test_an_unknown_or_malformed_message_does_not_decode():
    for bad in (msgspec.msgpack.encode(["chat", "na1b2c3d4e5f6.c_x", "hello"]),  # unknown op
                msgspec.msgpack.encode(["end", VISIT]),  # a field missing
                msgspec.msgpack.encode(["end", VISIT, 7]),  # a field of the wrong type
                msgspec.msgpack.encode({"op": "end"}),  # not this release's layout
                b"\xc1", b""):  # not MessagePack
        with pytest.raises((msgspec.DecodeError, msgspec.ValidationError)):
            decode_message(bad)


def test_the_cluster_router_has_a_handler_for_every_kind_of_message():
    router = ClusterRouter(MemoryCluster().node("a"), MemoryStore())
    assert set(router.handlers) == set(KINDS)


# -- what the bus cannot read is dropped, logged by ids, and the inbox goes on ----------


class Planted:
    """A seal with the group's key that seals chosen bytes instead of the bus's own
    envelope: what another release of a group member would send."""

    def __init__(self) -> None:
        self.seal_for_real = group_seal()
        self.plains: list[bytes] = []

    def seal(self, plain: bytes, node: str, room: str) -> str:
        return self.seal_for_real.seal(self.plains.pop(0) if self.plains else plain, node, room)


@pytest.fixture
async def emptied(redis_server: RedisServer) -> AsyncIterator[str]:  # noqa: F811
    """The session's redis-server, emptied for this test."""
    async with aioredis.from_url(redis_server.url) as client:
        await client.flushall()
    yield redis_server.url


async def _until(done: Any, what: str, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, f"{what} within {seconds:g} s"
        await asyncio.sleep(0.02)


async def test_an_unknown_or_malformed_message_from_the_group_is_dropped_and_logged_by_ids(
        emptied, caplog):
    caplog.set_level(logging.INFO)
    taken: list[Op] = []

    async def record(message: Op) -> None:
        taken.append(message)

    async def ignore(message: Op) -> None:
        pass

    node = RedisClusterBus(emptied, new_node_id(), group_seal())
    planted = Planted()
    peer = RedisClusterBus(emptied, new_node_id(), planted)  # type: ignore[arg-type]
    await node.start(record)
    await peer.start(ignore)
    try:
        unknown = msgspec.msgpack.encode(["chat", "x.c_1", "Secret words"])
        planted.plains = [
            msgspec.msgpack.encode([peer.node_id, 1, int(time.time()), msgspec.Raw(unknown)]),
            msgspec.msgpack.encode([peer.node_id, 2, int(time.time()),
                                    msgspec.Raw(msgspec.msgpack.encode(["end", VISIT]))]),
            b'{"f":"n0","i":3,"m":{"op":"end","reason":"Secret words"}}',  # not an envelope
        ]
        for _ in planted.plains[:]:
            await peer.send(node.node_id, VISIT, End(VISIT, "placeholder"))
        await peer.send(node.node_id, VISIT, Deliver("x.c_1", {"type": "pong"}))
        await peer.flush()
        await _until(lambda: len(taken) == 1, "the good message after the bad ones arrived")
        await asyncio.sleep(0.2)
        assert taken == [Deliver("x.c_1", {"type": "pong"})]
        assert node.reconnects == 1 and node.losses == 0  # the inbox never restarted
        dropped = [r.getMessage() for r in caplog.records
                   if "bus message dropped" in r.getMessage()]
        assert len(dropped) == 2
        for number, line in enumerate(dropped, 1):
            assert f"node={node.node_id}" in line and f"room={VISIT}" in line
            assert f"sender={peer.node_id}" in line and f"number={number}" in line
        assert "bus envelope malformed" in caplog.text
        assert "Secret" not in caplog.text  # ids, never what a message says
    finally:
        await peer.close()
        await node.close()


async def test_the_bus_keeps_a_message_under_the_room_it_is_sent_for(emptied):
    node = RedisClusterBus(emptied, new_node_id(), group_seal())
    peer = RedisClusterBus(emptied, new_node_id(), group_seal())
    taken: list[Op] = []

    async def record(message: Op) -> None:
        taken.append(message)

    await node.start(record)
    await peer.start(record)
    client = aioredis.from_url(emptied, decode_responses=True)
    try:
        # The room is the caller's word, not read out of the message.
        await peer.send(node.node_id, VISIT, Ejected("n.1"))
        await peer.send(node.node_id, NO_ROOM, Ejected("n.2"))
        await peer.flush()
        await _until(lambda: len(taken) == 2, "both messages arrived")
        assert taken == [Ejected("n.1"), Ejected("n.2")]
        for room in (VISIT, NO_ROOM):
            entries = await client.xrange(f"visitroom:stream:{room}")
            assert [f["to"] for _, f in entries] == [node.node_id]
    finally:
        await client.aclose()
        await peer.close()
        await node.close()


async def test_an_unknown_message_in_the_memory_cluster_is_dropped_and_the_inbox_goes_on(caplog):
    cluster = MemoryCluster(max_delay=0.001)
    taken: list[Op] = []

    async def record(message: Op) -> None:
        taken.append(message)

    node = cluster.node("a")
    await node.start(record)
    try:
        cluster.inboxes["a"].put_nowait(msgspec.msgpack.encode(["chat", "x.c_1", "hi"]))
        await cluster.node("b").send("a", VISIT, Resync(VISIT))
        await _until(lambda: len(taken) == 1, "the message after the unknown one arrived")
        assert taken == [Resync(VISIT)]
        assert "bus message dropped (unknown or malformed) node=a" in caplog.text
    finally:
        await node.close()


# -- connection ids ------------------------------------------------------------------------


def test_connection_ids_from_the_local_router_are_unique():
    router = LocalRouter()
    ids = [router.new_conn_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"c_[A-Za-z0-9_-]{12}", conn) for conn in ids)


def test_connection_ids_from_cluster_nodes_are_unique_and_name_their_node():
    cluster = MemoryCluster()
    nodes = [ClusterRouter(cluster.node(new_node_id())) for _ in range(2)]
    ids = [(node, node.new_conn_id()) for node in nodes for _ in range(10_000)]
    assert len({conn for _, conn in ids}) == len(ids)
    assert all(node_of(conn) == node.node_id for node, conn in ids)


# -- a room acts on each message type through its handler ------------------------------


def test_every_type_a_room_acts_on_has_a_handler_and_no_other():
    by_endpoint = {"ping", "bye"}
    assert set(HANDLERS) == set(INBOUND) - RELAYED - by_endpoint


async def _therapist_in_room(router: Any) -> Participant:
    therapist = Participant(router, _seat(THERAPIST, "therapist"), router.new_conn_id())
    await therapist.join()
    await therapist.expect("welcome")
    return therapist


async def test_a_type_without_a_handler_is_refused_as_unknown_by_the_local_router():
    router = LocalRouter(MemoryStore())
    try:
        therapist = await _therapist_in_room(router)
        with pytest.raises(ProtocolError) as refused:
            await router.inbound(therapist.seat, therapist.conn, Inbound("note", {"text": "hi"}))
        assert refused.value.code == "unknown_type"
    finally:
        await router.close()


async def test_a_type_without_a_handler_forwarded_to_the_owner_is_answered_unknown():
    cluster = MemoryCluster(max_delay=0.002)
    owner, other = (ClusterRouter(cluster.node(new_node_id()), MemoryStore(), ttl=0.6)
                    for _ in range(2))
    await owner.start()
    await other.start()
    try:
        await _therapist_in_room(owner)
        patient = Participant(other, _seat(PATIENT, "patient"), other.new_conn_id())
        await patient.join()
        await patient.expect("waiting")
        await other.inbound(patient.seat, patient.conn, Inbound("note", {"text": "hi"}))
        assert (await patient.expect("error"))["code"] == "unknown_type"
    finally:
        await other.close()
        await owner.close()


async def test_a_new_message_type_is_one_more_handler(monkeypatch):
    """A note, say: one entry in the table, and the room relays it to the others."""
    monkeypatch.setitem(HANDLERS, "note", Room._broadcast)
    cluster = MemoryCluster(max_delay=0.002)
    owner, other = (ClusterRouter(cluster.node(new_node_id()), MemoryStore(), ttl=0.6)
                    for _ in range(2))
    await owner.start()
    await other.start()
    try:
        therapist = await _therapist_in_room(owner)
        patient = Participant(other, _seat(PATIENT, "patient"), other.new_conn_id())
        await patient.join()
        await patient.expect("waiting")
        await therapist.send({"type": "admit", "participant": PATIENT})
        await patient.expect("admitted")
        await other.inbound(patient.seat, patient.conn, Inbound("note", {"text": "hello"}))
        note = await therapist.expect("note")
        assert (note["from"], note["text"]) == (PATIENT, "hello")
    finally:
        await other.close()
        await owner.close()


# -- the cluster router asks its local router, never reaches into it ---------------------


def test_cluster_and_redis_modules_never_reach_into_the_local_router():
    reaching = re.compile(r"\.local\.(registry|sinks|bus|_\w+)|\bregistry\b|\bsinks\b")
    files = [*ROOT.glob("signaling/cluster*.py"), *ROOT.glob("signaling/redis_*.py")]
    assert len(files) >= 8
    for path in files:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            assert not reaching.search(line), f"{path.name}:{number}: {line.strip()}"


async def test_a_local_router_answers_what_a_cluster_node_asks_of_its_rooms():
    router = LocalRouter(MemoryStore())
    try:
        assert not router.owns(VISIT) and router.live_state(VISIT) is None
        therapist = await _therapist_in_room(router)
        assert router.owns(VISIT) and router.room_ids() == [VISIT]
        assert router.live_state(VISIT) == "idle"
        assert router.drop_room(VISIT) == {therapist.conn}
        assert not router.owns(VISIT) and router.drop_room(VISIT) == set()
        router.deliver_here(therapist.conn, Delivery({"type": "pong"}))
        router.deliver_here("c_gone", Delivery({"type": "pong"}))  # closed meanwhile: nothing
        assert (await therapist.expect("pong"))["type"] == "pong"
    finally:
        await router.close()
