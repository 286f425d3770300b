"""The PostgreSQL engine: a psycopg 3 async connection pool offering SQLite's calls.

Chosen by `VISITROOM_DATABASE_URL=postgresql://…`. The storage modules' SQL (with `?`)
is translated here, once per text; rows read by name or position as SQLite's do.

Write transactions take one advisory lock for the whole database, as SQLite's single
writer does: every read-then-write inside a transaction sees what the transactions
before it wrote, whichever process ran them. Reads never wait for it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any, AsyncIterator, Sequence

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import RowMaker
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from server.storage.interface import Database, DatabaseBusy, Params, Row
from server.storage.schema import migration_files

log = logging.getLogger(__name__)

WRITE_LOCK = 0x5649_5349_0001
"""Advisory lock key every write transaction holds (one writer at a time, as in SQLite)."""
MIGRATION_LOCK = 0x5649_5349_0002
"""Advisory lock key of migrating, so processes starting at once migrate one at a time."""
POOL_SIZE = 8
"""Connections one process keeps at most: one writes at a time, the rest read."""
CONNECT_SECONDS = 5
"""How long connecting may take before the server gives up (unless the URL says)."""
UNAVAILABLE = (psycopg.OperationalError, PoolTimeout)
"""Failures of the connection rather than of the statement: answered 503, not 500."""


class DatabaseUnreachable(Exception):
    """The PostgreSQL server could not be reached or refused the connection at start."""


def public_location(url: str) -> str:
    """host:port/dbname of a database URL, without user or password (safe to print)."""
    parts = conninfo_to_dict(url)
    return f"{parts.get('host', 'localhost')}:{parts.get('port', '5432')}/{parts.get('dbname', '')}"


_CLOSERS = {"'": "'", '"': '"', "--": "\n", "/*": "*/"}
"""What ends each kind of text a `?` is not a placeholder in: strings, names, comments."""


@lru_cache(maxsize=2048)
def to_pyformat(sql: str) -> str:
    """The SQL with `?` placeholders as psycopg's `%s` (and a literal `%` as `%%`);
    quoted strings, quoted names and comments are left as they are, apart from the `%`."""
    out: list[str] = []
    closer = ""
    i = 0
    while i < len(sql):
        char = sql[i]
        if char == "%":
            out.append("%%")
        elif closer:
            if sql.startswith(closer, i):
                out.append(closer)
                i += len(closer)
                closer = ""
                continue
            out.append(char)
        elif sql[i:i + 2] in _CLOSERS or char in _CLOSERS:
            opener = sql[i:i + 2] if sql[i:i + 2] in _CLOSERS else char
            closer = _CLOSERS[opener]
            out.append(opener)
            i += len(opener)
            continue
        elif char == "?":
            out.append("%s")
        else:
            out.append(char)
        i += 1
    return "".join(out)


class PgRow(tuple):  # type: ignore[type-arg]
    """A row by position or by column name, like sqlite3.Row."""

    _index: dict[str, int]

    def __new__(cls, values: Sequence[Any], index: dict[str, int]) -> "PgRow":
        row = super().__new__(cls, values)
        row._index = index
        return row

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        """The column names, in order."""
        return list(self._index)


def pg_row(cursor: Any) -> RowMaker[PgRow]:
    """psycopg row factory making PgRows."""
    index: dict[str, int] = {}
    for position, column in enumerate(cursor.description or ()):
        index.setdefault(column.name, position)
    return lambda values: PgRow(values, index)


def _params(params: Params) -> Sequence[Any]:
    if isinstance(params, dict):
        raise TypeError("storage SQL uses ? placeholders with a sequence of values")
    return params


class _Statement:
    """One statement on a connection: awaited, or used with `async with`, as aiosqlite's."""

    def __init__(self, conn: psycopg.AsyncConnection[PgRow], sql: str, params: Params) -> None:
        self._conn, self._sql, self._params = conn, sql, params
        self._cursor: psycopg.AsyncCursor[PgRow] | None = None

    async def _run(self) -> psycopg.AsyncCursor[PgRow]:
        cursor = self._conn.cursor()
        await cursor.execute(to_pyformat(self._sql), _params(self._params))
        return cursor

    def __await__(self) -> Any:
        return self._run().__await__()

    async def __aenter__(self) -> psycopg.AsyncCursor[PgRow]:
        self._cursor = await self._run()
        return self._cursor

    async def __aexit__(self, *exc: object) -> None:
        if self._cursor is not None:
            await self._cursor.close()


class PgConnection:
    """The connection a write transaction yields: `execute` as on SQLite's."""

    def __init__(self, conn: psycopg.AsyncConnection[PgRow]) -> None:
        self._conn = conn

    def execute(self, sql: str, parameters: Params = ()) -> _Statement:
        """Run a statement inside the transaction."""
        return _Statement(self._conn, sql, parameters)


class PostgresDatabase(Database):
    """A Visitroom database on a PostgreSQL server."""

    engine = "postgres"

    def __init__(self, url: str, busy_seconds: float = 5.0) -> None:
        self._url = url
        self._busy_seconds = busy_seconds
        self._pool: AsyncConnectionPool[psycopg.AsyncConnection[PgRow]] | None = None
        self._write_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"PostgresDatabase({public_location(self._url)})"

    def _connect_kwargs(self) -> dict[str, Any]:
        given = conninfo_to_dict(self._url)
        extra: dict[str, Any] = {"autocommit": True, "row_factory": pg_row}
        if "connect_timeout" not in given:
            extra["connect_timeout"] = CONNECT_SECONDS
        if "application_name" not in given:
            extra["application_name"] = "visitroom"
        return extra

    async def open(self) -> "PostgresDatabase":
        """Migrate through one connection, then open the pool."""
        try:
            conn = await psycopg.AsyncConnection.connect(self._url, **self._connect_kwargs())
        except psycopg.OperationalError as exc:
            reason = " ".join(str(exc).split())
            raise DatabaseUnreachable(
                f"cannot connect to the PostgreSQL database {public_location(self._url)}: "
                f"{reason}") from None
        try:
            await migrate(conn)
        finally:
            await conn.close()
        pool: AsyncConnectionPool[psycopg.AsyncConnection[PgRow]] = AsyncConnectionPool(
            self._url, kwargs=self._connect_kwargs(), min_size=1, max_size=POOL_SIZE,
            timeout=self._busy_seconds, open=False, name="visitroom",
            check=AsyncConnectionPool.check_connection)
        await pool.open(wait=True, timeout=self._busy_seconds + CONNECT_SECONDS)
        self._pool = pool
        return self

    async def close(self) -> None:
        """Close the pool and its connections."""
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[psycopg.AsyncConnection[PgRow]]:
        pool = self._pool
        assert pool is not None, "database is not open"
        try:
            async with pool.connection() as conn:
                yield conn
        except UNAVAILABLE as exc:
            log.warning("database unavailable: %s", type(exc).__name__)
            raise DatabaseBusy() from exc

    async def schema_version(self) -> int:
        """The number of the last applied migration."""
        row = await self.fetchone("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
        return int(row[0]) if row else 0

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        """One row of a read query, or None."""
        async with self._connection() as conn:
            cursor = await conn.execute(to_pyformat(sql), _params(params))
            return await cursor.fetchone()

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        """All rows of a read query."""
        async with self._connection() as conn:
            cursor = await conn.execute(to_pyformat(sql), _params(params))
            return list(await cursor.fetchall())

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PgConnection]:
        """A write transaction: everything inside commits together or not at all. A write
        lock held longer than the busy time (by this process or another) gives
        DatabaseBusy, as on SQLite, never a wait without end."""
        try:
            await asyncio.wait_for(self._write_lock.acquire(), self._busy_seconds)
        except asyncio.TimeoutError:
            log.warning("database busy: this process's write lock")
            raise DatabaseBusy() from None
        try:
            async with self._connection() as conn, conn.transaction():
                await conn.execute("SELECT set_config('lock_timeout', %s, true)",
                                   (f"{int(self._busy_seconds * 1000)}ms",))
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
                yield PgConnection(conn)
        finally:
            self._write_lock.release()


async def migrate(conn: psycopg.AsyncConnection[Any]) -> None:
    """Apply the pending migrations, each in a transaction of its own, under an advisory
    lock so that processes starting together apply each file once."""
    files = migration_files("postgres")
    while True:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            await conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                               " version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)")
            cursor = await conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
            row = await cursor.fetchone()
            current = int(row[0]) if row else 0
            pending = [(number, sql) for number, sql in files if number > current]
            if not pending:
                return
            number, sql = pending[0]
            log.info("applying migration %04d", number)
            await conn.execute(sql.encode())  # no parameters: several statements in one go
            await conn.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (%s, %s)",
                               (number, int(time.time())))
