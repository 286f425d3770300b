"""Staff actions while Redis does not answer (issue 20, point 7; docs/security.md T41).

Two Visitroom servers on one database and one real redis-server, a call split across
them. Redis stops answering (SIGSTOP: connections open, no replies, the worst case for a
client that waits) or is gone (killed). Revoking a link, cancelling the visit and the
dashboard answer within `BOUND` seconds (they hung 11 to 33 s while redis-py retried
inside the request); what they changed is stored at once and reaches the call once
Redis is back. No "Unclosed Pipeline" error is logged.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import time
from pathlib import Path
from typing import AsyncIterator

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from server.keys import ROUTER, VISITS
from signaling.redis_bus import RedisClusterBus, new_node_id
from signaling.redis_scripts import SEND
from tests.helpers import post_form
from tests.live import LiveServer, start_live_server
from tests.redis_server import RedisServer, group_seal, own_redis_server, redis_server  # noqa: F401
from tests.test_cross_process import _config, _split_call, _staff

BOUND = 3.0
"""Seconds a staff action may take while Redis does not answer (one bounded try of
about a second, `signaling.redis_bus.ANSWER_SECONDS`, and the database)."""


@pytest.fixture
async def servers_on_own_redis(tmp_path: Path, own_redis_server: RedisServer  # noqa: F811
                               ) -> AsyncIterator[tuple[list[LiveServer], RedisServer]]:
    db = tmp_path / "shared.db"
    started = [await start_live_server(_config(db, own_redis_server.url)) for _ in range(2)]
    yield started, own_redis_server
    if own_redis_server.process is not None:
        own_redis_server.process.send_signal(signal.SIGCONT)
    for server in started:
        await server.close()


async def _timed(what: str, action) -> object:
    started = time.monotonic()
    try:
        response = await asyncio.wait_for(action, 3 * BOUND)
    except asyncio.TimeoutError:
        pytest.fail(f"{what} did not answer within {3 * BOUND} s while Redis was away")
    took = time.monotonic() - started
    assert took < BOUND, f"{what} took {took:.1f} s while Redis was away (bound {BOUND} s)"
    return response


@pytest.mark.parametrize("outage", ["stopped", "killed"])
async def test_staff_actions_answer_within_a_bound_and_apply_once_redis_is_back(
        servers_on_own_redis, caplog, outage):
    servers, redis = servers_on_own_redis
    visit, therapist, patient = await _split_call(servers)
    other = next(s for s in servers if s.app[ROUTER].counts()["rooms"] == 0)
    staff = await _staff(other)
    page = f"/admin/visits/{visit.id}"
    await staff.get(page)  # its form token, fetched while everything answers
    assert redis.process is not None
    if outage == "stopped":
        redis.process.send_signal(signal.SIGSTOP)
    else:
        redis.stop()
    try:
        await asyncio.sleep(0.5)
        revoked = await _timed("revoking the patient's link", post_form(
            staff, page, f"{page}/participants/patient/revoke"))  # type: ignore[arg-type]
        assert revoked.status == 303  # type: ignore[attr-defined]
        listed = await _timed("the dashboard", staff.get("/admin/live.json"))
        assert listed.status == 200  # type: ignore[attr-defined]
        cancelled = await _timed("cancelling the visit", post_form(
            staff, page, f"{page}/cancel"))  # type: ignore[arg-type]
        assert cancelled.status == 303  # type: ignore[attr-defined]
        stored = await other.app[VISITS].get(visit.id)
        assert stored is not None and stored.status == "cancelled"  # stored at once
        await asyncio.sleep(1.0)  # the bus's writer and watch try meanwhile
    finally:
        if outage == "stopped":
            redis.process.send_signal(signal.SIGCONT)
        else:
            redis.start()
    # Applied once Redis is back: the call ends for both (a room rebuilt after the
    # restart finds the visit over in the database; the patient's link was revoked
    # first: she may be told that instead).
    ended = await therapist.expect("visit-ended", timeout=20)
    assert ended["reason"] in ("cancelled", "ended")
    assert (await patient.expect("visit-ended", timeout=20))["reason"] in (
        "cancelled", "ended", "link_revoked")
    gc.collect()
    await asyncio.sleep(0.1)
    assert "Unclosed Pipeline" not in caplog.text, [
        r.getMessage() for r in caplog.records if "Unclosed Pipeline" in r.getMessage()]


async def test_a_write_that_fails_before_it_runs_leaves_no_pipeline_unclosed(
        redis_server, caplog):  # noqa: F811
    """A batch whose pipeline fails while it checks its scripts (Redis paused: the check
    times out) gave its connection back to nobody: redis-py logged "Unclosed Pipeline
    client" when the pipeline was collected, an error for each failed write."""
    bus = RedisClusterBus(redis_server.url, new_node_id(), group_seal())
    bus.redis = aioredis.from_url(redis_server.url, decode_responses=True, socket_timeout=0.3,
                                  retry=Retry(NoBackoff(), 0))  # fail fast, for the test
    bus._send = bus.redis.register_script(SEND)
    try:
        await bus.redis.ping()  # its connection is open before Redis pauses
        async with aioredis.from_url(redis_server.url) as admin:
            await admin.client_pause(1000, all=True)
            assert await _write_fails(bus)
        gc.collect()
        await asyncio.sleep(0.1)
        assert "Unclosed Pipeline" not in caplog.text, caplog.text
    finally:
        await asyncio.sleep(1.0)  # the pause ends
        await bus.close()


async def _write_fails(bus: RedisClusterBus) -> bool:
    """One write that fails; nothing of it (its traceback, its frames) is kept."""
    try:
        await bus._write([("send", new_node_id(), "v_outage0000000001", "x")])
    except RedisError:
        return True
    return False
