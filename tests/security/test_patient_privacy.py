"""Issue 22 point 6: every page and endpoint of a patient is reachable only by her links,
her therapist and admins.

One clinic is built through its real forms and services: Maya, whose plan Rae leads (a
visit, an exercise, a logged session, a pain flag, a message of hers, a plan link that was
re-issued, and an older plan that was closed), and Ines, whose plan Sam leads. Each other
role then tries every one of Maya's staff pages and forms, her API record and her home page
with its JSON and POSTs (her messages too): refused each time (404 where a staff member
must not learn she exists, 401/403 for a link or key), with nothing of hers in the answer
and nothing stored. Her current plan link, Rae and the admin are allowed. On SQLite and on
PostgreSQL.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.keys import CARE, CONFIG, DB
from server.storage.plans import Plan
from tests.helpers import login, link_of, page_csrf, post_form
from tests.test_admin_patients import (
    CONDITION,
    assign_exercise,
    log_pain,
    new_patient,
    new_plan,
    plan_link,
    plan_visit,
    therapist_client,
)

pytestmark = pytest.mark.both_engines

NAME = "Maya Lopez"
TABLES = ("patients", "plans", "links", "plan_questionnaires", "review_minutes",
          "log_sessions", "outcome_responses", "plan_messages")


async def _key(admin: TestClient, scopes: str) -> str:
    response = await post_form(admin, "/admin/api-keys", "/admin/api-keys",
                               {"name": f"key {scopes}", "scopes": scopes})
    assert response.status == 201
    body = await response.text()
    return body.split('id="new-key" readonly value="', 1)[1].split('"', 1)[0]


async def _client(aiohttp_client: Any, admin: TestClient) -> TestClient:
    return await aiohttp_client(admin.server)


@pytest.fixture
async def clinic(aiohttp_client, admin) -> dict[str, Any]:
    """Maya's care (Rae), Ines's care (Sam), and a client for every role."""
    rae = await therapist_client(aiohttp_client, admin, "Rae Kim", "rae@clinic.test")
    sam = await therapist_client(aiohttp_client, admin, "Sam Lee", "sam@clinic.test")
    maya = await new_patient(admin, NAME, email="maya@example.test")
    old_plan = await new_plan(admin, maya, therapist_email="rae@clinic.test")
    closed_link = await plan_link(admin, old_plan)
    closed_holder = await _client(aiohttp_client, admin)
    assert (await closed_holder.get(closed_link, allow_redirects=False)).status == 303
    assert (await post_form(admin, f"/admin/patients/{maya}",
                            f"/admin/plans/{old_plan.id}/close")).status == 303
    plan = await new_plan(admin, maya, therapist_email="rae@clinic.test")
    visit = await plan_visit(admin, maya, "rae@clinic.test")
    assignment = await assign_exercise(admin, visit)
    await log_pain(admin, plan, assignment, 9)
    revoked_link = await plan_link(admin, plan)
    revoked_holder = await _client(aiohttp_client, admin)
    assert (await revoked_holder.get(revoked_link, allow_redirects=False)).status == 303
    assert (await post_form(admin, f"/admin/patients/{maya}",
                            f"/admin/plans/{plan.id}/reissue")).status == 303
    her = await _client(aiohttp_client, admin)
    assert (await her.get(await plan_link(admin, plan), allow_redirects=False)).status == 303
    visit_holder = await _client(aiohttp_client, admin)
    assert (await visit_holder.get(await link_of(admin, visit, "patient"),
                                   allow_redirects=False)).status == 303
    ines = await new_patient(admin, "Ines Ortega")
    ines_plan = await new_plan(admin, ines, therapist_email="sam@clinic.test")
    ines_link = await plan_link(admin, ines_plan)
    other_patient = await _client(aiohttp_client, admin)
    assert (await other_patient.get(ines_link, allow_redirects=False)).status == 303
    flag = (await admin.server.app[DB].fetchone("SELECT id FROM pain_flags"))[0]
    her_origin = {"Origin": admin.server.app[CONFIG].origin}
    assert (await her.post(f"/care/{plan.id}/messages", json={"text": "My hip hurts"},
                           headers=her_origin)).status == 201
    return {
        "admin": admin, "rae": rae, "sam": sam, "her": her, "maya": maya, "plan": plan,
        "closed_plan": old_plan, "flag": flag, "assignment": assignment,
        "revoked_link": revoked_link, "closed_link": closed_link, "ines_link": ines_link,
        "holders": {
            "revoked plan link": revoked_holder, "closed plan's link": closed_holder,
            "another patient's plan link": other_patient, "her visit link": visit_holder,
            "no credentials": await _client(aiohttp_client, admin),
        },
        "visits_key": await _key(admin, "all"),
        "patients_key": await _key(admin, "patients"),
    }


def staff_gets(c: dict[str, Any]) -> list[str]:
    plan: Plan = c["plan"]
    return [f"/admin/patients/{c['maya']}", f"/admin/plans/{plan.id}/monitoring.csv",
            f"/admin/plans/{c['closed_plan'].id}/monitoring.csv"]


def staff_posts(c: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    plan = c["plan"].id
    return [(f"/admin/patients/{c['maya']}/plans", {"condition": CONDITION, "weeks": "4"}),
            (f"/admin/plans/{plan}/reissue", {}), (f"/admin/plans/{plan}/revoke", {}),
            (f"/admin/plans/{plan}/close", {}),
            (f"/admin/plans/{plan}/questionnaires", {"instrument": "nprs", "every_weeks": "0"}),
            (f"/admin/plans/{plan}/questionnaires/detach", {"instrument": "nprs"}),
            (f"/admin/plans/{plan}/flags/{c['flag']}/acknowledge", {}),
            (f"/admin/plans/{plan}/review-minutes", {"minutes": "5"}),
            (f"/admin/plans/{plan}/messages", {"text": "How are the exercises going?"})]


def api_calls(c: dict[str, Any]) -> list[tuple[str, str, Any]]:
    return [("GET", "/api/patients", None), ("GET", f"/api/patients/{c['maya']}", None),
            ("GET", f"/api/patients?q={NAME.split()[0]}", None),
            ("POST", f"/api/patients/{c['maya']}/plans", {"condition": CONDITION})]


def care_calls(c: dict[str, Any]) -> list[tuple[str, str, Any]]:
    plan = c["plan"].id
    return [("GET", f"/care/{plan}", None), ("GET", f"/care/{plan}/state.json", None),
            ("POST", f"/care/{plan}/log", {
                "client_key": f"key-{time.monotonic_ns()}", "done_at": int(time.time()) - 60,
                "entries": [{"assignment_id": c["assignment"], "status": "done", "pain": 1}]}),
            ("POST", f"/care/{plan}/reminder", {"minute": 480}),
            ("GET", f"/care/{plan}/messages", None),
            ("POST", f"/care/{plan}/messages", {"text": "Is this Maya's plan?"})]


async def snapshot(c: dict[str, Any]) -> tuple[Any, ...]:
    """What a refused request must leave as it was."""
    db = c["admin"].server.app[DB]
    counts = [(await db.fetchone(f"SELECT COUNT(*) FROM {t}"))[0] for t in TABLES]
    plans = await db.fetchall("SELECT id, status FROM plans ORDER BY id")
    links = await db.fetchall("SELECT jti, revoked_at FROM links WHERE scope = 'plan'"
                              " ORDER BY jti")
    flags = await db.fetchall("SELECT id, acknowledged_at FROM pain_flags ORDER BY id")
    reminder = await db.fetchone("SELECT program_reminder FROM patients WHERE id = ?",
                                 (c["maya"],))
    return (tuple(counts), tuple(map(tuple, plans)), tuple(map(tuple, links)),
            tuple(map(tuple, flags)), tuple(reminder))


async def call(client: TestClient, method: str, path: str, body: Any = None,
               headers: dict[str, str] | None = None) -> tuple[int, str]:
    response = await client.request(method, path, json=body, headers=headers or {},
                                    allow_redirects=False)
    return response.status, await response.text()


async def refused_everywhere(c: dict[str, Any], client: TestClient, *, staff: int | None,
                             api_headers: dict[str, str] | None = None,
                             api_status: int = 401, care_statuses: tuple[int, ...] = (401,),
                             csrf_page: str | None = None) -> None:
    """Every endpoint of Maya's refused for this client; nothing of hers said or stored.
    `staff`: the status staff pages give it (None: a redirect to sign in)."""
    before = await snapshot(c)
    for path in staff_gets(c):
        status, text = await call(client, "GET", path)
        assert status == (staff or 303), (path, status)
        assert NAME not in text and "Maya" not in text
    token = await page_csrf(client, csrf_page) if csrf_page else ""
    for path, form in staff_posts(c):
        response = await client.post(path, data={**form, "csrf_token": token},
                                     allow_redirects=False)
        assert response.status == (staff or 303), (path, response.status)
        assert "Maya" not in await response.text()
    for method, path, body in api_calls(c):
        status, text = await call(client, method, path, body, api_headers)
        assert status == api_status, (path, status, text)
        assert "Maya" not in text
    for method, path, body in care_calls(c):
        status, text = await call(client, method, path, body)
        assert status in care_statuses, (path, status, text)
        assert "Maya" not in text and "pelvic" not in text.lower() and "My hip hurts" not in text
    assert await snapshot(c) == before


async def test_another_therapist_gets_404_for_her_pages_and_nothing_else(clinic):
    sam = clinic["sam"]
    await refused_everywhere(clinic, sam, staff=404, csrf_page="/admin")
    assert (await sam.get("/admin/patients")).status == 403
    assert "Maya" not in await (await sam.get("/admin")).text()


@pytest.mark.parametrize("holder", ["revoked plan link", "closed plan's link",
                                    "another patient's plan link", "her visit link",
                                    "no credentials"])
async def test_each_link_or_no_credentials_opens_nothing_of_hers(clinic, holder):
    client = clinic["holders"][holder]
    # A held cookie of a revoked or closed plan's link is refused (403); with no cookie
    # for her plan's path (another plan's, a visit's, none) her page asks for the link.
    care = (401, 403) if holder in ("revoked plan link", "closed plan's link") else (401,)
    await refused_everywhere(clinic, client, staff=None, care_statuses=care)


async def test_a_revoked_a_closed_and_another_patients_link_are_refused_on_her_pages(clinic):
    client = clinic["holders"]["no credentials"]
    plan, closed = clinic["plan"].id, clinic["closed_plan"].id
    for link in (clinic["revoked_link"],):
        response = await client.get(link, allow_redirects=False)
        assert response.status == 403 and "Maya" not in await response.text()
    response = await client.get(clinic["closed_link"], allow_redirects=False)
    assert response.status == 403
    assert f"/care/{closed}" in clinic["closed_link"]
    # Another patient's token put on her plan's address (as a link or as the cookie).
    token = clinic["ines_link"].split("token=", 1)[1]
    response = await client.get(f"/care/{plan}?token={token}", allow_redirects=False)
    assert response.status == 403 and "Maya" not in await response.text()
    forged = await client.get(f"/care/{plan}/state.json", allow_redirects=False,
                              headers={"Cookie": f"visitroom_plan={token}"})
    assert forged.status in (401, 403)
    assert "Maya" not in await forged.text()


async def test_her_own_link_still_opens_her_page_after_the_holder_of_an_old_one_is_refused(
        clinic):
    her = clinic["her"]
    plan = clinic["plan"].id
    assert (await her.get(f"/care/{plan}")).status == 200
    assert (await her.get(f"/care/{plan}/state.json")).status == 200
    status, _text = await call(her, *care_calls(clinic)[2][:2], care_calls(clinic)[2][2])
    assert status == 201
    status, _text = await call(her, "POST", f"/care/{plan}/reminder", {"minute": 480})
    assert status == 200
    status, text = await call(her, "GET", f"/care/{plan}/messages")
    assert status == 200 and "My hip hurts" in text
    status, _text = await call(her, "POST", f"/care/{plan}/messages", {"text": "Thanks"},
                               {"Origin": her.server.app[CONFIG].origin})
    assert status == 201


async def test_an_api_key_without_the_patients_scopes_is_refused(clinic):
    client = clinic["holders"]["no credentials"]
    headers = {"Authorization": f"Bearer {clinic['visits_key']}"}
    await refused_everywhere(clinic, client, staff=None, api_headers=headers,
                             api_status=403)


async def test_her_therapist_the_admin_and_a_patients_key_are_allowed(clinic):
    maya, plan = clinic["maya"], clinic["plan"]
    for who in ("rae", "admin"):
        client = clinic[who]
        for path in staff_gets(clinic):
            response = await client.get(path)
            assert response.status == 200, (who, path)
        assert NAME in await (await client.get(f"/admin/patients/{maya}")).text()
        response = await post_form(client, f"/admin/patients/{maya}",
                                   f"/admin/plans/{plan.id}/review-minutes", {"minutes": "5"})
        assert response.status == 303
        response = await post_form(client, f"/admin/patients/{maya}",
                                   f"/admin/plans/{plan.id}/messages", {"text": "Noted."})
        assert response.status == 303
    headers = {"Authorization": f"Bearer {clinic['patients_key']}"}
    client = clinic["holders"]["no credentials"]
    status, text = await call(client, "GET", f"/api/patients/{maya}", None, headers)
    assert status == 200 and NAME in text
    status, text = await call(client, "GET", "/api/patients?q=maya", None, headers)
    assert status == 200 and maya in text


async def test_a_therapist_signed_in_on_her_browser_does_not_open_her_home_page(clinic,
                                                                                 aiohttp_client):
    # The home page is the patient's: a staff session is no plan link.
    rae = clinic["rae"]
    for method, path, body in care_calls(clinic):
        status, _text = await call(rae, method, path, body)
        assert status == 401, path
    for method, path, body in api_calls(clinic):
        status, _text = await call(rae, method, path, body)
        assert status == 401, path
    client = await aiohttp_client(clinic["admin"].server)
    await login(client, "sam@clinic.test", "therapist-pass-1")
    assert (await client.get(f"/admin/patients/{clinic['maya']}")).status == 404
    assert clinic["admin"].server.app[CARE] is not None
