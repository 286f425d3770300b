"""How a cluster node keeps its rooms whole when other nodes come and go: the watch round
(presence, ownership renewals, owners that disappear, members whose node died), repairs
after the bus lost messages, and the hand-over of its rooms when it stops (`drain`).

`Recovery` is the half of `signaling.cluster.ClusterRouter` that does this (a mixin: the
router supplies the bus, the local router and the maps of seats, owners and homes, and the
owner's-side steps `_owner_for`, `_join_at`, `_leave_here` and `_publish_live`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

from signaling.cluster_bus import ClusterBus, Reseat, node_of
from signaling.cluster_messages import End, Eject, EjectSession, Join, Op, Resync
from signaling.cluster_repair import Repairs
from signaling.router import LocalRouter
from signaling.seat import Seat

log = logging.getLogger(__name__)


class Recovery:
    """Watching, repairing and handing over a node's rooms (see the module docstring)."""

    bus: ClusterBus
    ttl: float
    reseat: Reseat | None
    local: LocalRouter
    seats: dict[str, Seat]
    extras: dict[str, dict[str, Any]]
    owners: dict[str, str]
    homes: dict[str, Seat]
    handed: dict[str, set[str]]
    repairs: Repairs
    draining: bool
    closed: bool
    _watch: asyncio.Task[None] | None
    _missing: dict[str, float]
    _owner_for: Callable[[str], Awaitable[str]]
    _join_at: Callable[[str, Seat, str, dict[str, Any]], Awaitable[None]]
    _leave_here: Callable[[Seat, str], Awaitable[None]]
    _publish_live: Callable[[str], Awaitable[None]]

    async def drain(self) -> None:
        """This node is stopping: hand every room it owns over now instead of letting its
        record lapse. Each room is dropped here and its record given up; every other node
        holding its sockets is told to seat them again (it claims the room, reads the
        seats from the database and sends fresh welcomes). This node's own sockets are the
        endpoint's to close (with "reconnect now"); they land on another node."""
        self.draining = True
        if self._watch is not None:
            self._watch.cancel()
        me = self.bus.node_id
        for visit_id in self.local.room_ids():
            nodes = {node_of(conn) for conn in self.local.drop_room(visit_id)} - {me}
            self._forget_homes(visit_id)
            self.handed[visit_id] = nodes
            await self.bus.set_live(visit_id, None)
            await self.bus.release(visit_id)
            for node in sorted(nodes):  # after the release: their claims find the room free
                await self.bus.send(node, visit_id, Resync(visit_id))
            log.info("room handed over visit=%s node=%s", visit_id, me)
        for visit_id in [v for v, owner in self.owners.items() if owner == me]:
            del self.owners[visit_id]
        await self.bus.flush()

    def _forget_homes(self, visit_id: str) -> None:
        """Forget the seats of a room this node no longer has."""
        for conn in [c for c, v in self.homes.items() if v.visit_id == visit_id]:
            del self.homes[conn]

    async def _after_handover(self, message: Op) -> None:
        """A message for a room this node no longer has (it is stopping). A join's node
        took this node for the owner a moment too early: it seats its sockets again. An
        ending or ejection reaches the nodes the room was handed to as a resync: they
        seat their sockets again as the database has them now (the visit cancelled, the
        link revoked). Relays and leaves are dropped: their nodes were told already."""
        if isinstance(message, Join):
            nodes = {node_of(message.conn)}
            visit_id = message.seat.visit_id
        elif isinstance(message, (End, Eject, EjectSession)):
            visit_id = message.visit
            nodes = self.handed.get(visit_id, set())
        else:
            return
        for node in sorted(nodes - {self.bus.node_id}):
            await self.bus.send(node, visit_id, Resync(visit_id))

    # -- noticing owners that disappear ------------------------------------------------

    async def _keep_watch(self) -> None:
        failed = 0  # rounds failed in a row: an outage logs its cause once, not every round
        while not (self.closed or self.draining):
            # The first round at once: this node's presence exists before it seats anyone.
            try:
                await self._watch_once()
            except Exception:  # a failed round is retried on the next; never stop watching
                if not failed:
                    log.exception("cluster watch round failed node=%s", self.bus.node_id)
                failed += 1
            else:
                if failed:
                    log.warning("cluster watch back node=%s after %d failed rounds",
                                self.bus.node_id, failed)
                failed = 0
            await asyncio.sleep(self.ttl / 4)

    async def _watch_once(self) -> None:
        held = {seat.visit_id for seat in self.seats.values()}
        await self.bus.beat(self.ttl, held | set(self.local.room_ids()))
        await self.bus.renew(self.local.room_ids(), self.ttl)
        await self._let_go_of_gone_nodes()
        for visit_id, known in list(self.owners.items()):
            if known == self.bus.node_id:
                continue
            owner = await self.bus.owner(visit_id)
            if owner == known:
                continue
            # The owner is gone (or changed): seat this node's sockets again through the
            # owner there is now, as the database has them now (the lost room may have
            # admitted someone since her socket opened); each gets a fresh welcome.
            log.warning("room owner gone visit=%s node=%s", visit_id, self.bus.node_id)
            await self._seat_again(visit_id)

    async def _seat_again(self, visit_id: str) -> None:
        try:
            owner = await self._owner_for(visit_id)
        except Exception as exc:  # Redis away: the next watch round seats them again
            log.warning("re-seat postponed visit=%s node=%s error=%s", visit_id,
                        self.bus.node_id, type(exc).__name__)
            self.owners[visit_id] = ""
            return
        for conn, seat in list(self.seats.items()):
            if seat.visit_id != visit_id:
                continue
            try:
                if self.reseat is not None:
                    seat = await self.reseat(seat)
                if conn not in self.seats:  # the socket closed while its seat was read
                    continue
                self.seats[conn] = seat
                await self._join_at(owner, seat, conn, self.extras[conn])
            except Exception:
                # One socket that cannot be seated again must not strand the others; the
                # next watch round tries it again.
                log.exception("re-seat failed visit=%s conn=%s", visit_id, conn)
                self.owners[visit_id] = ""  # unknown: the next round seats them again

    # -- repairs -----------------------------------------------------------------------

    async def _resync(self, visit_id: str) -> None:
        """Messages of a visit's room were lost between nodes (the bus could not replay
        them): the owner drops its room, and every node seats its sockets again, as the
        database has them, each with a fresh welcome. The owner tells each node that held
        sockets in it until that node answers (`signaling.cluster_repair`), and the rest
        once."""
        log.warning("room resync visit=%s node=%s", visit_id, self.bus.node_id)
        had_room = self.local.owns(visit_id)
        nodes: set[str] = set()
        if had_room:
            # Rebuilt from the seats that join again.
            nodes = {node_of(c) for c in self.local.drop_room(visit_id)} - {self.bus.node_id}
            self._forget_homes(visit_id)
        if any(seat.visit_id == visit_id for seat in self.seats.values()):
            await self._seat_again(visit_id)
        elif had_room:
            await self._publish_live(visit_id)  # no room here now: clear it, let it go
        if had_room:
            await self.repairs.ask(visit_id, nodes)
            await self.bus.announce_resync(visit_id, nodes)

    async def _repair(self, visit_id: str | None) -> None:
        """This node's bus lost messages it cannot replay: of one room, or (None) of every
        room (Redis forgot its data, or this node's presence lapsed). A room owned here is
        resynced; the sockets held here of a room owned elsewhere are seated again, and
        its owner is asked to resync (what was lost may be what this node sent it). Only
        live rooms: those owned here or with sockets here."""
        owned = set(self.local.room_ids())
        held = {seat.visit_id for seat in self.seats.values()}
        for visit in sorted([visit_id] if visit_id is not None else owned | held):
            try:
                if visit in owned:
                    await self._resync(visit)
                elif visit in held:
                    await self._seat_again(visit)
                    owner = self.owners.get(visit)
                    if owner and owner != self.bus.node_id:
                        await self.bus.send(owner, visit, Resync(visit))
            except Exception:  # one room that fails is not a reason to leave the others
                log.exception("repair failed visit=%s node=%s", visit, self.bus.node_id)
                self.owners[visit] = ""  # the next watch round seats its sockets again

    async def _let_go_of_gone_nodes(self) -> None:
        """Members of rooms owned here whose socket's node stopped renewing its presence
        for a whole record's life (it died, or stalled) leave their rooms: the others are
        told `peer-left`. A node that comes back finds its presence lapsed and seats its
        sockets again (`_repair`). Repairs owed by gone nodes are let go."""
        nodes = {node_of(conn) for conn in self.homes} | self.repairs.nodes()
        nodes.discard(self.bus.node_id)
        if not nodes:
            self._missing.clear()
            return
        alive = await self.bus.alive(nodes)
        now = asyncio.get_running_loop().time()
        self._missing = {n: self._missing.get(n, now) for n in nodes - alive}
        gone = {n for n, since in self._missing.items() if now - since >= self.ttl}
        for conn, seat in list(self.homes.items()):
            if node_of(conn) in gone and self.homes.get(conn) is seat:
                log.warning("member's node gone visit=%s conn=%s", seat.visit_id, conn)
                await self._leave_here(seat, conn)
        await self.repairs.again(nodes - gone)
