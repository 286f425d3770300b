"""The admin's view of the outbox: how many messages of each status, the dead ones (newest
first) with their kind, patient id, attempts and last error's class, and a button that
sends a dead one again. Never a recipient, a subject or a body."""

from __future__ import annotations

import re
import time

from aiohttp import web

from server.auth.csrf import require_csrf
from server.auth.policy import Action
from server.http.errors import ApiError, json_error
from server.http.query_params import query_value
from server.http.templating import render, see_other
from server.keys import CONFIG, DB, OUTBOX
from server.mail.addresses import KEY
from server.storage.outbox import STATUSES, count_messages, list_dead, resend_dead
from server.views.guards import staff_may

PAGE_SIZE = 50
MAX_PAGE = 1000


def _page(request: web.Request) -> int:
    page = query_value(request, "page", max_length=4)
    if page is not None and re.fullmatch(r"[1-9][0-9]{0,3}", page) is None:
        raise ApiError(400, "bad_parameter", f"page must be a number, 1 to {MAX_PAGE}.")
    number = int(page) if page else 1
    if number > MAX_PAGE:
        raise ApiError(400, "bad_parameter", f"page must be a number, 1 to {MAX_PAGE}.")
    return number


async def outbox_page(request: web.Request) -> web.StreamResponse:
    """GET /admin/outbox?page=: counts by status and the dead messages, newest first."""
    await staff_may(request, Action.MANAGE_OUTBOX)
    page = _page(request)
    db = request.app[DB]
    dead = await list_dead(db, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    runner = request.app.get(OUTBOX)
    return render(request, "admin/outbox.html", {
        "counts": await count_messages(db), "statuses": STATUSES, "dead": dead[:PAGE_SIZE],
        "sending": runner is not None and runner.sending,
        "smtp_host": request.app[CONFIG].smtp_host,
        "resent": request.query.get("resent") == "1",
        "older": f"/admin/outbox?page={page + 1}" if len(dead) > PAGE_SIZE else None,
        "newer": (f"/admin/outbox?page={page - 1}" if page > 2 else "/admin/outbox")
        if page > 1 else None})


async def outbox_json(request: web.Request) -> web.StreamResponse:
    """GET /admin/outbox.json?page=: the same counts and dead messages as JSON."""
    await staff_may(request, Action.MANAGE_OUTBOX)
    try:
        page = _page(request)
    except ApiError as exc:
        return json_error(exc.status, exc.code, exc.message)
    db = request.app[DB]
    dead = await list_dead(db, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    runner = request.app.get(OUTBOX)
    return web.json_response({
        "counts": await count_messages(db), "sending": runner is not None and runner.sending,
        "page": page, "more": len(dead) > PAGE_SIZE,
        "dead": [{"key": m.key, "kind": m.kind, "patient_id": m.patient_id,
                  "attempts": m.attempts, "max_attempts": m.max_attempts,
                  "last_error": m.last_error, "last_error_at": m.last_error_at,
                  "created_at": m.created_at} for m in dead[:PAGE_SIZE]]})


async def resend(request: web.Request) -> web.StreamResponse:
    """POST /admin/outbox/resend (form: key): queue a dead message again, due now."""
    await staff_may(request, Action.MANAGE_OUTBOX)
    form = await require_csrf(request)
    key = form.get("key", "")
    if KEY.fullmatch(key) is None or not await resend_dead(request.app[DB], key,
                                                             int(time.time())):
        raise ApiError(404, "not_found", "There is no dead message with this key.")
    runner = request.app.get(OUTBOX)
    if runner is not None:
        runner.wake()
    return see_other("/admin/outbox?resent=1")
