"""Integrator API keys, stored as SHA-256 hashes."""

from __future__ import annotations

from dataclasses import dataclass

from server.storage.interface import Connection, Database


@dataclass(frozen=True)
class ApiKey:
    """An integrator key (without its secret)."""

    id: int
    name: str
    prefix: str
    """First characters of the key, shown so an admin can tell keys apart."""
    created_at: int
    revoked_at: int | None
    last_used_at: int | None
    scopes: str
    """What the key may do: space-separated scopes (`server.auth.policy.KeyScope`)."""


async def create_api_key(conn: Connection, *, name: str, prefix: str, key_hash: str,
                         created_by: int | None, now: int, scopes: str) -> int:
    """Store a new key's hash with its scopes (space-separated); returns its id."""
    async with conn.execute(
        "INSERT INTO api_keys (name, prefix, key_hash, created_by, created_at, scopes)"
        " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        (name, prefix, key_hash, created_by, now, scopes),
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def list_api_keys(db: Database) -> list[ApiKey]:
    """All keys, newest first."""
    rows = await db.fetchall("SELECT * FROM api_keys ORDER BY id DESC")
    return [ApiKey(r["id"], r["name"], r["prefix"], r["created_at"], r["revoked_at"],
                   r["last_used_at"], r["scopes"]) for r in rows]


async def live_key(db: Database, key_hash: str) -> tuple[int, int | None, str] | None:
    """(id, last_used_at, scopes) of the unrevoked key with this hash, or None."""
    row = await db.fetchone(
        "SELECT id, last_used_at, scopes FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL",
        (key_hash,)
    )
    return (int(row[0]), row[1], str(row[2])) if row else None



async def mark_key_used(conn: Connection, key_id: int, now: int) -> None:
    """Record when a key was last used."""
    await conn.execute("UPDATE api_keys SET last_used_at = ? WHERE id = ?", (now, key_id))


async def revoke_api_key(conn: Connection, key_id: int, now: int) -> bool:
    """Revoke a key; False when it does not exist or was revoked already."""
    cur = await conn.execute(
        "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (now, key_id)
    )
    return cur.rowcount > 0
