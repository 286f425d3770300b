"""Staff accounts (admins and therapists) and their login sessions."""

from __future__ import annotations

from dataclasses import dataclass

from server.storage.interface import Connection, Database, Row


@dataclass(frozen=True)
class User:
    """An admin's or therapist's account."""

    id: int
    email: str
    name: str
    role: str
    """'admin' or 'therapist'."""
    password_hash: str
    active: bool
    failed_logins: int
    locked_until: int
    """Unix time until which logins are refused; 0 when not locked."""
    credentials: str | None = None
    """What a therapist's waiting patients read after her name ("PT, DPT, WCS")."""
    bio: str | None = None
    """Her short bio for them (at most `MAX_BIO` characters)."""
    photo_version: int = 0
    """Her photo's version (`server/storage/clinic_settings.py`); 0 without one."""

    @classmethod
    def from_row(cls, row: Row) -> "User":
        """Build from a `users` row."""
        return cls(row["id"], row["email"], row["name"], row["role"], row["password_hash"],
                   bool(row["active"]), row["failed_logins"], row["locked_until"],
                   row["credentials"], row["bio"], int(row["photo_version"] or 0))


async def create_user(conn: Connection, *, email: str, name: str, role: str,
                      password_hash: str, now: int) -> int:
    """Insert an account inside the caller's transaction; returns its id."""
    async with conn.execute(
        "INSERT INTO users (email, name, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?)"
        " RETURNING id",
        (email, name, role, password_hash, now),
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def user_by_email(db: Database, email: str) -> User | None:
    """The account with this email (any case), or None."""
    row = await db.fetchone("SELECT * FROM users WHERE email = ?", (email,))
    return User.from_row(row) if row else None


async def user_by_id(db: Database, user_id: int) -> User | None:
    """The account with this id, or None."""
    row = await db.fetchone("SELECT * FROM users WHERE id = ?", (user_id,))
    return User.from_row(row) if row else None


async def count_admins(db: Database) -> int:
    """How many admin accounts exist."""
    row = await db.fetchone("SELECT COUNT(*) FROM users WHERE role = 'admin'")
    return int(row[0]) if row else 0


async def list_therapists(db: Database) -> list[User]:
    """All therapist accounts, active first, then by name."""
    rows = await db.fetchall(
        "SELECT * FROM users WHERE role = 'therapist' ORDER BY active DESC, name COLLATE NOCASE"
    )
    return [User.from_row(r) for r in rows]


MAX_CREDENTIALS = 100
"""The longest credentials line."""
MAX_BIO = 500
"""The longest bio."""


async def set_profile(conn: Connection, user_id: int, *, credentials: str | None,
                      bio: str | None) -> None:
    """Store a therapist's credentials and bio (her photo: `clinic_settings.set_user_photo`)."""
    await conn.execute("UPDATE users SET credentials = ?, bio = ? WHERE id = ?",
                       (credentials, bio, user_id))


async def set_active(conn: Connection, user_id: int, active: bool) -> None:
    """Activate or deactivate an account; deactivating also ends its sessions."""
    await conn.execute("UPDATE users SET active = ? WHERE id = ?", (int(active), user_id))
    if not active:
        await conn.execute("DELETE FROM staff_sessions WHERE user_id = ?", (user_id,))


async def reserve_login_attempt(db: Database, user_id: int, *, now: int,
                                max_failures: int) -> int | None:
    """Reserve one password check before hashing, in one statement so concurrent attempts
    cannot overrun the limit. None when reserved; otherwise the account's `locked_until`
    (at or before `now` when the limit is taken up by attempts still being checked)."""
    async with db.transaction() as conn:
        cur = await conn.execute(
            "UPDATE users SET failed_logins = failed_logins + 1"
            " WHERE id = ? AND locked_until <= ? AND failed_logins < ?",
            (user_id, now, max_failures))
        if cur.rowcount > 0:
            return None
        async with conn.execute("SELECT locked_until FROM users WHERE id = ?", (user_id,)) as rows:
            row = await rows.fetchone()
    return int(row[0]) if row else 0


async def release_login_attempt(db: Database, user_id: int) -> None:
    """Give back a reserved attempt that was never checked (the hashing pool was full, or
    the check failed on the way): a reservation left behind would count for ever."""
    async with db.transaction() as conn:
        await conn.execute("UPDATE users SET failed_logins = failed_logins - 1"
                           " WHERE id = ? AND failed_logins > 0", (user_id,))


async def fail_login_attempt(db: Database, user_id: int, *, now: int, max_failures: int,
                             lockout_seconds: int) -> bool:
    """The reserved check failed: lock the account when the limit is reached. True when it
    locked now. Reservations still being checked count, so a burst locks early, never late."""
    async with db.transaction() as conn:
        cur = await conn.execute(
            "UPDATE users SET locked_until = ?, failed_logins = 0"
            " WHERE id = ? AND failed_logins >= ? AND locked_until <= ?",
            (now + lockout_seconds, user_id, max_failures, now))
        return cur.rowcount > 0


async def succeed_login_attempt(conn: Connection, user_id: int, *, now: int) -> bool:
    """The reserved check passed: forget the failures, unless a lock is in force (then False:
    a right password never lifts a lock another attempt set meanwhile)."""
    cur = await conn.execute(
        "UPDATE users SET failed_logins = 0 WHERE id = ? AND locked_until <= ?", (user_id, now))
    return cur.rowcount > 0


async def unlock_user(conn: Connection, email: str) -> int | None:
    """Lift an account's lock and forget its failures; its id, or None when there is none."""
    async with conn.execute("SELECT id FROM users WHERE email = ?", (email,)) as cur:
        row = await cur.fetchone()
    if row is None:
        return None
    await conn.execute("UPDATE users SET failed_logins = 0, locked_until = 0 WHERE id = ?",
                       (row[0],))
    return int(row[0])


async def remember_login_address(conn: Connection, user_id: int, address_tag: str,
                                 now: int) -> None:
    """Note that the account signed in from this (tagged) address."""
    await conn.execute(
        "INSERT INTO login_addresses (user_id, address_tag, last_at) VALUES (?, ?, ?)"
        " ON CONFLICT (user_id, address_tag) DO UPDATE SET last_at = excluded.last_at",
        (user_id, address_tag, now))


async def signed_in_from(db: Database, user_id: int, address_tag: str, since: int) -> bool:
    """Whether the account signed in from this (tagged) address since then."""
    row = await db.fetchone(
        "SELECT 1 FROM login_addresses WHERE user_id = ? AND address_tag = ? AND last_at >= ?",
        (user_id, address_tag, since))
    return row is not None


async def create_session(conn: Connection, *, id_hash: str, user_id: int, now: int,
                         expires_at: int) -> None:
    """Store a new login session (by the hash of its cookie value)."""
    await conn.execute(
        "INSERT INTO staff_sessions (id_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
        (id_hash, user_id, now, expires_at),
    )


LIVE_SESSION = ("staff_sessions s JOIN users u ON u.id = s.user_id"
                " WHERE s.id_hash = ? AND s.expires_at > ? AND u.active = 1")
"""A live session (`?`: its stored id, now) of an active account, as `s` and `u`."""


async def user_for_session(db: Database, id_hash: str, now: int) -> User | None:
    """The active account behind a live session, or None."""
    row = await db.fetchone("SELECT u.* FROM " + LIVE_SESSION, (id_hash, now))
    return User.from_row(row) if row else None


async def delete_session(conn: Connection, id_hash: str) -> None:
    """End a login session, inside the caller's transaction (a sign-out's audit goes with it)."""
    await conn.execute("DELETE FROM staff_sessions WHERE id_hash = ?", (id_hash,))


async def purge_expired_sessions(conn: Connection, now: int) -> int:
    """Forget staff logins that have expired; returns how many."""
    cursor = await conn.execute("DELETE FROM staff_sessions WHERE expires_at <= ?", (now,))
    return cursor.rowcount
