"""The PostgreSQL engine: migrations, start-up errors, backups, lost connections, and rows
that outlive the process that wrote them."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from server.app import create_app
from server.runtime.config import Config, ConfigError, config_from_env
from server.keys import DB, VISITS
from server.visits.program import assign
from server.storage.postgres import PostgresDatabase, pg_row, to_pyformat
from server.storage.schema import migration_files
from server.storage.signing_keys import all_signing_keys, insert_signing_key
from tests.helpers import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    api_key_in,
    link_of,
    login,
    make_api_key,
    make_visit,
)
from tests.live import free_port
from tests.postgres_server import PostgresCluster

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], capture_output=True,
                          text=True, timeout=60, cwd=ROOT, env={**os.environ, **env})


def test_placeholders_become_pyformat_outside_quoted_text():
    assert to_pyformat("SELECT * FROM t WHERE a = ? AND b IN (?, ?)") == \
        "SELECT * FROM t WHERE a = %s AND b IN (%s, %s)"
    assert to_pyformat("SELECT '?', \"?\" FROM t WHERE a LIKE '50%' AND b = ?") == \
        "SELECT '?', \"?\" FROM t WHERE a LIKE '50%%' AND b = %s"
    assert to_pyformat("SELECT 1 -- it's a note?\nFROM t /* why? */ WHERE a = ?") == \
        "SELECT 1 -- it's a note?\nFROM t /* why? */ WHERE a = %s"
    assert to_pyformat("SELECT 'it''s', ? FROM t") == "SELECT 'it''s', %s FROM t"


@pytest.fixture
def empty_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """URL of an empty PostgreSQL database (no migrations applied yet)."""
    url = postgres_cluster.fresh_database()
    yield url
    postgres_cluster.retire(url)


async def test_migrations_apply_on_a_fresh_database_and_again_change_nothing(empty_url):
    postgres_url = empty_url
    db = await PostgresDatabase(postgres_url).open()
    try:
        assert await db.schema_version() == len(migration_files("postgres")) \
            == len(migration_files("sqlite"))
        tables = {r[0] for r in await db.fetchall(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")}
        assert {"users", "visits", "participants", "events", "assignments", "links",
                "server_secrets", "login_addresses", "schema_migrations"} <= tables
    finally:
        await db.close()
    again = await PostgresDatabase(postgres_url).open()
    try:
        applied = await again.fetchall("SELECT version FROM schema_migrations ORDER BY version")
        assert [r["version"] for r in applied] == list(range(1, len(migration_files("postgres")) + 1))
    finally:
        await again.close()


async def test_processes_starting_together_migrate_once_without_failing(empty_url):
    postgres_url = empty_url
    opened = await asyncio.gather(*(PostgresDatabase(postgres_url).open() for _ in range(4)))
    try:
        for db in opened:
            assert await db.schema_version() == len(migration_files("postgres"))
        count = await opened[0].fetchone("SELECT COUNT(*) FROM schema_migrations")
        assert count[0] == len(migration_files("postgres"))
    finally:
        await asyncio.gather(*(db.close() for db in opened))


async def test_processes_starting_together_make_one_admin_account_and_one_first_key(empty_url):
    from server.auth.tokens import KeyRing
    from server.runtime.bootstrap import ensure_admin
    from server.storage.users import count_admins

    opened = await asyncio.gather(*(PostgresDatabase(empty_url).open() for _ in range(4)))
    config = Config(admin_email="admin@group.example")
    try:
        passwords = await asyncio.gather(*(ensure_admin(db, config) for db in opened))
        assert await count_admins(opened[0]) == 1
        assert sum(p is not None for p in passwords) == 1  # printed by the one that made it
        await asyncio.gather(*(KeyRing(db).load() for db in opened))
        assert len(await all_signing_keys(opened[0])) == 1  # a link made anywhere opens anywhere
    finally:
        await asyncio.gather(*(db.close() for db in opened))


async def test_rows_read_by_name_and_position_and_emails_match_in_any_case(postgres_url):
    db = await PostgresDatabase(postgres_url).open()
    try:
        async with db.transaction() as conn:
            async with conn.execute(
                    "INSERT INTO users (email, name, role, password_hash, created_at)"
                    " VALUES (?, ?, 'therapist', 'x', ?) RETURNING id", ("Rae@Clinic.test", "Rae", 1)
            ) as cur:
                user_id = (await cur.fetchone())["id"]
        row = await db.fetchone("SELECT id, name FROM users WHERE email = ?", ("rae@clinic.TEST",))
        assert row is not None and row["id"] == row[0] == user_id and tuple(row) == (user_id, "Rae")
        assert row.keys() == ["id", "name"]
    finally:
        await db.close()


async def test_keys_made_in_the_same_second_keep_the_order_they_were_added_in(postgres_url):
    db = await PostgresDatabase(postgres_url).open()
    try:
        before = [kid for kid, _, _ in await all_signing_keys(db)]
        async with db.transaction() as conn:
            for kid in ("k-b", "k-a", "k-c"):
                await insert_signing_key(conn, kid=kid, private_pem="pem", now=2**40)
        assert [kid for kid, _, _ in await all_signing_keys(db)] == [*before, "k-b", "k-a", "k-c"]
    finally:
        await db.close()


def test_the_row_factory_names_each_column_of_the_query():
    class Column:
        def __init__(self, name: str) -> None:
            self.name = name

    class Cursor:
        description = [Column("a"), Column("b")]

    row = pg_row(Cursor())([1, 2])
    assert row["b"] == row[1] == 2 and list(row) == [1, 2]


async def test_a_failed_transaction_stores_nothing(postgres_url):
    db = await PostgresDatabase(postgres_url).open()
    try:
        with pytest.raises(RuntimeError):
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO login_unknown_emails (email_tag, last_at)"
                                   " VALUES ('t1', 1)")
                raise RuntimeError("half-way")
        assert (await db.fetchone("SELECT COUNT(*) FROM login_unknown_emails"))[0] == 0
    finally:
        await db.close()


async def test_a_write_lock_held_past_the_busy_time_answers_busy_not_a_wait_without_end(
        postgres_url):
    from server.storage import DatabaseBusy

    holder = await PostgresDatabase(postgres_url, busy_seconds=1).open()
    other = await PostgresDatabase(postgres_url, busy_seconds=1).open()  # another process
    try:
        async with holder.transaction():
            started = time.monotonic()
            with pytest.raises(DatabaseBusy):  # the lock another process holds
                async with other.transaction():
                    pass
            with pytest.raises(DatabaseBusy):  # this process's own writer, still busy
                async with holder.transaction():
                    pass
            assert time.monotonic() - started < 5
        async with other.transaction() as conn:  # free again: writes go on
            await conn.execute("INSERT INTO login_unknown_emails (email_tag, last_at)"
                               " VALUES ('t2', 1)")
        assert (await other.fetchone("SELECT COUNT(*) FROM login_unknown_emails"))[0] == 1
    finally:
        await holder.close()
        await other.close()


def test_a_database_url_of_another_kind_is_refused_with_its_variable_named():
    with pytest.raises(ConfigError, match="VISITROOM_DATABASE_URL"):
        config_from_env({"VISITROOM_DATABASE_URL": "mysql://db.example/visits"})
    assert "s3cret" not in repr(Config(database_url="postgresql://u:s3cret@h/db"))


def test_serve_with_a_bad_database_url_stops_with_one_line(tmp_path):
    result = _run("serve", "--db", str(tmp_path / "v.db"), "--port", str(free_port()),
                  env={"VISITROOM_DATABASE_URL": "sqlite:///var/visitroom.db"})
    assert result.returncode == 2
    assert "VISITROOM_DATABASE_URL must start with postgresql://" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "v.db").exists()


def test_an_unreachable_database_stops_the_server_with_one_line_naming_it(tmp_path):
    port = free_port()  # nothing listens there
    result = _run("serve", "--port", str(free_port()), env={
        "VISITROOM_DATABASE_URL": f"postgresql://visitroom:pw-s3cret@127.0.0.1:{port}/clinic"})
    assert result.returncode == 2, result.stderr
    assert f"cannot connect to the PostgreSQL database 127.0.0.1:{port}/clinic" in result.stderr
    assert "Traceback" not in result.stderr and "pw-s3cret" not in result.stderr + result.stdout


def test_backup_on_postgresql_points_at_pg_dump_and_writes_nothing(tmp_path, postgres_url):
    target = tmp_path / "monday.dump"
    result = _run("backup", str(target), env={"VISITROOM_DATABASE_URL": postgres_url})
    assert result.returncode == 1
    assert "pg_dump --format=custom" in result.stderr and f"--file={target}" in result.stderr
    password = postgres_url.split(":")[2].split("@")[0]
    assert password not in result.stderr + result.stdout
    assert not target.exists() and list(tmp_path.iterdir()) == []


@pytest.fixture
async def pg_app(aiohttp_client, postgres_url):
    """A signed-in admin client on a PostgreSQL database, and its settings."""
    config = Config(db=Path("/nonexistent/unused.db"), database_url=postgres_url,
                    admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD,
                    public_url="http://127.0.0.1:8080", db_busy_seconds=1)
    client = await aiohttp_client(create_app(config))
    await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
    return client, config


async def test_visits_admissions_denials_assignments_and_events_are_there_after_reopening(pg_app):
    client, config = pg_app
    app = client.server.app
    key = await make_api_key(client)
    created = await client.post("/api/visits", json={"patient_name": "Maya Lopez"},
                                headers={"Authorization": f"Bearer {key}"})
    assert created.status == 201
    visit = await app[VISITS].get((await created.json())["visit_id"])
    other = await make_visit(client)
    assert visit is not None and (await client.get(await link_of(client, visit))).status == 200
    patient, guest = visit.participant("patient"), other.participant("patient")
    await app[VISITS].record_admission(visit.id, patient.id, admitted=True, device="d1")
    await app[VISITS].record_admission(other.id, guest.id, admitted=False)
    values = {"exercise": "glute-bridge", "sets": 2, "reps": 10, "hold_seconds": 0, "per_day": 1,
              "per_week": 0, "note": ""}
    assigned = await assign(app[DB], visit=visit, participant_id=patient.id,
                            values=values, actor="test")
    events = (await app[DB].fetchone("SELECT COUNT(*) FROM events"))[0]
    await client.close()

    db = await PostgresDatabase(config.database_url).open()
    try:
        stored = await db.fetchone("SELECT admitted_at, admitted_device FROM participants"
                                   " WHERE id = ?", (patient.id,))
        assert stored["admitted_at"] is not None and stored["admitted_device"] == "d1"
        program = await db.fetchall("SELECT id, exercise FROM assignments WHERE visit_id = ?",
                                    (visit.id,))
        assert [tuple(r) for r in program] == [(assigned.id, "glute-bridge")]
        denied = await db.fetchone("SELECT denied_at FROM participants WHERE id = ?", (guest.id,))
        assert denied["denied_at"] is not None
        assert (await db.fetchone("SELECT COUNT(*) FROM events"))[0] == events >= 4
        actions = {r[0] for r in await db.fetchall("SELECT action FROM events")}
        assert {"visit.created", "account.created", "program.assigned"} <= actions
    finally:
        await db.close()


async def test_a_lost_database_answers_503_and_the_server_recovers(pg_app, postgres_cluster):
    client, config = pg_app
    name = config.database_url.rsplit("/", 1)[1]
    with postgres_cluster.admin() as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                      (name,))
    try:
        response = await client.get("/admin")
        assert response.status == 503 and response.headers["Retry-After"]
        assert "busy" in await response.text() and "Traceback" not in await response.text()
        assert (await client.get("/healthz")).status == 503
    finally:
        with postgres_cluster.admin() as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    deadline = time.monotonic() + 15
    while (await client.get("/admin")).status != 200:
        assert time.monotonic() < deadline, "the server did not reconnect"
        await asyncio.sleep(0.2)


def test_a_server_process_killed_loses_nothing_it_answered(postgres_url, tmp_path):
    port, output = free_port(), tmp_path / "serve.out"
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "VISITROOM_DATABASE_URL": postgres_url,
           "VISITROOM_ADMIN_PASSWORD": "process-test-admin-1"}
    with output.open("w") as sink:
        server = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "serve", "--port",
                                   str(port), "--db", str(tmp_path / "unused.db")], cwd=ROOT,
                                  env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=5):
                    break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        key = asyncio.run(api_key_in(postgres_url, "kill test"))
        request = urllib.request.Request(
            f"{base}/api/visits", data=json.dumps({"patient_name": "Maya Lopez"}).encode(),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            visit_id = json.loads(response.read())["visit_id"]
        server.send_signal(signal.SIGKILL)
        server.wait(10)
    finally:
        server.kill()
        server.wait(10)
    assert not (tmp_path / "unused.db").exists()
    printed = output.read_text()
    assert f"(database PostgreSQL 127.0.0.1:{postgres_url.split(':')[3]}" in printed
    assert postgres_url.split(":")[2].split("@")[0] not in printed  # the password

    async def stored() -> tuple[int, int]:
        db = await PostgresDatabase(postgres_url).open()
        try:
            visits = await db.fetchone("SELECT COUNT(*) FROM visits WHERE id = ?", (visit_id,))
            events = await db.fetchone("SELECT COUNT(*) FROM events WHERE visit_id = ?"
                                       " AND action = 'visit.created'", (visit_id,))
            return visits[0], events[0]
        finally:
            await db.close()

    assert asyncio.run(stored()) == (1, 1)


def test_the_cluster_url_works_from_another_process(postgres_cluster: PostgresCluster,
                                                    postgres_url: str):
    code = ("import psycopg,sys; c = psycopg.connect(sys.argv[1]);"
            " print(c.execute('SELECT current_database()').fetchone()[0])")
    result = subprocess.run([sys.executable, "-c", code, postgres_url], capture_output=True,
                            text=True, timeout=30)
    assert result.stdout.strip() == postgres_url.rsplit("/", 1)[1]
