"""A consistent copy of the live database, taken while the server runs."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

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
