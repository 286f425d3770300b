"""Patients and plans of care as the clinic sees them: create, read, a plan's link.

The admin pages, the REST API and the command line go through `CareService`, so a patient
or a plan made anywhere is checked the same way and leaves the same audit trail. A plan's
link (scope `plan`, `server/auth/scopes.py`) is recorded in `links` in the transaction that
stores the plan, like a visit's; it opens her home page from the plan's start until its
expected end plus `plan_grace_days`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from server.auth.scopes import PLAN, UNSUBSCRIBE
from server.auth.secrets_util import new_id
from server.auth.tokens import KeyRing, LinkProblem, LinkRefused, sign_token, verify_issued
from server.care.ids import is_patient_id, is_plan_id, new_patient_id, new_plan_id
from server.care.patient_input import PatientRequest, PlanRequest, day_start
from server.runtime.config import Config
from server.storage import Database
from server.storage import audit_events as audit
from server.storage.events import record_event
from server.storage.links import (
    Link,
    insert_link,
    insert_link_unless_live,
    live_subject_link,
    revoke_subject_links,
)
from server.storage.patients import (
    Patient,
    external_id_taken,
    get_patient,
    insert_patient,
    patient_by_external_id,
    update_patient,
)
from server.storage.plans import Plan, close_plan, get_plan, insert_plan
from server.storage.users import user_by_email
from server.visits.visit_input import VisitInputError

DAY = 24 * 3600
UNSUBSCRIBE_DAYS = 400
"""How long an unsubscribe link in an email works (a new one is made when it runs out)."""


class CareStateError(Exception):
    """The plan is in a state that does not allow the action (HTTP 409)."""


@dataclass(frozen=True)
class PlanClaims:
    """What a verified plan link says."""

    plan_id: str
    patient_id: str
    jti: str
    expires_at: int


class CareService:
    """Create and read patients and plans of care; mint and check plan links."""

    def __init__(self, db: Database, ring: KeyRing, config: Config) -> None:
        self.db = db
        self.ring = ring
        self.config = config

    async def create_patient(self, request: PatientRequest, *, actor: str,
                             now: int | None = None) -> Patient:
        """Store a new patient; an external id another patient has is refused."""
        now = int(time.time()) if now is None else now
        patient = Patient(new_patient_id(), request.name, request.birth_date, request.email,
                          request.email_consent, request.phone, request.phone_consent,
                          request.language, request.external_id, None, now)
        async with self.db.transaction() as conn:
            # Asked inside the write transaction (writers take turns), so two requests with
            # one external id cannot both pass; the UNIQUE column stays the last word.
            if request.external_id and await external_id_taken(conn, request.external_id):
                raise VisitInputError("external_id", "is already another patient's")
            await insert_patient(conn, patient)
            await record_event(conn, audit.PatientCreated(patient=patient.id), actor=actor,
                               now=now)
        return patient

    async def update_patient(self, patient: Patient, request: PatientRequest, *, actor: str,
                             now: int | None = None) -> Patient:
        """Change her record to `request` (the whole record, as created); audited with the
        names of the fields that changed, never their values. Withdrawing email consent or
        changing the address also stops what was queued for her and not yet sent."""
        now = int(time.time()) if now is None else now
        wanted = {"name": request.name, "birth_date": request.birth_date,
                  "email": request.email, "email_consent": request.email_consent,
                  "phone": request.phone, "phone_consent": request.phone_consent,
                  "language": request.language, "external_id": request.external_id}
        changes = {k: v for k, v in wanted.items() if getattr(patient, k) != v}
        if not changes:
            return patient
        async with self.db.transaction() as conn:
            if "external_id" in changes and request.external_id and await external_id_taken(
                    conn, request.external_id):
                raise VisitInputError("external_id", "is already another patient's")
            await update_patient(conn, patient.id, changes)
            if "email" in changes or not request.email_consent:
                await conn.execute(
                    "UPDATE outbox SET status = 'dead', last_error = 'RecipientChanged',"
                    " last_error_at = ? WHERE patient_id = ? AND status = 'queued'",
                    (now, patient.id))
            await record_event(conn, audit.PatientChanged(patient=patient.id,
                                                          fields=sorted(changes)),
                               actor=actor, now=now)
        updated = await get_patient(self.db, patient.id)
        assert updated is not None
        return updated

    async def patient(self, patient_id: str) -> Patient | None:
        """A patient by id (None for an unknown or malformed id)."""
        return await get_patient(self.db, patient_id) if is_patient_id(patient_id) else None

    async def patient_by_external_id(self, external_id: str) -> Patient | None:
        """A patient by the clinic's own id for her, or None."""
        return await patient_by_external_id(self.db, external_id) if external_id else None

    async def plan(self, plan_id: str) -> Plan | None:
        """A plan by id (None for an unknown or malformed id)."""
        return await get_plan(self.db, plan_id) if is_plan_id(plan_id) else None

    async def create_plan(self, patient: Patient, request: PlanRequest, *, actor: str,
                          now: int | None = None) -> Plan:
        """Start a plan of care for a patient, with her plan link."""
        now = int(time.time()) if now is None else now
        therapist_id = None
        if request.therapist_email:
            user = await user_by_email(self.db, request.therapist_email)
            if user is None or not user.active or user.role != "therapist":
                raise VisitInputError("therapist_email", "no active therapist has this email")
            therapist_id = user.id
        starts_at = request.starts_at if request.starts_at is not None else day_start(
            datetime.fromtimestamp(now, self.config.tz).date(), self.config.tz)
        plan = Plan(new_plan_id(), patient.id, request.condition, request.goals, starts_at,
                    request.weeks, therapist_id, "active", now)
        if self.link_expires(plan) <= now:
            raise VisitInputError("starts_on", "the plan would be over before it is made")
        link = await self._new_link(plan, now)
        async with self.db.transaction() as conn:
            await insert_plan(conn, plan)
            await insert_link(conn, link)
            await record_event(conn, audit.PlanCreated(plan=plan.id, patient=patient.id),
                               actor=actor, now=now)
        return plan

    def link_expires(self, plan: Plan) -> int:
        """When the plan's link stops: its expected end plus the grace period."""
        return plan.ends_at + self.config.plan_grace_days * DAY

    async def _new_link(self, plan: Plan, now: int) -> Link:
        key = await self.ring.newest()
        return Link(new_id("j_", 12), PLAN.name, plan.id, None, key.kid, now,
                    self.link_expires(plan))

    async def plan_link(self, plan: Plan) -> str | None:
        """The patient's plan link (minted again from its row); None when it is revoked."""
        link = await live_subject_link(self.db, PLAN.name, plan.id)
        if link is None:
            return None
        key = await self.ring.get(link.kid)
        if key is None:
            raise RuntimeError(f"signing key {link.kid} is missing")
        token = sign_token(key, PLAN, issuer=self.config.issuer, subject=plan.id, jti=link.jti,
                           issued_at=link.issued_at, not_before=link.issued_at,
                           expires_at=link.expires_at, pid=plan.patient_id, role="patient")
        return f"{self.config.public_url}/care/{plan.id}?token={token}"

    async def reissue_plan_link(self, plan: Plan, *, actor: str,
                                now: int | None = None) -> None:
        """Give the patient a new plan link; the one before stops at once."""
        now = int(time.time()) if now is None else now
        if plan.status != "active":
            raise CareStateError("the plan is closed")
        link = await self._new_link(plan, now)
        async with self.db.transaction() as conn:
            await revoke_subject_links(conn, PLAN.name, plan.id, now)
            await insert_link(conn, link)
            await record_event(conn, audit.PlanLinkReissued(plan=plan.id), actor=actor, now=now)

    async def revoke_plan_link(self, plan: Plan, *, actor: str, now: int | None = None) -> None:
        """Stop the patient's plan link without a new one."""
        now = int(time.time()) if now is None else now
        async with self.db.transaction() as conn:
            await revoke_subject_links(conn, PLAN.name, plan.id, now)
            await record_event(conn, audit.PlanLinkRevoked(plan=plan.id), actor=actor, now=now)

    async def close_plan(self, plan: Plan, *, actor: str, now: int | None = None) -> None:
        """Close a plan of care: its link stops; its record stays."""
        now = int(time.time()) if now is None else now
        async with self.db.transaction() as conn:
            if not await close_plan(conn, plan.id, now):
                raise CareStateError("the plan is closed already")
            await revoke_subject_links(conn, PLAN.name, plan.id, now)
            await record_event(conn, audit.PlanClosed(plan=plan.id), actor=actor, now=now)

    async def unsubscribe_url(self, patient: Patient, now: int | None = None) -> str:
        """The link in her emails that stops them (scope `unsubscribe`), made the first
        time she is sent one; it lasts `UNSUBSCRIBE_DAYS` and is made again after."""
        now = int(time.time()) if now is None else now
        link = await live_subject_link(self.db, UNSUBSCRIBE.name, patient.id)
        if link is None or link.expires_at <= now + DAY:
            key = await self.ring.newest()
            fresh = Link(new_id("j_", 12), UNSUBSCRIBE.name, patient.id, None, key.kid, now,
                         now + UNSUBSCRIBE_DAYS * DAY)
            async with self.db.transaction() as conn:
                # Two composers at once: the second finds the first's fresh link live and
                # keeps it, so every email carries a link that works.
                await conn.execute(
                    "UPDATE links SET revoked_at = ? WHERE scope = ? AND subject = ?"
                    " AND revoked_at IS NULL AND expires_at <= ?",
                    (now, UNSUBSCRIBE.name, patient.id, now + DAY))
                await insert_link_unless_live(conn, fresh)
            link = await live_subject_link(self.db, UNSUBSCRIBE.name, patient.id)
            assert link is not None
        key = await self.ring.get(link.kid)
        if key is None:
            raise RuntimeError(f"signing key {link.kid} is missing")
        token = sign_token(key, UNSUBSCRIBE, issuer=self.config.issuer, subject=patient.id,
                           jti=link.jti, issued_at=link.issued_at, not_before=link.issued_at,
                           expires_at=link.expires_at)
        return f"{self.config.public_url}/unsubscribe/{patient.id}?token={token}"

    async def unsubscribe(self, patient_id: str, token: str,
                          now: int | None = None) -> bool:
        """Stop her email reminders if `token` is her live unsubscribe link; False (nothing
        changed) otherwise. Asking again once stopped changes nothing either."""
        now = int(time.time()) if now is None else now

        async def check(claims: dict[str, Any]) -> str:
            if claims.get("sub") != patient_id or not isinstance(claims.get("exp"), int) \
                    or isinstance(claims.get("exp"), bool) or now >= claims["exp"]:
                raise LinkRefused(LinkProblem.EXPIRED)
            return patient_id
        try:
            await verify_issued(self.ring, self.db, token, issuer=self.config.issuer,
                                scope=UNSUBSCRIBE, check=check)
        except LinkRefused:
            return False
        async with self.db.transaction() as conn:
            changed = await conn.execute(
                "UPDATE patients SET email_consent = 0 WHERE id = ? AND email_consent <> 0",
                (patient_id,))
            # What was queued for her and not yet taken is not sent either.
            await conn.execute(
                "UPDATE outbox SET status = 'dead', last_error = 'Unsubscribed',"
                " last_error_at = ? WHERE patient_id = ? AND status = 'queued'",
                (now, patient_id))
            if changed.rowcount:
                await record_event(conn, audit.Unsubscribed(patient=patient_id),
                                   actor=audit.by_patient(patient_id), now=now)
        return True

    async def verify_plan_link(self, token: str, plan_id: str,
                               now: int | None = None) -> PlanClaims:
        """Check a plan link for this plan (signature, scope, claims, window, its row);
        raise LinkRefused."""
        now = int(time.time()) if now is None else now

        async def check(claims: dict[str, Any]) -> PlanClaims:
            return plan_claims(claims, plan_id=plan_id, now=now)
        return await verify_issued(self.ring, self.db, token, issuer=self.config.issuer,
                                   scope=PLAN, check=check)


def plan_claims(claims: dict[str, Any], *, plan_id: str, now: int) -> PlanClaims:
    """A signed plan link's own claims (`verify_issued`'s `check` for `plan`): types, role,
    plan and window; raise LinkRefused."""
    fields_ok = (all(isinstance(claims.get(k), str) for k in ("sub", "pid", "role", "jti"))
                 and all(isinstance(claims.get(k), int) and not isinstance(claims.get(k), bool)
                         for k in ("nbf", "exp", "iat"))
                 and claims["role"] == "patient")
    if not fields_ok:
        raise LinkRefused(LinkProblem.MALFORMED)
    if claims["sub"] != plan_id:
        raise LinkRefused(LinkProblem.WRONG_VISIT)
    if now >= claims["exp"]:
        raise LinkRefused(LinkProblem.EXPIRED)
    if now < claims["nbf"]:
        raise LinkRefused(LinkProblem.NOT_YET_VALID, opens_at=claims["nbf"])
    return PlanClaims(claims["sub"], claims["pid"], claims["jti"], claims["exp"])

