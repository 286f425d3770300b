"""The outbox in real server processes: `run.py serve` killed (-9) between claiming a
message and sending it sends exactly one email after a restart (SQLite and PostgreSQL),
and `serve --workers 3` on PostgreSQL and Redis sends each of 20 queued messages exactly
once. The mail goes to a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator
from unittest import mock

import pytest

from server.mail.message import message_id
from server.storage.interface import Database
from server.storage.outbox import enqueue_email
from tests.helpers import ADMIN_EMAIL, ADMIN_PASSWORD, now, open_test_database
from tests.live import free_port
from tests.postgres_server import PostgresCluster
from tests.redis_server import RedisServer, redis_server  # noqa: F401 (a fixture)
from tests.smtp_server import SmtpServer, smtp_module, smtp_server  # noqa: F401 (fixtures)
from tests.test_workers import Workers

ROOT = Path(__file__).resolve().parent.parent
SENDER = "Harbor Physio <reminders@harbor.example>"
RECIPIENT = "maya@example.org"
SUBJECT = "Your visit tomorrow at 9:30"
LEASE = 3
"""VISITROOM_JOB_LEASE_SECONDS of the servers: how long a killed process holds a message."""


def _smtp_env(server: SmtpServer) -> dict[str, str]:
    return {"VISITROOM_SMTP_HOST": "127.0.0.1", "VISITROOM_SMTP_PORT": str(server.port),
            "VISITROOM_SMTP_SECURITY": "none", "VISITROOM_SMTP_FROM": SENDER,
            "VISITROOM_JOB_LEASE_SECONDS": str(LEASE)}


async def _queue(db: Database, keys: list[str]) -> None:
    async with db.transaction() as conn:
        for key in keys:
            assert await enqueue_email(conn, key=key, kind="reminder.test", recipient=RECIPIENT,
                                       subject=SUBJECT, body="Join: https://clinic.example/j",
                                       patient_id="p_42", now=now())


async def _row(db: Database, key: str) -> dict[str, Any]:
    row = await db.fetchone("SELECT status, attempts, lease_owner, last_error FROM outbox"
                            " WHERE idempotency_key = ?", (key,))
    assert row is not None
    return dict(zip(row.keys(), row))


async def _until(db: Database, key: str, status: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (row := await _row(db, key))["status"] != status:
        assert time.monotonic() < deadline, f"{key} not {status} within {timeout} s: {row}"
        await asyncio.sleep(0.05)
    return row


class Server:
    """`run.py serve` in a process of its own, logging to a file."""

    def __init__(self, directory: Path, env: dict[str, str], database_url: str) -> None:
        self.log = directory / f"serve-{time.monotonic_ns()}.log"
        environ = {**os.environ, **env, "VISITROOM_ADMIN_EMAIL": ADMIN_EMAIL,
                   "VISITROOM_ADMIN_PASSWORD": ADMIN_PASSWORD}
        if database_url:
            environ["VISITROOM_DATABASE_URL"] = database_url
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, str(ROOT / "run.py"), "serve", "--db",
                 str(directory / "visitroom.db"), "--host", "127.0.0.1",
                 "--port", str(free_port())], cwd=ROOT, env=environ, stdout=out,
                stderr=subprocess.STDOUT)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    async def logged(self, pattern: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while re.search(pattern, self.text()) is None:
            assert self.process.poll() is None, f"the server exited:\n{self.text()[-3000:]}"
            assert time.monotonic() < deadline, f"no {pattern!r}:\n{self.text()[-3000:]}"
            await asyncio.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest) -> str:
    """The server's database: "" for a SQLite file, or a fresh PostgreSQL database's URL."""
    return request.getfixturevalue("postgres_url") if request.param == "postgres" else ""


async def test_a_server_killed_between_claim_and_send_sends_one_email_after_restart(
        tmp_path: Path, smtp_server: SmtpServer, store_url: str):  # noqa: F811
    url = store_url
    env = _smtp_env(smtp_server)
    key = "test-reminder:v_kill:24h"
    # The first server waits a minute between claiming a message and sending it.
    first = Server(tmp_path, {**env, "VISITROOM_OUTBOX_TEST_PAUSE_SECONDS": "60"}, url)
    second = None
    db = None
    try:
        await first.logged(r"kind=housekeeping\.purge attempt=1 done")  # the app has started
        db = await open_test_database(url or tmp_path / "visitroom.db")
        await _queue(db, [key])
        held = await _until(db, key, "sending", timeout=15)  # the runner polls every 5 s
        assert int(held["lease_owner"].split("-")[0]) == first.process.pid
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(10)
        killed_at = time.monotonic()
        assert smtp_server.received == []
        second = Server(tmp_path, env, url)
        [received] = await smtp_server.wait_for(1, timeout=LEASE + 20)
        assert time.monotonic() - killed_at >= LEASE - 1  # not before the lease ended
        assert received.parsed()["Message-ID"] == message_id(key, SENDER)
        row = await _until(db, key, "sent", timeout=10)
        assert (row["attempts"], row["last_error"]) == (2, "LeaseExpired")
        await asyncio.sleep(1.0)  # time for a second email, were there one
        assert len(smtp_server.received) == 1
        await second.logged(rf"outbox {re.escape(key)} kind=reminder\.test attempt=2 sent")
    finally:
        if db is not None:
            await db.close()
        for server in (first, second):
            if server is not None:
                server.stop()
    for server in (first, second):
        assert RECIPIENT not in server.text() and SUBJECT not in server.text()
    assert second.process.returncode == 0, second.text()[-3000:]
    assert "Traceback" not in second.text(), second.text()[-3000:]


@pytest.fixture(scope="module")
def database(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """An empty PostgreSQL database for the module's group."""
    url = postgres_cluster.fresh_database()
    yield url
    postgres_cluster.retire(url)


@pytest.fixture(scope="module")
def group(tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer,  # noqa: F811
          database: str, smtp_module: SmtpServer) -> Iterator[Workers]:  # noqa: F811
    # Each send takes half a second, so that one worker alone would need 10 s for the 20
    # messages: the others (which look at the table at least every 5 s) claim some too.
    with mock.patch.dict(os.environ, {**_smtp_env(smtp_module),
                                      "VISITROOM_OUTBOX_TEST_PAUSE_SECONDS": "0.5"}):
        tree = Workers(tmp_path_factory.mktemp("outbox"), redis_server.url, database)
    try:
        asyncio.run(tree.logged(r"serving on port \d+ with 3 workers"))
        yield tree
    finally:
        tree.stop()
    assert tree.process.returncode == 0, tree.text()[-3000:]
    assert "Traceback" not in tree.text(), tree.text()[-5000:]


async def test_three_workers_on_postgres_send_each_of_twenty_messages_once(
        group: Workers, database: str, smtp_module: SmtpServer):  # noqa: F811
    keys = [f"test-reminder:v_{n:02d}:24h" for n in range(20)]
    db = await open_test_database(database)
    try:
        started = time.monotonic()
        await _queue(db, keys)
        await smtp_module.wait_for(20, timeout=30)
        took = time.monotonic() - started
        await asyncio.sleep(1.5)  # time for a second copy of any, were there one
        received = smtp_module.received
        assert len(received) == 20
        assert sorted(r.parsed()["Message-ID"] for r in received) == sorted(
            message_id(key, SENDER) for key in keys)
        for key in keys:
            row = await _until(db, key, "sent", timeout=10)
            assert (row["attempts"], row["last_error"]) == (1, None)
    finally:
        await db.close()
    sent = re.findall(r"worker=\d+ pid=(\d+) server\.runtime\.outbox_runner: outbox "
                      r"(test-reminder:v_\d+:24h) kind=reminder\.test attempt=1 sent",
                      group.text())
    assert sorted(k for _, k in sent) == sorted(keys), sent
    assert len({pid for pid, _ in sent}) >= 2, sent  # the claims raced, none won twice
    assert RECIPIENT not in group.text() and SUBJECT not in group.text()
    print(f"20 messages sent by {len({p for p, _ in sent})} workers in {took:.2f} s")
