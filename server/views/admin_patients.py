"""Staff pages for patients: the list with search and the new-patient form (admins), and a
patient's page (her record, plans, visits, measurements, program and its history,
adherence, pain, questionnaires, monitoring and her messages, with the reply form) for
admins and the therapists who lead her plans.

The forms that change a plan live in `server/views/admin_plans.py`; when one is refused,
it shows this page again through `patient_page` with the error and a 422.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from server.auth.csrf import require_csrf
from server.auth.policy import Action, CareFile, StaffActor, allowed
from server.care import messages, outcome_trend, outcomes
from server.care.adherence import REVIEW_MINUTES, adherence, monitoring, pain_trend
from server.care.care_json import BadCursor, patient_list_page
from server.care.exercise_log import HIGH_PAIN, open_flags
from server.care.field_error import FieldError
from server.care.instruments import INSTRUMENTS
from server.care.outcomes import MAX_EVERY_WEEKS
from server.care.patient_input import parse_patient_request
from server.care.service import CareStateError
from server.care.trend_chart import Chart, line_chart
from server.http.care_schemas import DEFAULT_WEEKS, MAX_GOALS, MAX_WEEKS, MIN_WEEKS
from server.http.errors import ApiError
from server.http.i18n import LANGUAGES
from server.http.query_params import query_value
from server.http.schemas import MAX_QUERY_LENGTH
from server.http.templating import render, see_other
from server.keys import CARE, CONFIG, DB, LIBRARY
from server.storage import audit_events as audit
from server.storage.assignments import Assignment, plan_history
from server.storage.events import record_event
from server.storage.patients import Patient, patients_by_ids
from server.storage.plan_messages import unread_threads
from server.storage.plans import (
    Plan,
    active_plan,
    plans_of_patient,
    therapists_of_patient,
)
from server.storage.users import User, list_therapists, user_by_id
from server.storage.visits import Visit, visits_of_patient
from server.views.guards import staff_care, staff_may
from server.views.measurements import patient_measurements
from server.visits.visit_input import VisitInputError

PAGE = 50
"""Patients a page of the list shows."""
UNREAD_THREADS = 100
"""Plans with unread messages the dashboard lists at most."""


@dataclass(frozen=True)
class FormError:
    """A refused form on a patient's page: which form, which field, what is wrong."""

    form: str
    field: str
    message: str


async def _audit(request: web.Request, actor: StaffActor, event: audit.AuditEvent) -> None:
    async with request.app[DB].transaction() as conn:
        await record_event(conn, event, actor=actor.audit, now=int(time.time()))


async def _list_page(request: web.Request, actor: StaffActor, *, values: dict[str, str],
                     error: VisitInputError | None = None, status: int = 200) -> web.Response:
    query = query_value(request, "q", max_length=MAX_QUERY_LENGTH) or ""
    cursor = query_value(request, "cursor", max_length=1200)
    try:
        page, next_cursor = await patient_list_page(request.app[DB], query=query, cursor=cursor,
                                                limit=PAGE)
    except BadCursor:
        raise ApiError(400, "bad_parameter",
                       "This page link is not one this server gave.") from None
    await _audit(request, actor, audit.PatientsListed(count=len(page)))
    return render(request, "admin/patients.html", {
        "patients": page, "query": query, "paged": bool(cursor),
        "next_cursor": next_cursor,
        "values": values, "error": error, "languages": LANGUAGES,
        "notice": request.query.get("done")}, status=status)


async def patients_page(request: web.Request) -> web.StreamResponse:
    """GET /admin/patients?q=&cursor=: search by name, external id or email; new patient."""
    actor = await staff_may(request, Action.LIST_PATIENTS)
    return await _list_page(request, actor, values={})


async def create_patient(request: web.Request) -> web.StreamResponse:
    """POST /admin/patients: a new patient from the form (checked as the API checks it)."""
    actor = await staff_may(request, Action.CREATE_PATIENT)
    form = await require_csrf(request)
    config = request.app[CONFIG]
    try:
        patient = await request.app[CARE].create_patient(
            parse_patient_request(form, today=datetime.now(config.tz).date()),
            actor=actor.audit)
    except VisitInputError as exc:
        return await _list_page(request, actor, values=form, error=exc, status=422)
    return see_other(f"/admin/patients/{patient.id}?done=created")


async def update_record(request: web.Request) -> web.StreamResponse:
    """POST /admin/patients/{patient_id}/record: her record as it should be now (an admin,
    or a therapist who leads one of her plans); checked as the API checks it."""
    actor = await staff_may(request, Action.VIEW_PATIENT)
    patient, _plan = await staff_care(request, actor, Action.CHANGE_CARE)
    form = await require_csrf(request)
    config = request.app[CONFIG]
    try:
        await request.app[CARE].update_patient(
            patient, parse_patient_request(form, today=datetime.now(config.tz).date()),
            actor=actor.audit)
    except VisitInputError as exc:
        return await patient_page(request, actor, patient, values=dict(form),
                                  error=FormError("record", exc.field, exc.message), status=422)
    return see_other(f"/admin/patients/{patient.id}?done=record_changed")


async def patient_detail(request: web.Request) -> web.StreamResponse:
    """GET /admin/patients/{patient_id}: her page (404 for a therapist not hers)."""
    actor = await staff_may(request, Action.VIEW_PATIENT)
    patient, _plan = await staff_care(request, actor, Action.VIEW_PATIENT)
    return await patient_page(request, actor, patient)


async def patient_page(request: web.Request, actor: StaffActor, patient: Patient, *,
                       error: FormError | None = None, values: dict[str, str] | None = None,
                       status: int = 200) -> web.Response:
    """Her page, audited as a read of her record; with a refused form's error and values."""
    context = await _page_context(request, actor, patient)
    await _audit(request, actor, audit.PatientRead(patient=patient.id))
    return render(request, "admin/patient_detail.html", {
        **context, "error": error, "values": values or {},
        "notice": request.query.get("done")}, status=status)


class _Names:
    """Who an audit actor is, in words, looked up once each (ids only when unknown)."""

    def __init__(self, request: web.Request, visits: list[Visit]) -> None:
        self.db = request.app[DB]
        self.users: dict[int, User | None] = {}
        self.seats = {p.id: p for v in visits for p in v.participants}

    async def user(self, user_id: int | None) -> User | None:
        """The staff account with this id, cached."""
        if user_id is None:
            return None
        if user_id not in self.users:
            self.users[user_id] = await user_by_id(self.db, user_id)
        return self.users[user_id]

    async def actor(self, actor: str | None) -> str:
        """An audit actor (`user:3`, `participant:p_…`, `patient:pt_…`) as a role and name."""
        kind, _, ident = (actor or "").partition(":")
        if kind == "user" and ident.isdigit():
            user = await self.user(int(ident))
            if user is not None:
                return f"{user.name} ({user.role})"
        if kind == "participant" and ident in self.seats:
            seat = self.seats[ident]
            return f"{seat.display_name} (the {seat.role}'s visit link)" \
                if seat.role == "therapist" else f"the {seat.role} (her visit link)"
        if kind == "patient":
            return "the patient (her plan link)"
        if kind == "api_key":
            return f"API key {ident}"
        return actor or "unknown"


async def _page_context(request: web.Request, actor: StaffActor,
                        patient: Patient) -> dict[str, Any]:
    db, care, library = request.app[DB], request.app[CARE], request.app[LIBRARY]
    plans = await plans_of_patient(db, patient.id)
    visits = await visits_of_patient(db, patient.id)
    names = _Names(request, visits)
    may_change = {p.id: await allowed(actor, Action.CHANGE_CARE, CareFile(
        patient.id, frozenset({p.therapist_id}) if p.therapist_id else frozenset()))
        for p in plans}
    links = {p.id: await care.plan_link(p) for p in plans
             if may_change[p.id] and p.status == "active"}
    leads = {p.id: await names.user(p.therapist_id) for p in plans}
    may_start = await allowed(actor, Action.CHANGE_CARE, CareFile(
        patient.id, await therapists_of_patient(db, patient.id)))
    therapists = [t for t in await list_therapists(db) if t.active] \
        if actor.user.role == "admin" else []
    current = active_plan(plans)
    # Her thread: of the active plan, else of her latest one (read only once closed).
    thread_plan = current or (plans[0] if plans else None)
    return {
        "patient": patient, "plans": plans, "visits": visits, "links": links,
        "leads": leads, "may_change": may_change, "may_start": may_start,
        "may_visit": await allowed(actor, Action.CREATE_VISIT),
        "therapists": therapists, "languages": LANGUAGES, "conditions": sorted(
            library.conditions.values(), key=lambda c: c.name.casefold()),
        "condition_names": {slug: c.name for slug, c in library.conditions.items()},
        "plan_ends": {p.id: care.link_expires(p) for p in plans},
        "limits": {"min_weeks": MIN_WEEKS, "max_weeks": MAX_WEEKS,
                   "default_weeks": DEFAULT_WEEKS, "max_goals": MAX_GOALS},
        "current": current,
        "measured": await patient_measurements(request, patient.id),
        "care": await _care_context(request, current, names) if current else None,
        "thread": await _thread_context(request, actor, thread_plan, may_change)
        if thread_plan else None,
    }


async def _thread_context(request: web.Request, actor: StaffActor, plan: Plan,
                          may_change: dict[str, bool]) -> dict[str, Any]:
    """Her messages on `plan` (a page, newest first), whether this reader may answer, and
    the limits of the reply form. Her plan's therapist's view marks them read."""
    before = None
    cursor = query_value(request, "messages_before", max_length=40)
    if cursor:
        before = messages.read_cursor(cursor)
        if before is None:
            raise ApiError(400, "bad_parameter",
                           "This page of messages is not one this server gave.")
    db = request.app[DB]
    if await messages.reads_for_care_team(actor, plan):
        page = await messages.open_thread(db, plan, before, reader="staff",
                                          now=int(time.time()))
    else:
        page = await messages.thread_page(db, plan.id, before)
    return {"plan": plan, "page": page, "paged": before is not None,
            "may_reply": may_change[plan.id] and plan.status == "active",
            "max_text": messages.MAX_TEXT}


async def _care_context(request: web.Request, plan: Plan, names: _Names) -> dict[str, Any]:
    """What the page shows of the active plan: program and history, adherence, pain,
    flags, questionnaires and their trend, monitoring."""
    db, config, library = request.app[DB], request.app[CONFIG], request.app[LIBRARY]
    now = int(time.time())
    history = await plan_history(db, plan.id)
    exercise_names = {slug: e.name for slug, e in library.exercises.items()}
    trend = await outcome_trend.trend(db, plan.id)
    return {
        "program": [a for a in history if a.stopped_at is None],
        "history": [await _history_line(a, names) for a in reversed(history)],
        "adherence": await adherence(db, plan.id, now=now, tz=config.tz),
        "pain_charts": [_pain_chart(slug, exercise_names.get(slug, slug), points, config.tz)
                        for slug, points in sorted((await pain_trend(db, plan.id)).items())],
        "flags": await open_flags(db, plan_ids=[plan.id]),
        "exercise_names": exercise_names,
        "attached": await outcomes.attached(db, plan.id),
        "instruments": INSTRUMENTS, "max_every_weeks": MAX_EVERY_WEEKS,
        "outcome_charts": [(found, _outcome_chart(found, config.tz))
                           for found in trend.instruments],
        "monitoring": await monitoring(db, plan.id, plan_start=plan.starts_at, now=now,
                                       tz=config.tz),
        "today": datetime.now(config.tz).date().isoformat(),
        "review_minutes": REVIEW_MINUTES,
    }


async def _history_line(a: Assignment, names: _Names) -> dict[str, Any]:
    return {"assignment": a, "created_by": await names.actor(a.created_by),
            "stopped_by": await names.actor(a.stopped_by) if a.stopped_at else None}


def _pain_chart(slug: str, name: str, points: list[tuple[int, int]], tz: Any) -> Chart:
    return line_chart(chart_id=f"pain-{slug}", title=f"Pain during {name} (0–10)",
                      points=[(t, float(p)) for t, p in points], low=0, high=10, tz=tz,
                      threshold=HIGH_PAIN, threshold_label="pain that raises a flag")


def _outcome_chart(found: outcome_trend.InstrumentTrend, tz: Any) -> Chart:
    instrument = found.instrument
    band = found.band()
    baseline = found.points[0].score if found.points else None
    notes = [("baseline" if p.change is None else
              f"{(p.reading or 'no minimal important change published').replace('_', ' ')}"
              f" ({p.change:+.2f})") + ("" if p.complete else "; prorated: items left open")
             for p in found.points]
    return line_chart(
        chart_id=f"outcome-{instrument.key}", title=f"{instrument.title} scores "
        f"({instrument.low:g}–{instrument.high:g}, "
        f"{'higher' if instrument.higher_is_better else 'lower'} is better)",
        points=[(p.answered_at, p.score) for p in found.points], low=instrument.low,
        high=instrument.high, tz=tz, baseline=baseline,
        band=(band["low"], band["high"]) if band else None, notes=notes)


async def reply(request: web.Request) -> web.StreamResponse:
    """POST /admin/plans/{plan_id}/messages: a message to her from her plan's therapist or an
    admin; a refused one shows her page again with the text kept (422, 429 or 409)."""
    actor = await staff_may(request, Action.VIEW_PATIENT)
    patient, plan = await staff_care(request, actor, Action.CHANGE_CARE)
    assert plan is not None
    form = await require_csrf(request)
    try:
        await messages.write(request.app, plan, form.get("text", ""), author="staff",
                             user_id=actor.user.id, actor=actor.audit)
    except FieldError as exc:
        return await _reply_refused(request, actor, patient, form, exc.text(), 422)
    except messages.TooMany:
        return await _reply_refused(
            request, actor, patient, form, f"at most {messages.MAX_A_DAY['staff']} messages "
            "a day go to one patient; try again tomorrow", 429)
    except CareStateError:
        return await _reply_refused(request, actor, patient, form, "this plan of care is "
                                    "closed; start a new one to write to her", 409)
    return see_other(f"/admin/patients/{patient.id}?done=message_sent#messages")


async def _reply_refused(request: web.Request, actor: StaffActor, patient: Patient,
                         form: Any, message: str, status: int) -> web.Response:
    return await patient_page(request, actor, patient, values={"text": form.get("text", "")},
                              error=FormError("message", "text", message), status=status)


async def dashboard_messages(request: web.Request, actor: StaffActor) -> list[dict[str, Any]]:
    """Plans with messages of hers not yet read, for the dashboard, the latest first: of the
    plans she leads (every plan's for an account that may list all patients), each with the
    patient's name."""
    db = request.app[DB]
    mine = None if await allowed(actor, Action.LIST_PATIENTS) else actor.user.id
    threads = await unread_threads(db, therapist_id=mine, limit=UNREAD_THREADS)
    patients = await patients_by_ids(db, [t.patient_id for t in threads])
    return [{"thread": t, "patient": patients.get(t.patient_id)} for t in threads]


async def dashboard_flags(request: web.Request, actor: StaffActor) -> list[dict[str, Any]]:
    """Open pain flags for the dashboard, newest first: of the plans she leads (every
    plan's for an account that may list all patients), each with the patient's name."""
    db, library = request.app[DB], request.app[LIBRARY]
    mine = None if await allowed(actor, Action.LIST_PATIENTS) else actor.user.id
    flags = await open_flags(db, therapist_id=mine)
    patients = await patients_by_ids(db, [f.patient_id for f in flags if f.patient_id])
    return [{"flag": f, "patient": patients.get(f.patient_id or ""),
             "exercise": library.exercises[f.exercise].name
             if f.exercise in library.exercises else f.exercise} for f in flags]
