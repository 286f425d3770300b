"""A patient's whole record as the API and her admin page read it: her plans, visits, the
home program of her active plan, questionnaire scores and adherence."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from server.care.adherence import adherence
from server.care.care_json import patient_json, plan_json
from server.care.outcomes import outcomes_of_patient
from server.keys import CARE, CONFIG, DB
from server.storage.assignments import program_of
from server.storage.patients import Patient
from server.storage.plans import active_plan, plans_of_patient
from server.storage.visits import visits_of_patient
from server.visits.visit_json import visit_json


async def patient_record(app: web.Application, patient: Patient, *,
                         links: bool) -> dict[str, Any]:
    """Her record (`PatientRecord`); `links`: with her plan links (for a reader who may
    change her care, who could issue them anyway)."""
    db, care = app[DB], app[CARE]
    plans = await plans_of_patient(db, patient.id)
    current = active_plan(plans)
    visits = await visits_of_patient(db, patient.id)
    program = await program_of(db, "", current.id) if current is not None else []
    return {
        **patient_json(patient),
        "plans": [plan_json(p, await care.plan_link(p) if links else None) for p in plans],
        "visits": [visit_json(v, [], {}) for v in visits],
        "program": [a.as_json() for a in program],
        "outcomes": [o.as_json() for o in await outcomes_of_patient(db, patient.id)],
        "adherence": None if current is None else {
            f"last_{a.days}_days": a.as_json()
            for a in await adherence(db, current.id, now=int(time.time()), tz=app[CONFIG].tz)},
    }
