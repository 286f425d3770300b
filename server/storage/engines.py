"""Which engine holds the database: PostgreSQL when VISITROOM_DATABASE_URL is set, else
the SQLite file (the default)."""

from __future__ import annotations

from server.runtime.config import Config, ConfigError
from server.storage.database import open_database
from server.storage.interface import Database


async def open_store(config: Config) -> Database:
    """Open (and migrate) the database the settings name; a PostgreSQL server that cannot
    be reached is a ConfigError naming it (host, port and database, never the password)."""
    if config.database_url:
        # Imported here: psycopg costs a clinic on SQLite a tenth of a second at start.
        from server.storage.postgres import DatabaseUnreachable, PostgresDatabase

        try:
            return await PostgresDatabase(config.database_url, config.db_busy_seconds).open()
        except DatabaseUnreachable as exc:
            raise ConfigError(str(exc)) from None
    return await open_database(config.db, config.db_busy_seconds)


def describe_store(config: Config) -> str:
    """Where the database is, safe to print: the SQLite file, or PostgreSQL's host and name."""
    if config.database_url:
        from server.storage.postgres import public_location

        return f"PostgreSQL {public_location(config.database_url)}"
    return str(config.db)
