"""The clinic's look as files: its logo and accent stylesheet (anyone may read them: every
patient page links them, before any sign-in) and a therapist's photo (only for those who
see her profile: a participant of a visit booked with her account, through her visit
cookie, and the admin).

Each is served from a versioned URL (`?v=`): with the current version it may be cached for
a year (a new logo or accent is a new URL), without it the browser asks again (ETag, 304).
A logo or stylesheet request costs no database read while the version holds (memory); a
photo costs the visit cookie's check and one primary-key read. Photos are `private`: no
shared cache keeps them.
"""

from __future__ import annotations

from aiohttp import web

from server.auth.policy import Action
from server.auth.tokens import LinkRefused
from server.auth.visit_session import participant_from_cookie
from server.http.errors import ApiError
from server.keys import CLINIC_LOOK, DB
from server.storage.clinic_settings import user_photo
from server.storage.users import user_by_id
from server.views.guards import staff_may

YEAR = 365 * 86400


def _versioned(request: web.Request, body: bytes, content_type: str, version: int, *,
               private: bool = False) -> web.Response:
    """`body` with its ETag and caching headers; 304 when the browser has this version."""
    etag = f'"{version}"'
    current = request.query.get("v") == str(version)
    scope = "private" if private else "public"
    headers = {"ETag": etag, "Cache-Control": (f"{scope}, max-age={YEAR}, immutable" if current
                                               else f"{scope}, no-cache")}
    if etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, content_type=content_type, headers=headers)


async def logo(request: web.Request) -> web.StreamResponse:
    """GET /clinic/logo?v=N: the clinic's logo (PNG as the server re-encoded it)."""
    stored = await request.app[CLINIC_LOOK].logo(request.app[DB])
    if stored is None:
        raise ApiError(404, "not_found", "This clinic has no logo.")
    data, content_type, version = stored
    return _versioned(request, data, content_type, version)


async def theme(request: web.Request) -> web.StreamResponse:
    """GET /clinic/theme.css?v=N: the stylesheet that sets the clinic's accent."""
    look = request.app[CLINIC_LOOK].look
    if look.accent is None:
        raise ApiError(404, "not_found", "This clinic has no accent colour of its own.")
    return _versioned(request, look.theme_css().encode(), "text/css", look.version)


async def _photo(request: web.Request, user_id: int | None) -> web.Response:
    found = await user_photo(request.app[DB], user_id) if user_id is not None else None
    if found is None:
        raise ApiError(404, "not_found", "There is no photo here.")
    data, content_type, version = found
    return _versioned(request, data, content_type, version, private=True)


async def visit_therapist_photo(request: web.Request) -> web.StreamResponse:
    """GET /visits/{visit_id}/therapist-photo?v=N: the photo of the therapist a visit is
    booked with, for a holder of that visit's cookie (404 for anyone else: nothing says
    whether the visit or the photo exists)."""
    try:
        found = await participant_from_cookie(request, request.match_info["visit_id"])
    except LinkRefused:
        found = None
    if found is None:
        raise ApiError(404, "not_found", "There is no photo here.")
    return await _photo(request, found[0].therapist_id)


async def therapist_photo(request: web.Request) -> web.StreamResponse:
    """GET /admin/therapists/{user_id}/photo?v=N: a therapist's photo, for the admin."""
    await staff_may(request, Action.MANAGE_ACCOUNTS)
    raw = request.match_info["user_id"]
    user = await user_by_id(request.app[DB], int(raw)) if len(raw) <= 12 else None
    return await _photo(request, user.id if user is not None else None)
