"""The router: the one thing the WebSocket endpoint and the server talk to about rooms.

After LiveKit's `pkg/routing`: the endpoint attaches sockets and hands over what they
send; the server ends visits, ejects participants and asks what is live. Where a room
lives is the router's business. `LocalRouter` keeps every room in this process;
`signaling.cluster.ClusterRouter` gives each room one owner among several processes and
forwards to it (over Redis, or in memory in the contract tests).
"""

from __future__ import annotations

import secrets
from typing import Any, Protocol, Sequence

from signaling.bus import Delivery
from signaling.live_detail import LiveDetail
from signaling.protocol import RELAYED, Inbound
from signaling.rooms import RoomRegistry
from signaling.seat import RoomHooks, Seat


class Sink(Protocol):
    """A socket's outbound side (`signaling.sink.SocketSink`); `deliver` never waits."""

    def deliver(self, delivery: Delivery) -> None: ...


LIVE_STATES = ("idle", "waiting", "in_call", "ended")
"""What a visit's room is doing, for the dashboard: nobody waiting or in a call yet,
someone waiting to be let in, a call in progress, the call ended."""


class Router(Protocol):
    """Rooms as the endpoint and the server see them."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def drain(self) -> None:
        """This process is stopping: hand its rooms to the processes that go on (the
        endpoint then closes its sockets with "reconnect now")."""

    @property
    def node_id(self) -> str | None:
        """The id this process answers under among several (None: the only one)."""

    def new_conn_id(self) -> str:
        """An id for a socket this process opens, unique across the processes of a group
        (the router may prefix it with its node's id, to route deliveries back)."""

    def attach(self, conn: str, sink: Sink) -> None:
        """A socket of this process opened (before it joins)."""

    def detach(self, conn: str) -> None:
        """A socket of this process closed (after it left)."""

    async def join(self, seat: Seat, conn: str, welcome_extra: dict[str, Any]) -> None:
        """Seat a connection in its visit's room; the answers come through its sink."""

    async def leave(self, seat: Seat, conn: str) -> None:
        """A connection closed."""

    async def inbound(self, seat: Seat, conn: str, message: Inbound) -> None:
        """A validated message from a connection (ProtocolError when refused here)."""

    def relay_target(self, seat: Seat, conn: str, message: Inbound) -> tuple[Sink, str] | None:
        """For a relayed message (offer, answer, candidate, restart) whose receiver's socket
        is in this process: her sink and the text to deliver, found without awaiting and
        without sending anything; None when only `inbound` can relay it. Raises the
        ProtocolError `inbound` would."""

    async def end_visit(self, visit_id: str, reason: str) -> None:
        """End a visit for everyone (cancelled, or its window closed elsewhere)."""

    async def eject(self, visit_id: str, participant_id: str, reason: str,
                    on_session: str | None = None) -> None:
        """Close one participant's connection (her link was revoked); with `on_session`,
        only her seat opened through that staff session (`Seat.session`): the session
        ended, and her other browsers (sessions) keep theirs."""

    async def live_states(self, visit_ids: Sequence[str]) -> dict[str, str]:
        """The live state (one of LIVE_STATES) of each visit with a room; others are absent."""

    async def live_details(self, visit_ids: Sequence[str]) -> dict[str, LiveDetail]:
        """Who waits and since when, and whether the therapist is in the call, of each
        visit with a room (`signaling.live_detail`); others are absent."""

    def counts(self) -> dict[str, int]:
        """Sockets held and rooms owned by this process (for /healthz)."""


class _SinkBus:
    """The bus rooms of this process publish on: deliveries go straight to the sink."""

    def __init__(self, sinks: dict[str, Sink], remote: "RemoteDelivery | None" = None) -> None:
        self.sinks = sinks
        self.remote = remote

    async def publish(self, channel: str, delivery: Delivery) -> None:
        sink = self.sinks.get(channel)
        if sink is not None:
            sink.deliver(delivery)
        elif self.remote is not None:
            await self.remote(channel, delivery)


class RemoteDelivery(Protocol):
    """Carries a delivery to a connection held by another process."""

    async def __call__(self, conn: str, delivery: Delivery) -> None: ...


class LocalRouter:
    """Every room in this process: one server, or the rooms a cluster node owns."""

    def __init__(self, hooks: RoomHooks | None = None,
                 remote: RemoteDelivery | None = None) -> None:
        self.sinks: dict[str, Sink] = {}
        self.bus = _SinkBus(self.sinks, remote)
        self.registry = RoomRegistry(self.bus, hooks)

    node_id: str | None = None

    def new_conn_id(self) -> str:
        """A random connection id (72 bits: never repeated in practice)."""
        return f"c_{secrets.token_urlsafe(9)}"

    async def start(self) -> None:
        return None

    async def drain(self) -> None:
        return None  # every room ends with this process; its sockets reconnect to the next

    async def close(self) -> None:
        await self.registry.close()

    def attach(self, conn: str, sink: Sink) -> None:
        self.sinks[conn] = sink

    def detach(self, conn: str) -> None:
        self.sinks.pop(conn, None)

    async def join(self, seat: Seat, conn: str, welcome_extra: dict[str, Any]) -> None:
        await self.registry.join(seat, conn, welcome_extra)

    async def leave(self, seat: Seat, conn: str) -> None:
        await self.registry.leave(seat, conn)

    def relay_target(self, seat: Seat, conn: str, message: Inbound) -> tuple[Sink, str] | None:
        channel, text = self.registry.route(seat, conn, message)
        sink = self.sinks.get(channel)
        return None if sink is None else (sink, text)

    async def inbound(self, seat: Seat, conn: str, message: Inbound) -> None:
        if message.type in RELAYED:
            # The hot path: resolve and write without awaiting anything but a remote hop.
            channel, text = self.registry.route(seat, conn, message)
            await self.bus.publish(channel, Delivery(text))
        else:
            await self.registry.handle(seat, conn, message)

    async def end_visit(self, visit_id: str, reason: str) -> None:
        await self.registry.end_visit(visit_id, reason)

    async def eject(self, visit_id: str, participant_id: str, reason: str,
                    on_session: str | None = None) -> None:
        await self.registry.eject(visit_id, participant_id, reason, on_session)

    async def live_states(self, visit_ids: Sequence[str]) -> dict[str, str]:
        states = {}
        for visit_id in visit_ids:
            state = self.live_state(visit_id)
            if state is not None:
                states[visit_id] = state
        return states

    async def live_details(self, visit_ids: Sequence[str]) -> dict[str, LiveDetail]:
        found = {v: self.live_detail(v) for v in visit_ids}
        return {v: detail for v, detail in found.items() if detail is not None}

    def counts(self) -> dict[str, int]:
        return {"sockets": len(self.sinks), "rooms": len(self.registry.rooms)}

    # -- what a cluster node asks of the rooms it owns (`signaling.cluster`) -------------

    def live_state(self, visit_id: str) -> str | None:
        """A visit's room's state as the dashboard shows it (one of LIVE_STATES); None
        without a room here."""
        room = self.registry.room(visit_id)
        if room is None:
            return None
        if room.state == "ended":
            return "ended"
        if room.waiting_count:
            return "waiting"
        return "in_call" if room.state == "in_call" else "idle"

    def live_detail(self, visit_id: str) -> LiveDetail | None:
        """A visit's room's detail (`signaling.live_detail`); None without a room here."""
        room = self.registry.room(visit_id)
        if room is None:
            return None
        return LiveDetail(room.waiting_tags(), room.waiting_since, room.host_in_call)

    def owns(self, visit_id: str) -> bool:
        """Whether a visit's room lives in this process."""
        return self.registry.room(visit_id) is not None

    def room_ids(self) -> list[str]:
        """The visits whose room lives in this process."""
        return list(self.registry.rooms)

    def drop_room(self, visit_id: str) -> set[str]:
        """Forget a visit's room without a word to anyone (another process seats its
        members again); the connection ids it had seated, or none without a room."""
        room = self.registry.room(visit_id)
        if room is None:
            return set()
        conns = room.connections()
        self.registry.drop(room)
        return conns

    def deliver_here(self, conn: str, delivery: Delivery) -> None:
        """Hand a delivery to a socket of this process (nothing if it closed meanwhile)."""
        sink = self.sinks.get(conn)
        if sink is not None:
            sink.deliver(delivery)

    async def publish(self, conn: str, delivery: Delivery) -> None:
        """Send a delivery to a connection, held here or (through `remote`) elsewhere."""
        await self.bus.publish(conn, delivery)
