"""Helpers the tests share: sign in, read CSRF tokens, make visits and API keys."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from server.auth.api_keys import new_api_key
from server.auth.policy import VISIT_SCOPES, scopes_text

from server.runtime.config import Config
from server.keys import CONFIG, DB, VISITS
from server.storage import Database, open_database
from server.storage.api_keys import create_api_key
from server.storage.postgres import PostgresDatabase
from server.storage.visits import Visit
from server.visits.visit_input import parse_visit_request

ADMIN_EMAIL = "admin@clinic.test"
ADMIN_PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = _CSRF.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


async def page_csrf(client: TestClient, path: str) -> str:
    """Open a page and return its form's CSRF token."""
    response = await client.get(path)
    assert response.status == 200, await response.text()
    return csrf_from(await response.text())


async def login(client: TestClient, email: str, password: str, *, expect: int = 303) -> Any:
    """Sign in through the login form."""
    token = await page_csrf(client, "/login")
    response = await client.post("/login", data={"email": email, "password": password,
                                                 "csrf_token": token}, allow_redirects=False)
    assert response.status == expect, await response.text()
    return response


async def post_form(client: TestClient, page: str, action: str, data: dict[str, str] | None = None,
                    **kwargs: Any) -> Any:
    """Post a form the way a browser does: token from `page`, fields from `data`."""
    token = await page_csrf(client, page)
    return await client.post(action, data={**(data or {}), "csrf_token": token},
                             allow_redirects=False, **kwargs)


async def add_therapist(admin: TestClient, name: str, email: str,
                        password: str = "therapist-pass-1") -> Any:
    """Create a therapist account through the admin form."""
    return await post_form(admin, "/admin/therapists", "/admin/therapists",
                           {"name": name, "email": email, "password": password})


async def make_visit(client: TestClient, *, now: int | None = None, **fields: Any) -> Visit:
    """Create a visit through the service the API and CLI use."""
    app = client.server.app
    request = parse_visit_request({"patient_name": "Maya Lopez", **fields}, app[CONFIG])
    return await app[VISITS].create(request, actor="test", now=now)


async def link_of(client: TestClient, visit: Visit, role: str = "patient") -> str:
    """The participant's link, as a path + query the test client can open."""
    participant = visit.participant(role)
    assert participant is not None
    url = await client.server.app[VISITS].link(participant)
    return "/" + url.split("/", 3)[3]


async def open_as_therapist(client: TestClient, visit: Visit, email: str,
                            password: str = "therapist-pass-1") -> Any:
    """Open the therapist's link as she does when the visit is booked with her account:
    signed in first (the link alone opens nothing for her). Returns the link's answer."""
    await login(client, email, password)
    return await client.get(await link_of(client, visit, "therapist"), allow_redirects=False)


async def count_rows(client: TestClient, table: str) -> int:
    """Rows in a table (the tests' way to show that nothing was stored)."""
    assert re.fullmatch(r"[a-z_]+", table)
    row = await client.server.app[DB].fetchone(f"SELECT COUNT(*) FROM {table}")
    return int(row[0])


async def make_api_key(admin: TestClient, name: str = "Scheduler", scopes: str = "all") -> str:
    """Create an API key through the admin page and return it; `scopes` is the form's
    choice (`all`: read, create and change visits; `everything`: patients too)."""
    response = await post_form(admin, "/admin/api-keys", "/admin/api-keys",
                               {"name": name, "scopes": scopes})
    assert response.status == 201
    match = re.search(r'id="new-key" readonly value="([^"]+)"', await response.text())
    assert match
    return match.group(1)


def hours(n: float) -> int:
    """Seconds in n hours."""
    return int(n * 3600)


def now() -> int:
    """Current unix time."""
    return int(time.time())


async def open_test_database(db: Path | str) -> Database:
    """Open a server's database from outside it: a SQLite file, or a postgresql:// URL."""
    if isinstance(db, str) and db.startswith(("postgresql://", "postgres://")):
        return await PostgresDatabase(db).open()
    return await open_database(Path(db))


async def api_key_in(db: Path | str, name: str) -> str:
    """An API key stored straight into a server's database (a SQLite file or a PostgreSQL
    URL; the server may be a process of its own); returns the key."""
    database = await open_test_database(db)
    try:
        key, prefix, key_hash = new_api_key()
        async with database.transaction() as conn:
            await create_api_key(conn, name=name, prefix=prefix, key_hash=key_hash,
                                 created_by=None, now=int(time.time()),
                                 scopes=scopes_text(VISIT_SCOPES))
        return key
    finally:
        await database.close()


def database_env(config: Config) -> dict[str, str]:
    """The environment of a `run.py` process that uses the same database as `config`."""
    env = {**os.environ, "VISITROOM_DB": str(config.db)}
    env.pop("VISITROOM_DATABASE_URL", None)
    if config.database_url:
        env["VISITROOM_DATABASE_URL"] = config.database_url
    return env
