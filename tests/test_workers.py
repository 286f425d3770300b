"""`run.py serve --workers 3` with Redis: visits whose sides land on different worker
processes, a rolling restart (SIGHUP) during calls, and a worker killed (-9) mid-call.

One process tree serves the module's tests (starting three workers takes seconds); each
test makes visits of its own. The failover test runs last: it kills a worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator

import aiohttp
import psycopg
import pytest
import redis.asyncio as aioredis

from server.visits.signaling_wiring import NODE_HEADER
from signaling.bot import VisitClient
from signaling.closes import CLOSE_ENDED, CLOSE_RECONNECT
from signaling.ice import use_loopback_candidates
from tests.helpers import ADMIN_EMAIL, ADMIN_PASSWORD, api_key_in, login
from tests.live import free_port, read_until_closed
from tests.postgres_server import PostgresCluster
from tests.redis_server import RedisServer, redis_server  # noqa: F401 (a fixture)
from tests.test_cli import run

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 3
ENGINE = "postgres"
"""The store the workers share: "postgres" (the issue's set-up) or "sqlite" (one file)."""


# -- the process tree ------------------------------------------------------------------------


class Workers:
    """A `run.py serve --workers 3` process tree on a free port on 127.0.0.1."""

    def __init__(self, directory: Path, redis_url: str, database_url: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.redis_url = redis_url
        self.store: str | Path = database_url or directory / "visitroom.db"
        self.log = directory / "serve.log"
        env = {**os.environ, "VISITROOM_REDIS_URL": redis_url, "VISITROOM_ICE_LOOPBACK": "1",
               "VISITROOM_ADMIN_EMAIL": ADMIN_EMAIL, "VISITROOM_ADMIN_PASSWORD": ADMIN_PASSWORD}
        if database_url:
            env["VISITROOM_DATABASE_URL"] = database_url
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, str(ROOT / "run.py"), "serve", "--workers", str(WORKERS),
                 "--db", str(directory / "visitroom.db"), "--host", "127.0.0.1",
                 "--port", str(self.port), "--public-url", self.base],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    async def logged(self, pattern: str, count: int = 1, timeout: float = 60.0) -> None:
        """Wait until the log holds `count` lines matching `pattern`."""
        deadline = time.monotonic() + timeout
        while len(re.findall(pattern, self.text())) < count:
            assert self.process.poll() is None, f"the server exited:\n{self.text()[-3000:]}"
            assert time.monotonic() < deadline, f"no {pattern!r} in the log:\n{self.text()[-3000:]}"
            await asyncio.sleep(0.05)

    def pids(self) -> set[int]:
        """The worker processes alive now (children of the supervisor)."""
        children = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid and fields[0] != "Z":
                children.add(int(stat.parent.name))
        return children

    def pid_of(self, node: str) -> int:
        """The worker process of a node id (each worker logs its id and pid at start)."""
        match = re.search(rf"signaling node={re.escape(node)} pid=(\d+)", self.text())
        assert match, f"node {node} is not in the log"
        return int(match.group(1))

    async def owner(self, visit_id: str) -> str | None:
        """The node owning a visit's room, as Redis has it."""
        async with aioredis.from_url(self.redis_url, decode_responses=True) as client:
            return await client.get(f"visitroom:owner:{visit_id}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@pytest.fixture(scope="module")
def postgres_module(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """An empty PostgreSQL database of the session's server for the module's process tree
    ("" on SQLite)."""
    if ENGINE != "postgres":
        yield ""
        return
    url = postgres_cluster.fresh_database()
    yield url
    postgres_cluster.retire(url)


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer,  # noqa: F811
            postgres_module: str) -> Iterator[Workers]:
    use_loopback_candidates()
    tree = Workers(tmp_path_factory.mktemp("workers"), redis_server.url, postgres_module)
    try:
        asyncio.run(tree.logged(r"serving on port \d+ with 3 workers"))
        yield tree
    finally:
        tree.stop()
    assert tree.process.returncode == 0, tree.text()[-3000:]
    assert "Traceback" not in tree.text(), tree.text()[-5000:]


# -- participants ----------------------------------------------------------------------------


class Side:
    """One aiortc participant whose HTTP session records which worker answered its
    socket each time it opened (the node header on the upgrade)."""

    def __init__(self, link: str, admit: bool) -> None:
        self.nodes: list[str] = []
        trace = aiohttp.TraceConfig()
        trace.on_request_end.append(self._answered)
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                             trace_configs=[trace])
        self.bot = VisitClient(link, admit=admit, session=self.session)
        self.task: asyncio.Future[Any] | None = None

    async def _answered(self, session: Any, context: Any, params: aiohttp.TraceRequestEndParams
                        ) -> None:
        if params.url.path.endswith("/ws") and params.response.status == 101:
            self.nodes.append(params.response.headers[NODE_HEADER])

    def start(self) -> None:
        self.task = asyncio.ensure_future(self.bot.run(timeout=60, stay=600))

    @property
    def node(self) -> str:
        return self.nodes[-1]

    def welcomes(self) -> list[dict[str, Any]]:
        return [m for m in self.bot.messages if m["type"] == "welcome"]

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        await self.bot.close()
        await self.session.close()


async def until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait (bounded) until `check()` holds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        await asyncio.sleep(0.05)


async def flowing(sides: list[Side], timeout: float = 15.0) -> None:
    """Video and audio frames arrive at every side (counted from now)."""
    start = {id(s): (s.bot.figures.video_frames, s.bot.figures.audio_frames) for s in sides}
    await until(lambda: all(s.bot.figures.video_frames > start[id(s)][0] + 5
                            and s.bot.figures.audio_frames > start[id(s)][1] + 5 for s in sides),
                timeout, "media flowing both ways in every call")


async def calls(api: aiohttp.ClientSession, count: int) -> tuple[list[dict[str, Any]], list[Side]]:
    """`count` visits made through the API, each with a therapist bot (admits) and a
    patient bot, running until their calls are complete."""
    visits = []
    for _ in range(count):
        async with api.post("/api/visits", json={"patient_name": "Maya Lopez",
                                                 "therapist_name": "Sam Lee"}) as response:
            assert response.status == 201, await response.text()
            visits.append(await response.json())
    sides = []
    for visit in visits:
        sides += [Side(visit["therapist_url"], admit=True), Side(visit["patient_url"], admit=False)]
    for side in sides:
        side.start()
    await until(lambda: all(s.bot.figures.complete for s in sides), 60, "every call complete")
    return visits, sides


def pairs(sides: list[Side]) -> list[tuple[Side, Side]]:
    return list(zip(sides[0::2], sides[1::2]))


async def api_session(tree: Workers) -> aiohttp.ClientSession:
    key = await api_key_in(tree.store, "Scheduler")
    return aiohttp.ClientSession(base_url=tree.base, headers={"Authorization": f"Bearer {key}"})


def rows(store: str | Path) -> dict[str, set[tuple[Any, ...]]]:
    """Every row of the tables that must survive a worker's death."""
    tables = ("visits", "participants", "assignments", "events")
    if isinstance(store, str):
        with psycopg.connect(store) as conn:
            return {t: set(conn.execute(f"SELECT * FROM {t}").fetchall()) for t in tables}  # noqa: S608
    with sqlite3.connect(store) as conn:
        return {t: set(conn.execute(f"SELECT * FROM {t}").fetchall()) for t in tables}  # noqa: S608


async def each_node(tree: Workers, request: Callable[[aiohttp.ClientSession], Awaitable[None]],
                    cookies: aiohttp.CookieJar) -> set[str]:
    """Run `request` on fresh connections until every worker has answered it once."""
    answered: set[str] = set()

    async def note(session: Any, context: Any, params: aiohttp.TraceRequestEndParams) -> None:
        answered.add(params.response.headers[NODE_HEADER])

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(note)
    async with aiohttp.ClientSession(base_url=tree.base, cookie_jar=cookies,
                                     connector=aiohttp.TCPConnector(force_close=True),
                                     headers={"Origin": tree.base},
                                     trace_configs=[trace]) as session:
        for _ in range(60):
            await request(session)
            if len(answered) == WORKERS:
                break
    return answered


# -- the tests -------------------------------------------------------------------------------


async def test_twenty_calls_split_across_workers_connect_show_live_everywhere_and_cancel_anywhere(
        workers: Workers):
    started = time.monotonic()
    api = await api_session(workers)
    sides: list[Side] = []
    try:
        visits, sides = await calls(api, 20)
        connected = time.monotonic() - started

        # A pair whose sides share a worker: the patient's socket is opened again until it
        # lands on another (the kernel spreads new connections across the three).
        async def split(therapist: Side, patient: Side) -> None:
            for _ in range(12):
                if patient.node != therapist.node:
                    return
                opened = len(patient.nodes)
                assert patient.bot.ws is not None
                await patient.bot.ws.close()
                await until(lambda: len(patient.nodes) > opened, 10, "the patient reconnected")
            assert patient.node != therapist.node

        await asyncio.gather(*(split(t, p) for t, p in pairs(sides)))
        assert len({s.node for s in sides}) == WORKERS
        assert all(t.node != p.node for t, p in pairs(sides))
        for therapist, patient in pairs(sides):
            assert patient.bot.status == "admitted"  # (the last welcome or admitted)
            assert therapist.bot.figures.connections >= 1 and patient.bot.figures.connections >= 1
        await flowing(sides)

        # The dashboard's live status, asked through every worker, is right for every call.
        staff = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(base_url=workers.base, cookie_jar=staff) as session:
            await login(session, ADMIN_EMAIL, ADMIN_PASSWORD)  # type: ignore[arg-type]
        ids = {v["visit_id"] for v in visits}

        async def live_is_in_call(session: aiohttp.ClientSession) -> None:
            async with session.get("/admin/live.json") as response:
                assert response.status == 200
                live = {v["id"]: v["live"] for v in (await response.json())["visits"]}
            assert all(live.get(i) == "in_call" for i in ids), live

        assert len(await each_node(workers, live_is_in_call, staff)) == WORKERS

        # A cancel made through a worker that does not own the room ends the call for both.
        visit, (therapist, patient) = visits[0], pairs(sides)[0]
        owner = await workers.owner(visit["visit_id"])
        assert owner in {therapist.node, patient.node}
        for _ in range(30):
            async with aiohttp.ClientSession(base_url=workers.base, headers=api.headers,
                                             connector=aiohttp.TCPConnector(limit=1)) as one:
                async with one.get("/healthz") as response:
                    if response.headers[NODE_HEADER] == owner:
                        continue
                async with one.post(f"/api/visits/{visit['visit_id']}/cancel") as response:
                    assert response.status == 200, await response.text()
                    assert response.headers[NODE_HEADER] != owner
                break
        for side in (therapist, patient):
            await until(lambda s=side: s.task is not None and s.task.done(), 10, "the call ended")
            assert any(m["type"] == "visit-ended" for m in side.bot.messages)
            assert side.bot.close_code == CLOSE_ENDED

        async def live_is_over(session: aiohttp.ClientSession) -> None:
            async with session.get("/admin/live.json") as response:
                live = {v["id"]: v["live"] for v in (await response.json())["visits"]}
            assert live.get(visit["visit_id"]) != "in_call", live

        assert len(await each_node(workers, live_is_over, staff)) == WORKERS
        print(f"20 calls connected in {connected:.1f} s; whole test {time.monotonic() - started:.1f} s")
    finally:
        await asyncio.gather(*(s.close() for s in sides))
        await api.close()


async def test_a_rolling_restart_replaces_every_worker_and_drops_no_call(workers: Workers):
    api = await api_session(workers)
    sides: list[Side] = []
    try:
        visits, sides = await calls(api, 3)
        before = workers.pids()
        assert len(before) == WORKERS
        done = len(re.findall("rolling restart done", workers.text()))
        rolled = time.monotonic()
        workers.process.send_signal(signal.SIGHUP)
        await workers.logged("rolling restart done", done + 1, timeout=90)
        took = time.monotonic() - rolled
        after = workers.pids()
        assert len(after) == WORKERS and not after & before  # every worker replaced

        await until(lambda: all(s.bot.figures.reconnects >= 1 for s in sides), 10,
                    "every bot reconnected")
        await flowing(sides)
        for therapist, patient in pairs(sides):
            for side in (therapist, patient):
                assert not side.task.done()  # type: ignore[union-attr]
                kinds = [m["type"] for m in side.bot.messages]
                assert "visit-ended" not in kinds and "denied" not in kinds
            # Nobody went back to the waiting room: every welcome since the admission
            # seats the patient as admitted.
            first = next(i for i, m in enumerate(patient.bot.messages) if m["type"] == "admitted")
            later = patient.bot.messages[first:]
            assert "waiting" not in [m["type"] for m in later]
            assert all(m["status"] == "admitted" for m in later if m["type"] == "welcome")
            assert len(patient.welcomes()) >= 2
        for visit in visits:
            async with api.get(f"/api/visits/{visit['visit_id']}") as response:
                assert (await response.json())["status"] == "scheduled"
        print(f"rolling restart of {WORKERS} workers took {took:.1f} s")
    finally:
        await asyncio.gather(*(s.close() for s in sides))
        await api.close()


async def test_a_rolling_restart_during_a_browser_call_is_a_moment_for_the_people_in_it(
        workers: Workers):
    from tests.browser import (
        Chromium,
        remote_video_playing,
        screenshot,
        state_of,
        wait_state,
    )

    api = await api_session(workers)
    try:
        async with api.post("/api/visits", json={"patient_name": "Maya Lopez",
                                                 "therapist_name": "Sam Lee"}) as response:
            visit = await response.json()
        async with Chromium() as chromium:
            pages = {}
            for role in ("therapist", "patient"):
                page = pages[role] = await chromium.page()
                await page.goto(visit[f"{role}_url"])
                await page.wait_for_selector("#call-root[data-ready=true]", state="attached")
                await page.click("[data-testid=join-button]")
            await pages["therapist"].click("[data-testid=admit-button]")
            for page in pages.values():
                await wait_state(page, "connected")
                assert await remote_video_playing(page)

            # Sample what each person sees while every worker is replaced.
            away: dict[str, float] = {role: 0.0 for role in pages}
            seen: dict[str, list[str]] = {role: [] for role in pages}
            done = len(re.findall("rolling restart done", workers.text()))
            workers.process.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 90
            sampled = time.monotonic()
            while len(re.findall("rolling restart done", workers.text())) <= done:
                assert time.monotonic() < deadline, "the rolling restart did not finish"
                now = time.monotonic()
                for role, page in pages.items():
                    state = await state_of(page)
                    if state == "waiting" and (
                            await page.is_visible("[data-testid=waiting-room]")
                            or await page.inner_text("[data-testid=call-state]")
                            == "In the waiting room"):
                        state = "waiting room"
                    if not seen[role] or seen[role][-1] != state:
                        seen[role].append(state)
                    if state != "connected":
                        away[role] += now - sampled
                sampled = now
                await asyncio.sleep(0.1)
            for page in pages.values():
                await wait_state(page, "connected", timeout=10000)
                assert await remote_video_playing(page)
            await screenshot(pages["patient"], "call-after-rolling-restart-patient-1280")
            # A moment each time her socket moved (three workers: at most three moves),
            # never the waiting room, never the end of the visit.
            # (an admitted person alone for a moment, "waiting" for the other, stays in the call)
            assert set(seen["patient"] + seen["therapist"]) <= {
                "connected", "reconnecting", "connecting", "waiting"}, seen
            assert await pages["patient"].inner_text("[data-testid=call-state]") == "Connected"
            assert max(away.values()) < 3 * 3.0, away
            for page in pages.values():
                assert page.errors == []
            print(f"rolling restart: seconds out of 'connected' {away}")
    finally:
        await api.close()


async def _next(ws: aiohttp.ClientWebSocketResponse, kind: str, seen: list[dict[str, Any]],
                timeout: float = 10.0) -> dict[str, Any]:
    """The socket's next message of this type (every message read is kept in `seen`)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            frame = await ws.receive(timeout=max(0.1, deadline - time.monotonic()))
        except TimeoutError:
            raise TimeoutError(f"no {kind} within {timeout} s; seen {seen}") from None
        assert frame.type == aiohttp.WSMsgType.TEXT, (
            f"closed ({ws.close_code}) while waiting for {kind}; seen {seen}")
        seen.append(json.loads(frame.data))
        if seen[-1]["type"] == kind:
            return seen[-1]


async def test_a_revoke_through_another_worker_outlives_its_stalled_then_killed_owner(
        workers: Workers):
    """Issue 20, point 1 (docs/security.md T38): the therapist's socket on the room's
    owner, the patient's on another worker; the owner is stopped (SIGSTOP), her link is
    revoked through another worker, the owner is killed (-9). She is never seated again
    and her socket closes with 4004; the therapist, back on a live worker, is alone."""
    api = await api_session(workers)
    http = [aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                  connector=aiohttp.TCPConnector(force_close=True),
                                  headers=headers)
            for headers in ({}, {}, dict(api.headers))]
    t_http, p_http, revoker = http
    stopped = 0
    try:
        async with api.post("/api/visits", json={"patient_name": "Maya Lopez",
                                                 "therapist_name": "Sam Lee"}) as response:
            visit = await response.json()
        for session, url in ((t_http, visit["therapist_url"]), (p_http, visit["patient_url"])):
            async with session.get(url) as response:
                assert response.status == 200
        ws_url = f"{workers.base}/visits/{visit['visit_id']}/ws"
        t_seen: list[dict[str, Any]] = []
        therapist = await t_http.ws_connect(ws_url, origin=workers.base)
        await _next(therapist, "welcome", t_seen)
        owner = therapist._response.headers[NODE_HEADER]
        assert await workers.owner(visit["visit_id"]) == owner
        for _ in range(60):  # fresh connections until another worker holds her socket
            patient = await p_http.ws_connect(ws_url, origin=workers.base)
            if patient._response.headers[NODE_HEADER] != owner:
                break
            await patient.close()
        else:
            raise AssertionError("the patient's socket never landed on another worker")
        p_seen: list[dict[str, Any]] = []
        await _next(patient, "waiting", p_seen)
        # The sockets she opened and closed on the owner each moved the lobby; admit her once
        # the lobby has settled with this socket waiting (no lobby news for a second).
        lobby: dict[str, Any] = {"waiting": []}
        for _ in range(15):
            try:
                lobby = await _next(therapist, "lobby", t_seen, timeout=1.0)
            except TimeoutError:
                if lobby["waiting"]:
                    break
        else:
            raise AssertionError(f"the lobby never settled with her waiting; seen {t_seen}")
        await therapist.send_str(json.dumps({"type": "admit",
                                             "participant": lobby["waiting"][0]["id"]}))
        await _next(patient, "admitted", p_seen)

        # From here on her socket is read as frames arrive, each with its arrival time: a
        # worker taking the stopped owner's room over may seat her again before the revoke
        # (a welcome then is right), never after it.
        arrivals: list[tuple[float, dict[str, Any]]] = []

        async def read_her() -> int | None:
            """Her frames until the close; the code in the server's close frame."""
            while True:
                frame = await patient.receive()
                if frame.type == aiohttp.WSMsgType.TEXT:
                    arrivals.append((time.monotonic(), json.loads(frame.data)))
                elif frame.type == aiohttp.WSMsgType.CLOSE:
                    return int(frame.data)
                else:
                    return patient.close_code
        reading = asyncio.ensure_future(read_her())
        stopped = workers.pid_of(owner)
        os.kill(stopped, signal.SIGSTOP)
        revoke = f"{workers.base}/api/visits/{visit['visit_id']}/participants/patient/revoke"
        for _ in range(30):  # a request the stopped worker took never answers: again
            try:
                async with revoker.post(revoke, timeout=aiohttp.ClientTimeout(total=2)) as r:
                    if r.status == 200 and r.headers[NODE_HEADER] != owner:
                        break
            except asyncio.TimeoutError:
                continue
        else:
            raise AssertionError("no live worker revoked the link")
        revoked = time.monotonic()
        os.kill(stopped, signal.SIGKILL)
        killed = time.monotonic()
        done, _ = await asyncio.wait([reading], timeout=15)
        stamped = [m for _, m in arrivals]
        if not done:
            reading.cancel()
            raise AssertionError("her socket was still open 15 s after the owner's kill; since "
                                 f"the revoke: {[m['type'] for m in stamped]}")
        assert reading.result() == 4004, (reading.result(), stamped)
        assert time.monotonic() - killed < 15
        after = [m["type"] for at, m in arrivals if at >= revoked]
        assert "welcome" not in after, (after, stamped)
        assert stamped[-1]["type"] == "visit-ended", stamped
        # Her therapist's browser comes back on a live worker: the patient is not there.
        back_seen: list[dict[str, Any]] = []
        back = await t_http.ws_connect(ws_url, origin=workers.base)
        assert (await _next(back, "welcome", back_seen, timeout=15))["peers"] == []
        with contextlib.suppress(asyncio.TimeoutError):
            await _next(back, "peer-joined", back_seen, timeout=2.0)
        assert not any(m["type"] in ("peer-joined", "offer") for m in back_seen), back_seen
        await back.close()
    finally:
        if stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(stopped, signal.SIGKILL)
        for session in (*http, api):
            await session.close()
        await until(lambda: len(workers.pids()) == WORKERS and stopped not in workers.pids(),
                    30, "the supervisor started another worker")


async def test_a_worker_killed_mid_call_loses_nothing_and_its_calls_come_back_within_10_s(
        workers: Workers):
    api = await api_session(workers)
    sides: list[Side] = []
    try:
        visits, sides = await calls(api, 2)
        therapist, patient = pairs(sides)[0]
        # Stored before the kill: an assignment, and a denial in a third visit.
        assert therapist.bot._session is not None
        async with therapist.bot._session.post(
                f"{workers.base}/visits/{visits[0]['visit_id']}/assignments",
                json={"exercise": "glute-bridge"}, headers={"Origin": workers.base}) as response:
            assert response.status == 201
        await _deny_one(api, workers)
        before = rows(workers.store)

        owner = await workers.owner(visits[0]["visit_id"])
        assert owner is not None
        victim = workers.pid_of(owner)
        welcomes = {id(s): len(s.welcomes()) for s in (therapist, patient)}
        connections = {id(s): s.bot.figures.connections for s in (therapist, patient)}
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        await until(lambda: all(len(s.welcomes()) > welcomes[id(s)]
                                and s.bot.figures.connections > connections[id(s)]
                                for s in (therapist, patient)), 10, "both sides back in the call")
        back = time.monotonic() - killed  # reconnected and renegotiated: within 10 s
        await flowing([therapist, patient], timeout=10)
        print(f"both sides back in the call {back:.1f} s after kill -9")
        assert patient.welcomes()[-1]["status"] == "admitted"

        await until(lambda: len(workers.pids()) == WORKERS and victim not in workers.pids(), 30,
                    "the supervisor started another worker")
        after = rows(workers.store)
        for table, kept in before.items():
            assert kept <= after[table], f"{table} lost rows"
        await flowing(sides)  # the other call too
        print(f"calls back {back:.1f} s after kill -9 of their room's owner")
    finally:
        await asyncio.gather(*(s.close() for s in sides))
        await api.close()


async def _deny_one(api: aiohttp.ClientSession, tree: Workers) -> None:
    """A visit whose patient the therapist denies (the denial is stored)."""
    async with api.post("/api/visits", json={"patient_name": "Ana Ruiz",
                                             "therapist_name": "Sam Lee"}) as response:
        visit = await response.json()
    jars = [aiohttp.CookieJar(unsafe=True) for _ in range(2)]
    async with aiohttp.ClientSession(cookie_jar=jars[0]) as t_http, \
            aiohttp.ClientSession(cookie_jar=jars[1]) as p_http:
        for http, url in ((t_http, visit["therapist_url"]), (p_http, visit["patient_url"])):
            async with http.get(url) as response:
                assert response.status == 200
        ws_url = f"{tree.base}/visits/{visit['visit_id']}/ws"
        therapist = await t_http.ws_connect(ws_url, origin=tree.base)
        patient = await p_http.ws_connect(ws_url, origin=tree.base)
        waiting: list[dict[str, Any]] = []
        while not waiting:
            message = json.loads((await therapist.receive(timeout=10)).data)
            waiting = message.get("waiting", []) if message["type"] == "lobby" else []
        await therapist.send_str(json.dumps({"type": "deny", "participant": waiting[0]["id"]}))
        assert await read_until_closed(patient, 10) == 4003
        await therapist.close()


def test_bad_worker_counts_are_refused_with_a_clear_message(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("VISITROOM_REDIS_URL", "VISITROOM_BUS")}
    for count, phrase in (("0", "--workers must be at least 1"),
                          ("-2", "--workers must be at least 1"),
                          ("2", "--workers 2 needs Redis")):
        result = run("serve", "--workers", count, "--db", str(tmp_path / "v.db"), env=env)
        assert result.returncode != 0
        assert phrase in result.stderr and "Traceback" not in result.stderr
        assert not (tmp_path / "v.db").exists()  # refused before anything was made
    result = run("serve", "--workers", "two", env=env)
    assert result.returncode == 2 and "invalid int value" in result.stderr


def test_the_browser_reconnects_at_once_on_the_servers_reconnect_code():
    source = (ROOT / "web/js/signaling.js").read_text()
    assert f"const RECONNECT_NOW = {CLOSE_RECONNECT};" in source


def test_workers_that_cannot_take_the_port_stop_the_server_with_a_clear_message(
        tmp_path, redis_server: RedisServer):  # noqa: F811
    import socket

    with socket.socket() as taken:  # another program holds the port (no SO_REUSEPORT)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "VISITROOM_REDIS_URL": redis_server.url,
               "VISITROOM_ADMIN_PASSWORD": ADMIN_PASSWORD}
        result = run("serve", "--workers", "2", "--db", str(tmp_path / "v.db"),
                     "--port", str(port), env=env)
    assert result.returncode == 1
    assert "address already in use" in result.stderr and "did not start" in result.stderr
    assert "Traceback" not in result.stderr
