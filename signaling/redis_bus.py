"""The cluster bus over Redis (redis-py's `redis.asyncio`): inboxes, ownership, live states.

Every node subscribes to its inbox, the pub/sub channel `visitroom:node:<id>`. Consecutive
messages for a node are sent by one Lua script that, atomically and in one round trip,
numbers each (a counter per receiving node and room, in the hash `visitroom:seq:<node>`,
within the group's epoch), appends it to the room's stream (`visitroom:stream:<visit>`)
and publishes them together, a line each. A receiver that sees a number skip, or that
finds on reconnecting that its counters moved on while it was away, replays what it
missed from the room's stream; where the stream no longer holds it, or Redis forgot
everything (a new epoch), its router repairs the room (`signaling.redis_inbox`,
`signaling.cluster_repair`): nobody is left stale.

A stream keeps an entry `RETAIN_SECONDS` (30 s, trimmed by MINID from Redis's own clock on
every send, and the key expires as long after the last one) and at most about
`STREAM_LEN` entries: replay is needed only across an inbox reconnect, which takes at most
about 18 s (a dead connection shows within three pings, 6 s; the backoff is capped at
5 s; connecting and subscribing take at most 2 s and 5 s); a longer outage ends in a
repair, as a trimmed stream always did. What a stream held past that (SDP with addresses,
names in welcomes) no longer lingers 600 s.

Outgoing messages, live states and releases leave through one writer task, in order, so a
node's messages keep their order whatever its coroutines do; while Redis is away they wait
in a bounded queue and go out after reconnecting (a retried batch may repeat a message,
which the receiver recognises by its sender's number and drops).

Ownership is the record `visitroom:owner:<visit>` naming the node, with a time to live,
set only when absent; renewing extends it while it names this node (and sets it again if
Redis forgot it), releasing deletes it only then. Live states are the hash
`visitroom:live` (`signaling.redis_live`). One Redis server serves all nodes; Redis
Cluster is not supported (one send touches the receiver's counters and the room's stream,
keys of different slots).
Every envelope is sealed for its inbox and room (`signaling.bus_seal`): Redis holds node
ids, room ids, numbers, sizes and timing, never what a room says, and what a node cannot
open is dropped, never handed on; so is one that opens but holds no message this release
knows (`signaling.cluster_messages`), logged by ids.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from collections import deque
from typing import Any, Collection, Sequence

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import RedisError, ResponseError

from signaling.bus_seal import EnvelopeSeal
from signaling.cluster_bus import Handler, stop_tasks
from signaling.cluster_messages import (
    DecodeErrors,
    Op,
    decode_message,
    open_envelope,
    seal_ready,
    tag_of,
)
from signaling.ids import VISIT_ID
from signaling.redis_inbox import PREFIX, RESYNC_CHANNEL, InboxReader, new_epoch
from signaling.redis_live import LIVE_KEY, detail_field, read_details, read_states
from signaling.redis_scripts import CLAIM, RELEASE, RENEW, SEND, send_call

log = logging.getLogger(__name__)

STREAM_LEN = 1000
"""Messages a room's stream keeps (approximately) for replay."""
KEEP_SECONDS = 600
"""How long a node's counters outlive it (its beat renews them while it lives)."""
RETAIN_SECONDS = 30
"""How long a stream keeps a message for replay (see the module's docstring)."""
ANSWER_SECONDS = 1.0
"""How long a request (a staff action, a dashboard, a socket opening) waits for Redis
before it answers without it: one try, no retries (the writer and the watch retry)."""
STALE_SECONDS = 600
"""An envelope sent longer ago than this is not handed on (its room is repaired): a node
remembers each room's numbers and each sender's last message id at least this long after
the room's last message (`signaling.redis_inbox`), so within it a copy played back into
Redis is a repeat, and after it a stale one."""
QUEUE_LIMIT = 10_000
"""Operations a node holds while Redis is away; past it the oldest messages are dropped
(and their rooms resynced once Redis is back)."""


def new_node_id() -> str:
    """A node id unique across machines and restarts, random: it names no machine or
    process, so clients may see it (a response header tells tests which process
    answered). A process logs its id beside its pid once, at start.

    Connection ids start with the node id and a dot, so the id itself has no dots.
    """
    return f"n{secrets.token_hex(NODE_ID_BYTES)}"


NODE_ID_BYTES = 6
NODE_ID = re.compile(rf"n[0-9a-f]{{{2 * NODE_ID_BYTES}}}")
"""What `new_node_id` makes: a node id a log line may show."""


class RedisClusterBus(InboxReader):
    """A `signaling.cluster.ClusterBus` over one Redis server."""

    def __init__(self, url: str, node_id: str, seal: EnvelopeSeal, *,
                 stream_len: int = STREAM_LEN,
                 keep_seconds: float = KEEP_SECONDS, retain_seconds: float = RETAIN_SECONDS,
                 backoff: tuple[float, float] = (0.1, 5.0),
                 ping_seconds: float = 2.0) -> None:
        self.url = url
        self.node_id = node_id
        self.seal = seal
        """Seals what this node sends and opens what it takes in (`signaling.bus_seal`)."""
        self.stream_len = stream_len
        self.keep_ms = int(keep_seconds * 1000)
        self.idle_forget_seconds = float(STALE_SECONDS)
        self.retain_ms = int(retain_seconds * 1000)
        self.backoff = backoff
        self.ping_seconds = ping_seconds
        self.inbox = f"{PREFIX}:node:{node_id}"
        options: dict[str, Any] = dict(
            decode_responses=True, socket_connect_timeout=2, socket_timeout=5,
            socket_keepalive=True, client_name=f"{PREFIX}:{node_id}")
        self.redis = aioredis.from_url(
            url, retry=Retry(ExponentialBackoff(cap=1.0, base=0.1), 5), **options)
        # (A command rides out a blip of a few seconds before it fails.)
        # The inbox never reconnects on its own: redis-py would subscribe again silently,
        # and what was published meanwhile would be missed without a replay. RESP2: the
        # RESP3 parser formats each push into a debug string, even with debug logging off.
        self._inbox_redis = aioredis.from_url(url, protocol=2, retry=Retry(NoBackoff(), 0), **options)
        quick = {**options, "socket_connect_timeout": ANSWER_SECONDS,
                 "socket_timeout": ANSWER_SECONDS}
        self.quick = aioredis.from_url(url, retry=Retry(NoBackoff(), 0), **quick)
        """For requests that wait on the answer: one try, bounded (ANSWER_SECONDS)."""
        self._send = self.redis.register_script(SEND)
        self._claim = self.redis.register_script(CLAIM)
        self._renew = self.redis.register_script(RENEW)
        self._release = self.redis.register_script(RELEASE)
        self._handler: Handler | None = None
        self._queue: deque[tuple[str, ...]] = deque()
        self._in_flight = 0
        """Operations taken off the queue and being written now."""
        self._wake = asyncio.Event()
        self._mid = 0
        self._last: dict[str, tuple[int, str]] = {}
        """Per room: the number and stream id of the last message this node took in."""
        self._heard: dict[tuple[str, str], int] = {}
        """Per room and sender: the sender's number of the last message taken in."""
        self._overflowed: set[str] = set()
        self._subscribed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.crashed = False
        self._stopped = False  # closed or crashed: loops end at their next turn, cancelled or not
        self.reconnects = 0
        """How many times the inbox subscription was established again (for tests, logs)."""
        self._init_reader()

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self, handler: Handler) -> None:
        """Subscribe to this node's inbox (waits up to a few seconds for Redis, then
        carries on reconnecting in the background) and start the writer."""
        self._handler = handler
        self._tasks = [asyncio.create_task(self._read_forever(), name=f"inbox {self.node_id}"),
                       asyncio.create_task(self._write_forever(), name=f"writer {self.node_id}")]
        try:
            await asyncio.wait_for(self._subscribed.wait(), 5)
        except asyncio.TimeoutError:
            log.warning("redis unreachable at start; retrying node=%s", self.node_id)

    async def flush(self) -> None:
        """Wait until what is queued has been written (two seconds at most)."""
        for _ in range(100):
            if self.crashed or (not self._queue and not self._in_flight):
                return
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        """Send what is queued (briefly), then stop its tasks and close the connections."""
        await self.flush()
        self._stopped = True
        await stop_tasks(self._tasks, what=f"redis-bus node={self.node_id}")
        await self._inbox_redis.aclose()
        await self.quick.aclose()
        await self.redis.aclose()

    def crash(self) -> None:
        """Vanish as a killed process does: no release, no renewal, nothing more sent."""
        self.crashed = self._stopped = True
        for task in self._tasks:
            task.cancel()
        self._queue.clear()

    # -- messages ----------------------------------------------------------------------

    async def send(self, node: str, room: str, message: Op) -> None:
        """Queue a message for a node's inbox (numbered, streamed under `room`, published
        in order)."""
        if self.crashed:
            return
        self._mid += 1
        payload = self.seal.seal(seal_ready(self.node_id, self._mid, int(time.time()), message),
                                 node, room)
        self._push(("send", node, room, payload))

    def _push(self, op: tuple[str, ...]) -> None:
        self._queue.append(op)
        if len(self._queue) > QUEUE_LIMIT:
            dropped = self._queue.popleft()
            if dropped[0] == "send":
                self._overflowed.add(dropped[2])
        self._wake.set()

    async def _write_forever(self) -> None:
        delay = self.backoff[0]
        while not self._stopped:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                # The batch leaves the queue before it is written: an overflow meanwhile
                # drops only ops still queued (and marks their rooms), never ones in flight.
                batch = [self._queue.popleft() for _ in range(min(len(self._queue), 200))]
                self._in_flight = len(batch)
                try:
                    await self._write(batch)
                except (RedisError, OSError) as exc:
                    self._in_flight = 0
                    log.warning("redis write failed node=%s error=%s; retrying in %.1fs",
                                self.node_id, type(exc).__name__, delay)
                    self._queue.extendleft(reversed(batch))
                    while len(self._queue) > QUEUE_LIMIT:
                        dropped = self._queue.popleft()
                        if dropped[0] == "send":
                            self._overflowed.add(dropped[2])
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.backoff[1])
                    continue
                self._in_flight = 0
                delay = self.backoff[0]
                if self._overflowed and not self._queue:
                    rooms, self._overflowed = sorted(self._overflowed), set()
                    for room in rooms:  # never numbered: no receiver can tell
                        await self._lost(room)

    async def _write(self, batch: list[tuple[str, ...]]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        try:
            await self._write_through(pipe, batch)
        finally:
            # A pipeline that failed before it ran (loading its scripts) still holds its
            # connection: redis-py then logs "Unclosed Pipeline client" when it is collected.
            await pipe.reset()

    async def _write_through(self, pipe: Any, batch: list[tuple[str, ...]]) -> None:
        at = 0
        while at < len(batch):
            op, first = batch[at], at
            at += 1
            if op[0] == "send":  # with the messages after it for the same node: one call
                while at < len(batch) and batch[at][0] == "send" and batch[at][1] == op[1]:
                    at += 1
                keys, args = send_call(PREFIX, new_epoch(), batch[first:at], self.stream_len,
                                       self.keep_ms, self.retain_ms)
                await self._send(keys=keys, args=args, client=pipe)
            elif op[0] == "live":
                pipe.hset(LIVE_KEY, mapping={op[1]: op[2], detail_field(op[1]): op[3]})
            elif op[0] == "unlive":
                pipe.hdel(LIVE_KEY, op[1], detail_field(op[1]))
            elif op[0] == "release":
                await self._release(keys=[f"{PREFIX}:owner:{op[1]}"], args=[self.node_id],
                                    client=pipe)
            elif op[0] == "resync":  # to every node but this one (see signaling.redis_inbox)
                pipe.publish(RESYNC_CHANNEL, f"{op[1]} {self.node_id} {op[2]}")
        for result in await pipe.execute(raise_on_error=False):
            if isinstance(result, ResponseError):  # a bug, not an outage: never retried
                log.error("redis refused an operation node=%s error=%s", self.node_id, result)
            elif isinstance(result, Exception):
                raise result

    # -- taking messages in (the reading side is `signaling.redis_inbox`) ---------------

    async def _open(self, room: str, payload: str) -> None:
        plain = self.seal.open_or_drop(payload, self.node_id, room)
        if plain is None:
            return  # not sealed by this group for this inbox and room: never handed on
        try:
            envelope = open_envelope(plain)
        except DecodeErrors:  # sealed by the group, yet no envelope: another release's
            log.error("bus envelope malformed node=%s room=%s", self.node_id, _logged(room))
            return
        key = (room, envelope.sender)
        if envelope.number <= self._heard.get(key, 0):
            return  # a retried batch repeated it
        if time.time() - envelope.sent > STALE_SECONDS:
            # Older than the numbers and senders' ids kept to recognise a repeat: a copy
            # played back from Redis, or a message that waited out a long outage. Not
            # handed on; the room is repaired instead.
            log.warning("stale envelope dropped node=%s room=%s", self.node_id, _logged(room))
            await self._lost(room)
            return
        self._heard[key] = envelope.number
        try:
            message = decode_message(envelope.message)
        except DecodeErrors:  # an op this release does not know, or fields it does not take
            log.error("bus message dropped (unknown or malformed) node=%s room=%s sender=%s "
                      "number=%d", self.node_id, _logged(room), _logged_node(envelope.sender),
                      envelope.number)
            return
        await self._hand(message)

    async def _hand(self, message: Op) -> None:
        assert self._handler is not None
        try:
            await self._handler(message)
        except Exception:  # one bad message never stops the inbox
            log.exception("inbox message failed node=%s op=%s", self.node_id, tag_of(message))

    # -- ownership and live states ---------------------------------------------------------

    async def claim(self, visit_id: str, ttl: float) -> str:
        """Become the owner of a visit's room unless another node is; returns the owner."""
        if self.crashed:
            raise ConnectionError("this node is gone")
        return await self._claim(keys=[f"{PREFIX}:owner:{visit_id}"],
                                 args=[self.node_id, int(ttl * 1000)], client=self.quick)

    async def owner(self, visit_id: str) -> str | None:
        """The node that owns a visit's room now, if any."""
        if self.crashed:
            return None
        return await self.quick.get(f"{PREFIX}:owner:{visit_id}")

    async def renew(self, visit_ids: Sequence[str], ttl: float) -> None:
        """Extend this node's ownership; a room another node took meanwhile is resynced."""
        if self.crashed or not visit_ids:
            return
        keys = [f"{PREFIX}:owner:{v}" for v in visit_ids]
        try:
            lost = await self._renew(keys=keys, args=[self.node_id, int(ttl * 1000)])
        except (RedisError, OSError) as exc:  # retried next round; the inbox logs the outage
            log.warning("ownership not renewed node=%s error=%s", self.node_id,
                        type(exc).__name__)
            return
        for index in lost:
            visit_id = visit_ids[int(index) - 1]
            log.warning("room ownership lost visit=%s node=%s", visit_id, self.node_id)
            await self._lost(visit_id)  # this node's room is stale: its router repairs it

    async def release(self, visit_id: str) -> None:
        """Give up a room (after anything queued before it went out)."""
        if not self.crashed:
            self._push(("release", visit_id))

    async def announce_resync(self, visit_id: str, skip: Collection[str]) -> None:
        """Ask every other node but `skip` to seat its sockets of a visit again (one
        publish, in order with this node's messages; `signaling.cluster_repair` retries
        the nodes it knows, which it skips here)."""
        if not self.crashed:
            self._push(("resync", visit_id, ",".join(sorted(skip))))

    async def set_live(self, visit_id: str, state: str | None, detail: str = "") -> None:
        """Publish a room's live state and detail for every node (in order with this node's
        messages; one HSET or HDEL of both)."""
        if not self.crashed:
            self._push(("unlive", visit_id) if state is None
                       else ("live", visit_id, state, detail))

    async def live(self, visit_ids: Sequence[str]) -> dict[str, str]:
        """Live states of these visits; empty (and logged) while Redis is away."""
        return await read_states(self.quick, self.node_id, visit_ids)

    async def live_details(self, visit_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """The detail texts of these visits whose room has an owner now, with that owner;
        empty (and logged) while Redis is away."""
        return await read_details(self.quick, self.node_id, visit_ids)


def _logged(room: str) -> str:
    """A room as a log line names it: a visit id, or "?" for anything else a line held."""
    return room if VISIT_ID.fullmatch(room) else "?"


def _logged_node(node: str) -> str:
    """A node id as a log line names it: "?" for anything that is not one."""
    return node if NODE_ID.fullmatch(node) else "?"
