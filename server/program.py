"""Home programs: the exercises a therapist assigns, checked against the library."""

from __future__ import annotations

import time
from typing import Any, Mapping

from server.library.model import Library
from server.storage import Database
from server.storage.assignments import (
    Assignment,
    add_assignment,
    assignments_for,
    remove_assignment,
)
from server.storage.events import record_event
from server.visits import VisitInputError, clean_name

LIMITS = {"sets": (1, 10), "reps": (1, 50), "hold_seconds": (0, 120), "per_day": (0, 10),
          "per_week": (0, 7)}
MAX_NOTE = 500


def parse_assignment(data: Mapping[str, Any], library: Library) -> dict[str, Any]:
    """Validate an assignment request; defaults come from the exercise's own dosage."""
    slug = data.get("exercise")
    exercise = library.exercises.get(slug) if isinstance(slug, str) else None
    if exercise is None:
        raise VisitInputError("exercise", "is not in the library")
    defaults = exercise.dosage
    values: dict[str, Any] = {"exercise": exercise.slug}
    for field, (low, high) in LIMITS.items():
        raw = data.get(field, getattr(defaults, field))
        if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
            raise VisitInputError(field, f"must be a whole number from {low} to {high}")
        values[field] = raw
    if not values["per_day"] and not values["per_week"]:
        raise VisitInputError("per_day", "give times per day or days per week")
    values["note"] = clean_name(data.get("note"), "note", required=False, max_length=MAX_NOTE) or ""
    return values


async def assign(db: Database, *, visit_id: str, participant_id: str, values: dict[str, Any],
                 actor: str) -> Assignment:
    """Store an assignment and its audit event."""
    now = int(time.time())
    async with db.transaction() as conn:
        new_id = await add_assignment(conn, visit_id=visit_id, participant_id=participant_id,
                                      now=now, created_by=actor, **values)
        await record_event(conn, actor=actor, action="program.assigned", now=now, visit_id=visit_id,
                           detail={"assignment": new_id, "exercise": values["exercise"]})
    found = [a for a in await assignments_for(db, visit_id) if a.id == new_id]
    return found[0]


async def unassign(db: Database, *, visit_id: str, assignment_id: int, actor: str) -> bool:
    """Remove an assignment; False when the visit has no such assignment."""
    async with db.transaction() as conn:
        removed = await remove_assignment(conn, visit_id, assignment_id)
        if removed:
            await record_event(conn, actor=actor, action="program.removed", now=int(time.time()),
                               visit_id=visit_id, detail={"assignment": assignment_id})
    return removed
