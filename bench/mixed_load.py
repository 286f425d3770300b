"""Signaling under mixed load (issue 20, point 8): relay, bad logins, echo checks, and a ping.

    python -m bench.mixed_load [--workers 2] [--seconds 20] [--watch] [--json]

Starts the real server (`run.py serve`, or `serve --workers N` with a private redis-server
on 127.0.0.1 in a temporary directory) on a fresh SQLite database, with, for `seconds`:

- relay: 100 visits, 200 sockets of admitted patients and their therapists, relaying
  offer-sized (~3 KB) and candidate-sized messages open loop at `--rate` (800/s) in all;
- logins: 30 (`--logins`) sign-ins in flight at once with wrong passwords (the form, its
  CSRF token, an unknown email or the admin's), each starting its next one when answered,
  at most one a `--login-interval` each; the sign-in limits are raised (`--default-limits`
  keeps them) so every attempt reaches the hashing pool, as attempts from many addresses
  would;
- echo checks: 10 (`--echo-checks`) patients each running the pre-call connection check
  (real aiortc peers with synthetic audio and video, the server's echo peer answering)
  back to back, each `--echo-cycle` seconds long, in a process of their own;
- a probe: one more admitted socket, in a process of its own, sending the protocol's `ping`
  every 50 ms and timing the `pong`, for 3 s before the load (idle) and during it.

Reported: the probe's p50/p99/max round trip idle and under load, the relay's p50/p99
one-way latency and rate, sign-in answers, echo checks completed, the CPU of each server
process and of the machine. Nothing is pinned: server, Redis and load share the cores, as
in the issue. Target: ping p99 <= 50 ms and max <= 100 ms under the load.

With --watch every server process runs `bench/loop_watch.py` (a tick on its loop, a
watchdog sampling the loop thread's stack while the tick is late, and the kernel's
accounting of each thread's CPU): the run then lists the loop's stalls of 20 ms or more by
kind (running a callback, waiting for a CPU, off CPU waiting for the GIL or a system call)
and culprit, and beside each of the slowest pings the stalls that overlapped it.

Every wait is bounded; every socket is on 127.0.0.1. The workers mode needs Redis only
(the SQLite file is shared by the workers; PostgreSQL is not needed).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench import loop_watch
from bench.common import (
    ROOT,
    children,
    cpu_seconds,
    free_port,
    prepare_visits,
    report,
    start_redis,
    start_server,
    stop_server,
    verdict,
    wait_http,
)
from bench.signaling import Tally, _load, _open_visitroom_pairs, _percentile

RELAY_VISITS = 100
LOGINS = 30
ECHO_CHECKS = 10
PING_EVERY = 0.05
IDLE_SECONDS = 3.0
"""Probe pings before the load starts."""
PONG_WAIT = 5.0
"""Longest wait for one pong."""
TARGET_P99_MS, TARGET_MAX_MS = 50.0, 100.0
WORST_PINGS = 8
"""Slowest pings shown with the stalls that overlapped them."""


# -- the probe and the echo checks (each in a process of its own) ----------------------------

async def probe(spec: dict[str, Any]) -> dict[str, Any]:
    """Ping every PING_EVERY from `start_at - IDLE_SECONDS` to `start_at + seconds`;
    (monotonic send time, round trip ms) of each, split at `start_at`."""
    idle: list[tuple[float, float]] = []
    loaded: list[tuple[float, float]] = []
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        async with session.get(spec["link"]) as response:
            await response.read()
            if response.status != 200:
                return {"error": f"probe link answered {response.status}"}
        ws = await session.ws_connect(f"{spec['base']}/visits/{spec['visit']}/ws", origin=spec["origin"],
                                      heartbeat=None)
        welcome = json.loads((await ws.receive(PONG_WAIT)).data)
        await asyncio.sleep(max(0.0, spec["start_at"] - IDLE_SECONDS - time.monotonic()))
        end, n = spec["start_at"] + spec["seconds"], 0
        while time.monotonic() < end:
            sent = time.monotonic()
            await ws.send_str(json.dumps({"type": "ping", "t": n}))
            while True:
                frame = await ws.receive(PONG_WAIT)
                if frame.type != aiohttp.WSMsgType.TEXT:
                    return {"error": f"probe socket closed: {frame.type.name} {frame.data}"}
                message = json.loads(frame.data)
                if message.get("type") == "pong" and message.get("t") == n:
                    break
            rtt = (time.monotonic() - sent) * 1000
            (idle if sent < spec["start_at"] else loaded).append((round(sent, 4), round(rtt, 2)))
            n += 1
            await asyncio.sleep(max(0.0, sent + PING_EVERY - time.monotonic()))
        await ws.close()
    return {"idle": idle, "loaded": loaded, "status": welcome.get("status")}


async def echo_checks(spec: dict[str, Any]) -> dict[str, Any]:
    """Each patient link runs checks of `cycle` seconds back to back from `start_at` for
    `seconds`; how many completed, failed (and the first failure), and the video frames
    the echo peer sent back."""
    from signaling.bot.echo_check import run_echo_check
    from signaling.ice import use_loopback_candidates

    use_loopback_candidates()  # the server's echo peer tries 127.0.0.1 only (ICE_LOOPBACK)
    await asyncio.sleep(max(0.0, spec["start_at"] - time.monotonic()))
    end = spec["start_at"] + spec["seconds"]
    tally: dict[str, Any] = {"completed": 0, "failed": 0, "video_frames_back": 0}

    async def one(link: str) -> None:
        while (left := end - time.monotonic()) > 1.0:
            try:
                figures = await asyncio.wait_for(run_echo_check(link, seconds=min(spec["cycle"], left)),
                                                 spec["cycle"] + 20)
                tally["completed"] += 1
                tally["video_frames_back"] += figures.video_frames_back
            except Exception as exc:  # noqa: BLE001 (a refused or broken check is counted, not fatal)
                tally["failed"] += 1
                tally.setdefault("first_failure", f"{type(exc).__name__}: {exc}"[:300])
                await asyncio.sleep(0.5)

    await asyncio.gather(*(one(link) for link in spec["links"]))
    return tally


def run_part(part: str, spec: dict[str, Any], seconds: float) -> subprocess.Popen[str]:
    """Start the probe or the echo checks in a process of their own (this module, --part)."""
    return subprocess.Popen([sys.executable, "-m", "bench.mixed_load", "--part", part,
                             "--spec", json.dumps(spec), "--seconds", str(seconds)],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)


def part_result(process: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    """The last JSON line a part printed (killed and reported after `timeout`)."""
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        return {"error": f"did not finish within {timeout:.0f} s"}
    lines = [line for line in out.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {"error": f"exited {process.returncode} with no result"}


# -- the sign-ins (in the benchmark's process) -----------------------------------------------

async def bad_logins(base: str, start_at: float, seconds: float, interval: float,
                     count: int = LOGINS) -> dict[str, Any]:
    """`count` sign-ins in flight with wrong passwords until the time is up."""
    statuses: collections.Counter[int] = collections.Counter()
    times: list[float] = []
    end = start_at + seconds

    async def attacker(n: int) -> None:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            async with session.get(f"{base}/login") as page:
                token = re.search(r'name="csrf_token" value="([^"]+)"', await page.text()).group(1)
            await asyncio.sleep(max(0.0, start_at - time.monotonic()))
            attempt = 0
            while (began := time.monotonic()) < end:
                email = "admin@visitroom.local" if n % 3 == 0 else f"nobody{n}-{attempt}@elsewhere.test"
                try:
                    async with session.post(f"{base}/login", allow_redirects=False, data={
                            "email": email, "password": f"wrong password {attempt}",
                            "csrf_token": token}, timeout=aiohttp.ClientTimeout(total=15)) as response:
                        await response.read()
                        statuses[response.status] += 1
                except (TimeoutError, aiohttp.ClientError):
                    statuses[0] += 1
                times.append((time.monotonic() - began) * 1000)
                attempt += 1
                await asyncio.sleep(max(0.0, began + interval - time.monotonic()))

    await asyncio.gather(*(attacker(n) for n in range(count)))
    return {"login_answers": dict(sorted(statuses.items())),
            "login_per_s": round(sum(statuses.values()) / seconds, 1), "logins_at_once": count,
            "login_p50_ms": _percentile(times, 0.5), "login_max_ms": _percentile(times, 1.0)}


# -- the run ----------------------------------------------------------------------------------

def _processes() -> dict[int, tuple[int, float]]:
    """Every process of the machine: (parent pid, CPU seconds so far)."""
    out = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                fields = Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            out[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / loop_watch.TICKS_PER_SECOND)
    return out


def _others_cpu_pct(before: dict[int, tuple[int, float]], after: dict[int, tuple[int, float]],
                    seconds: float) -> float:
    """CPU used by processes outside this benchmark's tree (this process, the server, its
    workers, Redis, the parts) over `seconds`, in % of one core (processes that ended
    meanwhile are missed)."""
    ours, grew = {os.getpid()}, True
    while grew:
        grew = False
        for pid, (parent, _cpu) in after.items():
            if parent in ours and pid not in ours:
                ours.add(pid)
                grew = True
    used = sum(cpu - before.get(pid, (0, 0.0))[1] for pid, (_p, cpu) in after.items() if pid not in ours)
    return round(100 * used / seconds)


def _ping_figures(pings: list[list[float]], prefix: str) -> dict[str, Any]:
    rtts = [p[1] for p in pings]
    return {f"{prefix}_pings": len(rtts), f"{prefix}_p50_ms": _percentile(rtts, 0.5),
            f"{prefix}_p99_ms": _percentile(rtts, 0.99), f"{prefix}_max_ms": max(rtts) if rtts else None}


async def run(seconds: float, workers: int, rate: float, *, watch: bool, login_interval: float,
              default_limits: bool, echo_cycle: float, logins: int = LOGINS,
              echoes: int = ECHO_CHECKS) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One run; its figures, and the loop stalls the watch saw (empty without --watch)."""
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        db = tmp / "mixed.db"
        links = await prepare_visits(db, base, RELAY_VISITS + 1 + echoes)
        relay_links, probe_link, echo_links = (links[:RELAY_VISITS], links[RELAY_VISITS],
                                               links[RELAY_VISITS + 1:])
        env = {"VISITROOM_PUBLIC_URL": base, "VISITROOM_ICE_LOOPBACK": "1",
               "VISITROOM_ECHO_MAX_SESSIONS": str(max(1, echoes)), "VISITROOM_HEALTH_LOOPBACK": "1"}
        if not default_limits:
            env.update({"VISITROOM_LOGIN_ADDRESS_FAILURES": "1000000",
                        "VISITROOM_LOGIN_GLOBAL_PER_MINUTE": "1000000",
                        "VISITROOM_LOGIN_MAX_FAILURES": "1000000"})
        watch_dir = tmp / "watch"
        if watch:
            env.update({"VISITROOM_BENCH_LOOPWATCH": str(watch_dir),
                        "PYTHONPATH": os.pathsep.join([str(ROOT / "bench" / "loop_watch_site"), str(ROOT),
                                                       os.environ.get("PYTHONPATH", "")])})
        redis_server = None
        if workers > 1:
            redis_server, env["VISITROOM_REDIS_URL"] = start_redis(tmp, core=None)
        server = start_server(db, port, extra_env=env, core=None, workers=workers)
        parts: list[subprocess.Popen[str]] = []
        try:
            await wait_http(f"{base}/healthz", timeout=60)
            pids = [server.pid]
            if workers > 1:
                for _ in range(300):
                    if len(pids := children(server.pid)) >= workers:
                        break
                    await asyncio.sleep(0.1)
            tally = Tally()
            pairs, sessions = await asyncio.wait_for(
                _open_visitroom_pairs(base, relay_links, [(base, base)] * len(relay_links), tally), 120)
            start_at = time.monotonic() + IDLE_SECONDS + 4.0  # the parts start and settle first
            parts.append(run_part("probe", {"link": probe_link[1], "visit": probe_link[0], "base": base,
                                            "origin": base, "start_at": start_at, "seconds": seconds},
                                  seconds))
            if echoes:
                parts.append(run_part("echo", {"links": [e[1] for e in echo_links], "start_at": start_at,
                                               "seconds": seconds, "cycle": echo_cycle}, seconds))
            logins_done = asyncio.ensure_future(bad_logins(base, start_at, seconds, login_interval, logins))
            roles = {"generator (relay, logins)": os.getpid(), "probe": parts[0].pid}
            if echoes:
                roles["echo clients"] = parts[1].pid
            if redis_server is not None:
                roles["redis"] = redis_server.pid
            await asyncio.sleep(max(0.0, start_at - time.monotonic()))
            cpu0, machine0, processes0 = [cpu_seconds(pid) for pid in pids], loop_watch.machine_jiffies(), _processes()
            threads0 = loop_watch.read_summaries(watch_dir) if watch else []
            load_average = os.getloadavg()[0]
            relay = Tally()
            elapsed = await _load(pairs, seconds, rate, relay)
            cpu1, machine1, processes1 = [cpu_seconds(pid) for pid in pids], loop_watch.machine_jiffies(), _processes()
            threads1 = loop_watch.read_summaries(watch_dir) if watch else []
            login_figures = await asyncio.wait_for(logins_done, 30)
            for session in sessions:
                await session.close()
            probe_out = await asyncio.to_thread(part_result, parts[0], seconds + 30)
            echo_out = await asyncio.to_thread(part_result, parts[1], seconds + 60) if echoes else {}
        finally:
            for process in parts:
                if process.poll() is None:
                    process.kill()
                    process.wait()
            stop_server(server)
            if redis_server is not None:
                stop_server(redis_server)
        stalls = loop_watch.read_stalls(watch_dir) if watch else []
        lags = loop_watch.read_summaries(watch_dir) if watch else []
    if "error" in probe_out:
        raise RuntimeError(f"the probe failed: {probe_out['error']}")
    result: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d", time.gmtime()), "workers": workers, "seconds": seconds,
        "cores": os.cpu_count(), "probe_status": probe_out["status"],
        **_ping_figures(probe_out["idle"], "idle"), **_ping_figures(probe_out["loaded"], "ping"),
        "relay_sockets": len(pairs) * 2, "relay_msgs_per_s": round(relay.received / elapsed, 1),
        "relay_p50_ms": _percentile(relay.latencies, 0.5), "relay_p99_ms": _percentile(relay.latencies, 0.99),
        "relay_errors": tally.errors + relay.errors,
        "relay_first_error": tally.first_error or relay.first_error or None, **login_figures,
        "echo_completed": echo_out.get("completed"), "echo_failed": echo_out.get("failed"),
        "echo_first_failure": echo_out.get("first_failure") or echo_out.get("error"),
        "echo_video_frames_back": echo_out.get("video_frames_back"),
        "server_cpu_pct_per_process": [round(100 * (b - a) / elapsed) for a, b in zip(cpu0, cpu1)],
        "machine_busy_pct": round(100 * (machine1[0] - machine0[0]) / max(1, machine1[1] - machine0[1])),
        "load_average_before": round(load_average, 2),
        "other_processes_cpu_pct": _others_cpu_pct(processes0, processes1, elapsed),
        "load_cpu_pct": {name: round(100 * (processes1[pid][1] - processes0[pid][1]) / elapsed)
                         for name, pid in roles.items() if pid in processes0 and pid in processes1},
    }
    if watch:
        result["server_threads_cpu_and_runqueue_ms"] = {
            pid: use for pid, use in loop_watch.thread_use(threads0, threads1).items() if pid in pids}
        result["loop_lag_worst_ms_per_process"] = [s["worst_ms"] for s in lags if s["ticks"] > 100]
        result["stalls_20ms"] = len([s for s in stalls if start_at <= s["t0"] <= start_at + seconds])
    result["loaded"] = probe_out["loaded"]
    result["window"] = (start_at, start_at + seconds)
    return result, stalls


def print_diagnosis(result: dict[str, Any], stalls: list[dict[str, Any]]) -> None:
    """The stalls under load by kind and culprit, and the stalls beside the slowest pings."""
    start, end = result["window"]
    under_load = [s for s in stalls if start <= s["t0"] <= end]
    by_kind: collections.Counter[str] = collections.Counter()
    by_culprit: dict[str, list[float]] = collections.defaultdict(list)
    for stall in under_load:
        by_kind[loop_watch.kind_of(stall)] += 1
        by_culprit[f"[{loop_watch.kind_of(stall)}] {loop_watch.culprit(stall)}"].append(stall["ms"])
    print(f"\nloop stalls >= 20 ms under load: {len(under_load)}; by kind: {dict(by_kind)}")
    for name, lengths in sorted(by_culprit.items(), key=lambda kv: -sum(kv[1]))[:12]:
        print(f"  {len(lengths):3d} x, total {sum(lengths):6.0f} ms, worst {max(lengths):5.0f} ms  {name}")
    print(f"\nthe {WORST_PINGS} slowest pings under load and the stalls that overlapped them:")
    for sent, rtt in sorted(result["loaded"], key=lambda p: -p[1])[:WORST_PINGS]:
        print(f"  ping at +{sent - start:6.2f} s: {rtt:6.1f} ms")
        for stall in loop_watch.overlapping(stalls, sent, sent + rtt / 1000):
            print(f"      pid {stall['pid']} +{stall['t0'] - start:6.2f} s {stall['ms']:6.1f} ms "
                  f"[{loop_watch.kind_of(stall)}; loop thread on CPU {stall['main_cpu_ms']} ms, "
                  f"waiting for CPU {stall['main_runqueue_ms']} ms; machine {stall['machine_busy_pct']}% busy; "
                  f"other threads {stall['others_cpu_ms']}] {loop_watch.culprit(stall)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1, choices=(1, 2, 3, 4),
                        help="1: one process; N: `serve --workers N` with a private redis-server")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=800.0, help="relayed messages a second in all")
    parser.add_argument("--login-interval", type=float, default=1.0,
                        help="shortest time between one attacker's sign-ins (s)")
    parser.add_argument("--default-limits", action="store_true",
                        help="keep the sign-in limits (most attempts then answer 429 unhashed)")
    parser.add_argument("--echo-cycle", type=float, default=5.0, help="length of one echo check (s)")
    parser.add_argument("--logins", type=int, default=LOGINS, help="sign-ins in flight at once (0: none)")
    parser.add_argument("--echo-checks", type=int, default=ECHO_CHECKS, help="echo checks at once (0: none)")
    parser.add_argument("--watch", action="store_true", help="watch the server's event loops")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--part", choices=("probe", "echo"), help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not 5 <= args.seconds <= 60 or not 1 <= args.rate <= 5000 or not 0.05 <= args.login_interval <= 10 \
            or not 2 <= args.echo_cycle <= 30 or not 0 <= args.logins <= 200 or not 0 <= args.echo_checks <= 40:
        parser.error("--seconds must be 5..60, --rate 1..5000, --login-interval 0.05..10, "
                     "--echo-cycle 2..30, --logins 0..200, --echo-checks 0..40")
    if args.part:
        work = probe if args.part == "probe" else echo_checks
        print(json.dumps(asyncio.run(work(json.loads(args.spec)))))
        return
    result, stalls = asyncio.run(run(args.seconds, args.workers, args.rate, watch=args.watch,
                                     login_interval=args.login_interval,
                                     default_limits=args.default_limits, echo_cycle=args.echo_cycle,
                                     logins=args.logins, echoes=args.echo_checks))
    if args.watch:
        print_diagnosis(result, stalls)
    shown = {k: v for k, v in result.items() if k not in ("loaded", "window")}
    met = (shown["ping_p99_ms"] is not None and shown["ping_p99_ms"] <= TARGET_P99_MS
           and shown["ping_max_ms"] <= TARGET_MAX_MS)
    print()
    report(shown, f"target (ping p99 <= {TARGET_P99_MS:g} ms, max <= {TARGET_MAX_MS:g} ms under load): "
                  f"{verdict(met)}", args.json)


if __name__ == "__main__":
    main()
