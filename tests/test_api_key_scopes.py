"""API keys with scopes: the admin picks what a key may do (read-only unless she picks
more), the key list shows it, the API refuses the rest with its JSON 403 (audited), and a
key stored without scopes may do nothing. A key made before scopes keeps doing everything:
tests/test_upgrade_in_place.py."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from server.auth.api_keys import new_api_key
from server.auth.policy import KeyScope
from server.http.openapi import OPERATIONS
from server.keys import DB
from server.storage.api_keys import create_api_key

from tests.helpers import count_rows, make_visit, post_form

pytestmark = pytest.mark.both_engines

NEW_VISIT = {"patient_name": "Maya Lopez"}


async def _key(admin, scopes: str, name: str = "Scheduler") -> dict[str, str]:
    response = await post_form(admin, "/admin/api-keys", "/admin/api-keys",
                               {"name": name, "scopes": scopes})
    assert response.status == 201, await response.text()
    match = re.search(r'id="new-key" readonly value="([^"]+)"', await response.text())
    assert match
    return {"Authorization": f"Bearer {match.group(1)}"}


def _forbidden(body: dict, does: str) -> None:
    assert body["error"]["code"] == "forbidden"
    assert body["error"]["message"].startswith(f"This API key may not {does};")


async def test_a_read_only_key_gets_the_apis_403_on_creating_a_visit_and_no_visit_is_stored(
        admin):
    auth = await _key(admin, "read")
    visits = await count_rows(admin, "visits")
    response = await admin.post("/api/visits", json=NEW_VISIT, headers=auth)
    assert response.status == 403 and response.content_type == "application/json"
    body = await response.json()
    _forbidden(body, "create visits")
    assert "visits:read" in body["error"]["message"]
    assert await count_rows(admin, "visits") == visits
    assert (await admin.get("/api/visits", headers=auth)).status == 200


async def test_a_read_only_key_cannot_cancel_reissue_revoke_or_add_a_guest(admin):
    auth = await _key(admin, "read")
    visit = await make_visit(admin)
    for path, body in ((f"/api/visits/{visit.id}/cancel", None),
                       (f"/api/visits/{visit.id}/participants/patient/reissue", None),
                       (f"/api/visits/{visit.id}/participants/patient/revoke", None),
                       (f"/api/visits/{visit.id}/participants", {"name": "Ana"})):
        response = await admin.post(path, json=body, headers=auth)
        assert response.status == 403, path
        assert (await response.json())["error"]["code"] == "forbidden"
    read = await admin.get(f"/api/visits/{visit.id}", headers=auth)
    assert read.status == 200 and (await read.json())["status"] == "scheduled"
    assert await count_rows(admin, "participants") == 2


async def test_a_visit_creating_key_creates_but_cannot_list_or_read_visits(admin):
    auth = await _key(admin, "create")
    created = await admin.post("/api/visits", json=NEW_VISIT, headers=auth)
    assert created.status == 201
    visit_id = (await created.json())["visit_id"]
    _forbidden(await (await admin.get("/api/visits", headers=auth)).json(), "list every visit")
    response = await admin.get(f"/api/visits/{visit_id}", headers=auth)
    assert response.status == 403
    _forbidden(await response.json(), "read visits")
    assert (await admin.post(f"/api/visits/{visit_id}/cancel", headers=auth)).status == 403


async def test_a_refused_key_request_is_audited_and_does_not_mark_the_key_used(admin):
    auth = await _key(admin, "read")
    db = admin.server.app[DB]
    response = await admin.post("/api/visits", json=NEW_VISIT, headers=auth)
    assert response.status == 403
    key_id, last_used_at = await db.fetchone("SELECT id, last_used_at FROM api_keys")
    rows = await db.fetchall("SELECT actor, detail FROM events WHERE action = 'api_key.refused'")
    assert [(r[0], json.loads(r[1])) for r in rows] == [
        (f"api_key:{key_id}", {"api_key": key_id, "attempted": "visit.create"})]
    assert last_used_at is None and await count_rows(admin, "visits") == 0
    # An allowed request marks it used.
    assert (await admin.get("/api/visits", headers=auth)).status == 200
    assert (await db.fetchone("SELECT last_used_at FROM api_keys"))[0] is not None


async def _stored_key(admin, name: str, scopes: str | None) -> dict[str, str]:
    """A key inserted as a program would; `scopes` None: an insert that names no scopes."""
    key, prefix, key_hash = new_api_key()
    async with admin.server.app[DB].transaction() as conn:
        if scopes is None:
            await conn.execute("INSERT INTO api_keys (name, prefix, key_hash, created_by,"
                               " created_at) VALUES (?, ?, ?, ?, ?)",
                               (name, prefix, key_hash, None, int(time.time())))
        else:
            await create_api_key(conn, name=name, prefix=prefix, key_hash=key_hash,
                                 created_by=None, now=int(time.time()), scopes=scopes)
    return {"Authorization": f"Bearer {key}"}


async def test_a_key_stored_without_scopes_may_do_nothing(admin):
    auth = await _stored_key(admin, "Unscoped", None)
    keyed = {op.operation_id for op in OPERATIONS if not op.public}
    assert await _refused_operations(admin, auth) == keyed
    # Only the visit made to try them on: nothing created, no guest added.
    assert (await count_rows(admin, "visits"), await count_rows(admin, "participants")) == (1, 2)


async def test_a_key_with_no_usable_scope_is_listed_as_refusing_everything(admin):
    await _stored_key(admin, "Empty", "")
    await _stored_key(admin, "Future", "visits:delete")
    await _stored_key(admin, "Changer", "visits:change")
    page = await (await admin.get("/admin/api-keys")).text()
    for name in ("Empty", "Future"):
        assert re.search(rf"<td>{name}</td><td><code>[^<]+</code></td>"
                         r"<td>nothing \(every request refused\)</td>", page), name
    assert re.search(r"<td>Changer</td><td><code>[^<]+</code></td><td>visits:change</td>", page)


async def test_the_key_list_shows_what_each_key_may_do_and_its_creation_is_audited(admin):
    await _key(admin, "read", "Reports")
    await _key(admin, "create_read", "Booking")
    page = await (await admin.get("/admin/api-keys")).text()
    assert re.search(r"<td>Reports</td><td><code>[^<]+</code></td><td>read visits only</td>", page)
    assert re.search(r"<td>Booking</td><td><code>[^<]+</code></td><td>create and read visits"
                     r"</td>", page)
    rows = await admin.server.app[DB].fetchall(
        "SELECT detail FROM events WHERE action = 'api_key.created' ORDER BY id")
    assert [json.loads(r[0])["scopes"] for r in rows] == [
        ["visits:read"], ["visits:read", "visits:create"]]


@pytest.mark.parametrize("fields", [{"scopes": "delete"}, {}, {"scopes": ""}])
async def test_an_unknown_or_missing_scope_choice_is_a_422_and_no_key_is_made(admin, fields):
    before = await count_rows(admin, "api_keys")
    response = await post_form(admin, "/admin/api-keys", "/admin/api-keys",
                               {"name": "Odd", **fields})
    assert response.status == 422
    assert "Choose what the key may do from the list." in await response.text()
    assert await count_rows(admin, "api_keys") == before
    assert await admin.server.app[DB].fetchone(
        "SELECT id FROM events WHERE action = 'api_key.created'") is None


async def test_the_form_offers_each_choice_with_read_only_first_and_preselected(admin):
    page = await (await admin.get("/admin/api-keys")).text()
    # No option says `selected`: a browser preselects the first, the least power.
    assert re.findall(r'<option value="([a-z_]+)">', page) == [
        "read", "create", "create_read", "all", "patients_read", "patients", "everything"]
    assert "selected" not in page


def _documented_scopes() -> dict[str, set[str]]:
    """docs/api.md's table: scope -> the operationIds a key with it may call."""
    text = (Path(__file__).parent.parent / "docs" / "api.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([a-z]+:[a-z]+)` \| (.+) \|$", text, re.MULTILINE)
    return {scope: set(re.findall(r"`(\w+)`", ops)) for scope, ops in rows}


async def _refused_operations(admin, auth: dict[str, str]) -> set[str]:
    """The keyed operations this key gets 403 on (each called once, on a fresh visit)."""
    visit = await make_visit(admin)
    refused = set()
    for op in OPERATIONS:
        if op.public:
            continue
        path = op.path.format(visit_id=visit.id, participant="patient",
                              patient_id="pt_" + "A" * 16)
        response = await admin.request(op.method, path, json=op.body_example, headers=auth)
        if response.status == 403:
            refused.add(op.operation_id)
    return refused


async def test_each_scope_opens_exactly_the_operations_the_api_page_lists(admin):
    documented = _documented_scopes()
    assert set(documented) == {s.value for s in KeyScope}
    keyed = {op.operation_id for op in OPERATIONS if not op.public}
    assert set().union(*documented.values()) == keyed
    for scope, choice in (("visits:read", "read"), ("visits:create", "create"),
                          ("patients:read", "patients_read")):
        auth = await _key(admin, choice, scope)
        assert await _refused_operations(admin, auth) == keyed - documented[scope], scope
    # visits:change alone is no choice on the page: a key stored with it, as a program would.
    changer = await _stored_key(admin, "Changer", "visits:change")
    assert await _refused_operations(admin, changer) == keyed - documented["visits:change"]
    writer = await _stored_key(admin, "Writer", "patients:write")
    assert await _refused_operations(admin, writer) == keyed - documented["patients:write"]
