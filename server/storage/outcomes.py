"""Outcome questionnaires' tables: `plan_questionnaires` (what a plan asks, how often) and
`outcome_responses` (the patient's fills, one a round).

Only reads and writes; the rules (rounds, what is pending, scoring, the trend) live in
`server/care/outcomes.py`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from server.storage.interface import Connection, Database, Row


@dataclass(frozen=True)
class Attached:
    """A questionnaire attached to a plan."""

    plan_id: str
    instrument: str
    every_weeks: int
    """0: at the plan's start only; else every that many weeks from its start."""
    added_at: int
    added_by: str
    """The audit actor who first attached it (`user:3`)."""

    def as_json(self) -> dict[str, Any]:
        """The attachment for the API (who attached it is left to the audit log)."""
        return {"instrument": self.instrument, "every_weeks": self.every_weeks,
                "added_at": self.added_at}


@dataclass(frozen=True)
class PlanState:
    """What checking a fill needs of its plan, read in the fill's transaction."""

    status: str
    starts_at: int
    weeks: int
    every_weeks: int | None
    """The interval of the questionnaire asked about; None when it is not attached."""


@dataclass(frozen=True)
class StoredFill:
    """One stored fill of a questionnaire."""

    id: str
    plan_id: str
    instrument: str
    due_at: int
    answered_at: int
    score: float
    """The rounded score stored with it."""
    answers: dict[str, Any] | None
    """The answers (plain JSON); None where they were not read."""


_ATTACHED = "plan_id, instrument, every_weeks, added_at, added_by"


def _attached(row: Row) -> Attached:
    return Attached(row["plan_id"], row["instrument"], int(row["every_weeks"]),
                    int(row["added_at"]), row["added_by"])


def _fill(row: Row, with_answers: bool) -> StoredFill:
    return StoredFill(row["id"], row["plan_id"], row["instrument"], int(row["due_at"]),
                      int(row["answered_at"]), float(row["score"]),
                      json.loads(row["answers"]) if with_answers else None)


async def plan_status(conn: Connection, plan_id: str) -> str | None:
    """The plan's status ('active', 'closed') read inside the caller's transaction; None
    when there is no such plan."""
    async with conn.execute("SELECT status FROM plans WHERE id = ?", (plan_id,)) as cur:
        row = await cur.fetchone()
    return None if row is None else str(row["status"])


async def upsert_attached(conn: Connection, plan_id: str, instrument: str, every_weeks: int, *,
                          by: str, now: int) -> None:
    """Attach a questionnaire, or change its interval when it is attached already (who
    first attached it, and when, stay)."""
    await conn.execute(
        f"INSERT INTO plan_questionnaires ({_ATTACHED}) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (plan_id, instrument) DO UPDATE SET every_weeks = excluded.every_weeks",
        (plan_id, instrument, every_weeks, now, by))


async def delete_attached(conn: Connection, plan_id: str, instrument: str) -> bool:
    """Take a questionnaire off a plan; False when it was not attached. Its fills stay."""
    cur = await conn.execute(
        "DELETE FROM plan_questionnaires WHERE plan_id = ? AND instrument = ?",
        (plan_id, instrument))
    return cur.rowcount > 0


async def attached_of_plan(db: Database, plan_id: str) -> list[Attached]:
    """The questionnaires attached to a plan, by instrument key."""
    rows = await db.fetchall(f"SELECT {_ATTACHED} FROM plan_questionnaires WHERE plan_id = ?"
                             " ORDER BY instrument", (plan_id,))
    return [_attached(r) for r in rows]


async def plan_for_fill(conn: Connection, plan_id: str, instrument: str) -> PlanState | None:
    """The plan and the questionnaire's interval, in one read inside the fill's
    transaction; None when there is no such plan."""
    async with conn.execute(
        "SELECT p.status, p.starts_at, p.weeks, q.every_weeks FROM plans p"
        " LEFT JOIN plan_questionnaires q ON q.plan_id = p.id AND q.instrument = ?"
        " WHERE p.id = ?", (instrument, plan_id)) as cur:
        row = await cur.fetchone()
    if row is None:
        return None
    every = row["every_weeks"]
    return PlanState(str(row["status"]), int(row["starts_at"]), int(row["weeks"]),
                     None if every is None else int(every))


_FILL = "id, plan_id, instrument, due_at, answered_at, score"


async def fills_of_instrument(conn: Connection, plan_id: str, instrument: str) -> list[StoredFill]:
    """A plan's fills of one questionnaire, with their answers, oldest first, inside the
    caller's transaction."""
    async with conn.execute(
        f"SELECT {_FILL}, answers FROM outcome_responses WHERE plan_id = ? AND instrument = ?"
        " ORDER BY answered_at, due_at", (plan_id, instrument)) as cur:
        return [_fill(r, True) for r in await cur.fetchall()]


async def fills_of_plan(db: Database, plan_id: str, *, with_answers: bool) -> list[StoredFill]:
    """A plan's fills of every questionnaire, oldest first."""
    answers = ", answers" if with_answers else ""
    rows = await db.fetchall(
        f"SELECT {_FILL}{answers} FROM outcome_responses WHERE plan_id = ?"
        " ORDER BY answered_at, due_at, instrument", (plan_id,))
    return [_fill(r, with_answers) for r in rows]


async def fills_of_patient(db: Database, patient_id: str) -> list[StoredFill]:
    """Every fill of a patient's plans, without the answers, oldest first."""
    rows = await db.fetchall(
        "SELECT r.id, r.plan_id, r.instrument, r.due_at, r.answered_at, r.score"
        " FROM outcome_responses r JOIN plans p ON p.id = r.plan_id WHERE p.patient_id = ?"
        " ORDER BY r.answered_at, r.due_at, r.plan_id, r.instrument", (patient_id,))
    return [_fill(r, False) for r in rows]


async def insert_fill(conn: Connection, fill: StoredFill) -> bool:
    """Store a fill unless its round has one already (the unique index on plan,
    instrument and due time decides, on both engines); True when stored."""
    async with conn.execute(
        "INSERT INTO outcome_responses (id, plan_id, instrument, due_at, answers, score,"
        " answered_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (plan_id, instrument, due_at) DO NOTHING RETURNING id",
        (fill.id, fill.plan_id, fill.instrument, fill.due_at,
         json.dumps(fill.answers, separators=(",", ":"), ensure_ascii=False), fill.score,
         fill.answered_at)) as cur:
        return await cur.fetchone() is not None
