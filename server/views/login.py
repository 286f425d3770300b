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
from msgspec import UNSET, UnsetType



from server.auth.client_address import client_ip, throttle_key, trusted_proxy_set
from server.auth.csrf import require_csrf, rotate_csrf
from server.auth.device import device_of
from server.auth.passwords import PoolBusy
from server.auth.secrets_util import audit_tag
from server.auth.staff import end_session, load_user, safe_next, session_id_hash, start_session
from server.keys import AUDIT_SECRET, CONFIG, DB, LOGIN_THROTTLE, PASSWORDS, VISITS
from server.http.schemas import MAX_EMAIL_LENGTH
from server.storage import audit_events as audit
from server.storage.events import record_event
from server.storage.login_unknown import (
    fail_unknown_attempt,
    release_unknown_attempt,
    reserve_unknown_attempt,
)
from server.storage.users import (
    User,
    fail_login_attempt,
    release_login_attempt,
    remember_login_address,
    reserve_login_attempt,
    signed_in_from,
    succeed_login_attempt,
    user_by_email,
    user_by_id,
)
from server.visits.sign_out import SignOut
from server.http.i18n import N_, fill_plural, translate
from server.http.templating import render, request_language, see_other

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


async def _audit(request: web.Request, event: audit.AuditEvent, *, actor: str) -> None:
    async with request.app[DB].transaction() as conn:
        await record_event(conn, event, actor=actor, now=int(time.time()))


def _again(request: web.Request, status: int, error: str,
           retry_after: float | None = None) -> web.Response:
    """The login page again, with the email typed and an error (a message id, or a message
    already in the page's language)."""
    error = translate(request_language(request), error)
    response = render(request, "admin/login.html",
                      {"next": request[_TARGET], "error": error, "email": request[_EMAIL]},
                      status=status)
    if retry_after is not None:
        response.headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return response


def _locked(request: web.Request, wait: float) -> web.Response:
    # One answer for an address that must wait, a locked account and a "locked" email
    # without an account: the answer never tells whether an account exists.
    message = fill_plural(
        request_language(request),
        "Too many failed sign-in attempts: signing in is locked for now. Try again in {n} minute.",
        "Too many failed sign-in attempts: signing in is locked for now. Try again in {n} minutes.",
        max(1, math.ceil(wait / 60)))
    return _again(request, 429, message, wait)


def _busy(request: web.Request, wait: float) -> web.Response:
    return _again(request, 429, N_("Many people are signing in right now. Try again in a minute."),
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
            await _audit(request, audit.LoginThrottled(scope="address", address_tag=tag),
                         actor=ANONYMOUS)
        return _locked(request, wait)
    failed = False
    try:
        wait = throttle.take_global(now)
        if wait is not None:
            if throttle.first_global_refusal(now):
                await _audit(request, audit.LoginThrottled(scope="server"), actor=ANONYMOUS)
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
        email_tag: str | UnsetType
        if user is None:
            now_locked = await fail_unknown_attempt(
                db, tag, now=now, max_failures=config.login_max_failures,
                lockout_seconds=lockout)
            # The email itself is never stored: people type passwords into that box. The
            # keyed tag lets the log show repeated attempts at one email, and nothing more.
            actor, email_tag = ANONYMOUS, tag
        else:
            now_locked = not owners_address and await fail_login_attempt(
                db, user.id, now=now, max_failures=config.login_max_failures,
                lockout_seconds=lockout)
            actor, email_tag = audit.by_user(user.id), UNSET
        failed = audit.LoginLocked if now_locked else audit.LoginFailed
        await _audit(request, failed(email_tag=email_tag), actor=actor)
        if now_locked:
            return True, _locked(request, lockout)
        return True, _again(request, 401, N_("The email or password is not right."))
    async with db.transaction() as conn:
        # From her own address she signs in while the lock stays for everyone else.
        signed_in = owners_address or await succeed_login_attempt(conn, user.id, now=now)
        event: audit.AuditEvent = audit.LoginRefused(reason="locked")
        if signed_in:
            event = audit.LoginSucceeded(while_locked=True) if owners_address \
                else audit.LoginSucceeded()
        await record_event(conn, event, actor=audit.by_user(user.id), now=now)

        if signed_in:
            await remember_login_address(conn, user.id, address_tag, now)
    if not signed_in:
        # Another attempt locked the account while this one was being checked.
        current = await user_by_id(db, user.id)
        return True, _locked(request, max(60, (current.locked_until if current else now) - now))
    response = see_other(request[_TARGET])
    previous = await load_user(request)
    # Signing in as another account ends the one before on this browser: a sign-out. The
    # same account signing in again keeps her sockets (docs/security.md T46).
    leaving = await _signing_out(request, previous) \
        if previous is not None and previous.id != user.id else None
    await start_session(request, response, user, also=leaving.record if leaving else None)
    if leaving is not None:
        await request.app[VISITS].staff_signed_out(leaving)
    rotate_csrf(request)
    return False, response


async def _signing_out(request: web.Request, user: User | None) -> SignOut | None:
    """What ending this browser's session of `user` needs, read before it ends (None when
    nobody is signed in): a busy database then leaves the session as it was."""
    session = session_id_hash(request)
    if user is None or session is None:
        return None
    return await request.app[VISITS].staff_signing_out(user.id, device_of(request), session)


async def logout(request: web.Request) -> web.StreamResponse:
    """POST /logout: end the session, and close her host sockets on this browser."""
    await require_csrf(request)
    leaving = await _signing_out(request, await load_user(request))
    response = see_other("/login")
    # The session's end and its audit commit together; the sockets close after that.
    await end_session(request, response, also=leaving.record if leaving else None)
    if leaving is not None:
        await request.app[VISITS].staff_signed_out(leaving)
    return response
