"""Helper threads (password hashing, the default executor) run below the event loop's
thread, and the echo check's media library is imported off the loop once the server is up
(docs/performance.md, "Signaling under mixed load")."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading

from server.app import create_app
from server.runtime.helper_threads import HELPER_NICENESS
from server.keys import PASSWORDS


def _nice_of_this_thread() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


async def test_the_default_executor_and_the_hashing_pool_run_below_the_loop(aiohttp_client, config):
    client = await aiohttp_client(create_app(config))
    loop_nice = _nice_of_this_thread()
    assert await asyncio.to_thread(_nice_of_this_thread) == min(19, loop_nice + HELPER_NICENESS)
    hashing = await client.app[PASSWORDS]._run(_nice_of_this_thread)
    assert hashing == min(19, loop_nice + HELPER_NICENESS)
    assert _nice_of_this_thread() == loop_nice  # the loop's own thread is untouched
    assert (await client.get("/healthz")).status == 200


def test_the_media_library_is_imported_once_the_server_is_up(tmp_path):
    # In a process of its own: this test session has imported aiortc long ago.
    script = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from aiohttp.test_utils import TestClient, TestServer\n"
        "from server.app import create_app\n"
        "from server.runtime.config import Config\n"
        "async def main():\n"
        f"    config = Config(db=Path({str(tmp_path / 'v.db')!r}), admin_password='x' * 16,\n"
        "                    public_url='http://127.0.0.1:8080')\n"
        "    before = 'aiortc' in sys.modules\n"
        "    async with TestClient(TestServer(create_app(config))) as client:\n"
        "        for _ in range(200):\n"
        "            if 'aiortc.contrib.media' in sys.modules: break\n"
        "            await asyncio.sleep(0.05)\n"
        "        status = (await client.get('/healthz')).status\n"
        "    print(before, 'aiortc.contrib.media' in sys.modules, status)\n"
        "asyncio.run(main())\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, cwd=os.getcwd())
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["False", "True", "200"], done.stdout
