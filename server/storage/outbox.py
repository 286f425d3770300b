"""The `outbox` table: messages waiting to be sent, each once (see
server/runtime/outbox_runner.py for who sends them).

A message is queued inside the transaction of the change that asks for it, under an
idempotency key its caller builds: the same key again adds nothing. It is claimed as a job
is (server/storage/jobs.py): one UPDATE of the first due row of the claimer's channels
(picked `FOR UPDATE SKIP LOCKED` on PostgreSQL, the engine's `row_lock`; SQLite has one
writer) sets a lease and counts the attempt; a row whose process died while holding it is
due again when the lease ends. Every later write names the claim by (key, lease_owner,
attempts), so a process whose lease was taken over changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from server.mail.addresses import check_email
from server.mail.message import OutboxMessage
from server.storage.interface import Connection, Database, Row

STATUSES = ("queued", "sending", "sent", "dead")
MAX_ATTEMPTS = 8
"""Attempts before a message is dead, by default: with the jobs' backoff (30 s doubling),
about an hour and a half of trying."""
LEASE_EXPIRED = "LeaseExpired"
"""The error recorded when a message's process stopped before recording its attempt."""
_COLUMNS = ("idempotency_key, channel, kind, recipient, subject, body, html, attachment,"
            " unsubscribe_url, patient_id, created_at, attempts, max_attempts, lease_owner,"
            " lease_until")


@dataclass(frozen=True)
class OutboxRecord:
    """A message as the admin sees it: no recipient, no text."""

    key: str
    kind: str
    status: str
    patient_id: str | None
    attempts: int
    max_attempts: int
    last_error: str | None
    last_error_at: int | None
    created_at: int
    sent_at: int | None


async def enqueue_email(conn: Connection, *, key: str, kind: str, recipient: str,
                        subject: str, body: str, now: int, html: str | None = None,
                        attachment: str | None = None, unsubscribe_url: str | None = None,
                        patient_id: str | None = None,
                        max_attempts: int = MAX_ATTEMPTS) -> bool:
    """Queue an email inside the caller's transaction, due now; False when a message with
    this key exists already (nothing changes). A bad field raises MailInputError and
    stores nothing."""
    check_email(key=key, kind=kind, recipient=recipient, subject=subject, body=body, html=html,
                attachment=attachment, unsubscribe_url=unsubscribe_url, patient_id=patient_id)
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    cur = await conn.execute(
        "INSERT INTO outbox (idempotency_key, channel, kind, recipient, subject, body, html,"
        " attachment, unsubscribe_url, patient_id, status, attempts, max_attempts,"
        " next_attempt_at, created_at) VALUES (?, 'email', ?, ?, ?, ?, ?, ?, ?, ?, 'queued', 0,"
        " ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING",
        (key, kind, recipient, subject, body, html, attachment, unsubscribe_url, patient_id,
         max_attempts, now, now))
    return cur.rowcount > 0


def _claim_sql(channels: int, row_lock: str) -> str:
    due = ("((status = 'queued' AND next_attempt_at <= ?) OR (status = 'sending'"
           " AND lease_until <= ? AND attempts < max_attempts))")
    return (
        "UPDATE outbox SET status = 'sending', lease_owner = ?, lease_until = ?,"
        " attempts = attempts + 1,"
        " last_error = CASE WHEN status = 'sending' THEN ? ELSE last_error END,"
        " last_error_at = CASE WHEN status = 'sending' THEN ? ELSE last_error_at END"
        " WHERE idempotency_key = (SELECT idempotency_key FROM outbox WHERE"
        f" channel IN ({','.join('?' * channels)}) AND {due}"
        f" ORDER BY next_attempt_at, idempotency_key LIMIT 1{row_lock})"
        f" RETURNING {_COLUMNS}")


async def claim_message(db: Database, *, owner: str, channels: Sequence[str], now: int,
                        lease_seconds: int) -> OutboxMessage | None:
    """Lease the first due message of these channels to `owner`, or None when none is due.

    Messages whose process died holding their last attempt's lease are dead first."""
    if not channels:
        return None
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE outbox SET status = 'dead', last_error = ?, last_error_at = ?,"
            " lease_owner = NULL, lease_until = NULL"
            " WHERE status = 'sending' AND lease_until <= ? AND attempts >= max_attempts",
            (LEASE_EXPIRED, now, now))
        async with conn.execute(
                _claim_sql(len(channels), db.row_lock),
                (owner, now + lease_seconds, LEASE_EXPIRED, now, *channels, now, now)) as cur:
            row = await cur.fetchone()
    return None if row is None else _message(row)


def _message(row: Row) -> OutboxMessage:
    return OutboxMessage(
        key=row["idempotency_key"], channel=row["channel"], kind=row["kind"],
        recipient=row["recipient"], subject=row["subject"], body=row["body"], html=row["html"],
        attachment=row["attachment"], unsubscribe_url=row["unsubscribe_url"],
        patient_id=row["patient_id"], created_at=int(row["created_at"]),
        attempts=int(row["attempts"]), max_attempts=int(row["max_attempts"]),
        lease_owner=row["lease_owner"], lease_until=int(row["lease_until"]))


_THIS_CLAIM = ("idempotency_key = ? AND lease_owner = ? AND attempts = ?"
               " AND status = 'sending'")


def _claim(message: OutboxMessage) -> tuple[str, str, int]:
    return message.key, message.lease_owner, message.attempts


async def mark_sent(db: Database, message: OutboxMessage, now: int) -> bool:
    """Record this claim's message as sent; False if its lease was lost meanwhile."""
    return await db.execute(
        "UPDATE outbox SET status = 'sent', sent_at = ?, lease_owner = NULL, lease_until = NULL"
        f" WHERE {_THIS_CLAIM}", (now, *_claim(message))) > 0


async def mark_failed(db: Database, message: OutboxMessage, *, error: str, now: int,
                      retry_at: int | None) -> bool:
    """Record a failed attempt: queued again for `retry_at`, or dead (None)."""
    status = "dead" if retry_at is None else "queued"
    return await db.execute(
        "UPDATE outbox SET status = ?, next_attempt_at = COALESCE(?, next_attempt_at),"
        " last_error = ?, last_error_at = ?, lease_owner = NULL, lease_until = NULL"
        f" WHERE {_THIS_CLAIM}", (status, retry_at, error, now, *_claim(message))) > 0


async def release_message(db: Database, message: OutboxMessage, now: int) -> bool:
    """Give a claimed message back unsent (its process is stopping): due now, the attempt
    not counted."""
    return await db.execute(
        "UPDATE outbox SET status = 'queued', next_attempt_at = ?, attempts = attempts - 1,"
        f" lease_owner = NULL, lease_until = NULL WHERE {_THIS_CLAIM}",
        (now, *_claim(message))) > 0


async def resend_dead(db: Database, key: str, now: int) -> bool:
    """Queue a dead message again, due now with its attempts afresh (the admin's button);
    False if there is no dead message with this key, or it is a patient's who no longer
    agrees to email. Its last error stays until it fails again or is sent."""
    return await db.execute(
        "UPDATE outbox SET status = 'queued', attempts = 0, next_attempt_at = ?"
        " WHERE idempotency_key = ? AND status = 'dead' AND NOT EXISTS ("
        "SELECT 1 FROM patients p WHERE p.id = outbox.patient_id AND p.email_consent = 0)",
        (now, key)) > 0


async def next_due(db: Database, channels: Sequence[str]) -> int | None:
    """When the next message of these channels may be claimed (a time, maybe past), or
    None."""
    if not channels:
        return None
    row = await db.fetchone(
        "SELECT MIN(CASE WHEN status = 'queued' THEN next_attempt_at ELSE lease_until END)"
        f" FROM outbox WHERE channel IN ({','.join('?' * len(channels))})"
        " AND status IN ('queued', 'sending')", list(channels))
    return None if row is None or row[0] is None else int(row[0])


async def count_messages(db: Database) -> dict[str, int]:
    """How many messages there are of each status (every status named)."""
    rows = await db.fetchall("SELECT status, COUNT(*) FROM outbox GROUP BY status")
    counts = {status: 0 for status in STATUSES}
    counts.update({r[0]: int(r[1]) for r in rows})
    return counts


async def list_dead(db: Database, *, limit: int, offset: int = 0) -> list[OutboxRecord]:
    """The dead messages, the latest to die first."""
    rows = await db.fetchall(
        "SELECT idempotency_key, kind, status, patient_id, attempts, max_attempts, last_error,"
        " last_error_at, created_at, sent_at FROM outbox WHERE status = 'dead'"
        " ORDER BY last_error_at DESC, idempotency_key LIMIT ? OFFSET ?", (limit, offset))
    return [OutboxRecord(key=r["idempotency_key"], kind=r["kind"], status=r["status"],
                         patient_id=r["patient_id"], attempts=int(r["attempts"]),
                         max_attempts=int(r["max_attempts"]), last_error=r["last_error"],
                         last_error_at=r["last_error_at"], created_at=int(r["created_at"]),
                         sent_at=r["sent_at"]) for r in rows]


async def purge_outbox(conn: Connection, *, sent_before: int, dead_before: int) -> int:
    """Forget messages sent before `sent_before` and dead ones last failed before
    `dead_before`: their addresses and texts (with live links in them) are kept no longer
    than their keys must stop a repeat."""
    cur = await conn.execute(
        "DELETE FROM outbox WHERE (status = 'sent' AND sent_at < ?)"
        " OR (status = 'dead' AND last_error_at < ?)", (sent_before, dead_before))
    return max(int(cur.rowcount), 0)
