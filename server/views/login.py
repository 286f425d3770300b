"""Staff sign-in and sign-out, with a lockout after repeated failures."""

from __future__ import annotations

import time

from aiohttp import web

from server.app import CONFIG, DB
from server.auth.csrf import require_csrf, rotate_csrf
from server.auth.passwords import check_password
from server.auth.staff import end_session, load_user, safe_next, start_session
from server.storage.events import record_event
from server.storage.users import clear_login_failures, record_login_failure, user_by_email
from server.templating import render, see_other

MAX_EMAIL = 254


async def login_form(request: web.Request) -> web.StreamResponse:
    """GET /login."""
    if await load_user(request) is not None:
        raise web.HTTPSeeOther(safe_next(request.query.get("next")))
    return render(request, "admin/login.html",
                  {"next": safe_next(request.query.get("next")), "error": None, "email": ""})


async def login(request: web.Request) -> web.StreamResponse:
    """POST /login: check the password, then start a fresh session."""
    form = await require_csrf(request)
    config = request.app[CONFIG]
    db = request.app[DB]
    email = form.get("email", "").strip()[:MAX_EMAIL]
    password = form.get("password", "")[:1024]
    target = safe_next(form.get("next"))
    now = int(time.time())
    user = await user_by_email(db, email) if email else None

    def again(status: int, error: str) -> web.Response:
        return render(request, "admin/login.html",
                      {"next": target, "error": error, "email": email}, status=status)

    if user is not None and user.locked_until > now:
        minutes = max(1, (user.locked_until - now + 59) // 60)
        return again(429, f"Too many failed attempts. This account is locked; try again in "
                          f"{minutes} minute{'s' if minutes != 1 else ''}.")
    password_ok = check_password(user.password_hash if user else None, password)
    if user is None or not password_ok or not user.active:
        if user is not None:
            locked = await record_login_failure(
                db, user.id, now=now, max_failures=config.login_max_failures,
                lockout_seconds=config.login_lockout_minutes * 60)
            async with db.transaction() as conn:
                await record_event(conn, actor=f"user:{user.id}",
                                   action="login.locked" if locked else "login.failed", now=now)
            if locked:
                return again(429, "Too many failed attempts. This account is locked for "
                                  f"{config.login_lockout_minutes} minutes.")
        return again(401, "The email or password is not right.")
    async with db.transaction() as conn:
        await clear_login_failures(conn, user.id)
        await record_event(conn, actor=f"user:{user.id}", action="login.succeeded", now=now)
    response = see_other(target)
    await start_session(request, response, user)
    rotate_csrf(request)
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    """POST /logout."""
    await require_csrf(request)
    response = see_other("/login")
    await end_session(request, response)
    return response
