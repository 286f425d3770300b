"""Housekeeping while the server runs: forget what can no longer matter.

Expired staff logins, revoked links whose tokens are past every window they could
open (the call's, then the home program's), the device bindings and devices turned away
of links that can no longer open anything, long-untried sign-in counts of unknown
emails, and jobs long done or failed are deleted by a periodic job (`PURGE`): once an
hour (`housekeeping_seconds`) for a whole group of processes, at the first start too.
"""

from __future__ import annotations

import logging
import time

from aiohttp import web

from server.auth.visit_session import program_seconds
from server.runtime.config import Config
from server.runtime.jobs import JobKind
from server.keys import CONFIG, DB
from server.storage.outbox import purge_outbox
from server.storage.device_denials import purge_device_denials
from server.storage.jobs import Job, purge_finished_jobs
from server.storage.link_devices import purge_link_devices
from server.storage.links import purge_revoked_links
from server.storage.login_unknown import purge_unknown_attempts
from server.storage.users import purge_expired_sessions

log = logging.getLogger(__name__)

KEEP_DONE_SECONDS = 7 * 86400
"""How long a done job's row is kept (a week, as Synapse keeps its tasks)."""
KEEP_FAILED_SECONDS = 30 * 86400
"""How long a job that failed for good stays on the admin's page."""
KEEP_MAIL_SECONDS = 30 * 86400
"""How long a sent email's row is kept: longer than any reminder's key must stop a repeat
(a visit's earliest reminder goes out at most two weeks before it)."""
PURGE = "housekeeping.purge"
"""The periodic job's kind."""


async def purge_once(app: web.Application, now: int | None = None) -> tuple[int, int]:
    """Delete expired sessions and spent revocations; returns how many of each."""
    now = int(time.time()) if now is None else now
    # A revoked link must stay refused as long as it could open the home program.
    longest = program_seconds(app[CONFIG].program_days, "patient")
    async with app[DB].transaction() as conn:
        sessions = await purge_expired_sessions(conn, now)
        revocations = await purge_revoked_links(conn, now - longest)
        devices = (await purge_link_devices(conn, now - longest)
                   + await purge_device_denials(conn, now - longest))
        unknown = await purge_unknown_attempts(conn, now)
        jobs = await purge_finished_jobs(conn, done_before=now - KEEP_DONE_SECONDS,
                                         failed_before=now - KEEP_FAILED_SECONDS)
        mail = await purge_outbox(conn, sent_before=now - KEEP_MAIL_SECONDS,
                                  dead_before=now - KEEP_FAILED_SECONDS)
    if sessions or revocations or devices or unknown or jobs or mail:
        log.info("housekeeping sessions=%d revocations=%d link_devices=%d unknown_emails=%d "
                 "jobs=%d outbox=%d", sessions, revocations, devices, unknown, jobs, mail)
    return sessions, revocations


async def _purge_job(app: web.Application, job: Job) -> None:
    await purge_once(app)


def purge_kind(config: Config) -> JobKind:
    """The periodic purge, once a `housekeeping_seconds` period for a group."""
    return JobKind(PURGE, _purge_job, max_attempts=3, timeout_seconds=300,
                   every_seconds=config.housekeeping_seconds)
