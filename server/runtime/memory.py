"""Giving freed memory back to the system while the server runs.

A server that opens and closes thousands of connections a day frees most of what it
allocates, but glibc's malloc keeps the freed pieces between longer-lived ones inside its
heap: resident memory crept up all day with nothing left alive to show for it (the soak's
tracemalloc snapshots stayed flat while malloc's free bytes grew). `malloc_trim` hands
whole free pages back; once a minute costs a few milliseconds. Elsewhere than glibc
(musl, macOS) there is nothing to call and nothing is done.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import time
from typing import AsyncIterator, Callable

from aiohttp import web

log = logging.getLogger(__name__)

RELEASE_INTERVAL_SECONDS = 60.0
"""How often freed memory is handed back."""


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_TRIM = _malloc_trim()


def release_free_memory() -> bool:
    """Return malloc's free pages to the system; False when there is no glibc to ask."""
    if _TRIM is None:
        return False
    _TRIM(0)
    return True


async def memory_release_ctx(app: web.Application) -> AsyncIterator[None]:
    """Call `release_free_memory` every RELEASE_INTERVAL_SECONDS until shutdown."""
    async def loop() -> None:
        while True:
            await asyncio.sleep(RELEASE_INTERVAL_SECONDS)
            started = time.perf_counter()
            release_free_memory()
            log.debug("free memory released in %.1f ms", (time.perf_counter() - started) * 1000)

    task = asyncio.ensure_future(loop()) if _TRIM is not None else None
    yield
    if task is not None:
        task.cancel()
