"""Checks several handlers share: the request's Origin, the visit a URL names, and the
guards that ask the access policy (`server/auth/policy.py`) for staff pages and the API."""

from __future__ import annotations

import time

from aiohttp import web

from server.auth.access import api_refusal, participant_actor
from server.auth.api_keys import mark_used, require_api_key
from server.auth.policy import Action, CareFile, KeyActor, StaffActor, allowed, scopes_text
from server.auth.staff import require_staff
from server.auth.tokens import LinkClaims, LinkRefused
from server.auth.visit_session import participant_from_cookie
from server.http.errors import ApiError
from server.keys import CARE, CONFIG, DB, VISITS
from server.storage import audit_events as audit
from server.storage.events import record_event
from server.storage.patients import Patient
from server.storage.plans import Plan, therapists_of_patient
from server.storage.visits import Participant, Visit


def require_own_origin(request: web.Request, message: str) -> None:
    """Refuse (403 bad_origin) a request a page of another site sent; a request with no
    Origin (not from a browser page) passes, since the cookie still has to match."""
    if request.headers.get("Origin") not in (None, request.app[CONFIG].origin):
        raise ApiError(403, "bad_origin", message)


async def visit_cookie_holder(request: web.Request, *, program: bool = False
                              ) -> tuple[Visit, Participant, LinkClaims]:
    """The URL's visit and the participant whose visit cookie the request carries, with her
    link's claims (`program`: for her home program, which outlives the call window); the
    link's refusal as an API error, 401 without a cookie."""
    try:
        found = await participant_from_cookie(request, request.match_info["visit_id"],
                                              program=program)
    except LinkRefused as refused:
        status, message = api_refusal(refused.problem)
        raise ApiError(status, refused.problem.value, message) from None
    if found is None:
        raise ApiError(401, "no_visit_session", "Open the visit link first.")
    return found


async def visit_seat_may(request: web.Request, action: Action, refusal: str, *,
                         program: bool = False) -> tuple[Visit, Participant]:
    """The visit cookie's visit and participant (`visit_cookie_holder`), when her link may do
    `action` to the visit; 403 `forbidden` with `refusal` otherwise."""
    visit, participant, claims = await visit_cookie_holder(request, program=program)
    if not await allowed(participant_actor(request, visit, participant, link_id=claims.jti),
                         action, visit):
        raise ApiError(403, "forbidden", refusal)
    return visit, participant


async def visit_or_404(request: web.Request) -> Visit:
    """The visit of the URL's visit_id, or 404."""
    visit = await request.app[VISITS].get(request.match_info["visit_id"])
    if visit is None:
        raise ApiError(404, "not_found", "There is no visit with this id.")
    return visit


async def staff_may(request: web.Request, action: Action) -> StaffActor:
    """The signed-in staff member, when she may do `action` (to some visit, for an action on
    visits); redirect to login when nobody is signed in, 403 when her account may not."""
    actor = StaffActor(await require_staff(request))
    if not await allowed(actor, action):
        raise ApiError(403, "forbidden", "Your account cannot open this page.")
    return actor


async def staff_visit(request: web.Request, actor: StaffActor, action: Action) -> Visit:
    """The URL's visit, when `actor` may do `action` to it; a visit she may not (another
    therapist's) is answered like a missing one: ids are not confirmed."""
    visit = await visit_or_404(request)
    if not await allowed(actor, action, visit):
        raise ApiError(404, "not_found", "There is no visit with this id.")
    return visit


async def staff_care(request: web.Request, actor: StaffActor,
                     action: Action) -> tuple[Patient, Plan | None]:
    """The URL's patient (`patient_id`), or the URL's plan (`plan_id`) and its patient, when
    `actor` may do `action` (an action on care) to them. A patient she may not see (no plan
    of hers is or was led by this therapist) and an unknown id are both 404, like another
    therapist's visit; a plan of a patient she may see but led by another therapist is 403
    for a change. On a plan, only its own therapist (or an admin) may change its care."""
    care, db = request.app[CARE], request.app[DB]
    plan = None
    by_plan = "plan_id" in request.match_info
    if by_plan:
        plan = await care.plan(request.match_info["plan_id"])
        patient = await care.patient(plan.patient_id) if plan is not None else None
    else:
        patient = await care.patient(request.match_info["patient_id"])
    if patient is None or not await allowed(
            actor, Action.VIEW_PATIENT,
            CareFile(patient.id, await therapists_of_patient(db, patient.id))):
        raise ApiError(404, "not_found", "There is no plan of care with this id." if by_plan
                       else "There is no patient with this id.")
    leads = (frozenset({plan.therapist_id}) if plan is not None and plan.therapist_id
             else frozenset() if plan is not None
             else await therapists_of_patient(db, patient.id))
    if action is not Action.VIEW_PATIENT and not await allowed(
            actor, action, CareFile(patient.id, leads)):
        raise ApiError(403, "forbidden", "Only an admin or the therapist who leads this plan "
                       "of care may change it.")
    return patient, plan


async def key_may(request: web.Request, action: Action) -> KeyActor:
    """The request's API key, when its scopes allow `action` (then marked used); 401
    without a live key, 403 (JSON, `forbidden`; audited as `api_key.refused`) when the key
    may not."""
    actor, last_used_at = await require_api_key(request)
    if not await allowed(actor, action):
        async with request.app[DB].transaction() as conn:
            await record_event(conn, audit.ApiKeyRefused(api_key=actor.key_id,
                                                         attempted=action.label),
                               actor=actor.audit, now=int(time.time()))
        raise ApiError(403, "forbidden", f"This API key may not {action.description}; its "
                       f"scopes are: {scopes_text(actor.scopes) or 'none'}.")
    await mark_used(request, actor.key_id, last_used_at)
    return actor

