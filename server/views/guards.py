"""Checks several handlers share: the request's Origin, and the visit a URL names."""

from __future__ import annotations

from aiohttp import web

from server.http.errors import ApiError
from server.keys import CONFIG, VISITS
from server.storage.visits import Visit


def require_own_origin(request: web.Request, message: str) -> None:
    """Refuse (403 bad_origin) a request a page of another site sent; a request with no
    Origin (not from a browser page) passes, since the cookie still has to match."""
    if request.headers.get("Origin") not in (None, request.app[CONFIG].origin):
        raise ApiError(403, "bad_origin", message)


async def visit_or_404(request: web.Request) -> Visit:
    """The visit of the URL's visit_id, or 404."""
    visit = await request.app[VISITS].get(request.match_info["visit_id"])
    if visit is None:
        raise ApiError(404, "not_found", "There is no visit with this id.")
    return visit
