"""Does anything on a request or signaling path hold the event loop over 20 ms? (issue 25, point 2)

    python -m bench.loop_stall [--watch] [--py-spy DIR] [--only PHASE,...] [--server-core 0|1] [--json]

Starts the real server (`run.py serve`, pinned to core 0; `--server-core 1` swaps) on a
fresh SQLite database and, from the moment it answers, pings one admitted participant's
signaling socket with the protocol's `ping` every 5 ms (a probe process of its own, timing
send -> `pong`; `VISITROOM_FLOOD_RATE` raised for it), while one activity after another
runs, each in a phase of its own, each bounded in time:

1. `echo`: the first connection check of the fresh process (a patient's real aiortc peer
   with synthetic audio and video against the server's echo peer, 4 s), started as soon
   as the server answers and the probe's socket is open. The server imports aiortc in a
   helper thread from start-up (`EchoPool.preload`), so the check may meet that import:
   the phase says when the check started and when SRTP's and FFmpeg's libraries appeared
   in the server's memory map, in ms after the server first answered;
2. `logins`: 30 therapists sign in at once through the login form (argon2id; the sign-in
   limits raised, all 30 come from 127.0.0.1); an answer 429 (the hashing pool's queue is
   full) is tried again after 0.25 s;
3. the API list of 10,000 rows. No list answers 10,000 rows at once, so each is paged
   through to its end: `list-visits`, `GET /api/visits` (at most 500 visits an answer:
   `server/storage/visits.list_visits`; no cursor, so pages are `from=` windows after the
   last start seen: 21 requests), `list-visits-links`, the same with `links=true` (each
   participant's link signed), and `list-patients`, `GET /api/patients` through its cursor
   (at most `limit=100` an answer: 103 requests for the 10,000 and the 250 patients of
   phases 4 to 6);
4. `care-logs`: 50 patients each log 3 home-exercise sessions (`POST /care/{plan}/log`,
   her plan cookie), all at once;
5. `questionnaires`: the same 50 patients each read `questionnaires.json` and answer the
   PGQ, the NPRS and the PSFS's intake (scored by the server);
6. `email`: 200 visits for patients with an email address and consent are created through
   the API at once, each starting 64 s after the phase began, with visit reminders set at
   1 minute before (`VISITROOM_VISIT_REMINDER_MINUTES=1`, the reminders job every 2 s), so
   one job run composes their 200 reminders (text, .ics, unsubscribe link) into the
   outbox, whose runner composes each MIME message and sends it to an SMTP sink (aiosmtpd
   on 127.0.0.1 in this process); the phase ends when the sink has all 200.

The database is filled through the app's services before the server starts; the plan
links of the 50 patients are opened (cookies) between phases 3 and 4, outside any phase.
Per phase: the pings sent in it (count, p50, p99, worst, how many over 20 ms) and what
the worst one was made of (from /proc/<tid>/schedstat, read by the probe as it pings: how
long the probe itself and the server's loop thread waited, runnable, for a CPU, and how
long the loop thread ran), the largest round trip less those two waits, the loop thread's
time on a CPU and waiting for one over the phase, the activity's figures (requests,
answers, errors), the server's CPU and the others' CPU (the machine's busy time from
/proc/stat minus the server's, this process's and its parts', in % of one core: other
sessions' benchmarks pin their servers to core 0 as well). Then the worst ping overall and
the target, worst ping <= 20 ms in every phase. The generator (this process, the echo
client, the probe) is pinned to the other core; this process and the echo client run at
nice 10, so that the probe (nice 0) is not held up by the load it times.

--watch loads bench/loop_watch.py into the server (a 5 ms tick on its loop, a watchdog that
samples the loop thread's stack while the tick is late and reads its schedstat) through a
sitecustomize written for the run, which also hands uvloop the watch's hook (the one in
bench/loop_watch_site does not see a uvloop loop start), and prints, per phase, each stall
of 20 ms or more: its length, whether the loop's thread was running, waiting for a CPU or
off CPU, and the stack seen most. A stall while the whole server waits for its core can go
unseen (the watchdog runs on that core too); the per-ping waits above still show it.
--py-spy DIR records the server with `py-spy record --native --idle --format raw` during
each phase (one file per phase in DIR) and prints the main thread's heaviest stacks; py-spy
pauses the server for each sample, so its runs are for finding blockers, not for the
figures. Every socket is on 127.0.0.1; every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from bench import loop_watch
from bench.care_http import FIRST, LAST
from bench.common import (
    ROOT,
    cpu_seconds,
    free_port,
    pin,
    prepare_visits,
    start_server,
    stop_server,
    wait_http,
)
from bench.mixed_load import part_result
from bench.signaling import _percentile

PING_EVERY = 0.005
PONG_WAIT = 5.0
TARGET_MS = 20.0
GAP = 0.5
"""Quiet time between phases (pings then belong to no phase)."""
ECHO_SECONDS = 4.0
LOGINS = 30
LIST_ROWS = 10_000
VISITS_PAGE = 500
"""What `GET /api/visits` answers at most (list_visits' default limit; the API has none)."""
PATIENTS_PAGE = 100
"""`GET /api/patients`' largest `limit` (server/views/api_patients.py MAX_PAGE)."""
CARE_PATIENTS = 50
SESSIONS_EACH = 3
EMAILS = 200
EMAIL_LEAD = 64
"""Seconds from the email phase's start to its visits' start (reminders 60 s before)."""
AT_ONCE = 10
"""Requests in flight at once when a phase sends many (visit creation)."""
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=30)
THERAPIST_PASSWORD = "benchmark-therapist-1"
PHASE_LIMITS = {"echo": 40.0, "logins": 60.0, "list-visits": 60.0, "list-visits-links": 90.0,
                "list-patients": 60.0, "care-logs": 30.0, "questionnaires": 30.0, "email": 60.0}
"""Phases in order, and the longest each may take (seconds)."""
PGQ_ITEMS = 25
NICE = 10
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
WATCH_SITE = '''"""Written by bench/loop_stall.py for one run: bench/loop_watch.py's watch, under uvloop too."""
import asyncio
import os
from pathlib import Path

from bench.loop_watch import install

install(Path(os.environ["VISITROOM_BENCH_LOOPWATCH"]))
# uvloop calls the `asyncio._set_running_loop` it found when imported, not the one in
# asyncio.events that install() wraps (bench/loop_watch_site alone never sees a uvloop
# loop start): hand uvloop the wrapper too. The server imports uvloop after this.
asyncio._set_running_loop = asyncio.events._set_running_loop
'''


# -- the database ------------------------------------------------------------------------------

@dataclass
class Filled:
    """What the fill made that the phases use."""

    probe: tuple[str, str, str, str]
    echo: tuple[str, str, str, str]
    api_key: str
    therapists: list[str]
    care: list[tuple[str, str, int]] = field(default_factory=list)
    """(plan id, plan link, assignment id) of each care patient."""
    mail_patients: list[str] = field(default_factory=list)
    list_from: int = 0
    """Start of the first of the 10,000 listed visits (unix time)."""


async def fill(db_path: Path, base: str) -> Filled:
    """A fresh database with everything the phases need, made through the app's own services
    (the admin, a probe and an echo visit by `prepare_visits`)."""
    from argon2 import PasswordHasher

    from server.auth.api_keys import new_api_key
    from server.auth.policy import KeyScope, scopes_text
    from server.auth.tokens import KeyRing
    from server.care.outcomes import attach
    from server.care.patient_input import PatientRequest, PlanRequest
    from server.care.service import CareService
    from server.runtime.config import Config
    from server.storage import open_database
    from server.storage.api_keys import create_api_key
    from server.storage.users import create_user
    from server.visits.program import assign
    from server.visits.service import VisitService
    from server.visits.visit_input import VisitRequest

    probe, echo = await prepare_visits(db_path, base, 2)
    config = Config(db=db_path, public_url=base, admin_password="benchmark-admin-1")
    db = await open_database(db_path)
    try:
        ring = KeyRing(db)
        await ring.load()
        visits, care = VisitService(db, ring, config), CareService(db, ring, config)
        now = int(time.time())
        key, prefix, key_hash = new_api_key()
        password_hash = PasswordHasher().hash(THERAPIST_PASSWORD)  # one hash, every account
        therapists = [f"therapist{n:02d}@bench.example" for n in range(LOGINS)]
        async with db.transaction() as conn:
            await create_api_key(conn, name="bench", prefix=prefix, key_hash=key_hash,
                                 created_by=None, now=now,
                                 scopes=scopes_text(frozenset(KeyScope)))
            for n, email in enumerate(therapists):
                await create_user(conn, email=email, name=f"Therapist {n}", role="therapist",
                                  password_hash=password_hash, now=now)
        filled = Filled(probe, echo, key, therapists)
        # The listed visits start a month from now, a minute apart (a `from=` page boundary
        # never falls between two visits of one second).
        filled.list_from = (now // 60 + 30 * 24 * 60) * 60
        for n in range(LIST_ROWS):
            await visits.create(VisitRequest(f"{FIRST[n % 40]} {LAST[n // 40 % 40]}", None, None,
                                             filled.list_from + 60 * n, 45, "follow-up", 2),
                                actor="bench", now=now)
        for n in range(LIST_ROWS):
            await care.create_patient(PatientRequest(
                f"{FIRST[n % 40]} {LAST[n // 40 % 40]}", None, None, False, None, False, "en",
                f"MRN-{n:06d}"), actor="bench", now=now)
        exercise = {"exercise": "glute-bridge", "sets": 2, "reps": 10, "hold_seconds": 0,
                    "per_day": 1, "per_week": 0, "note": ""}
        for n in range(CARE_PATIENTS):
            patient = await care.create_patient(PatientRequest(
                f"Care Patient {n}", None, None, False, None, False, "en", None), actor="bench")
            plan = await care.create_plan(patient, PlanRequest("pelvic-girdle-pain", "", None, 8,
                                                               None), actor="bench")
            visit = await visits.create(VisitRequest("", None, None, None, 45, "follow-up", 2,
                                                     patient_id=patient.id), actor="bench")
            item = await assign(db, visit=visit, participant_id=visit.participant("patient").id,
                                values=exercise, actor="bench")
            for instrument in ("pgq", "nprs", "psfs"):
                await attach(db, plan, instrument, 2, actor="bench", now=int(time.time()))
            link = await care.plan_link(plan)
            assert link is not None
            filled.care.append((plan.id, link, item.id))
        for n in range(EMAILS):
            patient = await care.create_patient(PatientRequest(
                f"Mail Patient {n}", None, f"patient{n:03d}@bench.example", True, None, False,
                "en", None), actor="bench")
            filled.mail_patients.append(patient.id)
        return filled
    finally:
        await db.close()


# -- the parts: the probe and the echo client (each a process of its own) ----------------------

async def _stdin_line() -> str:
    return await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


def schedstat(path: str) -> tuple[int, int]:
    """(ns on a CPU, ns runnable but waiting for one) of a thread, from its schedstat."""
    try:
        fields = Path(path).read_text().split()
        return int(fields[0]), int(fields[1])
    except (OSError, IndexError, ValueError):
        return 0, 0


def loop_thread(pid: int) -> str:
    """The schedstat of a process's main thread (a server's event loop)."""
    return f"/proc/{pid}/task/{pid}/schedstat"


async def probe(spec: dict[str, Any]) -> dict[str, Any]:
    """Once the server answers: open the link and its socket, say `ready`, then ping every
    PING_EVERY until `stop` on stdin (or `max_seconds`). For each ping: monotonic send time,
    round trip ms, and over the round trip the ms the probe itself waited for a CPU, the ms
    the server's loop thread waited for one and the ms it ran."""
    base, pings = spec["base"], []
    await wait_http(f"{base}/healthz", timeout=120)
    server = loop_thread(int(Path(spec["pid_file"]).read_text()))
    own = "/proc/thread-self/schedstat"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        async with session.get(spec["link"]) as response:
            await response.read()
            if response.status != 200:
                return {"error": f"probe link answered {response.status}"}
        ws = await session.ws_connect(f"{base}/visits/{spec['visit']}/ws", origin=base,
                                      heartbeat=None)
        welcome = json.loads((await ws.receive(PONG_WAIT)).data)
        stop = asyncio.ensure_future(_stdin_line())
        end, n = time.monotonic() + spec["max_seconds"], 0
        try:
            while not stop.done() and time.monotonic() < end:
                mine0, loop0 = schedstat(own), schedstat(server)
                sent = time.monotonic()
                await ws.send_str(json.dumps({"type": "ping", "t": n}))
                while True:
                    frame = await ws.receive(PONG_WAIT)
                    if frame.type != aiohttp.WSMsgType.TEXT:
                        return {"pings": pings, "error": f"socket closed: {frame.type.name}"}
                    message = json.loads(frame.data)
                    if message.get("type") == "pong" and message.get("t") == n:
                        break
                rtt = (time.monotonic() - sent) * 1000
                mine1, loop1 = schedstat(own), schedstat(server)
                pings.append((round(sent, 4), round(rtt, 3), round((mine1[1] - mine0[1]) / 1e6, 3),
                              round((loop1[1] - loop0[1]) / 1e6, 3), round((loop1[0] - loop0[0]) / 1e6, 3)))
                if n == 0:
                    print(f"ready {welcome.get('status')}", flush=True)
                n += 1
                await asyncio.sleep(max(0.0, sent + PING_EVERY - time.monotonic()))
        except TimeoutError:
            return {"pings": pings, "error": f"no pong within {PONG_WAIT:g} s"}
        await ws.close()
    return {"pings": pings, "status": welcome.get("status")}


async def echo_client(spec: dict[str, Any]) -> dict[str, Any]:
    """Import aiortc and warm a peer up, say `ready`, wait for `go`, then run one check."""
    from aiortc import RTCPeerConnection

    from signaling.bot.echo_check import run_echo_check
    from signaling.ice import use_loopback_candidates

    use_loopback_candidates()
    warm = RTCPeerConnection()
    warm.createDataChannel("warm")
    await warm.setLocalDescription(await warm.createOffer())
    await warm.close()
    print("ready", flush=True)
    if (await _stdin_line()).strip() != "go":
        return {"error": "not started"}
    began = time.monotonic()
    try:
        figures = await asyncio.wait_for(run_echo_check(spec["link"], seconds=spec["seconds"]),
                                         spec["seconds"] + 30)
    except Exception as exc:  # noqa: BLE001 (a failed check is a figure, not a crash)
        return {"completed": 0, "failed": 1, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"completed": 1, "failed": 0, "seconds": round(time.monotonic() - began, 2),
            "video_frames_back": figures.video_frames_back,
            "audio_frames_back": figures.audio_frames_back, "channel_rtt_ms": figures.rtt_ms}


async def libraries_mapped(pid: int, names: tuple[str, ...], since: float,
                           limit: float = 30.0) -> dict[str, float | None]:
    """When (ms after `since`, monotonic) each shared library named appears in the process's
    memory map: how far aiortc's import in the server's helper thread had got."""
    found: dict[str, float | None] = dict.fromkeys(names)
    while any(v is None for v in found.values()) and time.monotonic() - since < limit:
        try:
            maps = Path(f"/proc/{pid}/maps").read_text()
        except OSError:
            break
        for name in names:
            if found[name] is None and name in maps:
                found[name] = round((time.monotonic() - since) * 1000)
        await asyncio.sleep(0.005)
    return found


def start_part(part: str, spec: dict[str, Any]) -> subprocess.Popen[str]:
    """This module with --part, stdin and stdout piped (it says `ready`, then ends with a
    JSON line)."""
    return subprocess.Popen([sys.executable, "-m", "bench.loop_stall", "--part", part,
                             "--spec", json.dumps(spec)], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)


async def wait_ready(process: subprocess.Popen[str], timeout: float) -> str:
    """The part's `ready` line (RuntimeError when it ends or says something else first)."""
    assert process.stdout is not None
    line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), timeout)
    if not line.startswith("ready"):
        raise RuntimeError(f"part exited {process.poll()} before it was ready: {line!r}")
    return line.split(maxsplit=1)[1].strip() if " " in line.strip() else ""


def tell(process: subprocess.Popen[str], word: str) -> None:
    assert process.stdin is not None
    process.stdin.write(word + "\n")
    process.stdin.flush()


# -- the activities (in this process) ----------------------------------------------------------

class Count:
    """Requests of a phase by answer (0: no answer)."""

    def __init__(self) -> None:
        self.answers: collections.Counter[int] = collections.Counter()
        self.first_error = ""

    def add(self, status: int, ok: bool, what: str = "") -> None:
        self.answers[status] += 1
        if not ok and not self.first_error:
            self.first_error = f"{status} {what}"[:200]

    def figures(self, ok: Callable[[int], bool]) -> dict[str, Any]:
        return {"requests": sum(self.answers.values()),
                "errors": sum(n for s, n in self.answers.items() if not ok(s)),
                "answers": dict(sorted(self.answers.items())),
                **({"first_error": self.first_error} if self.first_error else {})}


async def logins(base: str, emails: list[str]) -> dict[str, Any]:
    """Every therapist signs in through the form at once (busy answers tried again)."""
    count, first_round = Count(), collections.Counter()
    sessions = [aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                      timeout=REQUEST_TIMEOUT) for _ in emails]
    try:
        async def page(session: aiohttp.ClientSession) -> str:
            async with session.get(f"{base}/login") as response:
                count.add(response.status, response.status == 200, "login page")
                match = _CSRF.search(await response.text())
            if match is None:
                raise RuntimeError("the login page has no CSRF token")
            return match.group(1)

        tokens = await asyncio.gather(*(page(s) for s in sessions))

        async def sign_in(session: aiohttp.ClientSession, email: str, token: str) -> None:
            for attempt in range(200):
                async with session.post(f"{base}/login", allow_redirects=False, data={
                        "email": email, "password": THERAPIST_PASSWORD,
                        "csrf_token": token}) as response:
                    await response.read()
                    status = response.status
                if attempt == 0:
                    first_round[status] += 1
                count.add(status, status in (303, 429), "sign-in")
                if status != 429:
                    return
                await asyncio.sleep(0.25)

        await asyncio.gather(*(sign_in(s, e, t) for s, e, t in zip(sessions, emails, tokens)))
    finally:
        for session in sessions:
            await session.close()
    return {**count.figures(lambda s: s in (200, 303, 429)),
            "signed_in": count.answers[303], "first_round": dict(sorted(first_round.items()))}


def iso(at: int) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def list_visits(api: aiohttp.ClientSession, base: str, start: int, *, links: bool) -> dict[str, Any]:
    """`GET /api/visits` from `start` to the end, a `from=` window after each page's last
    visit (the answer has no cursor)."""
    count, rows, pages, at, largest = Count(), 0, 0, start, 0
    while pages < LIST_ROWS // VISITS_PAGE + 5:
        url = f"{base}/api/visits?from={iso(at)}" + ("&links=true" if links else "")
        async with api.get(url) as response:
            body = await response.read()
            count.add(response.status, response.status == 200, body[:120].decode(errors="replace"))
            if response.status != 200:
                break
        visits = json.loads(body)["visits"]
        pages, rows, largest = pages + 1, rows + len(visits), max(largest, len(body))
        if len(visits) < VISITS_PAGE:
            break
        last = datetime.fromisoformat(visits[-1]["starts_at"])
        at = int(last.timestamp()) + 1
    return {**count.figures(lambda s: s == 200), "rows": rows, "pages": pages,
            "largest_answer_kb": round(largest / 1024)}


async def list_patients(api: aiohttp.ClientSession, base: str) -> dict[str, Any]:
    """`GET /api/patients?limit=100` through every cursor."""
    count, rows, pages, cursor, largest = Count(), 0, 0, None, 0
    while pages < LIST_ROWS // PATIENTS_PAGE + 10:
        query = f"limit={PATIENTS_PAGE}" + (f"&cursor={cursor}" if cursor else "")
        async with api.get(f"{base}/api/patients?{query}") as response:
            body = await response.read()
            count.add(response.status, response.status == 200, body[:120].decode(errors="replace"))
            if response.status != 200:
                break
        answer = json.loads(body)
        pages, rows, largest = pages + 1, rows + len(answer["patients"]), max(largest, len(body))
        cursor = answer["next_cursor"]
        if cursor is None:
            break
    return {**count.figures(lambda s: s == 200), "rows": rows, "pages": pages,
            "largest_answer_kb": round(largest / 1024)}


async def open_plans(base: str, care: list[tuple[str, str, int]]) -> list[aiohttp.ClientSession]:
    """Each care patient's browser, her plan link opened (its cookie kept)."""
    sessions = []
    for _plan, link, _item in care:
        session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                        timeout=REQUEST_TIMEOUT, headers={"Origin": base})
        sessions.append(session)
        async with session.get(link, allow_redirects=False) as response:
            if response.status != 303:
                raise RuntimeError(f"a plan link answered {response.status}")
    return sessions


async def care_logs(base: str, care: list[tuple[str, str, int]],
                    browsers: list[aiohttp.ClientSession]) -> dict[str, Any]:
    """Every patient logs SESSIONS_EACH sessions, one after another, all patients at once."""
    count = Count()

    async def patient(n: int, plan_id: str, item: int, browser: aiohttp.ClientSession) -> None:
        for k in range(SESSIONS_EACH):
            # Done after the fill assigned the exercise (an earlier session is refused).
            body = {"client_key": f"bench-{n:03d}-{k:02d}-xxxxxxxx", "done_at": int(time.time()) - k,
                    "effort": 4, "entries": [{"assignment_id": item, "status": "done", "pain": 2 + 3 * k}]}
            async with browser.post(f"{base}/care/{plan_id}/log", json=body) as response:
                text = await response.text()
                count.add(response.status, response.status == 201, text)

    await asyncio.gather(*(patient(n, plan, item, browser)
                           for n, ((plan, _l, item), browser) in enumerate(zip(care, browsers))))
    return count.figures(lambda s: s == 201)


def _answers(instrument: str) -> dict[str, Any]:
    if instrument == "pgq":
        return {"items": {f"q{i}": i % 4 for i in range(1, PGQ_ITEMS + 1)}}
    if instrument == "nprs":
        return {"items": {"pain": 6}}
    if instrument == "psfs":
        return {"activities": [{"activity": "lifting my baby", "score": 4},
                               {"activity": "climbing stairs", "score": 6}]}
    return {"items": {"change": 2}}


async def questionnaires(base: str, care: list[tuple[str, str, int]],
                         browsers: list[aiohttp.ClientSession]) -> dict[str, Any]:
    """Every patient reads her pending questionnaires and answers each, all at once."""
    count, scored = Count(), collections.Counter()

    async def patient(plan_id: str, browser: aiohttp.ClientSession) -> None:
        async with browser.get(f"{base}/care/{plan_id}/questionnaires.json") as response:
            body = await response.json()
            count.add(response.status, response.status == 200, "questionnaires.json")
        for pending in body.get("pending", []):
            instrument = pending["instrument"]
            async with browser.post(f"{base}/care/{plan_id}/questionnaires/{instrument}", json={
                    "due_at": pending["due_at"], "answers": _answers(instrument)}) as response:
                text = await response.text()
                count.add(response.status, response.status == 201, text)
                if response.status == 201:
                    scored[instrument] += 1

    await asyncio.gather(*(patient(plan, browser) for (plan, _l, _i), browser in zip(care, browsers)))
    return {**count.figures(lambda s: s in (200, 201)), "scored": dict(sorted(scored.items()))}


async def email(api: aiohttp.ClientSession, base: str, patients: list[str], sink: Any,
                began: float) -> dict[str, Any]:
    """Visits for patients who take email, created at once through the API; then wait until
    the SMTP sink has their reminders."""
    count, gate = Count(), asyncio.Semaphore(AT_ONCE)
    starts = int(time.time() + EMAIL_LEAD - (time.monotonic() - began))

    async def create(patient_id: str) -> None:
        async with gate, api.post(f"{base}/api/visits", json={
                "patient_id": patient_id, "starts_at": iso(starts), "minutes": 30}) as response:
            text = await response.text()
            count.add(response.status, response.status == 201, text)

    await asyncio.gather(*(create(p) for p in patients))
    created = time.monotonic() - began
    while len(sink.received) < len(patients) and time.time() < starts - 5:
        await asyncio.sleep(0.05)
    return {**count.figures(lambda s: s == 201), "created_in_s": round(created, 2),
            "emails_received": len(sink.received),
            "last_email_at_s": round(time.monotonic() - began, 2)}


# -- the run -----------------------------------------------------------------------------------

@dataclass
class Phase:
    """One phase: its window (monotonic), its figures and its CPU."""

    name: str
    began: float
    ended: float
    figures: dict[str, Any]
    server_cpu_pct: float
    others_cpu_pct: float
    loop_ran_ms: float
    """How long the server's loop thread ran on a CPU in the phase..."""
    loop_waited_ms: float
    """...and how long it waited, runnable, for one (its schedstat)."""
    profile: Path | None = None


class Machine:
    """CPU of the machine and of this benchmark's processes."""

    def __init__(self, ours: list[int]) -> None:
        self.ours = ours

    def read(self) -> tuple[float, int, dict[int, float]]:
        mine = {}
        for pid in self.ours:
            try:
                mine[pid] = cpu_seconds(pid)
            except OSError:
                continue
        return time.monotonic(), loop_watch.machine_jiffies()[0], mine

    @staticmethod
    def others_pct(before: tuple[float, int, dict[int, float]],
                   after: tuple[float, int, dict[int, float]]) -> float:
        """The machine's busy time minus ours, in % of one core (a process of ours that
        ended meanwhile counts as the others')."""
        elapsed = max(1e-6, after[0] - before[0])
        busy = (after[1] - before[1]) / loop_watch.TICKS_PER_SECOND
        ours = sum(after[2][p] - before[2][p] for p in after[2] if p in before[2])
        return round(100 * max(0.0, busy - ours) / elapsed)


def _start_py_spy(folder: Path, name: str, server_pid: int,
                  core: int) -> tuple[subprocess.Popen[bytes], Path]:
    out = folder / f"{name}.txt"
    process = subprocess.Popen(["py-spy", "record", "--pid", str(server_pid), "--rate", "250",
                                "--native", "--idle", "--format", "raw", "--output", str(out)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pin(process.pid, core)
    return process, out


def _stop_py_spy(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def run(watch: bool, spy: Path | None, only: list[str],
              server_core: int = 0) -> tuple[dict[str, Any], list[Phase], list[dict[str, Any]]]:
    """One run: its summary, its phases and (with --watch) the server's loop stalls."""
    from tests.smtp_server import SmtpServer

    generator_core = 1 - server_core
    pin(os.getpid(), generator_core)
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        db = tmp / "stall.db"
        fill_began = time.perf_counter()
        filled = await fill(db, base)
        fill_s = time.perf_counter() - fill_began
        sink = SmtpServer()
        env = {"VISITROOM_PUBLIC_URL": base, "VISITROOM_ICE_LOOPBACK": "1",
               "VISITROOM_HEALTH_LOOPBACK": "1", "VISITROOM_FLOOD_RATE": "1000",
               "VISITROOM_LOGIN_ADDRESS_FAILURES": "1000000",
               "VISITROOM_LOGIN_GLOBAL_PER_MINUTE": "1000000",
               "VISITROOM_LOGIN_MAX_FAILURES": "1000000",
               "VISITROOM_REMINDER_SECONDS": "2", "VISITROOM_VISIT_REMINDER_MINUTES": "1",
               "VISITROOM_SMTP_HOST": "127.0.0.1", "VISITROOM_SMTP_PORT": str(sink.port),
               "VISITROOM_SMTP_SECURITY": "none",
               "VISITROOM_SMTP_FROM": "Bench Clinic <reminders@bench.example>"}
        watch_dir = tmp / "watch"
        if watch:
            (tmp / "site").mkdir()
            (tmp / "site" / "sitecustomize.py").write_text(WATCH_SITE)
            env.update({"VISITROOM_BENCH_LOOPWATCH": str(watch_dir),
                        "PYTHONPATH": os.pathsep.join([str(tmp / "site"), str(ROOT),
                                                       os.environ.get("PYTHONPATH", "")])})
        run_echo = not only or "echo" in only
        echo = start_part("echo", {"link": filled.echo[1], "seconds": ECHO_SECONDS}) if run_echo else None
        pid_file = tmp / "server.pid"
        probe_part = start_part("probe", {"base": base, "link": filled.probe[1], "pid_file": str(pid_file),
                                          "visit": filled.probe[0], "max_seconds": 900})
        server = api = sink_started = None
        browsers: list[aiohttp.ClientSession] = []
        phases: list[Phase] = []
        try:
            if echo is not None:
                os.setpriority(os.PRIO_PROCESS, echo.pid, NICE)
                await wait_ready(echo, 120)
            server = start_server(db, port, extra_env=env, core=server_core)
            pid_file.write_text(str(server.pid))
            up = await wait_http(f"{base}/healthz", timeout=120)
            up_at = time.monotonic()
            # aiortc's import (EchoPool.preload) maps SRTP's, then FFmpeg's libraries.
            mapped = asyncio.ensure_future(libraries_mapped(server.pid, ("pylibsrtp", "libavcodec"),
                                                            up_at))
            status = await wait_ready(probe_part, 60)
            os.nice(NICE)  # this thread only (Linux): the probe keeps nice 0
            sink_started = sink.start()
            machine = Machine([server.pid, os.getpid(), probe_part.pid] + ([echo.pid] if echo else []))
            load_average = os.getloadavg()[0]
            run0 = machine.read()
            api = aiohttp.ClientSession(headers={"Authorization": f"Bearer {filled.api_key}"},
                                        timeout=REQUEST_TIMEOUT)

            async def phase(name: str, work: Callable[[float], Awaitable[dict[str, Any]]]) -> None:
                if only and name not in only:
                    return
                spying = _start_py_spy(spy, f"{len(phases) + 1}-{name}", server.pid,
                                       generator_core) if spy else None
                if spying:
                    machine.ours.append(spying[0].pid)
                    await asyncio.sleep(1.5)  # py-spy attaches
                before, server0 = machine.read(), cpu_seconds(server.pid)
                loop0 = schedstat(loop_thread(server.pid))
                try:
                    figures = await asyncio.wait_for(work(before[0]), PHASE_LIMITS[name])
                except TimeoutError:
                    figures = {"error": f"did not finish within {PHASE_LIMITS[name]:g} s"}
                finally:
                    after, server1 = machine.read(), cpu_seconds(server.pid)
                    loop1 = schedstat(loop_thread(server.pid))
                    if spying:
                        _stop_py_spy(spying[0])
                elapsed = after[0] - before[0]
                phases.append(Phase(name, before[0], after[0], figures,
                                    round(100 * (server1 - server0) / elapsed),
                                    Machine.others_pct(before, after), round((loop1[0] - loop0[0]) / 1e6),
                                    round((loop1[1] - loop0[1]) / 1e6), spying[1] if spying else None))
                await asyncio.sleep(GAP)

            async def echo_phase(_began: float) -> dict[str, Any]:
                assert echo is not None
                after_up = round((time.monotonic() - up_at) * 1000)
                tell(echo, "go")
                figures = await asyncio.to_thread(part_result, echo, ECHO_SECONDS + 35)
                return {"go_after_up_ms": after_up,
                        **{f"{k}_mapped_after_up_ms": v for k, v in (await mapped).items()},
                        **figures}

            await phase("echo", echo_phase)
            await phase("logins", lambda _b: logins(base, filled.therapists))
            await phase("list-visits", lambda _b: list_visits(api, base, filled.list_from, links=False))
            await phase("list-visits-links", lambda _b: list_visits(api, base, filled.list_from, links=True))
            await phase("list-patients", lambda _b: list_patients(api, base))
            if not only or {"care-logs", "questionnaires"} & set(only):
                browsers = await open_plans(base, filled.care)
            await phase("care-logs", lambda _b: care_logs(base, filled.care, browsers))
            await phase("questionnaires", lambda _b: questionnaires(base, filled.care, browsers))
            await phase("email", lambda began: email(api, base, filled.mail_patients, sink, began))
            run1 = machine.read()
            mapped.cancel()
            tell(probe_part, "stop")
            probed = await asyncio.to_thread(part_result, probe_part, 60)
        finally:
            for browser in [api, *browsers]:
                if browser is not None:
                    await browser.close()
            for process in (echo, probe_part):
                if process is not None and process.poll() is None:
                    process.kill()
                    process.wait()
            if server is not None:
                stop_server(server)
            if sink_started:
                sink.stop()
        stalls = loop_watch.read_stalls(watch_dir) if watch else []
    if "error" in probed and not probed.get("pings"):
        raise RuntimeError(f"the probe failed: {probed['error']}")
    summary = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)), "cores": os.cpu_count(),
        "fill_s": round(fill_s, 1), "server_up_s": round(up, 2), "probe_status": status,
        "probe_error": probed.get("error"), "load_average_before": round(load_average, 2),
        "others_cpu_pct_whole_run": Machine.others_pct(run0, run1), "pings": probed["pings"],
        "server_core": server_core, "watch": watch, "py_spy": bool(spy),
    }
    return summary, phases, stalls


# -- what is printed ---------------------------------------------------------------------------

def phase_pings(pings: list[list[float]], phase: Phase) -> list[list[float]]:
    """The pings sent within the phase: [send time, round trip, probe's CPU wait, server
    loop's CPU wait, server loop's CPU time] (ms but the first)."""
    return [p for p in pings if phase.began <= p[0] <= phase.ended]


def _activity(figures: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in figures.items())


def print_phases(summary: dict[str, Any], phases: list[Phase]) -> tuple[float, list[dict[str, Any]]]:
    """The table of phases; returns the worst ping of all phases and each phase's row."""
    rows, worst = [], 0.0
    print("\nping ms (p50, p99, worst, how many over 20); the worst ping's parts: the probe's own "
          "wait for a CPU, the server loop thread's wait for one and its time on one; 'less waits': "
          "the largest round trip less both waits; the loop thread's ms on a CPU / waiting for one "
          "over the phase; CPU % of one core")
    print(f"{'phase':<18}{'s':>5}{'pings':>6}{'p50':>6}{'p99':>8}{'worst':>8}{'>20':>5}"
          f"{'probe w':>8}{'loop w':>8}{'loop ran':>9}{'less waits':>11}{'loop ran/waited':>17}"
          f"{'server':>7}{'others':>7}   activity")
    for phase in phases:
        found = phase_pings(summary["pings"], phase)
        rtts = [p[1] for p in found]
        slowest = max(found, key=lambda p: p[1]) if found else [0.0] * 5
        row = {"phase": phase.name, "seconds": round(phase.ended - phase.began, 2),
               "pings": len(rtts), "p50_ms": _percentile(rtts, 0.5) or 0.0,
               "p99_ms": _percentile(rtts, 0.99) or 0.0, "worst_ms": slowest[1],
               "over_20ms": sum(r > TARGET_MS for r in rtts),
               "worst_probe_wait_ms": slowest[2], "worst_loop_wait_ms": slowest[3],
               "worst_loop_ran_ms": slowest[4],
               "worst_less_waits_ms": round(max((p[1] - p[2] - p[3] for p in found), default=0.0), 1),
               "loop_ran_ms": phase.loop_ran_ms, "loop_waited_ms": phase.loop_waited_ms,
               "server_cpu_pct": phase.server_cpu_pct, "others_cpu_pct": phase.others_cpu_pct,
               **phase.figures}
        rows.append(row)
        worst = max(worst, row["worst_ms"])
        print(f"{phase.name:<18}{row['seconds']:>5.1f}{len(rtts):>6}{row['p50_ms']:>6.2f}"
              f"{row['p99_ms']:>8.2f}{row['worst_ms']:>8.1f}{row['over_20ms']:>5}"
              f"{row['worst_probe_wait_ms']:>8.1f}{row['worst_loop_wait_ms']:>8.1f}"
              f"{row['worst_loop_ran_ms']:>9.1f}{row['worst_less_waits_ms']:>11.1f}"
              f"{phase.loop_ran_ms:>9}/{phase.loop_waited_ms:<7}"
              f"{phase.server_cpu_pct:>6}%{phase.others_cpu_pct:>6}%   {_activity(phase.figures)}")
    return worst, rows


def print_stalls(phases: list[Phase], stalls: list[dict[str, Any]]) -> None:
    """Per phase, every loop stall of 20 ms or more the watch saw."""
    print("\nloop stalls >= 20 ms (bench/loop_watch.py), per phase: how many, by kind, and the "
          "longest time the loop's thread ran on a CPU within one (what the loop itself held, "
          "whatever the machine's load):")
    for phase in phases:
        found = loop_watch.overlapping(stalls, phase.began, phase.ended)
        kinds = collections.Counter(loop_watch.kind_of(s) for s in found)
        held = max((s["main_cpu_ms"] or 0 for s in found), default=0)
        print(f"  {phase.name}: {len(found)} {dict(kinds)}; longest on CPU {held} ms")
        for stall in sorted(found, key=lambda s: -s["ms"])[:8]:
            print(f"    +{stall['t0'] - phase.began:6.2f} s {stall['ms']:7.1f} ms "
                  f"[{loop_watch.kind_of(stall)}: loop thread on CPU {stall['main_cpu_ms']} ms, "
                  f"waiting for a CPU {stall['main_runqueue_ms']} ms; machine "
                  f"{stall['machine_busy_pct']}% busy; other threads {stall['others_cpu_ms']}]")
            print(f"        {loop_watch.culprit(stall)}")


def _frame(text: str) -> str:
    """A py-spy frame 'function (path:line)' shortened to 'path:line function'."""
    match = re.fullmatch(r"(.*) \((.*)\)", text)
    if not match:
        return text
    where = match.group(2)
    for marker in ("site-packages/", str(ROOT) + "/", "/lib/python3.11/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{where} {match.group(1)}"


def print_profiles(phases: list[Phase]) -> None:
    """Per phase, the main thread's heaviest stacks in py-spy's raw output (idle waits
    apart), innermost frames first."""
    print("\npy-spy (--native --idle, 250 Hz), main thread, heaviest stacks per phase:")
    for phase in phases:
        if phase.profile is None or not phase.profile.exists():
            continue
        stacks: collections.Counter[str] = collections.Counter()
        idle = total = 0
        for line in phase.profile.read_text().splitlines():
            frames_text, _, n = line.rpartition(" ")
            if not n.isdigit():
                continue
            frames = frames_text.split(";")
            if not any("run.py" in f for f in frames[:3]):
                continue  # a helper thread
            total += int(n)
            leaf = frames[-1]
            if any(w in leaf for w in ("epoll_wait", "uv__io_poll", "select (")):
                idle += int(n)
                continue
            stacks[" <- ".join(_frame(f) for f in reversed(frames[-6:]))] += int(n)
        print(f"  {phase.name}: {total} samples of the main thread, {idle} idle in the poller")
        for text, n in stacks.most_common(6):
            print(f"    {n:5d}  {text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watch", action="store_true", help="watch the server's event loop")
    parser.add_argument("--py-spy", dest="spy", type=Path, metavar="DIR",
                        help="record the server with py-spy during each phase into DIR")
    parser.add_argument("--only", default="", help="comma-separated phases to run (default all): "
                        + ", ".join(PHASE_LIMITS))
    parser.add_argument("--server-core", type=int, choices=(0, 1), default=0,
                        help="the server's core; the generator takes the other (other benchmarks "
                             "pin their servers to core 0 too)")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--part", choices=("probe", "echo"), help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.part:
        work = probe if args.part == "probe" else echo_client
        print(json.dumps(asyncio.run(work(json.loads(args.spec)))), flush=True)
        return
    only = [p for p in args.only.split(",") if p]
    if any(p not in PHASE_LIMITS for p in only):
        parser.error(f"--only takes phases among: {', '.join(PHASE_LIMITS)}")
    if args.spy is not None:
        if shutil.which("py-spy") is None:
            parser.error("py-spy is not installed: pip install py-spy")
        args.spy.mkdir(parents=True, exist_ok=True)
    summary, phases, stalls = asyncio.run(run(args.watch, args.spy, only, args.server_core))
    shown = {k: v for k, v in summary.items() if k != "pings"}
    print(" ".join(f"{k}={v}" for k, v in shown.items()))
    worst, rows = print_phases(summary, phases)
    if args.watch:
        print_stalls(phases, stalls)
    if args.spy is not None:
        print_profiles(phases)
    failed = [r["phase"] for r in rows if r.get("error") or r.get("errors")]
    print(f"\nworst ping overall: {worst:.1f} ms"
          + (f" (phases with errors: {', '.join(failed)})" if failed else ""))
    met = worst <= TARGET_MS and all(r["pings"] for r in rows)
    print(f"target worst ping ≤ {TARGET_MS:g} ms: {'met' if met else 'not met'}")
    if args.json:
        print(json.dumps({**shown, "phases": rows, "worst_ms": worst, "met": met}))


if __name__ == "__main__":
    main()
