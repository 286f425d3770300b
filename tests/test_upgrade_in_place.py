"""A database made by the code before "each migration written once" (its migration files,
tests/fixtures/old_migrations/) upgrades in place on both engines: every row reads the same,
participants and signing keys keep the order they were added in, links made before open
after (their rows and revocations moved into `links`, migration 0010), and new rows come
after the old ones."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any, Iterator

import jwt
import psycopg
import pytest
from cryptography.hazmat.primitives import serialization

from server.app import create_app
from server.auth.passwords import hash_password
from server.auth.policy import VISIT_SCOPES, scopes_text
from server.auth.secrets_util import sha256_hex
from server.auth.tokens import add_signing_key, new_private_pem
from server.runtime.config import Config
from server.keys import KEYRING, VISITS
from server.storage.signing_keys import all_signing_keys
from server.storage.visits import get_visit
from tests.helpers import login, open_test_database
from tests.old_schema import build_old_postgres, build_old_sqlite

pytestmark = pytest.mark.both_engines

NOW = int(time.time())
PASSWORD = "old-database-pass-1"
PUBLIC_URL = "http://127.0.0.1:8080"
VISIT, DONE = "v_OpenVisitOldCode", "v_DoneVisitOldCode"
PATIENT, THERAPIST = "p_zzPatient0000000", "p_mmTherapist00000"
INTERPRETER, PARTNER = "p_ggInterpreter000", "p_aaPartner0000000"
EARLIER = "p_ddEarlier0000000"
"""The other visit's patient, added between THERAPIST and INTERPRETER."""
TABLES = ("users", "staff_sessions", "api_keys", "signing_keys", "visits", "participants",
          "events", "assignments", "server_secrets", "login_addresses",
          "login_unknown_emails", "link_devices", "device_denials")
PARTICIPANTS = [PATIENT, THERAPIST, INTERPRETER, PARTNER]
"""The open visit's participants in the order they were added (not their ids' order)."""
KIDS = ["k-zeta", "k-alpha"]
"""Signing keys in the order they were added, made in the same second."""
REVOKED = PARTNER
"""The participant whose current link the old code revoked (without a re-issue)."""
OLD_KEY = "vr_" + "o" * 43
"""The API key the old code made (before keys had scopes)."""


class OldDatabase:
    """A database the old code made and wrote to, through the old code's SQL."""

    def __init__(self, engine: str, where: Path | str) -> None:
        self.engine, self.where = engine, where
        if engine == "sqlite":
            build_old_sqlite(Path(where))
            self._conn: Any = sqlite3.connect(where, isolation_level=None)
        else:
            build_old_postgres(str(where))
            self._conn = psycopg.connect(str(where), autocommit=True)

    def insert(self, table: str, **values: Any) -> Any:
        """Insert a row as the old storage modules did; returns its `id` where it has one."""
        mark = "?" if self.engine == "sqlite" else "%s"
        sql = (f"INSERT INTO {table} ({', '.join(values)}) VALUES"
               f" ({', '.join(mark for _ in values)})")
        if table in ("users", "api_keys", "events", "assignments"):
            return self._conn.execute(sql + " RETURNING id", tuple(values.values())).fetchone()[0]
        self._conn.execute(sql, tuple(values.values()))
        return None

    def rows(self, table: str) -> list[dict[str, Any]]:
        """Every row of a table, by column name, in a fixed order."""
        cursor = self._conn.execute(f"SELECT * FROM {table}")
        names = [d[0] for d in cursor.description]
        return _sorted([dict(zip(names, r)) for r in cursor.fetchall()])

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


def _sorted(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = [{k: v for k, v in r.items() if k not in ("rowid", "position")} for r in rows]
    return sorted(found, key=lambda r: repr(sorted(r.items())))


def _seed(old: OldDatabase) -> dict[str, Any]:
    """What a clinic's database holds after some use; returns the keys' PEMs by kid."""
    pems = {kid: new_private_pem() for kid in KIDS}
    admin = old.insert("users", email="Admin@Clinic.test", name="Ada Admin", role="admin",
                       password_hash=hash_password(PASSWORD), created_at=NOW - 900)
    therapist = old.insert("users", email="rae@clinic.test", name="Rae Lin", role="therapist",
                           password_hash=hash_password(PASSWORD), created_at=NOW - 800)
    old.insert("staff_sessions", id_hash="h" * 64, user_id=admin, created_at=NOW - 60,
               expires_at=NOW + 3600)
    old.insert("api_keys", name="Scheduler", prefix=OLD_KEY[:10], key_hash=sha256_hex(OLD_KEY),
               created_by=admin, created_at=NOW - 500)
    for kid in KIDS:
        old.insert("signing_keys", kid=kid, private_pem=pems[kid], created_at=NOW - 700)
    old.insert("visits", id=VISIT, kind="evaluation", starts_at=NOW - 60, ends_at=NOW + 3600,
               capacity=2, created_at=NOW - 600)
    old.insert("visits", id=DONE, kind="follow-up", starts_at=NOW - 7200,
               ends_at=NOW - 3600, status="ended", capacity=2, therapist_id=therapist,
               created_at=NOW - 9000)
    names = {PATIENT: ("patient", "Maya Lopez"), THERAPIST: ("therapist", "Rae Lin"),
             INTERPRETER: ("guest", "Iris Interpreter"), PARTNER: ("guest", "Sam Partner")}
    for number, pid in enumerate(PARTICIPANTS):
        role, name = names[pid]
        old.insert("participants", id=pid, visit_id=VISIT, role=role, display_name=name,
                   jti=f"j-{pid}", kid=KIDS[number % 2], issued_at=NOW - 600,
                   not_before=NOW - 900, expires_at=NOW + 7200,
                   admitted_at=NOW - 30 if pid == PATIENT else None)
        if number == 1:  # another visit's participant added in between
            old.insert("participants", id=EARLIER, visit_id=DONE,
                       role="patient", display_name="Noa Earlier", jti="j-earlier", kid=KIDS[0],
                       issued_at=NOW - 9000, not_before=NOW - 9000, expires_at=NOW - 3000)
    old.insert("revocations", jti="j-old", visit_id=VISIT, revoked_at=NOW - 300,
               expires_at=NOW + 7200)  # a link a re-issue replaced
    old.insert("revocations", jti=f"j-{REVOKED}", visit_id=VISIT, revoked_at=NOW - 200,
               expires_at=NOW + 7200)
    for action in ("visit.created", "link.reissued", "participant.admitted"):
        old.insert("events", at=NOW - 100, actor="test", action=action, visit_id=VISIT,
                   detail='{"n": 1}')
    old.insert("assignments", visit_id=VISIT, participant_id=PATIENT, exercise="glute-bridge",
               sets=2, reps=10, hold_seconds=0, per_day=1, per_week=0, created_at=NOW - 50,
               created_by=THERAPIST)
    if old.engine == "postgres":  # SQLite's migration 0004 made it; there, the server did
        old.insert("server_secrets", name="audit_tag", value="ab" * 32)
    old.insert("login_addresses", user_id=admin, address_tag="t" * 64, last_at=NOW - 60)
    old.insert("login_unknown_emails", email_tag="u" * 64, failed_logins=2, last_at=NOW - 60)
    old.insert("link_devices", jti=f"j-{THERAPIST}", visit_id=VISIT, device="d" * 64,
               bound_at=NOW - 40)
    old.insert("device_denials", jti=f"j-{PATIENT}", device="e" * 64, visit_id=VISIT,
               denied_at=NOW - 20)
    return pems


@pytest.fixture
def old_database(engine: str, tmp_path: Path, request: pytest.FixtureRequest
                 ) -> Iterator[tuple[OldDatabase, dict[str, Any], dict[str, list[Any]]]]:
    """An old database, seeded and closed: (it, the keys' PEMs, every table's rows)."""
    if engine == "sqlite":
        where: Path | str = tmp_path / "clinic.db"
    else:
        cluster = request.getfixturevalue("postgres_cluster")
        where = cluster.fresh_database()
    old = OldDatabase(engine, where)
    try:
        pems = _seed(old)
        rows = {table: old.rows(table) for table in TABLES}
    finally:
        old.close()
    yield old, pems, rows
    if engine == "postgres":
        cluster.retire(str(where))


ADDED_COLUMNS = {"visits": ("patient_id", "plan_id", "late_minutes", "late_at"),
                 "assignments": ("plan_id", "stopped_at", "stopped_by", "replaces"),
                 "users": ("credentials", "bio", "photo_version"),
                 "participants": ("language",)}
"""Columns later migrations added to old tables: a row made before has none of them."""


def _config(old: OldDatabase, tmp_path: Path) -> Config:
    if old.engine == "sqlite":
        return Config(db=Path(old.where), public_url=PUBLIC_URL)
    return Config(db=tmp_path / "unused.db", database_url=str(old.where), public_url=PUBLIC_URL)


async def test_every_row_reads_the_same_after_the_upgrade(old_database):
    old, _, before = old_database
    db = await open_test_database(old.where)
    try:
        for table in TABLES:
            rows = [dict(zip(r.keys(), tuple(r))) for r in await db.fetchall(
                f"SELECT * FROM {table}")]
            if table == "api_keys":  # migration 0011: an old key keeps all that keys could do
                assert {r.pop("scopes") for r in rows} == {scopes_text(VISIT_SCOPES)}
            for column in ADDED_COLUMNS.get(table, ()):  # migration 0012: empty for old rows
                assert {r.pop(column) for r in rows} <= {None}, (table, column)
            assert _sorted(rows) == before[table], table
    finally:
        await db.close()


async def test_participants_and_keys_keep_the_order_they_were_added_in(old_database):
    old, _, _ = old_database
    db = await open_test_database(old.where)
    try:
        visit = await get_visit(db, VISIT)
        assert visit is not None
        assert [p.id for p in visit.participants] == PARTICIPANTS
        numbered = await db.fetchall("SELECT id, position FROM participants ORDER BY position")
        assert [r["id"] for r in numbered] == [*PARTICIPANTS[:2], EARLIER, *PARTICIPANTS[2:]]
        assert len({r["position"] for r in numbered}) == len(numbered)  # no ties left
        assert [kid for kid, _, _ in await all_signing_keys(db)] == KIDS
        kid = await add_signing_key(db, now=NOW - 700)  # same second again: still the newest
        assert [kid for kid, _, _ in await all_signing_keys(db)] == [*KIDS, kid]
    finally:
        await db.close()


def _old_token(pems: dict[str, str], pid: str, role: str, *, jti: str | None = None) -> str:
    """A participant's link as the code before scopes signed it: no `scope` claim."""
    kid = KIDS[PARTICIPANTS.index(pid) % 2]  # theirs: see _seed
    claims = {"iss": "visitroom", "aud": "visit", "sub": pid, "vid": VISIT, "role": role,
              "nbf": NOW - 900, "exp": NOW + 7200, "iat": NOW - 600, "jti": jti or f"j-{pid}"}
    return jwt.encode(claims, _keypair(pems[kid])[0], algorithm="EdDSA", headers={"kid": kid})


async def test_links_made_before_the_upgrade_open_after_it(old_database, aiohttp_client, tmp_path):
    old, pems, _ = old_database
    before = {pid: _old_token(pems, pid, role)
              for pid, role in ((PATIENT, "patient"), (INTERPRETER, "guest"))}
    client = await aiohttp_client(create_app(_config(old, tmp_path)))
    app = client.server.app
    visit = await app[VISITS].get(VISIT)
    assert visit is not None and [p.id for p in visit.participants] == PARTICIPANTS
    patient = visit.participant("patient")
    assert patient is not None and patient.admitted_at == NOW - 30
    # Minted again, her link says its scope; the claims are the ones she was sent.
    minted = (await app[VISITS].link(patient)).split("token=", 1)[1]
    assert jwt.get_unverified_header(minted)["kid"] == KIDS[0]
    assert jwt.decode(minted, options={"verify_signature": False}) == {
        **jwt.decode(before[PATIENT], options={"verify_signature": False}), "scope": "visit"}
    for pid, role in ((PATIENT, "patient"), (INTERPRETER, "guest")):
        for token in (before[pid], minted) if pid == PATIENT else (before[pid],):
            client.session.cookie_jar.clear()
            response = await client.get(f"/join/{VISIT}?token={token}")
            assert response.status == 200 and str(response.url).endswith(f"/visits/{VISIT}")
            assert f'data-role="{role}"' in await response.text()
    assert app[KEYRING].kids == KIDS and (await app[KEYRING].newest()).kid == KIDS[1]


async def test_links_revoked_before_the_upgrade_stay_refused_after_it(
        old_database, aiohttp_client, tmp_path):
    old, pems, _ = old_database
    client = await aiohttp_client(create_app(_config(old, tmp_path)))
    revoked = _old_token(pems, REVOKED, "guest")  # her current link, revoked
    replaced = _old_token(pems, PATIENT, "patient", jti="j-old")  # a link a re-issue replaced
    for token in (revoked, replaced):
        client.session.cookie_jar.clear()
        response = await client.get(f"/join/{VISIT}?token={token}", allow_redirects=False)
        assert response.status == 403 and "Link no longer valid" in await response.text()
        assert "visitroom_visit" not in response.cookies


async def test_each_participants_link_and_its_revocation_move_into_links(old_database):
    old, _, before = old_database
    db = await open_test_database(old.where)
    try:
        links = {r["jti"]: dict(zip(r.keys(), tuple(r)))
                 for r in await db.fetchall("SELECT * FROM links")}
        assert set(links) == {p["jti"] for p in before["participants"]}  # not "j-old"
        for p in before["participants"]:
            assert links[p["jti"]] == {
                "jti": p["jti"], "scope": "visit", "subject": p["id"], "visit_id": p["visit_id"],
                "kid": p["kid"], "issued_at": p["issued_at"], "expires_at": p["expires_at"],
                "revoked_at": NOW - 200 if p["id"] == REVOKED else None}
    finally:
        await db.close()


async def test_a_guest_added_after_the_upgrade_comes_after_the_old_participants(
        old_database, aiohttp_client, tmp_path):
    old, _, _ = old_database
    client = await aiohttp_client(create_app(_config(old, tmp_path)))
    visits = client.server.app[VISITS]
    visit = await visits.get(VISIT)
    assert visit is not None
    added = await visits.add_guest(visit, "Lee Student", actor="test")
    assert [p.id for p in added.participants][:-1] == PARTICIPANTS
    assert added.participants[-1].display_name == "Lee Student"


async def test_a_key_made_before_scopes_keeps_doing_everything(
        old_database, aiohttp_client, tmp_path):
    old, _, _ = old_database
    client = await aiohttp_client(create_app(_config(old, tmp_path)))
    auth = {"Authorization": f"Bearer {OLD_KEY}"}
    created = await client.post("/api/visits", json={"patient_name": "Maya Lopez"},
                                headers=auth)
    assert created.status == 201, await created.text()
    visit_id = (await created.json())["visit_id"]
    # (The seed's ended visit has only a patient: the list would not describe it.)
    listed = await client.get("/api/visits?status=scheduled", headers=auth)
    assert listed.status == 200, await listed.text()
    assert (await client.get(f"/api/visits/{visit_id}", headers=auth)).status == 200
    guest = await client.post(f"/api/visits/{visit_id}/participants", json={"name": "Ana"},
                              headers=auth)
    assert guest.status == 201
    assert (await client.post(f"/api/visits/{visit_id}/cancel", headers=auth)).status == 200
    await login(client, "admin@clinic.test", PASSWORD)
    page = await (await client.get("/admin/api-keys")).text()
    assert "<td>Scheduler</td><td><code>" in page and "read, create and change visits" in page


async def test_staff_sign_in_with_the_email_in_any_case_after_the_upgrade(
        old_database, aiohttp_client, tmp_path):
    old, _, _ = old_database
    client = await aiohttp_client(create_app(_config(old, tmp_path)))
    await login(client, "admin@CLINIC.TEST", PASSWORD)
    assert VISIT in await (await client.get(f"/admin/visits/{VISIT}")).text()


def _keypair(pem: str) -> tuple[Any, Any]:
    private = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    return private, private.public_key()
