"""What live rooms tell the database, and what visit changes tell live rooms.

`RoomStore` is the rooms' hooks: admissions (with the device), denials, removals,
endings and demos shown are stored through the visit service before the room changes, and
chat messages too when the server keeps chat (`Config.chat_store`).
`RoomsFollowVisits` carries cancellations and revoked links made anywhere (admin page,
API, a deactivated account) and a therapist's sign-out on one browser to the router.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from typing import Iterator

from server.library.model import Library
from server.storage import DatabaseBusy
from server.storage import audit_events as audit
from server.storage import chat as chat_store
from server.storage.chat import HISTORY_ROWS, add_chat_message, chat_of_visit
from server.storage.visits import late_note_of, set_late_note
from server.visits.service import VisitService, acted_by
from signaling.echo import EchoPool
from signaling.chat import ChatEntry
from signaling.rate import BucketTable
from signaling.protocol import ProtocolError
from signaling.router import Router
from signaling.seat import Acting, RunningLate, Seat

log = logging.getLogger(__name__)

DEMO_RATE = 1.0
"""Demos a participant may show a second, sustained (a therapist clicks through a few)."""
DEMO_BURST = 5.0
"""Demos she may show at once before the rate applies."""
_DEMO_BUCKETS_MAX = 10_000


class RoomStore:
    """Room hooks that write to the database through the visit service."""

    def __init__(self, visits: VisitService, library: Library) -> None:
        self.visits = visits
        self.library = library
        self._demo_buckets = BucketTable(DEMO_RATE, DEMO_BURST, _DEMO_BUCKETS_MAX)

    def _demo_allowed(self, visit_id: str, participant_id: str) -> bool:
        return self._demo_buckets.take((visit_id, participant_id), time.monotonic())

    async def demo_shown(self, visit_id: str, participant_id: str, exercise: str) -> bool:
        if exercise not in self.library.exercises:
            return False
        if not self._demo_allowed(visit_id, participant_id):
            # Not shown and not audited: a flood of demos must not fill the log (nor the
            # patient's screen); repeats that pass are collapsed into one row a minute.
            raise ProtocolError("rate_limited", "Too many demos at once; wait a moment.")
        with _busy_as_protocol_error():
            await self.visits.record(visit_id, audit.by_participant(participant_id),
                                     audit.DemoShown(exercise=exercise))
        return True

    async def link_current(self, seat: Seat) -> bool:
        with _busy_as_protocol_error():
            return await self.visits.link_current(seat.participant_id, seat.link_id,
                                                  seat.session)

    async def admitted(self, visit_id: str, participant_id: str, device: str | None,
                       by: Acting | None = None) -> None:
        with _busy_as_protocol_error():
            await self.visits.record_admission(visit_id, participant_id, admitted=True,
                                               device=device, by=by)

    async def removed(self, visit_id: str, participant_id: str, revoke: bool,
                      by: Acting | None = None) -> None:
        with _busy_as_protocol_error():
            if not revoke:
                await self.visits.unadmit(visit_id, participant_id, by=by)
                return
            visit = await self.visits.get(visit_id)
            if visit is not None:
                # Re-issuing ejects her through the rooms like any revoked link.
                actor, device = acted_by(by)
                await self.visits.revoke(visit, participant_id, actor=actor,
                                         actor_device=device.get("actor_device"))

    async def denied(self, visit_id: str, participant_id: str,
                     by: Acting | None = None) -> None:
        with _busy_as_protocol_error():
            await self.visits.record_admission(visit_id, participant_id, admitted=False, by=by)

    async def device_turned_away(self, visit_id: str, participant_id: str, link_id: str,
                                 device: str | None, by: Acting | None = None) -> None:
        with _busy_as_protocol_error():
            await self.visits.turn_device_away(visit_id, participant_id, link_id, device, by)

    async def host_moved(self, visit_id: str, participant_id: str, old_device: str | None,
                         new_device: str | None, was_connected: bool) -> None:
        try:
            await self.visits.record(visit_id, audit.by_participant(participant_id),
                                     audit.HostReplaced(participant=participant_id,
                                                        device=new_device,
                                                        previous_device=old_device,
                                                        was_connected=was_connected))

        except DatabaseBusy:
            # Both browsers are still told; the log line keeps the ids.
            log.warning("host move not audited (database busy) visit=%s participant=%s "
                        "device=%s previous=%s", visit_id, participant_id, new_device, old_device)

    async def chat_kept(self, visit_id: str, entry: ChatEntry) -> None:
        if not self.visits.config.chat_store:
            return
        with _busy_as_protocol_error():
            kept = await add_chat_message(self.visits.db, visit_id, entry)
        if not kept:
            raise ProtocolError("chat_full", "This visit's chat holds all the messages it can "
                                f"keep ({chat_store.KEPT_PER_VISIT}).")

    async def chat_history(self, visit_id: str) -> list[ChatEntry]:
        if not self.visits.config.chat_store:
            return []
        try:
            return await chat_of_visit(self.visits.db, visit_id, latest=HISTORY_ROWS)
        except DatabaseBusy:
            log.warning("stored chat not read (database busy) visit=%s", visit_id)
            return []

    async def late_note_set(self, visit_id: str, note: RunningLate | None) -> None:
        with _busy_as_protocol_error():
            await set_late_note(self.visits.db, visit_id, note)

    async def late_note(self, visit_id: str) -> RunningLate | None:
        with _busy_as_protocol_error():
            return await late_note_of(self.visits.db, visit_id)

    async def ended(self, visit_id: str, reason: str, by: Acting | None = None) -> None:
        if reason == "cancelled":
            return
        try:
            await self.visits.mark_ended(visit_id, reason, by)
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

    async def host_signed_out(self, visit_id: str, participant_id: str, session: str) -> None:
        # Her link no longer opens the visit through that session: the call page knows this
        # reason and close code (4004, final). A connection check there ends at its limit.
        await self.router.eject(visit_id, participant_id, "link_revoked", on_session=session)
