"""The REST API for integrators: visits, authenticated by a Bearer API key."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from server.app import CONFIG, DB, VISITS
from server.auth.api_keys import require_api_key
from server.errors import ApiError
from server.request_json import read_json_object
from server.storage.visits import Visit, list_visits
from server.visits import (ROLES, VisitInputError, VisitStateError, clean_name,
                           parse_visit_request)

STATUSES = ("scheduled", "cancelled", "ended")


async def _visit(request: web.Request) -> Visit:
    visit = await request.app[VISITS].get(request.match_info["visit_id"])
    if visit is None:
        raise ApiError(404, "not_found", "There is no visit with this id.")
    return visit


def _invalid(exc: VisitInputError) -> ApiError:
    return ApiError(422, "invalid_field", f"{exc.field} {exc.message}")


async def create_visit(request: web.Request) -> web.StreamResponse:
    """POST /api/visits."""
    key_id = await require_api_key(request)
    body = await read_json_object(request)
    unknown = set(body) - {"patient_name", "therapist_name", "therapist_email", "starts_at",
                           "minutes", "kind", "capacity"}
    if unknown:
        raise ApiError(422, "unknown_field", f"Unknown field: {sorted(unknown)[0]}")
    service = request.app[VISITS]
    try:
        visit = await service.create(parse_visit_request(body, request.app[CONFIG]),
                                     actor=f"api_key:{key_id}")
    except VisitInputError as exc:
        raise _invalid(exc) from None
    return web.json_response(await service.describe(visit, fresh=True), status=201)


def _time_param(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, "bad_parameter", f"{name} must be an ISO 8601 date or date-time.") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=request.app[CONFIG].tz)
    return int(parsed.timestamp())


async def list_visits_api(request: web.Request) -> web.StreamResponse:
    """GET /api/visits?from=&to=&status=."""
    await require_api_key(request)
    status = request.query.get("status") or None
    if status is not None and status not in STATUSES:
        raise ApiError(400, "bad_parameter", "status must be scheduled, cancelled or ended.")
    visits = await list_visits(request.app[DB], start=_time_param(request, "from"),
                               end=_time_param(request, "to"), status=status)
    service = request.app[VISITS]
    return web.json_response({"visits": [await service.describe(v) for v in visits]})


async def get_visit(request: web.Request) -> web.StreamResponse:
    """GET /api/visits/{visit_id}."""
    await require_api_key(request)
    return web.json_response(await request.app[VISITS].describe(await _visit(request)))


async def cancel_visit(request: web.Request) -> web.StreamResponse:
    """POST /api/visits/{visit_id}/cancel."""
    key_id = await require_api_key(request)
    service = request.app[VISITS]
    try:
        visit = await service.cancel(await _visit(request), actor=f"api_key:{key_id}")
    except VisitStateError as exc:
        raise ApiError(409, "conflict", f"The visit cannot be cancelled: {exc}.") from None
    return web.json_response(await service.describe(visit))


async def reissue_link(request: web.Request) -> web.StreamResponse:
    """POST /api/visits/{visit_id}/participants/{role}/reissue."""
    key_id = await require_api_key(request)
    role = request.match_info["role"]
    if role not in ROLES:
        raise ApiError(404, "not_found", "role must be patient or therapist.")
    service = request.app[VISITS]
    try:
        visit = await service.reissue(await _visit(request), role, actor=f"api_key:{key_id}")
    except VisitStateError as exc:
        raise ApiError(409, "conflict", f"The link cannot be re-issued: {exc}.") from None
    return web.json_response(await service.describe(visit))


async def add_guest(request: web.Request) -> web.StreamResponse:
    """POST /api/visits/{visit_id}/participants: a guest (interpreter, partner) with her own link."""
    key_id = await require_api_key(request)
    body = await read_json_object(request)
    if set(body) - {"name"}:
        raise ApiError(422, "unknown_field", "Only 'name' is accepted.")
    service = request.app[VISITS]
    try:
        name = clean_name(body.get("name"), "name") or ""
        visit = await service.add_guest(await _visit(request), name, actor=f"api_key:{key_id}")
    except VisitInputError as exc:
        raise _invalid(exc) from None
    except VisitStateError as exc:
        raise ApiError(409, "conflict", f"No guest can be added: {exc}.") from None
    return web.json_response(await service.describe(visit), status=201)


async def openapi(request: web.Request) -> web.StreamResponse:
    """GET /api/openapi.json."""
    from server.openapi import document

    return web.json_response(document(request.app[CONFIG].public_url))
