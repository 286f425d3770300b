"""Durable jobs run once in a group of processes (after Synapse's task scheduler).

Every process of a group runs a `JobRunner`: it wakes when a job may be due, claims one
through a lease (`server.storage.jobs.claim_job`), runs its kind's handler while renewing
the lease, and records the outcome. A failed attempt is tried again after a backoff that
doubles; after the kind's `max_attempts` the job fails for good and the admin sees it
(/admin/jobs). A process that dies holding a lease gives the job to another once the
lease ends. A periodic kind has one row a period (`kind@start`, the period's start on the
clock), added by whichever process wakes first, so the group runs each period once.

Handlers take the application and the `Job`; what they need to say goes in `params`
(ids, never names or health data). A job runs at least once, not exactly once (a process
may die after the work but before recording it), so a handler must be safe to repeat. `enqueue` adds a job inside a caller's transaction, so
a job (an email to compose, say) exists exactly when the change that asks for it commits.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable

from aiohttp import web

from server.keys import CONFIG, DB, JOBS
from server.storage import DatabaseBusy
from server.storage.interface import Connection
from server.storage.jobs import (
    Job,
    claim_job,
    enqueue_job,
    fail_job,
    finish_job,
    job_exists,
    next_due,
    release_job,
    renew_lease,
)

log = logging.getLogger(__name__)

Handler = Callable[[web.Application, Job], Awaitable[None]]
RETRY_SECONDS = (30, 3600)
"""The wait before a failed job's second attempt, doubling each time up to the second."""
POLL_SECONDS = 5.0
"""The longest a runner sleeps between looks at the table (jobs other processes add)."""


@dataclass(frozen=True)
class JobKind:
    """A kind of job: its name, its handler and how hard to try."""

    name: str
    """Stored in each job's row; dotted, e.g. `housekeeping.purge`."""
    handler: Handler
    """Runs one attempt; an exception fails it (only its class name is kept)."""
    max_attempts: int = 5
    """Attempts before the job fails for good."""
    timeout_seconds: float = 300.0
    """An attempt running longer fails (TimeoutError)."""
    every_seconds: int | None = None
    """Run once a period of this many seconds, on the clock (None: only when enqueued)."""


def retry_delay(attempts: int) -> int:
    """Seconds before the next attempt after `attempts` failed ones."""
    first, longest = RETRY_SECONDS
    return min(first * 2 ** max(attempts - 1, 0), longest)


def period_job_id(kind: str, start: int) -> str:
    """The id of a periodic kind's job for the period starting at `start`."""
    return f"{kind}@{start}"


async def enqueue(conn: Connection, kind: JobKind, *, now: int | None = None,
                  run_at: int | None = None, params: dict[str, Any] | None = None,
                  job_id: str | None = None) -> str:
    """Add a job of `kind` inside the caller's transaction; returns its id."""
    now = int(time.time()) if now is None else now
    job_id = job_id or f"j_{secrets.token_hex(8)}"
    await enqueue_job(conn, job_id=job_id, kind=kind.name, run_at=now if run_at is None else run_at,
                      now=now, max_attempts=kind.max_attempts, params=params)
    return job_id


class JobRunner:
    """Claims and runs the due jobs of the kinds registered, one at a time."""

    def __init__(self, app: web.Application, *, lease_seconds: int) -> None:
        self.app = app
        self.lease_seconds = lease_seconds
        self.owner = f"{os.getpid()}-{secrets.token_hex(4)}"
        """This runner's name in the leases it holds (its process id first)."""
        self.kinds: dict[str, JobKind] = {}
        self._periods: dict[str, int] = {}
        self._sleep: asyncio.Future[None] | None = None
        self._stopping = False

    def register(self, kind: JobKind) -> None:
        """Run jobs of this kind here (every process of a group registers the same kinds)."""
        if kind.name in self.kinds:
            raise ValueError(f"job kind {kind.name} is registered twice")
        if kind.every_seconds is not None and kind.every_seconds < 1:
            raise ValueError(f"job kind {kind.name}: every_seconds must be at least 1")
        self.kinds[kind.name] = kind

    def wake(self) -> None:
        """Look at the table now (a job was just enqueued here)."""
        if self._sleep is not None and not self._sleep.done():
            self._sleep.set_result(None)

    async def schedule_periods(self, now: int) -> None:
        """Add the current period's job of each periodic kind, unless a process did."""
        for kind in self.kinds.values():
            if kind.every_seconds is None:
                continue
            start = now - now % kind.every_seconds
            if self._periods.get(kind.name) == start:
                continue
            job_id = period_job_id(kind.name, start)
            if not await job_exists(self.app[DB], job_id):
                async with self.app[DB].transaction() as conn:
                    await enqueue(conn, kind, now=now, run_at=start, job_id=job_id)
            self._periods[kind.name] = start

    async def run_due(self, now: int | None = None) -> int:
        """Schedule this period's jobs, then claim and run due jobs until none is left;
        returns how many ran. `now` fixes the clock (tests)."""
        ran = 0
        while not self._stopping:
            at = int(time.time()) if now is None else now
            await self.schedule_periods(at)
            job = await claim_job(self.app[DB], owner=self.owner, kinds=list(self.kinds),
                                  now=at, lease_seconds=self.lease_seconds)
            if job is None:
                return ran
            await self._run(job, now)
            ran += 1
        return ran

    async def _run(self, job: Job, now: int | None) -> None:
        kind = self.kinds[job.kind]
        started = time.monotonic()
        task = asyncio.ensure_future(asyncio.wait_for(kind.handler(self.app, job),
                                                      kind.timeout_seconds))
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=self.lease_seconds / 3)
                if not task.done() and not await self._renew(job):
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
                    log.warning("job %s kind=%s lost its lease; stopped", job.id, job.kind)
                    return
        except asyncio.CancelledError:  # this process is stopping: give the job back
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            if not task.cancelled() and task.exception() is None:  # it ended meanwhile
                await finish_job(self.app[DB], job, int(time.time()))
            else:
                await release_job(self.app[DB], job, int(time.time()))
                log.info("job %s kind=%s given back (stopping)", job.id, job.kind)
            raise
        at = int(time.time()) if now is None else now
        error = asyncio.CancelledError() if task.cancelled() else task.exception()
        if error is None:
            await finish_job(self.app[DB], job, at)
            log.info("job %s kind=%s attempt=%d done in %.2f s", job.id, job.kind, job.attempts,
                     time.monotonic() - started)
            return
        name = type(error).__name__
        log.debug("job %s failed", job.id, exc_info=error)
        if job.attempts >= job.max_attempts:
            await fail_job(self.app[DB], job, error=name, now=at, retry_at=None)
            log.warning("job %s kind=%s failed for good after %d attempts: %s", job.id, job.kind,
                        job.attempts, name)
            return
        retry_at = at + retry_delay(job.attempts)
        await fail_job(self.app[DB], job, error=name, now=at, retry_at=retry_at)
        log.warning("job %s kind=%s attempt %d of %d failed: %s; next at %d", job.id, job.kind,
                    job.attempts, job.max_attempts, name, retry_at)

    async def _renew(self, job: Job) -> bool:
        """Extend the lease; a busy database keeps it as it is (it is still ours until it
        ends), a lost one (another process took the job over) says False."""
        try:
            return await renew_lease(self.app[DB], job, int(time.time()) + self.lease_seconds)
        except DatabaseBusy:
            log.warning("job %s lease not renewed: database busy", job.id)
            return True

    async def _sleep_seconds(self) -> float:
        """How long to sleep: until the next period starts, the next job is due, or a
        lease ends, at most POLL_SECONDS."""
        clock = time.time()
        wait = POLL_SECONDS
        for kind in self.kinds.values():
            if kind.every_seconds is not None:
                wait = min(wait, kind.every_seconds - clock % kind.every_seconds)
        due = await next_due(self.app[DB], list(self.kinds))
        if due is not None:
            wait = min(wait, due - clock)
        return max(wait, 0.05)

    async def _nap(self, seconds: float) -> None:
        # A plain future and a timer, not wait_for: Python 3.11's wait_for can swallow a
        # cancellation that lands as its timeout fires, and the runner would never stop.
        loop = asyncio.get_running_loop()
        self._sleep = loop.create_future()
        timer = loop.call_later(seconds, self.wake)
        try:
            await self._sleep
        finally:
            timer.cancel()
            self._sleep = None

    def stop(self) -> None:
        """Stop after the current step (the caller cancels the task running it, too)."""
        self._stopping = True
        self.wake()

    async def run_forever(self) -> None:
        """Run due jobs until stopped or cancelled; a busy or unreachable database waits a
        while."""
        while not self._stopping:
            try:
                await self.run_due()
                wait = await self._sleep_seconds()
            except DatabaseBusy:
                log.warning("jobs: database busy; trying again later")
                wait = POLL_SECONDS
            except Exception as exc:  # the loop outlives any one failure; no trace in logs
                log.error("jobs: %s; trying again later", type(exc).__name__)
                wait = POLL_SECONDS
            if not self._stopping:
                await self._nap(wait)


async def jobs_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run this process's job runner from start to shutdown (after the database opens)."""
    runner = app[JOBS]
    task = asyncio.ensure_future(runner.run_forever())
    yield
    runner.stop()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def job_runner(app: web.Application) -> JobRunner:
    """A runner for this application's settings (the factory registers the kinds)."""
    return JobRunner(app, lease_seconds=app[CONFIG].job_lease_seconds)
