"""Storage: the database connection and one module per table group, plain parameterised SQL."""

from server.storage.database import Database, DatabaseBusy, open_database

__all__ = ["Database", "DatabaseBusy", "open_database"]
