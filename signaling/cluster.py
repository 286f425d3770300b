"""Rooms across processes: each visit's room has one owner; the others forward to it.

`ClusterRouter` is a `Router` for one process (a node) of several. A socket may be held by
any node; the room lives on the node that claimed the visit first. The socket's node
forwards what it sends to the owner's inbox, in order; the owner's rooms deliver back to
the socket's node inbox (a connection id starts with the id of the node that holds it).
Ownership is a record with a time to live that the owner renews; when an owner
disappears its record lapses, and every node holding sockets of that visit seats them
again through a new owner (each gets a new `welcome`: the client resyncs). A bus that lost
messages it cannot replay (or found Redis lost its data) hands its own node a `Lost`: an
owner drops the room and tells each node that held its sockets to `Resync`, until each
answers (`signaling.cluster_repair`), and the sockets are seated again the same way; a
node holding sockets seats them again. Each node renews its presence in its watch round;
an owner lets go of members whose node's presence lapsed (the others are told
`peer-left`). A node that stops on purpose (`drain`) does not
wait for its records to lapse: it drops its rooms, gives up their records and sends a
`Resync` to every node holding their sockets, which seat them again at once. That half,
watching and repairing, is `signaling.cluster_recovery`.

What carries messages and ownership is a `ClusterBus` (`signaling.cluster_bus`); what
nodes say to each other is one typed message per operation (`signaling.cluster_messages`),
each taken by its handler here. The rooms this node owns live in a `LocalRouter`, asked
through its methods only. The module is longer than 400 lines by a few: the half that
serves this node's sockets and the owner's half that takes their messages share the
node's seats and owners (the watching and repairing went to `signaling.cluster_recovery`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any, Awaitable, Callable, Sequence

from signaling.bus import Delivery
from signaling.closes import CLOSE_TRY_LATER
from signaling.cluster_bus import OWNER_TTL, ClusterBus, Reseat, node_conn_id, node_of, stop_tasks
from signaling.cluster_ejects import Ejections
from signaling.cluster_messages import (
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
    tag_of,
)
from signaling.cluster_recovery import Recovery
from signaling.cluster_repair import Repairs
from signaling.protocol import Inbound, ProtocolError, error, parse_message
from signaling.live_detail import LiveDetail, owners_details
from signaling.router import LocalRouter, Sink
from signaling.seat import RoomHooks, Seat

log = logging.getLogger(__name__)

LATER_SECONDS = 3600
"""How long an ending or ejection made during a bus outage waits for it to come back."""

ANSWERS = (Deliver, Ejected, Resynced)
"""Messages a node takes in even while it is stopping (the rest go to `_after_handover`)."""


class ClusterRouter(Recovery):
    """A node's router: owned rooms are served here, the rest forwarded to their owner."""

    def __init__(self, bus: ClusterBus, hooks: RoomHooks | None = None, *,
                 reseat: Reseat | None = None, ttl: float = OWNER_TTL) -> None:
        self.bus = bus
        self.ttl = ttl
        self.reseat = reseat
        self.local = LocalRouter(hooks, remote=self._deliver_remote)
        self.seats: dict[str, Seat] = {}
        """The seat of every socket this node holds, by connection id."""
        self.extras: dict[str, dict[str, Any]] = {}
        """What each of those sockets' welcome carries besides the room (ICE servers)."""
        self.owners: dict[str, str] = {}
        """The owner known for each visit this node holds sockets of."""
        self.homes: dict[str, Seat] = {}
        """The seat of each connection seated in a room this node owns, wherever its socket
        is: frames forwarded from another node then carry no seat, and deliveries to another
        node name their room (the bus numbers and keeps messages per room)."""
        self._watch: asyncio.Task[None] | None = None
        self._later: set[asyncio.Task[None]] = set()
        """Endings and ejections waiting for the bus to answer again."""
        self.draining = False
        """This node is stopping: it owns no room and seats nobody any more."""
        self.closed = False
        """Closed: its tasks end at their next turn even if a cancel was lost."""
        self.handed: dict[str, set[str]] = {}
        """The rooms this node handed over as it drained: the nodes that held their sockets."""
        self.ejections = Ejections(bus.node_id, self._eject_at_owner, min(ttl / 4, 1.0))
        """Ejections asked here, sent again until the room's owner confirms them."""
        self.repairs = Repairs(bus.node_id, bus.send, ttl / 2)
        """Resyncs of rooms owned here, sent again until each node answers."""
        self._missing: dict[str, float] = {}
        """Nodes holding sockets seated here whose presence is missing: since when."""
        self.handlers: dict[type[Op], Callable[[Any], Awaitable[None]]] = {
            Deliver: self._on_deliver, Forward: self._on_forward, Join: self._on_join,
            Leave: self._on_leave, End: self._on_end, Eject: self._on_eject,
            EjectSession: self._on_eject, Ejected: self._on_ejected, Resync: self._on_resync,
            Resynced: self._on_resynced, Lost: self._on_lost,
        }
        """What this node does with each kind of message in its inbox."""

    @property
    def node_id(self) -> str:
        """This node's id (random; it names no machine or process)."""
        return self.bus.node_id

    def new_conn_id(self) -> str:
        """A connection id naming this node, so owners deliver back to it."""
        return node_conn_id(self.node_id, self.local.new_conn_id())

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        await self.bus.start(self._on_message)
        self._watch = asyncio.create_task(self._keep_watch(), name=f"watch {self.node_id}")

    async def close(self) -> None:
        self.closed = True
        watch = [self._watch] if self._watch is not None else []
        await stop_tasks([*watch, *self._later, *self.ejections.tasks],
                         what=f"cluster-router node={self.node_id}")
        for visit_id in self.local.room_ids():
            await self.bus.release(visit_id)
        await self.local.close()
        await self.bus.close()

    # -- sockets of this node ----------------------------------------------------------

    def attach(self, conn: str, sink: Sink) -> None:
        self.local.attach(conn, sink)

    def detach(self, conn: str) -> None:
        self.local.detach(conn)

    async def join(self, seat: Seat, conn: str, welcome_extra: dict[str, Any]) -> None:
        if self.draining:
            return  # a socket that opened as this node began to stop: the endpoint closes it
        self.seats[conn] = seat
        self.extras[conn] = welcome_extra
        try:
            owner = await self._owner_for(seat.visit_id)
        except Exception as exc:  # the bus does not answer (Redis down): try again later
            log.warning("room claim failed visit=%s conn=%s error=%s", seat.visit_id, conn,
                        type(exc).__name__)
            await self._try_later(conn)
            return
        if self.draining:  # began to stop during the claim: the endpoint closes the socket
            await self._give_back(seat.visit_id, owner)
            return
        await self._join_at(owner, seat, conn, welcome_extra)

    async def _try_later(self, conn: str) -> None:
        await self.local.publish(conn, Delivery(
            error("unavailable", "The visit cannot be reached just now; trying again."),
            CLOSE_TRY_LATER))

    async def _give_back(self, visit_id: str, owner: str) -> None:
        """A claim that ended after this node began to stop: let the room go to a node
        that stays (unless this node already holds it as a room, which drain hands over)."""
        if owner == self.bus.node_id and not self.local.owns(visit_id):
            self.owners.pop(visit_id, None)
            await self.bus.release(visit_id)

    async def leave(self, seat: Seat, conn: str) -> None:
        self.seats.pop(conn, None)
        self.extras.pop(conn, None)
        owner = self.owners.get(seat.visit_id)
        if not any(s.visit_id == seat.visit_id for s in self.seats.values()):
            self.owners.pop(seat.visit_id, None)
        if owner == self.bus.node_id:
            await self._leave_here(seat, conn)
        elif owner is not None:
            await self.bus.send(owner, seat.visit_id, Leave(seat, conn))

    def relay_target(self, seat: Seat, conn: str, message: Inbound) -> tuple[Sink, str] | None:
        if self.owners.get(seat.visit_id) != self.bus.node_id:
            return None  # the room is another process's: the frame crosses the bus
        return self.local.relay_target(seat, conn, message)

    async def inbound(self, seat: Seat, conn: str, message: Inbound) -> None:
        owner = self.owners.get(seat.visit_id)
        if owner == self.bus.node_id:
            await self._inbound_here(seat, conn, message)
        elif owner is not None:
            # The frame as it came (the owner parses it again) or, built in code, its
            # fields; not the seat, which the owner has from the join.
            await self.bus.send(owner, seat.visit_id,
                                Forward(conn, message.raw) if message.raw else
                                Forward(conn, "", message.type, message.fields))
        elif not self.draining:  # (a room just handed over: the socket is closing)
            raise ProtocolError("not_in_room", "This connection is not in the room.")

    # -- control and queries (from anywhere) -----------------------------------------------

    async def end_visit(self, visit_id: str, reason: str) -> None:
        await self._to_owner(visit_id, End(visit_id, reason))

    async def eject(self, visit_id: str, participant_id: str, reason: str,
                    on_session: str | None = None) -> None:
        self.ejections.ask(visit_id, participant_id, reason, on_session)  # first try now

    async def live_states(self, visit_ids: Sequence[str]) -> dict[str, str]:
        try:
            return await self.bus.live(visit_ids)
        except Exception as exc:  # the bus does not answer: the dashboard shows no live state
            log.warning("live states unavailable error=%s", type(exc).__name__)
            return {}

    async def live_details(self, visit_ids: Sequence[str]) -> dict[str, LiveDetail]:
        try:
            texts = await self.bus.live_details(visit_ids)
        except Exception as exc:  # the bus does not answer: nobody is shown waiting, or busy
            log.warning("live details unavailable error=%s", type(exc).__name__)
            return {}
        return owners_details(texts)

    def counts(self) -> dict[str, int]:
        return {"sockets": len(self.seats), "rooms": len(self.local.room_ids())}

    # -- the owner's side ------------------------------------------------------------------

    async def _owner_for(self, visit_id: str) -> str:
        owner = await self.bus.claim(visit_id, self.ttl)
        self.owners[visit_id] = owner
        return owner

    async def _join_at(self, owner: str, seat: Seat, conn: str,
                       welcome_extra: dict[str, Any]) -> None:
        if owner == self.bus.node_id:
            home = self.homes.get(conn)
            if home is not None and home.visit_id == seat.visit_id:
                # Seated again (a resync): the room forgets the old seat first, or it would
                # take the connection for a second tab and close it.
                await self.local.leave(seat, conn)
            self.homes[conn] = seat
            await self.local.join(seat, conn, welcome_extra)
            await self._publish_live(seat.visit_id)
        else:
            await self.bus.send(owner, seat.visit_id, Join(seat, conn, welcome_extra))

    async def _leave_here(self, seat: Seat, conn: str) -> None:
        self.homes.pop(conn, None)
        await self.local.leave(seat, conn)
        await self._publish_live(seat.visit_id)

    async def _inbound_here(self, seat: Seat, conn: str, message: Inbound) -> None:
        await self.local.inbound(seat, conn, message)
        if message.type not in ("offer", "answer", "candidate", "restart"):
            await self._publish_live(seat.visit_id)

    async def _publish_live(self, visit_id: str) -> None:
        state = self.local.live_state(visit_id)
        detail = self.local.live_detail(visit_id)
        if state is None or detail is None:
            self._forget_homes(visit_id)
            await self.bus.set_live(visit_id, None)
            await self.bus.release(visit_id)
        else:
            await self.bus.set_live(visit_id, state, replace(detail, node=self.node_id).encode())

    async def _to_owner(self, visit_id: str, message: End) -> None:
        if self.local.owns(visit_id):  # this node owns the room: no need to ask
            await self._on_message(message)
            return
        try:
            owner = await self.bus.owner(visit_id)
        except Exception as exc:  # the bus does not answer (Redis down)
            log.warning("room owner lookup failed visit=%s op=%s error=%s; trying again",
                        visit_id, tag_of(message), type(exc).__name__)
            task = asyncio.create_task(self._to_owner_later(visit_id, message),
                                       name=f"later {tag_of(message)} {visit_id}")
            self._later.add(task)
            task.add_done_callback(self._later.discard)
            return
        await self._send_to(owner, visit_id, message)

    async def _eject_at_owner(self, message: Eject | EjectSession) -> bool:
        """One try at an ejection: to the room's owner now (True), or nowhere (False: no
        node owns the room; the bus's error, if it does not answer, goes to the caller)."""
        if self.local.owns(message.visit):
            await self._on_message(message)
            return True
        owner = await self.bus.owner(message.visit)
        await self._send_to(owner, message.visit, message)
        return owner is not None

    async def _to_owner_later(self, visit_id: str, message: Op) -> None:
        """An ending or ejection made while the bus was down (already stored): hand it to
        the room's owner once the bus answers, however long the outage (bounded)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LATER_SECONDS
        while loop.time() < deadline:
            await asyncio.sleep(min(self.ttl / 8, 1.0))
            if self.closed:
                return
            try:
                owner = await self.bus.owner(visit_id)
            except Exception:
                continue
            await self._send_to(owner, visit_id, message)
            return
        log.error("room change dropped after %d s without the bus visit=%s op=%s",
                  LATER_SECONDS, visit_id, tag_of(message))

    async def _send_to(self, owner: str | None, visit_id: str, message: Op) -> None:
        if owner == self.bus.node_id:
            await self._on_message(message)
        elif owner is not None:
            await self.bus.send(owner, visit_id, message)

    async def _deliver_remote(self, conn: str, delivery: Delivery) -> None:
        home = self.homes.get(conn)
        await self.bus.send(node_of(conn), home.visit_id if home is not None else NO_ROOM,
                            Deliver(conn, delivery.message, delivery.close_code))

    # -- this node's inbox: a handler per kind of message ----------------------------------

    async def _on_message(self, message: Op) -> None:
        """One message from this node's inbox, to its handler."""
        handler = self.handlers.get(type(message))
        if handler is None:  # a kind declared without a handler: a bug, never fatal
            log.error("cluster message without a handler node=%s op=%s", self.node_id,
                      tag_of(message))
            return
        if self.draining and not isinstance(message, ANSWERS):
            await self._after_handover(message)
            return
        await handler(message)

    async def _on_deliver(self, message: Deliver) -> None:
        self.local.deliver_here(message.conn, Delivery(message.message, message.close))

    async def _on_ejected(self, message: Ejected) -> None:
        self.ejections.confirmed(message.eject_id)

    async def _on_resynced(self, message: Resynced) -> None:
        self.repairs.answered(message.visit, message.sender)

    async def _on_lost(self, message: Lost) -> None:
        await self._repair(message.visit)  # from this node's own bus: it cannot replay

    async def _on_resync(self, message: Resync) -> None:
        await self._resync(message.visit)
        if message.sender:  # an owner's repair, sent until answered
            await self.bus.send(message.sender, message.visit,
                                Resynced(message.visit, self.node_id))

    async def _on_end(self, message: End) -> None:
        await self.local.end_visit(message.visit, message.reason)
        await self._publish_live(message.visit)

    async def _on_eject(self, message: Eject | EjectSession) -> None:
        await self.local.eject(message.visit, message.participant, message.reason,
                               message.session if isinstance(message, EjectSession) else None)
        if message.eject_id:  # tell the node that asked that this room has done it
            if message.sender == self.node_id:
                self.ejections.confirmed(message.eject_id)
            elif message.sender:
                await self.bus.send(message.sender, message.visit, Ejected(message.eject_id))
        await self._publish_live(message.visit)

    async def _on_forward(self, message: Forward) -> None:
        """A frame from a socket another node holds, for a room this node owns."""
        conn = message.conn
        refused_type: dict[str, str] = {}
        try:
            seat = self.homes.get(conn)
            if seat is None:
                raise ProtocolError("not_in_room", "This connection is not in the room.")
            inbound = (parse_message(message.raw, seat.role) if message.raw
                       else Inbound(message.kind, message.fields))
            refused_type = {"re": inbound.type}
            await self._inbound_here(seat, conn, inbound)
        except ProtocolError as exc:
            await self.local.publish(conn, Delivery(error(exc.code, exc.message, **refused_type)))

    async def _on_join(self, message: Join) -> None:
        seat, conn = message.seat, message.conn
        try:
            owner = await self._owner_for(seat.visit_id)
        except Exception as exc:  # Redis away: the socket comes back later, as at home
            log.warning("forwarded join refused visit=%s conn=%s error=%s", seat.visit_id,
                        conn, type(exc).__name__)
            await self._try_later(conn)
            return
        if self.draining:  # began to stop during the claim: no new room here
            await self._give_back(seat.visit_id, owner)
            await self._after_handover(message)
            return
        if owner != self.bus.node_id:  # ownership moved meanwhile: pass it on
            await self.bus.send(owner, seat.visit_id, message)
            return
        await self._join_at(owner, seat, conn, message.extra)

    async def _on_leave(self, message: Leave) -> None:
        await self._leave_here(message.seat, message.conn)
