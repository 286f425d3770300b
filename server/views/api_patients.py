"""The REST API for patients and plans of care, authenticated by a Bearer API key."""

from __future__ import annotations

import time
from datetime import datetime

from aiohttp import web

from server.auth.policy import Action, CareFile, KeyActor, allowed
from server.care.care_json import BadCursor, patient_json, patient_list_page, plan_json
from server.care.patient_input import parse_patient_request, parse_plan_request
from server.care.record import patient_record
from server.http.care_schemas import NewPatient, NewPlan
from server.http.errors import ApiError
from server.http.query_params import query_value
from server.http.request_json import read_body
from server.http.schemas import MAX_QUERY_LENGTH
from server.keys import CARE, CONFIG, DB, LIBRARY
from server.storage import audit_events as audit
from server.storage.events import record_event
from server.storage.patients import Patient
from server.storage.plans import therapists_of_patient
from server.views.guards import key_may
from server.visits.visit_input import VisitInputError

DEFAULT_PAGE, MAX_PAGE = 50, 100


def _invalid(exc: VisitInputError) -> ApiError:
    return ApiError(422, "invalid_field", f"{exc.field} {exc.message}")


async def _audit(request: web.Request, actor: KeyActor, event: audit.AuditEvent) -> None:
    async with request.app[DB].transaction() as conn:
        await record_event(conn, event, actor=actor.audit, now=int(time.time()))


async def _patient(request: web.Request, actor: KeyActor, action: Action) -> Patient:
    patient = await request.app[CARE].patient(request.match_info["patient_id"])
    if patient is None or not await allowed(
            actor, action, CareFile(patient.id, await therapists_of_patient(
                request.app[DB], patient.id))):
        raise ApiError(404, "not_found", "There is no patient with this id.")
    return patient


async def create_patient(request: web.Request) -> web.StreamResponse:
    """POST /api/patients."""
    actor = await key_may(request, Action.CREATE_PATIENT)
    body = await read_body(request, NewPatient)
    config = request.app[CONFIG]
    try:
        patient = await request.app[CARE].create_patient(
            parse_patient_request(body, today=datetime.now(config.tz).date()),
            actor=actor.audit)
    except VisitInputError as exc:
        raise _invalid(exc) from None
    return web.json_response(patient_json(patient), status=201)


async def list_patients(request: web.Request) -> web.StreamResponse:
    """GET /api/patients?q=&limit=&cursor=."""
    actor = await key_may(request, Action.LIST_PATIENTS)
    query = query_value(request, "q", max_length=MAX_QUERY_LENGTH) or ""
    limit_text = query_value(request, "limit", pattern=r"[0-9]{1,3}")
    limit = int(limit_text) if limit_text is not None else DEFAULT_PAGE
    if not 1 <= limit <= MAX_PAGE:
        raise ApiError(400, "bad_parameter", f"limit must be between 1 and {MAX_PAGE}.")
    try:
        page, next_cursor = await patient_list_page(
            request.app[DB], query=query, limit=limit,
            cursor=query_value(request, "cursor", max_length=1200))
    except BadCursor:
        raise ApiError(400, "bad_parameter", "cursor is not one this server gave.") from None
    await _audit(request, actor, audit.PatientsListed(count=len(page)))
    return web.json_response({"patients": [patient_json(p) for p in page],
                              "next_cursor": next_cursor})


async def get_patient(request: web.Request) -> web.StreamResponse:
    """GET /api/patients/{patient_id}: her record with plans, visits, program, outcomes
    and adherence."""
    actor = await key_may(request, Action.VIEW_PATIENT)
    patient = await _patient(request, actor, Action.VIEW_PATIENT)
    links = await allowed(actor, Action.CHANGE_CARE, CareFile(patient.id, frozenset()))
    body = await patient_record(request.app, patient, links=links)
    await _audit(request, actor, audit.PatientRead(patient=patient.id))
    return web.json_response(body)


async def update_patient(request: web.Request) -> web.StreamResponse:
    """PUT /api/patients/{patient_id}: her whole record as it should be now (contact
    details, consents, language, the clinic's id)."""
    actor = await key_may(request, Action.CHANGE_CARE)
    patient = await _patient(request, actor, Action.CHANGE_CARE)
    body = await read_body(request, NewPatient)
    config = request.app[CONFIG]
    try:
        patient = await request.app[CARE].update_patient(
            patient, parse_patient_request(body, today=datetime.now(config.tz).date()),
            actor=actor.audit)
    except VisitInputError as exc:
        raise _invalid(exc) from None
    return web.json_response(patient_json(patient))


async def create_plan(request: web.Request) -> web.StreamResponse:
    """POST /api/patients/{patient_id}/plans: start a plan of care (with her plan link)."""
    actor = await key_may(request, Action.CHANGE_CARE)
    patient = await _patient(request, actor, Action.CHANGE_CARE)
    body = await read_body(request, NewPlan)
    care = request.app[CARE]
    try:
        plan = await care.create_plan(
            patient, parse_plan_request(body, request.app[LIBRARY], tz=request.app[CONFIG].tz),
            actor=actor.audit)
    except VisitInputError as exc:
        raise _invalid(exc) from None
    return web.json_response(plan_json(plan, await care.plan_link(plan)), status=201)
