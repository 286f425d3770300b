"""A consistent copy of the live database, taken while the server runs.

SQLite's file is copied here; a PostgreSQL database is backed up with PostgreSQL's own
`pg_dump`, which `pg_dump_advice` explains.
"""

from __future__ import annotations

import os
import shlex
import sqlite3
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

PAGES_PER_STEP = 1024
"""Pages copied between pauses, so that a running server's writes are not held up."""


def backup_database(source: Path, target: Path) -> int:
    """Copy `source` to a new file `target` with SQLite's online backup API; returns its size.

    The copy is written beside the target and renamed into place once complete, so a
    failed backup never leaves a half-written file under the target's name.
    """
    if not source.is_file():
        raise FileNotFoundError(f"no database at {source}")
    if target.exists():
        raise FileExistsError(f"{target} already exists; choose a new file for the backup")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    reader = sqlite3.connect(source, timeout=30)
    try:
        writer = sqlite3.connect(partial)
        try:
            reader.backup(writer, pages=PAGES_PER_STEP)
            writer.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            writer.close()
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        reader.close()
    os.replace(partial, target)
    return target.stat().st_size


def pg_dump_advice(database_url: str, target: Path) -> str:
    """What to run instead of `run.py backup` on PostgreSQL: a pg_dump command for this
    database (host, port, user and name; never the password)."""
    parts = conninfo_to_dict(database_url)
    command = ["pg_dump", "--format=custom", f"--file={target}"]
    for flag, key in (("--host", "host"), ("--port", "port"), ("--username", "user")):
        if parts.get(key):
            command.append(f"{flag}={parts[key]}")
    command.append(str(parts.get("dbname") or parts.get("user") or "visitroom"))
    return ("The database is PostgreSQL: back it up with PostgreSQL's pg_dump, which takes a "
            "consistent copy while the server runs, for example\n  "
            + shlex.join(command)
            + "\n(pg_dump asks for the password, or reads it from ~/.pgpass or PGPASSWORD). "
            "Restore it with pg_restore; see docs/deployment.md. Nothing was written.")
