"""Drains the outbox: in every process, one `OutboxRunner` claims due messages through a
lease (`server.storage.outbox.claim_message`), hands each to its channel's `Sender`, and
records the outcome.

A failed attempt is tried again after the jobs' backoff (`server.runtime.jobs.retry_delay`:
30 s, doubling, at most an hour); after the message's `max_attempts` it is dead and the
admin sees it (/admin/outbox), who may send it again. A process that dies holding a lease
gives the message to another once the lease ends, so a message is sent at least once; a
process that dies after the SMTP server took it but before recording that sends it twice,
with the same Message-ID. With no sender configured (no VISITROOM_SMTP_HOST) the runner
does not run and messages wait, queued.

Logs name a message by its key and kind (ids, never an address or any text).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from typing import AsyncIterator, Mapping

from aiohttp import web

from server.keys import CONFIG, DB, OUTBOX
from server.mail.message import OutboxMessage
from server.mail.senders import Sender, senders_for
from server.runtime.jobs import POLL_SECONDS, retry_delay
from server.storage import DatabaseBusy
from server.storage.outbox import (
    claim_message,
    mark_failed,
    mark_sent,
    next_due,
    release_message,
)

log = logging.getLogger(__name__)


class OutboxRunner:
    """Claims and sends the due messages of the channels it has senders for, one at a
    time."""

    def __init__(self, app: web.Application, *, senders: Mapping[str, Sender],
                 lease_seconds: int, pause_seconds: float = 0.0) -> None:
        self.app = app
        self.senders = dict(senders)
        self.lease_seconds = lease_seconds
        self.send_seconds = lease_seconds / 2
        """The longest one send may take: well inside the lease, so that no other process
        takes a message while it is being sent."""
        self.pause_seconds = pause_seconds
        self.owner = f"{os.getpid()}-{secrets.token_hex(4)}"
        """This runner's name in the leases it holds (its process id first)."""
        self._sleep: asyncio.Future[None] | None = None
        self._woken = False
        self._stopping = False

    @property
    def sending(self) -> bool:
        """Whether this runner sends anything at all (a sender is configured)."""
        return bool(self.senders)

    def wake(self) -> None:
        """Look at the table now (a message was just queued here); a wake while the
        runner is busy makes it look again before it sleeps."""
        if self._sleep is not None and not self._sleep.done():
            self._sleep.set_result(None)
        else:
            self._woken = True

    def stop(self) -> None:
        """Stop after the current step (the caller cancels the task running it, too)."""
        self._stopping = True
        self.wake()

    async def run_due(self, now: int | None = None) -> int:
        """Claim and send due messages until none is left; returns how many were tried.
        `now` fixes the clock (tests)."""
        tried = 0
        while not self._stopping:
            at = int(time.time()) if now is None else now
            message = await claim_message(self.app[DB], owner=self.owner,
                                          channels=list(self.senders), now=at,
                                          lease_seconds=self.lease_seconds)
            if message is None:
                return tried
            await self._send(message, now)
            tried += 1
        return tried

    async def _send(self, message: OutboxMessage, now: int | None) -> None:
        try:
            if self.pause_seconds:
                await asyncio.sleep(self.pause_seconds)
            async with asyncio.timeout(self.send_seconds):
                await self.senders[message.channel].send(message)
        except asyncio.CancelledError:  # this process is stopping: give the message back
            await release_message(self.app[DB], message, int(time.time()))
            log.info("outbox %s kind=%s given back (stopping)", message.key, message.kind)
            raise
        except Exception as exc:  # any failure is one failed attempt; its class is kept
            await self._failed(message, type(exc).__name__, now)
            # The class only: an SMTP refusal's text can name the recipient.
            log.debug("outbox %s failed: %s", message.key, type(exc).__name__)
            return
        at = int(time.time()) if now is None else now
        if await mark_sent(self.app[DB], message, at):
            log.info("outbox %s kind=%s attempt=%d sent", message.key, message.kind,
                     message.attempts)
        else:
            log.warning("outbox %s kind=%s sent after its lease ended", message.key,
                        message.kind)

    async def _failed(self, message: OutboxMessage, error: str, now: int | None) -> None:
        at = int(time.time()) if now is None else now
        if message.attempts >= message.max_attempts:
            await mark_failed(self.app[DB], message, error=error, now=at, retry_at=None)
            log.warning("outbox %s kind=%s dead after %d attempts: %s", message.key,
                        message.kind, message.attempts, error)
            return
        retry_at = at + retry_delay(message.attempts)
        await mark_failed(self.app[DB], message, error=error, now=at, retry_at=retry_at)
        log.warning("outbox %s kind=%s attempt %d of %d failed: %s; next at %d", message.key,
                    message.kind, message.attempts, message.max_attempts, error, retry_at)

    async def _sleep_seconds(self) -> float:
        due = await next_due(self.app[DB], list(self.senders))
        wait = POLL_SECONDS if due is None else min(POLL_SECONDS, due - time.time())
        return max(wait, 0.05)

    async def _nap(self, seconds: float) -> None:
        # A future and a timer rather than wait_for, for the reason JobRunner._nap gives.
        if self._woken:
            self._woken = False
            return
        loop = asyncio.get_running_loop()
        self._sleep = loop.create_future()
        timer = loop.call_later(seconds, self.wake)
        try:
            await self._sleep
        finally:
            timer.cancel()
            self._sleep = None

    async def run_forever(self) -> None:
        """Send due messages until stopped or cancelled; a busy or unreachable database
        waits a while."""
        while not self._stopping:
            try:
                await self.run_due()
                wait = await self._sleep_seconds()
            except DatabaseBusy:
                log.warning("outbox: database busy; trying again later")
                wait = POLL_SECONDS
            except Exception as exc:  # the loop outlives any one failure; no trace in logs
                log.error("outbox: %s; trying again later", type(exc).__name__)
                wait = POLL_SECONDS
            if not self._stopping:
                await self._nap(wait)


def outbox_runner(app: web.Application) -> OutboxRunner:
    """A runner for this application's settings: SMTP when a host is set, else none."""
    config = app[CONFIG]
    return OutboxRunner(app, senders=senders_for(config),
                        lease_seconds=config.job_lease_seconds,
                        pause_seconds=config.outbox_test_pause_seconds)


async def outbox_ctx(app: web.Application) -> AsyncIterator[None]:
    """Make this process's outbox runner and run it from start to shutdown (after the
    database opens); with no sender it does not run."""
    runner = app[OUTBOX] = outbox_runner(app)
    if not runner.sending:
        yield
        return
    task = asyncio.ensure_future(runner.run_forever())
    yield
    runner.stop()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
