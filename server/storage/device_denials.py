"""Devices turned away on a participant's link while her admission held on another."""

from __future__ import annotations

from server.storage.interface import Connection, Database
from server.storage.links import LINKS_STILL_OPEN


async def deny_device(conn: Connection, *, jti: str, visit_id: str, device: str,
                      now: int) -> None:
    """Remember, inside the caller's transaction, that the link's `device` was turned away
    (a second denial of the same device keeps the first time)."""
    await conn.execute(
        "INSERT INTO device_denials (jti, device, visit_id, denied_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (jti, device) DO NOTHING", (jti, device, visit_id, now))


async def device_denied(db: Database, jti: str, device: str | None) -> bool:
    """Whether the link's `device` was turned away (never for a connection without one)."""
    if not device:
        return False
    row = await db.fetchone("SELECT 1 FROM device_denials WHERE jti = ? AND device = ?",
                            (jti, device))
    return row is not None


async def purge_device_denials(conn: Connection, before: int) -> int:
    """Forget devices turned away on links revoked, forgotten or past every window
    (`before`): those links open nothing on any device."""
    cursor = await conn.execute(
        f"DELETE FROM device_denials WHERE jti NOT IN ({LINKS_STILL_OPEN})", (before,))
    return cursor.rowcount
