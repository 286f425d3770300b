"""Admin and therapist pages: sign-in, lockout, CSRF, visits, therapists, API keys."""

from __future__ import annotations

import re

import pytest

from server.keys import DB, VISITS
from tests.helpers import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    add_therapist,
    count_rows,
    csrf_from,
    login,
    make_visit,
    page_csrf,
    post_form,
)

pytestmark = pytest.mark.both_engines


async def test_admin_pages_redirect_to_login_when_signed_out(client):
    response = await client.get("/admin/therapists", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/login?next=/admin/therapists"


async def test_login_then_logout(client):
    await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
    assert (await client.get("/admin", allow_redirects=False)).status == 200
    response = await post_form(client, "/admin", "/logout")
    assert response.status == 303
    assert (await client.get("/admin", allow_redirects=False)).status == 303


async def test_create_visit_from_the_form_shows_both_links(admin):
    response = await post_form(admin, "/admin/visits/new", "/admin/visits",
                               {"patient_name": "Nora <b>Quinn</b>", "therapist_name": "Sam Lee",
                                "kind": "evaluation", "starts_at": "2030-05-06T10:00"})
    assert response.status == 303
    detail = await admin.get(response.headers["Location"])
    body = await detail.text()
    assert body.count("/join/") == 2
    assert "Nora &lt;b&gt;Quinn&lt;/b&gt;" in body and "<b>Quinn" not in body
    assert "60 minutes" in body
    assert "visit.created" in body


async def test_create_visit_form_with_bad_input_is_422_and_stores_nothing(admin):
    response = await post_form(admin, "/admin/visits/new", "/admin/visits",
                               {"patient_name": "Nora", "minutes": "999"})
    assert response.status == 422
    assert "minutes" in await response.text()
    assert await count_rows(admin, "visits") == 0


async def test_dashboard_lists_todays_visits(admin):
    await make_visit(admin, patient_name="Ivy Chen")
    body = await (await admin.get("/admin")).text()
    assert "Ivy Chen" in body


async def test_reissue_and_cancel_from_the_visit_page(admin):
    visit = await make_visit(admin)
    old_jti = visit.participant("patient").jti
    page = f"/admin/visits/{visit.id}"
    response = await post_form(admin, page, f"{page}/participants/patient/reissue")
    assert response.status == 303
    updated = await admin.server.app[VISITS].get(visit.id)
    assert updated.participant("patient").jti != old_jti
    assert updated.participant("therapist").jti == visit.participant("therapist").jti
    response = await post_form(admin, page, f"{page}/cancel")
    assert response.status == 303
    assert (await admin.server.app[VISITS].get(visit.id)).status == "cancelled"
    again = await admin.post(f"{page}/cancel", data={"csrf_token": await page_csrf(admin, page)},
                             allow_redirects=False)
    assert again.status == 409


async def test_calendar_invite_carries_the_link_and_times(admin):
    visit = await make_visit(admin, starts_at="2030-05-06T10:00:00Z", minutes="45")
    response = await admin.get(f"/admin/visits/{visit.id}/invite.ics?role=patient")
    assert response.status == 200
    assert response.content_type == "text/calendar"
    text = (await response.text()).replace("\r\n ", "")
    assert "DTSTART:20300506T100000Z" in text and "DTEND:20300506T104500Z" in text
    assert f"/join/{visit.id}?token=" in text
    assert text.startswith("BEGIN:VCALENDAR")


async def test_unknown_visit_page_is_a_readable_404(admin):
    response = await admin.get("/admin/visits/v_AAAAAAAAAAAAAAAA")
    assert response.status == 404
    assert "no visit with this id" in await response.text()


async def test_generated_therapist_password_is_shown_once(admin):
    response = await post_form(admin, "/admin/therapists", "/admin/therapists",
                               {"name": "Ola Berg", "email": "ola@clinic.test"})
    assert response.status == 201
    match = re.search(r'<code class="secret">([^<]+)</code>', await response.text())
    assert match
    assert "secret" not in await (await admin.get("/admin/therapists")).text()


async def test_duplicate_or_bad_therapist_is_refused(admin):
    assert (await add_therapist(admin, "Rae Kim", "rae@clinic.test")).status == 201
    assert (await add_therapist(admin, "Rae Again", "RAE@clinic.test")).status == 409
    assert (await add_therapist(admin, "No Email", "not-an-email")).status == 422
    assert (await add_therapist(admin, "Short Pw", "s@clinic.test", "short")).status == 422
    assert await count_rows(admin, "users") == 2


async def test_deactivated_therapist_cannot_sign_in(aiohttp_client, admin):
    await add_therapist(admin, "Rae Kim", "rae@clinic.test")
    row = await admin.server.app[DB].fetchone(
        "SELECT id FROM users WHERE email = 'rae@clinic.test'")
    response = await post_form(admin, "/admin/therapists", f"/admin/therapists/{row[0]}/deactivate")
    assert response.status == 303
    therapist = await aiohttp_client(admin.server)
    await login(therapist, "rae@clinic.test", "therapist-pass-1", expect=401)


async def test_api_key_is_shown_once_stored_hashed_and_revocable(admin):
    response = await post_form(admin, "/admin/api-keys", "/admin/api-keys",
                               {"name": "EHR bridge", "scopes": "read"})
    assert response.status == 201
    key = re.search(r'id="new-key" readonly value="([^"]+)"', await response.text()).group(1)
    listing = await (await admin.get("/admin/api-keys")).text()
    assert key not in listing and key[:10] in listing
    db = admin.server.app[DB]
    assert await db.fetchone("SELECT 1 FROM api_keys WHERE key_hash = ?", (key,)) is None
    assert (await admin.get("/api/visits", headers={"Authorization": f"Bearer {key}"})).status == 200
    key_id = (await db.fetchone("SELECT id FROM api_keys"))[0]
    response = await post_form(admin, "/admin/api-keys", f"/admin/api-keys/{key_id}/revoke")
    assert response.status == 303
    assert (await admin.get("/api/visits", headers={"Authorization": f"Bearer {key}"})).status == 401


async def test_audit_log_page_lists_events_by_id(admin):
    await make_visit(admin, patient_name="Hidden Name")
    body = await (await admin.get("/admin/events")).text()
    assert "visit.created" in body and "login.succeeded" in body
    assert "Hidden Name" not in body


async def test_csrf_token_on_pages_matches_the_cookie(client):
    response = await client.get("/login")
    token = csrf_from(await response.text())
    assert response.cookies["visitroom_csrf"].value == token
    assert response.cookies["visitroom_csrf"]["samesite"] == "Strict"
