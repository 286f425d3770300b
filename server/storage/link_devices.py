"""The device a therapist link is bound to (a visit whose therapist has no staff account)."""

from __future__ import annotations

from server.storage.interface import Connection, Database
from server.storage.links import LINKS_STILL_OPEN


async def bind_link_device(conn: Connection, *, jti: str, visit_id: str, device: str,
                           now: int) -> tuple[str, bool]:
    """Bind the link to `device` unless it is bound already, inside the caller's transaction.

    Returns the device the link is bound to and whether this call bound it. One statement
    decides, so two browsers opening the link at the same moment cannot both win.
    """
    cursor = await conn.execute(
        "INSERT INTO link_devices (jti, visit_id, device, bound_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (jti) DO NOTHING", (jti, visit_id, device, now))
    if cursor.rowcount > 0:
        return device, True
    async with conn.execute("SELECT device FROM link_devices WHERE jti = ?", (jti,)) as rows:
        row = await rows.fetchone()
    return (str(row[0]) if row else device), False


async def link_device(db: Database, jti: str) -> str | None:
    """The device the link is bound to, None while it is not bound."""
    row = await db.fetchone("SELECT device FROM link_devices WHERE jti = ?", (jti,))
    return str(row[0]) if row else None


async def purge_link_devices(conn: Connection, before: int) -> int:
    """Forget the devices of links revoked, forgotten or past every window (`before`)."""
    cursor = await conn.execute(f"DELETE FROM link_devices WHERE jti NOT IN ({LINKS_STILL_OPEN})",
                                (before,))
    return cursor.rowcount
