"""Cross-cutting HTTP behaviour: security headers, error pages without tracebacks, CSRF cookie."""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Awaitable, Callable

from aiohttp import web

from server.http.access_log import SERVER_HEADER
from server.auth.csrf import attach_new_token
from server.runtime.config import Config
from server.http.error_pages import error_response
from server.http.errors import ApiError
from server.http.i18n import N_
from server.keys import CONFIG
from server.storage import DatabaseBusy

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CSP = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PERMISSIONS_POLICY = (
    "camera=(self), microphone=(self), speaker-selection=(self), display-capture=(self), "
    "geolocation=(), payment=(), usb=(), interest-cohort=()"
)


@lru_cache(maxsize=4)
def _policy(config: Config) -> str:
    # Older browsers do not match ws:/wss: against 'self'; name the socket origin too. It
    # comes from the configured public URL, never from the request's Host header, which
    # the client writes (and could fill with "; report-uri ...").
    scheme, host = config.origin.split("://", 1)
    socket_origin = f"{'wss' if scheme == 'https' else 'ws'}://{host}"
    return CSP.replace("connect-src 'self'", f"connect-src 'self' {socket_origin}")


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Add the security headers every response carries."""
    response.headers["Server"] = SERVER_HEADER
    if response.status == 101:
        # A WebSocket upgrade renders nothing these headers govern, and the socket keeps
        # its upgrade response alive: ten thousand sockets would hold 4 KB each of them.
        return
    headers = response.headers
    headers["Content-Security-Policy"] = _policy(request.app[CONFIG])
    headers["Referrer-Policy"] = "no-referrer"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Permissions-Policy"] = PERMISSIONS_POLICY
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if request.app[CONFIG].secure_cookies or request.secure:
        headers["Strict-Transport-Security"] = "max-age=31536000"
    if "Cache-Control" not in headers and not request.path.startswith("/static/"):
        headers["Cache-Control"] = "no-store"


@web.middleware
async def error_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every error into a readable page (HTML) or body (JSON under /api/), never a traceback."""
    try:
        return await handler(request)
    except ApiError as exc:
        response = error_response(request, exc.status, exc.code, exc.message)
        response.headers.update(exc.headers)
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = exc.reason.lower().replace(" ", "_")
        response = error_response(request, exc.status, code, _plain_message(exc.status))
        if "Allow" in exc.headers:
            # A 405 names the methods the address takes (RFC 9110 15.5.6).
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except DatabaseBusy:
        response = error_response(request, 503, "busy", N_("The server is busy for a moment. "
                                                           "Please try again in a few seconds."))
        response.headers["Retry-After"] = "5"
        return response
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.rel_url.path)
        return error_response(request, 500, "internal_error",
                              N_("Something went wrong on our side. Please try again in a moment."))


def _plain_message(status: int) -> str:
    return {
        400: N_("The request could not be read."),
        401: N_("Please sign in first."),
        403: N_("You are not allowed to do that."),
        404: N_("There is nothing at this address."),
        405: N_("This address does not accept that kind of request."),
        413: N_("What you sent is too large."),
    }.get(status, N_("The request could not be completed."))


@web.middleware
async def csrf_cookie(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Set the CSRF cookie when a page handed out a new token."""
    response = await handler(request)
    attach_new_token(request, response)
    return response
