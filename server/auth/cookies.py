"""How Visitroom sets a cookie, written once: HttpOnly (no script reads it), SameSite=Strict
(no request from another site carries it) and Secure when the site is served over HTTPS.
The session, device, CSRF and visit cookies differ only in name, path and lifetime."""

from __future__ import annotations

from aiohttp import web


def set_strict_cookie(response: web.StreamResponse, name: str, value: str, *, secure: bool,
                      path: str = "/", max_age: int | None = None) -> None:
    """Set `name` on the response with Visitroom's cookie settings (a session cookie when
    `max_age` is None)."""
    response.set_cookie(name, value, path=path, httponly=True, samesite="Strict", secure=secure,
                        max_age=max_age)
