"""A real PostgreSQL server for the tests: Debian's initdb/pg_ctl, a temporary data
directory, 127.0.0.1 on a free port, run as an unprivileged user (never a system service).

`PostgresCluster.start()` makes and starts one; `fresh_database()` gives each test an
empty database of its own and `retire()` has it dropped later. `url` strings work in any
process (pass them as VISITROOM_DATABASE_URL to a subprocess).
"""

from __future__ import annotations

import asyncio
import atexit
import glob
import os
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg

from server.storage.postgres import PostgresDatabase
from tests.live import free_port

USER = "visitroom"
"""The cluster's superuser, who owns every test database."""
TEMPLATE = "visitroom_migrated"
"""The database migrated once that fresh_database(migrated=True) copies."""
START_SECONDS = 30


def postgres_bin() -> Path | None:
    """Debian's PostgreSQL programs folder (the newest version installed), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    return Path(found[-1]).parent if found else None


def _as_owner() -> list[str]:
    """The command prefix that runs a PostgreSQL program as an unprivileged user."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


class PostgresCluster:
    """One PostgreSQL server in a temporary directory."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="visitroom-pg-"))
        self.port = 0
        self.password = secrets.token_urlsafe(12)
        self._started = False
        self._retired: list[str] = []
        self._template = ""

    def url(self, dbname: str = "postgres") -> str:
        """postgresql:// URL of a database of this cluster, password included."""
        return f"postgresql://{USER}:{self.password}@127.0.0.1:{self.port}/{dbname}"

    def start(self) -> "PostgresCluster":
        """initdb and start the server; raises with PostgreSQL's log when it does not start."""
        bindir = postgres_bin()
        if bindir is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
        data, log = self.root / "data", self.root / "server.log"
        pwfile = self.root / "pw"
        pwfile.write_text(self.password + "\n")
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(pwfile, "postgres", "postgres")
        pwfile.chmod(0o600)
        subprocess.run([*_as_owner(), str(bindir / "initdb"), "-D", str(data), "-U", USER,
                        f"--pwfile={pwfile}", "--auth=scram-sha-256", "--no-sync",
                        "--encoding=UTF8", "--locale=C.UTF-8"],
                       check=True, capture_output=True, timeout=120)
        self.port = free_port()
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port}"
                   " -c unix_socket_directories='' -c fsync=off -c synchronous_commit=off"
                   " -c full_page_writes=off -c max_connections=200 -c shared_buffers=32MB")
        result = subprocess.run([*_as_owner(), str(bindir / "pg_ctl"), "-D", str(data), "-l",
                                 str(log), "-o", options, "-w", "-t", str(START_SECONDS), "start"],
                                capture_output=True, timeout=START_SECONDS + 10)
        if result.returncode != 0:
            text = log.read_text(errors="replace") if log.exists() else ""
            self.stop()
            raise RuntimeError(f"PostgreSQL did not start: {result.stderr.decode()}\n{text}")
        self._started = True
        atexit.register(self.stop)  # should the session end without its teardown
        return self

    def admin(self) -> psycopg.Connection:
        """A connection to the maintenance database, for CREATE/DROP DATABASE."""
        return psycopg.connect(self.url(), autocommit=True, connect_timeout=10)

    def fresh_database(self, *, migrated: bool = False) -> str:
        """Create a database (dropping the retired ones first): empty, or a copy of one the
        server's migrations were applied to once (a test of the app then starts faster);
        returns its URL."""
        name = "t_" + secrets.token_hex(6)
        template = self._migrated_template() if migrated else "template1"
        with self.admin() as conn:
            while self._retired:
                conn.execute(f'DROP DATABASE IF EXISTS "{self._retired.pop()}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
        return self.url(name)

    def _migrated_template(self) -> str:
        if not self._template:
            with self.admin() as conn:
                conn.execute(f'CREATE DATABASE "{TEMPLATE}"')
            asyncio.run(_migrate(self.url(TEMPLATE)))
            self._template = TEMPLATE
        return self._template

    def retire(self, url: str) -> None:
        """Have a database made by fresh_database dropped when the next one is made: the
        app a test opened on it may close after the fixture that made it is torn down."""
        self._retired.append(url.rsplit("/", 1)[1])

    def drop_database(self, url: str) -> None:
        """Remove a database made by fresh_database now, closing any connection still open."""
        name = url.rsplit("/", 1)[1]
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Stop the server at once (its data is thrown away) and remove its directory."""
        if not self.root.exists():
            return
        bindir = postgres_bin()
        data = self.root / "data"
        if bindir is not None and (data / "postmaster.pid").exists():
            subprocess.run([*_as_owner(), str(bindir / "pg_ctl"), "-D", str(data), "-m",
                            "immediate", "-w", "stop"], capture_output=True, timeout=60)
        self._started = False
        shutil.rmtree(self.root, ignore_errors=True)


async def _migrate(url: str) -> None:
    db = await PostgresDatabase(url).open()
    await db.close()
