"""A patient's home page between visits, opened with her plan link.

`GET /care/{plan_id}?token=…` checks the link, keeps it in the plan cookie and sends her to
`/care/{plan_id}`: today's exercises with their demos, her upcoming visits with their join
links, questionnaires to fill and her log. Every request under `/care/{plan_id}` checks the
cookie again (`server/auth/plan_session.py`) and asks the policy.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from aiohttp import web

from server.auth.plan_session import plan_for_token, plan_from_cookie, set_plan_cookie
from server.auth.policy import PlanActor
from server.auth.tokens import LinkProblem, LinkRefused
from server.care.exercise_log import HIGH_PAIN
from server.care.ids import is_plan_id
from server.care.service import PlanClaims
from server.http.error_pages import error_response
from server.http.errors import ApiError
from server.http.i18n import N_
from server.http.templating import render, request_language, see_other, speak_to
from server.keys import CARE, DB, LIBRARY, MEASUREMENTS, VISITS
from server.measure.vendor import browser_assets
from server.storage.assignments import program_of
from server.storage.patients import get_patient
from server.storage.plans import Plan
from server.storage.visits import Visit, visits_of_plan
from server.views.join import refusal_page
from server.views.language import speak_to_patient

_PLAN_REFUSALS: dict[LinkProblem, tuple[int, str, str]] = {
    LinkProblem.EXPIRED: (401, N_("Link expired"),
                          N_("Your plan of care has ended and this link no longer works. "
                             "Contact the clinic if you need it again.")),
    LinkProblem.REVOKED: (403, N_("Link no longer valid"),
                          N_("This link was replaced by a newer one or withdrawn by the "
                             "clinic. Use the most recent link the clinic sent you.")),
    LinkProblem.WRONG_VISIT: (403, N_("Link for another plan"),
                              N_("This link belongs to a different plan of care. Use the "
                                 "link the clinic sent you for this one.")),
    LinkProblem.WRONG_AUDIENCE: (401, N_("Link not valid"),
                                 N_("This is not a link to a plan of care.")),
}
"""What a refused plan link says where a visit link's words would be wrong."""
UPCOMING_SECONDS = 3600
"""A visit stays in her list of upcoming ones until an hour after it ends."""


def plan_refusal(request: web.Request, refused: LinkRefused) -> web.Response:
    """The page that explains why a plan link did not open."""
    if refused.problem in _PLAN_REFUSALS:
        status, title, message = _PLAN_REFUSALS[refused.problem]
        return error_response(request, status, refused.problem.value, message, title=title)
    return refusal_page(request, refused)


def _plan_id(request: web.Request) -> str:
    plan_id = request.match_info["plan_id"]
    if not is_plan_id(plan_id):
        raise web.HTTPNotFound()
    return plan_id


async def open_plan(request: web.Request) -> tuple[Plan, PlanActor, PlanClaims]:
    """The plan and patient of this request's plan cookie, for a JSON endpoint: the API's
    error (401 without a cookie, 401/403 for a refused link) otherwise."""
    try:
        found = await plan_from_cookie(request, _plan_id(request))
    except LinkRefused as refused:
        status, _title, message = _PLAN_REFUSALS.get(
            refused.problem, (403, "", N_("This link no longer opens your plan of care.")))
        raise ApiError(status, refused.problem.value, message) from None
    if found is None:
        raise ApiError(401, "no_plan_session", N_("Open the link the clinic sent you first."))
    await speak_to_patient(request, found[1].patient_id)
    return found


async def home(request: web.Request) -> web.StreamResponse:
    """GET /care/{plan_id}: her home page (with `?token=`: open the link first)."""
    plan_id = _plan_id(request)
    token = request.query.get("token", "")
    if token:
        try:
            _plan, _actor, claims = await plan_for_token(request, plan_id, token)
        except LinkRefused as refused:
            return plan_refusal(request, refused)
        response = see_other(f"/care/{plan_id}")
        set_plan_cookie(request, response, plan_id, token, claims.expires_at)
        return response
    found = await _plan_session(request, plan_id)
    if isinstance(found, web.StreamResponse):
        return found
    plan, claims = found
    response = render(request, "care/home.html", await home_context(request, plan))
    # How long her phone may show a kept copy offline (web/sw/care-offline.js): no longer
    # than her plan link works.
    response.headers[KEEP_UNTIL_HEADER] = str(claims.expires_at)
    return response


async def _plan_session(request: web.Request,
                        plan_id: str) -> tuple[Plan, PlanClaims] | web.StreamResponse:
    """Her plan and its link's claims from the plan cookie, for a page; else the page that
    refuses it (the link's own refusal, 401 without a cookie). `open_plan` is the same for a
    JSON endpoint."""
    try:
        found = await plan_from_cookie(request, plan_id)
    except LinkRefused as refused:
        return plan_refusal(request, refused)
    if found is None:
        return error_response(
            request, 401, "no_plan_session",
            N_("Open your plan of care with the link the clinic sent you. If you just did, "
               "reload this page."), title=N_("Open your link"))
    plan, _actor, claims = found
    return plan, claims


def _upcoming(visit: Visit, now: int) -> bool:
    """Whether her page offers this visit to join: scheduled, and not over an hour ago."""
    return visit.status == "scheduled" and visit.ends_at + UPCOMING_SECONDS > now


async def join_visit(request: web.Request) -> web.StreamResponse:
    """GET /care/{plan_id}/visits/{visit_id}/join: her link to an upcoming visit of her plan, as
    a redirect checked against the plan cookie (303), so her page holds no visit link."""
    found = await _plan_session(request, _plan_id(request))
    if isinstance(found, web.StreamResponse):
        return found
    plan, _claims = found
    visit = await request.app[VISITS].get(request.match_info["visit_id"])
    seat = visit.participant("patient") if visit is not None else None
    if (visit is None or visit.plan_id != plan.id or seat is None
            or not _upcoming(visit, int(time.time()))):
        return error_response(request, 404, "no_such_visit",
                              N_("This visit is not one of your plan's upcoming visits."),
                              title=N_("Visit not found"))
    return see_other(await request.app[VISITS].link(seat))


async def home_context(request: web.Request, plan: Plan) -> dict[str, Any]:
    """What her home page shows: her program with each exercise's library entry (and the
    measurement her camera can count it with, if any, and whether this server has the pose
    model to count with), her upcoming visits with her join link, her name and reminder time."""
    db, library, measures = request.app[DB], request.app[LIBRARY], request.app[MEASUREMENTS]
    patient = await get_patient(db, plan.patient_id)
    assert patient is not None
    speak_to(request, patient.language)
    library = library.in_language(request_language(request))  # her program and warning signs in her language
    program = [{"assignment": a, "exercise": library.exercises[a.exercise],
                "measurement": measures.measurement_for(a.exercise)}
               for a in await program_of(db, "", plan.id) if a.exercise in library.exercises]
    now = int(time.time())
    visits = []
    for visit in await visits_of_plan(db, plan.id):
        seat = visit.participant("patient")
        if _upcoming(visit, now) and seat:
            # The page links to its own redirect, not to the visit link: the page may be kept
            # on her phone for offline use, and a copy must not hold a working link.
            visits.append({"visit": visit, "url": f"/care/{plan.id}/visits/{visit.id}/join"})
    return {"plan": plan, "patient": patient, "program": program, "visits": visits,
            "condition": library.conditions.get(plan.condition),
            "plan_link_ends": request.app[CARE].link_expires(plan),
            "can_count": browser_assets() is not None,
            "max_reps": request.app[MEASUREMENTS].limits.reps,
            # The pain-flag rule's threshold, for the page's words after a high rating.
            "high_pain": HIGH_PAIN}


KEEP_UNTIL_HEADER = "X-Visitroom-Keep-Until"
"""Unix time until which her phone may show a kept copy of the page offline."""
OFFLINE_WORKER = Path(__file__).resolve().parents[2] / "web" / "sw" / "care-offline.js"


async def offline_worker(request: web.Request) -> web.StreamResponse:
    """GET /care/offline.js: the service worker that opens her plan page offline (its scope
    is /care/, so it is served from there, not from /static/; never cached, so an update
    reaches her at once)."""
    return web.FileResponse(OFFLINE_WORKER, headers={
        "Content-Type": "text/javascript", "Cache-Control": "no-cache"})
