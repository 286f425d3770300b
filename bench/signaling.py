"""Signaling load: relay throughput, latency and server CPU per message, against a bare relay and PeerJS.

    python -m bench.signaling --visits 100 --seconds 10 [--rate 2000] [--no-peerjs] [--json]
    python -m bench.signaling --redis [--processes 2 [--placement within|across]] ...

Starts the real server in a subprocess on a fresh database (patients pre-admitted, as after
a reload), opens 2N authenticated sockets, then every pair exchanges offer-sized (~3 KB)
and candidate-sized (~200 B) messages for S seconds: closed loop by default (each message
answered on arrival), open loop at R messages a second with --rate. The same load then
runs against `bench/baseline_relay.py` (no auth, no validation), then, when `node` and
`npm` are on PATH (skip with --no-peerjs), against PeerJS's server (`bench/peerjs.py`: the
npm package `peer`, pinned, installed once into ~/.cache/visitroom-bench/peerjs) carrying
the same messages as PeerJS `OFFER` and `CANDIDATE`. Targets (issue 25): server CPU per
message at most 1.1 times the bare relay's and at most PeerJS's. Server and generator are
pinned to different cores when there are two. Every loop is bounded in count and time,
and every socket is on 127.0.0.1. `others_cpu_pct` is the machine's busy CPU during the
run that was not this benchmark's (its processes and their children), in % of one core.

With --redis the server runs the Redis router against a private redis-server on
127.0.0.1 (temporary directory, no persistence). With --processes 2 two server processes,
each on a port of its own, share one database file and that Redis; visits alternate
between them, and --placement says where a visit's two sockets go: `within` one process
(the room is local to it) or `across` the two (the therapist's process owns the room, so
every message crosses Redis once). Server CPU per message is the CPU of all server
processes over the messages relayed; redis-server's CPU is reported apart
(`redis_cpu_us_per_msg`), beside how many bus messages crossed and how many went in one
script call (from redis-server's command statistics). Server processes and redis-server
share core 0, the generator has core 1.

The flood limit is raised for the run (VISITROOM_FLOOD_RATE) since one benchmark socket
sends far more than a person's browser would, and the heartbeat lengthened, since sockets
opened first sit unread while the rest connect (`bench.idle` measures the heartbeat).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import (
    ROOT,
    Server,
    busy_seconds,
    cpu_seconds,
    free_port,
    pin,
    prepare_visits,
    rss_kb,
    start_redis,
    start_server,
    stop_server,
    wait_http,
)

OFFER_PAD = "a" * 3000
CANDIDATE_PAD = "c" * 150
SETUP_TIMEOUT = 600.0
TARGET_TO_BASELINE, TARGET_TO_PEERJS = 1.1, 1.0


@dataclass(frozen=True)
class Dialect:
    """How a server shapes signaling messages: the types of an offer and a candidate, the
    field naming the recipient, whether the body sits under `payload`, the error types."""

    offer: str = "offer"
    candidate: str = "candidate"
    to: str = "to"
    payload: bool = False
    errors: frozenset[str] = frozenset({"error"})


VISITROOM = Dialect()
"""Visitroom's protocol; the bare relay forwards it as is."""
PEERJS = Dialect("OFFER", "CANDIDATE", "dst", True, frozenset({"ERROR", "ID-TAKEN", "EXPIRE", "LEAVE"}))
"""PeerJS's: `{"type": "OFFER", "dst": id, "payload": {...}}` (the server adds `src`)."""


@dataclass
class Pair:
    """One visit's two sockets as the generator sees them."""

    a: aiohttp.ClientWebSocketResponse
    b: aiohttp.ClientWebSocketResponse
    a_id: str
    b_id: str


@dataclass
class Tally:
    """What the generator measured."""

    received: int = 0
    errors: int = 0
    first_error: str = ""
    """The first `error` message a socket received, as sent."""
    latencies: list[float] = field(default_factory=list)


def _shaped(kind: str, to: str, body: dict[str, Any], dialect: Dialect) -> str:
    if dialect.payload:
        return json.dumps({"type": kind, dialect.to: to, "payload": body})
    return json.dumps({"type": kind, dialect.to: to, **body})


def _offer(to: str, dialect: Dialect = VISITROOM) -> str:
    return _shaped(dialect.offer, to, {"sdp": f"v=0 t={time.perf_counter():.9f} {OFFER_PAD}"}, dialect)


def _candidate(to: str, dialect: Dialect = VISITROOM) -> str:
    return _shaped(dialect.candidate, to, {"candidate": {
        "candidate": f"candidate:1 1 udp 1 127.0.0.1 9 typ host t={time.perf_counter():.9f} {CANDIDATE_PAD}",
        "sdpMid": "0", "sdpMLineIndex": 0}}, dialect)


def _sent_at(message: dict[str, Any]) -> float | None:
    text = message.get("sdp") or (message.get("candidate") or {}).get("candidate") or ""
    marker = text.find(" t=")
    if marker < 0:
        return None
    return float(text[marker + 3:text.find(" ", marker + 3)])


async def _reader(ws: aiohttp.ClientWebSocketResponse, peer: str, tally: Tally,
                  stop: asyncio.Event, closed_loop: bool, dialect: Dialect) -> None:
    try:
        await _read_frames(ws, peer, tally, stop, closed_loop, dialect)
    except (aiohttp.ClientError, ConnectionError):
        tally.errors += 1


async def _read_frames(ws: aiohttp.ClientWebSocketResponse, peer: str, tally: Tally,
                       stop: asyncio.Event, closed_loop: bool, dialect: Dialect) -> None:
    async for frame in ws:
        if frame.type != aiohttp.WSMsgType.TEXT:
            continue
        message = json.loads(frame.data)
        kind = message.get("type")
        if kind in (dialect.offer, dialect.candidate):
            sent = _sent_at(message.get("payload") or {} if dialect.payload else message)
            tally.received += 1
            if sent is not None and len(tally.latencies) < 2_000_000:
                tally.latencies.append((time.perf_counter() - sent) * 1000)
            if closed_loop and not stop.is_set():
                await ws.send_str(_candidate(peer, dialect) if kind == dialect.offer else _offer(peer, dialect))
        elif kind in dialect.errors:
            tally.errors += 1
            tally.first_error = tally.first_error or frame.data[:300]


async def _open_visitroom_pairs(origin: str, links: list[tuple[str, str, str, str]],
                                homes: list[tuple[str, str]], tally: Tally
                                ) -> tuple[list[Pair], list[aiohttp.ClientSession]]:
    """Open every visit's two sockets; `homes[i]` is the base URL of the process that
    visit i's therapist and patient connect to (links name `origin`, the public URL)."""
    sessions = [aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                      connector=aiohttp.TCPConnector(limit=0)) for _ in range(2)]
    semaphore = asyncio.Semaphore(50)

    async def open_one(session: aiohttp.ClientSession, link: str, visit_id: str,
                       base: str) -> aiohttp.ClientWebSocketResponse:
        async with semaphore:
            async with session.get(base + link[len(origin):]) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"link answered {response.status}")
            ws = await session.ws_connect(f"{base}/visits/{visit_id}/ws", origin=origin, heartbeat=None,
                                          max_msg_size=0, compress=0)
            welcome = json.loads((await ws.receive()).data)
            if welcome.get("type") != "welcome" or welcome.get("status") != "admitted":
                tally.errors += 1
            return ws

    # A fresh browser gets its device cookie from the first link it opens, and a therapist
    # link booked without an account binds to that device: each browser opens one link
    # alone first, so the concurrent rest carry the same device cookie.
    if links:
        for session, link, home in ((sessions[0], links[0][2], homes[0][0]),
                                    (sessions[1], links[0][1], homes[0][1])):
            async with session.get(home + link[len(origin):]) as response:
                await response.read()
    pairs = []
    for start in range(0, len(links), 100):
        batch = list(zip(links[start:start + 100], homes[start:start + 100]))
        therapists = await asyncio.gather(*(open_one(sessions[0], t, v, h[0]) for (v, _, t, _), h in batch))
        patients = await asyncio.gather(*(open_one(sessions[1], p, v, h[1]) for (v, p, _, _), h in batch))
        for ((visit_id, _, _, ids), _), ws_t, ws_p in zip(batch, therapists, patients):
            patient_id, therapist_id = ids.split(",")
            pairs.append(Pair(ws_p, ws_t, patient_id, therapist_id))
    return pairs, sessions


Connect = Callable[[aiohttp.ClientSession, int, str], Awaitable[aiohttp.ClientWebSocketResponse]]


async def _open_plain_pairs(count: int, connect: Connect) -> tuple[list[Pair], list[aiohttp.ClientSession]]:
    """Pairs on a server without links or cookies (the bare relay, PeerJS): `connect`
    opens pair i's socket for peer id `a{i}` or `b{i}`."""
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    pairs = []
    for start in range(0, count, 100):
        async def one(i: int) -> Pair:
            a = await connect(session, i, f"a{i}")
            b = await connect(session, i, f"b{i}")
            return Pair(a, b, f"a{i}", f"b{i}")
        pairs.extend(await asyncio.gather(*(one(i) for i in range(start, min(count, start + 100)))))
    return pairs, [session]


def _baseline_connect(base: str) -> Connect:
    def connect(session: aiohttp.ClientSession, i: int, peer: str) -> Awaitable[aiohttp.ClientWebSocketResponse]:
        return session.ws_connect(f"{base}/ws?room=r{i}&peer={peer}", heartbeat=None, max_msg_size=0, compress=0)
    return connect


async def _load(pairs: list[Pair], seconds: float, rate: float | None, tally: Tally,
                dialect: Dialect = VISITROOM) -> float:
    stop = asyncio.Event()
    closed_loop = rate is None
    readers = []
    for p in pairs:
        readers.append(asyncio.ensure_future(_reader(p.a, p.b_id, tally, stop, closed_loop, dialect)))
        readers.append(asyncio.ensure_future(_reader(p.b, p.a_id, tally, stop, closed_loop, dialect)))
    started = time.perf_counter()
    if closed_loop:
        for p in pairs:
            await p.a.send_str(_offer(p.b_id, dialect))
        await asyncio.sleep(seconds)
    else:
        interval = 1.0 / rate
        sent = 0
        limit = int(rate * seconds)
        while sent < limit:
            target = started + sent * interval
            delay = target - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            p = pairs[sent % len(pairs)]
            if sent % 2:
                await p.b.send_str(_candidate(p.a_id, dialect))
            else:
                await p.a.send_str(_offer(p.b_id, dialect))
            sent += 1
    stop.set()
    elapsed = time.perf_counter() - started
    await asyncio.sleep(0.5)  # let in-flight messages land
    for task in readers:
        task.cancel()
    return elapsed


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


async def _redis_calls(url: str) -> dict[str, int]:
    """Commands redis-server ran so far, by name (a script's own commands included)."""
    import redis.asyncio as aioredis

    client = aioredis.from_url(url)
    try:
        stats = await client.info("commandstats")
    finally:
        await client.aclose()
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


async def _measure(pids: list[int], open_pairs: Any, seconds: float, rate: float | None,
                   redis_pid: int | None = None, redis_url: str = "",
                   dialect: Dialect = VISITROOM) -> dict[str, Any]:
    """Open the pairs, load them (messages shaped in `dialect`), and read the CPU of `pids`
    (every server process) and, separately, of redis-server over the load window."""
    tally = Tally()
    rss_before = sum(rss_kb(pid) for pid in pids)
    t0 = time.perf_counter()
    pairs, sessions = await asyncio.wait_for(open_pairs(tally), SETUP_TIMEOUT)
    connect_s = time.perf_counter() - t0
    await asyncio.sleep(1.0)
    rss_after = sum(rss_kb(pid) for pid in pids)
    cpu0 = [cpu_seconds(pid) for pid in pids]
    redis0 = cpu_seconds(redis_pid) if redis_pid else 0.0
    calls0 = await _redis_calls(redis_url) if redis_url else {}
    tally_load = Tally()
    elapsed = await _load(pairs, seconds, rate, tally_load, dialect)
    cpu1 = [cpu_seconds(pid) for pid in pids]
    redis1 = cpu_seconds(redis_pid) if redis_pid else 0.0
    calls1 = await _redis_calls(redis_url) if redis_url else {}
    for session in sessions:
        await session.close()
    received = tally_load.received
    cpu = sum(cpu1) - sum(cpu0)
    result = {
        "sockets": len(pairs) * 2,
        "connect_per_s": round(len(pairs) * 2 / connect_s, 1),
        "msgs_per_s": round(received / elapsed, 1),
        "relayed": received,
        "p50_ms": _percentile(tally_load.latencies, 0.50),
        "p95_ms": _percentile(tally_load.latencies, 0.95),
        "p99_ms": _percentile(tally_load.latencies, 0.99),
        "cpu_us_per_msg": round(cpu * 1e6 / received, 1) if received else None,
        "server_cpu_pct": round(100 * cpu / elapsed, 1),
        "rss_kb_per_socket": round((rss_after - rss_before) / (len(pairs) * 2), 1),
        "errors": tally.errors + tally_load.errors,
    }
    if len(pids) > 1:
        result["cpu_pct_per_process"] = [round(100 * (b - a) / elapsed, 1) for a, b in zip(cpu0, cpu1)]
    if redis_pid:
        result["redis_cpu_us_per_msg"] = round((redis1 - redis0) * 1e6 / received, 1) if received else None
        result["redis_cpu_pct"] = round(100 * (redis1 - redis0) / elapsed, 1)
        streamed = calls1.get("xadd", 0) - calls0.get("xadd", 0)
        scripts = calls1.get("evalsha", 0) - calls0.get("evalsha", 0)
        result["bus_messages"] = streamed
        result["bus_messages_per_script_call"] = round(streamed / scripts, 1) if scripts else None
    return result


def _homes(bases: list[str], visits: int, placement: str) -> list[tuple[str, str]]:
    """Where each visit's therapist and patient connect: visits alternate between the
    processes; `across` puts the patient on the next process after her therapist's."""
    step = 1 if placement == "across" and len(bases) > 1 else 0
    return [(bases[i % len(bases)], bases[(i + step) % len(bases)]) for i in range(visits)]


async def _run_visitroom(tmp: Path, visits: int, seconds: float, rate: float | None, *, redis: bool,
                         processes: int, placement: str) -> dict[str, Any]:
    ports = [free_port() for _ in range(processes)]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    db = tmp / "bench.db"
    links = await prepare_visits(db, bases[0], visits)
    # Sockets opened early wait idle while thousands more connect, with nobody reading
    # them yet; a long heartbeat keeps them (bench.idle measures the heartbeat itself).
    env = {"VISITROOM_FLOOD_RATE": "1000000", "VISITROOM_HEARTBEAT_SECONDS": "600",
           "VISITROOM_PUBLIC_URL": bases[0]}
    redis_server = None
    servers: list[Server] = []
    try:
        if redis:
            redis_server, env["VISITROOM_REDIS_URL"] = start_redis(tmp, core=0)
        for port, base in zip(ports, bases):  # one after the other: the first migrates
            servers.append(start_server(db, port, extra_env=env, core=0))
            await wait_http(f"{base}/healthz")
        homes = _homes(bases, visits, placement)
        return await _measure([s.pid for s in servers],
                              lambda tally: _open_visitroom_pairs(bases[0], links, homes, tally),
                              seconds, rate, redis_server.pid if redis_server else None,
                              env.get("VISITROOM_REDIS_URL", ""))
    finally:
        for server in servers:
            stop_server(server)
        if redis_server is not None:
            stop_server(redis_server)


def own_cpu_seconds() -> float:
    """CPU time of this process and of the children it has waited for."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


async def _yardstick(server: Server, ready: str, open_pairs: Any, seconds: float, rate: float | None,
                     dialect: Dialect) -> dict[str, Any]:
    """Measure an outside server (pinned to core 0, stopped after) like ours."""
    try:
        await wait_http(ready, expect=(200, 400, 405, 426))
        return await _measure([server.pid], open_pairs, seconds, rate, dialect=dialect)
    finally:
        stop_server(server)


def _compare(result: dict[str, Any], prefix: str, fig: dict[str, Any], ratio_key: str) -> None:
    result.update({f"{prefix}_cpu_us_per_msg": fig["cpu_us_per_msg"], f"{prefix}_msgs_per_s": fig["msgs_per_s"],
                   f"{prefix}_p99_ms": fig["p99_ms"], f"{prefix}_rss_kb_per_socket": fig["rss_kb_per_socket"],
                   f"{prefix}_errors": fig["errors"]})
    if result["cpu_us_per_msg"] and fig["cpu_us_per_msg"]:
        result[ratio_key] = round(result["cpu_us_per_msg"] / fig["cpu_us_per_msg"], 2)


async def _run_peerjs(result: dict[str, Any], visits: int, seconds: float, rate: float | None) -> None:
    from bench import peerjs

    try:
        port = free_port()
        server = peerjs.start(port, core=0)
    except RuntimeError as exc:
        result["peerjs"] = f"skipped: {exc}"
        return
    base = f"http://127.0.0.1:{port}"
    try:
        fig = await _yardstick(server, f"{base}/", lambda tally: _open_plain_pairs(visits, peerjs.connect_for(base)),
                               seconds, rate, PEERJS)
    except RuntimeError as exc:  # a peer refused: say so beside our figures
        result["peerjs"] = f"failed: {exc}"
        return
    result["peerjs"] = f"peer@{peerjs.PEER_VERSION} on node {peerjs.node_version()}"
    _compare(result, "peerjs", fig, "cpu_ratio_to_peerjs")


async def run(visits: int, seconds: float, rate: float | None, *, redis: bool = False,
              processes: int = 1, placement: str = "within", baseline: bool = True,
              peerjs: bool = True) -> dict[str, Any]:
    """The three runs (Visitroom, the bare relay, PeerJS when node is there) and the ratios."""
    pin(os.getpid(), 1)
    busy0, own0, t0 = busy_seconds(), own_cpu_seconds(), time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        ours = await _run_visitroom(Path(tmp), visits, seconds, rate, redis=redis,
                                    processes=processes, placement=placement)
    result = {"visits": visits, "seconds": seconds, "mode": "closed" if rate is None else f"open@{rate:g}/s",
              "router": "redis" if redis else "local", "processes": processes, "placement": placement,
              **ours}
    if baseline:
        port = free_port()
        bare = Server(subprocess.Popen([sys.executable, "-m", "bench.baseline_relay", "--port", str(port)],
                                       cwd=ROOT))
        pin(bare.pid, 0)
        base = f"http://127.0.0.1:{port}"
        fig = await _yardstick(bare, f"{base}/ws", lambda tally: _open_plain_pairs(visits, _baseline_connect(base)),
                               seconds, rate, VISITROOM)
        _compare(result, "baseline", fig, "cpu_ratio_to_baseline")
    if peerjs:
        await _run_peerjs(result, visits, seconds, rate)
    result["others_cpu_pct"] = round(100 * ((busy_seconds() - busy0) - (own_cpu_seconds() - own0))
                                     / (time.perf_counter() - t0), 1)
    return result


def targets(result: dict[str, Any]) -> list[str]:
    """One line per issue-25 target the run measured: met or not met."""
    lines = []
    for key, limit in (("cpu_ratio_to_baseline", TARGET_TO_BASELINE), ("cpu_ratio_to_peerjs", TARGET_TO_PEERJS)):
        if key in result:
            lines.append(f"target {key} ≤ {limit}: {'met' if result[key] <= limit else 'not met'}")
    return lines


def draw_chart(rows: list[dict[str, Any]], path: Path) -> None:
    """Throughput and p99 against the number of visits, Visitroom beside the bare relay
    and PeerJS (each when measured)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    visits = [r["visits"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), dpi=110)
    for prefix, style, label in (("", "o-", "Visitroom"), ("baseline_", "s--", "bare relay"),
                                 ("peerjs_", "^:", "PeerJS")):
        if all(f"{prefix}msgs_per_s" in r for r in rows):
            left.plot(visits, [r[f"{prefix}msgs_per_s"] for r in rows], style, label=label)
            right.plot(visits, [r[f"{prefix}p99_ms"] for r in rows], style, label=label)
    left.set(xlabel="visits (2 sockets each)", ylabel="relayed messages / s", title="Throughput (closed loop)")
    right.set(xlabel="visits (2 sockets each)", ylabel="one-way latency p99 (ms)", title="Relay latency p99")
    for axis in (left, right):
        axis.set_xscale("log")
        axis.grid(True, alpha=0.3)
        axis.legend()
    fig.tight_layout()
    fig.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", help="comma-separated visit counts, e.g. 100,1000,3000: one closed-loop "
                        "run each, a table, and a chart with --chart")
    parser.add_argument("--chart", type=Path, help="where to write the sweep's PNG chart")
    parser.add_argument("--visits", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=None, help="open loop: messages per second in all")
    parser.add_argument("--redis", action="store_true", help="the Redis router: a private redis-server "
                        "on 127.0.0.1, the server(s) given VISITROOM_REDIS_URL")
    parser.add_argument("--processes", type=int, default=1, choices=(1, 2),
                        help="server processes (2 needs --redis), each on a port of its own")
    parser.add_argument("--placement", choices=("within", "across"), default="within",
                        help="within: a visit's two sockets on one process; across: on two")
    parser.add_argument("--no-baseline", action="store_true", help="skip the bare relay run")
    parser.add_argument("--no-peerjs", action="store_true", help="skip the PeerJS run (skipped anyway "
                        "without node and npm)")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    args = parser.parse_args()
    if not 1 <= args.visits <= 5000 or not 1 <= args.seconds <= 600:
        parser.error("--visits must be 1..5000 and --seconds 1..600")
    if args.processes > 1 and not args.redis:
        parser.error("--processes 2 needs --redis (rooms are shared through it)")
    if args.placement == "across" and args.processes < 2:
        parser.error("--placement across needs --processes 2")
    from bench.common import use_uvloop

    use_uvloop()
    if args.sweep:
        counts = [int(v) for v in args.sweep.split(",")]
        if not all(1 <= v <= 5000 for v in counts):
            parser.error("--sweep counts must be 1..5000")
        rows = [asyncio.run(run(v, args.seconds, None, redis=args.redis, processes=args.processes,
                                placement=args.placement, baseline=not args.no_baseline,
                                peerjs=not args.no_peerjs))
                for v in counts]
        print("| visits | msgs/s | p50 ms | p99 ms | CPU µs/msg | relay CPU µs/msg | ratio | PeerJS msgs/s | "
              "PeerJS p99 ms | PeerJS CPU µs/msg | ratio to PeerJS | KB/socket | errors | others' CPU % |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['visits']} | {r['msgs_per_s']} | {r['p50_ms']} | {r['p99_ms']} | {r['cpu_us_per_msg']} | "
                  f"{r.get('baseline_cpu_us_per_msg')} | {r.get('cpu_ratio_to_baseline')} | "
                  f"{r.get('peerjs_msgs_per_s')} | {r.get('peerjs_p99_ms')} | {r.get('peerjs_cpu_us_per_msg')} | "
                  f"{r.get('cpu_ratio_to_peerjs')} | {r['rss_kb_per_socket']} | {r['errors']} | "
                  f"{r['others_cpu_pct']} |")
        if args.chart:
            draw_chart(rows, args.chart)
            print(f"chart written to {args.chart}")
        if args.json:
            print(json.dumps(rows))
        return
    result = asyncio.run(run(args.visits, args.seconds, args.rate, redis=args.redis,
                             processes=args.processes, placement=args.placement,
                             baseline=not args.no_baseline, peerjs=not args.no_peerjs))
    for key, value in result.items():
        print(f"{key:28} {value}")
    for line in targets(result):
        print(line)
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
