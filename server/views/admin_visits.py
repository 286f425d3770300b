"""Admin and therapist pages for visits: lists, create form, detail, cancel, re-issue, invite."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from aiohttp import web

from server.auth.csrf import require_csrf
from server.auth.policy import Action, StaffActor, allowed
from server.auth.scopes import VISIT
from server.http.errors import ApiError
from server.visits.ics import visit_invite
from server.keys import CARE, CONFIG, DB, LIBRARY, ROUTER, VISITS
from server.http.schemas import MAX_MINUTES
from server.visits.program import visit_program
from server.storage.chat import kept_chat
from server.storage.events import events_for_visit
from server.storage.users import list_therapists
from server.storage.links import live_link
from server.storage.visits import Visit, list_visits, set_late_note as store_late_note
from server.http.templating import render, see_other
from server.views.admin_patients import dashboard_flags, dashboard_messages
from server.views.guards import staff_may, staff_visit
from server.visits.visit_input import KIND_MINUTES, VisitInputError, parse_visit_request
from server.visits.service import VisitStateError
from signaling.protocol import LATE_MINUTES
from signaling.seat import RunningLate

PAST_DAYS = 30
LATE_NOTE_AHEAD_SECONDS = 12 * 3600
"""How long before a visit's start its therapist may say she is running late."""


def _day_bounds(request: web.Request, now: int) -> tuple[int, int]:
    tz = request.app[CONFIG].tz
    today = datetime.fromtimestamp(now, tz).replace(hour=0, minute=0, second=0, microsecond=0)
    return int(today.timestamp()), int((today + timedelta(days=1)).timestamp())


async def live_statuses(request: web.Request, visits: list[Visit]) -> dict[str, str]:
    """What is happening now, by visit id: scheduled, waiting (someone knocks), in_call,
    ended, cancelled; the rooms may live in other processes, so the router answers."""
    rooms = await request.app[ROUTER].live_states([v.id for v in visits if v.status == "scheduled"])

    def shown(visit: Visit) -> str:
        if visit.status != "scheduled":
            return visit.status
        state = rooms.get(visit.id, "idle")
        return "scheduled" if state == "idle" else state

    return {v.id: shown(v) for v in visits}


async def _mine(actor: StaffActor) -> int | None:
    """The therapist whose visits a list shows: None for an account that may list every visit."""
    return None if await allowed(actor, Action.LIST_VISITS) else actor.user.id


async def _today(request: web.Request, actor: StaffActor) -> list[Visit]:
    day_start, day_end = _day_bounds(request, int(time.time()))
    return await list_visits(request.app[DB], start=day_start, end=day_end,
                             therapist_id=await _mine(actor))


async def live_json(request: web.Request) -> web.StreamResponse:
    """GET /admin/live.json: today's visits with their live status, for the dashboard, and
    for a visit with someone waiting, since when (`waiting_since`, unix time) the first waits."""
    actor = await staff_may(request, Action.VIEW_VISIT)
    visits = await _today(request, actor)
    live = await live_statuses(request, visits)
    details = await request.app[ROUTER].live_details(
        [v.id for v in visits if live[v.id] == "waiting"])
    since = {v: d.waiting_since for v, d in details.items() if d.waiting_since is not None}
    return web.json_response({"visits": [
        {"id": v.id, "status": v.status, "live": live[v.id],
         **({"waiting_since": since[v.id]} if v.id in since else {})} for v in visits]})


async def dashboard(request: web.Request) -> web.StreamResponse:
    """GET /admin: today's, upcoming and recent visits (a therapist sees her own)."""
    actor = await staff_may(request, Action.VIEW_VISIT)
    now = int(time.time())
    day_start, day_end = _day_bounds(request, now)
    mine = await _mine(actor)
    db = request.app[DB]
    today = await _today(request, actor)
    call_links = {}
    for visit in today:
        therapist = visit.participant("therapist")
        if therapist and visit.status == "scheduled" \
                and await allowed(actor, Action.HOST_VISIT, visit):
            call_links[visit.id] = await request.app[VISITS].link(therapist)
    sections = [
        ("Today", today),
        ("Upcoming", await list_visits(db, start=day_end, therapist_id=mine, limit=200)),
        ("Past 30 days", list(reversed(await list_visits(
            db, start=day_start - PAST_DAYS * 86400, end=day_start, therapist_id=mine)))),
    ]
    return render(request, "admin/dashboard.html",
                  {"sections": sections, "now": now, "call_links": call_links,
                   "late_minutes": LATE_MINUTES, "late_ahead": LATE_NOTE_AHEAD_SECONDS,
                   "live": await live_statuses(request, today),
                   "flags": await dashboard_flags(request, actor),
                   "unread_messages": await dashboard_messages(request, actor),
                   "notice": request.query.get("done")})


async def _form_page(request: web.Request, values: dict[str, str], error: VisitInputError | None,
                     status: int = 200) -> web.Response:
    therapists = [t for t in await list_therapists(request.app[DB]) if t.active]
    patient = await request.app[CARE].patient(values.get("patient_id", ""))
    return render(request, "admin/visit_new.html",
                  {"values": values, "error": error, "therapists": therapists,
                   "patient": patient,
                   "kinds": KIND_MINUTES, "max_minutes": MAX_MINUTES}, status=status)


async def new_visit_form(request: web.Request) -> web.StreamResponse:
    """GET /admin/visits/new[?patient_id=]: with a patient, the visit is hers (and joins
    her active plan)."""
    await staff_may(request, Action.CREATE_VISIT)
    patient_id = request.query.get("patient_id", "")
    return await _form_page(request, {"patient_id": patient_id} if patient_id else {}, None)


async def create_visit(request: web.Request) -> web.StreamResponse:
    """POST /admin/visits: create from the form, then show the new visit."""
    actor = await staff_may(request, Action.CREATE_VISIT)
    form = await require_csrf(request)
    try:
        visit_request = parse_visit_request(form, request.app[CONFIG])
        visit = await request.app[VISITS].create(visit_request, actor=actor.audit)
    except VisitInputError as exc:
        return await _form_page(request, form, exc, status=422)
    return see_other(f"/admin/visits/{visit.id}")


async def visit_detail(request: web.Request) -> web.StreamResponse:
    """GET /admin/visits/{visit_id}: links, actions, invite, kept chat and audit trail."""
    actor = await staff_may(request, Action.VIEW_VISIT)
    visit = await staff_visit(request, actor, Action.VIEW_VISIT)
    service = request.app[VISITS]
    links = {p.id: await service.link(p) for p in visit.participants}
    revoked = {p.id for p in visit.participants
               if not await live_link(request.app[DB], VISIT.name, p.id, p.jti, visit.id)}
    events = await events_for_visit(request.app[DB], visit.id)
    library = request.app[LIBRARY]
    program = [(a, library.exercises.get(a.exercise)) for a in await visit_program(request.app[DB], visit)]
    chat = await kept_chat(request.app[DB], visit.id, keeping=request.app[CONFIG].chat_store)
    return render(request, "admin/visit_detail.html",
                  {"visit": visit, "links": links, "revoked": revoked, "events": events,
                   "program": program, "chat": chat,
                   "notice": request.query.get("done")})


async def cancel_visit(request: web.Request) -> web.StreamResponse:
    """POST /admin/visits/{visit_id}/cancel."""
    actor = await staff_may(request, Action.CANCEL_VISIT)
    await require_csrf(request)
    visit = await staff_visit(request, actor, Action.CANCEL_VISIT)
    try:
        await request.app[VISITS].cancel(visit, actor=actor.audit)
    except VisitStateError as exc:
        raise ApiError(409, "conflict", f"This visit cannot be cancelled: {exc}.") from None
    return see_other(f"/admin/visits/{visit.id}?done=cancelled")


async def set_late_note(request: web.Request) -> web.StreamResponse:
    """POST /admin/visits/{visit_id}/late-note (form `minutes`: one of LATE_MINUTES, or
    empty to clear): the therapist tells whoever waits for one of her visits that she is
    running late, from her dashboard, while she is elsewhere (another visit's call). Stored
    with the visit; waiting pages read it at their next question (within 20 s), the room
    for its next `presence`."""
    actor = await staff_may(request, Action.HOST_VISIT)
    form = await require_csrf(request)
    visit = await staff_visit(request, actor, Action.HOST_VISIT)
    chosen = form.get("minutes", "")
    choices: dict[str, int | None] = {"": None, **{str(m): m for m in LATE_MINUTES}}
    if chosen not in choices:
        raise ApiError(400, "bad_field", "Choose how late you are from the list.")
    now = int(time.time())
    if visit.status != "scheduled" or visit.ends_at <= now:
        raise ApiError(409, "conflict", "This visit is over: nobody waits for it.")
    if visit.starts_at - now > LATE_NOTE_AHEAD_SECONDS:
        # The note says only the time of day it was set: one set days ahead reads as today's.
        raise ApiError(409, "conflict", "Say you are late on the day of the visit.")
    minutes = choices[chosen]
    await store_late_note(request.app[DB], visit.id,
                          None if minutes is None else RunningLate(minutes, now))
    return see_other("/admin")


async def reissue_link(request: web.Request) -> web.StreamResponse:
    """POST /admin/visits/{visit_id}/participants/{participant}/reissue."""
    return await _change_link(request, Action.REISSUE_LINK)


async def revoke_link(request: web.Request) -> web.StreamResponse:
    """POST /admin/visits/{visit_id}/participants/{participant}/revoke."""
    return await _change_link(request, Action.REVOKE_LINK)


async def _change_link(request: web.Request, action: Action) -> web.StreamResponse:
    actor = await staff_may(request, action)
    await require_csrf(request)
    visit = await staff_visit(request, actor, action)
    service = request.app[VISITS]
    reissue = action is Action.REISSUE_LINK
    done = "reissued" if reissue else "revoked"
    change = service.reissue if reissue else service.revoke
    try:
        await change(visit, request.match_info["participant"], actor=actor.audit)
    except VisitInputError:
        raise ApiError(404, "not_found", "There is no such participant in this visit.") from None
    except VisitStateError as exc:
        raise ApiError(409, "conflict", f"This link cannot be changed: {exc}.") from None
    return see_other(f"/admin/visits/{visit.id}?done={done}")


async def invite(request: web.Request) -> web.StreamResponse:
    """GET /admin/visits/{visit_id}/invite.ics?role=patient|therapist."""
    actor = await staff_may(request, Action.VIEW_VISIT)
    visit = await staff_visit(request, actor, Action.VIEW_VISIT)

    role = request.query.get("role", "patient")
    participant = visit.participant(role)
    if participant is None:
        raise ApiError(400, "bad_role", "role must be patient or therapist.")
    link = await request.app[VISITS].link(participant)
    host = request.app[CONFIG].public_url.split("://", 1)[1]
    body = visit_invite(
        uid=f"{visit.id}-{role}@{host}", starts_at=visit.starts_at, ends_at=visit.ends_at,
        now=int(time.time()), summary="Physical therapy video visit",
        description=f"Join your video visit with this link: {link}\n"
                    "Use a phone or computer with a camera. Open the link a few minutes early "
                    "to check your camera and microphone.",
        url=link)
    return web.Response(body=body.encode("utf-8"), content_type="text/calendar", charset="utf-8",
                        headers={"Content-Disposition":
                                 f'attachment; filename="visit-{visit.id}-{role}.ics"'})
