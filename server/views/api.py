"""The REST API for integrators: visits, authenticated by a Bearer API key."""

from __future__ import annotations

import re
import time
from typing import get_args

from aiohttp import web

from server.auth.policy import Action, KeyActor, KeyScope, allowed
from server.http.errors import ApiError
from server.keys import CONFIG, DB, VISITS
from server.http.openapi import document
from server.http.query_params import query_value
from server.http.request_json import read_body
from server.http.schemas import ISO_TIME_PATTERN, LINKS_VALUES, NewGuest, NewVisit, Status
from server.storage import audit_events as audit
from server.storage.chat import kept_chat
from server.storage.events import record_event
from server.storage.visits import Visit, list_visits
from server.visits.times import parse_iso_time
from server.visits.visit_json import chat_json
from server.views.guards import key_may, visit_or_404
from server.visits.visit_input import VisitInputError, clean_name, parse_visit_request
from server.visits.service import VisitStateError

STATUSES: tuple[str, ...] = get_args(Status)


async def _visit(request: web.Request, actor: KeyActor, action: Action) -> Visit:
    visit = await visit_or_404(request)
    if not await allowed(actor, action, visit):
        raise ApiError(404, "not_found", "There is no visit with this id.")
    return visit


def _invalid(exc: VisitInputError) -> ApiError:
    return ApiError(422, "invalid_field", f"{exc.field} {exc.message}")


async def create_visit(request: web.Request) -> web.StreamResponse:
    """POST /api/visits."""
    actor = await key_may(request, Action.CREATE_VISIT)
    body = await read_body(request, NewVisit)
    if (body.patient_id or body.patient_external_id or body.plan_id) \
            and not await allowed(actor, Action.VIEW_PATIENT):
        # Naming a record reads it (her name, her plan's program, whether the id exists).
        raise ApiError(403, "forbidden", "This API key may not name a patient record; that "
                       f"needs {KeyScope.PATIENTS_READ.value}.")
    service = request.app[VISITS]
    try:
        visit = await service.create(parse_visit_request(body, request.app[CONFIG]),
                                     actor=actor.audit)
    except VisitInputError as exc:
        raise _invalid(exc) from None
    return web.json_response(await service.describe(visit, fresh=True), status=201)


def _time_param(request: web.Request, name: str) -> int | None:
    raw = query_value(request, name)
    if not raw:
        return None
    # The documented pattern first: Python reads more than ISO 8601 (`20300301`, `T09`).
    at = parse_iso_time(raw, request.app[CONFIG].tz) \
        if re.fullmatch(ISO_TIME_PATTERN, raw) else None
    if at is None:
        raise ApiError(400, "bad_parameter", f"{name} must be an ISO 8601 date or date-time.")
    return at


async def list_visits_api(request: web.Request) -> web.StreamResponse:
    """GET /api/visits?from=&to=&status=."""
    actor = await key_may(request, Action.LIST_VISITS)
    status = query_value(request, "status", choices=STATUSES)
    start, end = _time_param(request, "from"), _time_param(request, "to")
    links = query_value(request, "links", choices=LINKS_VALUES) == "true"
    visits = await list_visits(request.app[DB], start=start, end=end, status=status)
    body = {"visits": await request.app[VISITS].describe_many(visits, links=links)}
    # A list hands out names and live links of many visits at once: it is audited.
    await _audit_read(request, actor, audit.VisitsListed(
        count=len(visits), **{k: v for k, v in (
            ("status", status), ("since", start), ("until", end),
            ("links", links or None)) if v is not None}))
    return web.json_response(body)


async def _audit_read(request: web.Request, actor: KeyActor, event: audit.AuditEvent, *,
                      visit_id: str | None = None) -> None:
    async with request.app[DB].transaction() as conn:
        await record_event(conn, event, actor=actor.audit, now=int(time.time()),
                           visit_id=visit_id)


async def get_visit(request: web.Request) -> web.StreamResponse:
    """GET /api/visits/{visit_id}."""
    actor = await key_may(request, Action.VIEW_VISIT)
    visit = await _visit(request, actor, Action.VIEW_VISIT)
    body = await request.app[VISITS].describe(visit)
    if await allowed(actor, Action.VIEW_PATIENT):  # chat may carry health details
        chat = await kept_chat(request.app[DB], visit.id, keeping=request.app[CONFIG].chat_store)
        if chat is not None:
            body["chat"] = chat_json(chat.messages)
            body["chat_more"] = chat.more
    # Whether it handed out kept chat (it may carry health details): how many messages.
    await _audit_read(request, actor, audit.VisitRead(
        **({"chat": len(body["chat"])} if "chat" in body else {})), visit_id=visit.id)
    return web.json_response(body)


async def cancel_visit(request: web.Request) -> web.StreamResponse:
    """POST /api/visits/{visit_id}/cancel."""
    actor = await key_may(request, Action.CANCEL_VISIT)
    service = request.app[VISITS]
    try:
        visit = await service.cancel(await _visit(request, actor, Action.CANCEL_VISIT),
                                     actor=actor.audit)
    except VisitStateError as exc:
        raise ApiError(409, "conflict", f"The visit cannot be cancelled: {exc}.") from None
    return web.json_response(await service.describe(visit))


async def reissue_link(request: web.Request) -> web.StreamResponse:
    """POST /api/visits/{visit_id}/participants/{participant}/reissue."""
    return await _change_link(request, Action.REISSUE_LINK)


async def revoke_link(request: web.Request) -> web.StreamResponse:
    """POST /api/visits/{visit_id}/participants/{participant}/revoke."""
    return await _change_link(request, Action.REVOKE_LINK)


async def _change_link(request: web.Request, action: Action) -> web.StreamResponse:
    actor = await key_may(request, action)
    service = request.app[VISITS]
    visit = await _visit(request, actor, action)
    change = service.reissue if action is Action.REISSUE_LINK else service.revoke
    try:
        visit = await change(visit, request.match_info["participant"], actor=actor.audit)
    except VisitInputError:
        raise ApiError(404, "not_found", "participant must be patient, therapist or the id of "
                       "a participant of this visit.") from None
    except VisitStateError as exc:
        raise ApiError(409, "conflict", f"The link cannot be changed: {exc}.") from None
    return web.json_response(await service.describe(visit))


async def add_guest(request: web.Request) -> web.StreamResponse:
    """POST /api/visits/{visit_id}/participants: a guest (interpreter, partner) with her own link."""
    actor = await key_may(request, Action.ADD_GUEST)
    body = await read_body(request, NewGuest)
    service = request.app[VISITS]
    try:
        name = clean_name(body.name, "name") or ""
        visit = await service.add_guest(await _visit(request, actor, Action.ADD_GUEST), name,
                                        actor=actor.audit)

    except VisitInputError as exc:
        raise _invalid(exc) from None
    except VisitStateError as exc:
        raise ApiError(409, "conflict", f"No guest can be added: {exc}.") from None
    return web.json_response(await service.describe(visit), status=201)


async def openapi(request: web.Request) -> web.StreamResponse:
    """GET /api/openapi.json."""
    return web.json_response(document(request.app[CONFIG].public_url))
