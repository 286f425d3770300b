"""Redis holds no health data and cannot forge messages (issue 20, point 6; docs/security.md
T39): every envelope of the cluster bus is sealed (AES-256-GCM) for its inbox and room under
the group's key from the shared database; what does not open is dropped, never handed on.

The seal on its own first, then the key in the database, then real redis-server: a forged
envelope pushed straight into a running node's inbox, and what a real call between two
servers (aiortc peers) leaves in Redis and publishes through it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import re
import time
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis

from server.runtime.config import Config
from server.keys import ROUTER
from server.storage.server_secrets import audit_tag_secret, bus_seal_key
from signaling.bot import VisitClient
from signaling.bus_seal import EnvelopeSeal, SealError
from signaling.cluster_messages import (
    Deliver,
    End,
    Op,
    decode_message,
    open_envelope,
    seal_ready,
)
from signaling.redis_bus import RedisClusterBus, new_node_id
from tests.helpers import ADMIN_EMAIL, ADMIN_PASSWORD, open_test_database
from tests.live import LiveServer, free_port, start_live_server
from tests.redis_server import GROUP_KEY, RedisServer, group_seal, redis_server  # noqa: F401

NODE, ROOM = "n0123456789ab", "v_seal000000000001"
ENVELOPE = b'{"f":"n0a0b0c0d0e0f","i":7,"m":{"op":"deliver","message":{"type":"admitted"}}}'
PATIENT_NAME, THERAPIST_NAME = "Imogen Quarrie", "Thaddeus Brill"


def _raw(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _text(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# -- the seal on its own ---------------------------------------------------------------


def test_a_sealed_envelope_opens_in_any_process_of_the_group_for_its_inbox_and_room():
    sealed = EnvelopeSeal(GROUP_KEY).seal(ENVELOPE, NODE, ROOM)
    # One line of one field on the bus: no space, newline or padding; and no plain text.
    assert sealed.isascii() and not set(sealed) - set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert b"admitted" not in _raw(sealed)
    assert EnvelopeSeal(GROUP_KEY).open(sealed, NODE, ROOM) == ENVELOPE  # another process


def test_each_envelope_has_a_fresh_nonce():
    seal = EnvelopeSeal(GROUP_KEY)
    sealed = {seal.seal(ENVELOPE, NODE, ROOM) for _ in range(100)}
    assert len(sealed) == 100
    assert len({_raw(s)[21:33] for s in sealed}) == 100  # the nonces themselves


def test_a_flipped_bit_anywhere_is_refused():
    seal = EnvelopeSeal(GROUP_KEY)
    raw = _raw(seal.seal(ENVELOPE, NODE, ROOM))
    for at in range(len(raw)):
        for bit in (0x01, 0x80):
            altered = raw[:at] + bytes([raw[at] ^ bit]) + raw[at + 1:]
            with pytest.raises(SealError):
                seal.open(_text(altered), NODE, ROOM)


def test_a_truncated_or_extended_envelope_is_refused():
    seal = EnvelopeSeal(GROUP_KEY)
    sealed = seal.seal(ENVELOPE, NODE, ROOM)
    for length in range(len(sealed)):
        with pytest.raises(SealError):
            seal.open(sealed[:length], NODE, ROOM)
    with pytest.raises(SealError):
        seal.open(sealed + "A", NODE, ROOM)


def test_an_envelope_sealed_under_another_key_is_refused():
    other = EnvelopeSeal(os.urandom(32))
    with pytest.raises(SealError) as refused:
        EnvelopeSeal(GROUP_KEY).open(other.seal(ENVELOPE, NODE, ROOM), NODE, ROOM)
    assert refused.value.reason == "other_key"
    # Claiming the group's key id changes nothing: the tag is checked under the real key.
    raw = bytearray(_raw(other.seal(ENVELOPE, NODE, ROOM)))
    raw[1:5] = EnvelopeSeal(GROUP_KEY).kid
    with pytest.raises(SealError) as refused:
        EnvelopeSeal(GROUP_KEY).open(_text(bytes(raw)), NODE, ROOM)
    assert refused.value.reason == "tampered"


@pytest.mark.parametrize("node, room", [("n0123456789ac", ROOM), (NODE, "v_seal000000000002"),
                                        (NODE, "-"), ("n0123456789ab\x00", ROOM)])
def test_an_envelope_moved_to_another_inbox_or_room_is_refused(node, room):
    seal = EnvelopeSeal(GROUP_KEY)
    with pytest.raises(SealError) as refused:
        seal.open(seal.seal(ENVELOPE, NODE, ROOM), node, room)
    assert refused.value.reason == "tampered"


@pytest.mark.parametrize("text", ["", "=", "not base64 at all!", ENVELOPE.decode(), "é" * 80,
                                  _text(b"\x02" + bytes(60)), "A" * 10_001])
def test_garbage_and_plain_json_are_refused_as_malformed_or_tampered(text):
    with pytest.raises(SealError) as refused:
        EnvelopeSeal(GROUP_KEY).open(text, NODE, ROOM)
    assert refused.value.reason in ("malformed", "tampered")


def test_a_key_of_the_wrong_size_is_refused():
    with pytest.raises(ValueError, match="32 bytes"):
        EnvelopeSeal(b"short")


def test_a_refused_envelope_is_counted_and_logged_with_ids_only(caplog):
    seal = EnvelopeSeal(GROUP_KEY)
    with caplog.at_level(logging.WARNING, logger="signaling.bus_seal"):
        assert seal.open_or_drop(ENVELOPE.decode(), NODE, ROOM) is None
        assert seal.open_or_drop("x", NODE, "Imogen-Quarrie") is None  # a room from Redis
    assert seal.refused == 2
    assert f"node={NODE} room={ROOM} reason=" in caplog.text
    assert "room=(not an id)" in caplog.text
    assert "admitted" not in caplog.text and "Imogen" not in caplog.text


# -- the group's key, in the shared database ---------------------------------------------


@pytest.mark.parametrize("engine", ["sqlite", "postgres"], indirect=True)
async def test_processes_starting_together_on_one_database_share_one_bus_key(
        config: Config, engine: str):
    where: Path | str = config.database_url or config.db
    databases = [await open_test_database(where) for _ in range(4)]  # four processes
    try:
        keys = await asyncio.gather(*(bus_seal_key(db) for db in databases))
        assert len(set(keys)) == 1 and len(keys[0]) == 32
        assert await bus_seal_key(databases[0]) == keys[0]  # made once, kept
        assert keys[0].hex() != await audit_tag_secret(databases[0])  # a key of its own
    finally:
        for db in databases:
            await db.close()


# -- real redis-server: what a node takes in -------------------------------------------------


@pytest.fixture
async def emptied(redis_server: RedisServer) -> AsyncIterator[str]:  # noqa: F811
    """The session's redis-server, emptied for this test."""
    async with aioredis.from_url(redis_server.url) as client:
        await client.flushall()
    yield redis_server.url


async def _until(done: Callable[[], bool], what: str, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, f"{what} within {seconds:g} s"
        await asyncio.sleep(0.02)


class Forger:
    """A writer to Redis without the group's key: a bus whose "seal" hands over whatever
    payload it is given, sent through the bus's own script (numbered, appended to the room's
    stream, published to the inbox) exactly as any node's envelopes are."""

    def __init__(self, url: str) -> None:
        self.payloads: list[str] = []
        self.bus = RedisClusterBus(url, new_node_id(), self)  # type: ignore[arg-type]

    def seal(self, plain: bytes, node: str, room: str) -> str:
        return self.payloads.pop(0)

    async def push(self, node: str, room: str, payload: str) -> None:
        self.payloads.append(payload)
        await self.bus.send(node, room, End(room, "forged"))
        await self.bus.flush()


def _deliver(kind: str, **fields: Any) -> Deliver:
    return Deliver("x.c_1", {"type": kind, **fields})


async def test_a_forged_envelope_in_a_nodes_inbox_is_dropped_and_a_peers_sealed_one_taken(
        emptied, caplog):
    taken: list[Op] = []

    async def record(message: Op) -> None:
        taken.append(message)

    async def ignore(message: Op) -> None:
        pass

    node, peer, third = (RedisClusterBus(emptied, new_node_id(), group_seal()) for _ in range(3))
    forger = Forger(emptied)
    await node.start(record)
    for bus in (peer, third, forger.bus):
        await bus.start(ignore)
    client = aioredis.from_url(emptied, decode_responses=True)
    try:
        await peer.send(node.node_id, ROOM, _deliver("peer-joined"))
        await peer.send(third.node_id, ROOM, _deliver("admitted"))
        await peer.flush()
        await _until(lambda: len(taken) == 1, "the peer's sealed message reached the handler")
        assert isinstance(taken[0], Deliver) and taken[0].message["type"] == "peer-joined"
        for_third = next(f["m"] for _, f in await client.xrange(f"visitroom:stream:{ROOM}")
                         if f["to"] == third.node_id)
        for_node = next(f["m"] for _, f in await client.xrange(f"visitroom:stream:{ROOM}")
                        if f["to"] == node.node_id)

        plain = seal_ready(peer.node_id, 1000, int(time.time()), _deliver("admitted"))
        await forger.push(node.node_id, ROOM, _text(plain))  # an envelope, never sealed
        foreign = EnvelopeSeal(os.urandom(32)).seal(plain, node.node_id, ROOM)
        await forger.push(node.node_id, ROOM, foreign)  # sealed under another key
        await forger.push(node.node_id, ROOM, for_third)  # another inbox's envelope
        await forger.push(node.node_id, "v_seal000000000002", for_node)  # another room
        await forger.push(node.node_id, ROOM, for_node)  # itself again: a repeat
        await peer.send(node.node_id, ROOM, _deliver("pong"))  # after them all, in order
        await peer.flush()
        await _until(lambda: len(taken) == 2, "the peer's second sealed message arrived")
        assert [m.message["type"] for m in taken if isinstance(m, Deliver)] == [
            "peer-joined", "pong"] and len(taken) == 2
        assert node.seal.refused == 4  # the repeat opens, and is dropped by its number
        assert "bus envelope refused" in caplog.text and "admitted" not in caplog.text
    finally:
        await client.aclose()
        for bus in (node, peer, third, forger.bus):
            await bus.close()


# -- real redis-server: what a real call leaves there ---------------------------------------


def _config(db: Path, redis_url: str, **more: Any) -> Config:
    port = free_port()
    return Config(db=db, admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD, port=port,
                  public_url=f"http://127.0.0.1:{port}", redis_url=redis_url,
                  ice_loopback=True, **more)


async def _group(tmp_path: Path, url: str, **more: Any) -> list[LiveServer]:
    db = tmp_path / "shared.db"
    return [await start_live_server(_config(db, url, **more)) for _ in range(2)]


async def _everything_in(client: aioredis.Redis) -> str:
    """Every key Redis holds and its value, as text (an unknown kind of key is named)."""
    parts: list[str] = []
    async for key in client.scan_iter(match="*", count=1000):
        kind = await client.type(key)
        value: Any = kind
        if kind == "string":
            value = await client.get(key)
        elif kind == "hash":
            value = await client.hgetall(key)
        elif kind == "stream":
            value = await client.xrange(key)
        parts.append(f"{key} {json.dumps(value)}")
    return "\n".join(parts)


class Published:
    """Everything published on Redis while it is open (what a subscriber there reads)."""

    def __init__(self, url: str) -> None:
        self.client = aioredis.from_url(url, decode_responses=True)
        self.pubsub = self.client.pubsub()
        self.seen: list[str] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> "Published":
        await self.pubsub.psubscribe("*")
        self._task = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        while True:
            reply = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
            if reply is not None:
                self.seen.append(f"{reply['channel']} {reply['data']}")

    async def __aexit__(self, *exc: Any) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        await self.pubsub.aclose()
        await self.client.aclose()


def _assert_holds_nothing_of_the_call(text: str) -> None:
    # (Short words could turn up in base64 by chance: these cannot, or all but cannot.)
    for needle in (PATIENT_NAME, THERAPIST_NAME, "Imogen", "Quarrie", "Thaddeus", "v=0",
                   "a=candidate", "candidate:", "127.0.0.1", "ice-ufrag", "fingerprint"):
        assert needle not in text, f"Redis holds {needle!r}"


async def test_what_a_real_call_across_two_servers_leaves_in_redis_names_no_one_and_no_sdp(
        tmp_path: Path, emptied: str):
    servers = await _group(tmp_path, emptied)
    a, b = servers
    try:
        async with Published(emptied) as published:
            visit = await a.visit(patient_name=PATIENT_NAME, therapist_name=THERAPIST_NAME)
            therapist = VisitClient(await b.link(visit, "therapist"), admit=True)
            patient = VisitClient(await a.link(visit, "patient"))
            results = await asyncio.wait_for(asyncio.gather(
                therapist.run(timeout=20, stay=0.5), patient.run(timeout=20, stay=0.5)), 40)
            assert all(r.complete for r in results), results  # a real call, connected
            assert sum(s.app[ROUTER].bus.seal.refused for s in servers) == 0
            async with aioredis.from_url(emptied, decode_responses=True) as client:
                stream = await client.xrange(f"visitroom:stream:{visit.id}")
                everything = await _everything_in(client)
        # The room's traffic did cross Redis (offers, answers, candidates, lobby), sealed.
        assert len(stream) >= 6
        seal = a.app[ROUTER].bus.seal
        for _, fields in stream:  # besides the envelope, ids and numbers only
            assert all(re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", v) for k, v in fields.items()
                       if k != "m"), fields
            envelope = open_envelope(seal.open(fields["m"], fields["to"], visit.id))  # it opens
            assert envelope.sender in {s.app[ROUTER].node_id for s in servers}
        _assert_holds_nothing_of_the_call(everything)
        assert any(visit.id in line for line in published.seen)
        _assert_holds_nothing_of_the_call("\n".join(published.seen))
    finally:
        for server in servers:
            await server.close()


async def test_turn_credentials_are_minted_on_the_sockets_server_and_never_cross_the_bus(
        tmp_path: Path, emptied: str):
    servers = await _group(tmp_path, emptied, turn_url="turn:127.0.0.1:3478",
                           turn_secret="bus-seal-test-turn-secret")
    a, b = servers
    plain: list[bytes] = []
    for server in servers:  # everything each server seals for the bus, before sealing
        seal = server.app[ROUTER].bus.seal
        real: Callable[[bytes, str, str], str] = seal.seal

        def recording(data: bytes, node: str, room: str,
                      real: Callable[[bytes, str, str], str] = real) -> str:
            plain.append(data)
            return real(data, node, room)

        seal.seal = recording  # type: ignore[method-assign]
    try:
        async with Published(emptied) as published:
            visit = await a.visit(patient_name=PATIENT_NAME, therapist_name=THERAPIST_NAME)
            therapist = await b.socket(await b.link(visit, "therapist"))  # b owns the room
            await therapist.expect("welcome")
            patient = await a.socket(await a.link(visit, "patient"))
            await patient.expect("waiting")
            while not (await therapist.expect("lobby"))["waiting"]:
                pass
            await therapist.send({"type": "admit",
                                  "participant": visit.participant("patient").id})
            admitted = await patient.expect("admitted")
            await therapist.expect("peer-joined")
            async with aioredis.from_url(emptied, decode_responses=True) as client:
                everything = await _everything_in(client)
        turn = next(s for s in admitted["ice_servers"] if "credential" in s)
        assert b.app[ROUTER].counts()["rooms"] == 1 and a.app[ROUTER].counts()["rooms"] == 0
        # Her admission crossed the bus (b's room, a's socket), without any credential.
        messages = [decode_message(open_envelope(data).message) for data in plain]
        assert any(isinstance(m, Deliver) and isinstance(m.message, dict)
                   and m.message["type"] == "admitted" for m in messages)
        for data in plain:
            assert b"credential" not in data and turn["username"].encode() not in data
            assert turn["credential"].encode() not in data
        for text in (everything, "\n".join(published.seen)):
            assert turn["username"] not in text and turn["credential"] not in text
    finally:
        for server in servers:
            await server.close()
