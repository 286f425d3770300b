"""Hostile HTTP input: each case gets its exact answer, stores nothing, and the server
keeps serving."""

from __future__ import annotations

import pytest

from server.app import DB, VISITS, create_app
from tests.helpers import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    add_therapist,
    count_rows,
    link_of,
    login,
    make_visit,
    page_csrf,
)

pytestmark = pytest.mark.both_engines


async def test_login_with_wrong_password_is_401_and_audited(client):
    await login(client, ADMIN_EMAIL, "not the password", expect=401)
    response = await client.get("/admin", allow_redirects=False)
    assert response.status == 303
    row = await client.server.app[DB].fetchone(
        "SELECT action FROM events ORDER BY id DESC LIMIT 1")
    assert row[0] == "login.failed"


async def test_repeated_failures_lock_the_account_even_for_the_right_password(aiohttp_client,
                                                                              config):
    # Addresses wait first (tests/security/test_login_throttle.py); with that limit out of
    # the way, the account's own lock holds.
    client = await aiohttp_client(create_app(config.with_overrides(login_address_failures=100,
                                                                   login_max_failures=5)))
    for _ in range(4):
        await login(client, ADMIN_EMAIL, "wrong password!", expect=401)
    response = await login(client, ADMIN_EMAIL, "wrong password!", expect=429)
    assert "locked" in await response.text()
    response = await login(client, ADMIN_EMAIL, ADMIN_PASSWORD, expect=429)
    assert "Try again in 15 minutes" in await response.text()


async def test_login_issues_a_new_session_id_not_the_one_the_browser_brought(client):
    planted = "attacker-chosen-session-value"
    client.session.cookie_jar.update_cookies({"visitroom_staff": planted})
    response = await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
    assert response.cookies["visitroom_staff"].value != planted
    assert response.cookies["visitroom_staff"]["httponly"] is True


async def test_login_next_parameter_cannot_leave_the_site(client):
    token = await page_csrf(client, "/login?next=//evil.example/x")
    response = await client.post("/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD,
                                                 "csrf_token": token, "next": "https://evil.example"},
                                 allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/admin"


async def test_form_post_without_csrf_token_is_refused_and_stores_nothing(admin):
    before = await count_rows(admin, "visits")
    response = await admin.post("/admin/visits", data={"patient_name": "Nora"},
                                allow_redirects=False)
    assert response.status == 403
    assert "form has expired" in await response.text()
    assert await count_rows(admin, "visits") == before


async def test_form_post_with_a_wrong_csrf_token_is_refused(admin):
    response = await admin.post("/admin/visits", data={"patient_name": "Nora", "csrf_token": "x" * 32},
                                allow_redirects=False)
    assert response.status == 403
    assert await count_rows(admin, "visits") == 0


async def test_login_form_is_csrf_protected_too(client):
    response = await client.post("/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
                                 allow_redirects=False)
    assert response.status == 403


async def test_therapist_signs_in_and_sees_only_her_visits(aiohttp_client, admin):
    assert (await add_therapist(admin, "Rae Kim", "rae@clinic.test")).status == 201
    assert (await add_therapist(admin, "Lu Ortiz", "lu@clinic.test")).status == 201
    hers = await make_visit(admin, patient_name="Pat One", therapist_email="rae@clinic.test")
    other = await make_visit(admin, patient_name="Pat Two", therapist_email="lu@clinic.test")
    therapist = await aiohttp_client(admin.server)
    await login(therapist, "rae@clinic.test", "therapist-pass-1")
    body = await (await therapist.get("/admin")).text()
    assert "Pat One" in body and "Pat Two" not in body
    assert (await therapist.get(f"/admin/visits/{hers.id}")).status == 200
    assert (await therapist.get(f"/admin/visits/{other.id}")).status == 404
    assert (await therapist.get("/admin/therapists")).status == 403
    assert (await therapist.get("/admin/api-keys")).status == 403


async def test_malformed_json_is_400(api):
    client, auth = api
    for raw in (b"{not json", b"[1, 2]", b"\xff\xfe"):
        response = await client.post("/api/visits", data=raw,
                                     headers={**auth, "Content-Type": "application/json"})
        assert response.status == 400
        assert (await response.json())["error"]["code"] == "malformed_json"
    assert await count_rows(client, "visits") == 0


async def test_wrong_content_type_is_415(api):
    client, auth = api
    response = await client.post("/api/visits", data="patient_name=A", headers=auth)
    assert response.status == 415


async def test_oversized_body_is_413_json(api):
    client, auth = api
    response = await client.post("/api/visits", data=b"{" + b" " * 200_000 + b"}",
                                 headers={**auth, "Content-Type": "application/json"})
    assert response.status == 413
    assert "error" in await response.json()


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer nope", "Basic abc", "Bearer vr_" + "x" * 43])
async def test_missing_or_bad_api_key_is_401(client, header):
    headers = {"Authorization": header} if header else {}
    response = await client.get("/api/visits", headers=headers)
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("path", ["/static/../server/runtime/config.py", "/static/%2e%2e/server/runtime/config.py",
                                  "/static/css/../../run.py"])
async def test_static_files_do_not_escape_their_folder(client, path):
    response = await client.get(path)
    assert response.status in (403, 404)
    assert "ENV_PREFIX" not in await response.text()


SQL = "Robert'); DROP TABLE visits; -- \" OR 1=1 /*"


@pytest.mark.parametrize("field, status", [
    ("patient_name", 201), ("therapist_name", 201), ("kind", 422), ("starts_at", 422),
    ("minutes", 422), ("capacity", 422), ("therapist_email", 422),
])
async def test_sql_metacharacters_in_each_visit_field_are_data(api, field, status):
    client, auth = api
    visits_before = await count_rows(client, "visits")
    response = await client.post("/api/visits", json={"patient_name": "Maya", field: SQL},
                                 headers=auth)
    assert response.status == status, await response.text()
    assert await count_rows(client, "visits") == visits_before + (1 if status == 201 else 0)
    if status == 201:
        visit = await (await client.get(f"/api/visits/{(await response.json())['visit_id']}",
                                        headers=auth)).json()
        assert SQL in [p["name"] for p in visit["participants"]]
    else:
        assert (await response.json())["error"]["code"] == "invalid_field"
    assert (await client.get("/api/visits", headers=auth)).status == 200


@pytest.mark.parametrize("params", [{"status": SQL}, {"from": SQL}, {"to": SQL}])
async def test_sql_metacharacters_in_list_filters_are_refused(api, params):
    client, auth = api
    response = await client.get("/api/visits", params=params, headers=auth)
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "bad_parameter"
    assert (await client.get("/api/visits", headers=auth)).status == 200


async def test_sql_metacharacters_in_a_guest_name_and_accounts_are_data(api):
    client, auth = api
    created = await (await client.post("/api/visits", json={"patient_name": "Maya"},
                                       headers=auth)).json()
    guest = await client.post(f"/api/visits/{created['visit_id']}/participants", json={"name": SQL},
                              headers=auth)
    assert guest.status == 201
    assert (await add_therapist(client, SQL, "sql@clinic.test")).status == 201
    users = await client.server.app[DB].fetchone("SELECT COUNT(*) FROM users WHERE name = ?", (SQL,))
    assert users[0] == 1
    await client.post("/logout", data={"csrf_token": await page_csrf(client, "/admin")})
    events_before = await count_rows(client, "events")
    await login(client, f"{ADMIN_EMAIL}' OR '1'='1", ADMIN_PASSWORD, expect=401)
    assert await count_rows(client, "events") == events_before + 1  # no such account
    row = await client.server.app[DB].fetchone("SELECT actor, detail FROM events ORDER BY id DESC")
    assert row[0] == "anonymous" and "OR" not in row[1]  # a tag, never the email typed
    await login(client, ADMIN_EMAIL, "' OR '1'='1", expect=401)
    assert await count_rows(client, "events") == events_before + 2  # the admin's failure
    assert (await client.get("/admin", allow_redirects=False)).status == 303


SCRIPT = '<script>alert("x")</script><img src=x onerror=alert(1)>'


async def test_script_in_names_is_escaped_wherever_it_is_shown(admin):
    visit = await make_visit(admin, therapist_name=SCRIPT)
    visit = await admin.server.app[VISITS].add_guest(visit, SCRIPT, actor="test")
    pages = [f"/admin/visits/{visit.id}", "/admin", "/admin/visits", "/admin/audit"]
    for path in pages:
        body = await (await admin.get(path)).text()
        assert "<script>alert" not in body and "<img src=x" not in body, path
    detail = await (await admin.get(f"/admin/visits/{visit.id}")).text()
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in detail
    patient = await admin.get(await link_of(admin, visit))  # the patient's call page
    body = await patient.text()
    assert patient.status == 200
    assert "<script>alert" not in body and "&lt;script&gt;" in body
