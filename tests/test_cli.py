"""`run.py`: create-visit, rotate-key, --help, and bad input that stores nothing."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], capture_output=True,
                          text=True, timeout=60, cwd=ROOT, env=env)


def serve(db: Path, port: int, *args: str, output: int = subprocess.DEVNULL) -> subprocess.Popen[str]:
    """`run.py serve` in a process of its own, as a clinic runs it (stop it with .terminate())."""
    env = {**os.environ, "VISITROOM_ADMIN_PASSWORD": "process-test-admin-1"}
    return subprocess.Popen([sys.executable, str(ROOT / "run.py"), "serve", "--db", str(db),
                             "--port", str(port), *args], cwd=ROOT, env=env, stdout=output,
                            stderr=subprocess.STDOUT, text=True)


def wait_healthy(url: str, server: subprocess.Popen[str], context: Any = None) -> dict[str, Any]:
    """Poll /healthz until it answers (30 s at most, and only while the server lives)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{url}/healthz", context=context, timeout=5) as response:
                return {"headers": response.headers, "body": json.loads(response.read())}
        except OSError:
            assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)


def visits_in(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM visits").fetchone()[0]


def test_create_visit_prints_one_json_object(tmp_path):
    db = tmp_path / "v.db"
    result = run("create-visit", "--db", str(db), "--patient-name", "Maya Lopez",
                 "--therapist-name", "Sam Lee", "--kind", "evaluation",
                 "--public-url", "https://visits.clinic.test", "--json")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["patient_url"].startswith(f"https://visits.clinic.test/join/{body['visit_id']}?token=")
    assert body["therapist_url"] != body["patient_url"]
    assert body["minutes"] == 60
    assert visits_in(db) == 1
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] >= 1


def test_kind_sets_default_minutes_and_starts_at_is_honoured(tmp_path):
    result = run("create-visit", "--db", str(tmp_path / "v.db"), "--patient-name", "A",
                 "--kind", "intro", "--starts-at", "2031-04-05T08:00:00+02:00", "--json")
    body = json.loads(result.stdout)
    assert body["starts_at"] == "2031-04-05T06:00:00Z"
    assert body["ends_at"] == "2031-04-05T06:10:00Z"


@pytest.mark.parametrize("args, phrase", [
    (["--starts-at", "next tuesday"], "--starts-at"),
    (["--minutes", "0"], "--minutes must be between 1 and 240"),
    (["--minutes", "241"], "--minutes must be between 1 and 240"),
    (["--therapist", "ghost@clinic.test"], "--therapist no active therapist"),
])
def test_bad_input_exits_nonzero_with_one_line_and_stores_nothing(tmp_path, args, phrase):
    db = tmp_path / "v.db"
    result = run("create-visit", "--db", str(db), "--patient-name", "A", *args)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and phrase in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert visits_in(db) == 0


@pytest.mark.parametrize("command", ["serve", "create-visit", "rotate-key", "create-api-key"])
def test_every_subcommand_has_help(command):
    result = run(command, "--help")
    assert result.returncode == 0
    assert "usage: run.py" in result.stdout


def test_rotate_key_adds_a_key_and_old_links_still_verify(tmp_path):
    db = tmp_path / "v.db"
    first = json.loads(run("create-visit", "--db", str(db), "--patient-name", "A", "--json").stdout)
    result = run("rotate-key", "--db", str(db))
    assert result.returncode == 0 and "Added signing key" in result.stdout
    second = json.loads(run("create-visit", "--db", str(db), "--patient-name", "B", "--json").stdout)
    with sqlite3.connect(db) as conn:
        kids = [r[0] for r in conn.execute("SELECT kid FROM signing_keys ORDER BY created_at, position")]
        used = dict(conn.execute("SELECT visit_id, kid FROM participants WHERE role = 'patient'"))
    assert len(kids) == 2
    assert used[first["visit_id"]] == kids[0] and used[second["visit_id"]] == kids[1]


def test_environment_variables_configure_the_command(tmp_path):
    import os

    db = tmp_path / "env.db"
    env = {**os.environ, "VISITROOM_DB": str(db), "VISITROOM_PUBLIC_URL": "https://env.clinic.test"}
    body = json.loads(run("create-visit", "--patient-name", "A", "--json", env=env).stdout)
    assert body["patient_url"].startswith("https://env.clinic.test/join/")
    assert visits_in(db) == 1


def test_create_api_key_prints_a_key_once_with_its_scopes_and_bad_scopes_store_nothing(tmp_path):
    db = tmp_path / "keys.db"
    made = run("create-api-key", "EHR bridge", "--db", str(db), "--scopes",
               "patients:read patients:write")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("vr_") and "\n" not in key and "shown this once" in made.stderr
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT name, scopes, key_hash FROM api_keys").fetchall()
        actor = conn.execute("SELECT actor FROM events WHERE action = 'api_key.created'").fetchone()
    assert [(n, s) for n, s, _ in rows] == [("EHR bridge", "patients:read patients:write")]
    assert key not in rows[0][2] and actor == ("cli",)  # only its hash is kept
    for bad in (["--scopes", "patients:delete"], ["--scopes", ""]):
        refused = run("create-api-key", "Other", "--db", str(db), *bad)
        assert refused.returncode == 2 and refused.stderr.startswith("error: --scopes")
    blank = run("create-api-key", " ", "--db", str(db))
    assert blank.returncode == 2 and "NAME is required" in blank.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM api_keys").fetchone() == (1,)


def test_create_visit_for_a_patient_record_joins_her_plan(tmp_path):
    import asyncio

    from server.care.patient_input import PatientRequest, PlanRequest
    from server.care.service import CareService
    from server.auth.tokens import KeyRing
    from server.runtime.config import Config
    from server.storage import open_store

    db = tmp_path / "care.db"

    async def record() -> tuple[str, str]:
        store = await open_store(Config(db=db))
        try:
            ring = KeyRing(store)
            await ring.load()
            care = CareService(store, ring, Config(db=db))
            patient = await care.create_patient(PatientRequest(
                "Maya Lopez", None, None, False, None, False, "en", "MRN-5"), actor="test")
            plan = await care.create_plan(patient, PlanRequest(
                "pelvic-girdle-pain", "", None, 8, None), actor="test")
            return patient.id, plan.id
        finally:
            await store.close()

    patient_id, plan_id = asyncio.run(record())
    made = run("create-visit", "--db", str(db), "--patient-external-id", "MRN-5", "--json")
    assert made.returncode == 0, made.stderr
    body = json.loads(made.stdout)
    assert (body["patient_id"], body["plan_id"]) == (patient_id, plan_id)
    assert body["participants"][0]["name"] == "Maya Lopez"
    refused = run("create-visit", "--db", str(db), "--patient-id", "pt_AAAAAAAAAAAAAAAA")
    assert refused.returncode == 2 and refused.stderr.startswith("error: --patient-id")
    assert visits_in(db) == 1
