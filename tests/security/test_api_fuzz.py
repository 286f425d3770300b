"""schemathesis against the running server's /api/openapi.json: bounded in examples and
time, it must find no 5xx and no response that breaks the documented schema."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from tests.helpers import api_key_in
from tests.live import free_port
from tests.test_cli import run, serve, wait_healthy

MAX_EXAMPLES = 100
TIME_LIMIT_SECONDS = 240


@pytest.mark.timeout(TIME_LIMIT_SECONDS + 60)  # past the run's own limit, which says more
def test_the_api_survives_schema_driven_fuzzing(tmp_path):
    db, port = tmp_path / "fuzz.db", free_port()
    base = f"http://127.0.0.1:{port}"
    assert run("create-visit", "--db", str(db), "--patient-name", "Maya Lopez").returncode == 0
    key = asyncio.run(api_key_in(db, "fuzz"))
    server = serve(db, port)
    try:
        wait_healthy(base, server)
        result = subprocess.run(
            [sys.executable, "-m", "schemathesis.cli", "run", f"{base}/api/openapi.json",
             "--header", f"Authorization: Bearer {key}",
             "--checks", "not_a_server_error,response_schema_conformance,status_code_conformance,"
             "content_type_conformance", "--max-examples", str(MAX_EXAMPLES), "--seed", "20261125",
             "--request-timeout", "10", "--no-color"],
            capture_output=True, text=True, timeout=TIME_LIMIT_SECONDS, cwd=tmp_path)
        assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
        assert server.poll() is None  # still serving
    finally:
        server.terminate()
        server.wait(10)
