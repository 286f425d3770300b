"""The `measurements` table: results of on-device pose measurement, numbers only.

A result is stored by the therapist in a call (`source` 'visit') or with a home session
she logged (`source` 'home', `server/care/exercise_log.py`). What is checked before a row is
written (the measurement, its side and range, the trace) is the callers' business; this
module only reads and writes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Sequence

from server.storage.interface import Connection, Database, Row

_COLUMNS = ("id, patient_id, plan_id, visit_id, measurement, exercise, side, peak, reps,"
            " seconds, trace, source, created_at, created_by")


@dataclass(frozen=True)
class NewMeasurement:
    """A result to store (its row id and time are given when it is)."""

    patient_id: str
    plan_id: str | None
    visit_id: str | None
    measurement: str
    exercise: str | None
    side: str | None
    peak: float
    reps: int
    seconds: float
    trace: tuple[tuple[float, float], ...] | None
    source: str
    """'visit' or 'home'."""


@dataclass(frozen=True)
class SavedMeasurement(NewMeasurement):
    """A stored result: the result, its row id, when and by whom (an audit actor)."""

    id: int
    created_at: int
    created_by: str

    def as_json(self) -> dict[str, Any]:
        """The result as the call's panel reads it (no patient, plan or actor)."""
        return {"id": self.id, "measurement": self.measurement, "side": self.side,
                "peak": self.peak, "reps": self.reps, "seconds": self.seconds,
                "exercise": self.exercise, "created_at": self.created_at}


def _trace_text(trace: Sequence[tuple[float, float]] | None) -> str | None:
    if trace is None:
        return None
    return json.dumps([[t, v] for t, v in trace], separators=(",", ":"))


def _saved(row: Row) -> SavedMeasurement:
    trace = row["trace"]
    return SavedMeasurement(
        id=int(row["id"]), patient_id=row["patient_id"], plan_id=row["plan_id"],
        visit_id=row["visit_id"], measurement=row["measurement"], exercise=row["exercise"],
        side=row["side"], peak=float(row["peak"]), reps=int(row["reps"]),
        seconds=float(row["seconds"]),
        trace=None if trace is None else tuple((float(t), float(v)) for t, v in json.loads(trace)),
        source=row["source"], created_at=int(row["created_at"]), created_by=row["created_by"])


async def insert_measurements(conn: Connection, items: Sequence[NewMeasurement], *,
                              created_at: int, created_by: str) -> list[SavedMeasurement]:
    """Store results in one statement inside the caller's transaction; the stored rows."""
    if not items:
        return []
    values: list[Any] = []
    for m in items:
        values += [m.patient_id, m.plan_id, m.visit_id, m.measurement, m.exercise, m.side,
                   m.peak, m.reps, m.seconds, _trace_text(m.trace), m.source, created_at,
                   created_by]
    rows = ",".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(items))
    async with conn.execute(
        "INSERT INTO measurements (patient_id, plan_id, visit_id, measurement, exercise, side,"
        f" peak, reps, seconds, trace, source, created_at, created_by) VALUES {rows}"
        f" RETURNING {_COLUMNS}", values) as cur:
        stored = [_saved(row) for row in await cur.fetchall()]
    return sorted(stored, key=lambda m: m.id)


async def count_of_visit(conn: Connection, visit_id: str, *, lock: bool) -> int:
    """How many results the visit has, inside the caller's transaction. With `lock`
    (PostgreSQL) the visit's row is locked first, so two saves at once count one after the
    other; SQLite has one writer at a time already."""
    if lock:
        await conn.execute("SELECT id FROM visits WHERE id = ? FOR UPDATE", (visit_id,))
    async with conn.execute("SELECT COUNT(*) FROM measurements WHERE visit_id = ?",
                            (visit_id,)) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def of_visit(db: Database, visit_id: str) -> list[SavedMeasurement]:
    """A visit's results, newest first."""
    rows = await db.fetchall(f"SELECT {_COLUMNS} FROM measurements WHERE visit_id = ?"
                             " ORDER BY id DESC", (visit_id,))
    return [_saved(row) for row in rows]


async def of_patient(db: Database, patient_id: str, limit: int) -> list[SavedMeasurement]:
    """A patient's results, newest first, at most `limit`."""
    rows = await db.fetchall(f"SELECT {_COLUMNS} FROM measurements WHERE patient_id = ?"
                             " ORDER BY created_at DESC, id DESC LIMIT ?", (patient_id, limit))
    return [_saved(row) for row in rows]
