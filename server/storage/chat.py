"""The chat of calls and waiting rooms kept with a visit (table `chat_messages`), only when
the server keeps chat (`VISITROOM_CHAT_STORE=on`)."""

from __future__ import annotations

from dataclasses import dataclass

from server.storage.interface import Database
from signaling.chat import ChatEntry

COLUMNS = "id, position, thread, sender_id, sender_role, sender_name, text, sent_at"
HISTORY_ROWS = 500
"""Stored messages a rebuilt room reads back (the latest; it keeps 50 of each thread)."""
KEPT_PER_VISIT = 2000
"""Messages a visit keeps at most: the next is refused (`chat_full`), neither kept nor sent
(a message or two more when the room's seats send at the same instant)."""
SHOWN = 500
"""The latest kept messages the admin visit page and the API show (`KeptChat.more`)."""


@dataclass(frozen=True)
class KeptChat:
    """The chat shown with a visit: its latest `SHOWN` kept messages, oldest first."""

    messages: list[ChatEntry]
    more: bool
    """Earlier messages are kept but not shown."""


async def add_chat_message(db: Database, visit_id: str, entry: ChatEntry) -> bool:
    """Store one message in its own transaction; False, storing nothing, once the visit
    keeps `KEPT_PER_VISIT` (one indexed count before each insert)."""
    kept = await db.fetchone("SELECT COUNT(*) FROM chat_messages WHERE visit_id = ?",
                             (visit_id,))
    if kept is not None and kept[0] >= KEPT_PER_VISIT:
        return False
    await db.execute(
        f"INSERT INTO chat_messages (visit_id, {COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (visit_id, entry.id, entry.position, entry.thread, entry.sender_id, entry.sender_role,
         entry.sender_name, entry.text, entry.at))
    return True


async def chat_of_visit(db: Database, visit_id: str, *,
                        latest: int = KEPT_PER_VISIT) -> list[ChatEntry]:
    """A visit's `latest` stored messages, oldest first."""
    rows = list(reversed(await db.fetchall(
        f"SELECT {COLUMNS} FROM chat_messages WHERE visit_id = ?"
        " ORDER BY position DESC, id DESC LIMIT ?", (visit_id, latest))))
    return [ChatEntry(*row) for row in rows]


async def visit_has_chat(db: Database, visit_id: str) -> bool:
    """Whether any message of the visit is stored."""
    return await db.fetchone("SELECT 1 FROM chat_messages WHERE visit_id = ? LIMIT 1",
                             (visit_id,)) is not None


async def kept_chat(db: Database, visit_id: str, *, keeping: bool) -> KeptChat | None:
    """The chat to show with a visit (admin page, API): its latest `SHOWN` stored messages
    when the server keeps chat or some were stored; None when there is none to show."""
    if not keeping and not await visit_has_chat(db, visit_id):
        return None
    latest = await chat_of_visit(db, visit_id, latest=SHOWN + 1)
    return KeptChat(latest[-SHOWN:], len(latest) > SHOWN)
