"""CSRF protection for form posts: a random cookie that each form must echo back.

The cookie is HttpOnly and SameSite=Strict, so another site can neither read it nor make
the browser send it; a cross-site form post therefore never carries a matching pair.
"""

from __future__ import annotations

import secrets

from aiohttp import web

from server.auth.cookies import set_strict_cookie
from server.auth.secrets_util import same_secret
from server.http.errors import ApiError
from server.http.i18n import N_
from server.keys import CONFIG

COOKIE = "visitroom_csrf"
FIELD = "csrf_token"
_NEW = "csrf_new_token"


def csrf_token(request: web.Request) -> str:
    """The token to put in a form on this page (created when the browser has none)."""
    existing = request.get(_NEW) or request.cookies.get(COOKIE)
    if existing and 20 <= len(existing) <= 100:
        return existing
    token = secrets.token_urlsafe(24)
    request[_NEW] = token
    return token


def rotate_csrf(request: web.Request) -> None:
    """Hand out a new token (after login, so a planted token stops working)."""
    request[_NEW] = secrets.token_urlsafe(24)


def attach_new_token(request: web.Request, response: web.StreamResponse) -> None:
    """Set the cookie on the response when this request created a token."""
    token = request.get(_NEW)
    if token and not response.prepared:
        set_strict_cookie(response, COOKIE, token, secure=request.app[CONFIG].secure_cookies)


def csrf_ok(request: web.Request, submitted: object) -> bool:
    """Whether a posted form's token matches the browser's cookie."""
    cookie = request.cookies.get(COOKIE)
    return (isinstance(submitted, str) and bool(cookie) and bool(submitted)
            and same_secret(cookie or "", submitted))


def check_csrf(request: web.Request, submitted: object) -> None:
    """Refuse the form (403) when its token `submitted` is missing or wrong."""
    if not csrf_ok(request, submitted):
        raise ApiError(403, "csrf_failed", N_("This form has expired or was sent from another "
                                              "site. Go back, reload the page and try again."))


async def require_csrf(request: web.Request) -> dict[str, str]:
    """Read a posted form and refuse it (403) when its CSRF token is missing or wrong."""
    form = await request.post()
    check_csrf(request, form.get(FIELD))
    return {k: v for k, v in form.items() if isinstance(v, str)}
