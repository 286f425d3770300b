"""Start-up time with a full database: spawn `run.py serve` until /healthz answers.

    python -m bench.startup [--visits 10000] [--json]

Target: ≤ 1 s with 10,000 visits in the database.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bench.common import (
    free_port,
    prepare_visits,
    report,
    start_server,
    stop_server,
    verdict,
    wait_http,
)

TARGET_S = 1.0


async def run(visits: int, runs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        t0 = time.perf_counter()
        await prepare_visits(db, "http://127.0.0.1:8080", visits, admitted=False)
        fill_s = time.perf_counter() - t0
        times = []
        for _ in range(runs):
            port = free_port()
            started = time.perf_counter()
            server = start_server(db, port)
            try:
                await wait_http(f"http://127.0.0.1:{port}/healthz")
                times.append(time.perf_counter() - started)
            finally:
                stop_server(server)
    times.sort()
    return {"visits": visits, "fill_s": round(fill_s, 1), "startup_s_median": round(times[len(times) // 2], 3),
            "startup_s_max": round(times[-1], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not 0 <= args.visits <= 100000 or not 1 <= args.runs <= 20:
        parser.error("--visits must be 0..100000 and --runs 1..20")
    result = asyncio.run(run(args.visits, args.runs))
    report(result, f"target startup ≤ {TARGET_S} s: {verdict(result['startup_s_median'] <= TARGET_S)}",
           args.json)


if __name__ == "__main__":
    main()
