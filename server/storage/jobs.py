"""The `jobs` table: durable jobs with leases (see server/runtime/jobs.py for who runs them).

A job is claimed by one process in one statement: an UPDATE of the first due row (a
scheduled job whose time has come, or a running one whose lease ended: its process died)
that sets the lease and counts the attempt. On PostgreSQL the row is picked `FOR UPDATE
SKIP LOCKED` (the engine's `row_lock` clause), so claimers never wait on one another; on
SQLite the single writer does the same. Every later write about the claim names it by
(id, lease_owner, attempts), so a process whose lease was taken over changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Sequence

from server.storage.interface import Connection, Database, Row

LEASE_EXPIRED = "LeaseExpired"
"""The error recorded when a job's process stopped renewing its lease (it died)."""
STATUSES = ("scheduled", "running", "done", "failed")


@dataclass(frozen=True)
class Job:
    """A claimed job, as its handler sees it."""

    id: str
    """The job's id (a periodic job's names its period: `kind@start`)."""
    kind: str
    """Which handler runs it."""
    params: dict[str, Any]
    """The handler's input (JSON); ids only, never names or health data."""
    attempts: int
    """This attempt's number, from 1."""
    max_attempts: int
    """Attempts before the job fails for good."""
    lease_owner: str
    """The process holding the lease."""
    lease_until: int
    """When the lease ends unless renewed."""


@dataclass(frozen=True)
class JobRecord:
    """A job as the admin sees it: no params, no trace, the last error's class alone."""

    id: str
    kind: str
    status: str
    attempts: int
    max_attempts: int
    run_at: int
    last_error: str | None
    last_error_at: int | None
    finished_at: int | None


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


async def enqueue_job(conn: Connection, *, job_id: str, kind: str, run_at: int, now: int,
                      max_attempts: int, params: dict[str, Any] | None = None) -> bool:
    """Add a job inside the caller's transaction; False if a job with this id exists (a
    periodic job another process scheduled first)."""
    cur = await conn.execute(
        "INSERT INTO jobs (id, kind, params, status, run_at, attempts, max_attempts,"
        " created_at) VALUES (?, ?, ?, 'scheduled', ?, 0, ?, ?) ON CONFLICT (id) DO NOTHING",
        (job_id, kind, json.dumps(params or {}, separators=(",", ":")), run_at, max_attempts,
         now))
    return cur.rowcount > 0


async def job_exists(db: Database, job_id: str) -> bool:
    """Whether a job with this id was ever scheduled (and not yet purged)."""
    return await db.fetchone("SELECT 1 FROM jobs WHERE id = ?", (job_id,)) is not None


def _claim_sql(kinds: int, row_lock: str) -> str:
    due = ("((status = 'scheduled' AND run_at <= ?) OR (status = 'running' AND lease_until <= ?"
           " AND attempts < max_attempts))")
    return (
        "UPDATE jobs SET status = 'running', lease_owner = ?, lease_until = ?, claimed_at = ?,"
        " attempts = attempts + 1,"
        " last_error = CASE WHEN status = 'running' THEN ? ELSE last_error END,"
        " last_error_at = CASE WHEN status = 'running' THEN ? ELSE last_error_at END"
        f" WHERE id = (SELECT id FROM jobs WHERE {due} AND kind IN ({','.join('?' * kinds)})"
        f" ORDER BY run_at, id LIMIT 1{row_lock})"
        " RETURNING id, kind, params, attempts, max_attempts, lease_owner, lease_until")


async def claim_job(db: Database, *, owner: str, kinds: Sequence[str], now: int,
                    lease_seconds: int) -> Job | None:
    """Lease the first due job of these kinds to `owner`, or None when nothing is due.

    Jobs whose process died holding their last attempt's lease fail for good first."""
    if not kinds:
        return None
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE jobs SET status = 'failed', last_error = ?, last_error_at = ?,"
            " finished_at = ?, lease_owner = NULL, lease_until = NULL"
            " WHERE status = 'running' AND lease_until <= ? AND attempts >= max_attempts",
            (LEASE_EXPIRED, now, now, now))
        async with conn.execute(
                _claim_sql(len(kinds), db.row_lock),
                (owner, now + lease_seconds, now, LEASE_EXPIRED, now, now, now, *kinds)) as cur:
            row = await cur.fetchone()
    return None if row is None else _job(row)


def _job(row: Row) -> Job:
    return Job(id=row["id"], kind=row["kind"], params=json.loads(row["params"]),
               attempts=int(row["attempts"]), max_attempts=int(row["max_attempts"]),
               lease_owner=row["lease_owner"], lease_until=int(row["lease_until"]))


_THIS_CLAIM = "id = ? AND lease_owner = ? AND attempts = ? AND status = 'running'"


def _claim(job: Job) -> tuple[str, str, int]:
    return job.id, job.lease_owner, job.attempts


async def renew_lease(db: Database, job: Job, until: int) -> bool:
    """Extend the lease of a job still running; False if it is no longer this claim's."""
    return await db.execute(f"UPDATE jobs SET lease_until = ? WHERE {_THIS_CLAIM}",
                            (until, *_claim(job))) > 0


async def finish_job(db: Database, job: Job, now: int) -> bool:
    """Mark this claim's job done; False if its lease was lost meanwhile."""
    return await db.execute(
        "UPDATE jobs SET status = 'done', finished_at = ?, lease_owner = NULL,"
        f" lease_until = NULL WHERE {_THIS_CLAIM}", (now, *_claim(job))) > 0


async def fail_job(db: Database, job: Job, *, error: str, now: int,
                   retry_at: int | None) -> bool:
    """Record a failed attempt: scheduled again at `retry_at`, or failed for good (None)."""
    if retry_at is None:
        return await db.execute(
            "UPDATE jobs SET status = 'failed', last_error = ?, last_error_at = ?,"
            f" finished_at = ?, lease_owner = NULL, lease_until = NULL WHERE {_THIS_CLAIM}",
            (error, now, now, *_claim(job))) > 0
    return await db.execute(
        "UPDATE jobs SET status = 'scheduled', run_at = ?, last_error = ?, last_error_at = ?,"
        f" lease_owner = NULL, lease_until = NULL WHERE {_THIS_CLAIM}",
        (retry_at, error, now, *_claim(job))) > 0


async def release_job(db: Database, job: Job, now: int) -> bool:
    """Give a claimed job back unrun (its process is stopping): due now, the attempt not
    counted."""
    return await db.execute(
        "UPDATE jobs SET status = 'scheduled', run_at = ?, attempts = attempts - 1,"
        f" lease_owner = NULL, lease_until = NULL WHERE {_THIS_CLAIM}",
        (now, *_claim(job))) > 0


async def next_due(db: Database, kinds: Sequence[str]) -> int | None:
    """When the next job of these kinds may be claimed (a time, maybe past), or None."""
    if not kinds:
        return None
    row = await db.fetchone(
        "SELECT MIN(CASE WHEN status = 'scheduled' THEN run_at ELSE lease_until END) FROM jobs"
        f" WHERE status IN ('scheduled', 'running') AND kind IN ({_marks(kinds)})", list(kinds))
    return None if row is None or row[0] is None else int(row[0])


async def list_jobs(db: Database, *, status: str, kind: str | None, limit: int,
                    offset: int = 0) -> list[JobRecord]:
    """Jobs of one status (and kind), the latest first: failed and done ones by when they
    ended, the others by when they are due."""
    order = "finished_at DESC, id DESC" if status in ("done", "failed") else "run_at, id"
    where, params = "status = ?", [status]
    if kind is not None:
        where += " AND kind = ?"
        params.append(kind)
    rows = await db.fetchall(
        "SELECT id, kind, status, attempts, max_attempts, run_at, last_error, last_error_at,"
        f" finished_at FROM jobs WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?",
        [*params, limit, offset])
    return [JobRecord(id=r["id"], kind=r["kind"], status=r["status"],
                      attempts=int(r["attempts"]), max_attempts=int(r["max_attempts"]),
                      run_at=int(r["run_at"]), last_error=r["last_error"],
                      last_error_at=r["last_error_at"], finished_at=r["finished_at"])
            for r in rows]


async def job_kinds(db: Database) -> list[str]:
    """The kinds of the jobs in the table."""
    return [r[0] for r in await db.fetchall("SELECT DISTINCT kind FROM jobs ORDER BY kind")]


async def count_jobs(db: Database) -> dict[str, int]:
    """How many jobs there are of each status (every status named)."""
    rows = await db.fetchall("SELECT status, COUNT(*) FROM jobs GROUP BY status")
    counts = {status: 0 for status in STATUSES}
    counts.update({r[0]: int(r[1]) for r in rows})
    return counts


async def purge_finished_jobs(conn: Connection, *, done_before: int, failed_before: int) -> int:
    """Forget jobs done before `done_before` and failed before `failed_before`."""
    cur = await conn.execute(
        "DELETE FROM jobs WHERE (status = 'done' AND finished_at < ?)"
        " OR (status = 'failed' AND finished_at < ?)", (done_before, failed_before))
    return max(int(cur.rowcount), 0)
