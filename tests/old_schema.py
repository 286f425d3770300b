"""Databases as the code before "each migration written once" made them, for the upgrade
tests: its migration files, kept verbatim under `tests/fixtures/old_migrations/` (the shared
`NNNN_name.sql`, replaced on PostgreSQL by `postgres/NNNN_name.sql`), applied the way its
engines applied them. Also a description of a database's schema, to compare two of them.
"""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import psycopg

OLD_MIGRATIONS = Path(__file__).resolve().parent / "fixtures" / "old_migrations"
OLD_VERSION = 7
"""The newest migration the old code had."""


def old_migrations(engine: str) -> list[tuple[int, str]]:
    """The old code's migrations for `engine`, in order: (number, SQL)."""
    def numbered(folder: Path) -> dict[int, str]:
        return {int(f.name[:4]): f.read_text(encoding="utf-8") for f in folder.glob("*.sql")}

    found = numbered(OLD_MIGRATIONS)
    if engine == "postgres":
        found.update(numbered(OLD_MIGRATIONS / "postgres"))
    assert sorted(found) == list(range(1, OLD_VERSION + 1))
    return sorted(found.items())


def build_old_sqlite(path: Path) -> None:
    """A SQLite file migrated as the old `SqliteDatabase._migrate` did (WAL, user_version)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        for number, sql in old_migrations("sqlite"):
            conn.executescript(f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;")
    finally:
        conn.close()


def build_old_postgres(url: str) -> None:
    """A PostgreSQL database migrated as the old `postgres.migrate` did (schema_migrations)."""
    with psycopg.connect(url, autocommit=True) as conn:
        for number, sql in old_migrations("postgres"):
            with conn.transaction():
                conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                             " version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)")
                conn.execute(sql.encode())
                conn.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (%s, %s)",
                             (number, int(time.time())))


def _checks(sql: str) -> list[str]:
    """The CHECK (...) clauses of a CREATE TABLE text, whitespace folded."""
    found = []
    for match in re.finditer(r"CHECK\s*\(", sql):
        depth, i = 1, match.end()
        while depth:
            depth += {"(": 1, ")": -1}.get(sql[i], 0)
            i += 1
        found.append(" ".join(sql[match.start():i].split()))
    return sorted(found)


def _affinity(declared: str) -> str:
    """SQLite's type affinity of a declared column type (its rules, in their order)."""
    upper = declared.upper()
    if "INT" in upper:
        return "INTEGER"
    if any(word in upper for word in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if "BLOB" in upper or not upper:
        return "BLOB"
    if any(word in upper for word in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


def describe_sqlite(path: Path) -> dict[str, Any]:
    """What a SQLite file's schema does: per table its columns (name, affinity, not null,
    default, primary key), CHECKs, foreign keys and indexes (columns, collations, unique,
    partial condition), and whether the id is the rowid. Declared type names are left out
    where they change nothing (BIGINT and INTEGER are one affinity)."""
    conn = sqlite3.connect(path)
    try:
        out: dict[str, Any] = {"user_version": conn.execute("PRAGMA user_version").fetchone()[0]}
        tables = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'"
                              " ORDER BY name").fetchall()
        for name, sql in tables:
            columns = [(c[1], _affinity(c[2]), c[3], c[4], c[5])
                       for c in conn.execute(f"PRAGMA table_xinfo({name})")]
            info = conn.execute(f"PRAGMA table_info({name})").fetchall()
            key = [c for c in info if c[5]]  # a lone INTEGER PRIMARY KEY is the rowid
            rowid_alias = [c[1] for c in key if len(key) == 1 and c[2].upper() == "INTEGER"]
            keys = sorted(tuple(k[2:5]) for k in conn.execute(f"PRAGMA foreign_key_list({name})"))
            indexes = {}
            for index in conn.execute(f"PRAGMA index_list({name})"):
                index_sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?",
                                         (index[1],)).fetchone()[0]
                where = index_sql.split(" WHERE ", 1)[1] if index_sql and " WHERE " in index_sql \
                    else ""
                parts = [tuple(p[2:6]) for p in conn.execute(f"PRAGMA index_xinfo({index[1]})")]
                indexes[index[1]] = (index[2], index[3], " ".join(where.split()), parts)
            out[name] = {"columns": columns, "checks": _checks(sql), "foreign_keys": keys,
                         "indexes": indexes, "rowid_alias": rowid_alias}
        return out
    finally:
        conn.close()


def describe_postgres(url: str) -> dict[str, Any]:
    """What a PostgreSQL database's schema does: columns (in order, with type, null, default,
    identity and collation), constraints, indexes, sequences and collations."""
    with psycopg.connect(url) as conn:
        def rows(sql: str) -> list[tuple[Any, ...]]:
            return [tuple(r) for r in conn.execute(sql).fetchall()]

        return {
            "columns": rows(
                "SELECT table_name, column_name, data_type, is_nullable, column_default,"
                " is_identity, identity_generation, collation_name FROM information_schema.columns"
                " WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"),
            "constraints": rows(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
                " FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2"),
            "indexes": rows("SELECT tablename, indexname, indexdef FROM pg_indexes"
                            " WHERE schemaname = 'public' ORDER BY 1, 2"),
            "sequences": rows("SELECT sequencename, data_type, start_value, increment_by"
                              " FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1"),
            "collations": rows("SELECT collname, collprovider, collisdeterministic"
                               " FROM pg_collation WHERE collnamespace = 'public'::regnamespace"
                               " ORDER BY 1"),
        }
