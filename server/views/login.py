"""Staff sign-in and sign-out, throttled per address, server-wide and (last) per account.

Order of a sign-in: the client address may try (else 429), the server may check one more
password (else 429), the account or unknown email reserves an attempt (else 429, the same
answer for both), then the password is checked in the hashing pool, off the event loop.
A locked account still lets its owner in from an address she signed in from lately, so
failures from elsewhere can slow an attacker but never keep the clinic's admin out.
"""

from __future__ import annotations

import math
import time

from aiohttp import web

from server.auth.client_address import client_ip, throttle_key, trusted_proxy_set
from server.auth.csrf import require_csrf, rotate_csrf
from server.auth.passwords import PoolBusy
from server.auth.secrets_util import audit_tag
from server.auth.staff import end_session, load_user, safe_next, start_session
from server.keys import AUDIT_SECRET, CONFIG, DB, LOGIN_THROTTLE, PASSWORDS
from server.http.schemas import MAX_EMAIL_LENGTH
from server.storage.events import record_event
from server.storage.login_unknown import (
    fail_unknown_attempt,
    release_unknown_attempt,
    reserve_unknown_attempt,
)
from server.storage.users import (
    fail_login_attempt,
    release_login_attempt,
    remember_login_address,
    reserve_login_attempt,
    signed_in_from,
    succeed_login_attempt,
    user_by_email,
    user_by_id,
)
from server.http.templating import render, see_other

_EMAIL = "login_email"
_TARGET = "login_next"
KNOWN_ADDRESS_DAYS = 30
"""An address an account signed in from within this many days may still try while it is locked."""
ANONYMOUS = "anonymous"
"""Audit actor of a sign-in attempt for an email that has no account."""


async def login_form(request: web.Request) -> web.StreamResponse:
    """GET /login."""
    if await load_user(request) is not None:
        raise web.HTTPSeeOther(safe_next(request.query.get("next")))
    return render(request, "admin/login.html",
                  {"next": safe_next(request.query.get("next")), "error": None, "email": ""})


def _minutes(seconds: float) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


async def _audit(request: web.Request, *, actor: str, action: str,
                 detail: dict[str, object] | None = None) -> None:
    async with request.app[DB].transaction() as conn:
        await record_event(conn, actor=actor, action=action, now=int(time.time()),
                           detail=detail)


def _again(request: web.Request, status: int, error: str,
           retry_after: float | None = None) -> web.Response:
    """The login page again, with the email typed and an error."""
    response = render(request, "admin/login.html",
                      {"next": request[_TARGET], "error": error, "email": request[_EMAIL]},
                      status=status)
    if retry_after is not None:
        response.headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return response


def _locked(request: web.Request, wait: float) -> web.Response:
    # One answer for an address that must wait, a locked account and a "locked" email
    # without an account: the answer never tells whether an account exists.
    return _again(request, 429, "Too many failed sign-in attempts: signing in is locked for "
                  f"now. Try again in {_minutes(wait)}.", wait)


def _busy(request: web.Request, wait: float) -> web.Response:
    return _again(request, 429, "Many people are signing in right now. Try again in a minute.",
                  wait)


async def login(request: web.Request) -> web.StreamResponse:
    """POST /login: check the password, then start a fresh session."""
    form = await require_csrf(request)
    config = request.app[CONFIG]
    throttle = request.app[LOGIN_THROTTLE]
    request[_EMAIL] = form.get("email", "").strip()[:MAX_EMAIL_LENGTH]
    request[_TARGET] = safe_next(form.get("next"))
    now = time.time()
    address = throttle_key(client_ip(request, trusted_proxy_set(config.trusted_proxies)))
    wait = throttle.reserve_address(address, now)
    if wait is not None:
        if throttle.first_refusal(address, now):
            tag = audit_tag(request.app[AUDIT_SECRET], address)
            await _audit(request, actor=ANONYMOUS, action="login.throttled",
                         detail={"scope": "address", "address_tag": tag})
        return _locked(request, wait)
    failed = False
    try:
        wait = throttle.take_global(now)
        if wait is not None:
            if throttle.first_global_refusal(now):
                await _audit(request, actor=ANONYMOUS, action="login.throttled",
                             detail={"scope": "server"})
            return _busy(request, wait)
        failed, response = await _check(request, form.get("password", "")[:1024], address)
        return response
    finally:
        throttle.release_address(address, failed=failed, now=time.time())


async def _check(request: web.Request, password: str,
                 address: str) -> tuple[bool, web.StreamResponse]:
    """Reserve, check and settle one attempt; (whether it failed, the answer)."""
    config = request.app[CONFIG]
    db = request.app[DB]
    email: str = request[_EMAIL]
    lockout = config.login_lockout_minutes * 60
    now = int(time.time())
    user = await user_by_email(db, email) if email else None
    tag = audit_tag(request.app[AUDIT_SECRET], email.casefold())
    address_tag = audit_tag(request.app[AUDIT_SECRET], address)
    owners_address = False
    # An unknown email is counted in the database as an account is, so every process of a
    # group shares one count and the answer never tells whether the account exists.
    if user is None:
        locked_until = await reserve_unknown_attempt(db, tag, now=now,
                                                     max_failures=config.login_max_failures)
        if locked_until is not None:
            return True, _locked(request, locked_until - now if locked_until > now else 60)
    else:
        locked_until = await reserve_login_attempt(db, user.id, now=now,
                                                   max_failures=config.login_max_failures)
        if locked_until is not None:
            # A lock must not keep the account's owner out: from an address she signed in
            # from lately she may still try, as limited as any address is.
            owners_address = locked_until > now and await signed_in_from(
                db, user.id, address_tag, now - KNOWN_ADDRESS_DAYS * 86400)
            if not owners_address:
                return True, _locked(request, locked_until - now if locked_until > now else 60)
    reserved = user is not None and not owners_address
    try:
        password_ok = await request.app[PASSWORDS].check(user.password_hash if user else None,
                                                          password)
    except BaseException as exc:
        # An attempt reserved but never checked is given back, or it would count for ever.
        if user is None:
            await release_unknown_attempt(db, tag)
        elif reserved:
            await release_login_attempt(db, user.id)
        if isinstance(exc, PoolBusy):
            return True, _busy(request, 60)
        raise
    now = int(time.time())
    if user is None or not password_ok or not user.active:
        if user is None:
            now_locked = await fail_unknown_attempt(
                db, tag, now=now, max_failures=config.login_max_failures,
                lockout_seconds=lockout)
            # The email itself is never stored: people type passwords into that box. The
            # keyed tag lets the log show repeated attempts at one email, and nothing more.
            actor, detail = ANONYMOUS, {"email_tag": tag}
        else:
            now_locked = not owners_address and await fail_login_attempt(
                db, user.id, now=now, max_failures=config.login_max_failures,
                lockout_seconds=lockout)
            actor, detail = f"user:{user.id}", None
        await _audit(request, actor=actor, action="login.locked" if now_locked else "login.failed",
                     detail=detail)
        if now_locked:
            return True, _locked(request, lockout)
        return True, _again(request, 401, "The email or password is not right.")
    async with db.transaction() as conn:
        # From her own address she signs in while the lock stays for everyone else.
        signed_in = owners_address or await succeed_login_attempt(conn, user.id, now=now)
        await record_event(conn, actor=f"user:{user.id}",
                           action="login.succeeded" if signed_in else "login.refused",
                           now=now, detail=({"while_locked": True} if owners_address else None)
                           if signed_in else {"reason": "locked"})
        if signed_in:
            await remember_login_address(conn, user.id, address_tag, now)
    if not signed_in:
        # Another attempt locked the account while this one was being checked.
        current = await user_by_id(db, user.id)
        return True, _locked(request, max(60, (current.locked_until if current else now) - now))
    response = see_other(request[_TARGET])
    await start_session(request, response, user)
    rotate_csrf(request)
    return False, response


async def logout(request: web.Request) -> web.StreamResponse:
    """POST /logout."""
    await require_csrf(request)
    response = see_other("/login")
    await end_session(request, response)
    return response
