"""Repairs of rooms across processes after the bus lost messages, sent again until answered.

When the bus cannot replay what it lost (Redis restarted or was flushed, a stream was
trimmed past a gap, a queue overflowed), a room's owner drops its room and every node
holding sockets of that visit seats them again, each with a fresh `welcome`, so nobody
is left believing a stale room. One publish is not enough for that: a node whose inbox
had not reopened would miss it. So the owner sends each node that held sockets in its
room a `Resync` naming itself (`signaling.cluster_messages`) and keeps it until that
node answers `Resynced` (after seating its sockets again), sending it again every
`every` seconds; a node that no longer lives is let go when its presence lapses, and
every repair gives up after `GIVE_UP_SECONDS` (logged). Besides, every node notices a
loss of the whole bus on its own (`signaling.redis_inbox`) and seats its own sockets
again without waiting to be told.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable, Collection

from signaling.cluster_messages import Op, Resync

log = logging.getLogger(__name__)

GIVE_UP_SECONDS = 60.0
"""How long a repair is sent again without an answer (then logged as an error)."""

Send = Callable[[str, str, Op], Awaitable[None]]
"""The bus's `send(node, room, message)`."""


class Repairs:
    """The resyncs this node sent as a room's owner that their nodes have not answered."""

    def __init__(self, node_id: str, send: Send, every: float) -> None:
        self.node_id = node_id
        self.send = send
        self.every = every
        """Seconds between two sends of an unanswered resync."""
        self.pending: dict[tuple[str, str], tuple[float, float]] = {}
        """(visit, node): when it was first sent, and last."""

    async def ask(self, visit_id: str, nodes: Collection[str]) -> None:
        """Tell these nodes to seat their sockets of a visit again, until they answer."""
        now = asyncio.get_running_loop().time()
        for node in sorted(set(nodes) - {self.node_id}):
            self.pending[(visit_id, node)] = (now, now)
            await self.send(node, visit_id, Resync(visit_id, self.node_id))

    def answered(self, visit_id: str, node: str) -> None:
        """A node seated its sockets of the visit again."""
        self.pending.pop((visit_id, node), None)

    async def again(self, alive: Collection[str]) -> None:
        """Send again what was not answered within `every` seconds, to nodes still `alive`;
        let go of the rest, and of what went unanswered too long."""
        now = asyncio.get_running_loop().time()
        for (visit_id, node), (first, last) in list(self.pending.items()):
            if node not in alive:
                log.info("repair let go visit=%s node=%s (node gone)", visit_id, node)
                del self.pending[(visit_id, node)]
            elif now - first > GIVE_UP_SECONDS:
                log.error("repair never answered visit=%s node=%s after %d s", visit_id, node,
                          GIVE_UP_SECONDS)
                del self.pending[(visit_id, node)]
            elif now - last >= self.every:
                self.pending[(visit_id, node)] = (first, now)
                await self.send(node, visit_id, Resync(visit_id, self.node_id))

    def nodes(self) -> set[str]:
        """The nodes that owe an answer."""
        return {node for _, node in self.pending}
