"""Issued links (table `links`): one row a link, whatever its scope, revoked on that row.

A link opens something only while its jti has a row here that is not revoked (`live_link`,
the one place that rule is written); a token whose jti has none (replaced before links were
recorded, or forgotten past every window it could open) opens nothing. A subject has at most
one live link (a partial unique index): re-issuing and revoking stop every live link of the
subject inside their transaction, whatever jti the caller read before it.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.storage.interface import Connection, Database, Row
from server.storage.users import LIVE_SESSION


@dataclass(frozen=True)
class Link:
    """One issued link."""

    jti: str
    scope: str
    """Its scope's name (`server/auth/scopes.py`)."""
    subject: str
    """What its `sub` names: a visit link's participant id."""
    visit_id: str | None
    """The visit of a visit link; None for a scope without one."""
    kid: str
    issued_at: int
    expires_at: int
    revoked_at: int | None = None

    @classmethod
    def from_row(cls, row: Row) -> Link:
        """Build from a `links` row."""
        return cls(row["jti"], row["scope"], row["subject"], row["visit_id"], row["kid"],
                   row["issued_at"], row["expires_at"], row["revoked_at"])


async def insert_link(conn: Connection, link: Link) -> None:
    """Record an issued link inside the caller's transaction (the one that stores what it
    opens, so neither is stored without the other)."""
    await conn.execute(
        "INSERT INTO links (jti, scope, subject, visit_id, kid, issued_at, expires_at,"
        " revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (link.jti, link.scope, link.subject, link.visit_id, link.kid, link.issued_at,
         link.expires_at, link.revoked_at))


async def insert_link_unless_live(conn: Connection, link: Link) -> bool:
    """Record `link` unless its subject has a live link of its scope already (then nothing
    changes: `links_live_subject`); True when it was recorded."""
    cur = await conn.execute(
        "INSERT INTO links (jti, scope, subject, visit_id, kid, issued_at, expires_at,"
        " revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)"
        " ON CONFLICT (scope, subject) WHERE revoked_at IS NULL DO NOTHING",
        (link.jti, link.scope, link.subject, link.visit_id, link.kid, link.issued_at,
         link.expires_at))
    return cur.rowcount > 0


async def get_link(db: Database, jti: str) -> Link | None:
    """The link with this jti, or None."""
    row = await db.fetchone("SELECT * FROM links WHERE jti = ?", (jti,))
    return None if row is None else Link.from_row(row)


async def revoke_subject_links(conn: Connection, scope: str, subject: str, now: int) -> None:
    """Stop every live link of one subject (a participant's: re-issue, revoke), whichever
    jti the caller read before its transaction; revoked links keep their first time."""
    await conn.execute(
        "UPDATE links SET revoked_at = ? WHERE scope = ? AND subject = ? AND revoked_at IS NULL",
        (now, scope, subject))


async def revoke_visit_links(conn: Connection, visit_id: str, now: int) -> None:
    """Stop every live link of a visit (cancelling it), whoever it was issued to."""
    await conn.execute(
        "UPDATE links SET revoked_at = ? WHERE visit_id = ? AND revoked_at IS NULL",
        (now, visit_id))


async def live_subject_link(db: Database, scope: str, subject: str) -> Link | None:
    """The live link of a subject in this scope (at most one: `links_live_subject`), or None
    (never issued, or revoked)."""
    row = await db.fetchone("SELECT * FROM links WHERE scope = ? AND subject = ?"
                            " AND revoked_at IS NULL", (scope, subject))
    return None if row is None else Link.from_row(row)


_LIVE = "l.jti = ? AND l.scope = ? AND l.subject = ? AND l.revoked_at IS NULL"
"""The rule: (jti, scope, subject) a recorded link of that scope and subject, not revoked."""


async def live_link(db: Database, scope: str, subject: str, jti: str,
                    visit_id: str | None = None) -> bool:
    """Whether `jti` is a live link of this scope for this subject (and, given, this visit):
    recorded and not revoked. Every link of every scope opens only while this holds
    (`server/auth/tokens.py` `verify_issued`, and a seat's link in a room: `live_seat_link`)."""
    sql = "SELECT 1 FROM links l WHERE " + _LIVE
    args: tuple[str, ...] = (jti, scope, subject)
    if visit_id is not None:
        sql, args = sql + " AND l.visit_id = ?", (*args, visit_id)
    return await db.fetchone(sql, args) is not None


async def live_seat_link(db: Database, scope: str, participant_id: str, jti: str,
                         session: str, now: int) -> bool:
    """Whether a participant's socket that opened through the visit link `jti` may be seated
    now: `jti` a live link of hers (`live_link`'s rule) and, for the therapist of a visit
    booked with a staff account, `session` (the stored id of the staff session the socket
    opened with) still live, that account's, and the account active. One query, every
    table read by its primary key."""
    row = await db.fetchone(
        "SELECT 1 FROM links l JOIN participants p ON p.id = l.subject"
        " JOIN visits v ON v.id = p.visit_id WHERE " + _LIVE +
        " AND (p.role <> 'therapist' OR v.therapist_id IS NULL OR EXISTS ("
        "SELECT 1 FROM " + LIVE_SESSION + " AND s.user_id = v.therapist_id))",
        (jti, scope, participant_id, session, now))
    return row is not None


LINKS_STILL_OPEN = "SELECT jti FROM links WHERE revoked_at IS NULL AND expires_at >= ?"
"""The jtis of links not revoked and not past `?` (the start of every window they could open):
what a link's device binding or a device turned away on it still matters for."""


async def purge_revoked_links(conn: Connection, before: int) -> int:
    """Forget revoked links that could not open anything after `before` anyway; without a
    row they stay refused."""
    cursor = await conn.execute(
        "DELETE FROM links WHERE revoked_at IS NOT NULL AND expires_at < ?", (before,))
    return cursor.rowcount
