"""Home-program assignments (table `assignments`).

A visit made without a plan of care has its own program (its rows by `visit_id`); a visit
of a plan shows the plan's program (its rows by `plan_id`, wherever they were made), so the
program carries forward from visit to visit. Nothing is deleted: stopping an exercise sets
`stopped_at`, and changing its dosage stops it and adds the new one naming it in `replaces`;
the rows, stopped ones included, are the program's history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from server.storage.interface import Connection, Database, Row


@dataclass(frozen=True)
class Assignment:
    """One exercise of a participant's home program, with its dosage and note."""

    id: int
    visit_id: str
    """The visit it was assigned in."""
    participant_id: str
    exercise: str
    sets: int
    reps: int
    hold_seconds: int
    per_day: int
    per_week: int
    note: str
    created_at: int
    created_by: str = ""
    """The audit actor who assigned it."""
    plan_id: str | None = None
    """The plan of care it belongs to (None: the visit's own program)."""
    stopped_at: int | None = None
    stopped_by: str | None = None
    replaces: int | None = None
    """The assignment whose dosage this one changed."""

    @classmethod
    def from_row(cls, row: Row) -> "Assignment":
        """Build from an `assignments` row read with `COLUMNS`."""
        return cls(*row)

    def as_json(self) -> dict[str, Any]:
        """The assignment as the API's `Assignment` shows it."""
        return {"id": self.id, "visit_id": self.visit_id, "participant_id": self.participant_id,
                "exercise": self.exercise, "sets": self.sets, "reps": self.reps,
                "hold_seconds": self.hold_seconds, "per_day": self.per_day,
                "per_week": self.per_week, "note": self.note, "created_at": self.created_at}

    def history_json(self) -> dict[str, Any]:
        """The assignment as a line of the program's history: who changed what, when."""
        return {**self.as_json(), "created_by": self.created_by, "stopped_at": self.stopped_at,
                "stopped_by": self.stopped_by, "replaces": self.replaces}


COLUMNS = ("id, visit_id, participant_id, exercise, sets, reps, hold_seconds, per_day, per_week,"
           " note, created_at, created_by, plan_id, stopped_at, stopped_by, replaces")
_LIVE = "stopped_at IS NULL"


async def add_assignment(conn: Connection, *, visit_id: str, participant_id: str,
                         exercise: str, sets: int, reps: int, hold_seconds: int, per_day: int,
                         per_week: int, note: str, now: int, created_by: str,
                         plan_id: str | None = None, replaces: int | None = None) -> int:
    """Store an assignment inside the caller's transaction; returns its id."""
    async with conn.execute(
        "INSERT INTO assignments (visit_id, participant_id, exercise, sets, reps, hold_seconds,"
        " per_day, per_week, note, created_at, created_by, plan_id, replaces)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (visit_id, participant_id, exercise, sets, reps, hold_seconds, per_day, per_week, note, now,
         created_by, plan_id, replaces),
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def get_assignment(db: Database, assignment_id: int) -> Assignment | None:
    """One assignment by id, stopped or not."""
    row = await db.fetchone(f"SELECT {COLUMNS} FROM assignments WHERE id = ?", (assignment_id,))
    return None if row is None else Assignment.from_row(row)


async def program_of(db: Database, visit_id: str, plan_id: str | None,
                     participant_id: str | None = None) -> list[Assignment]:
    """The live program a visit shows, oldest first: its plan's, or (without a plan) its
    own, one participant's when given."""
    if plan_id is not None:
        rows = await db.fetchall(
            f"SELECT {COLUMNS} FROM assignments WHERE plan_id = ? AND {_LIVE} ORDER BY id",
            (plan_id,))
    elif participant_id is None:
        rows = await db.fetchall(
            f"SELECT {COLUMNS} FROM assignments WHERE visit_id = ? AND {_LIVE} ORDER BY id",
            (visit_id,))
    else:
        rows = await db.fetchall(
            f"SELECT {COLUMNS} FROM assignments WHERE visit_id = ? AND participant_id = ?"
            f" AND {_LIVE} ORDER BY id", (visit_id, participant_id))
    return [Assignment.from_row(r) for r in rows]


async def programs_of_visits(db: Database,
                             visits: Sequence[tuple[str, str | None]]) -> dict[str, list[Assignment]]:
    """The live programs of several (visit id, plan id) in two queries at most, by visit."""
    own = [visit_id for visit_id, plan_id in visits if plan_id is None]
    plans = sorted({plan_id for _, plan_id in visits if plan_id is not None})
    by_visit = await db.fetchall_by_visit(
        f"SELECT {COLUMNS} FROM assignments", own, "id") if own else {}
    by_plan: dict[str, list[Assignment]] = {plan_id: [] for plan_id in plans}
    if plans:
        marks = ",".join("?" * len(plans))
        for row in await db.fetchall(
                f"SELECT {COLUMNS} FROM assignments WHERE plan_id IN ({marks}) AND {_LIVE}"
                " ORDER BY id", plans):
            by_plan[row["plan_id"]].append(Assignment.from_row(row))
    return {visit_id: (by_plan[plan_id] if plan_id is not None else
                       [Assignment.from_row(r) for r in by_visit.get(visit_id, [])
                        if r["stopped_at"] is None])
            for visit_id, plan_id in visits}


async def plan_history(db: Database, plan_id: str, *, limit: int = 500) -> list[Assignment]:
    """Every assignment a plan has had, stopped ones too, oldest first (its history)."""
    rows = await db.fetchall(
        f"SELECT {COLUMNS} FROM assignments WHERE plan_id = ? ORDER BY id LIMIT ?",
        (plan_id, limit))
    return [Assignment.from_row(r) for r in rows]


async def stop_assignment(conn: Connection, assignment_id: int, *, now: int, by: str) -> bool:
    """Stop a live assignment (its row stays, as history); False when it was not live."""
    cur = await conn.execute(
        f"UPDATE assignments SET stopped_at = ?, stopped_by = ? WHERE id = ? AND {_LIVE}",
        (now, by, assignment_id))
    return cur.rowcount > 0
