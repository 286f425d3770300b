"""The care pages at clinic size over HTTP: a therapist's dashboard and the patient list API
served by a real server process with 10,000 patients and 100,000 logged sessions.

    python -m bench.care_http [--patients 10000] [--sessions 100000] [--runs 300]
                              [--postgres URL] [--json]

Target (issue 22 point 7): each of these answers in p99 ≤ 50 ms, timed one after another
from the client (20 of each first to warm up): the therapist's dashboard `GET /admin`
(HTML; her open pain flags among the plans she leads), `GET /api/patients?limit=50` (the
first page), a search by name prefix `?q=...&limit=50`, and a next page through `cursor`
(cursors from a walk over the whole list, so pages deep in it are asked too). Beside the
percentiles: the server's CPU time per request (mean) and the CPU the machine's other
processes used meanwhile (% of a core; a PostgreSQL server counts among them), since on a
shared machine the tail follows the others' load.

The database is filled by `bench.care_dashboard.fill` (bulk SQL), then completed with what
a running server reads and the fill leaves as placeholders: a real signing key, patient
ids of the server's shape, varied names (with their folded `name_key`), creation times,
each visit's therapist, a password on the first therapist (hashed as the app hashes it;
she leads 200 plans with open flags) and an API key with `patients:read`. The fill's plan
ids keep their shape (`pl000042`): no timed request looks a plan up. SQLite in a temporary
file; `--postgres URL` also runs on that PostgreSQL database (an empty one: the benchmark
refuses a database that already holds a log, and leaves the filled one behind).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import aiohttp

from bench.care_dashboard import THERAPISTS, fill
from bench.common import (
    cpu_seconds,
    free_port,
    pin,
    report,
    start_server,
    stop_server,
    verdict,
    wait_http,
)

# The machine's other work, counted as bench.mixed_load counts it (shared tails come from it).
from bench.mixed_load import _others_cpu_pct, _processes
from server.auth.api_keys import new_api_key
from server.auth.csrf import FIELD as CSRF_FIELD
from server.auth.passwords import hash_password
from server.auth.policy import KeyScope, scopes_text
from server.auth.tokens import new_private_pem
from server.care.exercise_log import open_flags
from server.storage.api_keys import create_api_key
from server.storage.database import open_database
from server.storage.interface import Database
from server.storage.patients import name_key
from server.storage.postgres import PostgresDatabase

TARGET_MS = 50.0
REQUESTS = ("dashboard_ms", "first_page_ms", "search_ms", "next_page_ms")
"""The timed requests, as the result names them."""
WARMUP = 20
PAGE = 50
WALK_PAGE, WALK_PAGES = 100, 200
"""The cursor walk before timing: pages of 100, at most 200 of them."""
REQUEST_TIMEOUT_S = 10
RUN_LIMIT_S = 1800
"""The whole run of one engine (fill, server, requests) ends by then."""
THERAPIST_PASSWORD = "benchmark-therapist-1"
PREFIXES = 12
"""Name prefixes the search rotates through."""
FIRST = ("Maya", "Mariana", "Martha", "Amelia", "Ana", "Beatriz", "Chloe", "Clara", "Daniela",
         "Elena", "Emma", "Fatima", "Grace", "Hannah", "Ines", "Isla", "Jana", "Julia", "Katie",
         "Laura", "Lena", "Lucia", "Mia", "Nadia", "Nora", "Olivia", "Paula", "Priya", "Rosa",
         "Sara", "Sofia", "Talia", "Una", "Vera", "Wendy", "Yara", "Zoe", "Aoife", "Brigid",
         "Carmen")
LAST = ("Lopez", "Smith", "Jones", "Garcia", "Nguyen", "Brown", "Murphy", "Kowalski", "Silva",
        "Okafor", "Kaur", "Rossi", "Novak", "Cohen", "Haddad", "Ivanova", "Jensen", "Kim",
        "Larsen", "Moreau", "Nakamura", "O'Brien", "Petrov", "Quinn", "Reyes", "Schmidt",
        "Tanaka", "Usman", "Varga", "Walsh", "Xu", "Yilmaz", "Zhang", "Ahmed", "Becker",
        "Costa", "Dubois", "Evans", "Fischer", "Gomez")
PATIENT_ID_PREFIX = "pt_bench_pt__"
"""With the fill's six digits, a patient id of the server's shape (`server/care/ids.py`)."""
DAY = 86400
_CSRF = re.compile(rf'name="{CSRF_FIELD}" value="([^"]+)"')


async def _complete(db: Database, therapist_id: int, patients: int) -> tuple[str, list[str]]:
    """Make the filled database one a server runs on; returns the API key and the name
    prefixes to search for."""
    rng = random.Random(7)
    names = [f"{rng.choice(FIRST)} {rng.choice(LAST)}" for _ in range(patients)]
    key, prefix, key_hash = new_api_key()
    password_hash = hash_password(THERAPIST_PASSWORD)
    now = int(time.time())
    async with db.transaction() as conn:
        # The fill's signing key is a placeholder the server's key ring cannot load; its kid
        # stays, since the fill's participants name it.
        await conn.execute("UPDATE signing_keys SET private_pem = ? WHERE kid = 'bench'",
                           (new_private_pem(),))
        # The fill's patient ids (pt000042) are not of the server's shape (pt_ and 16
        # characters): it would skip every lookup of them (the dashboard's of each flagged
        # patient among them). The rows move to ids of that shape, dated like their plans.
        await conn.execute(
            "INSERT INTO patients (id, name, name_key, language, created_at)"
            " SELECT ? || substr(id, 3), name, name_key, language, ? FROM patients"
            " WHERE length(id) = 8", (PATIENT_ID_PREFIX, now - 60 * DAY))
        for table in ("plans", "visits"):
            await conn.execute(f"UPDATE {table} SET patient_id = ? || substr(patient_id, 3)"
                               " WHERE length(patient_id) = 8", (PATIENT_ID_PREFIX,))
        await conn.execute("DELETE FROM patients WHERE length(id) = 8")
        # Every patient is "Bench" after the fill, so any search would match them all.
        for n, name in enumerate(names):
            await conn.execute("UPDATE patients SET name = ?, name_key = ? WHERE id = ?",
                               (name, name_key(name), f"{PATIENT_ID_PREFIX}{n:06d}"))
        await conn.execute("UPDATE plans SET created_at = starts_at")
        await conn.execute("UPDATE visits SET therapist_id = (SELECT p.therapist_id FROM plans p"
                           " WHERE p.id = visits.plan_id) WHERE plan_id IS NOT NULL")
        await conn.execute("UPDATE users SET name = ?, password_hash = ? WHERE id = ?",
                           ("Bench Therapist", password_hash, therapist_id))
        await create_api_key(conn, name="bench", prefix=prefix, key_hash=key_hash,
                             created_by=None, now=now,
                             scopes=scopes_text(frozenset({KeyScope.PATIENTS_READ})))
    prefixes = sorted({name_key(name)[:3] for name in random.Random(8).sample(names, PREFIXES)})
    return key, prefixes


def _pct(ordered: list[float], q: float) -> float:
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


async def _timed(session: aiohttp.ClientSession, server_pid: int, runs: int,
                 url: Callable[[int], str], kind: str) -> tuple[dict[str, float], int]:
    """p50/p95/p99 in ms of GETting `url(i)` (the whole answer read) over `runs` requests
    after WARMUP, the server's mean CPU time per request, and the machine's other work
    meanwhile; also the answers that were not a 200 of `kind` (html or json)."""
    errors = 0
    times = []
    for i in range(-WARMUP, runs):
        if i == 0:
            cpu0, processes0, began = cpu_seconds(server_pid), _processes(), time.perf_counter()
        started = time.perf_counter()
        async with session.get(url(i), allow_redirects=False) as response:
            await response.read()
            ok = response.status == 200 and kind in response.content_type
        if i >= 0:
            times.append((time.perf_counter() - started) * 1000)
            errors += 0 if ok else 1
    elapsed = time.perf_counter() - began
    cpu_ms = (cpu_seconds(server_pid) - cpu0) * 1000 / runs
    others = _others_cpu_pct(processes0, _processes(), elapsed)
    times.sort()
    return {"p50": _pct(times, 0.5), "p95": _pct(times, 0.95), "p99": _pct(times, 0.99),
            "max": round(times[-1], 2), "server_cpu": round(cpu_ms, 2),
            "others_cpu_pct": others}, errors


async def _sign_in(browser: aiohttp.ClientSession, base: str, email: str) -> None:
    """The login form: its CSRF cookie and token, then the password."""
    async with browser.get(f"{base}/login") as response:
        match = _CSRF.search(await response.text())
    if match is None:
        raise SystemExit("the login page has no CSRF token")
    async with browser.post(f"{base}/login", allow_redirects=False, data={
            "email": email, "password": THERAPIST_PASSWORD, CSRF_FIELD: match.group(1)}) as response:
        if response.status != 303:
            raise SystemExit(f"signing in answered {response.status}: {await response.text()}")


async def _cursors(api: aiohttp.ClientSession, base: str) -> list[str]:
    """Every next_cursor of a walk over the whole list (pages of WALK_PAGE, bounded)."""
    found: list[str] = []
    cursor: str | None = None
    for _ in range(WALK_PAGES):
        query = f"limit={WALK_PAGE}" + (f"&cursor={cursor}" if cursor else "")
        async with api.get(f"{base}/api/patients?{query}") as response:
            cursor = (await response.json())["next_cursor"]
        if cursor is None:
            break
        found.append(cursor)
    return found


async def _serve_and_time(db_path: Path, database_url: str, email: str, key: str,
                          prefixes: list[str], runs: int) -> dict[str, Any]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(db_path, port, extra_env={"VISITROOM_HEALTH_LOOPBACK": "1",
                                                    "VISITROOM_DATABASE_URL": database_url})
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    try:
        await wait_http(f"{base}/healthz", timeout=60)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                         timeout=timeout) as browser, \
                aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"},
                                      timeout=timeout) as api:
            await _sign_in(browser, base, email)
            async with browser.get(f"{base}/admin") as response:
                page_bytes = len(await response.read())
            cursors = await _cursors(api, base)
            if not cursors:
                raise SystemExit("the patient list has no second page")
            result: dict[str, Any] = {"dashboard_bytes": page_bytes, "cursors": len(cursors)}
            errors = 0
            for name, session, kind, url in (
                    ("dashboard_ms", browser, "html", lambda i: f"{base}/admin"),
                    ("first_page_ms", api, "json", lambda i: f"{base}/api/patients?limit={PAGE}"),
                    ("search_ms", api, "json",
                     lambda i: f"{base}/api/patients?q={prefixes[i % len(prefixes)]}&limit={PAGE}"),
                    ("next_page_ms", api, "json", lambda i: f"{base}/api/patients?limit={PAGE}"
                                                            f"&cursor={cursors[i % len(cursors)]}")):
                result[name], failed = await _timed(session, server.pid, runs, url, kind)
                errors += failed
            result["errors"] = errors
            return result
    finally:
        stop_server(server)


async def measure(db: Database, engine: str, db_path: Path, database_url: str, patients: int,
                  sessions: int, runs: int) -> dict[str, Any]:
    """Fill and complete `db` (then close it), serve it and time the four requests."""
    try:
        row = await db.fetchone("SELECT COUNT(*) FROM log_sessions")
        if row is None or row[0]:
            raise SystemExit(f"{engine}: the database already holds a log; give an empty one")
        started = time.perf_counter()
        therapists = await fill(db, patients, sessions, int(time.time()))
        therapist = therapists[0]
        key, prefixes = await _complete(db, therapist, patients)
        if engine == "postgres":
            await db.execute("ANALYZE")  # what autovacuum does soon after a bulk load
        fill_s = time.perf_counter() - started
        flags = len(await open_flags(db, therapist_id=therapist))
        if not flags:
            raise SystemExit(f"{engine}: the signed-in therapist has no open pain flag; "
                             "give more --sessions")
        row = await db.fetchone("SELECT email FROM users WHERE id = ?", (therapist,))
        assert row is not None
        email = str(row[0])
    finally:
        await db.close()
    result: dict[str, Any] = {"engine": engine, "patients": patients, "sessions": sessions,
                              "therapists": THERAPISTS, "fill_s": round(fill_s, 1),
                              "therapist_open_flags": flags, "prefixes": " ".join(prefixes)}
    result.update(await _serve_and_time(db_path, database_url, email, key, prefixes, runs))
    return result


async def run(patients: int, sessions: int, runs: int, postgres: str | None) -> list[dict[str, Any]]:
    pin(os.getpid(), 1)  # the server is pinned to core 0
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        async with asyncio.timeout(RUN_LIMIT_S):
            results.append(await measure(await open_database(path), "sqlite", path, "",
                                         patients, sessions, runs))
        if postgres:
            async with asyncio.timeout(RUN_LIMIT_S):
                results.append(await measure(await PostgresDatabase(postgres).open(), "postgres",
                                             Path(tmp) / "unused.db", postgres, patients,
                                             sessions, runs))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10000)
    parser.add_argument("--sessions", type=int, default=100000)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--postgres", metavar="URL", help="an empty PostgreSQL database to fill too")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not 200 <= args.patients <= 100000 or not args.patients <= args.sessions <= 1000000 \
            or not 10 <= args.runs <= 5000:
        parser.error("--patients 200..100000, --sessions from --patients to 1000000, --runs 10..5000")
    for result in asyncio.run(run(args.patients, args.sessions, args.runs, args.postgres)):
        met = result["errors"] == 0 and all(result[n]["p99"] <= TARGET_MS for n in REQUESTS)
        report(result, f"{result['engine']}: target p99 ≤ {TARGET_MS:g} ms for the dashboard and "
                       f"the three patient-list requests, 0 errors: {verdict(met)}", args.json)


if __name__ == "__main__":
    main()
