"""The numbered migrations shipped with the server, and the script each engine runs.

A migration is `migrations/NNNN_name.sql`, written once in the dialect both engines accept:
TEXT for ids and text, BIGINT for integers and times, `INTEGER PRIMARY KEY` for a row id the
engine assigns (what that becomes, like every other engine quirk, is the engine class's
business: `SqliteDatabase.schema_script`, `PostgresDatabase.schema_script`). Where the
dialects truly differ, `NNNN_name.sql.postgres` or `NNNN_name.sql.sqlite` holds only the
statements that differ; it runs right after the shared file, in the same transaction (after
Synapse's `synapse/storage/prepare_database.py`). A number may have an engine file only: on
the other engine it does nothing but count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from importlib.abc import Traversable

ENGINES = ("sqlite", "postgres")
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql(?:\.([a-z]+))?$")
_IGNORED = {"__pycache__", "__init__.py"}


@dataclass(frozen=True)
class Migration:
    """One numbered migration: its shared SQL and what each engine adds to it."""

    number: int
    name: str
    """The file name without number and extension (`initial` for 0001_initial.sql)."""
    shared: str = ""
    """The SQL both engines run; empty when the number has engine files only."""
    engine_only: dict[str, str] = field(default_factory=dict)
    """Engine name -> the statements only that engine runs, after the shared ones."""

    def script(self, engine: str) -> str:
        """The SQL `engine` runs for this number (before the engine's own translation)."""
        if engine not in ENGINES:
            raise ValueError(f"unknown database engine {engine!r}")
        return "\n".join(part for part in (self.shared, self.engine_only.get(engine, "")) if part)


def load_migrations(folder: Traversable | None = None) -> list[Migration]:
    """The migrations in `folder` (the server's own by default), in order. Anything there
    that is not a migration file, two names for one number, or a gap in the numbers is an
    error, so a misnamed file never goes unapplied without a word."""
    root = folder if folder is not None else resources.files("server.storage") / "migrations"
    names: dict[int, str] = {}
    shared: dict[int, str] = {}
    engine_only: dict[int, dict[str, str]] = {}
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name in _IGNORED or entry.name.startswith("."):
            continue
        match = _FILE_NAME.match(entry.name)
        if match is None or entry.is_dir() or (match.group(3) and match.group(3) not in ENGINES):
            raise RuntimeError(
                f"migrations/{entry.name} is not a migration: name it NNNN_name.sql, with"
                f" .postgres or .sqlite after it for one engine's statements")
        number, name, engine = int(match.group(1)), match.group(2), match.group(3)
        if names.setdefault(number, name) != name:
            raise RuntimeError(f"migration {number:04d} has two names: {names[number]},"
                               f" {name}")
        text = entry.read_text(encoding="utf-8")
        if engine:
            engine_only.setdefault(number, {})[engine] = text
        else:
            shared[number] = text
    numbers = sorted(names)
    if numbers != list(range(1, len(numbers) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..N without gaps, found {numbers}")
    return [Migration(n, names[n], shared.get(n, ""), engine_only.get(n, {})) for n in numbers]


def migration_files(engine: str = "sqlite") -> list[tuple[int, str]]:
    """The migrations for `engine`, in order: (number, SQL before the engine's translation)."""
    if engine not in ENGINES:
        raise ValueError(f"unknown database engine {engine!r}")
    return [(m.number, m.script(engine)) for m in load_migrations()]
