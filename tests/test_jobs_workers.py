"""Durable jobs in a real group: `run.py serve --workers 3` on Redis and PostgreSQL with a
2-second housekeeping period runs each period's purge once, not three times; a worker
killed (-9) while it holds a job's lease gives the job to another once the lease ends.

The group is started once for the module (see tests/test_workers.py for the tree)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from typing import Any, Iterator
from unittest import mock

import psycopg
import pytest

from server.runtime.housekeeping import PURGE
from server.runtime.jobs import period_job_id
from signaling.ice import use_loopback_candidates
from tests.postgres_server import PostgresCluster
from tests.redis_server import RedisServer, redis_server  # noqa: F401 (a fixture)
from tests.test_workers import Workers

PERIOD = 2
"""VISITROOM_HOUSEKEEPING_SECONDS of the group."""
LEASE = 4
"""VISITROOM_JOB_LEASE_SECONDS of the group."""
DONE = re.compile(r"worker=\d+ pid=(\d+) server\.runtime\.jobs: job (housekeeping\.purge@\d+) "
                  r"kind=housekeeping\.purge attempt=(\d+) done")


@pytest.fixture(scope="module")
def database(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """An empty PostgreSQL database for the module's group."""
    url = postgres_cluster.fresh_database()
    yield url
    postgres_cluster.retire(url)


@pytest.fixture(scope="module")
def group(tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer,  # noqa: F811
          database: str) -> Iterator[Workers]:
    use_loopback_candidates()
    with mock.patch.dict(os.environ, {"VISITROOM_HOUSEKEEPING_SECONDS": str(PERIOD),
                                      "VISITROOM_JOB_LEASE_SECONDS": str(LEASE)}):
        tree = Workers(tmp_path_factory.mktemp("jobs"), redis_server.url, database)
    try:
        asyncio.run(tree.logged(r"serving on port \d+ with 3 workers"))
        yield tree
    finally:
        tree.stop()
    assert tree.process.returncode == 0, tree.text()[-3000:]
    assert "Traceback" not in tree.text(), tree.text()[-5000:]


async def _row(url: str, job_id: str) -> dict[str, Any] | None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT status, attempts, lease_owner, lease_until, claimed_at, last_error"
            " FROM jobs WHERE id = %s", (job_id,))
        row = await cur.fetchone()
    if row is None:
        return None
    return dict(zip(("status", "attempts", "lease_owner", "lease_until", "claimed_at",
                     "last_error"), row))


async def _until_row(url: str, job_id: str, status: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        row = await _row(url, job_id)
        if row is not None and row["status"] == status:
            return row
        assert time.monotonic() < deadline, f"job {job_id} not {status} in {timeout} s: {row}"
        await asyncio.sleep(0.05)


async def _after_a_boundary() -> int:
    """Wait until a period has just begun; returns the next period's start."""
    while time.time() % PERIOD > 0.3:
        await asyncio.sleep(0.02)
    return int(time.time()) // PERIOD * PERIOD + PERIOD


async def test_a_periodic_job_runs_once_per_period_in_a_group_of_three(group: Workers,
                                                                         database: str):
    first = await _after_a_boundary()
    last = first + 4 * PERIOD
    expected = [period_job_id(PURGE, start) for start in range(first, last + 1, PERIOD)]
    for job_id in expected:
        await group.logged(rf"job {re.escape(job_id)} kind=\S+ attempt=1 done", timeout=30)
    await asyncio.sleep(PERIOD)  # time for a second run of the last one, were there one
    runs: dict[str, list[tuple[str, str]]] = {}
    for pid, job_id, attempt in DONE.findall(group.text()):
        runs.setdefault(job_id, []).append((pid, attempt))
    for job_id in expected:
        assert len(runs.get(job_id, [])) == 1, (job_id, runs.get(job_id), group.text()[-3000:])
        row = await _row(database, job_id)
        assert row is not None and (row["status"], row["attempts"]) == ("done", 1)
    # No period anywhere in the log ran twice, and the group shares the work.
    assert all(len(r) == 1 for r in runs.values()), runs


async def test_a_worker_killed_holding_a_lease_gives_the_job_to_another_after_the_lease_ends(
        group: Workers, database: str):
    async with await psycopg.AsyncConnection.connect(database) as blocker:
        while True:  # a period whose purge is over, with time left before the next one
            start = await _after_a_boundary()
            await _until_row(database, period_job_id(PURGE, start - PERIOD), "done", PERIOD + 10)
            if start - time.time() > 0.5:
                break
        # The next period's purge will wait on this table: its worker holds the lease then.
        await blocker.execute("LOCK TABLE login_unknown_emails IN ACCESS EXCLUSIVE MODE")
        job_id = period_job_id(PURGE, start)
        held = await _until_row(database, job_id, "running", PERIOD + 5)
        pid = int(held["lease_owner"].split("-")[0])
        assert pid in group.pids()
        os.kill(pid, signal.SIGKILL)
        await blocker.rollback()
    done = await _until_row(database, job_id, "done", LEASE + 20)
    assert (done["attempts"], done["last_error"]) == (2, "LeaseExpired")
    assert done["claimed_at"] >= held["lease_until"]  # not before the lease ended
    [(runner, attempt)] = [(p, a) for p, j, a in DONE.findall(group.text()) if j == job_id]
    assert attempt == "2" and int(runner) != pid
    await group.logged(r"worker \d+ ready pid=\d+", count=4)  # the killed one's slot refilled
