"""Weight of every page a patient opens, as the server serves it to her browser.

    python -m bench.page_weight [--files] [--json]

Starts the real server (`run.py serve`, a temporary SQLite database) and, through it as a
clinic and a patient would, makes a plan of care (the API: a patient, her plan and its plan
link; the admin's form: two questionnaires), a visit of that plan and its home program (the
therapist's link: three exercises). Then, as her browser, with an empty cache for each page:

- join: her visit link (`/join/…`, a 303) and the page it leads to, as it opens on the device
  check: HTML, styles, icon, `call.js` with every module it imports, and the modules the page
  imports when it starts (her waiting room's presence and questionnaires);
- waiting room: what pressing Join adds (her socket knocks; the presence question the page
  asks while her therapist is away); call: what being let in adds (measuring's router,
  screen sharing, the demo renderer, the weak network's steps, loaded at the call's first
  quality sample). The "call page, all of it" row is the whole page up to then;
- plan-of-care home: her plan link (a 303) and `/care/{plan}` with nothing due, its
  modules, its offline service worker and what that worker fetches again for its copy
  (the page and its no-store JSON); questionnaire: the same page opened from the email that
  says two questionnaires are due; program: `/visits/{id}/program`.

Static imports are followed through the modules as served (each `import … from "./x.js"`),
and each dynamic `import()` is put with the moment the page runs it (`DYNAMIC` below; one not
listed there counts with the call, and is named). Bytes are bodies as served to a browser
that sends Chromium's Accept-Encoding (`gzip, deflate, br, zstd`: the server deflates pages
and gzips static files), and raw (decoded); headers are not counted. The JSON the pages fetch
to fill themselves (presence, questionnaires, exercise demos) is counted apart, as data.

What loads only on demand is reported apart: measuring (in the call, or counting at home) —
its modules, styles and worker, `/measure/setup.json`, the measurements file and the pose
model's files from `/vendor/` (the library, the model, the SIMD .wasm Chromium picks without
cross-origin isolation); "model not fetched" when this server has no pose model
(`python3 run.py fetch-pose-model`; note that `run.py serve` tries to fetch it from the npm
registry at its first start) — and the connection check.

Target (issue 25): the call page (HTML, CSS and every ES module loaded by the time she is in
the call) ≤ 100 KB gzipped, as served.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import re
import tempfile
import zlib
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.test_utils import TestClient

from bench.common import free_port, start_server, stop_server, wait_http

TARGET_CALL_SERVED = 100 * 1024
ACCEPT_ENCODING = "gzip, deflate, br, zstd"
"""What Chromium sends (checked against Debian's Chromium 2026-12; on plain http too)."""
ADMIN_EMAIL, ADMIN_PASSWORD = "admin@visitroom.local", "benchmark-admin-1"
CONDITION = "pelvic-girdle-pain"
PROGRAM = (("glute-bridge", {"sets": 2, "reps": 10, "hold_seconds": 5, "per_day": 1}),
           ("sit-to-stand", {"sets": 2, "reps": 8, "per_day": 1}),
           ("clamshell", {"sets": 2, "reps": 12, "per_day": 1}))
"""Her home program: three exercises, one of them counted with the camera."""
QUESTIONNAIRES = ("pgq", "psfs")

JOIN, WAITING, CALL = "join", "waiting room", "call"
MEASURING = "measuring"
DYNAMIC: dict[str, str] = {
    "call-presence.js": JOIN,           # call.js, as the page starts (patients)
    "care-questionnaires.js": JOIN,     # call.js, as the page starts (a plan's patient)
    "call-measure-route.js": CALL,      # call.js, on "admitted"
    "call-share.js": CALL,              # call-controls.js, on "admitted"
    "demo.js": CALL,                    # call-demo.js, preloaded on "admitted"
    "call-therapist.js": "therapist",   # the therapist's page only
    "call-measure-patient.js": MEASURING,  # the therapist's first measure- message
    "care-count.js": MEASURING,         # her first "Count with camera" tap at home
    "echo-check.js": "connection check",   # her "Check connection" tap
    "call-weak-network.js": CALL,       # call-stage.js, the call's first quality sample
}
"""When each module loaded by `import()` loads: with a state of the visit page, or on demand."""

TARGET_RAW = 100 * 1024
TARGET_COMPRESSED = 35 * 1024
"""The call page's first load in process (`measure_call_page`; tests/test_static_and_weight.py)."""
_ASSET = re.compile(r'(?:href|src)="(/static/[^"]+)"')
_IMPORT = re.compile(r'(?:import|from)\s*["\'](\./[^"\']+)["\']')
"""The page's own assets and a module's static imports, as bench/static.py reads them too."""

_STATIC = re.compile(r"""(?:\bfrom|\bimport)\s*["']([^"']+)["']""")
_DYNAMIC = re.compile(r"""\bimport\(\s*["']([^"']+)["']\s*\)""")
_WORKER_URL = re.compile(r"""new URL\(\s*["'](\.{1,2}/[^"']+)["']\s*,\s*import\.meta\.url\s*\)""")
_STYLESHEET = re.compile(r"""useStylesheet\(\s*["']([^"']+)["']\s*\)""")
_COMMENTS = re.compile(r"/\*.*?\*/|^\s*//[^\n]*", re.DOTALL | re.MULTILINE)


@dataclass
class Item:
    """One response as the browser got it."""

    url: str
    status: int
    raw: int
    served: int
    encoding: str
    data: bool = False
    cache: str = ""
    """Its Cache-Control."""
    etag: str = ""


@dataclass
class Load:
    """What one page (or one step of it) brought."""

    items: list[Item] = field(default_factory=list)

    def add(self, item: Item) -> None:
        self.items.append(item)

    def totals(self, *, data: bool = False) -> tuple[int, int, int]:
        """(requests, raw bytes, served bytes) of the code (or, with `data`, the data)."""
        picked = [i for i in self.items if i.data == data]
        return len(picked), sum(i.raw for i in picked), sum(i.served for i in picked)


class _Page(HTMLParser):
    """What an HTML page loads by itself (styles, icon, scripts, images) and its demo panels."""

    def __init__(self) -> None:
        super().__init__()
        self.assets: list[str] = []
        self.modules: list[str] = []
        self.demos: list[str] = []
        self.attrs: dict[str, dict[str, str]] = {}
        self.lang = "en"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.lang = a.get("lang", "en")
        if tag == "link" and set(a.get("rel", "").split()) & {"stylesheet", "icon"}:
            self.assets.append(a["href"])
        elif tag == "script" and a.get("src"):
            (self.modules if a.get("type") == "module" else self.assets).append(a["src"])
        elif tag == "img" and a.get("src") and not a["src"].startswith("data:"):
            self.assets.append(a["src"])
        if "demo-panel" in a.get("class", "").split() and a.get("data-exercise"):
            self.demos.append(a["data-exercise"])
        if a.get("id"):
            self.attrs[a["id"]] = a


class Browser:
    """A patient's browser: her cookies, and a cache that each page starts empty."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                             auto_decompress=False)
        self.cached: dict[str, str] = {}  # url -> module text (or "")
        self.dynamic: dict[str, str] = {}  # module url -> the module that imports it

    async def close(self) -> None:
        await self.session.close()

    def empty_cache(self) -> None:
        self.cached.clear()
        self.dynamic.clear()

    async def get(self, url: str, load: Load, *, data: bool = False, follow: bool = True,
                  headers: dict[str, str] | None = None) -> tuple[int, bytes, str]:
        """Fetch `url` (a 303 counted, then followed) unless cached; (status, body, final url)."""
        while True:
            path = url.removeprefix(self.base)
            async with self.session.get(self.base + path, allow_redirects=False, headers={
                    "Accept-Encoding": ACCEPT_ENCODING, **(headers or {})}) as response:
                wire = await response.read()
                encoding = response.headers.get("Content-Encoding", "identity")
                body = _decode(wire, encoding)
                load.add(Item(path, response.status, len(body), len(wire), encoding, data,
                              response.headers.get("Cache-Control", ""),
                              response.headers.get("ETag", "")))
                if response.status in (301, 302, 303, 307, 308) and follow:
                    url = urljoin(path, response.headers["Location"])
                    continue
                return response.status, body, path

    async def asset(self, url: str, load: Load) -> str:
        """A style, icon or script, once per page load; its text."""
        if url not in self.cached:
            status, body, _ = await self.get(url, load)
            if status != 200:
                raise RuntimeError(f"{url}: {status}")
            self.cached[url] = body.decode("utf-8", "replace")
        return self.cached[url]

    async def modules(self, entries: list[str], load: Load) -> None:
        """Every module `entries` import statically, fetched; their dynamic imports noted."""
        queue = list(entries)
        while queue:
            url = queue.pop(0)
            if url in self.cached:
                continue
            text = _COMMENTS.sub("", await self.asset(url, load))
            queue.extend(urljoin(url, spec) for spec in _STATIC.findall(text))
            for spec in _DYNAMIC.findall(text):
                self.dynamic.setdefault(urljoin(url, spec), url)
            for spec in _WORKER_URL.findall(text):
                await self.asset(urljoin(url, spec), load)
            for name in _STYLESHEET.findall(text):
                await self.asset(f"/static/css/{name}", load)

    async def page(self, url: str, load: Load) -> tuple[_Page, str]:
        """An HTML page (after its redirects) and what it loads by itself."""
        status, body, final = await self.get(url, load)
        if status != 200:
            raise RuntimeError(f"{url}: {status} {body[:200]!r}")
        parsed = _Page()
        parsed.feed(body.decode())
        for asset in parsed.assets:
            await self.asset(asset, load)
        await self.modules(parsed.modules, load)
        return parsed, final

    async def dynamic_of(self, when: str, load: Load, *, also_unlisted: bool = False) -> list[str]:
        """Load the dynamically imported modules of moment `when` (and what they import, and
        theirs of the same moment); with `also_unlisted`, those DYNAMIC does not name too."""
        unlisted = []
        while True:
            due = [url for url in self.dynamic if url not in self.cached and (
                DYNAMIC.get(_name(url)) == when or (also_unlisted and _name(url) not in DYNAMIC))]
            if not due:
                return unlisted
            unlisted.extend(_name(u) for u in due if _name(u) not in DYNAMIC)
            await self.modules(due, load)

    async def demos(self, parsed: _Page, load: Load) -> None:
        for slug in parsed.demos:
            await self.get(f"/api/library/exercises/{slug}", load, data=True,
                           headers={"Accept": "application/json", "Accept-Language": parsed.lang})


def _name(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[-1]


def _decode(wire: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return zlib.decompress(wire, 16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompress(wire)
    if encoding in ("identity", ""):
        return wire
    raise RuntimeError(f"cannot decode {encoding}")


async def measure_call_page(client: TestClient, link_path: str) -> dict[str, Any]:
    """The call page's first load through an in-process test client (HTML, its /static/
    files and their static imports), raw and gzipped: what the tests check. The benchmark's
    figures are `weigh`'s, from the running server."""
    files: dict[str, tuple[int, int]] = {}
    response = await client.get(link_path, headers={"Accept-Encoding": "gzip"})
    html = await response.read()
    files["(page HTML)"] = (len(html), len(gzip.compress(html, 6)))
    queue = _ASSET.findall(html.decode())
    seen: set[str] = set()
    while queue:
        url = queue.pop()
        path = url.split("?")[0]
        if path in seen:
            continue
        seen.add(path)
        raw = await client.get(url, headers={"Accept-Encoding": "identity"})
        body = await raw.read()
        served = await client.get(url, headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
        files[path] = (len(body), len(await served.read()))
        if path.endswith(".js"):
            base = path.rsplit("/", 1)[0]
            queue.extend(f"{base}/{m[2:]}" for m in _IMPORT.findall(body.decode()))
    raw_total = sum(r for r, _ in files.values())
    served_total = sum(s for _, s in files.values())
    return {"files": files, "raw_bytes": raw_total, "compressed_bytes": served_total,
            "raw_target": TARGET_RAW, "compressed_target": TARGET_COMPRESSED}


# The clinic's side: what a clinic does through the server before she opens anything.

async def _csrf(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(url) as response:
        found = re.search(r'name="csrf_token" value="([^"]+)"', await response.text())
    if not found:
        raise RuntimeError(f"no CSRF token on {url}")
    return found.group(1)


async def _post(session: aiohttp.ClientSession, url: str, *, expect: int, **kwargs: Any) -> Any:
    async with session.post(url, allow_redirects=False, **kwargs) as response:
        text = await response.text()
        if response.status != expect:
            raise RuntimeError(f"POST {url}: {response.status} {text[:300]}")
        return json.loads(text) if response.content_type == "application/json" else text


def _path(link: str) -> str:
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


@dataclass
class Clinic:
    """The admin's signed-in session and an API key that may do everything."""

    base: str
    admin: aiohttp.ClientSession
    key: str

    @classmethod
    async def open(cls, base: str) -> Clinic:
        admin = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        await _post(admin, f"{base}/login", expect=303, data={
            "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD,
            "csrf_token": await _csrf(admin, f"{base}/login")})
        page = await _post(admin, f"{base}/admin/api-keys", expect=201, data={
            "name": "Page weight", "scopes": "everything",
            "csrf_token": await _csrf(admin, f"{base}/admin/api-keys")})
        key = re.search(r'id="new-key" readonly value="([^"]+)"', page)
        assert key, "no API key on the page"
        return cls(base, admin, key.group(1))

    async def api(self, path: str, body: dict[str, Any]) -> Any:
        return await _post(self.admin, self.base + path, expect=201, json=body,
                           headers={"Authorization": f"Bearer {self.key}"})

    async def plan_with_visit(self) -> dict[str, str]:
        """Her record, her plan (its link), a visit of the plan (its links) and its program,
        assigned through the therapist's link as the call page does."""
        patient = (await self.api("/api/patients", {"name": "Maya Lopez", "language": "en"}))["patient_id"]
        plan = await self.api(f"/api/patients/{patient}/plans",
                              {"condition": CONDITION, "goals": "Lift her baby", "weeks": 8})
        visit = await self.api("/api/visits", {"patient_id": patient,
                                               "therapist_name": "Rae Ortiz", "kind": "evaluation"})
        links = {"patient": visit["patient_url"], "therapist": visit["therapist_url"]}
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as therapist:
            async with therapist.get(self.base + _path(links["therapist"])) as opened:
                if opened.status != 200:
                    raise RuntimeError(f"therapist link: {opened.status}")
            for slug, dose in PROGRAM:
                await _post(therapist, f"{self.base}/visits/{visit['visit_id']}/assignments", expect=201,
                            json={"exercise": slug, **dose}, headers={"Origin": self.base})
        return {"patient": patient, "plan": plan["plan_id"], "plan_link": _path(plan["url"]),
                "visit": visit["visit_id"], "visit_link": _path(links["patient"])}

    async def attach_questionnaires(self, patient: str, plan: str) -> None:
        for instrument in QUESTIONNAIRES:
            await _post(self.admin, f"{self.base}/admin/plans/{plan}/questionnaires", expect=303,
                        data={"instrument": instrument, "every_weeks": "0", "csrf_token":
                              await _csrf(self.admin, f"{self.base}/admin/patients/{patient}")})


# Her side: each page as she opens it.

async def weigh(base: str) -> dict[str, Any]:
    """Every page's load, the on-demand loads, and what was left unlisted."""
    clinic = await Clinic.open(base)
    browser = Browser(base)
    try:
        care = await clinic.plan_with_visit()
        pages: dict[str, Load] = {}
        on_demand: dict[str, Load] = {}

        # Her plan-of-care home, nothing due yet; then the same page from the questionnaires' email.
        for name in ("plan-of-care home", "questionnaire"):
            if name == "questionnaire":
                await clinic.attach_questionnaires(care["patient"], care["plan"])
            browser.empty_cache()
            load = pages[name] = Load()
            parsed, final = await browser.page(care["plan_link"], load)
            for data in ("questionnaires.json", "messages"):
                await browser.get(f"{final}/{data}", load, data=True,
                                  headers={"Accept": "application/json"})
            await browser.demos(parsed, load)
            await _offline_copy(browser, final, load)
            if name == "plan-of-care home":
                counting = on_demand["counting at home (plan page)"] = Load()
                await browser.dynamic_of(MEASURING, counting)
                await _measuring_data(browser, parsed, counting)

        # Her visit page: the device check, the waiting room, the call.
        browser.empty_cache()
        join = pages[JOIN] = Load()
        parsed, final = await browser.page(care["visit_link"], join)
        await browser.dynamic_of(JOIN, join)
        if "waiting-care" in parsed.attrs:
            await browser.get(f"{parsed.attrs['waiting-care']['data-base']}/questionnaires.json",
                              join, data=True, headers={"Accept": "application/json"})
        # Join: her socket knocks; the waiting room asks whether her therapist is busy.
        waiting = pages[WAITING] = Load()
        async with browser.session.ws_connect(f"{base}{final}/ws", origin=base) as ws:
            while (message := await ws.receive_json(timeout=10)).get("type") != "waiting" \
                    and message.get("status") != "waiting":
                pass
            await browser.dynamic_of(WAITING, waiting)
            await browser.get(f"{final}/presence", waiting, data=True,
                              headers={"Accept": "application/json"})
        pages[CALL] = Load()
        unlisted = await browser.dynamic_of(CALL, pages[CALL], also_unlisted=True)
        for reason in sorted({DYNAMIC.get(_name(u), "?") for u in browser.dynamic} - {JOIN, WAITING, CALL}):
            if reason in ("therapist", "?"):
                continue
            load = on_demand[f"{reason} (call page)" if reason == MEASURING else reason] = Load()
            await browser.dynamic_of(reason, load)
            if reason == MEASURING:
                await _measuring_data(browser, parsed, load)
        model = await _model(browser, parsed)

        # Her home program (the visit cookie opens it; after the visit her link leads here).
        browser.empty_cache()
        program = pages["program"] = Load()
        parsed, _ = await browser.page(f"/visits/{care['visit']}/program", program)
        await browser.demos(parsed, program)
        return {"pages": pages, "on_demand": on_demand, "model": model, "unlisted": unlisted}
    finally:
        await browser.close()
        await clinic.admin.close()


_KEPT = re.compile(r"^/(care/pl_[A-Za-z0-9_-]+(/(state|questionnaires)\.json)?|static/.+|vendor/.+"
                   r"|measure/setup\.json|api/library/exercises/[a-z0-9-]+)$")
"""What her plan page's service worker keeps (web/sw/care-offline.js, `KEPT`)."""


async def _offline_copy(browser: Browser, page: str, load: Load) -> None:
    """Her plan page's service worker (registered as the page starts) and the copy it keeps:
    it fetches again, through the HTTP cache, the page and what the page loaded; what the
    HTTP cache may not answer (no-store, no-cache) comes again from the server."""
    await browser.get("/care/offline.js", load)
    again = [page] + [i.url for i in load.items if i.status == 200 and i.url != page]
    answered = {i.url: i for i in load.items if i.status == 200}
    for url in dict.fromkeys(again):
        item = answered.get(url)
        if not _KEPT.match(urlsplit(url).path) or item is None:
            continue
        if "max-age" in item.cache and not re.search(r"no-store|no-cache|max-age=0\b", item.cache):
            continue  # the HTTP cache answers
        headers = {"If-None-Match": item.etag} if item.etag and "no-store" not in item.cache else {}
        await browser.get(url, load, data=item.data, headers=headers)


async def _measuring_data(browser: Browser, parsed: _Page, load: Load) -> None:
    """Measuring's setup and the measurements file (the pose model is `_model`'s)."""
    root = next((a for a in parsed.attrs.values() if a.get("data-measure")), None)
    if root is None:
        return
    _, body, _ = await browser.get(root["data-measure"], load, data=True)
    setup = json.loads(body)
    await browser.get(setup["definitions"], load, data=True)


async def _model(browser: Browser, parsed: _Page) -> Load | None:
    """The pose model's files from /vendor/, as the pose worker fetches them; None when this
    server has no pose model."""
    root = next(a for a in parsed.attrs.values() if a.get("data-measure"))
    load = Load()
    _, body, _ = await browser.get(root["data-measure"], Load())
    assets = json.loads(body)["assets"]
    if not assets:
        return None
    await browser.get(assets["human"], load)
    _, manifest, model_url = await browser.get(assets["model"], load)
    for group in json.loads(manifest).get("weightsManifest", []):
        for weights in group["paths"]:
            await browser.get(urljoin(model_url, weights), load)
    await browser.get(urljoin(assets["wasm"], "tfjs-backend-wasm-simd.wasm"), load)
    return load


async def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_server(Path(tmp) / "bench.db", port, core=None,
                              extra_env={"VISITROOM_PUBLIC_URL": base,
                                         "VISITROOM_ADMIN_EMAIL": ADMIN_EMAIL})
        try:
            await wait_http(f"{base}/healthz")
            return await weigh(base)
        finally:
            stop_server(server)


def _kb(n: int) -> str:
    return f"{n / 1024:.1f}"


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """The figures per page (code and data), the call page's total and the target's verdict."""
    pages: dict[str, Load] = result["pages"]
    rows: dict[str, dict[str, int]] = {}
    for name, load in pages.items():
        n, raw, served = load.totals()
        dn, draw, dserved = load.totals(data=True)
        rows[name] = {"requests": n, "raw_bytes": raw, "served_bytes": served,
                      "data_requests": dn, "data_raw_bytes": draw, "data_served_bytes": dserved}
    call = [rows[JOIN], rows[WAITING], rows[CALL]]
    total = {k: sum(r[k] for r in call) for k in call[0]}
    demand = {name: dict(zip(("requests", "raw_bytes", "served_bytes"), load.totals()),
                         data_requests=load.totals(data=True)[0],
                         data_served_bytes=load.totals(data=True)[2])
              for name, load in result["on_demand"].items()}
    model = result["model"]
    return {"pages": rows, "call_page_total": total, "on_demand": demand,
            "model": None if model is None else dict(zip(("requests", "raw_bytes", "served_bytes"),
                                                         model.totals())),
            "unlisted_dynamic_imports": result["unlisted"],
            "call_page_target_served_bytes": TARGET_CALL_SERVED,
            "call_page_met": total["served_bytes"] <= TARGET_CALL_SERVED}


def print_report(result: dict[str, Any], figures: dict[str, Any], files: bool) -> None:
    head = f"{'page':<34}{'requests':>9}{'raw KB':>10}{'served KB':>11}   {'data: req':>9}{'served KB':>10}"
    print(head)
    print("-" * len(head))
    for name, row in figures["pages"].items():
        plus = "+" if name in (WAITING, CALL) else ""
        print(f"{name:<34}{plus + str(row['requests']):>9}{_kb(row['raw_bytes']):>10}"
              f"{_kb(row['served_bytes']):>11}   {row['data_requests']:>9}{_kb(row['data_served_bytes']):>10}")
        if name == CALL:
            t = figures["call_page_total"]
            print(f"{'  call page, all of it':<34}{t['requests']:>9}{_kb(t['raw_bytes']):>10}"
                  f"{_kb(t['served_bytes']):>11}   {t['data_requests']:>9}{_kb(t['data_served_bytes']):>10}")
    print("on demand (apart):")
    for name, row in figures["on_demand"].items():
        print(f"  {name:<32}{row['requests']:>9}{_kb(row['raw_bytes']):>10}{_kb(row['served_bytes']):>11}"
              f"   {row['data_requests']:>9}{_kb(row['data_served_bytes']):>10}")
    model = figures["model"]
    if model is None:
        print(f"  {'pose model (/vendor/)':<32}  model not fetched (python3 run.py fetch-pose-model)")
    else:
        print(f"  {'pose model (/vendor/)':<32}{model['requests']:>9}{_kb(model['raw_bytes']):>10}"
              f"{_kb(model['served_bytes']):>11}")
    if figures["unlisted_dynamic_imports"]:
        print(f"dynamic imports not listed in DYNAMIC (counted with the call): "
              f"{', '.join(figures['unlisted_dynamic_imports'])}")
    if files:
        loads = {**result["pages"], **{f"on demand: {k}": v for k, v in result["on_demand"].items()}}
        if result["model"] is not None:
            loads["on demand: pose model"] = result["model"]
        for name, load in loads.items():
            print(f"\n{name}")
            for i in load.items:
                print(f"  {i.url.split('?')[0][:60]:<60} {i.status} {i.raw:>9} {i.served:>9} {i.encoding}"
                      f"{'  (data)' if i.data else ''}")
    total = figures["call_page_total"]["served_bytes"]
    print(f"target: call page ≤ {TARGET_CALL_SERVED // 1024} KB gzipped as served: "
          f"{_kb(total)} KB ({total} B), {'met' if figures['call_page_met'] else 'not met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", action="store_true", help="list every response of each page")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    args = parser.parse_args()
    result = asyncio.run(run())
    figures = summary(result)
    print_report(result, figures, args.files)
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
