"""Staff logins: the session cookie and who is signed in (what she may do: server/auth/policy.py)."""


from __future__ import annotations

import secrets
import time
from typing import Awaitable, Callable

from aiohttp import web

from server.auth.cookies import set_strict_cookie
from server.auth.secrets_util import sha256_hex
from server.keys import CONFIG, DB
from server.storage.interface import Connection
from server.storage.users import User, create_session, delete_session, user_for_session

InTransaction = Callable[[Connection], Awaitable[None]]
"""A write that goes in the same transaction as a session's end (a sign-out's audit)."""

COOKIE = "visitroom_staff"
_USER = "staff_user"
_MISSING = object()


async def load_user(request: web.Request) -> User | None:
    """The signed-in staff member for this request, looked up once."""
    cached = request.get(_USER, _MISSING)
    if cached is not _MISSING:
        return cached  # type: ignore[return-value]
    user = None
    value = request.cookies.get(COOKIE)
    if value and len(value) <= 100:
        user = await user_for_session(request.app[DB], sha256_hex(value), int(time.time()))
    request[_USER] = user
    return user


def cached_user(request: web.Request) -> User | None:
    """The user found by an earlier `load_user` on this request, without a lookup."""
    value = request.get(_USER)
    return value if isinstance(value, User) else None


def session_id_hash(request: web.Request) -> str | None:
    """The stored id (`staff_sessions.id_hash`, the hash of the cookie, never the cookie)
    of the session `load_user` found signed in on this request; None when none was."""
    value = request.cookies.get(COOKIE)
    if cached_user(request) is None or not value:
        return None
    return sha256_hex(value)


def login_redirect(request: web.Request) -> web.HTTPSeeOther:
    """A redirect to the login page that comes back here afterwards."""
    target = request.rel_url.path_qs if request.method == "GET" else "/admin"
    return web.HTTPSeeOther(f"/login?{_query('next', target)}")


def _query(key: str, value: str) -> str:
    from urllib.parse import urlencode

    return urlencode({key: value})


async def require_staff(request: web.Request) -> User:
    """The signed-in user; redirect to login when nobody is. What she may do is the access
    policy's to say (`server/views/guards.py` `staff_may`)."""
    user = await load_user(request)
    if user is None:
        raise login_redirect(request)
    return user



async def start_session(request: web.Request, response: web.StreamResponse, user: User, *,
                        also: InTransaction | None = None) -> None:
    """Sign the user in with a brand-new session id (never one the browser brought); the
    session the browser had ends in the same transaction, with `also`."""
    config = request.app[CONFIG]
    old = request.cookies.get(COOKIE)
    value = secrets.token_urlsafe(32)
    now = int(time.time())
    lifetime = config.staff_session_hours * 3600
    async with request.app[DB].transaction() as conn:
        if old:
            await delete_session(conn, sha256_hex(old))
        await create_session(conn, id_hash=sha256_hex(value), user_id=user.id, now=now,
                             expires_at=now + lifetime)
        if also is not None:
            await also(conn)
    # Strict: a link to a staff page from another site (an email, a chat) arrives signed
    # out and goes through the login page; a cross-site request never carries the session.
    set_strict_cookie(response, COOKIE, value, secure=config.secure_cookies, max_age=lifetime)


async def end_session(request: web.Request, response: web.StreamResponse, *,
                      also: InTransaction | None = None) -> None:
    """Sign out: forget the session on the server (with `also`, in one transaction: both
    or neither) and in the browser."""
    value = request.cookies.get(COOKIE)
    if value or also is not None:
        async with request.app[DB].transaction() as conn:
            if value:
                await delete_session(conn, sha256_hex(value))
            if also is not None:
                await also(conn)
    response.del_cookie(COOKIE, path="/")


def safe_next(target: str | None) -> str:
    """A same-site path to go to after login; anything else becomes the dashboard."""
    if (not target or not target.startswith("/") or target.startswith("//")
            or "\\" in target or any(ord(c) < 32 for c in target) or len(target) > 500):
        return "/admin"
    return target
