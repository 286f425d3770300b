"""The SQLite engine: one writer connection behind a lock, one reader, numbered migrations.

The embedded default. It offers the calls of `server.storage.interface.Database`; the
PostgreSQL engine (`postgres.py`) offers the same ones.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, TypeVar

import aiosqlite

from server.storage.interface import Database, DatabaseBusy, Params, Row
from server.storage.schema import migration_files

__all__ = ["SqliteDatabase", "DatabaseBusy", "migration_files", "open_database"]

log = logging.getLogger(__name__)

T = TypeVar("T")
BUSY_ATTEMPTS = 3
"""Tries at taking a lock another process holds (a backup, a maintenance script)."""


class SqliteDatabase(Database):
    """A Visitroom database in one SQLite file (WAL)."""

    engine = "sqlite"

    @staticmethod
    def schema_script(sql: str) -> str:
        """A migration as SQLite runs it: as written. The shared dialect is SQLite's own
        (`INTEGER PRIMARY KEY` is the rowid, BIGINT an integer, `COLLATE NOCASE` built in);
        every table but a WITHOUT ROWID one also has a rowid, which no query orders by."""
        return sql

    def __init__(self, path: Path, busy_seconds: float = 5.0) -> None:
        self.path = Path(path)
        # SQLite's own busy handler waits out a lock within each try.
        self._busy_timeout_ms = max(1, int(busy_seconds * 1000 / BUSY_ATTEMPTS))
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()

    async def open(self) -> "SqliteDatabase":
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
        for number, sql in migration_files("sqlite"):
            if number <= current:
                continue
            log.info("applying migration %04d", number)
            # executescript commits first; the explicit BEGIN/COMMIT makes each number atomic.
            await self._writer.executescript(
                f"BEGIN IMMEDIATE;\n{self.schema_script(sql)}\n"
                f"PRAGMA user_version = {number};\nCOMMIT;"
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

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        """One row of a read query, or None."""
        return await self._read(sql, params, one=True)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        """All rows of a read query."""
        return await self._read(sql, params, one=False)

    async def _read(self, sql: str, params: Params, *, one: bool) -> Any:
        reader = self._reader
        assert reader is not None, "database is not open"
        # The whole read (execute, fetch, close) is one job of the connection's thread. Were
        # the cursor closed from here instead, a caller cancelled between execute and close
        # would leave its statement open, and with it a read transaction: every later read
        # on this connection would see the database as it was then (a revoked link still
        # live, a row just written missing) until the cursor happened to be collected.
        # (aiosqlite's own execute_fetchall is one job too, but reads every row. `_execute`
        # and `_conn` are aiosqlite's, private but unchanged since 0.17; were they to change,
        # tests/test_sqlite_reads.py and every database test would fail at once.)
        return await self._patiently(
            lambda: reader._execute(_read_rows, reader._conn, sql, params, one))  # noqa: SLF001

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


def _read_rows(conn: sqlite3.Connection, sql: str, params: Params, one: bool) -> Any:
    """Run a read query in the connection's thread and close its cursor there."""
    cur = conn.execute(sql, params)
    try:
        return cur.fetchone() if one else cur.fetchall()
    finally:
        cur.close()


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc)
    return "database is locked" in text or "database is busy" in text


async def open_database(path: Path, busy_seconds: float = 5.0) -> SqliteDatabase:
    """Open (and migrate) the database at `path`; a lock held longer than `busy_seconds`
    by another process makes a call raise DatabaseBusy."""
    return await SqliteDatabase(path, busy_seconds).open()
