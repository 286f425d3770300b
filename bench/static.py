"""Serving the call page's CSS and JS: requests a second, latency and server CPU per request.

    python -m bench.static [--seconds 10] [--concurrency 20] [--implementation aiohttp] [--json]

Starts `run.py serve` on a fresh database, opens a patient's link, collects every stylesheet
and ES module the call page loads (as `bench.page_weight` does), then requests them round
robin from `--concurrency` connections, as a browser with an empty cache does (gzip
accepted) and then as one revalidating (`If-None-Match`, answered 304). Server and load
generator are pinned to different cores; the figure that compares implementations is the
server's CPU time per request (requests a second and p99 on a shared machine also follow
how long the server waited for a core, printed as `server_waited_for_a_core_s`). `--implementation aiohttp` serves the same files through
aiohttp's `FileResponse` with pre-compressed siblings instead (`bench/static_aiohttp.py`),
for comparison. No target: the figures are reported.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import (
    ROOT,
    Server,
    cpu_seconds,
    free_port,
    pin,
    prepare_visits,
    raise_file_limit,
    report,
    start_server,
    stop_server,
    use_uvloop,
    wait_http,
)
from bench.page_weight import _ASSET, _IMPORT

_CALL_ASSET = re.compile(r"\.(?:js|css)(?:\?|$)")


def _run_queue_wait_s(pid: int) -> float:
    """Seconds the process's threads have waited for a core (the machine busy elsewhere)."""
    total = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            total += int(stat.read_text().split()[1])
        except (OSError, IndexError, ValueError):  # a thread that just ended
            pass
    return total / 1e9


def _ready_ms(implementation: str) -> float:
    """Milliseconds to have every file of web/ ready to serve (median of 5): at start for
    `aiohttp` (copy and gzip siblings), at first use for `visitroom` (read, gzip, keep)."""
    from bench.static_aiohttp import AiohttpStatic
    from server.app import WEB_DIR
    from server.http.static_files import StaticFiles

    rels = [p.relative_to(WEB_DIR).as_posix() for p in sorted(WEB_DIR.rglob("*")) if p.is_file()]
    times = []
    for _ in range(5):
        started = time.perf_counter()
        files = StaticFiles(WEB_DIR) if implementation == "visitroom" else AiohttpStatic(WEB_DIR)
        for rel in rels:
            files.url(rel)
        times.append((time.perf_counter() - started) * 1000)
        if isinstance(files, AiohttpStatic):
            shutil.rmtree(files.root)
    return round(sorted(times)[2], 1)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


async def _call_page_assets(session: aiohttp.ClientSession, base: str, link: str) -> list[str]:
    """The URLs of the call page's CSS and JS, as the page and its imports name them."""
    async with session.get(link) as response:
        html = await response.text()
    queue = [url for url in _ASSET.findall(html) if _CALL_ASSET.search(url)]
    urls: dict[str, str] = {}
    while queue:
        url = queue.pop()
        path = url.split("?")[0]
        if path in urls:
            continue
        urls[path] = url
        if path.endswith(".js"):
            async with session.get(base + url) as response:
                body = await response.text()
            folder = path.rsplit("/", 1)[0]
            queue.extend(f"{folder}/{name[2:]}" for name in _IMPORT.findall(body))
    return sorted(urls.values())


async def _load(session: aiohttp.ClientSession, base: str, urls: list[str], pid: int,
                seconds: float, concurrency: int, etags: dict[str, str] | None) -> dict[str, Any]:
    """Request `urls` round robin for `seconds`; with `etags`, as conditional requests."""
    order = itertools.cycle(urls)
    latencies: list[float] = []
    sent = errors = 0
    expected = 304 if etags else 200
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal sent, errors
        while time.perf_counter() < deadline:
            url = next(order)
            headers = {"Accept-Encoding": "gzip, deflate, br"}
            if etags:
                headers["If-None-Match"] = etags[url]
            t0 = time.perf_counter()
            async with session.get(base + url, headers=headers, auto_decompress=False) as r:
                body = await r.read()
            latencies.append((time.perf_counter() - t0) * 1000)
            sent += len(body)
            errors += r.status != expected

    cpu0, wait0, t0 = cpu_seconds(pid), _run_queue_wait_s(pid), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed, cpu = time.perf_counter() - t0, cpu_seconds(pid) - cpu0
    waited = _run_queue_wait_s(pid) - wait0
    return {"per_s": round(len(latencies) / elapsed, 1), "p50_ms": _pct(latencies, 0.5),
            "p99_ms": _pct(latencies, 0.99),
            "server_us_per_request": round(cpu / len(latencies) * 1e6, 1),
            "body_bytes_per_request": round(sent / len(latencies)),
            "server_waited_for_a_core_s": round(waited, 2), "errors": errors}


def _start(db: Path, port: int, implementation: str) -> Server:
    if implementation == "visitroom":
        return start_server(db, port)
    raise_file_limit()
    env = {**os.environ, "VISITROOM_ADMIN_PASSWORD": "benchmark-admin-1"}
    process = subprocess.Popen([sys.executable, "-m", "bench.static_aiohttp", "--db", str(db),
                                "--port", str(port)], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = Server(process)
    pin(server.pid, 0)
    return server


async def run(seconds: float, concurrency: int, implementation: str) -> dict[str, Any]:
    pin(os.getpid(), 1)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        [(_, patient_link, _, _)] = await prepare_visits(db, base, 1, admitted=False)
        server = _start(db, port, implementation)
        try:
            await wait_http(f"{base}/healthz")
            jar = aiohttp.CookieJar(unsafe=True)
            connector = aiohttp.TCPConnector(limit=concurrency)
            async with aiohttp.ClientSession(cookie_jar=jar, connector=connector) as session:
                urls = await _call_page_assets(session, base, patient_link)
                etags = {}
                for url in urls:  # warm up, and note each file's validator
                    async with session.get(base + url, headers={"Accept-Encoding": "gzip"},
                                           auto_decompress=False) as r:
                        await r.read()
                        etags[url] = r.headers["ETag"]
                full = await _load(session, base, urls, server.pid, seconds, concurrency, None)
                revalidate = await _load(session, base, urls, server.pid, seconds, concurrency,
                                         etags)
        finally:
            stop_server(server)
    result: dict[str, Any] = {"implementation": implementation, "files": len(urls),
                              "concurrency": concurrency,
                              "all_files_ready_ms": _ready_ms(implementation)}
    result.update({f"full_{k}": v for k, v in full.items()})
    result.update({f"304_{k}": v for k, v in revalidate.items() if k != "body_bytes_per_request"})
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--implementation", choices=("visitroom", "aiohttp"), default="visitroom",
                        help="visitroom: server/http/static_files.py; aiohttp: FileResponse with "
                             ".gz siblings (bench/static_aiohttp.py)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not 1 <= args.seconds <= 120 or not 1 <= args.concurrency <= 200:
        parser.error("--seconds must be 1..120 and --concurrency 1..200")
    use_uvloop()
    result = asyncio.run(run(args.seconds, args.concurrency, args.implementation))
    report(result, "no target: figures reported in docs/performance.md", args.json)


if __name__ == "__main__":
    main()
