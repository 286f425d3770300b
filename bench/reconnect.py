"""Connect cost: server CPU per visit socket opened with cookies, against PeerJS's per connect.

    python -m bench.reconnect --visits 1000 [--no-restart] [--no-peerjs] [--profile /tmp/connect.raw] [--json]

Prepares N visits (patients admitted) in a fresh database and starts the server (core 0;
the generator has core 1), then browsers open every visit's link, the therapist's and
the patient's, so they hold the visit and device cookies (two browsers, a therapist's and
a patient's, for each 120 visits: aiohttp's cookie jar keeps at most 180 cookies a host).
Then three bursts of 2N WebSocket connects, at most 50 at once, each on a new TCP
connection and measured from `ws_connect` to the `welcome`:

- `warm`: to the process that issued the cookies (caches as a link open leaves them);
- `restart`: the server is stopped and started again on the same database, and every
  socket reconnects (caches cold: what a clinic's restart costs; the burst waits until
  start-up's own work, aiortc's import 3 s in, is over, so only connects are counted);
- `peerjs`: PeerJS's server (`bench/peerjs.py`; skipped without node and npm, or with
  --no-peerjs) opened from `/peerjs?...` to its `OPEN`, after 100 warm-up sockets.

The server CPU of a burst, every thread's, is read to the nanosecond from
/proc/PID/task/*/schedstat over the burst and 0.25 s after it (what the joins set off,
such as telling the other seat, counts). Printed: µs of server CPU per connect, the event
loop thread's share of it (the rest: aiosqlite's threads, or Node's helper threads),
sockets/s, connect p50/p99, and the ratio to PeerJS against issue 25's target (≤ 2×). With --profile, one more restart round runs under `py-spy record --format raw
--rate 500` (not in the figures), and its samples are summarised by bucket and by
function. `others_cpu_pct` is the machine's busy CPU not spent by this benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import (
    busy_seconds,
    cpu_seconds,
    free_port,
    pin,
    prepare_visits,
    start_server,
    stop_server,
    use_uvloop,
    wait_http,
)
from bench.signaling import _percentile, own_cpu_seconds

CONCURRENCY = 50
VISITS_PER_BROWSER = 120
TARGET_TO_PEERJS = 2.0
SETTLE_S = 0.25
Visit = tuple[str, str, str, str]
Open = Callable[[int], Awaitable[aiohttp.ClientWebSocketResponse]]


async def _burst(pid: int, count: int, open_one: Open) -> tuple[dict[str, Any], list[aiohttp.ClientWebSocketResponse]]:
    """Open `count` sockets, at most CONCURRENCY at once, and read `pid`'s CPU over it
    (and SETTLE_S after); returns the figures and the open sockets."""
    semaphore = asyncio.Semaphore(CONCURRENCY)
    latencies: list[float] = []
    errors: list[str] = []

    async def one(i: int) -> aiohttp.ClientWebSocketResponse | None:
        async with semaphore:
            started = time.perf_counter()
            try:
                ws = await open_one(i)
            except (aiohttp.ClientError, RuntimeError, ValueError) as exc:
                errors.append(str(exc)[:200])
                return None
            latencies.append((time.perf_counter() - started) * 1000)
            return ws

    threads0, t0 = _thread_cpu(pid), time.perf_counter()
    sockets = await asyncio.gather(*(one(i) for i in range(count)))
    wall = time.perf_counter() - t0
    await asyncio.sleep(SETTLE_S)
    threads1 = _thread_cpu(pid)
    # (a thread that ended within the burst is missed; the servers' threads live on)
    cpu = sum(threads1.values()) - sum(threads0.get(tid, 0.0) for tid in threads1)
    main = threads1.get(pid, 0.0) - threads0.get(pid, 0.0)
    opened = [ws for ws in sockets if ws is not None]
    return {"us_per_connect": round(cpu * 1e6 / max(1, len(opened)), 1),
            "main_thread_pct": round(100 * main / cpu, 1) if cpu else None,
            "sockets_per_s": round(len(opened) / wall, 1), "p50_ms": _percentile(latencies, 0.5),
            "p99_ms": _percentile(latencies, 0.99), "errors": len(errors),
            **({"first_error": errors[0]} if errors else {})}, opened


async def _quiet(pid: int, at_least: float = 4.0, limit: float = 30.0) -> None:
    """Wait until the server's start-up work is over: `at_least` seconds (aiortc is
    imported in a helper thread 3 s after start: `signaling/echo.py`), then until a quarter
    second passes with at most one clock tick of CPU (bounded by `limit`)."""
    deadline = time.monotonic() + limit
    await asyncio.sleep(at_least)
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        await asyncio.sleep(0.25)
        if cpu_seconds(pid) - before <= 0.011:
            return


async def _close(sockets: list[aiohttp.ClientWebSocketResponse]) -> None:
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


def _browser(sessions: list[aiohttp.ClientSession], visit: int, role: int) -> aiohttp.ClientSession:
    """The browser of visit `visit`'s therapist (role 0) or patient (role 1)."""
    return sessions[2 * (visit // VISITS_PER_BROWSER) + role]


def _visit_opener(sessions: list[aiohttp.ClientSession], base: str, links: list[Visit]) -> Open:
    """Socket i: visit i // 2's therapist (even) or patient (odd), up to its welcome."""
    async def open_one(i: int) -> aiohttp.ClientWebSocketResponse:
        visit_id = links[i // 2][0]
        browser = _browser(sessions, i // 2, i % 2)
        ws = await browser.ws_connect(f"{base}/visits/{visit_id}/ws", origin=base, heartbeat=None,
                                      max_msg_size=0, compress=0)
        frame = await ws.receive()
        welcome = json.loads(frame.data) if frame.type == aiohttp.WSMsgType.TEXT else {}
        if welcome.get("type") != "welcome" or welcome.get("status") != "admitted":
            await ws.close()
            raise RuntimeError(f"no welcome: {str(frame.data)[:200]}")
        return ws
    return open_one


async def _open_links(sessions: list[aiohttp.ClientSession], base: str, links: list[Visit]) -> None:
    """Every visit's therapist and patient link, each in its browser."""
    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def get(session: aiohttp.ClientSession, link: str) -> None:
        async with semaphore, session.get(base + link[len(base):]) as response:
            await response.read()
            if response.status != 200:
                raise RuntimeError(f"link answered {response.status}")

    # Each browser opens one link alone first: its device cookie then comes with the rest
    # (a therapist link booked without an account binds to the first device it sees).
    firsts = range(0, len(links), VISITS_PER_BROWSER)
    for v in firsts:
        await get(_browser(sessions, v, 0), links[v][2])
        await get(_browser(sessions, v, 1), links[v][1])
    await asyncio.gather(*(get(_browser(sessions, v, 0), links[v][2]) for v in range(len(links)) if v not in firsts),
                         *(get(_browser(sessions, v, 1), links[v][1]) for v in range(len(links)) if v not in firsts))


def _profiler(pid: int, out: Path) -> subprocess.Popen[bytes]:
    binary = shutil.which("py-spy")
    if binary is None:
        raise RuntimeError("py-spy is not installed: pip install py-spy")
    return subprocess.Popen([binary, "record", "--pid", str(pid), "--format", "raw", "--rate", "500",
                             "--threads", "-o", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds of each live thread of a process, to the nanosecond (/proc's schedstat:
    a burst of a few hundred connects is only tens of the 10 ms ticks of /proc/PID/stat)."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out[int(task.name)] = int((task / "schedstat").read_text().split()[0]) / 1e9
        except (OSError, ValueError, IndexError):
            continue
    return out


BUCKETS = (  # (bucket, markers in a frame); a sample goes to the leaf-most frame that matches one
    ("logging", ("logging/", "/logs.py", "access_log")),
    ("database reads", ("aiosqlite", "sqlite3", "server/storage/", "asyncpg")),
    ("token/cookie check", ("server/auth/", "jwt/", "cryptography", "hmac", "http/cookies", "_cookie_helpers",
                            "base64")),
    ("room join/welcome", ("signaling/", "server/visits/")),
    ("aiohttp upgrade/handshake", ("aiohttp/", "multidict", "yarl")),
)
LOOP = "event loop, socket I/O (uvloop's C code)"


def _bucket(frames: list[str]) -> str:
    if frames[-1].startswith("run_app ("):  # no Python frame above the loop: uvloop itself
        return LOOP
    for frame in reversed(frames):
        for name, markers in BUCKETS:
            if any(marker in frame for marker in markers):
                return name
    return "other"


def _short(frame: str) -> str:
    """`function (file.py)`: the frame without its line number and leading path."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for cut in ("site-packages/", "/lib/python3.11/", "/work/main/"):
        where = where.split(cut)[-1]
    return f"{name} ({where})"


def summarise(raw: Path, main_share: float | None = None, us_per_connect: float | None = None,
              top: int = 15) -> str:
    """py-spy's raw samples (`--threads`) of the event-loop thread: share by bucket (and
    µs per connect, given the burst's `us_per_connect`), then the top frames by own and
    by cumulative samples (the frames every sample has, the loop's, left out). py-spy
    counts helper threads blocked on a queue or on the GIL as busy, so they are left out;
    with `main_share` (the loop thread's part of the server's CPU, from /proc) the rest is
    shown as the SQLite threads' (aiosqlite runs each query in one)."""
    own: Counter[str] = Counter()
    cumulative: Counter[str] = Counter()
    buckets: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        frames = stack.split(";")
        if not count_text.isdigit() or len(frames) < 2 or "MainThread" not in frames[0]:
            continue
        count, frames = int(count_text), frames[1:]
        total += count
        buckets[_bucket(frames)] += count
        own[_short(frames[-1])] += count
        for frame in {_short(f) for f in frames}:
            cumulative[frame] += count
    if not total:
        return f"{raw}: no samples of the event-loop thread"
    scale = main_share if main_share is not None else 1.0
    shares = [(n * scale / total, name) for name, n in buckets.most_common()]
    if main_share is not None:
        shares.insert(0, (1 - main_share, "database reads (SQLite threads, from /proc)"))
    unit = f", ≈ µs per connect of {us_per_connect:g}" if us_per_connect else ""
    out = [f"{total} samples of the event-loop thread; by bucket, % of the server's CPU{unit}:"]
    out += [f"  {share * 100:5.1f}%  " + (f"{share * us_per_connect:6.0f} µs  " if us_per_connect else "") + name
            for share, name in shares]
    cumulative = Counter({frame: n for frame, n in cumulative.items() if n < total})
    for title, counter in (("own", own), ("cumulative", cumulative)):
        out.append(f"top {top} frames of the event-loop thread by {title} samples (% of its samples):")
        out += [f"  {n * 100 / total:5.1f}%  {frame}" for frame, n in counter.most_common(top)]
    return "\n".join(out)


async def _visitroom(tmp: Path, visits: int, restart: bool, profile: Path | None) -> dict[str, Any]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    db = tmp / "bench.db"
    links = await prepare_visits(db, base, visits)
    env = {"VISITROOM_FLOOD_RATE": "1000000", "VISITROOM_HEARTBEAT_SECONDS": "600",
           "VISITROOM_PUBLIC_URL": base}
    sessions = [aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                      connector=aiohttp.TCPConnector(limit=0, force_close=True))
                for _ in range(2 * -(-visits // VISITS_PER_BROWSER))]
    opener = _visit_opener(sessions, base, links)
    result: dict[str, Any] = {}

    async def round_(name: str, first: bool = False) -> None:
        server = start_server(db, port, extra_env=env, core=0)
        spy = None
        try:
            await wait_http(f"{base}/healthz")
            if first:
                await _open_links(sessions, base, links)
            await _quiet(server.pid)
            if name == "profile" and profile is not None:
                spy = _profiler(server.pid, profile)
                await asyncio.sleep(1.0)
            figures, sockets = await _burst(server.pid, 2 * visits, opener)
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(60)
                result["profile_main_thread_pct"] = figures["main_thread_pct"]
            else:
                result.update({f"{name}_{key}": value for key, value in figures.items()})
            await _close(sockets)
        finally:
            stop_server(server)

    try:
        await round_("warm", first=True)
        if restart:
            await round_("restart")
        if profile is not None:
            await round_("profile")
    finally:
        for session in sessions:
            await session.close()
    return result


async def _peerjs(count: int) -> dict[str, Any]:
    from bench import peerjs

    try:
        port = free_port()
        server = peerjs.start(port, core=0)
    except RuntimeError as exc:
        return {"peerjs": f"skipped: {exc}"}
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, force_close=True)) as session:
            _, warmup = await _burst(server.pid, 100, lambda i: peerjs.open_peer(session, base, f"w{i}"))
            await _close(warmup)
            figures, sockets = await _burst(server.pid, count, lambda i: peerjs.open_peer(session, base, f"c{i}"))
            await _close(sockets)
    finally:
        stop_server(server)
    return {"peerjs": f"peer@{peerjs.PEER_VERSION} on node {peerjs.node_version()}",
            **{f"peerjs_{key}": value for key, value in figures.items()}}


async def run(visits: int, *, restart: bool = True, peerjs: bool = True,
              profile: Path | None = None) -> dict[str, Any]:
    """The warm and restart bursts on Visitroom, then PeerJS's, and the ratios."""
    pin(os.getpid(), 1)
    busy0, own0, t0 = busy_seconds(), own_cpu_seconds(), time.perf_counter()
    result: dict[str, Any] = {"visits": visits, "sockets": 2 * visits, "concurrency": CONCURRENCY}
    with tempfile.TemporaryDirectory() as tmp:
        result.update(await _visitroom(Path(tmp), visits, restart, profile))
    if peerjs:
        result.update(await _peerjs(2 * visits))
    for case in ("warm", "restart"):
        if result.get(f"{case}_us_per_connect") and result.get("peerjs_us_per_connect"):
            result[f"{case}_ratio_to_peerjs"] = round(
                result[f"{case}_us_per_connect"] / result["peerjs_us_per_connect"], 2)
    result["others_cpu_pct"] = round(100 * ((busy_seconds() - busy0) - (own_cpu_seconds() - own0))
                                     / (time.perf_counter() - t0), 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=1000, help="visits; twice as many sockets")
    parser.add_argument("--no-restart", action="store_true", help="skip the restart round")
    parser.add_argument("--no-peerjs", action="store_true", help="skip PeerJS")
    parser.add_argument("--profile", type=Path, help="py-spy raw output of one more restart round")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    args = parser.parse_args()
    if not 1 <= args.visits <= 5000:
        parser.error("--visits must be 1..5000")
    use_uvloop()
    result = asyncio.run(run(args.visits, restart=not args.no_restart, peerjs=not args.no_peerjs,
                             profile=args.profile))
    for key, value in result.items():
        print(f"{key:28} {value}")
    for case in ("warm", "restart"):
        key = f"{case}_ratio_to_peerjs"
        if key in result:
            print(f"target {key} ≤ {TARGET_TO_PEERJS:g}: {'met' if result[key] <= TARGET_TO_PEERJS else 'not met'}")
    if args.profile is not None and args.profile.exists():
        # The split between threads from a burst py-spy did not slow (it stops the process
        # for each sample, which shifts CPU between the loop and the SQLite thread).
        case = "restart" if "restart_us_per_connect" in result else "warm"
        main_pct = result.get(f"{case}_main_thread_pct")
        print(summarise(args.profile, main_pct / 100 if main_pct else None, result.get(f"{case}_us_per_connect")))
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
