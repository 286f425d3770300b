"""Pages and the library's JSON are compressed on the event loop, never in a thread pool.

Each thread that compresses grows a malloc arena of its own that is not given back, so a
server compressing pages in aiohttp's thread pool grew all day (bench/soak.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

LARGER_THAN_AIOHTTPS_THREAD_LIMIT = 4096


@pytest.mark.parametrize("path", ["/library", "/api/library/exercises"])
async def test_a_large_page_or_document_is_compressed_without_a_thread(client, monkeypatch, path):
    loop = asyncio.get_running_loop()
    handed_to_threads: list[Any] = []
    original = loop.run_in_executor

    def run_in_executor(executor: Any, func: Any, *args: Any) -> Any:
        handed_to_threads.append(func)
        return original(executor, func, *args)

    monkeypatch.setattr(loop, "run_in_executor", run_in_executor)
    response = await client.get(path, headers={"Accept-Encoding": "gzip"})
    body = await response.text()
    assert response.status == 200
    assert response.headers.get("Content-Encoding") == "gzip"
    assert len(body.encode()) > LARGER_THAN_AIOHTTPS_THREAD_LIMIT
    assert handed_to_threads == []
