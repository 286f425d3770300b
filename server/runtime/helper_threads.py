"""Helper threads give way to the event loop's thread when the cores are busy.

Password hashing (argon2, `server.auth.passwords`) and whatever runs in the loop's default
executor are CPU work that can wait a few milliseconds; a signaling socket's next message
cannot. Under load on two cores the worst signaling pings were spent waiting for a CPU
(docs/performance.md, "Signaling under mixed load"), so these threads run at a lower CPU
priority than the loop's: Linux keeps the nice value per thread, and raising it needs no
privilege.
"""

from __future__ import annotations

import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import AsyncIterator

from aiohttp import web

HELPER_NICENESS = 10
"""How much lower than the loop's thread a helper thread runs (added to its nice, up to
19, the lowest priority)."""


def lower_this_thread() -> None:
    """Run the calling thread `HELPER_NICENESS` below the thread that started it (a new
    thread starts with its creator's nice; a no-op where threads have no nice of their
    own, or the call is refused)."""
    try:
        thread = threading.get_native_id()
        now = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, now + HELPER_NICENESS))
    except (OSError, AttributeError):
        pass


def helper_executor(threads: int | None, name: str) -> ThreadPoolExecutor:
    """A thread pool whose threads run below the loop's thread."""
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name,
                              initializer=lower_this_thread)


async def helper_threads_ctx(app: web.Application) -> AsyncIterator[None]:
    """The loop's default executor (`asyncio.to_thread`, `run_in_executor(None, ...)`)
    made of lower-priority threads for the app's life."""
    executor = helper_executor(None, "helper")
    asyncio.get_running_loop().set_default_executor(executor)
    yield
    executor.shutdown(wait=False, cancel_futures=True)
