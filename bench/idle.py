"""Idle capacity: many connected, quiet participants in one server process.

    python -m bench.idle [--visits 5000] [--seconds 60] [--case both|fresh|reused] [--json]

Opens 2 sockets per visit (therapist and pre-admitted patient), each after loading the call
page, in two cases, each on a server process of its own (and visits of its own):

- fresh: the page on connections of its own, the WebSocket on a fresh connection (what
  browsers do: they do not upgrade a pooled connection);
- reused: the page, then the WebSocket upgraded on the same keep-alive connection, the one
  that had just served the page (a client or proxy that pools its connections).

Each server is warmed up first (a few sockets opened and closed) and its memory read once
it has settled (the echo pool imports aiortc a few seconds after start: some 27 MB that
were counted per socket before). Every socket is then read by the generator, so that it
answers the server's pings as a browser does (aiohttp answers them only while something
reads: unread sockets were dropped by the heartbeat after 30 s, some before the memory was
read). For each case it measures the server's resident memory per socket open at that
moment, then the CPU the heartbeat costs while nothing else happens (and the CPU the
machine's other processes used meanwhile). Targets at 10,000 sockets: ≤ 15 KB per socket
fresh, ≤ 20 KB reused, heartbeats under 5% of a core.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import (
    busy_seconds,
    cpu_seconds,
    free_port,
    pin,
    prepare_visits,
    raise_file_limit,
    report,
    rss_kb,
    start_server,
    stop_server,
    use_uvloop,
    verdict,
    wait_http,
)
from signaling.echo import PRELOAD_AFTER_SECONDS

TARGET_KB = {"fresh": 15.0, "reused": 20.0}
TARGET_CPU_PCT = 5.0
CONCURRENCY = 64
WARM_UP_VISITS = 10
"""Visits whose sockets open and close before the baseline (first-use costs out of it)."""

Visit = tuple[str, str, str, str]


async def settled_rss(pid: int, started: float, quiet: float = 2.0, limit: float = 30.0) -> int:
    """The server's resident memory once it stays put: after the echo pool's aiortc import
    (PRELOAD_AFTER_SECONDS from start, some 27 MB: counted per socket before), unchanged
    within 256 KiB for `quiet` seconds (at most `limit` seconds of waiting)."""
    await asyncio.sleep(max(0.0, started + PRELOAD_AFTER_SECONDS + 1.0 - time.monotonic()))
    deadline = time.monotonic() + limit
    last, since = rss_kb(pid), time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        now = rss_kb(pid)
        if abs(now - last) > 256:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return last


class Counted:
    """Counts the TCP connections a client session opens."""

    def __init__(self) -> None:
        self.opened = 0
        self.trace = aiohttp.TraceConfig()
        self.trace.on_connection_create_end.append(self._opened)

    async def _opened(self, *_: Any) -> None:
        self.opened += 1


async def listen(ws: aiohttp.ClientWebSocketResponse) -> None:
    """Read a socket until it closes: like a browser, answer the server's pings (aiohttp's
    autoping answers them only while something reads), or the heartbeat drops the socket."""
    async for _ in ws:
        pass


async def open_sockets(case: str, base: str, links: list[Visit],
                       sockets: list[aiohttp.ClientWebSocketResponse],
                       readers: list[asyncio.Task[None]],
                       sessions: list[aiohttp.ClientSession], counter: Counted) -> int:
    """Open the sockets of one case, each with a task reading it; returns the errors. The
    sessions it opens are added to `sessions` (the caller closes them, after the sockets)."""
    errors = 0
    semaphore = asyncio.Semaphore(CONCURRENCY)
    traces = [counter.trace]
    if case == "fresh":
        # Each participant loads her page on connections of their own, then opens the
        # WebSocket on a fresh connection (counted: one a socket).
        jars = [aiohttp.CookieJar(unsafe=True) for _ in range(2)]
        pages = [aiohttp.ClientSession(cookie_jar=jar, connector=aiohttp.TCPConnector(
            force_close=True)) for jar in jars]
        ws_sessions = [aiohttp.ClientSession(cookie_jar=jar, trace_configs=traces,
                                             connector=aiohttp.TCPConnector(limit=0))
                       for jar in jars]
        sessions.extend(pages + ws_sessions)

    async def open_one(i: int, link: str, visit_id: str) -> None:
        nonlocal errors
        async with semaphore:
            try:
                if case == "fresh":
                    page, session = pages[i], ws_sessions[i]
                else:
                    # One connection for everything the participant does (counted: one a
                    # socket): the link's redirect, the page, then the upgrade.
                    page = session = aiohttp.ClientSession(
                        cookie_jar=aiohttp.CookieJar(unsafe=True), trace_configs=traces,
                        connector=aiohttp.TCPConnector(limit=1))
                    sessions.append(session)
                async with page.get(link) as r:
                    await r.read()
                ws = await session.ws_connect(f"{base}/visits/{visit_id}/ws", origin=base,
                                              heartbeat=None, compress=0)
                await ws.receive()
                sockets.append(ws)
                readers.append(asyncio.ensure_future(listen(ws)))
            except (aiohttp.ClientError, asyncio.TimeoutError):
                errors += 1

    jobs = [(i, link, v) for v, p, t, _ in links for i, link in ((0, t), (1, p))]
    # The first page a shared jar loads gives it its device cookie: loaded alone, so that
    # the pages after it do not each race for one of their own (a therapist's link binds
    # to the device that opened it first, and a lost race refuses her socket).
    for job in jobs[:2]:
        await open_one(*job)
    await asyncio.gather(*(open_one(*job) for job in jobs[2:]))
    return errors


async def run_case(case: str, db: Path, warm_up: list[Visit], links: list[Visit], seconds: float,
                   heartbeat: int) -> dict[str, Any]:
    """One case on a server of its own: warm it up, open the sockets, wait, measure."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    warm_up, links = ([(v, p.replace("http://127.0.0.1:0", base),
                        t.replace("http://127.0.0.1:0", base), ids) for v, p, t, ids in some]
                      for some in (warm_up, links))
    started_at = time.monotonic()
    server = start_server(db, port, extra_env={"VISITROOM_HEARTBEAT_SECONDS": str(heartbeat)})
    sockets: list[aiohttp.ClientWebSocketResponse] = []
    readers: list[asyncio.Task[None]] = []
    sessions: list[aiohttp.ClientSession] = []
    counter = Counted()
    try:
        await wait_http(f"{base}/healthz")
        warm: list[aiohttp.ClientWebSocketResponse] = []
        await open_sockets(case, base, warm_up, warm, [], sessions, Counted())
        for ws in warm:
            await ws.close()
        rss_before = await settled_rss(server.pid, started_at)
        started = time.perf_counter()
        errors = await open_sockets(case, base, links, sockets, readers, sessions, counter)
        connect_s = time.perf_counter() - started
        await asyncio.sleep(5)
        rss_after = rss_kb(server.pid)
        open_measured = sum(not reader.done() for reader in readers)
        cpu0, own0, busy0 = cpu_seconds(server.pid), cpu_seconds(os.getpid()), busy_seconds()
        await asyncio.sleep(seconds)
        cpu1, own1, busy1 = cpu_seconds(server.pid), cpu_seconds(os.getpid()), busy_seconds()
        open_at_end = sum(not reader.done() for reader in readers)
    finally:
        for reader in readers:
            reader.cancel()
        for ws in sockets:
            await ws.close()
        for session in sessions:
            await session.close()
        stop_server(server)
    count = max(1, open_measured)
    others = (busy1 - busy0) - (cpu1 - cpu0) - (own1 - own0)
    # Memory is per socket still open when it was read (all of them, unless some closed).
    return {"sockets": len(sockets), "errors": errors, "open_at_rss": open_measured,
            "open_at_end": open_at_end,
            "connections_per_socket": round(counter.opened / max(1, len(sockets)), 2),
            "connect_per_s": round(len(sockets) / connect_s, 1),
            "kb_per_socket": round((rss_after - rss_before) / count, 1),
            "rss_mb_total": round(rss_after / 1024, 1),
            "idle_cpu_pct_of_core": round(100 * (cpu1 - cpu0) / seconds, 2),
            "others_cpu_pct_of_core": round(max(0.0, 100 * others / seconds), 1)}


async def run(visits: int, seconds: float, heartbeat: int, cases: list[str]) -> dict[str, Any]:
    """Every case asked for, one after the other, each on visits of its own."""
    raise_file_limit()
    pin(os.getpid(), 1)
    result: dict[str, Any] = {"at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                              "heartbeat_s": heartbeat}
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        # Links name this placeholder; each server gets its own port (and public URL).
        each = visits + WARM_UP_VISITS
        links = await prepare_visits(db, "http://127.0.0.1:0", each * len(cases))
        for n, case in enumerate(cases):
            mine = links[n * each:(n + 1) * each]
            figures = await run_case(case, db, mine[:WARM_UP_VISITS], mine[WARM_UP_VISITS:],
                                     seconds, heartbeat)
            result.update({f"{case}_{key}": value for key, value in figures.items()})
    return result


def verdicts(result: dict[str, Any], cases: list[str]) -> str:
    """The verdict line: memory per case, then the heartbeat's CPU."""
    parts = []
    for case in cases:
        closed = result[f"{case}_sockets"] - result[f"{case}_open_at_rss"]
        note = f" ({closed} sockets had closed when it was read)" if closed else ""
        parts.append(f"{case} ≤ {TARGET_KB[case]:g} KB/socket: "
                     f"{verdict(result[f'{case}_kb_per_socket'] <= TARGET_KB[case])}{note}")
    cpu = max(result[f"{case}_idle_cpu_pct_of_core"] for case in cases)
    parts.append(f"heartbeat < {TARGET_CPU_PCT:g}% of a core: {verdict(cpu < TARGET_CPU_PCT)}")
    return "targets " + ", ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--heartbeat", type=int, default=20)
    parser.add_argument("--case", choices=("both", "fresh", "reused"), default="both")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not 1 <= args.visits <= 10000 or not 5 <= args.seconds <= 600:
        parser.error("--visits must be 1..10000 and --seconds 5..600")
    cases = ["fresh", "reused"] if args.case == "both" else [args.case]
    use_uvloop()
    result = asyncio.run(run(args.visits, args.seconds, args.heartbeat, cases))
    report(result, verdicts(result, cases), args.json)


if __name__ == "__main__":
    main()
