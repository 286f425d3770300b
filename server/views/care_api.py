"""What a patient's home page sends and reads as JSON, through her plan cookie.

Each POST comes only from the clinic's own pages (Origin) with her plan cookie; each costs
one transaction at most, and logging and messages are capped a day so that a looping page
cannot fill the log or her therapist's inbox.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any, Callable

import msgspec
from aiohttp import web

from server.auth.plan_session import COOKIE
from server.auth.policy import PlanActor
from server.auth.scopes import PLAN
from server.auth.tokens import LinkProblem, LinkRefused, verify_issued
from server.care import messages
from server.care.exercise_log import LogError, log_session
from server.care.field_error import FieldError
from server.care.instruments import INSTRUMENTS, psfs
from server.care.instruments.model import LANGUAGE_NOTES
from server.care.outcomes import OutcomeError, pending, submit
from server.care.service import CareStateError, plan_claims
from server.http.errors import ApiError
from server.http.i18n import N_, translate
from server.http.request_json import read_body, read_json_object
from server.http.templating import request_language
from server.keys import CARE, CONFIG, DB, LIBRARY, MEASUREMENTS
from server.storage.assignments import program_of
from server.storage.links import get_link
from server.storage.patients import update_patient
from server.storage.plans import Plan
from server.views.care_home import open_plan
from server.views.guards import require_own_origin

MAX_SESSIONS_A_DAY = 50
"""Sessions one plan may log in 24 hours (its program asks for a handful): past this, 429."""
MINUTES_A_DAY = 24 * 60
FOLLOW_UP = N_("Rate each activity you named before, from 0 (unable to perform the "
               "activity) to 10 (able to perform it at the same level as before the problem).")
"""The instructions of a later PSFS (the intake's ask her to name the activities)."""


class ReminderChoice(msgspec.Struct, forbid_unknown_fields=True):
    """When she wants her home-program reminder: a minute of the day, or null for none."""

    minute: int | None


def _refusal(request: web.Request, error: FieldError) -> ApiError:
    """422 naming the field, with the error's message in her language (translated here:
    the message is a catalog id filled with its values)."""
    translated = f"{error.field}: {error.text(partial(translate, request_language(request)))}"
    return ApiError(422, "invalid_field", translated)


def program_json(request: web.Request, assignments: list[Any]) -> list[dict[str, Any]]:
    """Her program for the page: each assignment with its exercise's name and demo page."""
    library = request.app[LIBRARY]
    return [{**a.as_json(), "name": library.exercises[a.exercise].name,
             "demo": f"/library/exercises/{a.exercise}"}
            for a in assignments if a.exercise in library.exercises]


async def state(request: web.Request) -> web.StreamResponse:
    """GET /care/{plan_id}/state.json: her program and reminder time, for the page."""
    plan, _actor, _claims = await open_plan(request)
    db = request.app[DB]
    row = await db.fetchone("SELECT program_reminder FROM patients WHERE id = ?",
                            (plan.patient_id,))
    return web.json_response({
        "plan_id": plan.id,
        "program": program_json(request, await program_of(db, "", plan.id)),
        "reminder_minute": row["program_reminder"] if row else None,
    })


async def log(request: web.Request) -> web.StreamResponse:
    """POST /care/{plan_id}/log: one home-exercise session (201; 200 for a repeat of a
    `client_key` already stored, with the first one's result)."""
    require_own_origin(request, N_("Only the clinic's own pages may log a session."))
    plan, _actor, _claims = await open_plan(request)
    raw = await read_json_object(request)
    db, config = request.app[DB], request.app[CONFIG]
    now = int(time.time())
    # Counted by when they came, not when she did them: a back-dated log counts too.
    row = await db.fetchone("SELECT COUNT(*) FROM log_sessions WHERE plan_id = ?"
                            " AND received_at > ?", (plan.id, now - 86400))
    if row is not None and int(row[0]) >= MAX_SESSIONS_A_DAY:
        raise ApiError(429, "too_many_sessions",
                       N_("That is more sessions than a day holds. Try again tomorrow."))
    try:
        result = await log_session(db, plan.id, raw, tz=config.tz, now=now,
                                   measures=request.app[MEASUREMENTS])
    except LogError as error:
        raise _refusal(request, error) from None
    return web.json_response(result.as_json(), status=200 if result.repeat else 201)


async def set_reminder(request: web.Request) -> web.StreamResponse:
    """POST /care/{plan_id}/reminder: the time of day of her home-program reminder."""
    require_own_origin(request, N_("Only the clinic's own pages may change your reminder."))
    plan, _actor, _claims = await open_plan(request)
    choice = await read_body(request, ReminderChoice)
    if choice.minute is not None and (isinstance(choice.minute, bool)
                                      or not 0 <= choice.minute < MINUTES_A_DAY):
        raise ApiError(422, "invalid_field", N_("minute must be from 0 to 1439, or null."))
    async with request.app[DB].transaction() as conn:
        await update_patient(conn, plan.patient_id, {"program_reminder": choice.minute})
    return web.json_response({"reminder_minute": choice.minute})


def instrument_form(key: str, translate: Callable[[str], str]) -> dict[str, Any]:
    """A questionnaire as her page shows it, in her language: title, what it asks, and
    each question with its range and labelled answers (the PSFS has none: she names her
    activities)."""
    found = INSTRUMENTS[key]
    # The PSFS has no fixed items: its end words label each activity's 0-10 rating.
    own = psfs.ANCHORS if key == psfs.INSTRUMENT.key else {}
    return {
        "instrument": key, "title": translate(found.title),
        "anchors": {str(v): translate(label) for v, label in own.items()},
        "measures": translate(found.measures), "instructions": translate(found.instructions),
        "items": [{"key": item.key, "text": translate(item.wording), "low": item.low,
                   "high": item.high,
                   "anchors": {str(v): translate(label) for v, label in item.anchors.items()}}
                  for item in found.items],
    }


async def pending_forms(request: web.Request, plan: Plan) -> web.Response:
    """What she can fill now of `plan`, with each form, in her page's language."""
    language = request_language(request)
    translate_to = partial(translate, language)
    due = await pending(request.app[DB], plan, now=int(time.time()))
    forms = []
    for p in due:
        # An instrument with no validated version in her language is shown in English, marked
        # (its status: the instrument's `languages`, docs/questionnaires.md).
        shown = INSTRUMENTS[p.instrument].shown_in(language)
        wording = translate_to if shown else partial(translate, "en")
        form = {**p.as_json(), **instrument_form(p.instrument, wording), "language": language if shown else "en"}
        if not shown:
            status = INSTRUMENTS[p.instrument].in_language(language)
            form["language_note"] = translate_to(LANGUAGE_NOTES[status.status if status else "none-found"])
        if p.form is not None:  # a later PSFS: she rates what she named, names nothing
            form["instructions"] = wording(FOLLOW_UP)
        forms.append(form)
    return web.json_response({"pending": forms})


class Fill(msgspec.Struct, forbid_unknown_fields=True):
    """Her answers to one round: `due_at` as `questionnaires.json` gave it."""

    due_at: int
    answers: dict[str, Any]


async def fill_round(request: web.Request, plan: Plan) -> web.Response:
    """Store her answers to a pending round of `plan`: 201 with the score, 422 naming what
    is wrong (nothing stored)."""
    require_own_origin(request, N_("Only the clinic's own pages may send answers."))
    body = await read_body(request, Fill)
    try:
        response = await submit(request.app[DB], plan, request.match_info["instrument"],
                                body.answers, due_at=body.due_at, now=int(time.time()))
    except OutcomeError as error:
        raise _refusal(request, error) from None
    return web.json_response(response.as_json(), status=201)


async def questionnaires(request: web.Request) -> web.StreamResponse:
    """GET /care/{plan_id}/questionnaires.json: what she can fill now, with each form."""
    plan, _actor, _claims = await open_plan(request)
    return await pending_forms(request, plan)


async def fill(request: web.Request) -> web.StreamResponse:
    """POST /care/{plan_id}/questionnaires/{instrument}: her answers to a pending round."""
    require_own_origin(request, N_("Only the clinic's own pages may send answers."))
    plan, _actor, _claims = await open_plan(request)
    return await fill_round(request, plan)


class MessageBody(msgspec.Struct, forbid_unknown_fields=True):
    """A message she writes (`server/care/messages.py` checks its text)."""

    text: str


PLAN_CLOSED = N_("Your plan of care is closed, so messages can no longer be sent here. "
                 "Call the clinic if you need to reach your therapist.")
ORIGIN_FOR_MESSAGES = N_("Only the clinic's own pages may send a message.")


async def messages_page(request: web.Request) -> web.StreamResponse:
    """GET /care/{plan_id}/messages?before=: her thread, newest first, a page at a time;
    opening its newest page marks her care team's messages read."""
    plan, _actor, _claims = await open_plan(request)
    before = None
    if "before" in request.query:
        before = messages.read_cursor(request.query["before"])
        if before is None:
            raise ApiError(400, "bad_parameter", N_("This page of messages is not one the "
                                                    "clinic's page asked for. Reload the page."))
    page = await messages.open_thread(request.app[DB], plan, before, reader="patient",
                                      now=int(time.time()))
    return web.json_response({"messages": [m.as_json() for m in page.messages],
                              "older": page.older, "max_length": messages.MAX_TEXT})


async def send_message(request: web.Request) -> web.StreamResponse:
    """POST /care/{plan_id}/messages: a message of hers to her care team (201 with it)."""
    require_own_origin(request, ORIGIN_FOR_MESSAGES)
    plan, actor = await _plan_to_write(request)
    if "Origin" not in request.headers:
        # Her words go to her clinician: only her page sends them, and every browser names
        # its page's origin on a POST, so a request without one is no page of the clinic's.
        raise ApiError(403, "bad_origin", ORIGIN_FOR_MESSAGES)
    body = await read_body(request, MessageBody)
    try:
        message = await messages.write(request.app, plan, body.text, author="patient",
                                       user_id=None, actor=actor.audit)
    except FieldError as error:
        # One field: the code names it and the message is said to her as it is.
        raise ApiError(422, "invalid_text", error.text(
            partial(translate, request_language(request)))) from None
    except messages.TooMany as too_many:
        raise ApiError(429, "too_many_messages",
                       N_("That is as many messages as a day takes. Try again tomorrow, or "
                          "call the clinic."),
                       headers={"Retry-After": str(too_many.retry_after)}) from None
    except CareStateError:
        raise ApiError(409, "plan_closed", PLAN_CLOSED) from None
    return web.json_response({"message": message.as_json()}, status=201)


async def _plan_to_write(request: web.Request) -> tuple[Plan, PlanActor]:
    """Her plan, as `open_plan` gives it; but a link that stopped only because its plan was
    closed hears that (409) rather than that it was withdrawn."""
    try:
        plan, actor, _claims = await open_plan(request)
    except ApiError as refused:
        if refused.code == LinkProblem.REVOKED.value and await _closed_under_link(request):
            raise ApiError(409, "plan_closed", PLAN_CLOSED) from None
        raise
    return plan, actor


async def _closed_under_link(request: web.Request) -> bool:
    """Whether the request's plan cookie is a genuine link of the URL's plan that was live
    until the plan closed (closing revokes it at the same time): only its holder learns
    that the plan is closed."""
    care = request.app[CARE]
    plan = await care.plan(request.match_info["plan_id"])
    if plan is None or plan.status != "closed":
        return False
    seen: list[str] = []

    async def check(claims: dict[str, Any]) -> None:
        seen.append(plan_claims(claims, plan_id=plan.id, now=int(time.time())).jti)
    try:
        await verify_issued(care.ring, request.app[DB], request.cookies.get(COOKIE, ""),
                            issuer=care.config.issuer, scope=PLAN, check=check)
    except LinkRefused:
        pass
    link = await get_link(request.app[DB], seen[0]) if seen else None
    return link is not None and link.revoked_at == plan.closed_at
