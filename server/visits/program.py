"""Home programs: the exercises a therapist assigns, checked against the library.

Assigned in a call or after it; in a visit of a plan of care they are the plan's program
(`server/storage/assignments.py`): added, changed (a new dosage replaces the old one) or
stopped, each change audited with who made it.
"""

from __future__ import annotations

import time
from typing import Any

from server.library.fields import DOSE_LIMITS
from server.library.model import Library
from server.http.schemas import MAX_NOTE, AssignmentChange, NewAssignment
from server.storage import Database
from server.storage.assignments import (
    Assignment,
    add_assignment,
    get_assignment,
    program_of,
    stop_assignment,
)
from server.storage import audit_events as audit
from server.storage.events import record_event
from server.storage.visits import Visit
from server.visits.visit_input import VisitInputError, clean_name


def parse_assignment(data: NewAssignment | AssignmentChange, library: Library,
                     base: Assignment | None = None) -> dict[str, Any]:
    """Check an assignment against the library; a dosage left out is the exercise's own
    (or, changing `base`, what `base` has)."""
    slug = base.exercise if base is not None else (data.exercise or "")
    if base is not None and data.exercise not in (None, "", base.exercise):
        raise VisitInputError("exercise", "cannot change: stop this one and add the other")
    exercise = library.exercises.get(slug)
    if exercise is None:
        raise VisitInputError("exercise", "is not in the library")
    values: dict[str, Any] = {"exercise": exercise.slug}
    for field in DOSE_LIMITS:
        given = getattr(data, field)
        default = getattr(base if base is not None else exercise.dosage, field)
        values[field] = default if given is None else given
    if not values["per_day"] and not values["per_week"]:
        raise VisitInputError("per_day", "give times per day or days per week")
    note = data.note if data.note is not None or base is None else base.note
    values["note"] = clean_name(note, "note", required=False, max_length=MAX_NOTE) or ""
    return values


async def live_assignment(db: Database, visit: Visit, assignment_id: int) -> Assignment | None:
    """An assignment of the program this visit shows, if it is live."""
    found = await get_assignment(db, assignment_id)
    if found is None or found.stopped_at is not None:
        return None
    mine = found.plan_id == visit.plan_id if visit.plan_id is not None else (
        found.visit_id == visit.id and found.plan_id is None)
    return found if mine else None


async def assign(db: Database, *, visit: Visit, participant_id: str, values: dict[str, Any],
                 actor: str, replaces: Assignment | None = None) -> Assignment:
    """Store an assignment (in place of `replaces`, when a dosage changes) and its audit
    event, in one transaction; the plan's when the visit has one."""
    now = int(time.time())
    async with db.transaction() as conn:
        if replaces is not None and not await stop_assignment(conn, replaces.id, now=now,
                                                              by=actor):
            raise VisitInputError("assignment", "was changed or stopped meanwhile")
        new_id = await add_assignment(conn, visit_id=visit.id, participant_id=participant_id,
                                      now=now, created_by=actor, plan_id=visit.plan_id,
                                      replaces=replaces.id if replaces else None, **values)
        event: audit.AuditEvent = (
            audit.ProgramAssigned(assignment=new_id, exercise=values["exercise"])
            if replaces is None else audit.ProgramChanged(assignment=new_id,
                                                          replaces=replaces.id))
        await record_event(conn, event, actor=actor, now=now, visit_id=visit.id)
    found = await get_assignment(db, new_id)
    assert found is not None
    return found


async def unassign(db: Database, *, visit: Visit, assignment_id: int, actor: str) -> bool:
    """Stop an assignment of the program this visit shows; False when there is no such
    live one."""
    if await live_assignment(db, visit, assignment_id) is None:
        return False
    async with db.transaction() as conn:
        stopped = await stop_assignment(conn, assignment_id, now=int(time.time()), by=actor)
        if stopped:
            await record_event(conn, audit.ProgramRemoved(assignment=assignment_id),
                               actor=actor, now=int(time.time()), visit_id=visit.id)
    return stopped


async def visit_program(db: Database, visit: Visit,
                        participant_id: str | None = None) -> list[Assignment]:
    """The live program a visit shows (its plan's, or its own); asked for one participant,
    hers: of a visit of a plan, only the patient has the plan's (a guest has none)."""
    if visit.plan_id is not None and participant_id is not None:
        patient = visit.participant("patient")
        if patient is None or patient.id != participant_id:
            return []
    return await program_of(db, visit.id, visit.plan_id, participant_id)
