"""A running server hands memory it freed back to the system (glibc keeps it otherwise)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

import server.runtime.memory
from server.app import create_app

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(server.runtime.memory._TRIM is None, reason="needs glibc's malloc_trim")


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def fragment_heap(mib: int = 64) -> list[bytes]:
    """Allocate `mib` MiB in 64 KiB pieces, each followed by a small piece that stays alive,
    then free the large pieces: the heap keeps holes that free() alone does not give back."""
    kept, large = [], []
    for i in range(mib * 16):
        large.append(bytes(64 * 1024 - 64) + bytes([i % 256]))
        kept.append(bytes(1024) + bytes([i % 256]))
    large.clear()
    return kept


async def test_the_server_gives_freed_memory_back_while_it_runs(aiohttp_client, config, monkeypatch):
    real_trim = server.runtime.memory._TRIM
    calls: list[int] = []

    def trim(pad: int) -> int:  # the real call, counted
        calls.append(pad)
        return real_trim(pad)

    monkeypatch.setattr(server.runtime.memory, "_TRIM", trim)
    monkeypatch.setattr(server.runtime.memory, "RELEASE_INTERVAL_SECONDS", 0.1)
    client = await aiohttp_client(create_app(config))
    deadline = time.monotonic() + 5
    while len(calls) < 3:
        assert time.monotonic() < deadline, f"{len(calls)} releases in 5 s"
        await asyncio.sleep(0.05)
    assert (await client.get("/healthz")).status == 200


def test_releasing_free_memory_gives_the_holes_back_within_milliseconds():
    # In a process of its own: a long test session's heap already has holes of every size.
    script = (
        "import json, time\n"
        "from tests.test_memory import fragment_heap, rss_kib\n"
        "from server.runtime.memory import release_free_memory\n"
        "kept = fragment_heap(); held = rss_kib(); started = time.perf_counter()\n"
        "released = release_free_memory(); took = time.perf_counter() - started\n"
        "print(json.dumps([released, held, rss_kib(), took]))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    released, held, after, took = json.loads(done.stdout)
    assert released and after < held - 32 * 1024, (held, after)
    assert took < 0.1, took
