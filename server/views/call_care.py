"""The visit's plan of care in the call: what the therapist sees of it (the questionnaires'
trend with the minimal important change, adherence, her open pain flags), and the
questionnaires the patient can fill while she waits to be let in (through her visit link,
which opens nothing else of her plan)."""

from __future__ import annotations

import time
from functools import partial

from aiohttp import web

from server.auth.policy import Action
from server.care.adherence import adherence
from server.care.exercise_log import open_flags
from server.care.instruments import INSTRUMENTS
from server.care.outcome_trend import trend
from server.http.i18n import translate
from server.http.templating import request_language
from server.keys import CARE, CONFIG, DB
from server.http.errors import ApiError
from server.storage.plans import Plan
from server.views.care_api import fill_round, pending_forms
from server.views.language import speak_to_participant
from server.views.program import seat_for


async def care_json(request: web.Request) -> web.StreamResponse:
    """GET /visits/{visit_id}/care.json: for the visit's therapist only (her link, as for
    changing the program); `{"plan": null}` for a visit made without a plan of care."""
    visit, _therapist = await seat_for(request, Action.CHANGE_PROGRAM)
    if visit.plan_id is None:
        return web.json_response({"plan": None})
    db, tz = request.app[DB], request.app[CONFIG].tz
    to_language = partial(translate, request_language(request))
    found = (await trend(db, visit.plan_id)).as_json()
    for item in found["instruments"]:
        item["title"] = to_language(INSTRUMENTS[item["instrument"]].title)
    return web.json_response({
        "plan": visit.plan_id,
        "outcomes": found["instruments"],
        "adherence": [a.as_json() for a in await adherence(db, visit.plan_id,
                                                           now=int(time.time()), tz=tz)],
        "flags": [f.as_json() for f in await open_flags(db, [visit.plan_id])],
    })


async def _patients_plan(request: web.Request) -> Plan:
    """The plan of the visit whose patient's cookie came: only hers, only an active one."""
    visit, participant = await seat_for(request, Action.READ_PROGRAM)
    plan = await request.app[CARE].plan(visit.plan_id) if visit.plan_id else None
    if participant.role != "patient" or plan is None or plan.status != "active":
        raise ApiError(404, "no_questionnaires", "This visit has no questionnaires to fill.")
    await speak_to_participant(request, visit, participant)
    return plan


async def waiting_questionnaires(request: web.Request) -> web.StreamResponse:
    """GET /visits/{visit_id}/questionnaires.json: what she can fill while she waits."""
    return await pending_forms(request, await _patients_plan(request))


async def waiting_fill(request: web.Request) -> web.StreamResponse:
    """POST /visits/{visit_id}/questionnaires/{instrument}: her answers from the waiting room."""
    return await fill_round(request, await _patients_plan(request))
