"""Secrets the server makes for itself and keeps in its database."""

from __future__ import annotations

import secrets

from server.storage.interface import Database

AUDIT_TAG_BYTES = 32


async def audit_tag_secret(db: Database) -> str:
    """The key of audit tags (hex). SQLite's migration 0004 made it; on PostgreSQL the
    first server to start makes it here (several starting at once agree on one)."""
    row = await db.fetchone("SELECT value FROM server_secrets WHERE name = 'audit_tag'")
    if row is None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO server_secrets (name, value) VALUES ('audit_tag', ?)"
                               " ON CONFLICT DO NOTHING", (secrets.token_hex(AUDIT_TAG_BYTES),))
        row = await db.fetchone("SELECT value FROM server_secrets WHERE name = 'audit_tag'")
    if row is None:
        raise RuntimeError("the audit_tag secret is missing; the database was not migrated")
    return str(row[0])
