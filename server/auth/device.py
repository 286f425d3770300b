"""The device cookie: which browser holds a visit seat.

An admission belongs to the device it was given to. Opening the same link on another
device (a second phone, or a link that leaked) gets a new device cookie, so that device
waits to be let in and the therapist sees it is a new one. The cookie is random and
HttpOnly; the database keeps only its hash.
"""

from __future__ import annotations

import hashlib
import secrets

from aiohttp import web

from server.auth.cookies import set_strict_cookie

COOKIE = "visitroom_device"


_ASSIGNED = "visitroom_device_assigned"


def _value(request: web.Request) -> str | None:
    assigned = request.get(_ASSIGNED)
    if isinstance(assigned, str):
        return assigned
    value = request.cookies.get(COOKIE, "")
    return value if 20 <= len(value) <= 64 else None


def assign_device(request: web.Request) -> None:
    """Settle this request's device before its answer is made: the browser's cookie, or a
    new value that `ensure_device_cookie` then sets (a link opened in a fresh browser can
    be bound to that browser by the same request)."""
    request[_ASSIGNED] = _value(request) or secrets.token_urlsafe(24)


def device_of(request: web.Request) -> str | None:
    """The hash of the request's device cookie, or None when it has none."""
    value = _value(request)
    return hashlib.sha256(value.encode()).hexdigest()[:32] if value else None


def ensure_device_cookie(request: web.Request, response: web.StreamResponse, *,
                         max_age: int, secure: bool) -> None:
    """Give a browser opening a visit link its device cookie (kept as long as the visit's).

    One cookie per browser, for the whole site: the link itself (`/join/…`) and the visit's
    pages must see the same device.
    """
    set_strict_cookie(response, COOKIE, _value(request) or secrets.token_urlsafe(24),
                      secure=secure, max_age=max_age)
