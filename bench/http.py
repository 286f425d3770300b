"""The join path over HTTP: visits created through the API, links opened, call pages rendered.

    python -m bench.http [--visits 2000] [--concurrency 20] [--opens 500] [--json]

Targets: creating visits through the API ≥ 500 a second; opening a link (token check,
cookie, redirect) and rendering the call page reported as p50/p99.
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
    free_port,
    pin,
    prepare_visits,
    report,
    start_server,
    stop_server,
    use_uvloop,
    verdict,
    wait_http,
)

TARGET_CREATE_PER_S = 500


async def _api_key(db: Path) -> str:
    from server.auth.api_keys import new_api_key
    from server.auth.policy import KeyScope
    from server.storage import open_database
    from server.storage.api_keys import create_api_key

    key, prefix, key_hash = new_api_key()
    database = await open_database(db)
    try:
        async with database.transaction() as conn:
            # It only creates visits (the links it opens come in the answers).
            await create_api_key(conn, name="bench", prefix=prefix, key_hash=key_hash,
                                 created_by=None, now=int(time.time()),
                                 scopes=KeyScope.CREATE.value)
    finally:
        await database.close()
    return key


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


async def run(visits: int, concurrency: int, opens: int) -> dict[str, Any]:
    pin(os.getpid(), 1)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        await prepare_visits(db, base, 0)
        key = await _api_key(db)
        server = start_server(db, port)
        try:
            await wait_http(f"{base}/healthz")
            headers = {"Authorization": f"Bearer {key}"}
            created: list[dict[str, Any]] = []
            errors = 0
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
                queue = iter(range(visits))

                async def worker() -> None:
                    nonlocal errors
                    for _ in queue:
                        async with session.post(f"{base}/api/visits", headers=headers,
                                                json={"patient_name": "Bench Patient", "kind": "intro"}) as r:
                            if r.status == 201:
                                created.append(await r.json())
                            else:
                                errors += 1

                started = time.perf_counter()
                await asyncio.gather(*(worker() for _ in range(concurrency)))
                create_s = time.perf_counter() - started
            redirect_ms, page_ms = [], []
            for visit in created[:opens]:
                async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
                    t0 = time.perf_counter()
                    async with browser.get(visit["patient_url"], allow_redirects=False) as r:
                        await r.read()
                        ok = r.status == 303
                    t1 = time.perf_counter()
                    async with browser.get(f"{base}/visits/{visit['visit_id']}") as r:
                        await r.read()
                        ok = ok and r.status == 200
                    t2 = time.perf_counter()
                errors += 0 if ok else 1
                redirect_ms.append((t1 - t0) * 1000)
                page_ms.append((t2 - t1) * 1000)
        finally:
            stop_server(server)
    return {
        "visits_created": len(created), "create_per_s": round(len(created) / create_s, 1),
        "open_link_p50_ms": _pct(redirect_ms, 0.5), "open_link_p99_ms": _pct(redirect_ms, 0.99),
        "call_page_p50_ms": _pct(page_ms, 0.5), "call_page_p99_ms": _pct(page_ms, 0.99),
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--opens", type=int, default=500)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not 1 <= args.visits <= 20000 or not 1 <= args.concurrency <= 200:
        parser.error("--visits must be 1..20000 and --concurrency 1..200")
    use_uvloop()
    result = asyncio.run(run(args.visits, args.concurrency, min(args.opens, args.visits)))
    report(result, f"target create_per_s ≥ {TARGET_CREATE_PER_S}: "
                   f"{verdict(result['create_per_s'] >= TARGET_CREATE_PER_S)}", args.json)


if __name__ == "__main__":
    main()
