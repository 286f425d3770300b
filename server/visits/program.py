"""Home programs: the exercises a therapist assigns, checked against the library."""

from __future__ import annotations

import time
from typing import Any

from server.library.fields import DOSE_LIMITS
from server.library.model import Library
from server.http.schemas import MAX_NOTE, NewAssignment
from server.storage import Database
from server.storage.assignments import (
    Assignment,
    add_assignment,
    assignments_for,
    remove_assignment,
)
from server.storage import audit_events as audit
from server.storage.events import record_event
from server.visits.visit_input import VisitInputError, clean_name


def parse_assignment(data: NewAssignment, library: Library) -> dict[str, Any]:
    """Check an assignment against the library; a dosage left out is the exercise's own."""
    exercise = library.exercises.get(data.exercise)
    if exercise is None:
        raise VisitInputError("exercise", "is not in the library")
    values: dict[str, Any] = {"exercise": exercise.slug}
    for field in DOSE_LIMITS:
        given = getattr(data, field)
        values[field] = getattr(exercise.dosage, field) if given is None else given
    if not values["per_day"] and not values["per_week"]:
        raise VisitInputError("per_day", "give times per day or days per week")
    values["note"] = clean_name(data.note, "note", required=False, max_length=MAX_NOTE) or ""
    return values


async def assign(db: Database, *, visit_id: str, participant_id: str, values: dict[str, Any],
                 actor: str) -> Assignment:
    """Store an assignment and its audit event."""
    now = int(time.time())
    async with db.transaction() as conn:
        new_id = await add_assignment(conn, visit_id=visit_id, participant_id=participant_id,
                                      now=now, created_by=actor, **values)
        await record_event(conn, audit.ProgramAssigned(assignment=new_id,
                                                       exercise=values["exercise"]),
                           actor=actor, now=now, visit_id=visit_id)
    found = [a for a in await assignments_for(db, visit_id) if a.id == new_id]
    return found[0]


async def unassign(db: Database, *, visit_id: str, assignment_id: int, actor: str) -> bool:
    """Remove an assignment; False when the visit has no such assignment."""
    async with db.transaction() as conn:
        removed = await remove_assignment(conn, visit_id, assignment_id)
        if removed:
            await record_event(conn, audit.ProgramRemoved(assignment=assignment_id),
                               actor=actor, now=int(time.time()), visit_id=visit_id)

    return removed
