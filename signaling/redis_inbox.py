"""The reading side of the Redis cluster bus (`signaling.redis_bus`): a node's inbox, the
numbers it has taken in per room, replay, and the epoch that tells when Redis forgot.

Every line a node takes in carries the group's epoch, the room, the receiver's number for
that room, the stream entry's id and the envelope. A number that skips is replayed from
the room's stream; one at or below the last taken in is a repeat, and dropped.

Numbers are only comparable within one epoch: the random value `visitroom:epoch`, made
(SET when absent) by whichever script first finds Redis without one, so a restart without
persistence or a FLUSHALL makes a new one. A node that sees another epoch (on a line, on
reconnecting, or in its periodic `beat`) forgets its numbers and tells its router that
data was lost (`Lost(None)`): the router repairs every room it holds, and every other
node notices the same on its own, within one round, whether or not any message reaches
it. A room whose missed messages its stream no longer holds is lost the same way, alone
(`Lost(visit)`). Stream entries of another epoch are never replayed.

A node's counters (`visitroom:seq:<node>`) and presence (`visitroom:alive:<node>`) are
renewed by its beat: counters never lapse while it lives, however quiet its rooms, and a
node whose presence lapsed (it stalled, or Redis forgot) repairs its rooms too (an owner
may have let its sockets go meanwhile).

Only rooms this node holds sockets of or owns are remembered (`beat` prunes the rest), so
a repair after Redis restarts covers live rooms only.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import deque
from typing import Any, Awaitable, Callable, Collection

from redis.exceptions import RedisError, ResponseError

from signaling.cluster_messages import NO_ROOM, Lost, Op, Resync
from signaling.redis_scripts import BEAT, EPOCH

log = logging.getLogger(__name__)

PREFIX = "visitroom"
RESYNC_CHANNEL = f"{PREFIX}:resync"
EPOCH_KEY = f"{PREFIX}:epoch"


def new_epoch() -> str:
    """A candidate epoch, random each time (a node's earlier one may come back otherwise)."""
    return secrets.token_hex(8)


class InboxReader:
    """The inbox half of `RedisClusterBus` (a mixin: the bus supplies the connections,
    `_open` and `_hand`)."""

    node_id: str
    inbox: str
    redis: Any
    quick: Any
    _inbox_redis: Any
    backoff: tuple[float, float]
    ping_seconds: float
    keep_ms: int
    idle_forget_seconds: float
    _stopped: bool
    _subscribed: asyncio.Event
    reconnects: int
    _last: dict[str, tuple[int, str]]
    _heard: dict[tuple[str, str], int]
    _open: Callable[[str, str], Awaitable[None]]
    _hand: Callable[[Op], Awaitable[None]]

    def _init_reader(self) -> None:
        self.epoch: str | None = None
        """The group's epoch this node's numbers belong to (None until first read)."""
        self._rooms_here: set[str] = set()
        """The rooms this node held sockets of or owned at its last beat."""
        self._beaten_at: float | None = None
        """When this node's last beat was sent (the loop's clock)."""
        self._retired: deque[str] = deque(maxlen=8)
        """Epochs this node has seen replaced: a line of one is never a new loss."""
        self._touched: dict[str, float] = {}
        """When this node last took in a message of each room (the loop's clock)."""
        self._run_id: str | None = None
        """The Redis server's run id at the last reconnect: another means it restarted."""
        self.losses = 0
        """How many times this node found Redis had lost its data (for tests, logs)."""
        self._epoch_script = self.redis.register_script(EPOCH)
        self._beat_script = self.redis.register_script(BEAT)

    async def _read_forever(self) -> None:
        delay = self.backoff[0]
        while not self._stopped:
            pubsub = self._inbox_redis.pubsub()
            try:
                await self._subscribe(pubsub)
                delay = self.backoff[0]
                await self._listen(pubsub)
            except (RedisError, OSError, asyncio.TimeoutError) as exc:
                self._subscribed.clear()
                log.warning("redis inbox lost node=%s error=%s; reconnecting in %.1fs",
                            self.node_id, type(exc).__name__, delay)
            finally:
                try:
                    await pubsub.aclose()
                except (RedisError, OSError):
                    pass
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.backoff[1])

    async def _subscribe(self, pubsub: Any) -> None:
        await pubsub.subscribe(self.inbox, RESYNC_CHANNEL)
        confirmed = 0
        while confirmed < 2:  # messages sent after this point reach this node
            reply = await pubsub.get_message(timeout=5)
            if reply is None:
                raise asyncio.TimeoutError()
            confirmed += 1 if reply["type"] == "subscribe" else 0
        await self._catch_up()
        log.info("redis inbox open node=%s", self.node_id)
        self.reconnects += 1
        self._subscribed.set()

    async def _listen(self, pubsub: Any) -> None:
        loop = asyncio.get_running_loop()
        heard = loop.time()
        pinged = False
        while not self._stopped:
            reply = await pubsub.get_message(timeout=self.ping_seconds)
            now = loop.time()
            if reply is None:
                # A connection that died without a word (a cut network) only shows when
                # a ping goes unanswered.
                if now - heard > 3 * self.ping_seconds:
                    raise ConnectionError("redis inbox silent")
                if not pinged and now - heard > self.ping_seconds:
                    await pubsub.ping()
                    pinged = True
                continue
            heard, pinged = now, False
            if reply["type"] != "message":
                continue
            if reply["channel"] == RESYNC_CHANNEL:  # "<visit> <asking node> <skipped,...>"
                visit, sender, skipped = (reply["data"].split(" ") + ["", ""])[:3]
                if self.node_id != sender and self.node_id not in skipped.split(","):
                    await self._hand(Resync(visit))
            else:
                for line in reply["data"].split("\n"):  # a message a line (see SEND)
                    epoch, room, seq, stream_id, payload = line.split(" ", 4)
                    await self._take(epoch, room, int(seq), stream_id, payload)

    async def _take(self, epoch: str, room: str, seq: int, stream_id: str,
                    payload: str) -> None:
        if epoch in self._retired:
            return  # sent before Redis lost its data: the repair that followed covers it
        if epoch != self.epoch:
            await self._epoch_seen(epoch)
        self._touched[room] = asyncio.get_running_loop().time()
        known = self._last.get(room)
        if known is None:
            # A room this node holds no numbers of (new here, or forgotten while it had no
            # socket of it here): its numbers start from this one, not from a gap to repair.
            known = (seq - 1, stream_id)
        last = known[0]
        if seq <= last:
            return  # already taken in by a replay
        if seq > last + 1:
            await self._replay(room, seq - 1)
        self._last[room] = (seq, stream_id)
        await self._open(room, payload)

    async def _epoch_seen(self, epoch: str) -> None:
        """Redis holds another epoch: it forgot everything since this node last read it."""
        if self.epoch is None:
            self.epoch = epoch
            return
        log.warning("redis lost its data (new epoch) node=%s", self.node_id)
        self._retired.append(self.epoch)  # lines of it still on their way are dropped
        self.epoch = epoch
        self._last.clear()  # numbers start again in the new epoch
        await self._lost(None)

    async def _lost(self, room: str | None) -> None:
        """Tell this node's router that messages were lost: of one room, or (None) of all."""
        self.losses += 1
        await self._hand(Lost(room))

    async def _catch_up(self) -> None:
        """Replay what was sent to this node while its inbox was away; what can't be is
        a loss (of its room, or of everything when the epoch changed)."""
        restarted = await self._restarted()
        epoch = await self._epoch_script(keys=[EPOCH_KEY], args=[new_epoch()])
        if epoch != self.epoch:
            await self._epoch_seen(epoch)
        elif restarted and self._last:
            # Restarted from a snapshot: the epoch came back with it, but the numbers are
            # those of the snapshot (older than what this node took in), so they are not
            # comparable any more.
            log.warning("redis restarted from a snapshot node=%s", self.node_id)
            self._last.clear()
            await self._lost(None)
        counters = {room: int(n) for room, n in
                    (await self.redis.hgetall(f"{PREFIX}:seq:{self.node_id}")).items()}
        for room in sorted(set(self._last) | (set(counters) & self._rooms_here)):
            last = self._last.get(room, (0, "-"))[0]
            now = counters.get(room, 0)
            if now > last:
                await self._replay(room, now)
            elif now < last:  # the counters lapsed: what went missing can't be known
                log.warning("redis counters reset room=%s node=%s", room, self.node_id)
                self._last[room] = (now, "-")
                await self._lost(room)

    async def _restarted(self) -> bool:
        """Whether the Redis server restarted since this node's last reconnect (its run id,
        random at each start, changed)."""
        try:
            run_id = str((await self.redis.info("server")).get("run_id", ""))
        except ResponseError:  # INFO not allowed to this client: the epoch alone tells
            return False
        restarted = bool(self._run_id) and run_id != self._run_id
        self._run_id = run_id
        return restarted

    async def _replay(self, room: str, upto: int) -> None:
        """Take in this node's messages of a room numbered up to `upto` from its stream."""
        last, last_id = self._last.get(room, (0, "-"))
        start = "-" if last_id == "-" else f"({last_id}"
        for entry_id, fields in await self.redis.xrange(f"{PREFIX}:stream:{room}", start, "+"):
            if fields.get("to") != self.node_id or fields.get("e") != self.epoch:
                continue
            seq = int(fields["seq"])
            if seq <= last:
                continue
            if seq != last + 1 or seq > upto:
                break
            last, last_id = seq, entry_id
            self._last[room] = (last, last_id)
            self._touched[room] = asyncio.get_running_loop().time()
            await self._open(room, fields["m"])
        if last < upto:
            log.warning("redis stream no longer holds missed messages room=%s node=%s "
                        "missing=%d", room, self.node_id, upto - last)
            self._last[room] = (upto, last_id)
            await self._lost(room)
        else:
            log.info("redis replayed room=%s node=%s upto=%d", room, self.node_id, upto)

    async def beat(self, life: float, rooms: Collection[str]) -> None:
        """This node's periodic round: renew its presence for `life` seconds and its
        counters' time to live, read the epoch, and remember only `rooms` (those it holds
        sockets of or owns). Redis having forgotten anything is reported as a loss."""
        if self._stopped:
            return
        now = asyncio.get_running_loop().time()  # (before the call: a stall after it counts)
        self._rooms_here = {*rooms, NO_ROOM}
        self._forget_idle_rooms(now)
        epoch, present, counters = await self._beat_script(
            keys=[EPOCH_KEY, f"{PREFIX}:alive:{self.node_id}", f"{PREFIX}:seq:{self.node_id}"],
            args=[int(life * 1000), new_epoch(), self.keep_ms])
        beaten_at, self._beaten_at = self._beaten_at, now
        if epoch != self.epoch and self.epoch is not None:
            await self._epoch_seen(epoch)
        elif beaten_at is not None and not int(present) and (
                now - beaten_at >= 2 * life or not int(counters)):
            # An owner lets go of a node's members once its presence has been missing for
            # a whole life (`ClusterRouter._let_go_of_gone_nodes`), so no earlier than two
            # lives after its last beat: a node starved for less (a busy machine) has lost
            # nobody, and repairing every room then would only add churn to the load.
            log.warning("redis had let this node's presence lapse node=%s", self.node_id)
            if not int(counters):
                self._last.clear()
            await self._lost(None)
        elif not int(counters) and self._last:
            log.warning("redis counters lapsed node=%s", self.node_id)
            self._last.clear()
            await self._lost(None)
        elif self.epoch is None:
            self.epoch = epoch

    def _forget_idle_rooms(self, now: float) -> None:
        """Forget the numbers of rooms that are neither live here nor heard from for
        `idle_forget_seconds` (kept that long, a sender's message ids stop a copy played back
        into Redis: `signaling.redis_bus.STALE_SECONDS` refuses older ones)."""
        idle_after = self.idle_forget_seconds
        for room in [r for r, at in self._touched.items()
                     if r not in self._rooms_here and now - at > idle_after]:
            del self._touched[room]
            self._last.pop(room, None)
            for key in [k for k in self._heard if k[0] == room]:
                del self._heard[key]

    async def alive(self, nodes: Collection[str]) -> set[str]:
        """Which of these nodes renewed their presence within its life."""
        nodes = sorted(nodes)
        if not nodes:
            return set()
        found = await self.quick.mget([f"{PREFIX}:alive:{n}" for n in nodes])
        return {n for n, v in zip(nodes, found) if v is not None}
