"""Home-program assignments."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from server.storage.interface import Connection, Database


@dataclass(frozen=True)
class Assignment:
    """One exercise of a participant's home program, with its dosage and note."""

    id: int
    visit_id: str
    participant_id: str
    exercise: str
    sets: int
    reps: int
    hold_seconds: int
    per_day: int
    per_week: int
    note: str
    created_at: int

    def as_json(self) -> dict[str, Any]:
        """The assignment for the API."""
        return asdict(self)


_COLUMNS = ("id, visit_id, participant_id, exercise, sets, reps, hold_seconds, per_day, per_week,"
            " note, created_at")


async def add_assignment(conn: Connection, *, visit_id: str, participant_id: str,
                         exercise: str, sets: int, reps: int, hold_seconds: int, per_day: int,
                         per_week: int, note: str, now: int, created_by: str) -> int:
    """Store an assignment inside the caller's transaction; returns its id."""
    async with conn.execute(
        "INSERT INTO assignments (visit_id, participant_id, exercise, sets, reps, hold_seconds,"
        " per_day, per_week, note, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " RETURNING id",
        (visit_id, participant_id, exercise, sets, reps, hold_seconds, per_day, per_week, note, now,
         created_by),
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def assignments_for(db: Database, visit_id: str, participant_id: str | None = None) -> list[Assignment]:
    """A visit's assignments (one participant's when given), oldest first."""
    if participant_id is None:
        rows = await db.fetchall(f"SELECT {_COLUMNS} FROM assignments WHERE visit_id = ? ORDER BY id",
                                 (visit_id,))
    else:
        rows = await db.fetchall(
            f"SELECT {_COLUMNS} FROM assignments WHERE visit_id = ? AND participant_id = ? ORDER BY id",
            (visit_id, participant_id))
    return [Assignment(*row) for row in rows]


async def assignments_of_visits(db: Database, visit_ids: list[str]) -> dict[str, list[Assignment]]:
    """The assignments of several visits in one query, by visit id, oldest first."""
    rows = await db.fetchall_by_visit(f"SELECT {_COLUMNS} FROM assignments", visit_ids, "id")
    return {visit_id: [Assignment(*row) for row in found] for visit_id, found in rows.items()}


async def remove_assignment(conn: Connection, visit_id: str, assignment_id: int) -> bool:
    """Delete an assignment of this visit; False when there is none."""
    cur = await conn.execute("DELETE FROM assignments WHERE id = ? AND visit_id = ?",
                             (assignment_id, visit_id))
    return cur.rowcount > 0
