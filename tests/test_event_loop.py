"""The event loop `serve` runs on: uvloop by default, asyncio's own with VISITROOM_LOOP."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
import uvloop

from server.runtime.config import ConfigError
from server.runtime.event_loop import choose_loop
from tests.test_cli import ROOT, run, wait_healthy


@pytest.fixture
def restored_policy() -> Iterator[None]:
    """Put asyncio's own policy back after a test that chose another."""
    try:
        yield
    finally:
        asyncio.set_event_loop_policy(None)


def test_uvloop_is_the_default_where_it_is_installed(restored_policy):
    assert choose_loop({}) == "uvloop"
    assert isinstance(asyncio.get_event_loop_policy(), uvloop.EventLoopPolicy)
    loop = asyncio.new_event_loop()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


@pytest.mark.parametrize("value", ["asyncio", " AsyncIO "])
def test_visitroom_loop_asyncio_chooses_asyncio_s_own(restored_policy, value):
    choose_loop({})
    assert choose_loop({"VISITROOM_LOOP": value}) == "asyncio"
    loop = asyncio.new_event_loop()
    try:
        assert not isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


@pytest.mark.parametrize("value", ["trio", "uv loop", "1"])
def test_an_unknown_loop_is_refused_by_name(restored_policy, value):
    with pytest.raises(ConfigError, match="VISITROOM_LOOP must be one of uvloop, asyncio"):
        choose_loop({"VISITROOM_LOOP": value})
    assert not isinstance(asyncio.get_event_loop_policy(), uvloop.EventLoopPolicy)


def test_serve_refuses_an_unknown_loop_in_one_line_before_touching_the_database(tmp_path: Path):
    db = tmp_path / "v.db"
    done = run("serve", "--db", str(db), "--port", "9", env={**os.environ, "VISITROOM_LOOP": "trio"})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: VISITROOM_LOOP must be one of uvloop, asyncio, not 'trio'"]
    assert not db.exists()


@pytest.mark.parametrize("value, expected", [("", "uvloop"), ("asyncio", "asyncio")])
def test_serve_says_which_loop_it_runs_on(tmp_path: Path, value: str, expected: str):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "VISITROOM_ADMIN_PASSWORD": "process-test-admin-1", "VISITROOM_LOOP": value}
    server = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "serve", "--db",
                               str(tmp_path / "v.db"), "--port", str(port)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", server)
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert f", loop {expected})" in output.splitlines()[0]
