"""Sign-in attempts at emails without an account, by keyed tag, in the shared database.

They are counted and "locked" with the same statements as an account (`users.py`
`reserve_login_attempt`, `fail_login_attempt`), so every process of a group shares one
count, and the answer for an unknown email never differs from a known one's.
"""

from __future__ import annotations

from server.storage.interface import Connection, Database

FORGET_AFTER_SECONDS = 30 * 86400
"""A tag untouched this long, and not locked, is forgotten by housekeeping (the table
would otherwise grow with every mistyped email for ever)."""


async def reserve_unknown_attempt(db: Database, email_tag: str, *, now: int,
                                  max_failures: int) -> int | None:
    """Reserve one password check for an unknown email, in one statement as for an account.
    None when reserved; otherwise the tag's `locked_until` (at or before `now` when the
    limit is taken up by attempts still being checked)."""
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO login_unknown_emails (email_tag, last_at) VALUES (?, ?)"
            " ON CONFLICT (email_tag) DO NOTHING", (email_tag, now))
        cur = await conn.execute(
            "UPDATE login_unknown_emails SET failed_logins = failed_logins + 1, last_at = ?"
            " WHERE email_tag = ? AND locked_until <= ? AND failed_logins < ?",
            (now, email_tag, now, max_failures))
        if cur.rowcount > 0:
            return None
        await conn.execute("UPDATE login_unknown_emails SET last_at = ? WHERE email_tag = ?",
                           (now, email_tag))
        async with conn.execute("SELECT locked_until FROM login_unknown_emails"
                                " WHERE email_tag = ?", (email_tag,)) as rows:
            row = await rows.fetchone()
    return int(row[0]) if row else 0


async def release_unknown_attempt(db: Database, email_tag: str) -> None:
    """Give back a reserved attempt that was never checked."""
    async with db.transaction() as conn:
        await conn.execute("UPDATE login_unknown_emails SET failed_logins = failed_logins - 1"
                           " WHERE email_tag = ? AND failed_logins > 0", (email_tag,))


async def fail_unknown_attempt(db: Database, email_tag: str, *, now: int, max_failures: int,
                               lockout_seconds: int) -> bool:
    """The reserved check failed (it always does): "lock" the tag when the limit is
    reached. True when it locked now."""
    async with db.transaction() as conn:
        cur = await conn.execute(
            "UPDATE login_unknown_emails SET locked_until = ?, failed_logins = 0"
            " WHERE email_tag = ? AND failed_logins >= ? AND locked_until <= ?",
            (now + lockout_seconds, email_tag, max_failures, now))
        return cur.rowcount > 0


async def purge_unknown_attempts(conn: Connection, now: int) -> int:
    """Forget tags that are not locked and were last tried `FORGET_AFTER_SECONDS` ago."""
    cursor = await conn.execute(
        "DELETE FROM login_unknown_emails WHERE locked_until <= ? AND last_at < ?",
        (now, now - FORGET_AFTER_SECONDS))
    return cursor.rowcount
