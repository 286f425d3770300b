"""Durable jobs: claimed by one process through a lease, given to another when the lease
ends, retried with backoff, failed for good on the admin's page; periodic jobs once a
period; housekeeping runs as one; pages render without a request."""

from __future__ import annotations

import asyncio
import re

import pytest
from aiohttp import web

from server.runtime.config import Config, ConfigError, config_from_env
from server.runtime.housekeeping import PURGE
from server.runtime.jobs import JobKind, JobRunner, enqueue, period_job_id, retry_delay
from server.keys import CONFIG, DB, JOBS
from server.storage.jobs import Job, claim_job, finish_job, list_jobs, renew_lease
from server.http.templating import render_text
from tests.helpers import add_therapist, login, now, open_test_database, post_form

pytestmark = pytest.mark.both_engines


def _store(config: Config) -> str:
    return config.database_url or str(config.db)


class Calls:
    """A job kind's handler that records each job it ran and fails while told to."""

    def __init__(self, failures: int = 0, error: type[Exception] = ValueError) -> None:
        self.ran: list[tuple[str, int]] = []
        self.failures = failures
        self.error = error

    async def __call__(self, app: web.Application, job: Job) -> None:
        self.ran.append((job.id, job.attempts))
        if len(self.ran) <= self.failures:
            raise self.error("visit v_123 of Maya Lopez: a message the admin must not see")


def _runner(app: web.Application, *kinds: JobKind) -> JobRunner:
    """A second runner in the test's process (its own lease owner) for test kinds only; the
    app's own runner does not know them, so it never takes their jobs."""
    runner = JobRunner(app, lease_seconds=app[CONFIG].job_lease_seconds)
    for kind in kinds:
        runner.register(kind)
    return runner


async def _add(app: web.Application, kind: JobKind, at: int, **params: object) -> str:
    async with app[DB].transaction() as conn:
        return await enqueue(conn, kind, now=at, params=dict(params))


async def test_a_job_is_claimed_by_one_process_and_by_another_only_when_its_lease_ends(client):
    app = client.server.app
    kind = JobKind("test.held", Calls())
    t = now()
    job_id = await _add(app, kind, t, visit="v_123")
    # Two processes' connections to one database (two SQLite connections, two pools).
    first, second = [await open_test_database(_store(app[CONFIG])) for _ in range(2)]
    try:
        held = await claim_job(first, owner="p1", kinds=[kind.name], now=t, lease_seconds=10)
        assert held is not None and held.id == job_id and held.attempts == 1
        assert held.params == {"visit": "v_123"}
        assert await claim_job(second, owner="p2", kinds=[kind.name], now=t, lease_seconds=10) is None
        assert await claim_job(second, owner="p2", kinds=[kind.name], now=t + 9,
                               lease_seconds=10) is None
        taken = await claim_job(second, owner="p2", kinds=[kind.name], now=t + 10, lease_seconds=10)
        assert taken is not None and taken.id == job_id and taken.attempts == 2
        # The first process, back from the dead, can neither renew nor finish the job.
        assert not await renew_lease(first, held, t + 30)
        assert not await finish_job(first, held, t + 11)
        assert await finish_job(second, taken, t + 11)
        [row] = await list_jobs(second, status="done", kind=kind.name, limit=5)
        assert (row.attempts, row.last_error) == (2, "LeaseExpired")
    finally:
        await first.close()
        await second.close()


async def test_claims_racing_from_two_processes_give_each_job_to_one(client):
    app = client.server.app
    kind = JobKind("test.race", Calls())
    t = now()
    ids = {await _add(app, kind, t) for _ in range(6)}
    stores = [await open_test_database(_store(app[CONFIG])) for _ in range(2)]
    try:
        async def claims(db, owner: str) -> list[str]:
            got = []
            while (job := await claim_job(db, owner=owner, kinds=[kind.name], now=t,
                                          lease_seconds=60)) is not None:
                got.append(job.id)
            return got

        a, b = await asyncio.gather(claims(stores[0], "p1"), claims(stores[1], "p2"))
        assert sorted(a + b) == sorted(ids)  # every job once, none twice
    finally:
        for db in stores:
            await db.close()


async def test_a_failing_job_is_retried_with_backoff_then_shown_failed_to_the_admin(admin):
    app = admin.server.app
    calls = Calls(failures=99)
    kind = JobKind("test.fails", calls, max_attempts=3)
    runner = _runner(app, kind)
    t = now()
    job_id = await _add(app, kind, t)
    assert await runner.run_due(now=t) == 1
    [row] = await list_jobs(app[DB], status="scheduled", kind=kind.name, limit=5)
    assert (row.attempts, row.run_at, row.last_error) == (1, t + retry_delay(1), "ValueError")
    assert retry_delay(1) == 30 and retry_delay(2) == 60
    assert await runner.run_due(now=t + 29) == 0  # not before the backoff
    assert await runner.run_due(now=t + 30) == 1
    [row] = await list_jobs(app[DB], status="scheduled", kind=kind.name, limit=5)
    assert (row.attempts, row.run_at) == (2, t + 30 + 60)
    assert await runner.run_due(now=t + 89) == 0
    assert await runner.run_due(now=t + 90) == 1
    assert await runner.run_due(now=t + 100000) == 0  # failed for good: never again
    assert calls.ran == [(job_id, 1), (job_id, 2), (job_id, 3)]
    [row] = await list_jobs(app[DB], status="failed", kind=kind.name, limit=5)
    assert (row.attempts, row.last_error, row.finished_at) == (3, "ValueError", t + 90)

    page = await admin.get("/admin/jobs")
    assert page.status == 200
    html = await page.text()
    assert job_id in html and "ValueError" in html and "3 of 3" in html
    assert "Maya" not in html and "v_123" not in html and "Traceback" not in html
    body = await (await admin.get("/admin/jobs.json?status=failed&kind=test.fails")).json()
    assert body["counts"]["failed"] == 1
    assert [(j["id"], j["last_error"], j["attempts"]) for j in body["jobs"]] == [
        (job_id, "ValueError", 3)]


async def test_a_job_that_succeeds_after_a_failure_is_done(client):
    app = client.server.app
    calls = Calls(failures=1, error=RuntimeError)
    kind = JobKind("test.flaky", calls, max_attempts=3)
    runner = _runner(app, kind)
    t = now()
    job_id = await _add(app, kind, t)
    assert await runner.run_due(now=t) == 1
    assert await runner.run_due(now=t + 30) == 1
    [row] = await list_jobs(app[DB], status="done", kind=kind.name, limit=5)
    assert (row.id, row.attempts, row.last_error) == (job_id, 2, "RuntimeError")


async def test_a_job_running_when_its_process_stops_is_given_back_uncounted(client):
    app = client.server.app
    started = asyncio.Event()

    async def slow(app: web.Application, job: Job) -> None:
        started.set()
        await asyncio.sleep(60)

    kind = JobKind("test.slow", slow)
    runner = _runner(app, kind)
    job_id = await _add(app, kind, now())
    task = asyncio.ensure_future(runner.run_forever())
    await asyncio.wait_for(started.wait(), 10)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    [row] = await list_jobs(app[DB], status="scheduled", kind=kind.name, limit=5)
    assert (row.id, row.attempts) == (job_id, 0)


async def test_a_runner_told_to_stop_stops_between_steps_without_a_cancel(client):
    runner = _runner(client.server.app, JobKind("test.idle", Calls()))
    task = asyncio.ensure_future(runner.run_forever())
    await asyncio.sleep(0.2)
    runner.stop()  # (a cancellation Python 3.11's wait_for swallowed would leave only this)
    await asyncio.wait_for(task, 10)


async def test_a_periodic_job_is_added_and_run_once_a_period_whatever_the_runners(client):
    app = client.server.app
    calls = Calls()
    kind = JobKind("test.periodic", calls, every_seconds=600)
    runners = [_runner(app, kind) for _ in range(3)]
    t = now() // 600 * 600 + 1200  # a period of its own, ahead of the real clock
    for runner in runners:
        await runner.run_due(now=t + 5)
    for runner in runners:
        await runner.run_due(now=t + 599)
    assert calls.ran == [(period_job_id(kind.name, t), 1)]
    await asyncio.gather(*(r.run_due(now=t + 600) for r in runners))
    assert calls.ran[1:] == [(period_job_id(kind.name, t + 600), 1)]


async def test_housekeeping_is_a_periodic_job_the_server_runs_at_start(client):
    app = client.server.app
    assert app[JOBS].kinds[PURGE].every_seconds == 3600
    period = now() // 3600 * 3600
    for _ in range(200):
        done = await list_jobs(app[DB], status="done", kind=PURGE, limit=5)
        if done:
            break
        await asyncio.sleep(0.05)
    assert [j.id for j in done] in ([period_job_id(PURGE, period)],
                                    [period_job_id(PURGE, period + 3600)])  # (an hour turned)


async def test_housekeeping_forgets_jobs_long_done_or_failed(client):
    app = client.server.app
    t = now()
    async with app[DB].transaction() as conn:
        for job_id, status, ended in [("old_done", "done", t - 8 * 86400),
                                      ("new_done", "done", t - 86400),
                                      ("old_failed", "failed", t - 31 * 86400),
                                      ("new_failed", "failed", t - 8 * 86400)]:
            await conn.execute(
                "INSERT INTO jobs (id, kind, status, run_at, max_attempts, created_at,"
                " finished_at) VALUES (?, 'test.old', ?, ?, 1, ?, ?)",
                (job_id, status, ended, ended, ended))
    from server.runtime.housekeeping import purge_once
    await purge_once(app, t)
    rows = await app[DB].fetchall("SELECT id FROM jobs WHERE kind = 'test.old' ORDER BY id")
    assert [r[0] for r in rows] == ["new_done", "new_failed"]


@pytest.mark.parametrize("query, says", [
    ("status=broken", "status must be one of scheduled, running, done, failed."),
    ("status=failed&status=done", "status may be given only once."),
    ("kind=Not%20a%20kind", "kind must be a job kind, such as housekeeping.purge."),
    ("kind=" + "x" * 161, "kind must be at most 160 characters."),
    ("page=0", "page must be a number, 1 to 1000."),
    ("page=abc", "page must be a number, 1 to 1000."),
    ("page=5000", "page must be a number, 1 to 1000."),
])
async def test_bad_input_to_the_jobs_page_gets_a_readable_error(admin, query, says):
    page = await admin.get(f"/admin/jobs?{query}")
    assert page.status == 400
    html = await page.text()
    assert says in html and "Traceback" not in html
    answer = await admin.get(f"/admin/jobs.json?{query}")
    assert answer.status == 400
    error = (await answer.json())["error"]
    assert error["code"] == "bad_parameter" and error["message"].startswith(says)


async def test_the_jobs_page_is_the_admins_alone(admin):
    client = admin
    await add_therapist(admin, "Sam Lee", "sam@clinic.test", password="a long password 1")
    await post_form(admin, "/admin", "/logout")
    signed_out = await client.get("/admin/jobs", allow_redirects=False)
    assert signed_out.status == 303
    await login(client, "sam@clinic.test", "a long password 1")
    assert (await client.get("/admin/jobs")).status == 403
    assert (await client.get("/admin/jobs.json")).status == 403


async def test_pages_render_without_a_request_as_the_request_path_does(client):
    app = client.server.app
    served = await (await client.get("/")).text()
    # The language switch carries the page's own path, so only a request's page has one.
    served = re.sub(r'<form method="post" action="/language".*?</form>\n?', "", served, flags=re.S)
    assert render_text(app, "home.html", "en") == served
    assert '<html lang="en">' in served
    # A language without a catalog yet falls back to the default.
    assert render_text(app, "home.html", "xx") == served


def test_the_housekeeping_period_and_the_lease_are_bounded():
    assert config_from_env({"VISITROOM_HOUSEKEEPING_SECONDS": "2",
                            "VISITROOM_JOB_LEASE_SECONDS": "4"}).housekeeping_seconds == 2
    for name, value in [("VISITROOM_HOUSEKEEPING_SECONDS", "0"),
                        ("VISITROOM_HOUSEKEEPING_SECONDS", "86401"),
                        ("VISITROOM_JOB_LEASE_SECONDS", "1"),
                        ("VISITROOM_JOB_LEASE_SECONDS", "3601")]:
        with pytest.raises(ConfigError, match=re.escape(name.removeprefix("VISITROOM_").lower())):
            config_from_env({name: value})
