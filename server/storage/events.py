"""The audit log: who did what to which visit, recorded by id only."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from server.storage.audit_events import AuditEvent, read_event
from server.storage.interface import Connection, Database, Row

COLLAPSE_SECONDS = 60
"""Repeats of a collapsible event (`AuditEvent.collapse`) by one actor within this time add
to the first row."""
_LOOK_BACK = 20
"""Rows of the window searched for one of the same detail."""
_REPEAT_KEYS = ("repeats", "last_at")


@dataclass(frozen=True)
class Event:
    """One audit entry."""

    id: int
    at: int
    actor: str
    """Who acted: 'user:3', 'api_key:2', 'cli', 'system', 'participant:<id>', 'anonymous'
    (a sign-in attempt for an email without an account)."""
    action: str
    """What happened, e.g. 'visit.created', 'link.reissued', 'login.failed'."""
    visit_id: str | None
    detail: dict[str, Any]

    def typed(self) -> AuditEvent | None:
        """The event as its declared type; None for an action no type declares."""
        return read_event(self.action, _without_repeats(self.detail))


@dataclass(frozen=True)
class EventQuery:
    """Which events to list; every field narrows the list, None leaves it open."""

    visit_id: str | None = None
    actor: str | None = None
    action: str | None = None
    since: int | None = None
    """Unix time, inclusive."""
    until: int | None = None
    """Unix time, exclusive."""
    before_id: int | None = None
    """Only events older than this one (the next page)."""


async def record_event(conn: Connection, event: AuditEvent, *, actor: str, now: int,
                       visit_id: str | None = None) -> None:
    """Append an event inside the caller's transaction: its type gives the action, its
    fields the detail (ids and codes, never names).

    A collapsible event repeated by the same actor on the same visit within a minute of its
    first row counts in that row (`repeats`, `last_at`) instead of adding one (for a
    `collapse_by_detail` type, a row with the same detail).
    """
    action, detail = event.action, event.detail()
    if event.collapse:
        # `visit_id = ?` and `IS NULL` apart, so that both engines use the index.
        same_visit = "visit_id IS NULL" if visit_id is None else "visit_id = ?"
        by_detail = event.collapse_by_detail
        async with conn.execute(
            f"SELECT id, detail FROM events WHERE {same_visit} AND actor = ? AND action = ?"
            " AND at >= ? ORDER BY id DESC LIMIT ?",
            (*(() if visit_id is None else (visit_id,)), actor, action, now - COLLAPSE_SECONDS,
             _LOOK_BACK if by_detail else 1),
        ) as cur:
            rows = list(await cur.fetchall())
        if by_detail:
            rows = [r for r in rows if _without_repeats(json.loads(r[1])) == detail]
        row = rows[0] if rows else None
        if row is not None:
            merged = json.loads(row[1])
            merged["repeats"] = int(merged.get("repeats", 1)) + 1
            merged["last_at"] = now
            await conn.execute("UPDATE events SET detail = ? WHERE id = ?",
                               (json.dumps(merged, separators=(",", ":")), row[0]))
            return
    await conn.execute(
        "INSERT INTO events (at, actor, action, visit_id, detail) VALUES (?, ?, ?, ?, ?)",
        (now, actor, action, visit_id, json.dumps(detail, separators=(",", ":"))),
    )


def _without_repeats(detail: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in detail.items() if k not in _REPEAT_KEYS}


async def events_for_visit(db: Database, visit_id: str) -> list[Event]:
    """The visit's audit trail, oldest first."""
    rows = await db.fetchall(
        "SELECT * FROM events WHERE visit_id = ? ORDER BY at, id", (visit_id,)
    )
    return [_event(r) for r in rows]


async def find_events(db: Database, query: EventQuery, limit: int) -> tuple[list[Event], bool]:
    """One page of events matching the query, newest first, and whether older ones follow."""
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (("visit_id = ?", query.visit_id), ("actor = ?", query.actor),
                          ("action = ?", query.action), ("at >= ?", query.since),
                          ("at < ?", query.until), ("id < ?", query.before_id)):
        if value is not None:
            clauses.append(column)
            params.append(value)
    where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
    # Only the fixed fragments above go into the text; every value is a parameter.
    rows = await db.fetchall(f"SELECT * FROM events {where}ORDER BY id DESC LIMIT ?",
                             (*params, limit + 1))
    return [_event(r) for r in rows[:limit]], len(rows) > limit


async def event_actions(db: Database) -> list[str]:
    """Every action the log holds, for the filter form."""
    rows = await db.fetchall("SELECT DISTINCT action FROM events ORDER BY action")
    return [r[0] for r in rows]


def _event(row: Row) -> Event:
    return Event(row["id"], row["at"], row["actor"], row["action"], row["visit_id"],
                 json.loads(row["detail"]))
