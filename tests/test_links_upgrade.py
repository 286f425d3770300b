"""A database made by the code just before links had a table (migrations 1 to 9) upgrades to
`links` (migration 0010) on both engines: a link that code issued opens after it, and one it
revoked stays refused. (`tests/test_upgrade_in_place.py` does the same from the older code.)"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest

from server.app import create_app
from server.auth.tokens import add_signing_key
from server.keys import DB, KEYRING
from server.runtime.config import Config
from server.storage import database as sqlite_engine
from server.storage import postgres as postgres_engine
from server.storage.links import get_link
from server.storage.schema import migration_files
from tests.helpers import open_test_database

pytestmark = pytest.mark.both_engines

LINKS_MIGRATION = 10
NOW = int(time.time())
VISIT, PATIENT, THERAPIST = "v_BeforeLinks00000", "p_BeforeLinksPat00", "p_BeforeLinksThe00"


@pytest.fixture
def where(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Path | str]:
    """An empty database of this test's own: a SQLite path or a PostgreSQL URL."""
    if engine == "sqlite":
        yield tmp_path / "clinic.db"
        return
    cluster = request.getfixturevalue("postgres_cluster")
    url = cluster.fresh_database()
    yield url
    cluster.retire(url)


async def _build_before_links(where: Path | str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Migrate to 9 with the engines' own code, then write a visit as the code of then did:
    each participant's jti and kid on her row, a revocation keyed by jti and visit. Returns
    the signing key's kid."""
    for module in (sqlite_engine, postgres_engine):
        monkeypatch.setattr(module, "migration_files", lambda engine="sqlite": [
            (number, sql) for number, sql in migration_files(engine) if number < LINKS_MIGRATION])
    db = await open_test_database(where)
    monkeypatch.undo()
    try:
        assert await db.schema_version() == LINKS_MIGRATION - 1
        kid = await add_signing_key(db, now=NOW - 700)
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO visits (id, kind, starts_at, ends_at, status, capacity,"
                               " created_at) VALUES (?, 'evaluation', ?, ?, 'scheduled', 2, ?)",
                               (VISIT, NOW - 60, NOW + 3600, NOW - 600))
            for position, (pid, role) in enumerate(((PATIENT, "patient"),
                                                    (THERAPIST, "therapist")), 1):
                await conn.execute(
                    "INSERT INTO participants (id, visit_id, role, display_name, jti, kid,"
                    " issued_at, not_before, expires_at, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?,"
                    " ?, ?)", (pid, VISIT, role, role.title(), f"j-{pid}", kid, NOW - 600,
                               NOW - 900, NOW + 7200, position))
            await conn.execute("INSERT INTO revocations (jti, visit_id, revoked_at, expires_at)"
                               " VALUES (?, ?, ?, ?)", (f"j-{THERAPIST}", VISIT, NOW - 100,
                                                        NOW + 7200))
        assert kid is not None
        return kid
    finally:
        await db.close()


def _token_then(key, kid: str, pid: str, role: str) -> str:
    """A link as the code before links signed it: no `scope` claim."""
    claims = {"iss": "visitroom", "aud": "visit", "sub": pid, "vid": VISIT, "role": role,
              "nbf": NOW - 900, "exp": NOW + 7200, "iat": NOW - 600, "jti": f"j-{pid}"}
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid})


async def test_a_link_issued_before_the_links_table_opens_after_it_and_a_revoked_one_does_not(
        where, engine, monkeypatch, aiohttp_client, tmp_path):
    kid = await _build_before_links(where, monkeypatch)
    config = Config(db=Path(where) if engine == "sqlite" else tmp_path / "unused.db",
                    database_url="" if engine == "sqlite" else str(where),
                    public_url="http://127.0.0.1:8080")
    client = await aiohttp_client(create_app(config))
    app = client.server.app
    assert await app[DB].schema_version() >= LINKS_MIGRATION
    key = (await app[KEYRING].get(kid)).private
    opened = await client.get(f"/join/{VISIT}?token={_token_then(key, kid, PATIENT, 'patient')}")
    assert opened.status == 200 and str(opened.url).endswith(f"/visits/{VISIT}")
    assert 'data-role="patient"' in await opened.text()
    client.session.cookie_jar.clear()
    refused = await client.get(
        f"/join/{VISIT}?token={_token_then(key, kid, THERAPIST, 'therapist')}",
        allow_redirects=False)
    assert refused.status == 403 and "Link no longer valid" in await refused.text()
    patient, therapist = (await get_link(app[DB], f"j-{PATIENT}"),
                          await get_link(app[DB], f"j-{THERAPIST}"))
    assert (patient.scope, patient.subject, patient.kid, patient.revoked_at) == (
        "visit", PATIENT, kid, None)
    assert therapist.revoked_at == NOW - 100
