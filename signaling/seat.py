"""Who a connection speaks for (`Seat`), and what a room tells its owner (`RoomHooks`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from signaling.chat import ChatEntry


@dataclass(frozen=True)
class Seat:
    """Who a connection speaks for, as established by authentication."""

    visit_id: str
    participant_id: str
    role: str
    """'patient', 'therapist' or 'guest'."""
    name: str
    capacity: int
    expires_at: int
    """Unix time at which the visit's links stop working (end of the grace window)."""
    device: str | None = None
    """Which browser holds the connection (a hash of its device cookie)."""
    admitted: bool = False
    """Admitted earlier on this device (kept by the server across restarts)."""
    other_device: bool = False
    """Admitted earlier on another device: this one waits, marked as new."""
    admitted_on: str | None = None
    """With `other_device`: the device her admission holds on, which keeps it whichever of
    the two comes back first."""
    device_denied: bool = False
    """This device was turned away on this link while another held her admission."""
    denied: bool = False
    """Turned away earlier (kept by the server until her link is re-issued)."""
    visit_ended: bool = False
    link_id: str = ""
    """The id (jti) of the visit link the connection opened with: a re-issued link has
    another, so whatever is minted for the seat (TURN credentials) changes with it."""
    session: str = field(default="", repr=False)
    """The therapist of a visit booked with a staff account: the stored id of the staff
    session the connection opened with (never the cookie; never logged). The seat stands
    only while that session does (`RoomHooks.link_current`), and her sign-out there ejects
    the seats it opened (`Router.eject(on_session=...)`); empty for everyone else."""


@dataclass(frozen=True)
class RunningLate:
    """The therapist's "running late" note to her waiting participants."""

    minutes: int
    at: int
    """Unix time she set it (the page says when: an old note reads as old)."""

    def as_json(self) -> dict[str, int]:
        """The note as `presence` and the waiting page's question carry it."""
        return {"minutes": self.minutes, "at": self.at}


@dataclass(frozen=True)
class Acting:
    """Who did something in a room, for the audit log: a participant, on a device."""

    participant_id: str
    device: str | None
    """The hash of her device cookie (None for a tool without one)."""


class RoomHooks(Protocol):
    """What the room tells its owner (the server stores admissions and endings)."""

    async def admitted(self, visit_id: str, participant_id: str, device: str | None,
                       by: Acting | None = None) -> None: ...

    async def denied(self, visit_id: str, participant_id: str,
                     by: Acting | None = None) -> None: ...

    async def device_turned_away(self, visit_id: str, participant_id: str, link_id: str,
                                 device: str | None, by: Acting | None = None) -> None:
        """One device on her link was turned away (her admission stays on another): stored
        so that device is refused from now on. May raise `ProtocolError("busy")`."""
        ...

    async def removed(self, visit_id: str, participant_id: str, revoke: bool,
                      by: Acting | None = None) -> None: ...

    async def ended(self, visit_id: str, reason: str, by: Acting | None = None) -> None: ...

    async def demo_shown(self, visit_id: str, participant_id: str, exercise: str) -> bool: ...

    async def link_current(self, seat: Seat) -> bool:
        """Whether the seat's link (`Seat.link_id`) is still the participant's and not
        revoked, and a host's staff session (`Seat.session`) still live: asked before the
        room seats anyone, on every path (a socket opening, a room rebuilt on another
        process, a resync, a repair). May raise `ProtocolError("busy")`."""
        ...

    async def host_moved(self, visit_id: str, participant_id: str, old_device: str | None,
                         new_device: str | None, was_connected: bool) -> None: ...

    async def chat_kept(self, visit_id: str, entry: ChatEntry) -> None:
        """A chat message is about to be relayed: stored first when the server keeps chat
        (`VISITROOM_CHAT_STORE`). May raise `ProtocolError("busy")` (then it is not sent)."""
        ...

    async def chat_history(self, visit_id: str) -> list[ChatEntry]:
        """The visit's stored chat, oldest first (none when the server keeps no chat, or
        the database is busy): a room rebuilt in another process starts from it."""
        ...

    async def late_note_set(self, visit_id: str, note: RunningLate | None) -> None:
        """The therapist set (None: cleared) her running-late note: stored before anyone
        is told, so a room rebuilt in any process starts from it. May raise
        `ProtocolError("busy")` (then nothing changes)."""
        ...

    async def late_note(self, visit_id: str) -> RunningLate | None:
        """The visit's stored running-late note (None without one), read for the `presence`
        a room tells someone who joins. May raise `ProtocolError("busy")`: the note is then
        the one last read, or left out while the room has read none."""
        ...


class NoHooks:
    """Hooks that do nothing (a room on its own, in tests or tools)."""

    async def admitted(self, visit_id: str, participant_id: str, device: str | None,
                       by: Acting | None = None) -> None:
        return None

    async def denied(self, visit_id: str, participant_id: str,
                     by: Acting | None = None) -> None:
        return None

    async def device_turned_away(self, visit_id: str, participant_id: str, link_id: str,
                                 device: str | None, by: Acting | None = None) -> None:
        return None

    async def removed(self, visit_id: str, participant_id: str, revoke: bool,
                      by: Acting | None = None) -> None:
        return None

    async def ended(self, visit_id: str, reason: str, by: Acting | None = None) -> None:
        return None

    async def demo_shown(self, visit_id: str, participant_id: str, exercise: str) -> bool:
        return True

    async def link_current(self, seat: Seat) -> bool:
        return True

    async def host_moved(self, visit_id: str, participant_id: str, old_device: str | None,
                         new_device: str | None, was_connected: bool) -> None:
        return None

    async def chat_kept(self, visit_id: str, entry: ChatEntry) -> None:
        return None

    async def chat_history(self, visit_id: str) -> list[ChatEntry]:
        return []

    async def late_note_set(self, visit_id: str, note: RunningLate | None) -> None:
        return None

    async def late_note(self, visit_id: str) -> RunningLate | None:
        return None
