"""What live rooms tell the database, and what visit changes tell live rooms.

`RoomStore` is the rooms' hooks: admissions (with the device), denials, removals,
endings and demos shown are stored through the visit service before the room changes.
`RoomsFollowVisits` carries cancellations and revoked links made anywhere (admin page,
API, a deactivated account) to the router.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator

from server.library.model import Library
from server.storage import DatabaseBusy
from server.visits import VisitService
from signaling.echo import EchoPool
from signaling.protocol import ProtocolError
from signaling.router import Router

log = logging.getLogger(__name__)


class RoomStore:
    """Room hooks that write to the database through the visit service."""

    def __init__(self, visits: VisitService, library: Library) -> None:
        self.visits = visits
        self.library = library

    async def demo_shown(self, visit_id: str, participant_id: str, exercise: str) -> bool:
        if exercise not in self.library.exercises:
            return False
        with _busy_as_protocol_error():
            await self.visits.record(visit_id, f"participant:{participant_id}", "demo.shown",
                                     {"exercise": exercise})
        return True

    async def admitted(self, visit_id: str, participant_id: str, device: str | None) -> None:
        with _busy_as_protocol_error():
            await self.visits.record_admission(visit_id, participant_id, admitted=True,
                                               device=device)

    async def removed(self, visit_id: str, participant_id: str, revoke: bool) -> None:
        with _busy_as_protocol_error():
            if not revoke:
                await self.visits.unadmit(visit_id, participant_id, actor="therapist")
                return
            visit = await self.visits.get(visit_id)
            if visit is not None:
                # Re-issuing ejects her through the rooms like any revoked link.
                await self.visits.revoke(visit, participant_id, actor="therapist")

    async def denied(self, visit_id: str, participant_id: str) -> None:
        with _busy_as_protocol_error():
            await self.visits.record_admission(visit_id, participant_id, admitted=False)

    async def ended(self, visit_id: str, reason: str) -> None:
        if reason == "cancelled":
            return
        try:
            await self.visits.mark_ended(visit_id, reason)
        except DatabaseBusy:
            # The call still ends for everyone; the stored visit keeps its status, and its
            # links stop at the end of their window as every link does.
            log.warning("visit end not stored (database busy) visit=%s", visit_id)


@contextmanager
def _busy_as_protocol_error() -> Iterator[None]:
    """A locked database answers the sender with `error` code `busy`; nothing changes."""
    try:
        yield
    except DatabaseBusy:
        raise ProtocolError("busy", "The server is busy for a moment; try again.") from None


class RoomsFollowVisits:
    """Visit changes made anywhere (admin page, API) reach the live rooms, and end the
    connection checks this process runs for them (a check another process runs ends at
    its time limit)."""

    def __init__(self, router: Router, echo: EchoPool) -> None:
        self.router = router
        self.echo = echo

    async def visit_closed(self, visit_id: str, reason: str) -> None:
        await self.echo.end(visit_id)
        await self.router.end_visit(visit_id, reason)

    async def link_revoked(self, visit_id: str, participant_id: str) -> None:
        await self.echo.end(visit_id, participant_id)
        await self.router.eject(visit_id, participant_id, "link_revoked")
