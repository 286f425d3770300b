"""Secrets the server makes for itself and keeps in its database."""

from __future__ import annotations

from server.storage.database import Database


async def audit_tag_secret(db: Database) -> str:
    """The key of audit tags (hex), made by migration 0004."""
    row = await db.fetchone("SELECT value FROM server_secrets WHERE name = 'audit_tag'")
    if row is None:
        raise RuntimeError("the audit_tag secret is missing; the database was not migrated")
    return str(row[0])
