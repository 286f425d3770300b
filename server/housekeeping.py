"""Housekeeping while the server runs: forget what can no longer matter.

Expired staff logins, revoked link ids whose links are past every window they could
open (the call's, then the home program's), and long-untried sign-in counts of unknown
emails are deleted at start and then hourly.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import AsyncIterator

from aiohttp import web

from server.auth.visit_session import program_seconds
from server.keys import CONFIG, DB
from server.storage import DatabaseBusy
from server.storage.login_unknown import purge_unknown_attempts
from server.storage.users import purge_expired_sessions
from server.storage.visits import purge_revocations

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 3600


async def purge_once(app: web.Application, now: int | None = None) -> tuple[int, int]:
    """Delete expired sessions and spent revocations; returns how many of each."""
    now = int(time.time()) if now is None else now
    # A revoked link must stay refused as long as it could open the home program.
    longest = program_seconds(app[CONFIG].program_days, "patient")
    async with app[DB].transaction() as conn:
        sessions = await purge_expired_sessions(conn, now)
        revocations = await purge_revocations(conn, now - longest)
        unknown = await purge_unknown_attempts(conn, now)
    if sessions or revocations or unknown:
        log.info("housekeeping sessions=%d revocations=%d unknown_emails=%d", sessions,
                 revocations, unknown)
    return sessions, revocations


async def housekeeping_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run `purge_once` at start and every hour until shutdown."""
    async def loop() -> None:
        while True:
            try:
                await purge_once(app)
            except DatabaseBusy:
                log.warning("housekeeping skipped: database busy")
            await asyncio.sleep(INTERVAL_SECONDS)

    task = asyncio.ensure_future(loop())
    yield
    task.cancel()
