"""The SQLite database: one writer connection behind a lock, one reader, numbered migrations.

This is the storage interface the rest of the server talks to (`fetchone`, `fetchall`,
`transaction`); a PostgreSQL implementation would offer the same four calls.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Sequence, TypeVar

import aiosqlite

log = logging.getLogger(__name__)

Params = Sequence[Any] | dict[str, Any]
T = TypeVar("T")
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
BUSY_ATTEMPTS = 3
"""Tries at taking a lock another process holds (a backup, a maintenance script)."""


class DatabaseBusy(Exception):
    """The database stayed locked by another process past the wait allowed; try again later."""


def migration_files() -> list[tuple[int, str]]:
    """The numbered migrations shipped with the server, in order: (number, SQL)."""
    found = []
    for entry in resources.files("server.storage").joinpath("migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text(encoding="utf-8")))
    found.sort()
    numbers = [n for n, _ in found]
    if numbers != list(range(1, len(numbers) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..N without gaps, found {numbers}")
    return found


class Database:
    """An open Visitroom database."""

    def __init__(self, path: Path, busy_seconds: float = 5.0) -> None:
        self.path = Path(path)
        # SQLite's own busy handler waits out a lock within each try.
        self._busy_timeout_ms = max(1, int(busy_seconds * 1000 / BUSY_ATTEMPTS))
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()

    async def open(self) -> "Database":
        """Create the file if needed, switch to WAL and apply pending migrations."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = await self._connect()
        await self._writer.execute("PRAGMA journal_mode = WAL")
        await self._migrate()
        self._reader = await self._connect()
        return self

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        await conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
        await conn.execute("PRAGMA foreign_keys = ON")
        await conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    async def _migrate(self) -> None:
        assert self._writer is not None
        async with self._writer.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        current = int(row[0]) if row else 0
        for number, sql in migration_files():
            if number <= current:
                continue
            log.info("applying migration %04d", number)
            # executescript commits first; the explicit BEGIN/COMMIT makes each file atomic.
            await self._writer.executescript(
                f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;"
            )

    async def close(self) -> None:
        """Close both connections."""
        for conn in (self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._reader = self._writer = None

    async def schema_version(self) -> int:
        """The number of the last applied migration."""
        row = await self.fetchone("PRAGMA user_version")
        return int(row[0]) if row else 0

    async def _patiently(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run `work`, trying again while another process holds the lock; then DatabaseBusy."""
        for attempt in range(BUSY_ATTEMPTS):
            try:
                return await work()
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise
                log.warning("database busy, try %d of %d", attempt + 1, BUSY_ATTEMPTS)
                await asyncio.sleep(0.05 * (attempt + 1))
        raise DatabaseBusy()

    async def fetchone(self, sql: str, params: Params = ()) -> aiosqlite.Row | None:
        """One row of a read query, or None."""
        reader = self._reader
        assert reader is not None, "database is not open"

        async def read() -> aiosqlite.Row | None:
            async with reader.execute(sql, params) as cur:
                return await cur.fetchone()
        return await self._patiently(read)

    async def fetchall(self, sql: str, params: Params = ()) -> list[aiosqlite.Row]:
        """All rows of a read query."""
        reader = self._reader
        assert reader is not None, "database is not open"

        async def read() -> list[aiosqlite.Row]:
            async with reader.execute(sql, params) as cur:
                return list(await cur.fetchall())
        return await self._patiently(read)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction: everything inside commits together or not at all."""
        assert self._writer is not None, "database is not open"
        writer = self._writer
        async with self._write_lock:
            # The lock is taken here, at BEGIN IMMEDIATE: once it is held, nothing that
            # follows in the transaction waits for another process.
            await self._patiently(lambda: writer.execute("BEGIN IMMEDIATE"))
            try:
                yield self._writer
            except BaseException:
                await self._writer.execute("ROLLBACK")
                raise
            else:
                await self._writer.execute("COMMIT")

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one write statement in its own transaction; returns the last row id."""
        async with self.transaction() as conn:
            cur = await conn.execute(sql, params)
            return cur.lastrowid or 0


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc)
    return "database is locked" in text or "database is busy" in text


async def open_database(path: Path, busy_seconds: float = 5.0) -> Database:
    """Open (and migrate) the database at `path`; a lock held longer than `busy_seconds`
    by another process makes a call raise DatabaseBusy."""
    return await Database(path, busy_seconds).open()
