"""Several cluster nodes in one process, for the router contract tests: inboxes with random
delays and ownership records that expire, as Redis gives them (signaling/redis_bus.py).
Messages travel as their bytes (`signaling.cluster_messages`), as they do through Redis."""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Collection, Sequence

from signaling.cluster_bus import Handler
from signaling.cluster_messages import (
    DecodeErrors,
    Op,
    Resync,
    decode_message,
    encode_message,
    tag_of,
)

log = logging.getLogger(__name__)


class MemoryCluster:
    """Several nodes in one process: inboxes with random delays, ownership with expiry.

    Deliveries are asynchronous (nothing runs inline) and keep their order per inbox, as
    Redis pub/sub keeps order per publisher; the delays shake out any reliance on timing.
    """

    def __init__(self, *, max_delay: float = 0.005, seed: int = 7) -> None:
        self.max_delay = max_delay
        self.random = random.Random(seed)
        self.inboxes: dict[str, asyncio.Queue[bytes]] = {}
        self.owners: dict[str, tuple[str, float]] = {}
        self.states: dict[str, str] = {}
        self.details: dict[str, str] = {}
        self.down: set[str] = set()
        self.alive: dict[str, float] = {}
        """Each node's presence: until when it lasts."""

    def node(self, node_id: str) -> "MemoryNode":
        """The bus of one node."""
        return MemoryNode(self, node_id)

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def current_owner(self, visit_id: str) -> str | None:
        record = self.owners.get(visit_id)
        if record is None or record[1] < self.now():
            return None
        return record[0]


class MemoryNode:
    """One node's view of a `MemoryCluster`."""

    def __init__(self, cluster: MemoryCluster, node_id: str) -> None:
        self.cluster = cluster
        self.node_id = node_id
        self._consumer: asyncio.Task[None] | None = None

    async def start(self, handler: Handler) -> None:
        inbox: asyncio.Queue[bytes] = asyncio.Queue()
        self.cluster.inboxes[self.node_id] = inbox
        self.cluster.down.discard(self.node_id)

        async def consume() -> None:
            while True:
                data = await inbox.get()
                await asyncio.sleep(self.cluster.random.uniform(0, self.cluster.max_delay))
                try:
                    message = decode_message(data)
                except DecodeErrors:
                    log.error("bus message dropped (unknown or malformed) node=%s", self.node_id)
                    continue
                try:
                    await handler(message)
                except Exception:
                    log.exception("inbox message failed node=%s op=%s", self.node_id,
                                  tag_of(message))

        self._consumer = asyncio.ensure_future(consume())

    async def close(self) -> None:
        if self._consumer is not None:
            self._consumer.cancel()
        self.cluster.inboxes.pop(self.node_id, None)

    def crash(self) -> None:
        """Vanish without a word, as a killed process does: no release, no more renewals."""
        if self._consumer is not None:
            self._consumer.cancel()
        self.cluster.inboxes.pop(self.node_id, None)
        self.cluster.down.add(self.node_id)

    async def send(self, node: str, room: str, message: Op) -> None:
        if self.node_id in self.cluster.down:
            return
        inbox = self.cluster.inboxes.get(node)
        if inbox is not None:
            inbox.put_nowait(encode_message(message))

    async def claim(self, visit_id: str, ttl: float) -> str:
        owner = self.cluster.current_owner(visit_id)
        if owner is None:
            self.cluster.owners[visit_id] = (self.node_id, self.cluster.now() + ttl)
            return self.node_id
        return owner

    async def owner(self, visit_id: str) -> str | None:
        return self.cluster.current_owner(visit_id)

    async def renew(self, visit_ids: Sequence[str], ttl: float) -> None:
        if self.node_id in self.cluster.down:
            return
        for visit_id in visit_ids:
            if self.cluster.current_owner(visit_id) == self.node_id:
                self.cluster.owners[visit_id] = (self.node_id, self.cluster.now() + ttl)

    async def release(self, visit_id: str) -> None:
        if self.cluster.current_owner(visit_id) == self.node_id:
            del self.cluster.owners[visit_id]

    async def flush(self) -> None:
        return None  # nothing waits in a queue here

    async def set_live(self, visit_id: str, state: str | None, detail: str = "") -> None:
        if state is None:
            self.cluster.states.pop(visit_id, None)
            self.cluster.details.pop(visit_id, None)
        else:
            self.cluster.states[visit_id] = state
            self.cluster.details[visit_id] = detail

    async def live(self, visit_ids: Sequence[str]) -> dict[str, str]:
        return {v: self.cluster.states[v] for v in visit_ids if v in self.cluster.states}

    async def live_details(self, visit_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        owners = {v: self.cluster.current_owner(v) for v in visit_ids}
        return {v: (self.cluster.details[v], owner) for v, owner in owners.items()
                if v in self.cluster.details and owner is not None}

    async def beat(self, life: float, rooms: Collection[str]) -> None:
        """Renew this node's presence (nothing is ever lost here to report)."""
        if self.node_id not in self.cluster.down:
            self.cluster.alive[self.node_id] = self.cluster.now() + life

    async def alive(self, nodes: Collection[str]) -> set[str]:
        now = self.cluster.now()
        return {n for n in nodes if self.cluster.alive.get(n, 0.0) >= now}

    async def announce_resync(self, visit_id: str, skip: Collection[str]) -> None:
        for node in list(self.cluster.inboxes):
            if node != self.node_id and node not in skip:
                await self.send(node, visit_id, Resync(visit_id))
