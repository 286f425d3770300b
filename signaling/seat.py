"""Who a connection speaks for (`Seat`), and what a room tells its owner (`RoomHooks`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


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
    denied: bool = False
    """Turned away earlier (kept by the server until her link is re-issued)."""
    visit_ended: bool = False


class RoomHooks(Protocol):
    """What the room tells its owner (the server stores admissions and endings)."""

    async def admitted(self, visit_id: str, participant_id: str, device: str | None) -> None: ...

    async def denied(self, visit_id: str, participant_id: str) -> None: ...

    async def removed(self, visit_id: str, participant_id: str, revoke: bool) -> None: ...

    async def ended(self, visit_id: str, reason: str) -> None: ...

    async def demo_shown(self, visit_id: str, participant_id: str, exercise: str) -> bool: ...


class NoHooks:
    """Hooks that do nothing (a room on its own, in tests or tools)."""

    async def admitted(self, visit_id: str, participant_id: str, device: str | None) -> None:
        return None

    async def denied(self, visit_id: str, participant_id: str) -> None:
        return None

    async def removed(self, visit_id: str, participant_id: str, revoke: bool) -> None:
        return None

    async def ended(self, visit_id: str, reason: str) -> None:
        return None

    async def demo_shown(self, visit_id: str, participant_id: str, exercise: str) -> bool:
        return True
