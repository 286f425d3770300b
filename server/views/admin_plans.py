"""Staff forms that change a plan of care, and its monitoring export.

Each handler asks the policy (`staff_may`, then `staff_care` for the URL's patient or
plan: 404 for a patient the therapist may not see, 403 for another therapist's plan),
checks the CSRF token, validates through the same code as the API (a refused form shows
the patient's page again with the field named and a 422, nothing stored), is audited, and
sends the browser back to the page with a notice (`?done=`).
"""

from __future__ import annotations

import time
from datetime import date, datetime
from functools import partial
from typing import Any

from aiohttp import web

from server.auth.csrf import require_csrf
from server.auth.policy import Action, StaffActor
from server.care import outcomes
from server.care.adherence import log_review_minutes, monitoring, monitoring_csv
from server.care.exercise_log import LogError
from server.care.outcomes import OutcomeError
from server.care.patient_input import parse_plan_request
from server.care.service import CareStateError
from server.http.errors import ApiError
from server.http.i18n import translate
from server.http.templating import request_language, see_other
from server.keys import CARE, CONFIG, DB, LIBRARY
from server.storage import audit_events as audit
from server.storage import exercise_log as log_store
from server.storage.events import record_event
from server.storage.patients import Patient
from server.storage.plans import Plan
from server.views.admin_patients import FormError, patient_page
from server.views.guards import staff_care, staff_may
from server.visits.visit_input import VisitInputError


async def _plan(request: web.Request, action: Action) -> tuple[StaffActor, dict[str, str],
                                                                Patient, Plan]:
    """The actor, the posted form and the URL's plan with its patient, all checked."""
    actor = await staff_may(request, action)
    form = await require_csrf(request)
    patient, plan = await staff_care(request, actor, action)
    assert plan is not None, "a plan route names a plan"
    return actor, form, patient, plan


def _back(patient: Patient, done: str) -> web.Response:
    return see_other(f"/admin/patients/{patient.id}?done={done}")


async def start_plan(request: web.Request) -> web.StreamResponse:
    """POST /admin/patients/{patient_id}/plans: start a plan of care (with her plan link).
    A therapist starts plans she leads herself; an admin picks the therapist."""
    actor = await staff_may(request, Action.CHANGE_CARE)
    form = await require_csrf(request)
    patient, _none = await staff_care(request, actor, Action.CHANGE_CARE)
    fields = {**form, "therapist_email": actor.user.email} if actor.user.role != "admin" \
        else form
    config = request.app[CONFIG]
    try:
        await request.app[CARE].create_plan(
            patient, parse_plan_request(fields, request.app[LIBRARY], tz=config.tz),
            actor=actor.audit)
    except VisitInputError as exc:
        return await patient_page(request, actor, patient, values=form, status=422,
                                  error=FormError("plan", exc.field, exc.message))
    return _back(patient, "plan_started")


async def reissue_plan_link(request: web.Request) -> web.StreamResponse:
    """POST /admin/plans/{plan_id}/reissue: a new plan link; the old one stops at once."""
    actor, _form, patient, plan = await _plan(request, Action.CHANGE_CARE)
    try:
        await request.app[CARE].reissue_plan_link(plan, actor=actor.audit)
    except CareStateError as exc:
        raise ApiError(409, "conflict", f"This link cannot be re-issued: {exc}.") from None
    return _back(patient, "link_reissued")


async def revoke_plan_link(request: web.Request) -> web.StreamResponse:
    """POST /admin/plans/{plan_id}/revoke: her plan link stops, with no new one."""
    actor, _form, patient, plan = await _plan(request, Action.CHANGE_CARE)
    await request.app[CARE].revoke_plan_link(plan, actor=actor.audit)
    return _back(patient, "link_revoked")


async def close_plan(request: web.Request) -> web.StreamResponse:
    """POST /admin/plans/{plan_id}/close: the plan ends; its link stops, its record stays."""
    actor, _form, patient, plan = await _plan(request, Action.CHANGE_CARE)
    try:
        await request.app[CARE].close_plan(plan, actor=actor.audit)
    except CareStateError as exc:
        raise ApiError(409, "conflict", f"This plan cannot be closed: {exc}.") from None
    return _back(patient, "plan_closed")


def _outcome_error(request: web.Request, error: OutcomeError) -> FormError:
    return FormError("questionnaire", error.field,
                     error.text(partial(translate, request_language(request))))


async def attach_questionnaire(request: web.Request) -> web.StreamResponse:
    """POST /admin/plans/{plan_id}/questionnaires: attach one (instrument, every N weeks),
    or change its interval."""
    actor, form, patient, plan = await _plan(request, Action.CHANGE_CARE)
    every_text = form.get("every_weeks", "").strip()
    # Only the number's form is read here; its range is outcomes.attach's rule.
    every: Any = int(every_text) if every_text.isdigit() and len(every_text) <= 3 \
        else every_text
    try:
        await outcomes.attach(request.app[DB], plan, form.get("instrument", ""), every,
                              actor=actor.audit, now=int(time.time()))
    except OutcomeError as error:
        return await patient_page(request, actor, patient, values=form, status=422,
                                  error=_outcome_error(request, error))
    return _back(patient, "attached")


async def detach_questionnaire(request: web.Request) -> web.StreamResponse:
    """POST /admin/plans/{plan_id}/questionnaires/detach: take one off (its fills stay)."""
    actor, form, patient, plan = await _plan(request, Action.CHANGE_CARE)
    try:
        await outcomes.detach(request.app[DB], plan, form.get("instrument", ""),
                              actor=actor.audit, now=int(time.time()))
    except OutcomeError as error:
        return await patient_page(request, actor, patient, values=form, status=422,
                                  error=_outcome_error(request, error))
    return _back(patient, "detached")


async def acknowledge_flag(request: web.Request) -> web.StreamResponse:
    """POST /admin/plans/{plan_id}/flags/{flag_id}/acknowledge: the flag leaves the
    dashboard (acknowledged and audited in one transaction)."""
    actor, form, patient, plan = await _plan(request, Action.CHANGE_CARE)
    raw = request.match_info["flag_id"]
    flag_id = int(raw) if raw.isdigit() and len(raw) <= 12 else 0
    now = int(time.time())
    async with request.app[DB].transaction() as conn:
        done = await log_store.acknowledge(conn, flag_id, plan.id, by=actor.audit, now=now)
        if done:
            await record_event(conn, audit.PainFlagAcknowledged(flag=flag_id, plan=plan.id),
                               actor=actor.audit, now=now)
    if not done:
        raise ApiError(409, "conflict", "This pain flag is not open: it was acknowledged "
                       "already, or it is not a flag of this plan.")
    if form.get("back") == "dashboard":
        return see_other("/admin?done=acknowledged#pain-flags")
    return _back(patient, "acknowledged")


async def log_review(request: web.Request) -> web.StreamResponse:
    """POST /admin/plans/{plan_id}/review-minutes: minutes she spent reviewing (1–240) on a
    day up to today."""
    actor, form, patient, plan = await _plan(request, Action.CHANGE_CARE)
    config = request.app[CONFIG]
    minutes_text = form.get("minutes", "").strip()
    # Only the number's form is read here; its range is log_review_minutes's rule.
    minutes: Any = int(minutes_text) if minutes_text.isdigit() and len(minutes_text) <= 4 \
        else minutes_text
    day_text = form.get("day", "").strip()
    try:
        day = date.fromisoformat(day_text) if day_text else datetime.now(config.tz).date()
    except ValueError:
        return await patient_page(request, actor, patient, values=form, status=422,
                                  error=FormError("review", "day", "is not a date"))
    try:
        await log_review_minutes(request.app[DB], plan.id, actor.user.id, minutes, day=day,
                                 now=int(time.time()), actor=actor.audit)
    except LogError as error:
        return await patient_page(
            request, actor, patient, values=form, status=422, error=FormError(
                "review", error.field, error.text(partial(translate, request_language(request)))))
    return _back(patient, "minutes_logged")


async def monitoring_export(request: web.Request) -> web.StreamResponse:
    """GET /admin/plans/{plan_id}/monitoring.csv: the monthly monitoring rows as CSV (ids,
    dates and numbers only), downloaded, never cached."""
    actor = await staff_may(request, Action.VIEW_PATIENT)
    _patient, plan = await staff_care(request, actor, Action.VIEW_PATIENT)
    assert plan is not None
    config = request.app[CONFIG]
    rows = await monitoring(request.app[DB], plan.id, plan_start=plan.starts_at,
                            now=int(time.time()), tz=config.tz)
    return web.Response(
        body=monitoring_csv(rows).encode("utf-8"), content_type="text/csv", charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="monitoring-{plan.id}.csv"',
                 "Cache-Control": "no-store"})
