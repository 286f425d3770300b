"""The `plan_messages` table: the thread between a patient and her care team on a plan.

Reads and writes only; what may be written, by whom and how often is
`server/care/messages.py`. A thread is ordered by (created_at, id), newest first, and paged
by the (created_at, id) of the oldest message a page showed. Writes run inside the caller's
transaction, so a message, its audit row and its email notice commit together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.storage.interface import Connection, Database, Row

AUTHORS = ("patient", "staff")
"""Who writes in a thread: the patient (her plan link) or a staff account."""


@dataclass(frozen=True)
class PlanMessage:
    """One message of a plan's thread."""

    id: int
    plan_id: str
    author: str
    """'patient' or 'staff' (`AUTHORS`)."""
    user_id: int | None
    """The staff account that wrote it (None for hers)."""
    text: str
    created_at: int
    read_at: int | None
    """When the other side first saw it (None: not yet)."""
    author_name: str | None = None
    """The staff account's name, for a staff message (her page says who answered)."""

    def as_json(self) -> dict[str, Any]:
        """The message as her page reads it: no ids of staff accounts."""
        return {"id": self.id, "author": self.author, "author_name": self.author_name,
                "text": self.text, "created_at": self.created_at,
                "read": self.read_at is not None}


@dataclass(frozen=True)
class UnreadThread:
    """A plan with messages of hers its staff have not read (the dashboard's list)."""

    plan_id: str
    patient_id: str
    unread: int
    latest_at: int


def _message(row: Row) -> PlanMessage:
    return PlanMessage(int(row["id"]), row["plan_id"], row["author"],
                       None if row["user_id"] is None else int(row["user_id"]), row["body"],
                       int(row["created_at"]), row["read_at"], row["author_name"])


async def insert_message(conn: Connection, *, plan_id: str, author: str, user_id: int | None,
                         text: str, now: int) -> int | None:
    """Store a message on an active plan inside the caller's transaction; its id, or None
    when the plan is not active (nothing stored)."""
    async with conn.execute(
        "INSERT INTO plan_messages (plan_id, author, user_id, body, created_at)"
        " SELECT id, ?, ?, ?, ? FROM plans WHERE id = ? AND status = 'active' RETURNING id",
        (author, user_id, text, now, plan_id),
    ) as cur:
        row = await cur.fetchone()
    return None if row is None else int(row["id"])


async def sent_since(conn: Connection, plan_id: str, author: str,
                     since: int) -> tuple[int, int | None]:
    """How many messages `author` wrote on the plan after `since`, and when the first of
    them came (None when none did)."""
    async with conn.execute(
        "SELECT COUNT(*), MIN(created_at) FROM plan_messages WHERE plan_id = ? AND author = ?"
        " AND created_at > ?", (plan_id, author, since)) as cur:
        row = await cur.fetchone()
    assert row is not None
    return int(row[0]), None if row[1] is None else int(row[1])


async def first_unread(conn: Connection, plan_id: str, author: str) -> int | None:
    """The id of the oldest message of `author` on the plan the other side has not read."""
    async with conn.execute(
        "SELECT id FROM plan_messages WHERE plan_id = ? AND author = ? AND read_at IS NULL"
        " ORDER BY created_at, id LIMIT 1", (plan_id, author)) as cur:
        row = await cur.fetchone()
    return None if row is None else int(row["id"])


async def thread(db: Database, plan_id: str, *, before: tuple[int, int] | None,
                 limit: int) -> list[PlanMessage]:
    """The plan's messages, newest first, at most `limit`, older than the (created_at, id)
    `before` when given; each staff message with its author's name."""
    older = ""
    params: list[Any] = [plan_id]
    if before is not None:
        older = " AND (m.created_at < ? OR (m.created_at = ? AND m.id < ?))"
        params += [before[0], before[0], before[1]]
    rows = await db.fetchall(
        "SELECT m.id, m.plan_id, m.author, m.user_id, m.body, m.created_at, m.read_at,"
        " u.name AS author_name FROM plan_messages m LEFT JOIN users u ON u.id = m.user_id"
        f" WHERE m.plan_id = ?{older} ORDER BY m.created_at DESC, m.id DESC LIMIT ?",
        (*params, limit))
    return [_message(row) for row in rows]


async def unread_count(db: Database, plan_id: str, author: str) -> int:
    """How many messages of `author` on the plan the other side has not read."""
    row = await db.fetchone("SELECT COUNT(*) FROM plan_messages WHERE plan_id = ?"
                            " AND author = ? AND read_at IS NULL", (plan_id, author))
    return int(row[0]) if row is not None else 0


async def mark_read(conn: Connection, plan_id: str, author: str, now: int) -> int:
    """Mark every unread message of `author` on the plan read; how many were."""
    cur = await conn.execute(
        "UPDATE plan_messages SET read_at = ? WHERE plan_id = ? AND author = ?"
        " AND read_at IS NULL", (now, plan_id, author))
    return max(int(cur.rowcount), 0)


async def unread_threads(db: Database, *, therapist_id: int | None,
                         limit: int) -> list[UnreadThread]:
    """Active plans with unread messages of the patient, the latest first, at most `limit`:
    of the plans `therapist_id` leads, or of every plan when None."""
    mine = " AND p.therapist_id = ?" if therapist_id is not None else ""
    rows = await db.fetchall(
        "SELECT m.plan_id, p.patient_id, COUNT(*) AS unread, MAX(m.created_at) AS latest_at"
        " FROM plan_messages m JOIN plans p ON p.id = m.plan_id"
        " WHERE m.author = 'patient' AND m.read_at IS NULL AND p.status = 'active'"
        f"{mine} GROUP BY m.plan_id, p.patient_id ORDER BY latest_at DESC, m.plan_id LIMIT ?",
        (*((therapist_id,) if therapist_id is not None else ()), limit))
    return [UnreadThread(r["plan_id"], r["patient_id"], int(r["unread"]), int(r["latest_at"]))
            for r in rows]
