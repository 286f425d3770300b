"""Opening a visit link and the visit page it leads to."""

from __future__ import annotations

import time
from functools import partial
from urllib.parse import urlencode

from aiohttp import web

from server.auth.access import require_access
from server.auth.device import assign_device, device_of, ensure_device_cookie
from server.auth.tokens import LinkProblem, LinkRefused
from server.auth.visit_session import COOKIE as VISIT_COOKIE
from server.auth.visit_session import (
    participant_from_cookie,
    program_seconds,
    set_visit_cookie,
    verify_visit_link,
)
from server.http.error_pages import error_response
from server.http.i18n import N_, fill, format_time, translate
from server.keys import CONFIG, DB
from server.library.fields import DOSE_LIMITS
from server.clinic.profile import therapist_card
from server.http.schemas import MAX_NOTE
from signaling.protocol import LATE_MINUTES, MAX_CHAT_CHARS
from server.storage import audit_events as audit
from server.storage.events import record_event
from server.http.templating import render, request_language, see_other
from server.views.language import speak_to_participant

_REFUSALS: dict[LinkProblem, tuple[int, str, str]] = {
    LinkProblem.MALFORMED: (401, N_("Link not valid"),
                               N_("This link is damaged or incomplete. Copy the whole link "
                                  "from your invitation, or ask the clinic to send it again.")),
    LinkProblem.BAD_SIGNATURE: (401, N_("Link not valid"),
                                   N_("This link was not issued by this clinic or has been "
                                      "altered. Ask the clinic to send it again.")),
    LinkProblem.UNKNOWN_KEY: (401, N_("Link not valid"),
                                 N_("This link was not issued by this clinic. Ask the clinic "
                                    "to send it again.")),
    LinkProblem.WRONG_AUDIENCE: (401, N_("Link not valid"),
                                    N_("This is not a visit link.")),
    LinkProblem.WRONG_ISSUER: (401, N_("Link not valid"),
                                  N_("This link was issued by another server.")),
    LinkProblem.WRONG_VISIT: (403, N_("Link for another visit"),
                                 N_("This link belongs to a different visit. Use the link from"
                                    " the invitation for this visit.")),
    LinkProblem.EXPIRED: (401, N_("Link expired"),
                             N_("This visit is over and its link no longer works. Contact the "
                                "clinic if you need a new appointment.")),
    LinkProblem.REVOKED: (403, N_("Link no longer valid"),
                             N_("This link was replaced by a newer one or withdrawn by the "
                                "clinic. Use the most recent link the clinic sent you.")),
    LinkProblem.CANCELLED: (403, N_("Visit cancelled"),
                               N_("This visit was cancelled. Contact the clinic to book a new "
                                  "time.")),
    LinkProblem.ACCOUNT_INACTIVE: (403, N_("Account not active"),
                                      N_("The staff account this link belongs to is no longer "
                                         "active. Ask the clinic's admin.")),
    LinkProblem.STAFF_SIGN_IN: (401, N_("Sign in to open this visit"),
                                   N_("This visit is booked with a staff account. Sign in with"
                                      " it, then open the link again.")),
    LinkProblem.WRONG_ACCOUNT: (403, N_("Signed in as someone else"),
                                   N_("This visit is booked with another staff account. Sign "
                                      "out, then open the link again and sign in as the "
                                      "therapist the visit is booked with.")),
    LinkProblem.LINK_IN_USE: (403, N_("Link already in use"),
                                 N_("This link is already open on another device and works "
                                    "only there. Ask the clinic for a new link.")),
}


def refusal_page(request: web.Request, refused: LinkRefused) -> web.Response:
    """The page that explains why a visit link did not open."""
    if refused.problem is LinkProblem.NOT_YET_VALID:
        config = request.app[CONFIG]
        language = request_language(request)
        opens = refused.opens_at or 0
        message = fill(partial(translate, language),
                       N_("Your visit opens at {time} on {day} ({zone}). Open this link again "
                          "then."),
                       time=format_time(opens, config.tz, language, "time"),
                       day=format_time(opens, config.tz, language, "day"), zone=config.timezone)
        return error_response(request, 403, "not_yet_open", message, title=N_("Not open yet"))
    if refused.problem is LinkProblem.STAFF_SIGN_IN:
        # A visit page (never /join: its query holds the token) comes back here after sign-in.
        return see_other(sign_in_then(request.rel_url.path))
    status, title, message = _REFUSALS[refused.problem]
    return error_response(request, status, refused.problem.value, message, title=title)


def sign_in_then(path: str) -> str:
    """The login page, coming back to `path` (a visit's own page) once signed in."""
    return f"/login?{urlencode({'next': path})}"


async def join(request: web.Request) -> web.StreamResponse:
    """GET /join/{visit_id}?token=…: check the link, set the visit cookie, 303 to the visit."""
    visit_id = request.match_info["visit_id"]
    token = request.query.get("token", "")
    if not token:
        return error_response(request, 400, "missing_token",
                              N_("This link is incomplete. Copy the whole link from your "
                                 "invitation."), title=N_("Link incomplete"))
    target = f"/visits/{visit_id}"
    assign_device(request)  # a therapist link may bind to this browser in this request
    try:
        visit, participant, claims = await verify_visit_link(request, visit_id, token)
    except LinkRefused as refused:
        if refused.problem is not LinkProblem.EXPIRED:
            return refusal_page(request, refused)
        # After the call window the same link still opens the home program.
        try:
            visit, participant, claims = await verify_visit_link(request, visit_id, token,
                                                                 program=True)
        except LinkRefused as late:
            return refusal_page(request, late)
        target = f"/visits/{visit_id}/program"
    await speak_to_participant(request, visit, participant)  # for a refusal below
    now = int(time.time())
    try:
        await require_access(request, visit, participant, link_id=claims.jti)
    except LinkRefused as refused:
        if refused.problem is not LinkProblem.STAFF_SIGN_IN:
            async with request.app[DB].transaction() as conn:
                await record_event(conn, audit.LinkRefused(
                    participant=participant.id, problem=refused.problem.value,
                    device=device_of(request)),
                    actor=audit.by_participant(participant.id), now=now, visit_id=visit.id)
            refusal = refusal_page(request, refused)
            # The device cookie only (never the visit's): its next attempt is the same device.
            config = request.app[CONFIG]
            ensure_device_cookie(request, refusal, secure=config.secure_cookies, max_age=max(
                0, claims.expires_at + program_seconds(config.program_days, claims.role) - now))
            return refusal
        # Her link brings her to sign in, then back to the visit (the token stays in the
        # cookie set below, never in the login page's address).
        target = sign_in_then(target)
    async with request.app[DB].transaction() as conn:
        await record_event(conn, audit.LinkOpened(role=participant.role),
                           actor=audit.by_participant(participant.id), now=now, visit_id=visit.id)

    response = see_other(target)
    set_visit_cookie(request, response, visit.id, token, claims, now)
    visit_cookie = response.cookies[VISIT_COOKIE]
    ensure_device_cookie(request, response, max_age=int(visit_cookie["max-age"]),
                         secure=bool(visit_cookie["secure"]))
    return response


async def visit_page(request: web.Request) -> web.StreamResponse:
    """GET /visits/{visit_id}: the participant's page, for the holder of the visit cookie."""
    visit_id = request.match_info["visit_id"]
    try:
        found = await participant_from_cookie(request, visit_id)
    except LinkRefused as refused:
        if refused.problem is LinkProblem.EXPIRED:
            return see_other(f"/visits/{visit_id}/program")
        return refusal_page(request, refused)
    if found is None:
        return error_response(
            request, 401, "no_visit_session",
            N_("Open this visit with the link from your invitation. If you just did, "
               "reload this page."), title=N_("Open your visit link"))
    visit, participant, _claims = found
    await speak_to_participant(request, visit, participant)
    if visit.status == "ended":
        if participant.role != "therapist":
            return see_other(f"/visits/{visit.id}/program")
        return render(request, "visit/ended.html", {"visit": visit})
    if participant.role == "therapist":
        other, unnamed = visit.participant("patient"), N_("your patient")
    else:
        other, unnamed = visit.participant("therapist"), N_("your therapist")
    other_name = other.display_name if other else translate(request_language(request), unnamed)
    # The waiting room's profile of her therapist (templates/visit/_therapist_card.html).
    card = (await therapist_card(request.app[DB], visit, other_name)
            if participant.role != "therapist" else None)
    return render(request, "visit/call.html",
                  {"visit": visit, "me": participant, "other_name": other_name,
                   "therapist_card": card,
                   "dose_limits": DOSE_LIMITS, "note_max": MAX_NOTE, "chat_max": MAX_CHAT_CHARS,
                   "late_minutes": LATE_MINUTES})
