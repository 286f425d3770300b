"""What carries messages between the processes of a group, and records who owns each room.

`ClusterRouter` (signaling.cluster) speaks only to this protocol: Redis in production
(`signaling.redis_bus`), `MemoryCluster` in one process for the contract tests
(`signaling.cluster_memory`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Collection, Iterable, Protocol, Sequence

from signaling.cluster_messages import Op
from signaling.seat import Seat

log = logging.getLogger(__name__)

Handler = Callable[[Op], Awaitable[None]]
"""Takes one message of this node's inbox (`signaling.cluster_messages`)."""
Reseat = Callable[[Seat], Awaitable[Seat]]
"""Reads a seat again from the database (admitted or denied since the socket opened)."""


class ClusterBus(Protocol):
    """Messages between nodes and the ownership of rooms."""

    node_id: str

    async def start(self, handler: Handler) -> None:
        """Begin receiving this node's inbox; `handler` gets each message in order."""

    async def close(self) -> None: ...

    async def send(self, node: str, room: str, message: Op) -> None:
        """Put a message in a node's inbox (in order per sender and inbox), numbered and
        kept under `room` (a visit id, or `cluster_messages.NO_ROOM`)."""

    async def claim(self, visit_id: str, ttl: float) -> str:
        """Become the owner of a visit's room unless another node is; returns the owner."""

    async def owner(self, visit_id: str) -> str | None: ...

    async def renew(self, visit_ids: Sequence[str], ttl: float) -> None:
        """Extend this node's ownership of these rooms."""

    async def release(self, visit_id: str) -> None:
        """Give up a room this node owns (it emptied, or this node is stopping)."""

    async def flush(self) -> None:
        """Wait (briefly) until what this node sent and released has left it."""

    async def set_live(self, visit_id: str, state: str | None, detail: str = "") -> None:
        """Publish a room's live state for every node's dashboard, with its detail (an
        encoded `signaling.live_detail.LiveDetail`), or, with None, that it has no room
        (both go)."""

    async def live(self, visit_ids: Sequence[str]) -> dict[str, str]: ...

    async def live_details(self, visit_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """The published detail text of these visits whose room has an owner now, with that
        owner (absent where there is none: a dead process leaves its rooms' details behind,
        and "her therapist is in another visit" must not outlive it)."""
        ...

    async def beat(self, life: float, rooms: Collection[str]) -> None:
        """This node's periodic round: renew its presence for `life` seconds (and keep its
        message numbers alive), remember only `rooms` (held or owned here), and check that
        the bus still holds what it held; where it does not, the handler gets a
        `Lost(None)`."""

    async def alive(self, nodes: Collection[str]) -> set[str]:
        """Which of these nodes renewed their presence within its life."""

    async def announce_resync(self, visit_id: str, skip: Collection[str]) -> None:
        """Ask every other node but `skip`, once and without an answer, to seat its
        sockets of a visit again (for one whose join the owner may have lost unseen)."""


def node_conn_id(node_id: str, local_id: str) -> str:
    """A connection id that names the node holding its socket (a node id has no dots)."""
    return f"{node_id}.{local_id}"


def node_of(conn: str) -> str:
    """The node holding a connection's socket (`node_conn_id`)."""
    return conn.split(".", 1)[0]


OWNER_TTL = 4.0
"""Seconds an owner's record lasts without renewal; a dead owner's rooms move within it
(and one watch round, a quarter of it, more): a killed process's calls come back within
about five seconds. Renewing four times a lifetime rides out an event-loop stall or a
Redis blip of about three seconds."""


STOP_SECONDS = 5.0
"""How long closing a bus or a router waits for its tasks to end."""


async def stop_tasks(tasks: Iterable[asyncio.Task[Any]], *, what: str,
                     seconds: float = STOP_SECONDS) -> None:
    """Cancel these tasks and wait until they have ended, at most `seconds` (then log the
    ones left, by name, and return). A task still running a moment after its cancel is
    cancelled again: on Python 3.11, `asyncio.wait_for` (which redis-py writes every
    command through) drops a cancel that lands as the write completes, and the task then
    carries on as if never cancelled."""
    tasks = list(tasks)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        left = deadline - loop.time()
        if left <= 0:
            log.error("tasks still running after %.1f s what=%s tasks=%s", seconds, what,
                      ",".join(sorted(task.get_name() for task in pending)))
            break
        _, pending = await asyncio.wait(pending, timeout=min(0.1, left))
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.error("task had failed what=%s task=%s error=%s", what, task.get_name(),
                      type(task.exception()).__name__)
