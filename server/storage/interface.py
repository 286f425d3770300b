"""The storage interface both engines offer: `fetchone`, `fetchall`, `transaction`, `execute`.

SQL is written once, with `?` placeholders, in the module that owns each table; the
SQLite engine (`database.py`) runs it as it is, the PostgreSQL engine (`postgres.py`)
translates the placeholders. Rows are read by column name or by position on both.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any, Iterable, Iterator, Protocol, Sequence

Params = Sequence[Any] | dict[str, Any]


class DatabaseBusy(Exception):
    """The database could not serve the call in time (a lock another process holds, a
    connection lost or the pool exhausted); the request is answered 503, try again later."""


class Row(Protocol):
    """A result row: by column name (`row["id"]`) or by position (`row[0]`), iterable."""

    def __getitem__(self, key: int | str) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...

    def __len__(self) -> int: ...

    def keys(self) -> list[str]: ...


class Cursor(Protocol):
    """What a statement inside a transaction gives back."""

    @property
    def rowcount(self) -> int: ...

    async def fetchone(self) -> Row | None: ...

    async def fetchall(self) -> Iterable[Row]: ...


class Statement(Protocol):
    """A statement being run: await it, or use it with `async with`, for its cursor."""

    def __await__(self) -> Any: ...

    async def __aenter__(self) -> Cursor: ...

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> Any: ...


class Connection(Protocol):
    """The connection a transaction yields: statements run inside that transaction."""

    def execute(self, sql: str, parameters: Params = ...) -> Statement: ...


class Database(ABC):
    """An open Visitroom database, whichever engine holds it."""

    engine: str
    """'sqlite' or 'postgres' (also the ending of a migration file only this engine runs)."""

    @staticmethod
    @abstractmethod
    def schema_script(sql: str) -> str:
        """A migration, written in the shared dialect (`server.storage.schema`), as this
        engine runs it: where the engine's quirks (row ids, collations) are translated."""

    row_lock: str = ""
    """What a subquery picking a row to update ends with so that concurrent writers skip
    rows another one holds: nothing on SQLite (one writer at a time), ` FOR UPDATE SKIP
    LOCKED` on PostgreSQL."""

    @abstractmethod
    async def open(self) -> "Database":
        """Connect and apply pending migrations."""

    @abstractmethod
    async def close(self) -> None:
        """Close every connection."""

    @abstractmethod
    async def schema_version(self) -> int:
        """The number of the last applied migration."""

    @abstractmethod
    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        """One row of a read query, or None."""

    @abstractmethod
    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        """All rows of a read query."""

    @abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[Any]:
        """A write transaction: everything inside commits together or not at all."""

    async def fetchall_by_visit(self, select: str, visit_ids: Sequence[str],
                                order_by: str) -> dict[str, list[Row]]:
        """The rows of several visits in one query (`select` ... WHERE visit_id IN (...)
        ORDER BY `order_by`: columns both engines have, never a rowid), grouped by their
        `visit_id` column; every visit has a list."""
        found: dict[str, list[Row]] = {visit_id: [] for visit_id in visit_ids}
        if not visit_ids:
            return found
        marks = ",".join("?" * len(visit_ids))
        for row in await self.fetchall(
                f"{select} WHERE visit_id IN ({marks}) ORDER BY {order_by}", list(visit_ids)):
            found[row["visit_id"]].append(row)
        return found

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one write statement in its own transaction; returns the rows it changed."""
        async with self.transaction() as conn:
            cur = await conn.execute(sql, params)
            return max(int(cur.rowcount), 0)
