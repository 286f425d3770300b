"""Start-up time with a full database: spawn `run.py serve` until /healthz answers.

    python -m bench.startup [--visits 10000] [--patients 10000] [--json]

Target: ≤ 0.5 s with 10,000 visits and 10,000 patients in the database, on the loop `serve`
chooses (uvloop by default; set VISITROOM_LOOP=asyncio to time asyncio's own).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.care_dashboard import insert_rows
from bench.common import (
    cpu_seconds,
    free_port,
    prepare_visits,
    report,
    start_server,
    stop_server,
    verdict,
    wait_http,
)

TARGET_S = 0.5


async def add_patients(db: Path, count: int) -> None:
    """Add `count` patient records (ids of the server's shape, varied names) in bulk."""
    from server.storage import open_database
    from server.storage.patients import name_key

    database = await open_database(db)
    try:
        names = [f"Patient {n:05d} Bench" for n in range(count)]
        await insert_rows(database, "patients", ("id", "name", "name_key", "created_at"),
                          [(f"pt_bench{n:011d}", name, name_key(name), int(time.time()))
                           for n, name in enumerate(names)])
    finally:
        await database.close()


async def run(visits: int, patients: int, runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        t0 = time.perf_counter()
        await prepare_visits(db, "http://127.0.0.1:8080", visits, admitted=False)
        await add_patients(db, patients)
        fill_s = time.perf_counter() - t0
        times: list[float] = []
        cpu: list[float] = []  # the server's CPU until it answered: what a busy machine does not inflate
        for _ in range(runs):
            port = free_port()
            started = time.perf_counter()
            server = start_server(db, port, core=None)  # where the kernel puts it, as a clinic runs it
            try:
                await wait_http(f"http://127.0.0.1:{port}/healthz")
                times.append(time.perf_counter() - started)
                cpu.append(cpu_seconds(server.pid))
            finally:
                stop_server(server)
    times.sort()
    cpu.sort()
    return {"visits": visits, "patients": patients, "loop": os.environ.get("VISITROOM_LOOP") or "uvloop",
            "fill_s": round(fill_s, 1), "startup_s_median": round(times[len(times) // 2], 3),
            "startup_s_max": round(times[-1], 3), "server_cpu_s_median": round(cpu[len(cpu) // 2], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=10000)
    parser.add_argument("--patients", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not 0 <= args.visits <= 100000 or not 0 <= args.patients <= 100000 or not 1 <= args.runs <= 20:
        parser.error("--visits and --patients must be 0..100000 and --runs 1..20")
    result = asyncio.run(run(args.visits, args.patients, args.runs))
    report(result, f"target startup ≤ {TARGET_S} s: {verdict(result['startup_s_median'] <= TARGET_S)}",
           args.json)


if __name__ == "__main__":
    main()
