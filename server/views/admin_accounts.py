"""Admin pages for accounts: therapists, integrator API keys and the audit log."""

from __future__ import annotations

import re
import time
from datetime import date, timedelta
from urllib.parse import urlencode

from aiohttp import web

from server.auth.api_keys import new_api_key
from server.auth.csrf import require_csrf
from server.auth.passwords import PoolBusy, generate_password, password_problem
from server.auth.policy import ALL_SCOPES, VISIT_SCOPES, Action, KeyScope, parse_scopes, scopes_text

from server.http.errors import ApiError
from server.keys import CLINIC_LOOK, CONFIG, DB, PASSWORDS, VISITS
from server.http.schemas import is_email_address
from server.storage.api_keys import create_api_key, list_api_keys, revoke_api_key
from server.storage import audit_events as audit
from server.storage.events import EventQuery, event_actions, find_events, record_event
from server.storage.users import (
    MAX_BIO,
    MAX_CREDENTIALS,
    create_user,
    list_therapists,
    set_active,
    set_profile,
    user_by_email,
    user_by_id,
)
from server.clinic.images import ImageRefused, photo_image
from server.clinic.upload import read_image_form
from server.storage.clinic_settings import set_user_photo
from server.http.templating import render, see_other
from server.visits.times import parse_iso_time
from server.views.guards import staff_may
from server.visits.visit_input import VisitInputError, clean_name
from signaling.ids import VISIT_ID


def _whole_id(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    if not raw.isdigit() or len(raw) > 12:
        raise ApiError(404, "not_found", "There is nothing at this address.")
    return int(raw)


async def _therapists_page(request: web.Request, *, error: str | None = None,
                           created: dict[str, str] | None = None,
                           values: dict[str, str] | None = None, status: int = 200) -> web.Response:
    return render(request, "admin/therapists.html",
                  {"therapists": await list_therapists(request.app[DB]), "error": error,
                   "created": created, "values": values or {}, "bio_max": MAX_BIO,
                   "credentials_max": MAX_CREDENTIALS}, status=status)


async def therapists(request: web.Request) -> web.StreamResponse:
    """GET /admin/therapists."""
    await staff_may(request, Action.MANAGE_ACCOUNTS)
    return await _therapists_page(request)


async def create_therapist(request: web.Request) -> web.StreamResponse:
    """POST /admin/therapists: a new therapist account; a generated password is shown once."""
    admin = await staff_may(request, Action.MANAGE_ACCOUNTS)
    form = await require_csrf(request)
    email = form.get("email", "").strip()
    try:
        name = clean_name(form.get("name"), "name") or ""
    except VisitInputError as exc:
        return await _therapists_page(request, error=f"Name {exc.message}.", values=form, status=422)
    if not is_email_address(email):
        return await _therapists_page(request, error="Enter a valid email address.", values=form,
                                      status=422)
    password = form.get("password", "")
    shown = None
    if password:
        problem = password_problem(password)
        if problem:
            return await _therapists_page(request, error=f"Password: {problem}", values=form,
                                          status=422)
    else:
        password = shown = generate_password()
    db = request.app[DB]
    if await user_by_email(db, email) is not None:
        return await _therapists_page(request, error="An account with this email exists already.",
                                      values=form, status=409)
    try:
        password_hash = await request.app[PASSWORDS].hash(password)
    except PoolBusy:
        raise ApiError(503, "busy", "The server is busy for a moment. Please try again.") from None
    now = int(time.time())
    async with db.transaction() as conn:
        user_id = await create_user(conn, email=email, name=name, role="therapist",
                                    password_hash=password_hash, now=now)
        await record_event(conn, audit.AccountCreated(user=user_id, role="therapist"),
                           actor=admin.audit, now=now)
    return await _therapists_page(request, created={"email": email, "password": shown or ""},
                                  status=201)


async def set_therapist_active(request: web.Request) -> web.StreamResponse:
    """POST /admin/therapists/{user_id}/deactivate or /activate."""
    admin = await staff_may(request, Action.MANAGE_ACCOUNTS)
    await require_csrf(request)
    user = await user_by_id(request.app[DB], _whole_id(request, "user_id"))
    if user is None or user.role != "therapist":
        raise ApiError(404, "not_found", "There is no therapist with this id.")
    active = request.path.endswith("/activate")
    now = int(time.time())
    async with request.app[DB].transaction() as conn:
        await set_active(conn, user.id, active)
        change = audit.AccountActivated if active else audit.AccountDeactivated
        await record_event(conn, change(user=user.id), actor=admin.audit, now=now)
    if not active:
        await request.app[VISITS].therapist_deactivated(user.id)
    return see_other("/admin/therapists")


def _profile_text(fields: dict[str, str]) -> tuple[str | None, str | None]:
    """The form's credentials and bio, checked (line breaks in the bio folded to spaces);
    raises ValueError with the admin's message."""
    try:
        credentials = clean_name(fields.get("credentials"), "credentials", required=False,
                                 max_length=MAX_CREDENTIALS)
        bio = clean_name(" ".join(fields.get("bio", "").splitlines()), "bio", required=False,
                         max_length=MAX_BIO)
    except VisitInputError as exc:
        raise ValueError(f"{exc.field.capitalize()} {exc.message}.") from None
    return credentials, bio


async def save_profile(request: web.Request) -> web.StreamResponse:
    """POST /admin/therapists/{user_id}/profile (multipart: credentials, bio, photo,
    remove_photo): what her waiting patients see of her. The photo is checked, stripped
    and cropped on the server (`server/clinic/images.py`); a refused post stores nothing."""
    admin = await staff_may(request, Action.MANAGE_ACCOUNTS)
    db = request.app[DB]
    user = await user_by_id(db, _whole_id(request, "user_id"))
    if user is None or user.role != "therapist":
        raise ApiError(404, "not_found", "There is no therapist with this id.")
    try:
        form = await read_image_form(request, "photo")
        credentials, bio = _profile_text(form.fields)
        photo = (await request.app[CLINIC_LOOK].decode(photo_image, form.file)
                 if form.file is not None else None)
    except ImageRefused as refused:
        return await _therapists_page(request, error=f"Photo of {user.name}: {refused.message}",
                                      status=refused.status)
    except ValueError as exc:
        return await _therapists_page(request, error=str(exc), status=422)
    remove = form.fields.get("remove_photo") == "on" and user.photo_version > 0
    fields = [f for f, old, new in (("credentials", user.credentials, credentials),
                                    ("bio", user.bio, bio)) if old != new]
    now = int(time.time())
    async with db.transaction() as conn:
        await set_profile(conn, user.id, credentials=credentials, bio=bio)
        if photo is not None or remove:
            await set_user_photo(conn, user.id, photo.data if photo else None,
                                 photo.content_type if photo else None, now)
            fields.append("photo")
        if fields:
            await record_event(conn, audit.ProfileChanged(user=user.id, fields=fields),
                               actor=admin.audit, now=now)
    return see_other(f"/admin/therapists#therapist-{user.id}")


async def _keys_page(request: web.Request, *, new_key: str | None = None,
                     error: str | None = None, status: int = 200) -> web.Response:
    return render(request, "admin/api_keys.html",
                  {"keys": await list_api_keys(request.app[DB]), "new_key": new_key,
                   "error": error, "scope_label": scope_label,
                   "scope_options": [(k, label) for k, (_, label) in SCOPE_CHOICES.items()]},
                  status=status)


SCOPE_CHOICES: dict[str, tuple[frozenset[KeyScope], str]] = {
    "read": (frozenset({KeyScope.READ}), "read visits only"),
    "create": (frozenset({KeyScope.CREATE}), "create visits only"),
    "create_read": (frozenset({KeyScope.CREATE, KeyScope.READ}), "create and read visits"),
    "all": (VISIT_SCOPES, "read, create and change visits"),
    "patients_read": (frozenset({KeyScope.PATIENTS_READ}), "read patients only"),
    "patients": (frozenset({KeyScope.PATIENTS_READ, KeyScope.PATIENTS_WRITE}),
                 "read, create and change patients"),
    "everything": (ALL_SCOPES, "visits and patients: read, create and change"),
}
"""What the admin picks for a new key (the form's `scopes` field, preselecting the first,
the least power): the scopes each choice gives and its label. `all` is what every key could
do before keys had scopes."""
SCOPE_NAMES: dict[str, str] = {scopes_text(scopes): label
                               for scopes, label in SCOPE_CHOICES.values()}
NO_SCOPES = "nothing (every request refused)"


def scope_label(stored: str) -> str:
    """How the key list shows a key's stored scopes: a choice's label, `NO_SCOPES` when it
    holds none this server knows (every request is refused), else the scopes it holds."""
    scopes = parse_scopes(stored)
    if not scopes:
        return NO_SCOPES
    return SCOPE_NAMES.get(scopes_text(scopes), scopes_text(scopes))


async def api_keys(request: web.Request) -> web.StreamResponse:
    """GET /admin/api-keys."""
    await staff_may(request, Action.MANAGE_API_KEYS)
    return await _keys_page(request)


async def create_key(request: web.Request) -> web.StreamResponse:
    """POST /admin/api-keys: a new key with what it may do (`scopes`), shown this once."""
    admin = await staff_may(request, Action.MANAGE_API_KEYS)
    form = await require_csrf(request)
    try:
        name = clean_name(form.get("name"), "name") or ""
    except VisitInputError as exc:
        return await _keys_page(request, error=f"Name {exc.message}.", status=422)
    # No choice is no key: a missing field must not make a key that may do everything.
    choice = SCOPE_CHOICES.get(form.get("scopes", ""))
    if choice is None:
        return await _keys_page(request, error="Choose what the key may do from the list.",
                                status=422)
    scopes = choice[0]
    key, prefix, key_hash = new_api_key()
    now = int(time.time())
    async with request.app[DB].transaction() as conn:
        key_id = await create_api_key(conn, name=name, prefix=prefix, key_hash=key_hash,
                                      created_by=admin.user.id, now=now,
                                      scopes=scopes_text(scopes))
        await record_event(conn, audit.ApiKeyCreated(api_key=key_id,
                                                     scopes=scopes_text(scopes).split()),
                           actor=admin.audit, now=now)
    return await _keys_page(request, new_key=key, status=201)


async def revoke_key(request: web.Request) -> web.StreamResponse:
    """POST /admin/api-keys/{key_id}/revoke."""
    admin = await staff_may(request, Action.MANAGE_API_KEYS)
    await require_csrf(request)
    key_id = _whole_id(request, "key_id")
    now = int(time.time())
    async with request.app[DB].transaction() as conn:
        if not await revoke_api_key(conn, key_id, now):
            raise ApiError(404, "not_found", "There is no live API key with this id.")
        await record_event(conn, audit.ApiKeyRevoked(api_key=key_id), actor=admin.audit,
                           now=now)
    return see_other("/admin/api-keys")


AUDIT_PAGE_SIZE = 100
_ACTOR = re.compile(r"[a-z_]{1,20}(:[A-Za-z0-9_-]{1,40})?")
_ACTION = re.compile(r"[a-z_]{1,30}(\.[a-z_]{1,30}){0,3}")


def _audit_filter(request: web.Request, name: str, pattern: re.Pattern[str], what: str) -> str | None:
    raw = request.query.get(name, "").strip()
    if not raw:
        return None
    if not pattern.fullmatch(raw):
        raise ApiError(400, "bad_parameter", f"{what} is not valid.")
    return raw


def _audit_time(request: web.Request, name: str, *, end_of_day: bool) -> int | None:
    raw = request.query.get(name, "").strip()
    if not raw:
        return None
    at = parse_iso_time(raw, request.app[CONFIG].tz)
    if at is None:
        raise ApiError(400, "bad_parameter", f"'{name}' must be a date (2030-05-06) or a date "
                       "and time (2030-05-06T10:00).")
    if end_of_day and len(raw) == 10:  # a whole day: up to its end (the next day's start)
        return parse_iso_time((date.fromisoformat(raw) + timedelta(days=1)).isoformat(),
                              request.app[CONFIG].tz)
    return at


async def audit_log(request: web.Request) -> web.StreamResponse:
    """GET /admin/events?visit=&actor=&action=&from=&to=&before=: the audit log, a page at a time."""
    await staff_may(request, Action.READ_AUDIT_LOG)

    before = request.query.get("before", "").strip()
    if before and (not before.isdigit() or len(before) > 12):
        raise ApiError(400, "bad_parameter", "'before' must be an event number.")
    query = EventQuery(
        visit_id=_audit_filter(request, "visit", VISIT_ID, "The visit id"),
        actor=_audit_filter(request, "actor", _ACTOR, "The actor (such as user:3 or api_key:2)"),
        action=_audit_filter(request, "action", _ACTION, "The action"),
        since=_audit_time(request, "from", end_of_day=False),
        until=_audit_time(request, "to", end_of_day=True),
        before_id=int(before) if before else None)
    db = request.app[DB]
    events, more = await find_events(db, query, AUDIT_PAGE_SIZE)
    filters = {k: request.query.get(k, "").strip() for k in ("visit", "actor", "action", "from", "to")}
    shown = {k: v for k, v in filters.items() if v}
    older = (f"/admin/events?{urlencode({**shown, 'before': events[-1].id})}"
             if more and events else None)
    return render(request, "admin/events.html", {
        "events": events, "filters": filters, "actions": await event_actions(db),
        "older": older, "newest": f"/admin/events?{urlencode(shown)}" if before else None,
        "page_size": AUDIT_PAGE_SIZE})
