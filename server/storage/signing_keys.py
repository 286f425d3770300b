"""Private keys that sign visit links."""

from __future__ import annotations

from server.storage.interface import Connection, Database


async def insert_signing_key(conn: Connection, *, kid: str, private_pem: str,
                             now: int) -> None:
    """Store a new signing key, after the ones already there."""
    await conn.execute(
        "INSERT INTO signing_keys (kid, private_pem, created_at, position) VALUES (?, ?, ?,"
        " (SELECT COALESCE(MAX(position), 0) + 1 FROM signing_keys))",
        (kid, private_pem, now),
    )


async def all_signing_keys(db: Database) -> list[tuple[str, str, int]]:
    """Every key as (kid, private PEM, created_at), oldest first."""
    rows = await db.fetchall(
        "SELECT kid, private_pem, created_at FROM signing_keys ORDER BY created_at, position"
    )
    return [(r[0], r[1], r[2]) for r in rows]
