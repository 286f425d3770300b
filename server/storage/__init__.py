"""Storage: the database engines (SQLite, PostgreSQL) behind one interface, and one module
per table group, plain parameterised SQL."""

from server.storage.database import SqliteDatabase, open_database
from server.storage.engines import describe_store, open_store
from server.storage.interface import Database, DatabaseBusy

__all__ = ["Database", "DatabaseBusy", "SqliteDatabase", "describe_store", "open_database",
           "open_store"]
