"""A running server hands memory it freed back to the system (glibc keeps it otherwise)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

import server.memory
from server.app import create_app
from server.memory import release_free_memory

pytestmark = pytest.mark.skipif(server.memory._TRIM is None, reason="needs glibc's malloc_trim")


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
    monkeypatch.setattr(server.memory, "RELEASE_INTERVAL_SECONDS", 0.2)
    client = await aiohttp_client(create_app(config))
    kept = fragment_heap()
    held = rss_kib()
    deadline = time.monotonic() + 5
    while rss_kib() > held - 32 * 1024:
        assert time.monotonic() < deadline, f"still {rss_kib() // 1024} MiB after 5 s ({held // 1024} MiB held)"
        await asyncio.sleep(0.1)
    assert (await client.get("/healthz")).status == 200
    del kept


def test_releasing_free_memory_takes_milliseconds():
    kept = fragment_heap()
    held = rss_kib()
    started = time.perf_counter()
    assert release_free_memory()
    took = time.perf_counter() - started
    assert rss_kib() < held - 32 * 1024
    assert took < 0.1, took
    del kept
