"""What the benchmarks share: a server subprocess, its CPU and memory, visits to load it with."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    """A server process started by a benchmark."""

    process: subprocess.Popen

    @property
    def pid(self) -> int:
        return self.process.pid


def use_uvloop() -> None:
    """Run the generator on uvloop when it is installed."""
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pin(pid: int, core: int | None) -> None:
    """Pin a process to one core when the machine has more than one (None: leave it free)."""
    if core is not None and hasattr(os, "sched_setaffinity") and os.cpu_count() and os.cpu_count() > 1:
        os.sched_setaffinity(pid, {core % os.cpu_count()})


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def busy_seconds() -> float:
    """CPU seconds every core of the machine has spent busy since boot (/proc/stat: all but
    idle and iowait; guest time is already in user)."""
    ticks = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / CLOCK_TICKS


def rss_kb(pid: int) -> int:
    """Resident memory of a process in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def raise_file_limit(wanted: int = 65536) -> None:
    """Allow many sockets in this process (and the children it starts)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, wanted), hard), hard))


def start_server(db: Path, port: int, *, extra_env: dict[str, str] | None = None, core: int | None = 0,
                 workers: int = 1) -> Server:
    """`run.py serve` on 127.0.0.1:port with this database, pinned to `core` (with
    `workers` > 1, the supervisor; its workers inherit the pinning; None: not pinned)."""
    raise_file_limit()
    env = {**os.environ, "VISITROOM_ADMIN_PASSWORD": "benchmark-admin-1", **(extra_env or {})}
    more = ["--workers", str(workers)] if workers != 1 else []
    process = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "serve", "--db", str(db),
                                "--port", str(port), *more], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = Server(process)
    pin(server.pid, core)
    return server


def children(pid: int) -> list[int]:
    """The direct child processes of a process (a supervisor's workers)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return sorted(set(found))


def launch_redis(directory: Path, port: int) -> subprocess.Popen[bytes]:
    """A private redis-server on 127.0.0.1:`port` (no persistence, files in `directory`),
    returned once it answers PING; RuntimeError (with its log's end) when it does not.
    The tests' Redis fixture starts its servers through this too."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed: run the tests with bash "
                           "tests/run.sh (it installs Debian's redis-server)")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(directory), "--logfile", str(directory / "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return process
        except OSError:
            pass
        time.sleep(0.05)
    if process.poll() is None:
        process.kill()
    process.wait()
    log = directory / "redis.log"
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    raise RuntimeError(f"redis-server did not start on port {port}: {tail}")


def start_redis(directory: Path, core: int | None = 0) -> tuple[Server, str]:
    """A private redis-server on a free port, pinned to `core` (None: not pinned); returns
    it and its URL."""
    port = free_port()
    server = Server(launch_redis(directory, port))
    pin(server.pid, core)
    return server, f"redis://127.0.0.1:{port}/0"


def stop_server(server: Server) -> None:
    """Stop a server process and wait for it."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGINT)
        try:
            server.process.wait(10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


async def wait_http(url: str, *, expect: tuple[int, ...] = (200,), timeout: float = 30.0) -> float:
    """Poll a URL until it answers one of `expect`; returns the seconds it took."""
    started = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(url) as response:
                    if response.status in expect:
                        return time.perf_counter() - started
            except aiohttp.ClientError:
                pass
            if time.perf_counter() - started > timeout:
                raise TimeoutError(f"{url} did not answer within {timeout} s")
            await asyncio.sleep(0.02)


async def prepare_visits(db: Path, public_url: str, count: int, *,
                         admitted: bool = True) -> list[tuple[str, str, str, str]]:
    """Create visits (patients already admitted) in a fresh database, through the visit service.

    Returns (visit id, patient link, therapist link, "patient id,therapist id") for each.
    """
    from server.auth.tokens import KeyRing
    from server.runtime.bootstrap import ensure_admin
    from server.runtime.config import Config
    from server.storage import open_database
    from server.storage.visits import mark_admitted
    from server.visits.visit_input import parse_visit_request
    from server.visits.service import VisitService

    config = Config(db=db, public_url=public_url, admin_password="benchmark-admin-1")
    database = await open_database(db)
    try:
        ring = KeyRing(database)
        await ring.load()
        await ensure_admin(database, config)
        service = VisitService(database, ring, config)
        request = parse_visit_request({"patient_name": "Bench Patient", "kind": "evaluation",
                                       "minutes": 240}, config)
        out = []
        for _ in range(count):
            visit = await service.create(request, actor="bench")
            patient, therapist = visit.participant("patient"), visit.participant("therapist")
            if admitted:
                async with database.transaction() as conn:
                    await mark_admitted(conn, patient.id, int(time.time()), None)
            out.append((visit.id, await service.link(patient), await service.link(therapist),
                        f"{patient.id},{therapist.id}"))
        return out
    finally:
        await database.close()


def report(result: dict[str, Any], verdict: str, as_json: bool) -> None:
    """Print a benchmark's figures one a line, then its verdict on the targets, then (with
    --json) the whole result as the last line."""
    width = max(len(key) for key in result) + 1
    for key, value in result.items():
        if key != "samples":
            print(f"{key:<{width}} {value}")
    print(verdict)
    if as_json:
        print(json.dumps(result))


def verdict(met: bool) -> str:
    """'met' or 'MISSED'."""
    return "met" if met else "MISSED"
