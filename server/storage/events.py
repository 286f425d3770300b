"""The audit log: who did what to which visit, recorded by id only."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiosqlite

from server.storage.database import Database


@dataclass(frozen=True)
class Event:
    """One audit entry."""

    id: int
    at: int
    actor: str
    """Who acted: 'user:3', 'api_key:2', 'cli', 'system', 'participant:<id>'."""
    action: str
    """What happened, e.g. 'visit.created', 'link.reissued', 'login.failed'."""
    visit_id: str | None
    detail: dict[str, Any]


async def record_event(conn: aiosqlite.Connection, *, actor: str, action: str, now: int,
                       visit_id: str | None = None, detail: dict[str, Any] | None = None) -> None:
    """Append an event inside the caller's transaction. Detail holds ids and codes, never names."""
    await conn.execute(
        "INSERT INTO events (at, actor, action, visit_id, detail) VALUES (?, ?, ?, ?, ?)",
        (now, actor, action, visit_id, json.dumps(detail or {}, separators=(",", ":"))),
    )


async def events_for_visit(db: Database, visit_id: str) -> list[Event]:
    """The visit's audit trail, oldest first."""
    rows = await db.fetchall(
        "SELECT * FROM events WHERE visit_id = ? ORDER BY at, id", (visit_id,)
    )
    return [_event(r) for r in rows]


async def recent_events(db: Database, limit: int = 200) -> list[Event]:
    """The newest events across the clinic, newest first."""
    rows = await db.fetchall("SELECT * FROM events ORDER BY id DESC LIMIT ?", (limit,))
    return [_event(r) for r in rows]


def _event(row: aiosqlite.Row) -> Event:
    return Event(row["id"], row["at"], row["actor"], row["action"], row["visit_id"],
                 json.loads(row["detail"]))
