"""Soak: a long clinic day compressed — many visits joining, leaving, reloading, dropping.

    python -m bench.soak [--visits 500] [--seconds 120] [--seed 7] [--json] [--tracemalloc DIR]
    python -m bench.soak --workers 3 --visits 300 --seconds 120

Starts the real server on a fresh database with N visits whose patients must be admitted.
Every visit then cycles until the time is up: the therapist and the patient open their
links (page, then WebSocket, as a browser does), the therapist admits the patient, they
exchange offer, answer and candidate-sized messages, then one of them reloads the page,
leaves and comes back, or drops the connection without a goodbye (a phone losing signal)
and reconnects. Every wait is bounded in time; everything stays on 127.0.0.1.

With --workers N the server is `run.py serve --workers N` on one port (the kernel spreads
connections across the workers, so a visit's two participants and a participant's page
and socket often land on different workers) with a private redis-server on 127.0.0.1;
memory is read per worker (at start, after the warm-up, at the end), sockets and tasks
are summed over the workers, and a worker replaced during the run counts as a failure.

Reported: cycles completed, errors (refused connections, protocol `error` messages,
expected messages that never came), the server's resident memory after the warm-up (the
first third of the run) and at the end (growth target < 5% over the last two thirds), and
the server's asyncio tasks and open sockets before, during and after the run (back to the
baseline at the end).

With --tracemalloc DIR the server runs under tracemalloc (bench/traced_serve.py) and
writes a snapshot after the warm-up, at two thirds and at the end, each after a full
garbage collection; the run then prints the allocation sites that grew most between them,
and beside each snapshot the garbage collected and what glibc's malloc and Python's
small-object allocator hold (growth that is not Python objects shows there, not in the
snapshots). Tracing slows the server several times over, so its memory figures are only
for comparing snapshots, not for the target.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import (
    ROOT,
    Server,
    children,
    free_port,
    pin,
    prepare_visits,
    raise_file_limit,
    report,
    rss_kb,
    start_redis,
    start_server,
    stop_server,
    use_uvloop,
    verdict,
    wait_http,
)

WAIT = 10.0
"""Longest wait for any one expected message."""
PAD = "s" * 2000
WARMUP = 1 / 3
"""Share of the run before the memory baseline is taken."""
GROWTH_TARGET_PCT = 5.0
"""Largest resident-memory growth allowed from the end of the warm-up to the end."""


class Failure(Exception):
    """Something a participant expected did not happen."""


class Participant:
    """One side of a visit as a browser would drive it."""

    def __init__(self, base: str, link: str, visit_id: str) -> None:
        self.base, self.link, self.visit_id = base, link, visit_id
        self.jar = aiohttp.CookieJar(unsafe=True)
        self.session = aiohttp.ClientSession(cookie_jar=self.jar)
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.reader: asyncio.Task[None] | None = None
        self.id = ""

    async def join(self) -> dict[str, Any]:
        """Load the page (its own connection), open the socket, return the welcome."""
        async with aiohttp.ClientSession(cookie_jar=self.jar,
                                         connector=aiohttp.TCPConnector(force_close=True)) as page:
            async with page.get(self.link) as response:
                await response.read()
                if response.status != 200:
                    raise Failure(f"page answered {response.status}")
        self.ws = await self.session.ws_connect(f"{self.base}/visits/{self.visit_id}/ws",
                                                origin=self.base, heartbeat=None, compress=0)
        self.inbox = asyncio.Queue()
        self.reader = asyncio.ensure_future(self._read(self.ws, self.inbox))
        welcome = await self.expect("welcome")
        self.id = welcome["you"]["id"]
        return welcome

    @staticmethod
    async def _read(ws: aiohttp.ClientWebSocketResponse, inbox: asyncio.Queue[dict[str, Any]]) -> None:
        async for frame in ws:
            if frame.type == aiohttp.WSMsgType.TEXT:
                inbox.put_nowait(json.loads(frame.data))

    async def expect(self, kind: str) -> dict[str, Any]:
        """The next message of this type; Failure on an `error` or after WAIT seconds."""
        deadline = time.monotonic() + WAIT
        while True:
            try:
                message = await asyncio.wait_for(self.inbox.get(), deadline - time.monotonic())
            except (asyncio.TimeoutError, ValueError):
                raise Failure(f"no {kind} within {WAIT:g} s") from None
            if message["type"] == kind:
                return message
            if message["type"] == "error":
                raise Failure(f"error {message.get('code')} while waiting for {kind}")

    async def send(self, message: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send_str(json.dumps(message))

    async def leave(self, how: str) -> None:
        """Close the socket: `bye` and a clean close, or `drop` with no goodbye at all."""
        if self.ws is not None and not self.ws.closed:
            if how == "drop":
                connection = self.ws._conn  # aiohttp keeps no public handle on the socket
                transport = connection.transport if connection is not None else None
                if transport is not None:
                    transport.abort()
            else:
                await self.send({"type": "bye"})
            await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()
        self.ws = None

    async def close(self) -> None:
        await self.leave("bye")
        await self.session.close()


async def _visit_day(base: str, visit: tuple[str, str, str, str], deadline: float,
                     rng: random.Random, tally: dict[str, int]) -> None:
    visit_id, patient_link, therapist_link, _ = visit
    therapist = Participant(base, therapist_link, visit_id)
    patient = Participant(base, patient_link, visit_id)
    try:
        await therapist.join()
        while time.monotonic() < deadline:
            try:
                await _one_cycle(therapist, patient, rng)
                tally["cycles"] += 1
            except (Failure, aiohttp.ClientError, ConnectionError) as exc:
                tally["errors"] += 1
                tally.setdefault("first_error", str(exc))  # type: ignore[arg-type]
                await patient.leave("bye")
                await therapist.leave("bye")
                await asyncio.sleep(1)
                await therapist.join()
    finally:
        await patient.close()
        await therapist.close()


async def _one_cycle(therapist: Participant, patient: Participant, rng: random.Random) -> None:
    welcome = await patient.join()
    if welcome["status"] == "waiting":
        await therapist.send({"type": "admit", "participant": patient.id})
        await patient.expect("admitted")
    await therapist.expect("peer-joined")
    for _ in range(3):
        await patient.send({"type": "offer", "to": therapist.id, "sdp": f"v=0 {PAD}"})
        await therapist.expect("offer")
        await therapist.send({"type": "answer", "to": patient.id, "sdp": f"v=0 {PAD}"})
        await patient.expect("answer")
        await therapist.send({"type": "candidate", "to": patient.id,
                              "candidate": {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host",
                                            "sdpMid": "0", "sdpMLineIndex": 0}})
        await patient.expect("candidate")
    await asyncio.sleep(rng.uniform(0.2, 1.5))
    action = rng.choice(("reload", "drop", "therapist-leaves"))
    if action == "therapist-leaves":
        await therapist.leave("bye")
        await patient.expect("peer-left")
        await therapist.join()
        await patient.expect("peer-joined")
        await patient.leave("bye")
    else:
        await patient.leave("drop" if action == "drop" else "bye")
    await therapist.expect("peer-left")


async def _health(base: str, nodes: int = 1) -> dict[str, Any]:
    """Sockets and tasks of the whole server: with several workers (the kernel picks one
    per connection) /healthz is asked on fresh connections until every worker's node id
    (the X-Visitroom-Node header) answered, at most 60 times, and their figures summed."""
    seen: dict[str, dict[str, Any]] = {}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
        for _ in range(60):
            async with session.get(f"{base}/healthz") as response:
                seen[response.headers.get("X-Visitroom-Node", "-")] = dict(await response.json())
            if len(seen) >= nodes:
                break
    return {"sockets": sum(h["sockets"] for h in seen.values()),
            "tasks": sum(h["tasks"] for h in seen.values()), "nodes": len(seen)}


async def _worker_pids(server: Server, workers: int) -> list[int]:
    """The server's worker processes (itself when it runs alone), once all have started."""
    if workers == 1:
        return [server.pid]
    for _ in range(300):
        found = children(server.pid)
        if len(found) >= workers:
            return found
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{workers} workers did not start within 30 s")


def _rss(pids: list[int]) -> list[int]:
    out = []
    for pid in pids:
        try:
            out.append(rss_kb(pid))
        except OSError:  # a worker that died: its memory is gone with it
            out.append(0)
    return out


def start_traced_server(db: Path, port: int, folder: Path, extra_env: dict[str, str]) -> Server:
    """The server under tracemalloc, writing a snapshot into `folder` on each SIGUSR1."""
    env = {**os.environ, "VISITROOM_ADMIN_PASSWORD": "benchmark-admin-1", **extra_env}
    process = subprocess.Popen([sys.executable, "-m", "bench.traced_serve", str(folder), "serve",
                                "--db", str(db), "--port", str(port)], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = Server(process)
    pin(server.pid, 0)
    return server


async def take_snapshot(server: Server, folder: Path, number: int) -> Path:
    """Ask the traced server for snapshot `number` and wait until it is written."""
    target = folder / f"{number}.snapshot"
    server.process.send_signal(signal.SIGUSR1)
    for _ in range(1200):
        if target.exists():
            return target
        await asyncio.sleep(0.5)
    raise TimeoutError(f"no tracemalloc snapshot {number} after 10 minutes")


def _gc_note(snapshot: Path) -> str:
    note = snapshot.with_suffix(".gc")
    return note.read_text() if note.exists() else "?"


def print_growth(snapshots: list[tuple[str, Path]], top: int = 15) -> None:
    """The allocation sites that grew most from the first snapshot to each later one."""
    def load(path: Path) -> tracemalloc.Snapshot:
        return tracemalloc.Snapshot.load(str(path)).filter_traces(
            (tracemalloc.Filter(False, tracemalloc.__file__),))

    first_name, first_path = snapshots[0]
    first = load(first_path)
    for name, path in snapshots[1:]:
        later = load(path)
        total = sum(s.size_diff for s in later.compare_to(first, "filename"))
        print(f"\ntracemalloc: {first_name} -> {name}: {total / 1024:+.0f} KiB traced")
        print(f"  collector before the {first_name} snapshot: {_gc_note(first_path)}; "
              f"before the {name} one: {_gc_note(path)}")
        for stat in later.compare_to(first, "lineno")[:top]:
            print(f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks  "
                  f"{stat.traceback[0]}")
        print("  largest growth by whole stack:")
        for stat in later.compare_to(first, "traceback")[:3]:
            print(f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks")
            for line in stat.traceback.format(limit=12):
                print(f"      {line}")


async def run(visits: int, seconds: float, seed: int, trace_dir: Path | None = None,
              workers: int = 1) -> dict[str, Any]:
    """One soak run; every figure it measured. With `workers` > 1 the server is
    `serve --workers N` with a private redis-server; memory is read per worker."""
    raise_file_limit()
    pin(os.getpid(), 1)
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        db, port = Path(tmp) / "soak.db", free_port()
        base = f"http://127.0.0.1:{port}"
        links = await prepare_visits(db, base, visits + 1, admitted=False)
        warm_visit = links.pop()
        # /healthz shows its counts to this machine only when asked to (`_health` reads them).
        env = {"VISITROOM_HEARTBEAT_SECONDS": "5", "VISITROOM_HEALTH_LOOPBACK": "1"}
        redis_server = None
        if workers > 1:
            redis_server, env["VISITROOM_REDIS_URL"] = start_redis(Path(tmp), core=0)
        server = (start_traced_server(db, port, trace_dir, env) if trace_dir
                  else start_server(db, port, extra_env=env, workers=workers))
        snapshots: list[tuple[str, Path]] = []
        try:
            await wait_http(f"{base}/healthz", timeout=180 if trace_dir else 60)
            pids = await _worker_pids(server, workers)
            rss_start = _rss(pids)
            # The baseline is the server at rest after one socket came and went: the
            # heartbeat sweep it started runs for the life of the process. Each worker
            # starts its own, and the kernel picks the worker: 8 sockets a worker, each on
            # a fresh connection, leave one unswept with a chance of about 1 in 10,000.
            for _ in range(1 if workers == 1 else 8 * workers):
                # The patient's link: a therapist link without an account works in the
                # first browser only, and each of these is a browser of its own.
                first = Participant(base, warm_visit[1], warm_visit[0])
                await first.join()
                await first.close()
            await asyncio.sleep(1)
            baseline = await _health(base, workers)
            tally: dict[str, int] = {"cycles": 0, "errors": 0}
            started = time.monotonic()
            deadline = started + seconds
            days = [asyncio.ensure_future(_visit_day(base, link, deadline, random.Random(rng.random()), tally))
                    for link in links]
            warmup_at, rss_warm, peak = started + seconds * WARMUP, [0], baseline
            two_thirds_at = started + seconds * 2 / 3
            samples = []
            while time.monotonic() < deadline:
                await asyncio.sleep(5)
                health = await _health(base, workers)
                samples.append((round(time.monotonic() - started), sum(_rss(pids)),
                                health["sockets"], health["tasks"]))
                if not any(rss_warm) and time.monotonic() >= warmup_at:
                    rss_warm = _rss(pids)
                    if trace_dir:
                        snapshots.append(("warm-up", await take_snapshot(server, trace_dir, 1)))
                if trace_dir and len(snapshots) == 1 and time.monotonic() >= two_thirds_at:
                    snapshots.append(("two thirds", await take_snapshot(server, trace_dir, 2)))
                if health["tasks"] > peak["tasks"]:
                    peak = health
            # A traced server answers several times slower: give the last cycles longer.
            await asyncio.wait_for(asyncio.gather(*days), WAIT * (12 if trace_dir else 4))
            rss_end = _rss(pids)
            if trace_dir:
                snapshots.append(("end", await take_snapshot(server, trace_dir, len(snapshots) + 1)))
            settle = time.monotonic() + 15
            final = await _health(base, workers)
            while time.monotonic() < settle and (final["sockets"] or final["tasks"] > baseline["tasks"]):
                await asyncio.sleep(0.5)
                final = await _health(base, workers)
            pids_end = await _worker_pids(server, workers)
        finally:
            stop_server(server)
            if redis_server is not None:
                stop_server(redis_server)
    if len(snapshots) > 1:
        print_growth(snapshots)
    growth = (sum(rss_end) - sum(rss_warm)) / sum(rss_warm) * 100 if any(rss_warm) else None
    result: dict[str, Any] = {
        "visits": visits, "seconds": seconds, "workers": workers, "cycles": tally["cycles"],
        "errors": tally["errors"], "first_error": tally.get("first_error"),
        "rss_mb_after_warmup": round(sum(rss_warm) / 1024, 1), "rss_mb_end": round(sum(rss_end) / 1024, 1),
        "rss_growth_pct": round(growth, 1) if growth is not None else None,
        "tasks_baseline": baseline["tasks"], "tasks_peak": peak["tasks"],
        "tasks_end": final["tasks"], "sockets_peak": max(s[2] for s in samples) if samples else 0,
        "sockets_end": final["sockets"], "samples": samples}
    if workers > 1:
        result.update({
            "rss_mb_per_worker_start": [round(kb / 1024, 1) for kb in rss_start],
            "rss_mb_per_worker_after_warmup": [round(kb / 1024, 1) for kb in rss_warm],
            "rss_mb_per_worker_end": [round(kb / 1024, 1) for kb in rss_end],
            "workers_answering_health": final["nodes"],
            "workers_replaced": len(set(pids_end) - set(pids))})
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=1, choices=range(1, 9), metavar="N",
                        help="run `serve --workers N` (1..8) with a private redis-server")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--tracemalloc", type=Path, metavar="DIR",
                        help="run the server under tracemalloc, keep its snapshots in DIR and "
                             "print what grew")
    args = parser.parse_args()
    if not 1 <= args.visits <= 2000 or not 10 <= args.seconds <= 3600:
        parser.error("--visits must be 1..2000 and --seconds 10..3600")
    use_uvloop()
    if args.workers > 1 and args.tracemalloc:
        parser.error("--tracemalloc traces one server process: not with --workers")
    result = asyncio.run(run(args.visits, args.seconds, args.seed, args.tracemalloc, args.workers))
    print("samples (s, rss KB, sockets, tasks):", result["samples"])
    met = (result["errors"] == 0 and result["rss_growth_pct"] is not None
           and result["rss_growth_pct"] < GROWTH_TARGET_PCT and result["tasks_end"] <= result["tasks_baseline"]
           and result["sockets_end"] == 0 and not result.get("workers_replaced"))
    report(result, f"targets (0 errors, growth < {GROWTH_TARGET_PCT:g}% over the last two thirds, "
                   "tasks and sockets back to baseline): "
                   f"{verdict(met)}", args.json)


if __name__ == "__main__":
    main()
