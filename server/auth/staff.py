"""Staff logins: the session cookie, who is signed in, and role checks for pages."""

from __future__ import annotations

import secrets
import time

from aiohttp import web

from server.auth.cookies import set_strict_cookie
from server.auth.secrets_util import sha256_hex
from server.http.errors import ApiError
from server.keys import CONFIG, DB
from server.storage.users import User, create_session, delete_session, user_for_session

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


def login_redirect(request: web.Request) -> web.HTTPSeeOther:
    """A redirect to the login page that comes back here afterwards."""
    target = request.rel_url.path_qs if request.method == "GET" else "/admin"
    return web.HTTPSeeOther(f"/login?{_query('next', target)}")


def _query(key: str, value: str) -> str:
    from urllib.parse import urlencode

    return urlencode({key: value})


async def require_staff(request: web.Request, role: str | None = None) -> User:
    """The signed-in user; redirect to login when nobody is, 403 when the role is wrong."""
    user = await load_user(request)
    if user is None:
        raise login_redirect(request)
    if role is not None and user.role != role:
        raise ApiError(403, "forbidden", "Your account cannot open this page.")
    return user


async def start_session(request: web.Request, response: web.StreamResponse, user: User) -> None:
    """Sign the user in with a brand-new session id (never one the browser brought)."""
    config = request.app[CONFIG]
    old = request.cookies.get(COOKIE)
    if old:
        await delete_session(request.app[DB], sha256_hex(old))
    value = secrets.token_urlsafe(32)
    now = int(time.time())
    lifetime = config.staff_session_hours * 3600
    async with request.app[DB].transaction() as conn:
        await create_session(conn, id_hash=sha256_hex(value), user_id=user.id, now=now,
                             expires_at=now + lifetime)
    # Strict: a link to a staff page from another site (an email, a chat) arrives signed
    # out and goes through the login page; a cross-site request never carries the session.
    set_strict_cookie(response, COOKIE, value, secure=config.secure_cookies, max_age=lifetime)


async def end_session(request: web.Request, response: web.StreamResponse) -> None:
    """Sign out: forget the session on the server and in the browser."""
    value = request.cookies.get(COOKIE)
    if value:
        await delete_session(request.app[DB], sha256_hex(value))
    response.del_cookie(COOKIE, path="/")


def safe_next(target: str | None) -> str:
    """A same-site path to go to after login; anything else becomes the dashboard."""
    if (not target or not target.startswith("/") or target.startswith("//")
            or "\\" in target or any(ord(c) < 32 for c in target) or len(target) > 500):
        return "/admin"
    return target
