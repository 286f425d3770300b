"""A staff member's sign-out on one browser, as the visits it closes need it."""

from __future__ import annotations

from dataclasses import dataclass, field

from server.storage import audit_events as audit
from server.storage.events import record_event
from server.storage.interface import Connection


@dataclass(frozen=True)
class SignOut:
    """A staff member's sign-out on one browser, read before her session ends
    (`VisitService.staff_signing_out`)."""

    user_id: int
    device: str | None
    """Her browser's device id, for the audit (None without a device cookie)."""
    session: str = field(repr=False)
    """The ending session's stored id (`staff_sessions.id_hash`): the seats it opened close."""
    seats: tuple[tuple[str, str], ...]
    """(visit id, participant id) of her therapist seat in each visit whose link opens now."""
    now: int

    async def record(self, conn: Connection) -> None:
        """Audit it, inside the transaction that ends the session (both or neither)."""
        await record_event(conn, audit.SignedOut(device=self.device, visits=len(self.seats)),
                           actor=audit.by_user(self.user_id), now=self.now)
