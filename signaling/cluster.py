"""Rooms across processes: each visit's room has one owner; the others forward to it.

`ClusterRouter` is a `Router` for one process (a node) of several. A socket may be held by
any node; the room lives on the node that claimed the visit first. The socket's node
forwards what it sends to the owner's inbox, in order; the owner's rooms deliver back to
the socket's node inbox (a connection id starts with the id of the node that holds it).
Ownership is a record with a time to live that the owner renews; when an owner
disappears its record lapses, and every node holding sockets of that visit seats them
again through a new owner (each gets a new `welcome`: the client resyncs). A bus that lost
messages it cannot replay (or found Redis lost its data) hands its own node a `lost`: an
owner drops the room and tells each node that held its sockets to `resync`, until each
answers (`signaling.cluster_repair`), and the sockets are seated again the same way; a
node holding sockets seats them again. Each node renews its presence in its watch round;
an owner lets go of members whose node's presence lapsed (the others are told
`peer-left`). A node that stops on purpose (`drain`) does not
wait for its records to lapse: it drops its rooms, gives up their records and sends a
`resync` to every node holding their sockets, which seat them again at once.

What carries messages and ownership is a `ClusterBus` (`signaling.cluster_bus`).

The module is longer than 400 lines on purpose: every path of a room's ownership (claim,
forward, hand over, re-seat, repair, presence, outage) reads and writes the same few maps
of this class,
and split across modules they would have to share them.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict
from typing import Any, Sequence

from signaling.bus import Delivery
from signaling.closes import CLOSE_TRY_LATER
from signaling.cluster_bus import OWNER_TTL, ClusterBus, Reseat, stop_tasks
from signaling.cluster_ejects import Ejections
from signaling.cluster_repair import Repairs
from signaling.protocol import Inbound, ProtocolError, error, parse_message
from signaling.router import LocalRouter, Sink, room_live_state
from signaling.seat import RoomHooks, Seat

log = logging.getLogger(__name__)

LATER_SECONDS = 3600
"""How long an ending or ejection made during a bus outage waits for it to come back."""


class ClusterRouter:
    """A node's router: owned rooms are served here, the rest forwarded to their owner."""

    def __init__(self, bus: ClusterBus, hooks: RoomHooks | None = None, *,
                 reseat: Reseat | None = None, ttl: float = OWNER_TTL) -> None:
        self.bus = bus
        self.ttl = ttl
        self.reseat = reseat
        self.conn_prefix = f"{bus.node_id}."
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

    @property
    def node_id(self) -> str:
        """This node's id (random; it names no machine or process)."""
        return self.bus.node_id

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        await self.bus.start(self._on_message)
        self._watch = asyncio.create_task(self._keep_watch(), name=f"watch {self.node_id}")

    async def drain(self) -> None:
        """This node is stopping: hand every room it owns over now instead of letting its
        record lapse. Each room is dropped here and its record given up; every other node
        holding its sockets is told to seat them again (it claims the room, reads the
        seats from the database and sends fresh welcomes). This node's own sockets are the
        endpoint's to close (with "reconnect now"); they land on another node."""
        self.draining = True
        if self._watch is not None:
            self._watch.cancel()
        for visit_id, room in list(self.local.registry.rooms.items()):
            nodes = {conn.split(".", 1)[0] for conn in _connections(room)} - {self.node_id}
            self.local.registry.drop(room)
            for conn in [c for c, v in self.homes.items() if v.visit_id == visit_id]:
                del self.homes[conn]
            self.handed[visit_id] = nodes
            await self.bus.set_live(visit_id, None)
            await self.bus.release(visit_id)
            for node in sorted(nodes):  # after the release: their claims find the room free
                await self.bus.send(node, {"op": "resync", "visit": visit_id})
            log.info("room handed over visit=%s node=%s", visit_id, self.node_id)
        for visit_id in [v for v, owner in self.owners.items() if owner == self.node_id]:
            del self.owners[visit_id]
        await self.bus.flush()

    async def close(self) -> None:
        self.closed = True
        watch = [self._watch] if self._watch is not None else []
        await stop_tasks([*watch, *self._later, *self.ejections.tasks],
                         what=f"cluster-router node={self.node_id}")
        for visit_id in list(self.local.registry.rooms):
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
            await self.local.bus.publish(conn, Delivery(
                error("unavailable", "The visit cannot be reached just now; trying again."),
                CLOSE_TRY_LATER))
            return
        if self.draining:  # began to stop during the claim: the endpoint closes the socket
            await self._give_back(seat.visit_id, owner)
            return
        await self._join_at(owner, seat, conn, welcome_extra)

    async def _give_back(self, visit_id: str, owner: str) -> None:
        """A claim that ended after this node began to stop: let the room go to a node
        that stays (unless this node already holds it as a room, which drain hands over)."""
        if owner == self.bus.node_id and visit_id not in self.local.registry.rooms:
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
            await self.bus.send(owner, {"op": "leave", "seat": asdict(seat), "conn": conn})

    async def inbound(self, seat: Seat, conn: str, message: Inbound) -> None:
        owner = self.owners.get(seat.visit_id)
        if owner == self.bus.node_id:
            await self._inbound_here(seat, conn, message)
        elif owner is not None:
            # The frame as it came (the owner parses it again) or, built in code, its
            # fields; not the seat, which the owner has from the join. The visit names
            # the room the bus numbers and keeps it under.
            await self.bus.send(owner, {"op": "in", "conn": conn, "raw": message.raw,
                                        "visit": seat.visit_id}
                                if message.raw else
                                {"op": "in", "conn": conn, "type": message.type,
                                 "fields": message.fields, "visit": seat.visit_id})
        elif not self.draining:  # (a room just handed over: the socket is closing)
            raise ProtocolError("not_in_room", "This connection is not in the room.")

    # -- control and queries (from anywhere) -----------------------------------------------

    async def end_visit(self, visit_id: str, reason: str) -> None:
        await self._to_owner(visit_id, {"op": "end", "visit": visit_id, "reason": reason})

    async def eject(self, visit_id: str, participant_id: str, reason: str) -> None:
        self.ejections.ask(visit_id, participant_id, reason)  # its first try starts now

    async def live_states(self, visit_ids: Sequence[str]) -> dict[str, str]:
        try:
            return await self.bus.live(visit_ids)
        except Exception as exc:  # the bus does not answer: the dashboard shows no live state
            log.warning("live states unavailable error=%s", type(exc).__name__)
            return {}

    def counts(self) -> dict[str, int]:
        return {"sockets": len(self.seats), "rooms": len(self.local.registry.rooms)}

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
            await self.bus.send(owner, {"op": "join", "seat": asdict(seat), "conn": conn,
                                        "extra": welcome_extra})

    async def _leave_here(self, seat: Seat, conn: str) -> None:
        self.homes.pop(conn, None)
        await self.local.leave(seat, conn)
        await self._publish_live(seat.visit_id)

    async def _inbound_here(self, seat: Seat, conn: str, message: Inbound) -> None:
        await self.local.inbound(seat, conn, message)
        if message.type not in ("offer", "answer", "candidate", "restart"):
            await self._publish_live(seat.visit_id)

    async def _publish_live(self, visit_id: str) -> None:
        room = self.local.registry.room(visit_id)
        if room is None:
            for conn in [c for c, v in self.homes.items() if v.visit_id == visit_id]:
                del self.homes[conn]
            await self.bus.set_live(visit_id, None)
            await self.bus.release(visit_id)
        else:
            await self.bus.set_live(visit_id, room_live_state(room))

    async def _to_owner(self, visit_id: str, message: dict[str, Any]) -> None:
        if visit_id in self.local.registry.rooms:  # this node owns the room: no need to ask
            await self._on_message(message)
            return
        try:
            owner = await self.bus.owner(visit_id)
        except Exception as exc:  # the bus does not answer (Redis down)
            log.warning("room owner lookup failed visit=%s op=%s error=%s; trying again",
                        visit_id, message["op"], type(exc).__name__)
            task = asyncio.create_task(self._to_owner_later(visit_id, message),
                                       name=f"later {message['op']} {visit_id}")
            self._later.add(task)
            task.add_done_callback(self._later.discard)
            return
        await self._send_to(owner, message)

    async def _eject_at_owner(self, message: dict[str, Any]) -> bool:
        """One try at an ejection: to the room's owner now (True), or nowhere (False: no
        node owns the room; the bus's error, if it does not answer, goes to the caller)."""
        if message["visit"] in self.local.registry.rooms:
            await self._on_message(message)
            return True
        owner = await self.bus.owner(message["visit"])
        await self._send_to(owner, message)
        return owner is not None

    async def _confirm_eject(self, message: dict[str, Any]) -> None:
        """Tell the node that asked for an ejection that this room has done it."""
        if "id" not in message:
            return
        if message.get("from") == self.node_id:
            self.ejections.confirmed(message["id"])
        elif message.get("from"):
            await self.bus.send(message["from"], {"op": "ejected", "id": message["id"],
                                                  "visit": message["visit"]})

    async def _to_owner_later(self, visit_id: str, message: dict[str, Any]) -> None:
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
            await self._send_to(owner, message)
            return
        log.error("room change dropped after %d s without the bus visit=%s op=%s",
                  LATER_SECONDS, visit_id, message["op"])

    async def _send_to(self, owner: str | None, message: dict[str, Any]) -> None:
        if owner == self.bus.node_id:
            await self._on_message(message)
        elif owner is not None:
            await self.bus.send(owner, message)

    async def _deliver_remote(self, conn: str, delivery: Delivery) -> None:
        node = conn.split(".", 1)[0]
        await self.bus.send(node, {"op": "deliver", "conn": conn, "message": delivery.message,
                                   "close": delivery.close_code,
                                   "visit": _visit_of(self.homes.get(conn))})

    async def _on_message(self, message: dict[str, Any]) -> None:
        """One message from this node's inbox."""
        op = message["op"]
        if op == "deliver":
            sink = self.local.sinks.get(message["conn"])
            if sink is not None:
                sink.deliver(Delivery(message["message"], message["close"]))
            return
        if op == "ejected":
            self.ejections.confirmed(message["id"])
            return
        if op == "resynced":
            self.repairs.answered(message["visit"], message["from"])
            return
        if self.draining:
            await self._after_handover(message)
            return
        if op == "lost":  # from this node's own bus: messages it cannot replay
            await self._repair(message["visit"])
            return
        if op == "resync":
            await self._resync(message["visit"])
            if message.get("from"):  # an owner's repair, sent until answered
                await self.bus.send(message["from"], {"op": "resynced", "visit": message["visit"],
                                                      "from": self.node_id})
            return
        if op in ("end", "eject"):
            if op == "end":
                await self.local.end_visit(message["visit"], message["reason"])
            else:
                await self.local.eject(message["visit"], message["participant"], message["reason"])
                await self._confirm_eject(message)
            await self._publish_live(message["visit"])
            return
        conn = message["conn"]
        if op == "in":
            await self._forwarded_in(conn, message)
            return
        seat = Seat(**message["seat"])
        if op == "join":
            try:
                owner = await self._owner_for(seat.visit_id)
            except Exception as exc:  # Redis away: the socket comes back later, as at home
                log.warning("forwarded join refused visit=%s conn=%s error=%s", seat.visit_id,
                            conn, type(exc).__name__)
                await self.local.bus.publish(conn, Delivery(
                    error("unavailable", "The visit cannot be reached just now; trying again."),
                    CLOSE_TRY_LATER))
                return
            if self.draining:  # began to stop during the claim: no new room here
                await self._give_back(seat.visit_id, owner)
                await self._after_handover(message)
                return
            if owner != self.bus.node_id:  # ownership moved meanwhile: pass it on
                await self.bus.send(owner, message)
                return
            await self._join_at(owner, seat, conn, message["extra"])
        elif op == "leave":
            await self._leave_here(seat, conn)

    async def _forwarded_in(self, conn: str, message: dict[str, Any]) -> None:
        """A frame from a socket another node holds, for a room this node owns."""
        try:
            seat = self.homes.get(conn)
            if seat is None:
                raise ProtocolError("not_in_room", "This connection is not in the room.")
            raw = message.get("raw")
            inbound = (parse_message(raw, seat.role) if raw
                       else Inbound(message["type"], message["fields"]))
            await self._inbound_here(seat, conn, inbound)
        except ProtocolError as exc:
            await self.local.bus.publish(conn, Delivery(error(exc.code, exc.message)))

    async def _after_handover(self, message: dict[str, Any]) -> None:
        """A message for a room this node no longer has (it is stopping). A join's node
        took this node for the owner a moment too early: it seats its sockets again. An
        ending or ejection reaches the nodes the room was handed to as a resync: they
        seat their sockets again as the database has them now (the visit cancelled, the
        link revoked). Relays and leaves are dropped: their nodes were told already."""
        op = message["op"]
        if op == "join":
            nodes = {message["conn"].split(".", 1)[0]}
            visit_id = message["seat"]["visit_id"]
        elif op in ("end", "eject"):
            visit_id = message["visit"]
            nodes = self.handed.get(visit_id, set())
        else:
            return
        for node in sorted(nodes - {self.node_id}):
            await self.bus.send(node, {"op": "resync", "visit": visit_id})

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
        await self.bus.beat(self.ttl, held | set(self.local.registry.rooms))
        await self.bus.renew(list(self.local.registry.rooms), self.ttl)
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

    async def _resync(self, visit_id: str) -> None:
        """Messages of a visit's room were lost between nodes (the bus could not replay
        them): the owner drops its room, and every node seats its sockets again, as the
        database has them, each with a fresh welcome. The owner tells each node that held
        sockets in it until that node answers (`signaling.cluster_repair`), and the rest
        once."""
        log.warning("room resync visit=%s node=%s", visit_id, self.bus.node_id)
        room = self.local.registry.room(visit_id)
        nodes: set[str] = set()
        if room is not None:
            nodes = {conn.split(".", 1)[0] for conn in _connections(room)} - {self.node_id}
            self.local.registry.drop(room)  # rebuilt from the seats that join again
            for conn in [c for c, v in self.homes.items() if v.visit_id == visit_id]:
                del self.homes[conn]
        if any(seat.visit_id == visit_id for seat in self.seats.values()):
            await self._seat_again(visit_id)
        elif room is not None:
            await self._publish_live(visit_id)  # no room here now: clear it, let it go
        if room is not None:
            await self.repairs.ask(visit_id, nodes)
            await self.bus.announce_resync(visit_id, nodes)

    async def _repair(self, visit_id: str | None) -> None:
        """This node's bus lost messages it cannot replay: of one room, or (None) of every
        room (Redis forgot its data, or this node's presence lapsed). A room owned here is
        resynced; the sockets held here of a room owned elsewhere are seated again, and
        its owner is asked to resync (what was lost may be what this node sent it). Only
        live rooms: those owned here or with sockets here."""
        owned = set(self.local.registry.rooms)
        held = {seat.visit_id for seat in self.seats.values()}
        for visit in sorted([visit_id] if visit_id is not None else owned | held):
            try:
                if visit in owned:
                    await self._resync(visit)
                elif visit in held:
                    await self._seat_again(visit)
                    owner = self.owners.get(visit)
                    if owner and owner != self.node_id:
                        await self.bus.send(owner, {"op": "resync", "visit": visit})
            except Exception:  # one room that fails is not a reason to leave the others
                log.exception("repair failed visit=%s node=%s", visit, self.node_id)
                self.owners[visit] = ""  # the next watch round seats its sockets again

    async def _let_go_of_gone_nodes(self) -> None:
        """Members of rooms owned here whose socket's node stopped renewing its presence
        for a whole record's life (it died, or stalled) leave their rooms: the others are
        told `peer-left`. A node that comes back finds its presence lapsed and seats its
        sockets again (`_repair`). Repairs owed by gone nodes are let go."""
        nodes = {conn.split(".", 1)[0] for conn in self.homes} | self.repairs.nodes()
        nodes.discard(self.node_id)
        if not nodes:
            self._missing.clear()
            return
        alive = await self.bus.alive(nodes)
        now = asyncio.get_running_loop().time()
        self._missing = {n: self._missing.get(n, now) for n in nodes - alive}
        gone = {n for n, since in self._missing.items() if now - since >= self.ttl}
        for conn, seat in list(self.homes.items()):
            if conn.split(".", 1)[0] in gone and self.homes.get(conn) is seat:
                log.warning("member's node gone visit=%s conn=%s", seat.visit_id, conn)
                await self._leave_here(seat, conn)
        await self.repairs.again(nodes - gone)


def _connections(room: Any) -> list[str]:
    """The connection ids seated in a room (members and pending claims)."""
    return [m.conn for m in (*room.members.values(), *room.claims.values()) if m.conn]


def _visit_of(seat: Seat | None) -> str | None:
    return seat.visit_id if seat is not None else None
