"""All live rooms of this process, by visit id, their end-of-window timers, the chat of rooms
that went without ending (kept until the visit's window closes, so a reload brings it back),
and, for a moment, since when their waiting participants waited."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from signaling.bus import Bus
from signaling.chat import ChatLog
from signaling.protocol import Inbound, ProtocolError
from signaling.room import WAITS_KEPT_SECONDS, Room
from signaling.seat import RoomHooks, Seat


class RoomRegistry:
    """Creates rooms on first join, drops them when nobody is left, ends them on time."""

    def __init__(self, bus: Bus, hooks: RoomHooks | None = None) -> None:
        self.bus = bus
        self.hooks = hooks
        self.rooms: dict[str, Room] = {}
        self.chats: dict[str, ChatLog] = {}
        """The chat of visits whose room went without ending (it emptied, was repaired or
        handed over), until the visit's next room here takes it or its window closes."""
        self.waits: dict[str, tuple[float, dict[str, tuple[float, float | None]]]] = {}
        """Of visits whose room emptied within WAITS_KEPT_SECONDS: when that was, and when
        each participant waiting there began to wait (a reload, a phone waking, keeps her
        place in time on the dashboard)."""
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def room(self, visit_id: str) -> Room | None:
        """The live room of a visit, if any."""
        return self.rooms.get(visit_id)

    async def join(self, seat: Seat, conn: str, welcome_extra: dict[str, Any]) -> Room:
        """Seat a new connection in its visit's room."""
        room = self.rooms.get(seat.visit_id)
        if room is None:
            room = Room(seat.visit_id, seat.capacity, seat.expires_at, self.bus, self.hooks,
                        self.chats.pop(seat.visit_id, None), self.waits.pop(seat.visit_id, None))
            self.rooms[seat.visit_id] = room
            self._schedule_expiry(room)
        await room.join(seat, conn, welcome_extra)
        return room

    async def leave(self, seat: Seat, conn: str) -> None:
        """A connection closed; forget the room once nobody is connected."""
        room = self.rooms.get(seat.visit_id)
        if room is None:
            return
        await room.leave(seat.participant_id, conn)
        self._drop_if_empty(room)

    async def handle(self, seat: Seat, conn: str, message: Inbound) -> None:
        """Pass a validated message to the sender's room."""
        room = self._room_of(seat)
        await room.handle(seat.participant_id, conn, message)
        if room.ended:
            self.drop(room)

    def route(self, seat: Seat, conn: str, message: Inbound) -> tuple[str, str]:
        """The channel and text of a relayed message (see `Room.route`)."""
        return self._room_of(seat).route(seat.participant_id, conn, message)

    def _room_of(self, seat: Seat) -> Room:
        room = self.rooms.get(seat.visit_id)
        if room is None:
            raise ProtocolError("not_in_room", "This connection is not in the room.")
        return room

    async def end_visit(self, visit_id: str, reason: str) -> None:
        """End a visit's room (cancelled, ended, or its window closed)."""
        room = self.rooms.get(visit_id)
        self.chats.pop(visit_id, None)
        self.waits.pop(visit_id, None)
        if room is not None:
            await room.end(reason)
            self.drop(room)

    async def eject(self, visit_id: str, participant_id: str, reason: str,
                    on_session: str | None = None) -> None:
        """Close one participant's connection (her link was revoked; with `on_session`,
        only the seat that staff session opened: `Room.eject`)."""
        room = self.rooms.get(visit_id)
        if room is not None:
            await room.eject(participant_id, reason, on_session)
            self._drop_if_empty(room)

    def _schedule_expiry(self, room: Room) -> None:
        loop = asyncio.get_running_loop()
        delay = max(0.0, room.expires_at - time.time())

        def fire() -> None:
            task = loop.create_task(self.end_visit(room.visit_id, "window_closed"))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        self._timers[room.visit_id] = loop.call_later(delay, fire)

    def _drop_if_empty(self, room: Room) -> None:
        if room.empty and not room.ended:
            self.drop(room)

    def _keep_for_next_room(self, room: Room) -> None:
        """Keep the chat of a room that went without ending (it emptied, was repaired or
        handed over) for the visit's next room here, until its window closes (that room
        still asks the store, whose copy, when the server keeps chat, is the fresher), and
        for a moment when its waiting participants began to wait."""
        now = time.time()
        for visit_id in [v for v, log in self.chats.items() if log.expires_at < now]:
            del self.chats[visit_id]
        if room.chat.threads and room.expires_at >= now:
            room.chat.loaded = False
            self.chats[room.visit_id] = room.chat
        for visit_id in [v for v, (at, _) in self.waits.items() if now - at >= WAITS_KEPT_SECONDS]:
            del self.waits[visit_id]
        waited = room.waits()
        if waited:
            self.waits[room.visit_id] = (now, waited)

    def drop(self, room: Room) -> None:
        """Forget a room (it emptied, or another process takes it over from here)."""
        if self.rooms.get(room.visit_id) is room:
            del self.rooms[room.visit_id]
            timer = self._timers.pop(room.visit_id, None)
            if timer is not None:
                timer.cancel()
            if not room.ended:
                self._keep_for_next_room(room)

    async def close(self) -> None:
        """Cancel timers and pending end tasks (server shutdown)."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for task in list(self._tasks):
            task.cancel()
