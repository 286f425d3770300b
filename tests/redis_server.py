"""A real redis-server (Debian's) on 127.0.0.1, on a free port, with a temporary directory.

Never a system service: the tests start and stop their own process. `tests/run.sh`
installs the package when `redis-server` is missing. Import the `redis_server` fixture
into a test module to use it.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from bench.common import launch_redis
from signaling.bus_seal import EnvelopeSeal
from tests.live import free_port

GROUP_KEY = bytes(range(32))
"""The bus key the tests' nodes of one group share (a server reads its group's key from
the database: `server.storage.server_secrets.bus_seal_key`)."""


def group_seal() -> EnvelopeSeal:
    """A node's seal for the tests' group (its own, as each process has one)."""
    return EnvelopeSeal(GROUP_KEY)


class RedisServer:
    """One redis-server process that can be stopped and started again on the same port."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it (no persistence: a restart forgets everything, as a crash would)."""
        try:
            self.process = launch_redis(self.directory, self.port)
        except RuntimeError as exc:
            pytest.fail(str(exc))

    def stop(self) -> None:
        """Stop it at once (SIGKILL, like a crash), and wait until it is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for the session (tests use their own node ids and visit ids)."""
    with tempfile.TemporaryDirectory(prefix="visitroom-redis-") as directory:
        server = RedisServer(Path(directory))
        server.start()
        yield server
        server.stop()


@pytest.fixture
def own_redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server for one test (one that the test may stop and start again)."""
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()
