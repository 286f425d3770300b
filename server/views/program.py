"""Home programs: therapists assign exercises in or after the call; patients reopen them."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.auth.access import participant_actor
from server.auth.policy import Action, allowed
from server.auth.tokens import LinkRefused
from server.auth.visit_session import participant_from_cookie, program_seconds
from server.http.errors import ApiError
from server.http.i18n import N_
from server.keys import CARE, CONFIG, DB, LIBRARY
from server.visits.program import (
    assign,
    live_assignment,
    parse_assignment,
    unassign,
    visit_program,
)
from server.http.request_json import read_body
from server.http.schemas import AssignmentChange, NewAssignment
from server.storage.audit_events import by_participant
from server.storage.visits import Participant, Visit
from server.http.i18n import translate
from server.http.templating import render, request_language
from server.views.language import speak_to_participant
from server.views.guards import require_own_origin, visit_seat_may
from server.views.join import refusal_page
from server.visits.visit_input import VisitInputError


_REFUSED: dict[Action, str] = {
    Action.READ_PROGRAM: N_("This link cannot open the home program."),
    Action.CHANGE_PROGRAM: N_("Only the therapist can change the home program."),
}


async def seat_for(request: web.Request, action: Action) -> tuple[Visit, Participant]:
    """The visit cookie's participant, when her link may do `action` to the program."""
    return await visit_seat_may(request, action, _REFUSED[action], program=True)


async def _therapist(request: web.Request) -> tuple[Visit, Participant]:
    require_own_origin(request, "Only the clinic's own pages may change a program.")
    visit, therapist = await seat_for(request, Action.CHANGE_PROGRAM)
    if visit.plan_id is not None:
        plan = await request.app[CARE].plan(visit.plan_id)
        if plan is None or plan.status != "active":
            raise ApiError(409, "plan_closed", "The plan of care of this visit is closed.")
    return visit, therapist


def _patient_of(visit: Visit) -> Participant:
    patient = visit.participant("patient")
    if patient is None:
        raise ApiError(409, "no_patient", "This visit has no patient.")
    return patient


async def list_assignments(request: web.Request) -> web.StreamResponse:
    """GET /visits/{visit_id}/assignments: the patient's program (therapist or patient)."""
    visit, participant = await seat_for(request, Action.READ_PROGRAM)
    patient = participant if participant.role != "therapist" else _patient_of(visit)
    items = await visit_program(request.app[DB], visit, patient.id)
    return web.json_response({"assignments": [a.as_json() for a in items]})


async def create_assignment(request: web.Request) -> web.StreamResponse:
    """POST /visits/{visit_id}/assignments: add an exercise to the patient's program."""
    visit, therapist = await _therapist(request)
    body = await read_body(request, NewAssignment)
    try:
        values = parse_assignment(body, request.app[LIBRARY])
    except VisitInputError as exc:
        raise ApiError(422, "invalid_field", f"{exc.field} {exc.message}") from None
    item = await assign(request.app[DB], visit=visit, participant_id=_patient_of(visit).id,
                        values=values, actor=by_participant(therapist.id))
    return web.json_response(item.as_json(), status=201)


async def change_assignment(request: web.Request) -> web.StreamResponse:
    """PATCH /visits/{visit_id}/assignments/{assignment_id}: a new dosage or note; the new
    assignment replaces the old one (which stays in the program's history)."""
    visit, therapist = await _therapist(request)
    body = await read_body(request, AssignmentChange)
    db = request.app[DB]
    current = await live_assignment(db, visit, int(request.match_info["assignment_id"]))
    if current is None:
        raise ApiError(404, "not_found", "There is no such assignment in this visit.")
    try:
        values = parse_assignment(body, request.app[LIBRARY], base=current)
        item = await assign(db, visit=visit, participant_id=current.participant_id,
                            values=values, actor=by_participant(therapist.id), replaces=current)
    except VisitInputError as exc:
        raise ApiError(422 if exc.field != "assignment" else 409, "invalid_field"
                       if exc.field != "assignment" else "conflict",
                       f"{exc.field} {exc.message}") from None
    return web.json_response(item.as_json())


async def delete_assignment(request: web.Request) -> web.StreamResponse:
    """DELETE /visits/{visit_id}/assignments/{assignment_id}: stop it (kept as history)."""
    visit, therapist = await _therapist(request)
    removed = await unassign(request.app[DB], visit=visit,
                             assignment_id=int(request.match_info["assignment_id"]),
                             actor=by_participant(therapist.id))
    if not removed:
        raise ApiError(404, "not_found", "There is no such assignment in this visit.")
    return web.Response(status=204)


async def program_page(request: web.Request) -> web.StreamResponse:
    """GET /visits/{visit_id}/program: "Your home program", printable."""
    try:
        found = await participant_from_cookie(request, request.match_info["visit_id"], program=True)
    except LinkRefused as refused:
        return refusal_page(request, refused)
    if found is None:
        raise ApiError(401, "no_visit_session",
                       N_("Open the link from your invitation to see your program."))
    visit, participant, claims = found
    await speak_to_participant(request, visit, participant)
    if not await allowed(participant_actor(request, visit, participant, link_id=claims.jti),
                         Action.READ_PROGRAM, visit):
        raise ApiError(403, "forbidden", _REFUSED[Action.READ_PROGRAM])

    patient = participant if participant.role != "therapist" else _patient_of(visit)
    library = request.app[LIBRARY].in_language(request_language(request))
    items: list[dict[str, Any]] = []
    for a in await visit_program(request.app[DB], visit, patient.id):
        exercise = library.exercises.get(a.exercise)
        if exercise is not None:
            items.append({"assignment": a, "exercise": exercise})
    therapist = visit.participant("therapist")
    return render(request, "visit/program.html", {
        "visit": visit, "items": items, "patient": patient,
        "therapist_name": therapist.display_name if therapist
        else translate(request_language(request), N_("your therapist")),
        "until": visit.ends_at + request.app[CONFIG].grace_minutes * 60
        + program_seconds(request.app[CONFIG].program_days, patient.role),
    })
