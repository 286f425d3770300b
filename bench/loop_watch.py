"""Find what holds up a server's event loop: a tick on the loop and a watchdog thread.

Installed in every server process of a benchmark (its workers too) by
`bench/loop_watch_site/sitecustomize.py` when VISITROOM_BENCH_LOOPWATCH names a folder:

- a callback on the loop runs every TICK seconds; how late it runs is the loop's lag;
- a watchdog thread looks every POLL seconds; while the tick is overdue (a stall) it samples
  the main thread's Python stack, and it reads the kernel's per-thread CPU accounting
  (/proc/self/task/*/schedstat: time on a CPU, time runnable but waiting for one) and the
  machine's (/proc/stat) at the start and end of the stall.

Every stall of at least REPORT seconds becomes one JSON line in FOLDER/<pid>.jsonl: when it
began (time.monotonic(), the same clock in every process of the machine), how long, how
much of it the loop's thread spent on a CPU, waiting for one, or neither (blocked in a
system call, or waiting for the GIL another thread holds), the CPU each other thread of
the process used meanwhile, how busy the machine was, and the stacks seen most. The
loop's lag distribution goes to FOLDER/<pid>.summary.json every second.

The stall's first few milliseconds precede its detection: the main thread's figures are
read from a ring of samples taken every POLL and cover the whole stall; the other threads'
and the machine's cover it from detection on.
"""

from __future__ import annotations

import asyncio
import asyncio.events
import collections
import json
import os
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

TICK = 0.005
"""Interval of the tick on the loop (seconds)."""
POLL = 0.005
"""Interval of the watchdog (seconds)."""
DETECT = 0.010
"""A tick this much overdue starts a stall's sampling."""
REPORT = 0.020
"""Stalls at least this long are written out."""
STACK_FRAMES = 14
"""Innermost frames kept of each sampled stack."""
ROOT = str(Path(__file__).resolve().parent.parent) + "/"
LAG_BOUNDS_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def _short(path: str) -> str:
    if path.startswith(ROOT):
        return path[len(ROOT):]
    marker = "site-packages/"
    if marker in path:
        return path[path.index(marker) + len(marker):]
    if "/lib/python3" in path:
        return "stdlib/" + path.rsplit("/lib/python3", 1)[1].split("/", 1)[-1]
    return path


def format_stack(frame: FrameType | None) -> tuple[str, ...]:
    """The innermost STACK_FRAMES frames as 'file:line function', innermost first."""
    out = []
    while frame is not None and len(out) < STACK_FRAMES:
        code = frame.f_code
        out.append(f"{_short(code.co_filename)}:{frame.f_lineno} {code.co_name}")
        frame = frame.f_back
    return tuple(out)


def _schedstat(tid: int) -> tuple[int, int]:
    """(ns on a CPU, ns runnable waiting for one) of a thread of this process."""
    try:
        fields = Path(f"/proc/self/task/{tid}/schedstat").read_text().split()
        return int(fields[0]), int(fields[1])
    except (OSError, IndexError, ValueError):
        return 0, 0


def _all_threads() -> dict[int, tuple[int, int]]:
    out = {}
    for entry in os.scandir("/proc/self/task"):
        out[int(entry.name)] = _schedstat(int(entry.name))
    return out


def _kind_of_thread(name: str) -> str:
    """A thread's name without its number: 'argon2', 'ThreadPoolExecutor-0', or the
    target of an unnamed one ('Thread-3 (_connection_worker_thread)' -> its target)."""
    if name.startswith(("ThreadPoolExecutor", "argon2")):
        return name.rsplit("_", 1)[0]
    if name.startswith("Thread-") and name.endswith(")") and " (" in name:
        return name.split(" (", 1)[1][:-1]
    return name


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


class LoopWatch:
    """The tick, the watchdog and the files they write."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.pid = os.getpid()
        self.out = folder / f"{self.pid}.jsonl"
        self.main_tid = threading.get_native_id()
        self.main_ident = threading.get_ident()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.last_tick = time.monotonic()
        self.lags = [0] * (len(LAG_BOUNDS_MS) + 1)
        self.ticks = 0
        self.worst_ms = 0.0
        self.ring: collections.deque[tuple[float, int, int]] = collections.deque(maxlen=4096)
        self.lock = threading.Lock()

    # -- on the loop -------------------------------------------------------------------
    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start ticking on a loop that starts running in the main thread."""
        if loop is self.loop:
            return
        self.loop = loop
        self.last_tick = time.monotonic()
        loop.call_later(TICK, self._tick, self.last_tick + TICK)

    def _tick(self, due: float) -> None:
        now = time.monotonic()
        lag_ms = max(0.0, (now - due) * 1000)
        bucket = next((i for i, b in enumerate(LAG_BOUNDS_MS) if lag_ms < b), len(LAG_BOUNDS_MS))
        self.lags[bucket] += 1
        self.ticks += 1
        self.worst_ms = max(self.worst_ms, lag_ms)
        self.last_tick = now
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_later(TICK, self._tick, now + TICK)

    # -- the watchdog thread -----------------------------------------------------------
    def watch(self) -> None:
        """The watchdog's loop (a daemon thread: it ends with the process)."""
        stall: dict[str, Any] | None = None
        summary_at = time.monotonic() + 1.0
        while True:
            time.sleep(POLL)
            now = time.monotonic()
            cpu, wait = _schedstat(self.main_tid)
            self.ring.append((now, cpu, wait))
            last = self.last_tick
            if stall is not None and last != stall["tick"]:
                self._finish(stall, last, cpu, wait)
                stall = None
            elif stall is None and now - last > TICK + DETECT and self.loop is not None \
                    and self.loop.is_running():
                stall = {"tick": last, "threads": _all_threads(), "machine": machine_jiffies(),
                         "stacks": collections.Counter(), "detected": now}
            if stall is not None:
                frame = sys._current_frames().get(self.main_ident)
                stall["stacks"][format_stack(frame)] += 1
            if now >= summary_at:
                summary_at = now + 1.0
                self._summary()

    def _finish(self, stall: dict[str, Any], ended: float, cpu: int, wait: int) -> None:
        began = stall["tick"]
        length = ended - began - TICK
        if length < REPORT:
            return
        before = next(((c, w) for t, c, w in reversed(self.ring) if t <= began), None)
        threads_now = _all_threads()
        names = {t.native_id: t.name for t in threading.enumerate()}
        others = {}
        for tid, (c1, _w1) in threads_now.items():
            c0 = stall["threads"].get(tid, (c1, 0))[0]
            used = (c1 - c0) / 1e6
            if tid != self.main_tid and used >= 1:
                label = _kind_of_thread(names.get(tid, "native"))
                others[label] = round(others.get(label, 0) + used, 1)
        busy0, total0 = stall["machine"]
        busy1, total1 = machine_jiffies()
        record = {
            "pid": self.pid, "t0": round(began + TICK, 4), "ms": round(length * 1000, 1),
            "main_cpu_ms": round((cpu - before[0]) / 1e6, 1) if before else None,
            "main_runqueue_ms": round((wait - before[1]) / 1e6, 1) if before else None,
            "others_cpu_ms": dict(sorted(others.items(), key=lambda kv: -kv[1])),
            "machine_busy_pct": round(100 * (busy1 - busy0) / (total1 - total0), 0)
            if total1 > total0 else None,
            "samples": sum(stall["stacks"].values()),
            "stacks": [[n, list(s)] for s, n in stall["stacks"].most_common(3)],
        }
        with self.lock, self.out.open("a") as f:
            f.write(json.dumps(record) + "\n")

    def _summary(self) -> None:
        names = {t.native_id: t.name for t in threading.enumerate()}
        threads: dict[str, list[float]] = {}
        for tid, (cpu, wait) in _all_threads().items():
            label = "loop" if tid == self.main_tid else _kind_of_thread(names.get(tid, "native"))
            totals = threads.setdefault(label, [0.0, 0.0])
            totals[0] += cpu / 1e6
            totals[1] += wait / 1e6
        data = {"pid": self.pid, "argv": sys.argv[:3], "ticks": self.ticks, "worst_ms": round(self.worst_ms, 1),
                "lag_ms_buckets": dict(zip([f"<{b}" for b in LAG_BOUNDS_MS] + [f">={LAG_BOUNDS_MS[-1]}"],
                                           self.lags)),
                "threads_cpu_and_runqueue_ms": {k: [round(v[0]), round(v[1])] for k, v in threads.items()}}
        partial = self.folder / f"{self.pid}.summary.partial"
        partial.write_text(json.dumps(data))
        os.replace(partial, self.folder / f"{self.pid}.summary.json")


def install(folder: Path) -> LoopWatch:
    """Watch every event loop the main thread runs from now on (asyncio's own loop; the
    hook is `asyncio.events._set_running_loop`, which BaseEventLoop.run_forever calls)."""
    folder.mkdir(parents=True, exist_ok=True)
    watch = LoopWatch(folder)
    original = asyncio.events._set_running_loop

    def set_running_loop(loop: asyncio.AbstractEventLoop | None) -> None:
        original(loop)
        if loop is not None and threading.get_ident() == watch.main_ident:
            watch.attach(loop)

    asyncio.events._set_running_loop = set_running_loop  # type: ignore[assignment]
    # uvloop calls the `asyncio._set_running_loop` it finds when it is imported (after this,
    # from sitecustomize), not asyncio.events' one: without this its loop is never watched.
    asyncio._set_running_loop = set_running_loop  # type: ignore[attr-defined]
    threading.Thread(target=watch.watch, name="loop-watch", daemon=True).start()
    return watch


# -- reading what the watch wrote (in the benchmark's process) ------------------------------

def read_stalls(folder: Path) -> list[dict[str, Any]]:
    """Every stall written to `folder` by every watched process, oldest first."""
    stalls = []
    for path in folder.glob("*.jsonl"):
        stalls.extend(json.loads(line) for line in path.read_text().splitlines() if line)
    return sorted(stalls, key=lambda s: s["t0"])


def read_summaries(folder: Path) -> list[dict[str, Any]]:
    """Each watched process's lag figures."""
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.summary.json"))]


def kind_of(stall: dict[str, Any]) -> str:
    """What the loop's thread did during a stall: 'waiting for a CPU' (runnable, not
    scheduled: the machine is busy), 'running on the loop' (a callback on a CPU), or 'off
    CPU: GIL or system call' (neither: another thread holds the GIL, or a blocking call)."""
    length = stall["ms"]
    if (stall.get("main_runqueue_ms") or 0) >= 0.5 * length:
        return "waiting for a CPU"
    if (stall.get("main_cpu_ms") or 0) >= 0.5 * length:
        return "running on the loop"
    return "off CPU: GIL or system call"


def culprit(stall: dict[str, Any]) -> str:
    """The stall's most sampled stack in short: the callback the loop ran, and the
    innermost frame (with the innermost frame of Visitroom's own code between them)."""
    if not stall["stacks"]:
        return "(not sampled)"
    frames: list[str] = stall["stacks"][0][1]
    at = next((i for i, f in enumerate(frames)
               if i and f.startswith("stdlib/asyncio/events.py") and f.endswith(" _run")), None)
    entry = frames[at - 1] if at else None
    # Visitroom's innermost frame within the callback (not `serve` or `worker_main` below it).
    ours = next((f for f in frames[:at] if f.startswith(("server/", "signaling/"))), None)
    parts = [frames[0]]
    if ours and ours != frames[0]:
        parts.append(ours)
    if entry and entry not in parts:
        parts.append(entry)
    return " <- ".join(parts)


def overlapping(stalls: list[dict[str, Any]], start: float, end: float) -> list[dict[str, Any]]:
    """The stalls that overlap [start, end] (time.monotonic() seconds)."""
    return [s for s in stalls if s["t0"] < end and s["t0"] + s["ms"] / 1000 > start]


def thread_use(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> dict[int, dict[str, list[int]]]:
    """Per watched process, per kind of thread: [CPU ms, ms runnable waiting for a CPU]
    between two readings of the summaries."""
    first = {s["pid"]: s.get("threads_cpu_and_runqueue_ms", {}) for s in before}
    out = {}
    for summary in after:
        start = first.get(summary["pid"], {})
        use = {name: [v[0] - start.get(name, [0, 0])[0], v[1] - start.get(name, [0, 0])[1]]
               for name, v in summary.get("threads_cpu_and_runqueue_ms", {}).items()}
        out[summary["pid"]] = {k: v for k, v in sorted(use.items(), key=lambda kv: -kv[1][0]) if v[0] >= 5}
    return out
