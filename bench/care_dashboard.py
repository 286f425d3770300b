"""The exercise log at clinic size: a therapist's open pain flags and one plan's adherence
with 10,000 patients and 100,000 logged sessions, and the cost of logging a session.

    python -m bench.care_dashboard [--patients 10000] [--sessions 100000] [--runs 300]
                                   [--postgres URL] [--json]

Target (issue 22 point 7): `open_flags` for one therapist and `adherence` for one plan
each answer in p99 ≤ 50 ms. The database is filled with bulk SQL (patients, plans with
three assignments each, sessions of three entries over the last 28 days, about 1% of
entries in high pain); then `log_session` stores sessions one at a time (one transaction
each, timed). SQLite in a temporary file; `--postgres URL` also runs on that PostgreSQL
database (an empty one: the benchmark refuses a database that already holds a log).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Sequence
from zoneinfo import ZoneInfo

from bench.common import report, verdict
from server.care.adherence import adherence
from server.care.exercise_log import day_number, log_session, open_flags
from server.storage.database import open_database
from server.storage.interface import Database
from server.storage.postgres import PostgresDatabase

TARGET_MS = 50.0
THERAPISTS = 50
"""Therapists the patients are shared among (200 plans each at 10,000 patients)."""
ASSIGNMENTS = 3
"""Exercises of each plan's program (each session logs all three)."""
BATCH = 400
"""Rows a bulk INSERT statement carries."""
TZ = ZoneInfo("Europe/London")
DAY = 86400


async def insert_rows(db: Database, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """Bulk-insert rows, BATCH a statement, in one transaction."""
    marks = "(" + ", ".join("?" * len(columns)) + ")"
    async with db.transaction() as conn:
        for start in range(0, len(rows), BATCH):
            chunk = rows[start:start + BATCH]
            await conn.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                               + ", ".join([marks] * len(chunk)), [v for row in chunk for v in row])


async def fill(db: Database, patients: int, sessions: int, now: int) -> list[int]:
    """Fill the database; returns the therapists' ids."""
    rng = random.Random(22)
    await insert_rows(db, "signing_keys", ("kid", "private_pem", "created_at", "position"),
                  [("bench", "pem", 0, 1)])
    await insert_rows(db, "users", ("email", "name", "role", "password_hash", "created_at"),
                  [(f"t{n}@bench.test", "T", "therapist", "x", 0) for n in range(THERAPISTS)])
    therapists = [int(r[0]) for r in await db.fetchall("SELECT id FROM users ORDER BY id")]
    start = now - 60 * DAY
    await insert_rows(db, "patients", ("id", "name", "name_key", "created_at"),
                  [(f"pt{n:06d}", "Bench", "bench", 0) for n in range(patients)])
    await insert_rows(db, "plans", ("id", "patient_id", "condition", "starts_at", "weeks",
                                "therapist_id", "status", "created_at"),
                  [(f"pl{n:06d}", f"pt{n:06d}", "sij", start, 12, therapists[n % THERAPISTS],
                    "closed" if n % 10 == 9 else "active", 0) for n in range(patients)])
    await insert_rows(db, "visits", ("id", "kind", "starts_at", "ends_at", "created_at", "patient_id",
                                 "plan_id"),
                  [(f"v{n:06d}", "evaluation", start, start + 3600, 0, f"pt{n:06d}", f"pl{n:06d}")
                   for n in range(patients)])
    await insert_rows(db, "participants", ("id", "visit_id", "role", "display_name", "jti", "kid",
                                       "issued_at", "not_before", "expires_at", "position"),
                  [(f"pa{n:06d}", f"v{n:06d}", "patient", "P", f"j{n:06d}", "bench", 0, 0, 1, 1)
                   for n in range(patients)])
    await insert_rows(db, "assignments", ("id", "visit_id", "participant_id", "exercise", "sets",
                                      "reps", "hold_seconds", "per_day", "per_week", "created_at",
                                      "created_by", "plan_id"),
                  [(n * ASSIGNMENTS + k + 1, f"v{n:06d}", f"pa{n:06d}", f"ex-{k}", 2, 10, 0,
                    (1, 2, 0)[k], (0, 0, 3)[k], start, "user:1", f"pl{n:06d}")
                   for n in range(patients) for k in range(ASSIGNMENTS)])
    session_rows, entry_rows, flag_rows = [], [], []
    for s in range(sessions):
        n = s % patients
        done_at = now - rng.randrange(28 * DAY)
        sid = f"ls{s:07d}"
        session_rows.append((sid, f"pl{n:06d}", f"key-{s:07d}", done_at, day_number(done_at, TZ),
                             rng.randrange(11), "", done_at))
        for k in range(ASSIGNMENTS):
            status = rng.choice(("done", "done", "partly", "skipped"))
            pain = None if status == "skipped" else (rng.randrange(7, 11) if rng.random() < 0.01
                                                     else rng.randrange(5))
            entry_rows.append((sid, n * ASSIGNMENTS + k + 1, f"pl{n:06d}", f"ex-{k}", done_at,
                               status, pain))
            if pain is not None and pain >= 7:
                acked = rng.random() < 0.5
                flag_rows.append((f"pl{n:06d}", sid, f"ex-{k}", pain, None, "high", done_at,
                                  done_at + 3600 if acked else None, "user:1" if acked else None))
    await insert_rows(db, "log_sessions", ("id", "plan_id", "client_key", "done_at", "day", "effort",
                                       "note", "received_at"), session_rows)
    await insert_rows(db, "log_entries", ("session_id", "assignment_id", "plan_id", "exercise",
                                      "done_at", "status", "pain"), entry_rows)
    await insert_rows(db, "pain_flags", ("plan_id", "session_id", "exercise", "pain", "usual", "reason",
                                     "raised_at", "acknowledged_at", "acknowledged_by"), flag_rows)
    return therapists


async def _timed(runs: int, call: Callable[[int], Awaitable[Any]]) -> dict[str, float]:
    """p50 and p99 in ms of `call(i)` over `runs` calls (after five to warm up)."""
    for i in range(5):
        await call(i)
    times = []
    for i in range(runs):
        started = time.perf_counter()
        await call(i)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"p50": round(statistics.median(times), 2),
            "p99": round(times[min(len(times) - 1, int(len(times) * 0.99))], 2)}


async def measure(db: Database, engine: str, patients: int, sessions: int,
                  runs: int) -> dict[str, Any]:
    """Fill `db` and time the dashboard's two questions and logging a session."""
    if (await db.fetchone("SELECT COUNT(*) FROM log_sessions"))[0]:
        raise SystemExit(f"{engine}: the database already holds a log; give an empty one")
    now = int(time.time())
    started = time.perf_counter()
    therapists = await fill(db, patients, sessions, now)
    if engine == "postgres":
        await db.execute("ANALYZE")  # what autovacuum does soon after a bulk load
    fill_s = time.perf_counter() - started
    flags_listed: list[int] = []

    async def flags(i: int) -> None:
        flags_listed.append(len(await open_flags(db, therapist_id=therapists[i % THERAPISTS])))

    async def plan_adherence(i: int) -> None:
        await adherence(db, f"pl{(i * 7919) % patients:06d}", now=now, tz=TZ)

    async def log(i: int) -> None:
        n = (i * 104729) % patients
        await log_session(db, f"pl{n:06d}", {
            "client_key": f"bench-{i:08d}", "done_at": now - 60, "effort": 5,
            "entries": [{"assignment_id": n * ASSIGNMENTS + k + 1, "status": "done", "pain": 3}
                        for k in range(ASSIGNMENTS)]}, tz=TZ, now=now)

    result: dict[str, Any] = {"engine": engine, "patients": patients, "sessions": sessions,
                              "fill_s": round(fill_s, 1)}
    for name, call in (("open_flags_ms", flags), ("adherence_ms", plan_adherence),
                       ("log_session_ms", log)):
        result[name] = await _timed(runs, call)
    result["flags_per_therapist"] = round(statistics.mean(flags_listed), 1)
    return result


async def run(patients: int, sessions: int, runs: int, postgres: str | None) -> list[dict[str, Any]]:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        db: Database = await open_database(Path(tmp) / "bench.db")
        try:
            results.append(await measure(db, "sqlite", patients, sessions, runs))
        finally:
            await db.close()
    if postgres:
        db = await PostgresDatabase(postgres).open()
        try:
            results.append(await measure(db, "postgres", patients, sessions, runs))
        finally:
            await db.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10000)
    parser.add_argument("--sessions", type=int, default=100000)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--postgres", metavar="URL", help="an empty PostgreSQL database to fill too")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not 100 <= args.patients <= 100000 or not args.patients <= args.sessions <= 1000000 \
            or not 10 <= args.runs <= 10000:
        parser.error("--patients 100..100000, --sessions from --patients to 1000000, --runs 10..10000")
    for result in asyncio.run(run(args.patients, args.sessions, args.runs, args.postgres)):
        met = all(result[name]["p99"] <= TARGET_MS for name in ("open_flags_ms", "adherence_ms"))
        report(result, f"{result['engine']}: target p99 ≤ {TARGET_MS:g} ms for open_flags and "
                       f"adherence: {verdict(met)}", args.json)


if __name__ == "__main__":
    main()
