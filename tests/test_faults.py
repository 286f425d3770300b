"""Faults: a database another process holds locked, and a server killed mid-call."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import time
from pathlib import Path

import aiohttp
import pytest

from server.app import create_app
from signaling.bot import VisitClient
from signaling.ice import use_loopback_candidates
from tests.helpers import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    count_rows,
    link_of,
    login,
    make_api_key,
    make_visit,
)
from tests.live import free_port
from tests.test_cli import run, serve


@pytest.fixture
async def busy_api(aiohttp_client, config):
    """An API client on a server that waits at most one second for a lock."""
    client = await aiohttp_client(create_app(config.with_overrides(db_busy_seconds=1)))
    await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
    key = await make_api_key(client)
    return client, {"Authorization": f"Bearer {key}"}, config.db


def _hold_write_lock(db) -> sqlite3.Connection:
    """Another process's writer (a maintenance script, say) holding the lock."""
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    return holder


async def test_a_lock_released_within_the_wait_is_retried_and_succeeds(busy_api):
    client, auth, db = busy_api
    holder = _hold_write_lock(db)
    asyncio.get_running_loop().call_later(0.3, holder.rollback)
    response = await client.post("/api/visits", json={"patient_name": "Maya"}, headers=auth)
    assert response.status == 201
    holder.close()


async def test_a_lock_held_too_long_is_a_503_that_stores_nothing(busy_api):
    client, auth, db = busy_api
    visits_before = await count_rows(client, "visits")
    visit = await make_visit(client)
    holder = _hold_write_lock(db)
    try:
        response = await client.post("/api/visits", json={"patient_name": "Maya"}, headers=auth)
        assert response.status == 503
        assert response.headers["Retry-After"] == "5"
        assert (await response.json())["error"]["code"] == "busy"
        page = await client.get(await link_of(client, visit), allow_redirects=False)
        assert page.status == 503
        body = await page.text()
        assert "Busy for a moment" in body and "Traceback" not in body
    finally:
        holder.rollback()
        holder.close()
    assert await count_rows(client, "visits") == visits_before + 1  # only make_visit's
    response = await client.post("/api/visits", json={"patient_name": "Maya"}, headers=auth)
    assert response.status == 201


def _rows(db: Path) -> dict[str, set[tuple]]:
    with sqlite3.connect(db) as conn:
        return {table: set(conn.execute(f"SELECT * FROM {table}").fetchall())  # noqa: S608
                for table in ("visits", "participants", "assignments", "events", "signing_keys")}


async def _serving(base: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(f"{base}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            await asyncio.sleep(0.05)


async def _until(check, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)


async def test_a_server_killed_mid_call_restarts_intact_and_both_peers_reconnect(tmp_path):
    use_loopback_candidates()
    db, port = tmp_path / "v.db", free_port()
    base = f"http://127.0.0.1:{port}"
    created = run("create-visit", "--db", str(db), "--patient-name", "Maya Lopez",
                  "--therapist-name", "Sam Lee", "--public-url", base, "--json")
    visit = json.loads(created.stdout)
    server = serve(db, port)
    patient = VisitClient(visit["patient_url"])
    therapist = VisitClient(visit["therapist_url"], admit=True)
    calls: list[asyncio.Future] = []
    try:
        await _serving(base)
        calls = [asyncio.ensure_future(c.run(timeout=20, stay=60)) for c in (patient, therapist)]
        await _until(lambda: patient.figures.complete and therapist.figures.complete, 20)
        session = therapist._session
        assert session is not None
        assigned = await session.post(f"{base}/visits/{visit['visit_id']}/assignments",
                                      json={"exercise": "glute-bridge"}, headers={"Origin": base})
        assert assigned.status == 201
        before = _rows(db)
        connections = (patient.figures.connections, therapist.figures.connections)

        server.send_signal(signal.SIGKILL)
        server.wait(10)
        restarted = time.monotonic()
        server = serve(db, port)
        await _serving(base)
        await _until(lambda: (patient.figures.connections > connections[0]
                              and therapist.figures.connections > connections[1]), 10)
        assert time.monotonic() - restarted < 10
        assert patient.figures.reconnects >= 1 and therapist.figures.reconnects >= 1
        assert not any(call.done() for call in calls)  # neither bot gave up

        after = _rows(db)
        for table, rows in before.items():
            assert rows <= after[table], f"{table} lost rows"
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as fresh:
            async with fresh.get(visit["patient_url"]) as response:  # the link still opens
                assert response.status == 200
            listed = await (await session.get(f"{base}/visits/{visit['visit_id']}/assignments")).json()
            assert [a["exercise"] for a in listed["assignments"]] == ["glute-bridge"]
    finally:
        for call in calls:
            call.cancel()
        await asyncio.gather(*calls, return_exceptions=True)
        server.kill()
        server.wait(10)


async def test_a_denied_patient_stays_denied_after_a_kill_9_until_her_link_is_reissued(tmp_path):
    from server.runtime.config import Config
    from server.keys import VISITS
    from tests.live import Socket, start_live_server

    db, port = tmp_path / "v.db", free_port()
    base = f"http://127.0.0.1:{port}"
    created = run("create-visit", "--db", str(db), "--patient-name", "Maya Lopez",
                  "--therapist-name", "Sam Lee", "--public-url", base, "--json")
    visit = json.loads(created.stdout)
    vid = visit["visit_id"]
    server = serve(db, port)
    jar = aiohttp.CookieJar(unsafe=True)
    try:
        await _serving(base)
        async with aiohttp.ClientSession(cookie_jar=jar) as patient_http, \
                aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as therapist_http:
            for http, url in ((patient_http, visit["patient_url"]),
                              (therapist_http, visit["therapist_url"])):
                async with http.get(url) as response:
                    assert response.status == 200
            therapist = Socket(await therapist_http.ws_connect(f"{base}/visits/{vid}/ws", origin=base))
            await therapist.expect("welcome")
            patient = Socket(await patient_http.ws_connect(f"{base}/visits/{vid}/ws", origin=base))
            await patient.expect("waiting")
            pid = patient.seen[0]["you"]["id"]  # the welcome before "waiting"
            await therapist.send({"type": "deny", "participant": pid})
            assert await patient.closed_with() == 4003

            server.send_signal(signal.SIGKILL)
            server.wait(10)
            server = serve(db, port)
            await _serving(base)

            again = Socket(await patient_http.ws_connect(f"{base}/visits/{vid}/ws", origin=base))
            assert (await again.expect("denied"))["reason"] == "not_admitted"
            assert await again.closed_with() == 4003
            with sqlite3.connect(db) as conn:
                denied_at = conn.execute("SELECT denied_at FROM participants WHERE id = ?",
                                         (pid,)).fetchone()[0]
            assert denied_at is not None

        server.kill()
        server.wait(10)
        # Re-issuing her link (here through the service of a server on the same file) lets
        # the holder of the new link wait again.
        live = await start_live_server(Config(db=db, port=port, public_url=base,
                                              admin_password=ADMIN_PASSWORD))
        try:
            service = live.app[VISITS]
            stored = await service.get(vid)
            assert stored is not None
            stored = await service.reissue(stored, "patient", actor="test")
            waiting = await live.socket(await live.link(stored, "patient"))
            assert (await waiting.expect("welcome"))["status"] == "waiting"
        finally:
            await live.close()
    finally:
        server.kill()
        server.wait(10)
