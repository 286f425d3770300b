"""The numbered migrations shipped with the server, for each engine.

`migrations/NNNN_name.sql` serve both engines; where the dialects differ, the file of the
same number under `migrations/postgres/` replaces it on PostgreSQL (each such file says
at its top what differs).
"""

from __future__ import annotations

import re
from importlib import resources
from importlib.abc import Traversable

ENGINES = ("sqlite", "postgres")
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def _numbered(folder: Traversable) -> dict[int, str]:
    found: dict[int, str] = {}
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            number = int(match.group(1))
            if number in found:
                raise RuntimeError(f"two migrations numbered {number:04d} in {folder.name}")
            found[number] = entry.read_text(encoding="utf-8")
    return found


def migration_files(engine: str = "sqlite") -> list[tuple[int, str]]:
    """The migrations for `engine`, in order: (number, SQL)."""
    if engine not in ENGINES:
        raise ValueError(f"unknown database engine {engine!r}")
    root = resources.files("server.storage").joinpath("migrations")
    found = _numbered(root)
    if engine == "postgres":
        overrides = _numbered(root.joinpath("postgres"))
        stray = sorted(set(overrides) - set(found))
        if stray:
            raise RuntimeError(f"PostgreSQL migrations {stray} have no shared file of that number")
        found.update(overrides)
    numbers = sorted(found)
    if numbers != list(range(1, len(numbers) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..N without gaps, found {numbers}")
    return [(n, found[n]) for n in numbers]
