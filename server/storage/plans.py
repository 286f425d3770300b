"""Plans of care (table `plans`): a patient's course of care, which groups her visits."""

from __future__ import annotations

from dataclasses import dataclass

from server.storage.interface import Connection, Database, Row

WEEK = 7 * 24 * 3600


@dataclass(frozen=True)
class Plan:
    """A plan of care: a condition, goals, a start and an expected length, a therapist."""

    id: str
    patient_id: str
    condition: str
    """The slug of a condition of the library."""
    goals: str
    starts_at: int
    weeks: int
    """Expected length in weeks."""
    therapist_id: int | None
    """The staff account that leads it (None: not yet given to one)."""
    status: str
    """'active' or 'closed'."""
    created_at: int
    closed_at: int | None = None

    @classmethod
    def from_row(cls, row: Row) -> "Plan":
        """Build from a `plans` row."""
        return cls(row["id"], row["patient_id"], row["condition"], row["goals"],
                   row["starts_at"], row["weeks"], row["therapist_id"], row["status"],
                   row["created_at"], row["closed_at"])

    @property
    def ends_at(self) -> int:
        """When the plan is expected to end (its start plus its length)."""
        return self.starts_at + self.weeks * WEEK


_COLUMNS = ("id, patient_id, condition, goals, starts_at, weeks, therapist_id, status,"
            " created_at, closed_at")


async def insert_plan(conn: Connection, plan: Plan) -> None:
    """Store a new plan inside the caller's transaction."""
    await conn.execute(
        f"INSERT INTO plans ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (plan.id, plan.patient_id, plan.condition, plan.goals, plan.starts_at, plan.weeks,
         plan.therapist_id, plan.status, plan.created_at, plan.closed_at))


async def get_plan(db: Database, plan_id: str) -> Plan | None:
    """The plan with this id, or None."""
    row = await db.fetchone(f"SELECT {_COLUMNS} FROM plans WHERE id = ?", (plan_id,))
    return None if row is None else Plan.from_row(row)


async def plans_of_patient(db: Database, patient_id: str) -> list[Plan]:
    """A patient's plans, newest start first."""
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM plans WHERE patient_id = ? ORDER BY starts_at DESC, id",
        (patient_id,))
    return [Plan.from_row(r) for r in rows]


def active_plan(plans: list[Plan]) -> Plan | None:
    """Her active plan that started last (`plans` as `plans_of_patient` gives them, newest
    start first), if any: the one a new visit of hers joins and her record shows."""
    return next((p for p in plans if p.status == "active"), None)


async def therapists_of_patient(db: Database, patient_id: str) -> frozenset[int]:
    """The staff accounts that lead (or led) one of her plans: who may see her record."""
    rows = await db.fetchall(
        "SELECT DISTINCT therapist_id FROM plans WHERE patient_id = ?"
        " AND therapist_id IS NOT NULL", (patient_id,))
    return frozenset(int(r[0]) for r in rows)


async def close_plan(conn: Connection, plan_id: str, now: int) -> bool:
    """Close an active plan; False when it was not active."""
    cur = await conn.execute(
        "UPDATE plans SET status = 'closed', closed_at = ? WHERE id = ? AND status = 'active'",
        (now, plan_id))
    return cur.rowcount > 0
