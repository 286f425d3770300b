"""Visits as the clinic sees them: create, cancel, re-issue and revoke links, admissions.

The CLI, the admin pages and the REST API all go through `VisitService`, so a visit made
anywhere is checked the same way and leaves the same audit trail.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol

from server.auth.scopes import VISIT
from server.auth.secrets_util import new_id
from server.auth.tokens import KeyRing, sign_link
from server.runtime.config import Config
from server.http.schemas import KIND_MINUTES, MAX_MINUTES, MAX_NAME_LENGTH, MIN_CAPACITY  # noqa: F401 (re-exported)
from server.storage import Database
from server.storage import visits as visit_store
from server.storage.assignments import programs_of_visits
from server.storage.device_denials import deny_device, device_denied
from server.storage import audit_events as audit
from server.storage.events import record_event
from server.storage.links import (
    Link,
    insert_link,
    live_seat_link,
    revoke_subject_links,
    revoke_visit_links,
)
from server.care.visit_patient import patient_and_plan
from server.storage.users import user_by_email, user_by_id
from server.storage.visits import Participant, Visit
from server.visits.visit_input import (
    DEFAULT_THERAPIST_NAME,
    VisitInputError,
    VisitRequest,
)
from server.visits.sign_out import SignOut
from server.visits.visit_json import visit_json
from signaling.ids import NAMED_ROLES, VISIT_ID
from signaling.seat import Acting

MAX_PARTICIPANTS = 6

LINKED_VISITS_A_TURN = 50
"""Visits described with their links between two turns of the event loop. A link's
signature (Ed25519) costs about 35 µs: a page of 500 visits signed 1,000 in one go and
held the loop for about 40 ms (bench/loop_stall.py); 50 visits hold it about 4 ms."""


def acted_by(by: Acting | None) -> tuple[str, dict[str, Any]]:
    """The audit actor of something done in a room, and the detail naming her device: the
    acting participant, or "therapist" when the room did not say who (a tool, a test)."""
    if by is None:
        return "therapist", {}
    return audit.by_participant(by.participant_id), {"actor_device": by.device}


class VisitStateError(Exception):
    """The visit is in a state that does not allow the action (HTTP 409)."""


class VisitListener(Protocol):
    """Told about changes that live connections must follow (the signaling rooms)."""

    async def visit_closed(self, visit_id: str, reason: str) -> None: ...

    async def link_revoked(self, visit_id: str, participant_id: str) -> None: ...

    async def host_signed_out(self, visit_id: str, participant_id: str, session: str) -> None:
        """The therapist's staff session `session` (its stored id) ended: the seat's sockets
        opened with it close; those her other sessions (browsers) opened keep theirs."""
        ...


SETTINGS_SLACK_MINUTES = 24 * 60
"""How far a visit's early-join or grace window booked under other settings is looked for."""


def visit_link(participant: Participant) -> Link:
    """The `links` row of a participant's current link."""
    return Link(participant.jti, VISIT.name, participant.id, participant.visit_id,
                participant.kid, participant.issued_at, participant.expires_at)


def is_visit_id(value: str) -> bool:
    """Whether a string has the shape of a visit id (checked before any lookup)."""
    return bool(VISIT_ID.fullmatch(value))


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
        patient, plan = await patient_and_plan(self.db, request)
        therapist_id = None
        therapist_name = request.therapist_name or DEFAULT_THERAPIST_NAME
        if request.therapist_email:
            user = await user_by_email(self.db, request.therapist_email)
            if user is None or not user.active:
                raise VisitInputError("therapist_email", "no active therapist has this email")
            therapist_id, therapist_name = user.id, user.name
        elif not request.therapist_name and plan is not None and plan.therapist_id is not None:
            # A visit of a plan is the plan's therapist's unless the request names another.
            user = await user_by_id(self.db, plan.therapist_id)
            if user is not None and user.active:
                therapist_id, therapist_name = user.id, user.name
        patient_name = request.patient_name or (patient.name if patient is not None else "")
        starts_at = now if request.starts_at is None else request.starts_at
        ends_at = starts_at + request.minutes * 60
        not_before, expires_at = self._window(starts_at, ends_at)
        if expires_at <= now:
            raise VisitInputError("starts_at", "the visit would be over before it is created")
        key = await self.ring.newest()
        visit_id = new_id("v_", 12)
        people = tuple(
            Participant(new_id("p_", 12), visit_id, role, name, new_id("j_", 12), key.kid, now,
                        not_before, expires_at, language=language)
            for role, name, language in (("patient", patient_name, request.language),
                                         ("therapist", therapist_name, None))
        )
        visit = Visit(visit_id, request.kind, starts_at, ends_at, "scheduled", request.capacity,
                      therapist_id, now, people, patient.id if patient is not None else None,
                      plan.id if plan is not None else None)
        async with self.db.transaction() as conn:
            await visit_store.insert_visit(conn, visit)
            for participant in people:
                await insert_link(conn, visit_link(participant))
            await record_event(conn, audit.VisitCreated(kind=request.kind), actor=actor,
                               now=now, visit_id=visit_id)
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
                await visit_store.clear_admission(conn, p.id)  # no rebuilt room seats her
            # Every link the visit has now, not those `visit` was read with: a re-issue or a
            # guest committed since then is stopped too.
            await revoke_visit_links(conn, visit.id, now)
            await record_event(conn, audit.VisitCancelled(), actor=actor, now=now,
                               visit_id=visit.id)
        for listener in self.listeners:
            await listener.visit_closed(visit.id, "cancelled")
        return await self._reload(visit.id)

    def seat(self, visit: Visit, who: str) -> Participant:
        """The participant `who` names: 'patient', 'therapist', or a participant's id (guests)."""
        participant = (visit.participant(who) if who in NAMED_ROLES
                       else next((p for p in visit.participants if p.id == who), None))
        if participant is None:
            raise VisitInputError("participant", "must be patient, therapist or a participant id")
        return participant

    async def reissue(self, visit: Visit, who: str, *, actor: str,
                      now: int | None = None) -> Visit:
        """Give one participant a new link; the old one stops working at once.

        Allowed while the visit is scheduled and after it ended (the link then reopens the
        home program); her admission and any denial are forgotten, so a new link's holder
        waits to be let in.
        """
        now = int(time.time()) if now is None else now
        participant = self._changeable_seat(visit, who)
        key = await self.ring.newest()
        renewed = Link(new_id("j_", 12), VISIT.name, participant.id, visit.id, key.kid, now,
                       participant.expires_at)
        async with self.db.transaction() as conn:
            await visit_store.replace_link(conn, participant.id, jti=renewed.jti,
                                           kid=renewed.kid, issued_at=now)
            # Her live links, not the jti `visit` was read with: a re-issue committed since
            # then (a double submit, a retry, another worker) made one that read cannot see.
            # Write transactions take turns (the write lock, both engines), so this sees it.
            await revoke_subject_links(conn, VISIT.name, participant.id, now)
            await insert_link(conn, renewed)
            await record_event(conn, audit.LinkReissued(participant=participant.id),
                               actor=actor, now=now, visit_id=visit.id)
        await self._link_revoked(visit.id, participant.id)
        return await self._reload(visit.id)

    async def revoke(self, visit: Visit, who: str, *, actor: str, now: int | None = None,
                     actor_device: str | None = None) -> Visit:
        """Stop one participant's link without a new one (re-issue later gives her one).

        Her admission goes with it, in the same transaction: a room rebuilt from the
        database before the ejection reaches her does not seat her as admitted."""
        now = int(time.time()) if now is None else now
        participant = self._changeable_seat(visit, who)
        async with self.db.transaction() as conn:
            await visit_store.clear_admission(conn, participant.id)
            await revoke_subject_links(conn, VISIT.name, participant.id, now)  # as in reissue
            event = audit.LinkRevoked(participant=participant.id) if actor_device is None \
                else audit.LinkRevoked(participant=participant.id, actor_device=actor_device)
            await record_event(conn, event, actor=actor, now=now, visit_id=visit.id)
        await self._link_revoked(visit.id, participant.id)
        return await self._reload(visit.id)

    async def unadmit(self, visit_id: str, participant_id: str, *,
                      by: Acting | None = None) -> None:
        """The therapist moved an admitted participant out of the call: she waits again."""
        now = int(time.time())
        actor, device = acted_by(by)
        async with self.db.transaction() as conn:
            await visit_store.clear_admission(conn, participant_id)
            await record_event(conn, audit.ParticipantRemoved(participant=participant_id,
                                                              **device),
                               actor=actor, now=now, visit_id=visit_id)

    async def link_current(self, participant_id: str, link_id: str, session: str = "") -> bool:
        """Whether a seat's link (`link_id`, its jti) still opens the visit: the
        participant's current link, not revoked; for the therapist of a visit booked with a
        staff account, also through `session` (the stored id of the staff session her socket
        opened with), still live and hers, her account active. Asked before anyone is
        seated in a room, on every path (a socket opening, a room rebuilt on another
        process, a resync, a repair)."""
        return bool(link_id) and await live_seat_link(self.db, VISIT.name, participant_id,
                                                      link_id, session, int(time.time()))

    def _changeable_seat(self, visit: Visit, who: str) -> Participant:
        if visit.status == "cancelled":
            raise VisitStateError("the visit is cancelled")
        return self.seat(visit, who)

    async def _link_revoked(self, visit_id: str, participant_id: str) -> None:
        for listener in self.listeners:
            await listener.link_revoked(visit_id, participant_id)

    async def therapist_active(self, visit: Visit) -> bool:
        """Whether the therapist account the visit is booked with (if any) is still active."""
        if visit.therapist_id is None:
            return True
        return await visit_store.account_active(self.db, visit.therapist_id)

    async def therapist_deactivated(self, user_id: int) -> None:
        """A therapist's account was deactivated: her live sockets close at once."""
        for visit_id, participant_id in await visit_store.therapist_seats(self.db, user_id):
            await self._link_revoked(visit_id, participant_id)

    async def staff_signing_out(self, user_id: int, device: str | None, session: str, *,
                                now: int | None = None) -> SignOut:
        """What a staff member's sign-out on one browser needs, read before her session
        `session` (its stored id) ends: her therapist seats in the visits booked with her
        whose link opens now (a socket opens only then). The caller ends the session with
        `SignOut.record` in one transaction, then asks `staff_signed_out`."""
        now = int(time.time()) if now is None else now
        # A minute either side: another process's clock, a room about to expire. The start
        # bounds only keep the index walk short; they take at least a day either side, as
        # a visit's window was fixed with the settings of its booking, which may have been
        # larger than today's (`not_before`/`expires_at` filter exactly).
        since, until = now - 60, now + 60
        starts = (since - (max(self.config.grace_minutes, SETTINGS_SLACK_MINUTES)
                           + MAX_MINUTES) * 60,
                  until + max(self.config.early_join_minutes, SETTINGS_SLACK_MINUTES) * 60)
        seats = await visit_store.therapist_seats(self.db, user_id, (since, until), starts)
        return SignOut(user_id, device, session, tuple(seats), now)

    async def staff_signed_out(self, sign_out: SignOut) -> None:
        """Her session ended (committed): the host sockets it opened close at once; those
        of her other sessions (browsers) stay. Nothing here touches the database: a seat
        set up again later is turned away by `link_current`."""
        for visit_id, participant_id in sign_out.seats:
            for listener in self.listeners:
                await listener.host_signed_out(visit_id, participant_id, sign_out.session)

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
            await insert_link(conn, visit_link(guest))
            await record_event(conn, audit.ParticipantAdded(participant=guest.id, role="guest"),
                               actor=actor, now=now, visit_id=visit.id)
        return await self._reload(visit.id)

    async def record_admission(self, visit_id: str, participant_id: str, *, admitted: bool,
                               device: str | None = None, by: Acting | None = None) -> None:
        """Store that the therapist (`by`) admitted (on `device`) or turned away a participant."""
        now = int(time.time())
        actor, acting_device = acted_by(by)
        async with self.db.transaction() as conn:
            if admitted:
                await visit_store.mark_admitted(conn, participant_id, now, device)
            else:
                await visit_store.mark_denied(conn, participant_id, now)
            kind = audit.ParticipantAdmitted if admitted else audit.ParticipantDenied
            await record_event(conn, kind(participant=participant_id, **acting_device),
                               actor=actor, now=now, visit_id=visit_id)

    async def turn_device_away(self, visit_id: str, participant_id: str, link_id: str,
                               device: str | None, by: Acting | None = None) -> None:
        """Store that the therapist (`by`) turned away one device on a participant's link
        (her admission stays on the device that holds it): that device is refused from now
        on until the link is re-issued."""
        now = int(time.time())
        actor, acting_device = acted_by(by)
        async with self.db.transaction() as conn:
            if device and link_id:
                await deny_device(conn, jti=link_id, visit_id=visit_id, device=device, now=now)
            await record_event(conn, audit.ParticipantDeviceDenied(
                participant=participant_id, device=device, **acting_device),
                actor=actor, now=now, visit_id=visit_id)

    async def device_denied(self, link_id: str, device: str | None) -> bool:
        """Whether this device was turned away on this link (`turn_device_away`)."""
        return await device_denied(self.db, link_id, device)

    async def record(self, visit_id: str, actor: str, event: audit.AuditEvent) -> None:
        """Write one audit event about a visit."""
        async with self.db.transaction() as conn:
            await record_event(conn, event, actor=actor, now=int(time.time()),
                               visit_id=visit_id)

    async def mark_ended(self, visit_id: str, reason: str, by: Acting | None = None) -> None:
        """The call is over (the therapist, `by`, ended it or its window closed)."""
        now = int(time.time())
        actor, device = ("system", {}) if reason == "window_closed" else acted_by(by)
        async with self.db.transaction() as conn:
            await visit_store.end_visit(conn, visit_id)
            await record_event(conn, audit.VisitEnded(reason=reason, **device), actor=actor,
                               now=now, visit_id=visit_id)


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
        """The visit as JSON for the API and `run.py create-visit --json`, with its links.

        `fresh` marks a visit created a moment ago, which has no assignments to look up
        unless it joined a plan of care (whose program it shows).
        """
        assignments = {visit.id: []} if fresh and visit.plan_id is None else \
            await programs_of_visits(self.db, [(visit.id, visit.plan_id)])
        return await self._described(visit, assignments[visit.id], links=True)

    async def describe_many(self, visits: list[Visit], *, links: bool) -> list[dict[str, Any]]:
        """Many visits as JSON: one query for all their assignments, and links signed only
        when asked (a list for a scheduling system rarely needs 500 of them)."""
        assignments = await programs_of_visits(self.db, [(v.id, v.plan_id) for v in visits])
        described = []
        for n, visit in enumerate(visits):
            if links and n and n % LINKED_VISITS_A_TURN == 0:
                await asyncio.sleep(0)  # the loop's other work runs between the chunks
            described.append(await self._described(visit, assignments[visit.id], links=links))
        return described

    async def _described(self, visit: Visit, assignments: list[Any], *,
                         links: bool) -> dict[str, Any]:
        urls = {p.id: await self.link(p) for p in visit.participants} if links else {}
        return visit_json(visit, assignments, urls)
