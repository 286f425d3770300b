"""The router contract: what every router must do, run against each implementation.

`local` is one process. `two-node` is two `ClusterRouter`s joined by an in-memory
cluster that delivers asynchronously with random delays: the patient's socket is held by
one node, the therapist's by the other, and the room lives on whichever claimed it.
`redis` is the same two nodes, each with its own `RedisClusterBus` on one real
redis-server.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from typing import Any, AsyncIterator

import pytest
import redis

from signaling.bus import Delivery
from signaling.closes import CLOSE_ENDED, CLOSE_REVOKED
from signaling.cluster import ClusterRouter
from signaling.cluster_memory import MemoryCluster
from signaling.protocol import parse_message
from signaling.redis_bus import RedisClusterBus, new_node_id
from signaling.router import LocalRouter, Router
from signaling.seat import Seat
from tests.redis_server import group_seal, redis_server  # noqa: F401 (a fixture)

VISIT = "v_contract00000001"
PATIENT, THERAPIST = "p_patient000000001", "p_therapist0000001"


class RecordingSink:
    """A socket as the router sees it: deliveries are recorded in order."""

    def __init__(self, label: str = "a socket") -> None:
        self.label = label
        """Whose socket, for a failure's message."""
        self.messages: list[dict[str, Any]] = []
        self.closed: int | None = None
        self._arrived = asyncio.Event()
        self._read = 0

    def deliver(self, delivery: Delivery) -> None:
        if self.closed is not None:
            return
        message = delivery.message
        self.messages.append(json.loads(message) if isinstance(message, str) else message)
        self.closed = delivery.close_code
        self._arrived.set()

    async def expect(self, kind: str, timeout: float = 3.0) -> dict[str, Any]:
        """The next message of this type (skipping others), waiting for it if need be."""
        deadline = time.monotonic() + timeout
        while True:
            while self._read < len(self.messages):
                message = self.messages[self._read]
                self._read += 1
                if message["type"] == kind:
                    return message
            self._arrived.clear()
            left = deadline - time.monotonic()
            assert left > 0, (f"{self.label} waited {timeout} s for {kind!r} in vain; "
                              f"got {[m['type'] for m in self.messages]}")
            try:
                await asyncio.wait_for(self._arrived.wait(), left)
            except asyncio.TimeoutError:
                pass


class Participant:
    """One socket: its router (the node holding it), seat and recorded deliveries."""

    def __init__(self, router: Router, seat: Seat, conn: str) -> None:
        self.router, self.seat, self.conn = router, seat, conn
        self.sink = RecordingSink(f"the {seat.role} ({conn})")

    async def join(self) -> None:
        self.router.attach(self.conn, self.sink)
        await self.router.join(self.seat, self.conn, {"ice_servers": []})

    async def send(self, message: dict[str, Any]) -> None:
        await self.router.inbound(self.seat, self.conn,
                                  parse_message(json.dumps(message), self.seat.role))

    async def expect(self, kind: str, timeout: float = 3.0) -> dict[str, Any]:
        return await self.sink.expect(kind, timeout)


class MemoryStore:
    """Room hooks that remember admissions and denials, as the database does."""

    def __init__(self) -> None:
        self.admissions: set[str] = set()
        self.denials: set[str] = set()
        self.endings: list[str] = []
        self.cancelled = False
        self.revoked: set[str] = set()
        """Participants whose link was revoked (the visit service also forgets their
        admission, in the same transaction)."""
        self.ended_sessions: set[str] = set()
        """Staff sessions that ended (signed out): a seat they opened is not seated again."""
        self.late_notes: dict[str, object] = {}
        """The therapist's running-late note of each visit, as the visits table keeps it."""

    async def admitted(self, visit_id: str, participant_id: str, device: str | None,
                       by: object = None) -> None:
        self.admissions.add(participant_id)

    async def denied(self, visit_id: str, participant_id: str, by: object = None) -> None:
        self.denials.add(participant_id)

    async def removed(self, visit_id: str, participant_id: str, revoke: bool,
                      by: object = None) -> None:
        self.admissions.discard(participant_id)

    async def ended(self, visit_id: str, reason: str, by: object = None) -> None:
        self.endings.append(reason)

    async def demo_shown(self, visit_id: str, participant_id: str, exercise: str) -> bool:
        return exercise == "glute-bridge"

    async def link_current(self, seat: Seat) -> bool:
        return seat.participant_id not in self.revoked and seat.session not in self.ended_sessions

    async def chat_kept(self, visit_id: str, entry: object) -> None:
        return None  # (chat is not kept here: tests/test_chat_rooms.py keeps it)

    async def chat_history(self, visit_id: str) -> list:
        return []

    async def late_note_set(self, visit_id: str, note: object) -> None:
        self.late_notes[visit_id] = note

    async def late_note(self, visit_id: str) -> object:
        return self.late_notes.get(visit_id)

    def revoke(self, participant_id: str) -> None:
        """What `VisitService.revoke` stores, before any room hears of it."""
        self.revoked.add(participant_id)
        self.admissions.discard(participant_id)

    async def reseat(self, seat: Seat) -> Seat:
        return replace(seat, admitted=seat.participant_id in self.admissions,
                       denied=seat.participant_id in self.denials, visit_ended=self.cancelled)


def _seat(participant_id: str, role: str, session: str = "") -> Seat:
    return Seat(visit_id=VISIT, participant_id=participant_id, role=role, name=role.title(),
                capacity=2, expires_at=int(time.time()) + 3600, device="d1", session=session)


class Cluster:
    """The routers under test: where the therapist's and the patient's sockets are held."""

    def __init__(self, kind: str, redis_url: str = "") -> None:
        self.kind = kind
        self.redis_url = redis_url
        self.store = MemoryStore()
        self.memory = MemoryCluster(max_delay=0.004)
        self.nodes: list[Any] = []

    async def start(self) -> tuple[Router, Router]:
        if self.kind == "local":
            router = LocalRouter(self.store)
            self.nodes = [router]
            await router.start()
            return router, router
        for name in ("a", "b"):
            bus = (RedisClusterBus(self.redis_url, new_node_id(), group_seal())
                   if self.kind == "redis"
                   else self.memory.node(name))
            node = ClusterRouter(bus, self.store, reseat=self.store.reseat, ttl=0.6)
            await node.start()
            self.nodes.append(node)
        return self.nodes[0], self.nodes[1]

    async def close(self) -> None:
        for node in self.nodes:
            await node.close()


def _redis_url(request) -> str:
    """A real redis-server, emptied for this test (the redis kind only)."""
    if request.param != "redis":
        return ""
    server = request.getfixturevalue("redis_server")
    with redis.Redis.from_url(server.url) as client:
        client.flushall()
    return server.url


@pytest.fixture(params=["local", "two-node", "redis"])
async def cluster(request) -> AsyncIterator[Cluster]:
    cluster = Cluster(request.param, _redis_url(request))
    yield cluster
    await cluster.close()


@pytest.fixture(params=["two-node", "redis"])
async def two_nodes(request) -> AsyncIterator[Cluster]:
    """The implementations with more than one process."""
    cluster = Cluster(request.param, _redis_url(request))
    yield cluster
    await cluster.close()


async def _people(cluster: Cluster) -> tuple[Participant, Participant]:
    therapist_node, patient_node = await cluster.start()
    therapist = Participant(therapist_node, _seat(THERAPIST, "therapist", "s1"),
                            therapist_node.new_conn_id())
    patient = Participant(patient_node, _seat(PATIENT, "patient"), patient_node.new_conn_id())
    return therapist, patient


async def _in_call(cluster: Cluster) -> tuple[Participant, Participant]:
    therapist, patient = await _people(cluster)
    await therapist.join()
    assert (await therapist.expect("welcome"))["status"] == "admitted"
    await patient.join()
    assert (await patient.expect("welcome"))["status"] == "waiting"
    await patient.expect("waiting")
    while not (await therapist.expect("lobby"))["waiting"]:
        pass
    await therapist.send({"type": "admit", "participant": PATIENT})
    assert [p["id"] for p in (await patient.expect("admitted"))["peers"]] == [THERAPIST]
    assert (await therapist.expect("peer-joined"))["peer"]["id"] == PATIENT
    return therapist, patient


async def test_the_patient_waits_is_admitted_and_the_admission_is_stored(cluster):
    therapist, patient = await _in_call(cluster)
    assert cluster.store.admissions == {PATIENT}


async def test_negotiation_is_relayed_in_order_both_ways(cluster):
    therapist, patient = await _in_call(cluster)
    await therapist.send({"type": "offer", "to": PATIENT, "sdp": "v=0 offer"})
    for i in range(30):
        await therapist.send({"type": "candidate", "to": PATIENT,
                              "candidate": {"candidate": f"candidate:{i}", "sdpMid": "0"}})
    await therapist.send({"type": "candidate", "to": PATIENT, "candidate": None})
    offer = await patient.expect("offer")
    assert offer["from"] == THERAPIST and offer["sdp"] == "v=0 offer"
    seen = [(await patient.expect("candidate"))["candidate"] for _ in range(31)]
    assert seen == [{"candidate": f"candidate:{i}", "sdpMid": "0"} for i in range(30)] + [None]
    await patient.send({"type": "answer", "to": THERAPIST, "sdp": "v=0 answer"})
    answer = await therapist.expect("answer")
    assert answer["from"] == PATIENT and answer["sdp"] == "v=0 answer"


async def test_a_refused_message_is_answered_on_the_senders_socket(cluster):
    therapist, patient = await _in_call(cluster)
    try:
        await patient.send({"type": "offer", "to": "p_nobody0000000001", "sdp": "x"})
    except Exception as exc:  # the local router answers through the endpoint
        assert getattr(exc, "code", None) == "unknown_peer"
    else:
        assert (await patient.expect("error"))["code"] == "unknown_peer"


async def test_a_demo_shown_and_driven_by_the_therapist_reaches_the_patient(cluster):
    therapist, patient = await _in_call(cluster)
    await therapist.send({"type": "demo-show", "exercise": "glute-bridge"})
    shown = await patient.expect("demo-show")
    assert shown["exercise"] == "glute-bridge" and shown["from"] == THERAPIST
    await therapist.send({"type": "demo-control", "action": "play", "frame": 2, "playing": True})
    control = await patient.expect("demo-control")
    assert (control["action"], control["frame"], control["playing"]) == ("play", 2, True)


async def test_ending_the_visit_ends_it_for_both(cluster):
    therapist, patient = await _in_call(cluster)
    await therapist.send({"type": "end-visit"})
    for person in (therapist, patient):
        assert (await person.expect("visit-ended"))["reason"] == "ended_by_therapist"
        assert person.sink.closed == CLOSE_ENDED
    assert cluster.store.endings == ["ended_by_therapist"]


async def test_a_cancel_through_any_node_ends_the_call_everywhere(cluster):
    therapist, patient = await _in_call(cluster)
    await patient.router.end_visit(VISIT, "cancelled")
    for person in (therapist, patient):
        assert (await person.expect("visit-ended"))["reason"] == "cancelled"


async def test_an_ejected_participant_leaves_and_the_other_is_told(cluster):
    therapist, patient = await _in_call(cluster)
    await therapist.router.eject(VISIT, PATIENT, "link_revoked")
    assert (await patient.expect("visit-ended"))["reason"] == "link_revoked"
    assert (await therapist.expect("peer-left"))["reason"] == "link_revoked"


async def _confirmed(router: Router, timeout: float = 5.0) -> None:
    """Every ejection this router asked for was done by the room's owner (a cluster
    router's are confirmed; the local router's are done before `eject` returns)."""
    ejections = getattr(router, "ejections", None)
    deadline = time.monotonic() + timeout
    while ejections is not None and ejections.pending:
        assert time.monotonic() < deadline, "the ejection was never confirmed"
        await asyncio.sleep(0.02)


async def test_an_ejection_on_one_browser_closes_her_socket_there_only(cluster):
    """Her staff sign-out in another session (browser) leaves this one's seat; of the
    session this seat opened with, it goes (carried to the room's owner on every kind of
    router)."""
    therapist, patient = await _in_call(cluster)
    await patient.router.eject(VISIT, THERAPIST, "link_revoked", on_session="s2")
    await _confirmed(patient.router)
    await patient.send({"type": "offer", "to": THERAPIST, "sdp": "v=0 still here"})
    assert (await therapist.expect("offer"))["sdp"] == "v=0 still here"
    assert therapist.sink.closed is None
    await patient.router.eject(VISIT, THERAPIST, "link_revoked", on_session="s1")
    assert (await therapist.expect("visit-ended"))["reason"] == "link_revoked"
    assert therapist.sink.closed == CLOSE_REVOKED
    assert (await patient.expect("peer-left"))["reason"] == "link_revoked"
    assert patient.sink.closed is None


async def test_a_seat_turned_away_takes_only_what_its_own_session_holds(cluster):
    """She signed out on one browser (session s1) and goes on in the call on another (s2);
    the first browser's socket coming back (a room rebuilt, a reconnect) is turned away
    without taking her current seat with it."""
    therapist, patient = await _in_call(cluster)
    cluster.store.ended_sessions.add("s1")
    await patient.router.eject(VISIT, THERAPIST, "link_revoked", on_session="s1")
    assert (await therapist.expect("visit-ended"))["reason"] == "link_revoked"
    await _confirmed(patient.router)
    other = Participant(therapist.router, replace(therapist.seat, device="d2", session="s2"),
                        therapist.router.new_conn_id())
    await other.join()
    assert (await other.expect("welcome"))["status"] == "admitted"
    stale = Participant(therapist.router, therapist.seat, therapist.router.new_conn_id())
    await stale.join()
    assert (await stale.expect("visit-ended"))["reason"] == "link_revoked"
    assert stale.sink.closed == CLOSE_REVOKED
    await patient.send({"type": "offer", "to": THERAPIST, "sdp": "v=0 still here"})
    assert (await other.expect("offer"))["sdp"] == "v=0 still here"
    assert other.sink.closed is None


async def test_every_node_sees_the_live_state(cluster):
    therapist, patient = await _people(cluster)
    await therapist.join()
    await therapist.expect("welcome")
    await patient.join()
    await patient.expect("waiting")
    await therapist.expect("lobby")
    await asyncio.sleep(0.05)  # the owner publishes after the room changed
    for node in {id(n): n for n in (therapist.router, patient.router)}.values():
        assert await node.live_states([VISIT]) == {VISIT: "waiting"}
    await therapist.send({"type": "admit", "participant": PATIENT})
    await patient.expect("admitted")
    await asyncio.sleep(0.05)
    for node in (therapist.router, patient.router):
        assert await node.live_states([VISIT]) == {VISIT: "in_call"}


async def test_leaving_tells_the_peer_and_the_last_one_out_closes_the_room(cluster):
    therapist, patient = await _in_call(cluster)
    await patient.router.leave(patient.seat, patient.conn)
    assert (await therapist.expect("peer-left"))["peer"] == PATIENT
    await therapist.router.leave(therapist.seat, therapist.conn)
    await asyncio.sleep(0.05)
    assert await therapist.router.live_states([VISIT]) == {}
    assert sum(n.counts()["rooms"] for n in cluster.nodes) == 0


async def _owner_and_survivor(cluster: Cluster) -> tuple[Any, Any, Participant]:
    """A call split over two nodes: the node owning the room, the other node, and the
    participant whose socket the other node holds."""
    therapist, patient = await _in_call(cluster)
    owner = next(n for n in cluster.nodes if n.counts()["rooms"] == 1)
    survivor = next(n for n in cluster.nodes if n is not owner)
    return owner, survivor, patient if patient.router is survivor else therapist


async def test_the_owner_disappearing_is_noticed_and_the_room_moves(two_nodes):
    cluster = two_nodes
    owner, survivor, stranded = await _owner_and_survivor(cluster)
    owner.bus.crash()
    started = time.monotonic()
    welcome = await stranded.expect("welcome", timeout=5)
    assert time.monotonic() - started < 2 * owner.ttl + 0.5
    assert welcome["status"] == "admitted"  # rebuilt from what was stored, not forgotten
    assert survivor.counts()["rooms"] == 1


async def test_a_draining_owner_hands_its_room_over_without_waiting_for_its_record(two_nodes):
    cluster = two_nodes
    owner, survivor, stranded = await _owner_and_survivor(cluster)
    started = time.monotonic()
    await owner.drain()
    welcome = await stranded.expect("welcome", timeout=5)
    assert time.monotonic() - started < 0.7 * owner.ttl  # before any lapse (0.75 TTL at least)
    assert welcome["status"] == "admitted"
    assert survivor.counts()["rooms"] == 1 and owner.counts()["rooms"] == 0


async def test_a_member_whose_node_dies_is_let_go_and_the_other_told(two_nodes):
    """Presence expires with its process: the node holding the patient's socket dies
    without a word (no leave, no renewal); the owner lets her go within a record's life
    and a round or two, and the therapist is told `peer-left`."""
    cluster = two_nodes
    therapist, patient = await _in_call(cluster)
    owner = therapist.router
    assert owner.counts()["rooms"] == 1, "the therapist's node claimed the room first"
    patient.router.bus.crash()
    started = time.monotonic()
    assert (await therapist.expect("peer-left", timeout=4 * owner.ttl + 2))["peer"] == PATIENT
    assert time.monotonic() - started < 4 * owner.ttl + 2
