"""Visits as the clinic sees them: validate a request, create, cancel, re-issue links.

The CLI, the admin pages and the REST API all go through `VisitService`, so a visit made
anywhere is checked the same way and leaves the same audit trail.
"""

from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping, Protocol

from server.auth.secrets_util import new_id
from server.auth.tokens import KeyRing, sign_link
from server.config import Config
from server.storage import Database
from server.storage import visits as visit_store
from server.storage.events import record_event
from server.storage.users import user_by_email
from server.storage.visits import Participant, Visit

KIND_MINUTES = {"intro": 10, "evaluation": 60, "follow-up": 45}
ROLES = ("patient", "therapist")
MAX_MINUTES = 240
MAX_NAME_LENGTH = 100
MIN_CAPACITY, MAX_CAPACITY = 2, 4
MAX_PARTICIPANTS = 6
DEFAULT_THERAPIST_NAME = "Your therapist"
VISIT_ID_PATTERN = r"v_[A-Za-z0-9_-]{16}"
_VISIT_ID = re.compile(VISIT_ID_PATTERN)


class VisitInputError(ValueError):
    """A field of a visit request is not acceptable."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class VisitStateError(Exception):
    """The visit is in a state that does not allow the action (HTTP 409)."""


class VisitListener(Protocol):
    """Told about changes that live connections must follow (the signaling rooms)."""

    async def visit_closed(self, visit_id: str, reason: str) -> None: ...

    async def link_revoked(self, visit_id: str, participant_id: str) -> None: ...


@dataclass(frozen=True)
class VisitRequest:
    """A validated request to create a visit."""

    patient_name: str
    therapist_name: str | None
    therapist_email: str | None
    starts_at: int | None
    """Unix time; None means now."""
    minutes: int
    kind: str
    capacity: int


def clean_name(value: Any, field: str, *, required: bool = True,
               max_length: int = MAX_NAME_LENGTH) -> str | None:
    """A display name (or short text): trimmed, at most `max_length` characters, no control characters."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise VisitInputError(field, "is required")
        return None
    if not isinstance(value, str):
        raise VisitInputError(field, "must be text")
    value = unicodedata.normalize("NFC", " ".join(value.split()))
    if len(value) > max_length:
        raise VisitInputError(field, f"must be at most {max_length} characters")
    if any(unicodedata.category(ch).startswith("C") for ch in value):
        raise VisitInputError(field, "must not contain control characters")
    return value


def parse_start(value: Any, config: Config) -> int | None:
    """An ISO 8601 date-time (clinic time zone when none is given) as unix time."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise VisitInputError("starts_at", "must be an ISO 8601 date and time, e.g. 2026-03-02T09:30")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise VisitInputError(
            "starts_at", "must be an ISO 8601 date and time, e.g. 2026-03-02T09:30"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=config.tz)
    if not 2000 <= parsed.year <= 2200:
        raise VisitInputError("starts_at", "must be between the years 2000 and 2200")
    return int(parsed.timestamp())


def _whole_number(value: Any, field: str) -> int:
    if isinstance(value, bool):
        raise VisitInputError(field, "must be a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,6}\s*", value):
        return int(value)
    raise VisitInputError(field, "must be a whole number")


def parse_visit_request(data: Mapping[str, Any], config: Config) -> VisitRequest:
    """Validate a create-visit request from any front (CLI, form, JSON)."""
    kind = data.get("kind") or "follow-up"
    if not isinstance(kind, str) or kind not in KIND_MINUTES:
        raise VisitInputError("kind", "must be one of intro, evaluation, follow-up")
    minutes_raw = data.get("minutes")
    minutes = KIND_MINUTES[kind] if minutes_raw in (None, "") else _whole_number(minutes_raw, "minutes")
    if not 1 <= minutes <= MAX_MINUTES:
        raise VisitInputError("minutes", f"must be between 1 and {MAX_MINUTES}")
    capacity_raw = data.get("capacity")
    capacity = MIN_CAPACITY if capacity_raw in (None, "") else _whole_number(capacity_raw, "capacity")
    if not MIN_CAPACITY <= capacity <= MAX_CAPACITY:
        raise VisitInputError("capacity", f"must be between {MIN_CAPACITY} and {MAX_CAPACITY}")
    email = data.get("therapist_email")
    if email in ("", None):
        email = None
    elif not isinstance(email, str) or len(email) > 254 or "@" not in email:
        raise VisitInputError("therapist_email", "must be an email address")
    therapist_name = clean_name(data.get("therapist_name"), "therapist_name", required=False)
    if email and therapist_name:
        raise VisitInputError("therapist_name", "give a therapist's name or her email, not both")
    return VisitRequest(
        patient_name=clean_name(data.get("patient_name"), "patient_name") or "",
        therapist_name=therapist_name,
        therapist_email=email.strip() if email else None,
        starts_at=parse_start(data.get("starts_at"), config),
        minutes=minutes,
        kind=kind,
        capacity=capacity,
    )


def is_visit_id(value: str) -> bool:
    """Whether a string has the shape of a visit id (checked before any lookup)."""
    return bool(_VISIT_ID.fullmatch(value))


def iso(ts: int) -> str:
    """Unix time as an ISO 8601 UTC string."""
    return datetime.fromtimestamp(ts, timezone.utc).isoformat().replace("+00:00", "Z")


class VisitService:
    """Create, read and change visits; mint their links."""

    def __init__(self, db: Database, ring: KeyRing, config: Config) -> None:
        self.db = db
        self.ring = ring
        self.config = config
        self.listeners: list[VisitListener] = []

    def _window(self, starts_at: int, ends_at: int) -> tuple[int, int]:
        return (starts_at - self.config.early_join_minutes * 60,
                ends_at + self.config.grace_minutes * 60)

    async def create(self, request: VisitRequest, *, actor: str, now: int | None = None) -> Visit:
        """Store a new visit with a patient and a therapist participant."""
        now = int(time.time()) if now is None else now
        therapist_id = None
        therapist_name = request.therapist_name or DEFAULT_THERAPIST_NAME
        if request.therapist_email:
            user = await user_by_email(self.db, request.therapist_email)
            if user is None or not user.active:
                raise VisitInputError("therapist_email", "no active therapist has this email")
            therapist_id, therapist_name = user.id, user.name
        starts_at = now if request.starts_at is None else request.starts_at
        ends_at = starts_at + request.minutes * 60
        not_before, expires_at = self._window(starts_at, ends_at)
        if expires_at <= now:
            raise VisitInputError("starts_at", "the visit would be over before it is created")
        key = await self.ring.newest()
        visit_id = new_id("v_", 12)
        people = tuple(
            Participant(new_id("p_", 12), visit_id, role, name, new_id("j_", 12), key.kid, now,
                        not_before, expires_at)
            for role, name in (("patient", request.patient_name), ("therapist", therapist_name))
        )
        visit = Visit(visit_id, request.kind, starts_at, ends_at, "scheduled", request.capacity,
                      therapist_id, now, people)
        async with self.db.transaction() as conn:
            await visit_store.insert_visit(conn, visit)
            await record_event(conn, actor=actor, action="visit.created", now=now,
                               visit_id=visit_id, detail={"kind": request.kind})
        return visit

    async def get(self, visit_id: str) -> Visit | None:
        """A visit by id (None for an unknown or malformed id)."""
        if not is_visit_id(visit_id):
            return None
        return await visit_store.get_visit(self.db, visit_id)

    async def cancel(self, visit: Visit, *, actor: str, now: int | None = None) -> Visit:
        """Cancel a scheduled visit and revoke every link of it."""
        now = int(time.time()) if now is None else now
        if visit.status != "scheduled":
            raise VisitStateError(f"the visit is {visit.status}")
        async with self.db.transaction() as conn:
            await visit_store.set_visit_status(conn, visit.id, "cancelled", now)
            for p in visit.participants:
                await visit_store.revoke(conn, jti=p.jti, visit_id=visit.id, now=now,
                                         expires_at=p.expires_at)
            await record_event(conn, actor=actor, action="visit.cancelled", now=now,
                               visit_id=visit.id)
        for listener in self.listeners:
            await listener.visit_closed(visit.id, "cancelled")
        return await self._reload(visit.id)

    async def reissue(self, visit: Visit, role: str, *, actor: str,
                      now: int | None = None) -> Visit:
        """Give one participant a new link; the old one stops working at once."""
        now = int(time.time()) if now is None else now
        if visit.status != "scheduled":
            raise VisitStateError(f"the visit is {visit.status}")
        participant = visit.participant(role) if role in ROLES else None
        if participant is None:
            raise VisitInputError("role", "must be patient or therapist")
        key = await self.ring.newest()
        async with self.db.transaction() as conn:
            await visit_store.revoke(conn, jti=participant.jti, visit_id=visit.id, now=now,
                                     expires_at=participant.expires_at)
            await visit_store.replace_link(conn, participant.id, jti=new_id("j_", 12),
                                           kid=key.kid, issued_at=now)
            await record_event(conn, actor=actor, action="link.reissued", now=now,
                               visit_id=visit.id, detail={"participant": participant.id})
        for listener in self.listeners:
            await listener.link_revoked(visit.id, participant.id)
        return await self._reload(visit.id)

    async def _reload(self, visit_id: str) -> Visit:
        updated = await visit_store.get_visit(self.db, visit_id)
        assert updated is not None
        return updated

    async def add_guest(self, visit: Visit, name: str, *, actor: str,
                        now: int | None = None) -> Visit:
        """Add a guest (interpreter, partner, student) with a link of her own."""
        now = int(time.time()) if now is None else now
        if visit.status != "scheduled":
            raise VisitStateError(f"the visit is {visit.status}")
        if len(visit.participants) >= MAX_PARTICIPANTS:
            raise VisitStateError(f"a visit has at most {MAX_PARTICIPANTS} participants")
        key = await self.ring.newest()
        therapist = visit.participant("therapist")
        assert therapist is not None
        guest = Participant(new_id("p_", 12), visit.id, "guest", name, new_id("j_", 12), key.kid,
                            now, therapist.not_before, therapist.expires_at)
        async with self.db.transaction() as conn:
            await visit_store.insert_participant(conn, guest)
            await record_event(conn, actor=actor, action="participant.added", now=now,
                               visit_id=visit.id, detail={"participant": guest.id, "role": "guest"})
        return await self._reload(visit.id)

    async def record_admission(self, visit_id: str, participant_id: str, *, admitted: bool) -> None:
        """Store that the therapist admitted (or turned away) a participant."""
        now = int(time.time())
        async with self.db.transaction() as conn:
            if admitted:
                await visit_store.mark_admitted(conn, participant_id, now)
            await record_event(conn, actor="therapist", now=now, visit_id=visit_id,
                               action="participant.admitted" if admitted else "participant.denied",
                               detail={"participant": participant_id})

    async def record(self, visit_id: str, actor: str, action: str, detail: dict[str, Any]) -> None:
        """Write one audit event about a visit."""
        async with self.db.transaction() as conn:
            await record_event(conn, actor=actor, action=action, now=int(time.time()),
                               visit_id=visit_id, detail=detail)

    async def mark_ended(self, visit_id: str, reason: str) -> None:
        """The call is over (the therapist ended it or its window closed)."""
        now = int(time.time())
        async with self.db.transaction() as conn:
            await visit_store.end_visit(conn, visit_id)
            await record_event(conn, actor="system" if reason == "window_closed" else "therapist",
                               action="visit.ended", now=now, visit_id=visit_id,
                               detail={"reason": reason})

    async def link(self, participant: Participant) -> str:
        """The participant's current link, minted again from its stored claims."""
        key = await self.ring.get(participant.kid)
        if key is None:
            raise RuntimeError(f"signing key {participant.kid} is missing")
        token = sign_link(key, issuer=self.config.issuer, participant_id=participant.id,
                          visit_id=participant.visit_id, role=participant.role,
                          jti=participant.jti, issued_at=participant.issued_at,
                          not_before=participant.not_before, expires_at=participant.expires_at)
        return f"{self.config.public_url}/join/{participant.visit_id}?token={token}"

    async def describe(self, visit: Visit, *, fresh: bool = False) -> dict[str, Any]:
        """The visit as JSON for the API and `run.py create-visit --json`.

        `fresh` marks a visit created a moment ago, which has no assignments to look up.
        """
        from server.storage.assignments import assignments_for

        links = {p.id: await self.link(p) for p in visit.participants}
        assignments = [] if fresh else await assignments_for(self.db, visit.id)
        patient, therapist = visit.participant("patient"), visit.participant("therapist")
        return {
            "visit_id": visit.id,
            "status": visit.status,
            "kind": visit.kind,
            "starts_at": iso(visit.starts_at),
            "ends_at": iso(visit.ends_at),
            "minutes": visit.minutes,
            "capacity": visit.capacity,
            "patient_url": links[patient.id] if patient else None,
            "therapist_url": links[therapist.id] if therapist else None,
            "participants": [
                {"id": p.id, "role": p.role, "name": p.display_name, "url": links[p.id]}
                for p in visit.participants
            ],
            "assignments": [a.as_json() for a in assignments],
        }
