"""Visits and their participants (their links are in `server/storage/links.py`)."""

from __future__ import annotations

from dataclasses import dataclass

from server.storage.interface import Connection, Database, Row
from signaling.seat import RunningLate


@dataclass(frozen=True)
class Participant:
    """Someone who takes part in a visit, with what is needed to mint her link again."""

    id: str
    visit_id: str
    role: str
    """'patient' or 'therapist'."""
    display_name: str
    jti: str
    """Id of the current link: a mirror of its row in `links` (which says whether it is
    revoked), kept with `kid` and the times to mint the link again."""
    kid: str
    issued_at: int
    not_before: int
    expires_at: int
    admitted_at: int | None = None
    """When the therapist first admitted her; she does not wait again after that."""
    denied_at: int | None = None
    """When the therapist turned her away; she stays away until her link is re-issued."""
    admitted_device: str | None = None
    """The device her admission was given to; another device opening her link waits."""
    language: str | None = None
    """Her pages' language when the visit names one (None: her record's, else her browser's)."""

    @classmethod
    def from_row(cls, row: Row) -> "Participant":
        """Build from a `participants` row."""
        return cls(row["id"], row["visit_id"], row["role"], row["display_name"], row["jti"],
                   row["kid"], row["issued_at"], row["not_before"], row["expires_at"],
                   row["admitted_at"], row["denied_at"], row["admitted_device"],
                   row["language"])


@dataclass(frozen=True)
class Visit:
    """A scheduled virtual visit."""

    id: str
    kind: str
    starts_at: int
    ends_at: int
    status: str
    """'scheduled', 'cancelled' or 'ended'."""
    capacity: int
    therapist_id: int | None
    created_at: int
    participants: tuple[Participant, ...] = ()
    patient_id: str | None = None
    """The patient record the visit belongs to (None: a visit made without one)."""
    plan_id: str | None = None
    """The plan of care it is part of: its home program is the plan's."""
    late_note: RunningLate | None = None
    """The therapist's running-late note, or None."""

    def participant(self, role: str) -> Participant | None:
        """The participant with this role, if any."""
        return next((p for p in self.participants if p.role == role), None)

    @property
    def minutes(self) -> int:
        """Length of the visit in minutes."""
        return (self.ends_at - self.starts_at) // 60


def _visit(row: Row, participants: list[Participant]) -> Visit:
    return Visit(row["id"], row["kind"], row["starts_at"], row["ends_at"], row["status"],
                 row["capacity"], row["therapist_id"], row["created_at"], tuple(participants),
                 row["patient_id"], row["plan_id"],
                 _late_note(row))


async def insert_visit(conn: Connection, visit: Visit) -> None:
    """Store a visit and its participants inside the caller's transaction."""
    await conn.execute(
        "INSERT INTO visits (id, kind, starts_at, ends_at, status, capacity, therapist_id,"
        " created_at, patient_id, plan_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (visit.id, visit.kind, visit.starts_at, visit.ends_at, visit.status, visit.capacity,
         visit.therapist_id, visit.created_at, visit.patient_id, visit.plan_id),
    )
    for p in visit.participants:
        await insert_participant(conn, p)


async def insert_participant(conn: Connection, p: Participant) -> None:
    """Store one participant of an existing visit, after the ones it already has."""
    await conn.execute(
        "INSERT INTO participants (id, visit_id, role, display_name, jti, kid, issued_at,"
        " not_before, expires_at, language, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
        " (SELECT COALESCE(MAX(position), 0) + 1 FROM participants WHERE visit_id = ?))",
        (p.id, p.visit_id, p.role, p.display_name, p.jti, p.kid, p.issued_at, p.not_before,
         p.expires_at, p.language, p.visit_id),
    )


async def mark_admitted(conn: Connection, participant_id: str, now: int,
                        device: str | None) -> None:
    """Remember that a participant was admitted (first time only), on which device."""
    await conn.execute(
        "UPDATE participants SET admitted_at = COALESCE(admitted_at, ?), admitted_device = ?,"
        " denied_at = NULL WHERE id = ?",
        (now, device, participant_id),
    )


async def clear_admission(conn: Connection, participant_id: str) -> None:
    """Forget a participant's admission: she waits to be let in again."""
    await conn.execute(
        "UPDATE participants SET admitted_at = NULL, admitted_device = NULL WHERE id = ?",
        (participant_id,))


async def mark_denied(conn: Connection, participant_id: str, now: int) -> None:
    """Remember that a participant was turned away; her admission, if any, is gone."""
    await conn.execute(
        "UPDATE participants SET denied_at = ?, admitted_at = NULL, admitted_device = NULL"
        " WHERE id = ?",
        (now, participant_id),
    )


async def _participants_of(db: Database, visit_ids: list[str]) -> dict[str, list[Participant]]:
    rows = await db.fetchall_by_visit("SELECT * FROM participants", visit_ids, "position")
    return {vid: [Participant.from_row(row) for row in found] for vid, found in rows.items()}


async def get_visit(db: Database, visit_id: str) -> Visit | None:
    """The visit with its participants, or None."""
    row = await db.fetchone("SELECT * FROM visits WHERE id = ?", (visit_id,))
    if row is None:
        return None
    people = await _participants_of(db, [visit_id])
    return _visit(row, people[visit_id])


async def list_visits(db: Database, *, start: int | None = None, end: int | None = None,
                      status: str | None = None, therapist_id: int | None = None,
                      limit: int = 500) -> list[Visit]:
    """Visits starting in [start, end), optionally by status and therapist, earliest first."""
    clauses, params = [], []
    if start is not None:
        clauses.append("starts_at >= ?")
        params.append(start)
    if end is not None:
        clauses.append("starts_at < ?")
        params.append(end)
    if status is not None:
        clauses.append("status = ?")
        params.append(status)
    if therapist_id is not None:
        clauses.append("therapist_id = ?")
        params.append(therapist_id)
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    rows = await db.fetchall(
        f"SELECT * FROM visits{where} ORDER BY starts_at, id LIMIT ?", (*params, limit)
    )
    people = await _participants_of(db, [r["id"] for r in rows])
    return [_visit(r, people[r["id"]]) for r in rows]


async def visits_of_patient(db: Database, patient_id: str, *, limit: int = 200) -> list[Visit]:
    """A patient's visits, newest first (at most `limit`)."""
    rows = await db.fetchall(
        "SELECT * FROM visits WHERE patient_id = ? ORDER BY starts_at DESC, id LIMIT ?",
        (patient_id, limit))
    people = await _participants_of(db, [r["id"] for r in rows])
    return [_visit(r, people[r["id"]]) for r in rows]


async def visits_of_plan(db: Database, plan_id: str, *, limit: int = 100) -> list[Visit]:
    """A plan's visits, earliest first (at most `limit`)."""
    rows = await db.fetchall(
        "SELECT * FROM visits WHERE plan_id = ? ORDER BY starts_at, id LIMIT ?", (plan_id, limit))
    people = await _participants_of(db, [r["id"] for r in rows])
    return [_visit(r, people[r["id"]]) for r in rows]


async def set_visit_status(conn: Connection, visit_id: str, status: str, now: int) -> None:
    """Change a visit's status (recording the cancel time when cancelled)."""
    await conn.execute(
        "UPDATE visits SET status = ?, cancelled_at = CASE WHEN ? = 'cancelled' THEN ? END"
        " WHERE id = ?",
        (status, status, now, visit_id),
    )


async def end_visit(conn: Connection, visit_id: str) -> None:
    """Mark a scheduled visit as ended (a cancelled one stays cancelled)."""
    await conn.execute("UPDATE visits SET status = 'ended' WHERE id = ? AND status = 'scheduled'",
                       (visit_id,))


async def replace_link(conn: Connection, participant_id: str, *, jti: str, kid: str,
                       issued_at: int) -> None:
    """Point a participant at a newly minted link (its `links` row is the caller's); its
    holder waits to be admitted again."""
    await conn.execute(
        "UPDATE participants SET jti = ?, kid = ?, issued_at = ?, admitted_at = NULL,"
        " admitted_device = NULL, denied_at = NULL WHERE id = ?",
        (jti, kid, issued_at, participant_id),
    )


async def set_late_note(db: Database, visit_id: str, note: RunningLate | None) -> None:
    """Store the therapist's running-late note of a visit (None: no note)."""
    await db.execute("UPDATE visits SET late_minutes = ?, late_at = ? WHERE id = ?",
                     (None, None, visit_id) if note is None else (note.minutes, note.at, visit_id))


async def late_note_of(db: Database, visit_id: str) -> RunningLate | None:
    """A visit's stored running-late note, or None."""
    row = await db.fetchone("SELECT late_minutes, late_at FROM visits WHERE id = ?", (visit_id,))
    return None if row is None else _late_note(row)


def _late_note(row: Row) -> RunningLate | None:
    return None if row["late_minutes"] is None else \
        RunningLate(int(row["late_minutes"]), int(row["late_at"]))


async def account_active(db: Database, user_id: int) -> bool:
    """Whether a staff account exists and is active."""
    row = await db.fetchone("SELECT active FROM users WHERE id = ?", (user_id,))
    return row is not None and bool(row["active"])


async def therapist_seats(db: Database, user_id: int, window: tuple[int, int] | None = None,
                          starts: tuple[int, int] | None = None) -> list[tuple[str, str]]:
    """(visit id, participant id) of the therapist seat in every open visit booked with her;
    with `window` (from, to: Unix times), only those whose link opens at some time in it,
    and `starts` (from, to) bounds their start, so the walk along the index
    `visits_therapist` (therapist_id, starts_at) does not grow with her history."""
    since, until = window if window is not None else (0, 2 ** 62)
    first, last = starts if starts is not None else (-(2 ** 62), 2 ** 62)
    rows = await db.fetchall(
        "SELECT p.visit_id, p.id FROM visits v JOIN participants p ON p.visit_id = v.id"
        " WHERE v.therapist_id = ? AND v.starts_at >= ? AND v.starts_at <= ?"
        " AND p.role = 'therapist' AND v.status = 'scheduled'"
        " AND p.not_before <= ? AND p.expires_at > ?",
        (user_id, first, last, until, since))
    return [(r["visit_id"], r["id"]) for r in rows]
