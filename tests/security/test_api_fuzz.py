"""schemathesis against the running server's /api/openapi.json: bounded in examples and
time, it must find no 5xx and no response that breaks the documented schema."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from server.auth.api_keys import new_api_key
from server.storage import open_database
from server.storage.api_keys import create_api_key
from tests.test_cli import ROOT, run

MAX_EXAMPLES = 100
TIME_LIMIT_SECONDS = 240


async def _api_key(db: Path) -> str:
    database = await open_database(db)
    try:
        key, prefix, key_hash = new_api_key()
        async with database.transaction() as conn:
            await create_api_key(conn, name="fuzz", prefix=prefix, key_hash=key_hash,
                                 created_by=None, now=int(time.time()))
        return key
    finally:
        await database.close()


def _wait_for(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            assert server.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)


def test_the_api_survives_schema_driven_fuzzing(tmp_path):
    from tests.test_deployment import _free_port

    db, port = tmp_path / "fuzz.db", _free_port()
    base = f"http://127.0.0.1:{port}"
    assert run("create-visit", "--db", str(db), "--patient-name", "Maya Lopez").returncode == 0
    key = asyncio.run(_api_key(db))
    env = {**os.environ, "VISITROOM_ADMIN_PASSWORD": "fuzz-admin-password-1"}
    server = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "serve", "--db", str(db),
                               "--port", str(port)], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(f"{base}/healthz", server)
        command = shutil.which("schemathesis") or "schemathesis"
        result = subprocess.run(
            [command, "run", f"{base}/api/openapi.json", "--header", f"Authorization: Bearer {key}",
             "--checks", "not_a_server_error,response_schema_conformance,status_code_conformance,"
             "content_type_conformance", "--max-examples", str(MAX_EXAMPLES), "--seed", "20261125",
             "--request-timeout", "10", "--no-color"],
            capture_output=True, text=True, timeout=TIME_LIMIT_SECONDS, cwd=tmp_path)
        assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
        assert server.poll() is None  # still serving
    finally:
        server.terminate()
        server.wait(10)
