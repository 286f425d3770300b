"""Secrets the server makes for itself and keeps in its database."""

from __future__ import annotations

import secrets

from server.storage.interface import Database

AUDIT_TAG_BYTES = 32
BUS_SEAL_BYTES = 32
"""The key that seals the cluster bus's envelopes (AES-256-GCM, `signaling.bus_seal`)."""


async def audit_tag_secret(db: Database) -> str:
    """The key of audit tags (hex), made here by the first server to start (several
    starting at once agree on one); SQLite databases made before migration 0008 got it
    from migration 0004."""
    return await _made_once(db, "audit_tag", AUDIT_TAG_BYTES)


async def bus_seal_key(db: Database) -> bytes:
    """The key every process of a group seals its bus envelopes with: made by the first
    process to ask, and the same for every process on this database (several starting at
    once agree on one). It never leaves the database and the processes' memory."""
    return bytes.fromhex(await _made_once(db, "bus_seal", BUS_SEAL_BYTES))


async def _made_once(db: Database, name: str, size: int) -> str:
    """The secret `name` (hex), made here if the database has none yet. Race-safe across
    processes: each inserts a candidate only if none exists, then all read the one kept."""
    query = "SELECT value FROM server_secrets WHERE name = ?"
    row = await db.fetchone(query, (name,))
    if row is None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO server_secrets (name, value) VALUES (?, ?)"
                               " ON CONFLICT DO NOTHING", (name, secrets.token_hex(size)))
        row = await db.fetchone(query, (name,))
    if row is None:
        raise RuntimeError(f"the {name} secret is missing; the database was not migrated")
    return str(row[0])
