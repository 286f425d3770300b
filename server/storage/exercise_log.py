"""The exercise log's tables: `log_sessions`, `log_entries`, `pain_flags`, `review_minutes`.

Logging a session is a handful of statements inside the caller's transaction, however
many exercises it holds: the session row (ON CONFLICT DO NOTHING on its idempotency key),
the plan's assignments it names, her earlier pain of those exercises, every entry in one
INSERT and every flag in one INSERT. The rules (what is refused, what raises a flag) live
in `server/care/exercise_log.py`; this module only reads and writes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Sequence

from server.storage.interface import Connection, Database, Row


@dataclass(frozen=True)
class PainFlag:
    """Pain the therapist must see, raised by one entry of a logged session."""

    id: int
    plan_id: str
    session_id: str
    exercise: str
    """The exercise's slug (no name: ids and numbers only)."""
    pain: int
    usual: float | None
    """The median of her previous ratings of the exercise, when there were enough."""
    reason: str
    """'high' or 'rise' (server.care.exercise_log.FLAG_REASONS)."""
    raised_at: int
    patient_id: str | None = None
    """Set on the dashboard's list (`open_flags`), which joins the plan."""

    def as_json(self) -> dict[str, Any]:
        """The flag for the API."""
        return asdict(self)


@dataclass(frozen=True)
class LiveAssignment:
    """What logging needs of an assignment: its exercise and when it was live."""

    id: int
    exercise: str
    created_at: int
    stopped_at: int | None


@dataclass(frozen=True)
class ProgramRow:
    """An assignment's dosage and life, for the planned sessions of adherence."""

    per_day: int
    per_week: int
    created_at: int
    stopped_at: int | None


@dataclass(frozen=True)
class NewEntry:
    """One entry to store: the assignment, its exercise, her status and pain, and the
    repetitions she did with the camera's measurement and best value when it counted."""

    assignment_id: int
    exercise: str
    status: str
    pain: int | None
    reps: int | None = None
    measurement: str | None = None
    measured_peak: float | None = None


@dataclass(frozen=True)
class CountedEntry:
    """A logged entry with repetitions, as her therapist reads it."""

    plan_id: str
    exercise: str
    done_at: int
    status: str
    reps: int
    measurement: str | None
    """Set when the camera counted (she may have corrected the count)."""
    measured_peak: float | None


@dataclass(frozen=True)
class NewFlag:
    """One flag to store."""

    exercise: str
    pain: int
    usual: float | None
    reason: str


_FLAG_COLUMNS = "id, plan_id, session_id, exercise, pain, usual, reason, raised_at"


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


def _flag(row: Row, patient_id: str | None = None) -> PainFlag:
    usual = row["usual"]
    return PainFlag(int(row["id"]), row["plan_id"], row["session_id"], row["exercise"],
                    int(row["pain"]), None if usual is None else float(usual), row["reason"],
                    int(row["raised_at"]), patient_id)


async def insert_session(conn: Connection, *, session_id: str, plan_id: str, client_key: str,
                         done_at: int, day: int, effort: int | None, note: str,
                         now: int) -> bool:
    """Store a session row unless this plan already has one with `client_key`; True when
    stored, False for a repeat (nothing written)."""
    async with conn.execute(
        "INSERT INTO log_sessions (id, plan_id, client_key, done_at, day, effort, note,"
        " received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (plan_id, client_key) DO NOTHING RETURNING id",
        (session_id, plan_id, client_key, done_at, day, effort, note, now),
    ) as cur:
        row = await cur.fetchone()
    return row is not None


async def patient_of_plan(conn: Connection, plan_id: str) -> str | None:
    """The patient whose plan this is, inside the caller's transaction."""
    async with conn.execute("SELECT patient_id FROM plans WHERE id = ?", (plan_id,)) as cur:
        row = await cur.fetchone()
    return None if row is None else str(row[0])


async def session_by_key(conn: Connection, plan_id: str, client_key: str) -> tuple[str, int] | None:
    """(id, day) of the plan's session logged with `client_key`, or None."""
    async with conn.execute("SELECT id, day FROM log_sessions WHERE plan_id = ? AND client_key = ?",
                            (plan_id, client_key)) as cur:
        row = await cur.fetchone()
    return None if row is None else (row["id"], int(row["day"]))


async def flags_of_session(conn: Connection, session_id: str) -> list[PainFlag]:
    """The flags a session raised, in the order they were stored."""
    async with conn.execute(f"SELECT {_FLAG_COLUMNS} FROM pain_flags WHERE session_id = ?"
                            " ORDER BY id", (session_id,)) as cur:
        return [_flag(row) for row in await cur.fetchall()]


async def assignments_of_plan(conn: Connection, plan_id: str,
                              ids: Sequence[int]) -> dict[int, LiveAssignment]:
    """The plan's assignments among `ids`, by id (an id of another plan is missing)."""
    async with conn.execute(
        "SELECT id, exercise, created_at, stopped_at FROM assignments"
        f" WHERE plan_id = ? AND id IN ({_marks(ids)})", (plan_id, *ids)) as cur:
        rows = await cur.fetchall()
    return {int(r["id"]): LiveAssignment(int(r["id"]), r["exercise"], int(r["created_at"]),
                                         r["stopped_at"]) for r in rows}


async def earlier_pain(conn: Connection, plan_id: str, exercises: Sequence[str], before: int,
                       last: int) -> dict[str, list[int]]:
    """Her pain ratings of each exercise in sessions done before `before`, newest first,
    the last `last` of each. Only done and partly entries carry a pain."""
    async with conn.execute(
        "SELECT exercise, pain FROM (SELECT exercise, pain, ROW_NUMBER() OVER"
        " (PARTITION BY exercise ORDER BY done_at DESC) AS n FROM log_entries"
        f" WHERE plan_id = ? AND exercise IN ({_marks(exercises)}) AND done_at < ?"
        " AND pain IS NOT NULL) AS recent WHERE n <= ? ORDER BY exercise, n",
        (plan_id, *exercises, before, last)) as cur:
        rows = await cur.fetchall()
    found: dict[str, list[int]] = {exercise: [] for exercise in exercises}
    for row in rows:
        found[row["exercise"]].append(int(row["pain"]))
    return found


async def insert_entries(conn: Connection, *, session_id: str, plan_id: str, done_at: int,
                         entries: Sequence[NewEntry]) -> None:
    """Store a session's entries in one statement."""
    values: list[Any] = []
    for entry in entries:
        values += [session_id, entry.assignment_id, plan_id, entry.exercise, done_at,
                   entry.status, entry.pain, entry.reps, entry.measurement, entry.measured_peak]
    rows = ",".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(entries))
    await conn.execute("INSERT INTO log_entries (session_id, assignment_id, plan_id, exercise,"
                       f" done_at, status, pain, reps, measurement, measured_peak) VALUES {rows}",
                       values)


async def counted_entries(db: Database, patient_id: str, limit: int) -> list[CountedEntry]:
    """Her entries with repetitions, of every plan of hers, newest first, at most `limit`."""
    rows = await db.fetchall(
        "SELECT e.plan_id, e.exercise, e.done_at, e.status, e.reps, e.measurement,"
        " e.measured_peak FROM log_entries e JOIN plans p ON p.id = e.plan_id"
        " WHERE p.patient_id = ? AND e.reps IS NOT NULL"
        " ORDER BY e.done_at DESC, e.session_id, e.assignment_id LIMIT ?", (patient_id, limit))
    return [CountedEntry(r[0], r[1], int(r[2]), r[3], int(r[4]), r[5],
                         None if r[6] is None else float(r[6])) for r in rows]


async def insert_flags(conn: Connection, *, session_id: str, plan_id: str, now: int,
                       flags: Sequence[NewFlag]) -> list[PainFlag]:
    """Store a session's flags in one statement; the stored flags with their ids."""
    if not flags:
        return []
    values: list[Any] = []
    for flag in flags:
        values += [plan_id, session_id, flag.exercise, flag.pain, flag.usual, flag.reason, now]
    rows = ",".join(["(?, ?, ?, ?, ?, ?, ?)"] * len(flags))
    async with conn.execute(
        "INSERT INTO pain_flags (plan_id, session_id, exercise, pain, usual, reason, raised_at)"
        f" VALUES {rows} RETURNING {_FLAG_COLUMNS}", values) as cur:
        stored = [_flag(row) for row in await cur.fetchall()]
    return sorted(stored, key=lambda flag: flag.id)


async def acknowledge(conn: Connection, flag_id: int, plan_id: str, *, by: str, now: int) -> bool:
    """Mark an open flag of this plan acknowledged; False when there is none."""
    cur = await conn.execute(
        "UPDATE pain_flags SET acknowledged_at = ?, acknowledged_by = ?"
        " WHERE id = ? AND plan_id = ? AND acknowledged_at IS NULL", (now, by, flag_id, plan_id))
    return cur.rowcount > 0


async def open_flags(db: Database, *, plan_ids: Sequence[str] | None, therapist_id: int | None,
                     limit: int) -> list[PainFlag]:
    """Open flags of active plans, newest first, at most `limit`: of `plan_ids` and of the
    plans `therapist_id` leads when given (both: both must hold), else of every plan."""
    where = ["f.acknowledged_at IS NULL", "p.status = 'active'"]
    params: list[Any] = []
    if therapist_id is not None:
        where.append("p.therapist_id = ?")
        params.append(therapist_id)
    if plan_ids is not None:
        if not plan_ids:
            return []
        where.append(f"f.plan_id IN ({_marks(plan_ids)})")
        params += plan_ids
    rows = await db.fetchall(
        "SELECT f.id, f.plan_id, f.session_id, f.exercise, f.pain, f.usual, f.reason,"
        " f.raised_at, p.patient_id FROM pain_flags f JOIN plans p ON p.id = f.plan_id"
        f" WHERE {' AND '.join(where)} ORDER BY f.raised_at DESC, f.id DESC LIMIT ?",
        (*params, limit))
    return [_flag(row, row["patient_id"]) for row in rows]


async def program_of_plan(db: Database, plan_id: str) -> list[ProgramRow]:
    """Every assignment the plan has had (stopped ones too), for the planned sessions."""
    rows = await db.fetchall("SELECT per_day, per_week, created_at, stopped_at FROM assignments"
                             " WHERE plan_id = ? ORDER BY id", (plan_id,))
    return [ProgramRow(int(r[0]), int(r[1]), int(r[2]), r[3]) for r in rows]


async def sessions_done_by_day(db: Database, plan_id: str, first_day: int, last_day: int,
                               statuses: Sequence[str]) -> dict[int, int]:
    """Per day (from `first_day` to `last_day`), the sessions with at least one entry of
    one of `statuses` (the ones that count as done)."""
    rows = await db.fetchall(
        "SELECT s.day, COUNT(*) FROM log_sessions s WHERE s.plan_id = ? AND s.day BETWEEN ? AND ?"
        " AND EXISTS (SELECT 1 FROM log_entries e WHERE e.session_id = s.id"
        f" AND e.status IN ({_marks(statuses)})) GROUP BY s.day",
        (plan_id, first_day, last_day, *statuses))
    return {int(r[0]): int(r[1]) for r in rows}


async def pain_points(db: Database, plan_id: str, last: int) -> list[Row]:
    """(exercise, done_at, pain) of the plan's entries with a pain, the last `last` of each
    exercise, by exercise and oldest first."""
    return await db.fetchall(
        "SELECT exercise, done_at, pain FROM (SELECT exercise, done_at, pain, ROW_NUMBER() OVER"
        " (PARTITION BY exercise ORDER BY done_at DESC, session_id DESC) AS n FROM log_entries"
        " WHERE plan_id = ? AND pain IS NOT NULL) AS recent WHERE n <= ?"
        " ORDER BY exercise, done_at, n DESC", (plan_id, last))


async def logged_days(db: Database, plan_id: str, first_day: int, last_day: int) -> list[int]:
    """The days from `first_day` to `last_day` with at least one logged session."""
    rows = await db.fetchall("SELECT DISTINCT day FROM log_sessions WHERE plan_id = ?"
                             " AND day BETWEEN ? AND ? ORDER BY day", (plan_id, first_day, last_day))
    return [int(r[0]) for r in rows]


async def review_minutes_by_day(db: Database, plan_id: str, first_day: int,
                                last_day: int) -> dict[int, int]:
    """Review minutes logged for the plan per day, from `first_day` to `last_day`."""
    rows = await db.fetchall("SELECT day, SUM(minutes) FROM review_minutes WHERE plan_id = ?"
                             " AND day BETWEEN ? AND ? GROUP BY day", (plan_id, first_day, last_day))
    return {int(r[0]): int(r[1]) for r in rows}


async def insert_review_minutes(conn: Connection, *, plan_id: str, user_id: int, day: int,
                                minutes: int, now: int) -> int:
    """Store minutes a therapist spent reviewing the plan's data; returns the row's id."""
    async with conn.execute(
        "INSERT INTO review_minutes (plan_id, user_id, day, minutes, created_at)"
        " VALUES (?, ?, ?, ?, ?) RETURNING id", (plan_id, user_id, day, minutes, now)) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0
