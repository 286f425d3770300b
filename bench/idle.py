"""Idle capacity: many connected, quiet participants in one server process.

    python -m bench.idle [--visits 5000] [--seconds 60] [--json]

Opens 2 sockets per visit (therapist and pre-admitted patient), each after loading the call
page the way a browser does (page on its own connection, WebSocket on a fresh one), waits,
then measures the server's resident memory per socket and the CPU the heartbeat costs while
nothing else happens. Targets at 10,000 sockets: ≤ 30 KB per socket, heartbeats under 5% of a core.
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

TARGET_KB, TARGET_CPU_PCT = 30.0, 5.0


async def run(visits: int, seconds: float, heartbeat: int) -> dict[str, Any]:
    raise_file_limit()
    pin(os.getpid(), 1)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        links = await prepare_visits(db, base, visits)
        server = start_server(db, port, extra_env={"VISITROOM_HEARTBEAT_SECONDS": str(heartbeat)})
        sockets: list[aiohttp.ClientWebSocketResponse] = []
        # Like a browser, each participant loads her page on HTTP connections of its own and
        # opens the WebSocket on a fresh connection (browsers do not upgrade a pooled one).
        jars = [aiohttp.CookieJar(unsafe=True) for _ in range(2)]
        pages = [aiohttp.ClientSession(cookie_jar=jar, connector=aiohttp.TCPConnector(
            force_close=True)) for jar in jars]
        sessions = [aiohttp.ClientSession(cookie_jar=jar, connector=aiohttp.TCPConnector(limit=0))
                    for jar in jars]
        errors = 0
        try:
            await wait_http(f"{base}/healthz")
            await asyncio.sleep(1)
            rss_before = rss_kb(server.pid)
            semaphore = asyncio.Semaphore(64)

            async def open_one(i: int, link: str, visit_id: str) -> None:
                nonlocal errors
                session = sessions[i]
                async with semaphore:
                    try:
                        async with pages[i].get(link) as r:
                            await r.read()
                        ws = await session.ws_connect(f"{base}/visits/{visit_id}/ws", origin=base,
                                                      heartbeat=None, compress=0)
                        await ws.receive()
                        sockets.append(ws)
                    except (aiohttp.ClientError, asyncio.TimeoutError):
                        errors += 1

            started = time.perf_counter()
            await asyncio.gather(*(open_one(i, link, v) for v, p, t, _ in links
                                   for i, link in ((0, t), (1, p))))
            connect_s = time.perf_counter() - started
            # The generator answers pings by itself (aiohttp autoping) while it waits.
            await asyncio.sleep(5)
            rss_after = rss_kb(server.pid)
            cpu0 = cpu_seconds(server.pid)
            await asyncio.sleep(seconds)
            cpu1 = cpu_seconds(server.pid)
        finally:
            for ws in sockets:
                await ws.close()
            for session in sessions + pages:
                await session.close()
            stop_server(server)
    return {"sockets": len(sockets), "connect_per_s": round(len(sockets) / connect_s, 1),
            "rss_kb_per_socket": round((rss_after - rss_before) / max(1, len(sockets)), 1),
            "rss_mb_total": round(rss_after / 1024, 1),
            "idle_cpu_pct_of_core": round(100 * (cpu1 - cpu0) / seconds, 2),
            "heartbeat_s": heartbeat, "errors": errors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--heartbeat", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not 1 <= args.visits <= 10000 or not 5 <= args.seconds <= 600:
        parser.error("--visits must be 1..10000 and --seconds 5..600")
    use_uvloop()
    result = asyncio.run(run(args.visits, args.seconds, args.heartbeat))
    report(result, f"targets ≤ {TARGET_KB:g} KB/socket: {verdict(result['rss_kb_per_socket'] <= TARGET_KB)}, "
                   f"heartbeat < {TARGET_CPU_PCT:g}% of a core: "
                   f"{verdict(result['idle_cpu_pct_of_core'] < TARGET_CPU_PCT)}", args.json)


if __name__ == "__main__":
    main()
