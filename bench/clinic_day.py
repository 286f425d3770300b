"""A clinic day, open loop: how many concurrent visits the server holds, and where it stops.

    python -m bench.clinic_day [--visits 10,25,50,100,200,400,800] [--seconds 60] [--visit-seconds 45]
                               [--setups workers2,one] [--seed 7] [--chart docs/clinic-day.png]
                               [--json]

Issue 25 point 5. Visits arrive on a schedule (Poisson arrivals at `visits / visit-seconds`
a second, seeded: the same schedule for every setup), each playing its script whatever the
server answers (open loop: no arrival waits for an earlier visit); within a visit each step
waits for the answer it needs, as a browser does, and think times are fixed offsets from
the visit's arrival. One visit, compressed into `--visit-seconds`:

- the patient opens her link (303, then the call page and, with an empty cache, its
  stylesheets, icon and scripts and the ES modules they import; not those loaded later
  by `import()`), opens the socket and waits: her page asks the presence question (`GET /visits/{id}/presence`, at once and
  every 20 s while she waits; a 409 is asked again after 2 s, as the page does), loads the
  waiting room's questionnaire and submits it (NPRS);
- the therapist opens her link (her browser has the files cached) and socket, loads the
  plan of care (`care.json`), the library's conditions and the program, and admits her;
- offer, answer and four candidates each way are relayed; she shows a demo (the condition
  and the exercise's JSON on her page, `demo-show`; the patient's page then fetches the
  exercise too) and drives it (`demo-control` play, pause); three chat messages each way;
  she assigns two exercises (`POST /visits/{id}/assignments`, the program read back);
- both sockets send the protocol's `ping` every 15 s (the page's keep-alive: 0.75 of the
  server's 20 s heartbeat); the patient leaves (`bye`), the therapist then too;
- the patient opens her plan link (303, her plan-of-care page, its service worker, her
  questionnaires and messages), logs the session she just did (`POST /care/{plan}/log`)
  and sets her daily reminder (`POST /care/{plan}/reminder`) to a minute just past, so the
  server's reminder job composes it (with the questionnaire notice of her plan) into the
  outbox. The job runs every `VISITROOM_REMINDER_SECONDS`, set to 20 s here (60 s by
  default) so that every level sees it run several times in its window.

Each level of `--visits` N: a fresh server on a fresh copy of one database, a warm-up (four
whole visits of 20 s at once), then arrivals for `visit-seconds + seconds`; figures are
taken from calls and messages begun in the last `seconds` of that (about N visits open by
then, give or take Poisson's spread: the mean measured is printed beside N), errors from
the whole level. `--chart PATH` draws the page/API p99 and the relay p99 of each setup
against the visits open at once, with the targets.
Setups: `workers2` is `run.py serve --workers 2` with a private redis-server, `one` is one
process on SQLite alone; nothing is pinned (server, Redis and this generator share the
cores). The records (patients, plans with the NPRS attached, visits of those plans) are
made once through the real API before the sweep: an admin signs in, makes an API key with
every scope, and creates each patient (with an email address and consent), her plan and
her visit (`POST /api/patients`, `/api/patients/{id}/plans`, `/api/visits`) and attaches
the questionnaire (`POST /admin/plans/{id}/questionnaires`).

Reported for each setup and level: p50 and p99 of every page and API call by route (client
side, the whole answer read; socket open to `welcome`, admit to `admitted` and ping to
`pong` count as calls), p50/p99 one way of relayed messages (offer, answer, candidate and
chat carry their send time in their text, as in `bench.signaling`; demo messages are timed
from their send to their arrival), errors (a status not expected, a socket `error`, a
message that never came, a timeout), the server's resident memory summed over the
supervisor and workers (mean over the window) and per visit above the warmed-up server's,
the CPU of each process, of the generator and of the machine's other processes (from
/proc/stat, less this benchmark's processes), and the generator's own loop lag (its
latencies include it; its garbage collector is off during a level, since its full
collections stopped it for up to 0.4 s at 400 visits). Held: every route's p99 <= 50 ms,
relay p99 <= 10 ms and 0 errors.

No limit is raised: each benchmark browser and socket stands for one person, the per-seat
limits (presence, chat, demos, flood) see one person's use, and the only limits per client
address (sign-in, wrong API keys) are not met. Every wait is bounded; all on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import itertools
import json
import os
import random
import re
import shutil
import sqlite3
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench import loop_watch
from bench.care_http import _CSRF
from bench.common import (
    Server,
    cpu_seconds,
    free_port,
    raise_file_limit,
    rss_kb,
    start_redis,
    start_server,
    stop_server,
    use_uvloop,
    verdict,
    wait_http,
)
from bench.signaling import _percentile, _sent_at
from bench.soak import _rss, _worker_pids

PAGE_TARGET_MS, RELAY_TARGET_MS = 50.0, 10.0
REQUEST_TIMEOUT_S = 10.0
"""Longest wait for one answer or one expected message."""
PRESENCE_EVERY_S, PING_EVERY_S = 20.0, 15.0
CANDIDATES = 4
CHATS = 3
OFFER_PAD, CANDIDATE_PAD = "a" * 3000, "c" * 150
INSTRUMENT = "nprs"
SETUPS = {"workers2": 2, "one": 1}
"""Setup name: server processes (2: `serve --workers 2` with Redis)."""
SAMPLE_EVERY_S = 2.0
WARM_UP_VISITS, WARM_UP_VISIT_S = 4, 20.0
"""Whole visits played at once before each level's baseline, and their length."""
BROWSER_CONNECTIONS = 6
"""Connections a browser opens to one host at once."""
SETUP_CONCURRENCY = 4
"""Records made at once: fewer than the API key checks one address may have in flight
(`VISITROOM_LOGIN_ADDRESS_FAILURES`, 5), so no limit needs raising."""
ADMIN_EMAIL, ADMIN_PASSWORD = "admin@visitroom.local", "benchmark-admin-1"
SERVER_ENV = {"VISITROOM_REMINDER_SECONDS": "20"}


class Failure(Exception):
    """Something the script expected did not happen."""


@dataclass
class Record:
    """One visit made through the API: its links (public URLs) and what it is about."""

    visit_id: str
    patient_link: str
    therapist_link: str
    plan_id: str
    plan_link: str
    condition: str
    exercises: list[str]


@dataclass
class Tally:
    """What one level measured."""

    window: tuple[float, float] = (0.0, 0.0)
    calls: dict[str, list[float]] = field(default_factory=lambda: collections.defaultdict(list))
    relays: dict[str, list[float]] = field(default_factory=lambda: collections.defaultdict(list))
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    first_errors: list[str] = field(default_factory=list)
    presence_409: int = 0
    visits_started: int = 0
    visits_done: int = 0
    active: int = 0

    def in_window(self, started: float) -> bool:
        return self.window[0] <= started <= self.window[1]

    def call(self, route: str, started: float) -> None:
        """A call begun at `started` (perf_counter) answered now."""
        if self.in_window(started):
            self.calls[route].append((time.perf_counter() - started) * 1000)

    def relay(self, kind: str, sent: float) -> None:
        if self.in_window(sent):
            self.relays[kind].append((time.perf_counter() - sent) * 1000)

    def error(self, what: str) -> None:
        self.errors[what.split(":")[0]] += 1
        if len(self.first_errors) < 5:
            self.first_errors.append(what[:200])


def _stamp() -> str:
    """The send time a relayed message carries in its text (read by `_sent_at`)."""
    return f"t={time.perf_counter():.9f} "


def _chat_sent_at(text: str) -> float | None:
    return _sent_at({"sdp": " " + text})


# -- one person's browser and socket ---------------------------------------------------------

class Browser:
    """One person's browser: its cookies, a few connections, her socket."""

    def __init__(self, base: str, public: str, tally: Tally) -> None:
        self.base, self.public, self.tally = base, public, tally
        self.session = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            connector=aiohttp.TCPConnector(limit_per_host=BROWSER_CONNECTIONS),
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S))
        self.socket: Socket | None = None

    def path(self, url: str) -> str:
        """A link or Location made for the public URL, as a path on this run's server."""
        return url.removeprefix(self.public)

    async def get(self, route: str, url: str, expect: tuple[int, ...] = (200,)) -> tuple[int, Any]:
        """GET, timed as `route`; (status, body: JSON when it is JSON, else the Location)."""
        return await self._call("GET", route, url, expect, None)

    async def post(self, route: str, url: str, body: dict[str, Any],
                   expect: tuple[int, ...] = (201,)) -> tuple[int, Any]:
        return await self._call("POST", route, url, expect, body)

    async def _call(self, method: str, route: str, url: str, expect: tuple[int, ...],
                    body: dict[str, Any] | None) -> tuple[int, Any]:
        started = time.perf_counter()
        headers = {"Accept": "application/json"} if route.endswith(("json", "api")) else {}
        if method == "POST":
            headers["Origin"] = self.public
        try:
            async with self.session.request(method, self.base + self.path(url), json=body,
                                            headers=headers, allow_redirects=False) as response:
                raw = await response.read()
                status = response.status
                answer: Any = response.headers.get("Location", "")
                if response.content_type == "application/json" and raw:
                    answer = json.loads(raw)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Failure(f"{route}: {type(exc).__name__}") from None
        self.tally.call(route, started)
        if status not in expect:
            raise Failure(f"{route}: answered {status}")
        return status, answer

    async def open_page(self, route: str, link: str, assets: list[str] = ()) -> None:
        """The link (303 and its cookie), the page it leads to, and the page's files."""
        _, location = await self.get(f"{route} link", link, (303,))
        await self.get(f"{route} page", location)
        if assets:
            await asyncio.gather(*(self.get("static file", a) for a in assets))

    async def open_socket(self, visit_id: str) -> Socket:
        started = time.perf_counter()
        try:
            ws = await self.session.ws_connect(f"{self.base}/visits/{visit_id}/ws", origin=self.public,
                                               heartbeat=None, compress=0)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Failure(f"socket open: {type(exc).__name__} {exc}") from None
        self.socket = Socket(ws, self.tally)
        welcome = await self.socket.expect("welcome")
        self.tally.call("socket open to welcome", started)
        self.socket.me = welcome["you"]["id"]
        self.socket.start_pinging()
        return self.socket

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()
        await self.session.close()


class Socket:
    """A visit socket: a reader that times relayed messages as they land, an inbox, pings."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, tally: Tally) -> None:
        self.ws, self.tally, self.me = ws, tally, ""
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.kept: list[dict[str, Any]] = []
        self.sent: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)
        """Send times of this socket's peer's demo messages to it (they carry no text)."""
        self.pings: dict[int, float] = {}
        self.reader = asyncio.ensure_future(self._read())
        self.pinger: asyncio.Future[None] | None = None

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                if frame.type != aiohttp.WSMsgType.TEXT:
                    continue
                message = json.loads(frame.data)
                kind = message.get("type")
                if kind in ("offer", "answer", "candidate"):
                    sent = _sent_at(message)
                    if sent is not None:
                        self.tally.relay(kind, sent)
                elif kind == "chat" and message.get("from", {}).get("id") != self.me:
                    sent = _chat_sent_at(message.get("text", ""))
                    if sent is not None:
                        self.tally.relay(kind, sent)
                elif kind in ("demo-show", "demo-control") and self.sent[kind]:
                    self.tally.relay(kind, self.sent[kind].popleft())
                elif kind == "pong":
                    sent = self.pings.pop(message.get("t"), None)
                    if sent is not None:
                        self.tally.call("socket ping to pong", sent)
                    continue
                elif kind == "error":
                    self.tally.error(f"socket error {message.get('code')} re {message.get('re')}")
                self.inbox.put_nowait(message)
        except (aiohttp.ClientError, ConnectionError):
            pass

    def start_pinging(self) -> None:
        async def ping() -> None:
            for n in itertools.count():
                await asyncio.sleep(PING_EVERY_S)
                self.pings[n] = time.perf_counter()
                try:
                    await self.send({"type": "ping", "t": n})
                except Failure:  # the socket closed: the script says so where it waits
                    return
        self.pinger = asyncio.ensure_future(ping())

    async def send(self, message: dict[str, Any]) -> None:
        try:
            await self.ws.send_str(json.dumps(message))
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise Failure(f"socket send {message['type']}: {type(exc).__name__}") from None

    async def expect(self, kind: str, match: Any = None, timeout: float = REQUEST_TIMEOUT_S) -> dict[str, Any]:
        """The next message of this type (and `match`), kept ones first; Failure after
        `timeout`. Messages not asked for are kept (at most 100) for a later expect."""
        def fits(m: dict[str, Any]) -> bool:
            return m.get("type") == kind and (match is None or match(m))
        for i, message in enumerate(self.kept):
            if fits(message):
                return self.kept.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            try:
                message = await asyncio.wait_for(self.inbox.get(), deadline - time.monotonic())
            except (TimeoutError, ValueError):
                raise Failure(f"no {kind}: within {timeout:g} s"
                              + (" (socket closed)" if self.ws.closed else "")) from None
            if fits(message):
                return message
            self.kept = (self.kept + [message])[-100:]

    async def close(self) -> None:
        for task in (self.pinger, self.reader):
            if task is not None:
                task.cancel()
        if not self.ws.closed:
            try:
                await self.send({"type": "bye"})
            except Failure:
                pass
            await self.ws.close()


# -- one visit -------------------------------------------------------------------------------

@dataclass
class Meeting:
    """What the two sides of a visit tell each other in the generator."""

    arrived: float
    length: float
    admit_sent: float = 0.0
    assignments: list[int] = field(default_factory=list)
    call_over: asyncio.Event = field(default_factory=asyncio.Event)
    assigned: asyncio.Event = field(default_factory=asyncio.Event)
    demo_sent: dict[str, collections.deque[float]] = field(
        default_factory=lambda: collections.defaultdict(collections.deque))
    """Send times of the therapist's demo messages, read by the patient's socket."""

    async def at(self, share: float) -> None:
        """Sleep until this share of the visit's length after its arrival."""
        await asyncio.sleep(max(0.0, self.arrived + share * self.length - time.perf_counter()))


def _offer(kind: str, to: str) -> dict[str, Any]:
    return {"type": kind, "to": to, "sdp": f"v=0 {_stamp()}{OFFER_PAD}"}


def _candidate(to: str) -> dict[str, Any]:
    return {"type": "candidate", "to": to, "candidate": {
        "candidate": f"candidate:1 1 udp 1 127.0.0.1 9 typ host {_stamp()}{CANDIDATE_PAD}",
        "sdpMid": "0", "sdpMLineIndex": 0}}


async def _patient(browser: Browser, record: Record, meeting: Meeting, assets: list[str],
                   rng: random.Random) -> None:
    tally, vid = browser.tally, record.visit_id
    await browser.open_page("call", record.patient_link, assets)
    socket = await browser.open_socket(vid)
    socket.sent = meeting.demo_sent
    admitted = asyncio.ensure_future(socket.expect("admitted", timeout=meeting.length))

    async def ask_presence() -> None:
        while not admitted.done():
            status, _ = await browser.get("presence json", f"/visits/{vid}/presence", (200, 409))
            if status == 409:
                tally.presence_409 += 1
                await asyncio.sleep(2)
                if not admitted.done():
                    await browser.get("presence json", f"/visits/{vid}/presence", (200, 409))
            await asyncio.wait([admitted], timeout=PRESENCE_EVERY_S)
    asking = asyncio.ensure_future(ask_presence())
    try:
        _, pending = await browser.get("visit questionnaires json", f"/visits/{vid}/questionnaires.json")
        await asyncio.sleep(rng.uniform(1.0, 2.0))
        for form in pending["pending"]:
            await browser.post("visit questionnaire fill", f"/visits/{vid}/questionnaires/{form['instrument']}",
                               {"due_at": form["due_at"], "answers": {"items": {"pain": rng.randint(2, 6)}}})
        await admitted
        tally.call("admit to admitted", meeting.admit_sent)
    finally:
        admitted.cancel()
        await asking
    therapist = (await socket.expect("offer"))["from"]
    await socket.send(_offer("answer", therapist))
    for _ in range(CANDIDATES):
        await socket.send(_candidate(therapist))
    for _ in range(CANDIDATES):
        await socket.expect("candidate")
    shown = await socket.expect("demo-show", timeout=meeting.length)
    await browser.get("library exercise api", f"/api/library/exercises/{shown['exercise']}")
    await socket.expect("demo-control")
    await socket.expect("demo-control")
    for n in range(CHATS):
        await socket.expect("chat", lambda m: m.get("from", {}).get("id") == therapist, meeting.length)
        await asyncio.sleep(rng.uniform(1.0, 2.0))
        await socket.send({"type": "chat", "text": f"{_stamp()}answer {n} from the patient"})
    await asyncio.wait_for(meeting.assigned.wait(), meeting.length)
    await meeting.at(0.72)
    await socket.close()
    browser.socket = None
    meeting.call_over.set()
    # Her plan-of-care page after the call, then her log and her reminder.
    plan = f"/care/{record.plan_id}"
    await meeting.at(0.76)
    await browser.open_page("plan", record.plan_link)
    await asyncio.gather(browser.get("plan service worker", "/care/offline.js"),
                         browser.get("plan questionnaires json", f"{plan}/questionnaires.json"),
                         browser.get("plan messages json", f"{plan}/messages"))
    await meeting.at(0.86)
    now = int(time.time())
    await browser.post("plan log", f"{plan}/log", {
        "client_key": f"bench-{vid}", "done_at": now - 60, "effort": rng.randint(3, 7), "note": "",
        "entries": [{"assignment_id": a, "status": "done", "pain": rng.randint(1, 5),
                     "reps": rng.randint(5, 12)} for a in meeting.assignments]})
    await meeting.at(0.92)
    minute = (now // 60 - 1) % (24 * 60)
    await browser.post("plan reminder", f"{plan}/reminder", {"minute": minute}, (200,))


async def _therapist(browser: Browser, record: Record, meeting: Meeting, rng: random.Random) -> None:
    vid = record.visit_id
    await meeting.at(rng.uniform(0.05, 0.12))
    await browser.open_page("call", record.therapist_link)
    socket = await browser.open_socket(vid)
    await asyncio.gather(browser.get("care json", f"/visits/{vid}/care.json"),
                         browser.get("library conditions api", "/api/library/conditions"),
                         browser.get("program json", f"/visits/{vid}/assignments"))
    lobby = await socket.expect("lobby", lambda m: bool(m.get("waiting")), meeting.length)
    patient = lobby["waiting"][0]["id"]
    await meeting.at(0.16)
    meeting.admit_sent = time.perf_counter()
    await socket.send({"type": "admit", "participant": patient})
    await socket.expect("peer-joined")
    await socket.send(_offer("offer", patient))
    await socket.expect("answer")
    for _ in range(CANDIDATES):
        await socket.send(_candidate(patient))
    for _ in range(CANDIDATES):
        await socket.expect("candidate")
    # A demo: the condition's page of the library panel, the exercise, shown and driven.
    await meeting.at(0.30)
    await browser.get("library condition api", f"/api/library/conditions/{record.condition}")
    slug = record.exercises[0]
    await browser.get("library exercise api", f"/api/library/exercises/{slug}")
    meeting.demo_sent["demo-show"].append(time.perf_counter())
    await socket.send({"type": "demo-show", "exercise": slug})
    for action, share in (("play", 0.33), ("pause", 0.38)):
        await meeting.at(share)
        meeting.demo_sent["demo-control"].append(time.perf_counter())
        await socket.send({"type": "demo-control", "action": action, "frame": rng.randint(0, 100),
                           "playing": action == "play", "speed": 1})
    for n in range(CHATS):
        await meeting.at(0.42 + 0.06 * n)
        await socket.send({"type": "chat", "text": f"{_stamp()}question {n} from the therapist"})
        await socket.expect("chat", lambda m: m.get("from", {}).get("id") == patient, meeting.length)
    for share, exercise in zip((0.62, 0.66), record.exercises[:2]):
        await meeting.at(share)
        _, item = await browser.post("program assign", f"/visits/{vid}/assignments",
                                     {"exercise": exercise, "sets": 2, "reps": 10})
        meeting.assignments.append(item["id"])
        await browser.get("program json", f"/visits/{vid}/assignments")
    meeting.assigned.set()
    await asyncio.wait_for(meeting.call_over.wait(), meeting.length)
    await socket.expect("peer-left")


async def _visit(base: str, public: str, record: Record, length: float, assets: list[str],
                 tally: Tally, seed: float) -> None:
    """One visit from the patient's arrival to her reminder; errors counted, never raised."""
    rng = random.Random(seed)
    meeting = Meeting(arrived=time.perf_counter(), length=length)
    patient, therapist = Browser(base, public, tally), Browser(base, public, tally)
    tally.visits_started += 1
    tally.active += 1
    try:
        async with asyncio.timeout(length * 2 + 30):
            async with asyncio.TaskGroup() as group:
                group.create_task(_patient(patient, record, meeting, assets, random.Random(rng.random())))
                group.create_task(_therapist(therapist, record, meeting, random.Random(rng.random())))
        tally.visits_done += 1
    except TimeoutError:
        tally.error(f"visit: not over within {length * 2 + 30:g} s")
    except BaseExceptionGroup as group:
        first = group.exceptions[0]
        tally.error(str(first) if isinstance(first, Failure) else f"visit {type(first).__name__}: {first}")
        if not isinstance(first, Exception):
            raise
    finally:
        tally.active -= 1
        await patient.close()
        await therapist.close()


# -- the records, made once through the real API ---------------------------------------------

async def _sign_in_admin(admin: aiohttp.ClientSession, base: str) -> str:
    """The admin signed in through the login form; returns the CSRF token of her forms."""
    async with admin.get(f"{base}/login") as response:
        token = _CSRF.search(await response.text())
    if token is None:
        raise SystemExit("the login page has no CSRF token")
    async with admin.post(f"{base}/login", allow_redirects=False, data={
            "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "csrf_token": token.group(1)}) as response:
        if response.status != 303:
            raise SystemExit(f"the admin's sign-in answered {response.status}")
    async with admin.get(f"{base}/admin/api-keys") as response:
        token = _CSRF.search(await response.text())
    assert token is not None
    return token.group(1)


async def _api_key(admin: aiohttp.ClientSession, base: str, csrf: str) -> str:
    """A key with every scope, made on the admin's API keys page."""
    async with admin.post(f"{base}/admin/api-keys", data={
            "name": "clinic day", "scopes": "everything", "csrf_token": csrf}) as response:
        found = re.search(r'id="new-key" readonly value="([^"]+)"', await response.text())
    if response.status != 201 or found is None:
        raise SystemExit(f"making an API key answered {response.status}")
    return found.group(1)


async def _conditions(api: aiohttp.ClientSession, base: str) -> list[tuple[str, list[str]]]:
    """The library's conditions with at least two exercises: (slug, exercise slugs)."""
    async with api.get(f"{base}/api/library/conditions") as response:
        slugs = [c["slug"] for c in (await response.json())["conditions"]]
    found = []
    for slug in slugs:
        async with api.get(f"{base}/api/library/conditions/{slug}") as response:
            exercises = [e["slug"] for e in (await response.json())["exercises"]]
        if len(exercises) >= 2:
            found.append((slug, exercises))
    return found


async def _json(response: aiohttp.ClientResponse, expect: int) -> Any:
    if response.status != expect:
        raise SystemExit(f"{response.method} {response.url.path} answered {response.status}: "
                         f"{(await response.text())[:300]}")
    return await response.json()


async def _one_record(api: aiohttp.ClientSession, admin: aiohttp.ClientSession, base: str,
                      csrf: str, n: int, condition: tuple[str, list[str]]) -> Record:
    async with api.post(f"{base}/api/patients", json={
            "name": f"Bench Patient {n}", "email": f"patient{n}@bench.example.org",
            "email_consent": True}) as response:
        patient = (await _json(response, 201))["patient_id"]
    async with api.post(f"{base}/api/patients/{patient}/plans", json={
            "condition": condition[0], "goals": "Lift her baby without pain"}) as response:
        plan = await _json(response, 201)
    async with admin.post(f"{base}/admin/plans/{plan['plan_id']}/questionnaires", allow_redirects=False,
                          data={"instrument": INSTRUMENT, "every_weeks": "2", "csrf_token": csrf}) as response:
        if response.status != 303:
            raise SystemExit(f"attaching the questionnaire answered {response.status}")
    async with api.post(f"{base}/api/visits", json={
            "patient_id": patient, "plan_id": plan["plan_id"], "therapist_name": f"Therapist {n % 7}",
            "minutes": 240, "kind": "follow-up"}) as response:
        visit = await _json(response, 201)
    exercises, first = condition[1], n % len(condition[1])
    return Record(visit["visit_id"], visit["patient_url"], visit["therapist_url"], plan["plan_id"],
                  plan["url"], condition[0], [exercises[first], exercises[(first + 1) % len(exercises)]])


_FILE = re.compile(r'(?:href|src)="(/static/[^"]+)"')
_MODULE = re.compile(r"""(?:\bfrom|\bimport)\s*["'](\./[^"']+)["']""")


async def _page_files(session: aiohttp.ClientSession, public: str, link: str) -> list[str]:
    """The files a call page loads with an empty cache: its stylesheets, icon and scripts,
    and the ES modules they import statically (not those loaded later by `import()`)."""
    async with session.get(link) as response:
        found = _FILE.findall(await response.text())
    files: list[str] = []
    while found:
        url = found.pop()
        if url in files:
            continue
        files.append(url)
        if url.split("?")[0].endswith(".js"):
            async with session.get(public + url) as response:
                folder = url.split("?")[0].rsplit("/", 1)[0]
                found.extend(f"{folder}/{name[2:]}" for name in _MODULE.findall(await response.text()))
    return sorted(files)


async def make_records(db: Path, count: int) -> tuple[str, list[Record], list[str]]:
    """`count` visits with their patients and plans, through a server on `db` (stopped
    after); returns its public URL (the links'), the records and the call page's files."""
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    server = start_server(db, port, core=None)
    try:
        await wait_http(f"{public}/healthz", timeout=60)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as admin:
            csrf = await _sign_in_admin(admin, public)
            key = await _api_key(admin, public, csrf)
            async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as api:
                conditions = await _conditions(api, public)
                semaphore = asyncio.Semaphore(SETUP_CONCURRENCY)

                async def one(n: int) -> Record:
                    async with semaphore:
                        return await _one_record(api, admin, public, csrf, n, conditions[n % len(conditions)])
                records = list(await asyncio.gather(*(one(n) for n in range(count + 1))))
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            # One more visit, used only here: the others' links open first in the sweep.
            assets = await _page_files(browser, public, records.pop().patient_link)
    finally:
        stop_server(server)
    return public, records, assets


# -- one level on one setup ------------------------------------------------------------------

def schedule(visits: int, length: float, seconds: float, seed: int) -> list[float]:
    """Arrival offsets (s): Poisson at `visits / length` a second for `length + seconds`."""
    rng, rate, at, out = random.Random(seed * 100003 + visits), visits / length, 0.0, []
    while True:
        at += rng.expovariate(rate)
        if at >= length + seconds:
            return out
        out.append(at)


def _copy_database(template: Path, target: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{template}{suffix}")
        if source.exists():
            shutil.copyfile(source, Path(f"{target}{suffix}"))


async def _warm_up(base: str, public: str, spares: list[Record], assets: list[str]) -> None:
    """Whole visits (of records kept for it) before the baseline, so that what a server
    loads once (templates, the library's JSON, each worker's first socket, SQLite's cache)
    is not counted per visit."""
    tally = Tally()
    await asyncio.gather(*(_visit(base, public, record, WARM_UP_VISIT_S, assets, tally, n)
                           for n, record in enumerate(spares)))
    if tally.errors:
        print(f"  warm-up: {dict(tally.errors)} {tally.first_errors}", flush=True)


def _figures(values: list[float]) -> dict[str, Any]:
    return {"n": len(values), "p50": _percentile(values, 0.5), "p99": _percentile(values, 0.99)}


async def run_level(setup: str, visits: int, seconds: float, length: float, *, template: Path,
                    public: str, records: list[Record], assets: list[str], arrivals: list[float],
                    folder: Path) -> dict[str, Any]:
    """One level on one setup: a fresh server on a copy of the records; its figures."""
    workers = SETUPS[setup]
    folder.mkdir()
    db = folder / "clinic.db"
    _copy_database(template, db)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**SERVER_ENV, "VISITROOM_PUBLIC_URL": public}
    redis_server: Server | None = None
    if workers > 1:
        redis_server, env["VISITROOM_REDIS_URL"] = start_redis(folder, core=None)
    server = start_server(db, port, extra_env=env, core=None, workers=workers)
    try:
        await wait_http(f"{base}/healthz", timeout=60)
        pids = [server.pid] + (await _worker_pids(server, workers) if workers > 1 else [])
        await _warm_up(base, public, records[-WARM_UP_VISITS:], assets)
        await asyncio.sleep(1.0)
        baseline_kb = sum(_rss(pids))
        row = await _load(base, public, pids, redis_server, baseline_kb, visits, seconds, length,
                          records, assets, arrivals)
    finally:
        stop_server(server)
        if redis_server is not None:
            stop_server(redis_server)
    queued = outbox_kinds(db)
    queued.subtract(outbox_kinds(template))
    return {"setup": setup, **row, "reminders_queued": dict(+queued)}


def outbox_kinds(db: Path) -> collections.Counter[str]:
    """Messages in a stopped server's outbox, by kind (the reminders its job composed)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return collections.Counter(dict(conn.execute("SELECT kind, COUNT(*) FROM outbox GROUP BY kind")))


async def _load(base: str, public: str, pids: list[int], redis_server: Server | None,
                baseline_kb: int, visits: int, seconds: float, length: float,
                records: list[Record], assets: list[str], arrivals: list[float]) -> dict[str, Any]:
    tally = Tally()
    start = time.perf_counter() + 0.2
    tally.window = (start + length, start + length + seconds)
    ours = {"server": pids, "generator": [os.getpid()],
            "redis": [redis_server.pid] if redis_server else []}
    samples: list[tuple[int, int]] = []
    lags: list[float] = []
    cpu: dict[str, Any] = {}

    async def watch() -> None:
        """The generator's loop lag, then memory, concurrency and CPU over the window."""
        tick = time.perf_counter()
        while tick < tally.window[1]:
            await asyncio.sleep(0.1)
            now = time.perf_counter()
            if tally.in_window(now):
                lags.append((now - tick - 0.1) * 1000)
            tick = now

    async def sample() -> None:
        await asyncio.sleep(max(0.0, tally.window[0] - time.perf_counter()))
        before = {name: [cpu_seconds(p) for p in group] for name, group in ours.items()}
        machine0, began = loop_watch.machine_jiffies(), time.perf_counter()
        while time.perf_counter() < tally.window[1]:
            await asyncio.sleep(SAMPLE_EVERY_S)
            samples.append((sum(_rss(pids)), tally.active))
        after = {name: [cpu_seconds(p) for p in group] for name, group in ours.items()}
        machine1, elapsed = loop_watch.machine_jiffies(), time.perf_counter() - began
        used = {name: [b - a for a, b in zip(before[name], after[name])] for name in ours}
        mine = sum(sum(v) for v in used.values())
        busy = (machine1[0] - machine0[0]) / loop_watch.TICKS_PER_SECOND
        cpu.update({
            "server_cpu_pct": [round(100 * v / elapsed) for v in used["server"]],
            "redis_cpu_pct": round(100 * sum(used["redis"]) / elapsed) if used["redis"] else None,
            "generator_cpu_pct": round(100 * sum(used["generator"]) / elapsed),
            "machine_busy_pct": round(100 * busy / elapsed),
            "others_cpu_pct": round(100 * max(0.0, busy - mine) / elapsed)})

    watcher, sampler = asyncio.ensure_future(watch()), asyncio.ensure_future(sample())
    days: list[asyncio.Future[None]] = []
    # The generator's own full collections stopped it for up to 0.4 s at 400 visits (every
    # call in flight then looked that much slower): none during the level, one after it.
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        for n, offset in enumerate(arrivals):
            await asyncio.sleep(max(0.0, start + offset - time.perf_counter()))
            days.append(asyncio.ensure_future(_visit(base, public, records[n], length, assets, tally,
                                                      random.random())))
        await asyncio.gather(watcher, sampler)
        generator_kb = rss_kb(os.getpid())
        _done, late = await asyncio.wait(days, timeout=length * 2 + 60)
        for day in late:
            day.cancel()
        if late:
            tally.error(f"visit: {len(late)} still running at the level's end")
            await asyncio.wait(late, timeout=10)
    finally:
        gc.enable()
        gc.unfreeze()
        gc.collect()
    server_kb = sum(s[0] for s in samples) / len(samples)
    concurrent = sum(s[1] for s in samples) / len(samples)
    routes = {route: _figures(v) for route, v in sorted(tally.calls.items())}
    relayed = [ms for v in tally.relays.values() for ms in v]
    worst = max(routes, key=lambda r: routes[r]["p99"] or 0.0)
    page_p99 = routes[worst]["p99"]
    relay_p99 = _percentile(relayed, 0.99)
    errors = sum(tally.errors.values())
    return {
        "visits": visits, "concurrent_mean": round(concurrent, 1),
        "concurrent_max": max(s[1] for s in samples), "arrivals": len(arrivals),
        "visits_completed": tally.visits_done, "calls": sum(r["n"] for r in routes.values()),
        "page_p50_ms": _percentile([ms for v in tally.calls.values() for ms in v], 0.5),
        "page_p99_ms": page_p99, "page_worst_route": worst,
        "relay_p50_ms": _percentile(relayed, 0.5), "relay_p99_ms": relay_p99,
        "relay_messages": len(relayed), "errors": errors, "error_kinds": dict(tally.errors),
        "first_errors": tally.first_errors, "presence_409": tally.presence_409,
        "rss_baseline_mb": round(baseline_kb / 1024, 1), "rss_mb": round(server_kb / 1024, 1),
        "kb_per_visit": round((server_kb - baseline_kb) / max(concurrent, 1.0), 1),
        **cpu, "generator_lag_p99_ms": _percentile(lags, 0.99),
        "generator_rss_mb": round(generator_kb / 1024, 1),
        "held": bool(page_p99 is not None and page_p99 <= PAGE_TARGET_MS and relay_p99 is not None
                     and relay_p99 <= RELAY_TARGET_MS and errors == 0),
        "routes": routes,
        "relay_by_kind": {kind: _figures(v) for kind, v in sorted(tally.relays.items())}}


# -- the sweep, its table and its chart ------------------------------------------------------

async def sweep(levels: list[int], setups: list[str], seconds: float, length: float,
                seed: int) -> list[dict[str, Any]]:
    """Every level on every setup (levels interleaved, so that the machine's other work
    falls on both alike); each row one level's figures."""
    raise_file_limit()
    arrivals = {n: schedule(n, length, seconds, seed) for n in levels}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        template = tmp / "template.db"
        count = max(len(a) for a in arrivals.values()) + WARM_UP_VISITS
        began = time.perf_counter()
        public, records, assets = await make_records(template, count)
        print(f"made {count} visits with their patients and plans through the API in "
              f"{time.perf_counter() - began:.0f} s; the call page loads {len(assets)} files", flush=True)
        rows = []
        for n in levels:
            for setup in setups:
                row = await run_level(setup, n, seconds, length, template=template, public=public,
                                      records=records, assets=assets, arrivals=arrivals[n],
                                      folder=tmp / f"{setup}-{n}")
                print(_line(row), flush=True)
                rows.append(row)
    return rows


def _line(row: dict[str, Any]) -> str:
    return (f"{row['setup']:8} {row['visits']:4} visits (mean {row['concurrent_mean']}): "
            f"page p99 {row['page_p99_ms']} ms ({row['page_worst_route']}), relay p99 "
            f"{row['relay_p99_ms']} ms, errors {row['errors']}, RSS {row['rss_mb']} MB, "
            f"CPU server {row['server_cpu_pct']} redis {row['redis_cpu_pct']} generator "
            f"{row['generator_cpu_pct']} others {row['others_cpu_pct']} %, generator lag p99 "
            f"{row['generator_lag_p99_ms']} ms, RSS baseline {row['rss_baseline_mb']} MB, "
            f"{row['visits_completed']}/{row['arrivals']} visits done, held {row['held']}")


def print_tables(rows: list[dict[str, Any]]) -> None:
    """The summary table, each setup's routes by level, and the point where each stops."""
    print("\n| setup | visits (mean concurrent) | page/API p50 / p99 ms (worst route) | relay p50 / p99 ms "
          "| errors | server RSS MB | KB per visit | CPU % (server processes; Redis; generator; others) "
          "| generator lag p99 ms | held |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['setup']} | {r['visits']} ({r['concurrent_mean']}) | {r['page_p50_ms']} / "
              f"**{r['page_p99_ms']}** ({r['page_worst_route']}) | {r['relay_p50_ms']} / "
              f"**{r['relay_p99_ms']}** | {r['errors']} | {r['rss_mb']} | {r['kb_per_visit']} | "
              f"{' + '.join(map(str, r['server_cpu_pct']))}; {'-' if r['redis_cpu_pct'] is None else r['redis_cpu_pct']}; "
              f"{r['generator_cpu_pct']}; {r['others_cpu_pct']} | {r['generator_lag_p99_ms']} | "
              f"{'yes' if r['held'] else 'no'} |")
    for setup in dict.fromkeys(r["setup"] for r in rows):
        mine = [r for r in rows if r["setup"] == setup]
        print(f"\n{setup}: p99 ms by route (n calls in the window) and level")
        routes = sorted({route for r in mine for route in r["routes"]})
        print(f"{'route':32}" + "".join(f"{r['visits']:>16}" for r in mine))
        for route in routes:
            cells = [r["routes"].get(route) for r in mine]
            print(f"{route:32}" + "".join(f"{c['p99']:>9} ({c['n']:>4})" if c else f"{'-':>16}"
                                          for c in cells))
        for r in mine:
            if r["errors"]:
                print(f"  {r['visits']} visits: errors {r['error_kinds']}; first: {r['first_errors']}")
        held = [r["visits"] for r in mine if r["held"]]
        below = [r["visits"] for r in mine if not r["held"] and (not held or r["visits"] > max(held))]
        print(f"{setup}: largest level held {max(held) if held else 'none'}"
              + (f"; stops holding at {min(below)}" if below else "; held at every level"))


def draw_chart(rows: list[dict[str, Any]], path: Path) -> None:
    """Page/API p99 (worst route) and relay p99 against the visits that were open at once
    (mean over each level's window), a line per setup, the targets as lines; a red ring
    where the level did not hold; beside them the CPU the machine's other processes used."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    fig, (pages, relay, others) = plt.subplots(1, 3, figsize=(14, 4), dpi=110,
                                               gridspec_kw={"width_ratios": (3, 3, 2)})
    labels = {"workers2": "serve --workers 2 (+ Redis)", "one": "one process (SQLite)"}
    for setup, style, color in zip(dict.fromkeys(r["setup"] for r in rows), ("o-", "s--"), ("C0", "C2")):
        mine = [r for r in rows if r["setup"] == setup]
        visits = [r["concurrent_mean"] for r in mine]
        for axis, key in ((pages, "page_p99_ms"), (relay, "relay_p99_ms")):
            axis.plot(visits, [r[key] for r in mine], style, color=color, label=labels.get(setup, setup))
            missed = [r for r in mine if not r["held"]]
            axis.plot([r["concurrent_mean"] for r in missed], [r[key] for r in missed], style[0],
                      ms=11, mfc="none", mec="red")
        others.plot(visits, [r["others_cpu_pct"] for r in mine], style, color=color,
                    label=labels.get(setup, setup))
    pages.axhline(PAGE_TARGET_MS, color="grey", ls=":", label=f"target {PAGE_TARGET_MS:g} ms")
    relay.axhline(RELAY_TARGET_MS, color="grey", ls=":", label=f"target {RELAY_TARGET_MS:g} ms")
    pages.set(title="Every page and API call: p99 of the worst route", ylabel="ms")
    relay.set(title="Relayed messages: p99 one way", ylabel="ms")
    others.set(title="Other processes' CPU meanwhile", ylabel="% of one core (2 cores: 200)",
               xlabel="concurrent visits, mean over the window", xscale="log", ylim=(0, 200))
    others.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    others.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    others.xaxis.set_minor_formatter(NullFormatter())
    others.grid(True, alpha=0.3)
    others.legend(fontsize=8)
    for axis in (pages, relay):
        axis.set(xlabel="concurrent visits, mean over the window (red ring: not held)",
                 xscale="log", yscale="log")
        for locator in (axis.xaxis, axis.yaxis):
            locator.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            locator.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            locator.set_minor_formatter(NullFormatter())
        axis.grid(True, alpha=0.3, which="both")
        axis.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", default="10,25,50,100,200,400,800",
                        help="concurrent visits of each level, comma-separated")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured window of each level")
    parser.add_argument("--visit-seconds", type=float, default=45.0, help="length of one visit's script")
    parser.add_argument("--setups", default="workers2,one", help="workers2 and/or one, comma-separated")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--chart", type=Path, help="write the PNG chart here")
    parser.add_argument("--json", action="store_true", help="end with the rows as one JSON line")
    args = parser.parse_args()
    levels = [int(v) for v in args.visits.split(",")]
    setups = args.setups.split(",")
    if not all(1 <= v <= 2000 for v in levels) or not 10 <= args.seconds <= 600 \
            or not 20 <= args.visit_seconds <= 300 or not set(setups) <= set(SETUPS):
        parser.error("--visits 1..2000 each, --seconds 10..600, --visit-seconds 20..300, "
                     f"--setups of {', '.join(SETUPS)}")
    use_uvloop()
    print(f"clinic day on {time.strftime('%Y-%m-%d %H:%M', time.localtime())}, {os.cpu_count()} cores; "
          f"levels {levels}, {args.seconds:g} s measured after a {args.visit_seconds:g} s ramp", flush=True)
    rows = asyncio.run(sweep(levels, setups, args.seconds, args.visit_seconds, args.seed))
    print_tables(rows)
    for setup in setups:
        held = [r["visits"] for r in rows if r["setup"] == setup and r["held"]]
        print(f"target (page/API p99 <= {PAGE_TARGET_MS:g} ms, relay p99 <= {RELAY_TARGET_MS:g} ms, "
              f"0 errors) at {levels[0]} visits, {setup}: {verdict(levels[0] in held)}")
    if args.chart:
        draw_chart(rows, args.chart)
        print(f"chart written to {args.chart}")
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
