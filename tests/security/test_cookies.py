"""Cookie attributes: the staff cookie is SameSite=Strict (and signing in and the admin pages
still work), the visit cookie lives only as long as its link can open something."""

from __future__ import annotations

import pytest

from server.app import VISITS, create_app
from tests.helpers import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    hours,
    link_of,
    make_visit,
    now,
    page_csrf,
    post_form,
)

pytestmark = pytest.mark.both_engines


async def test_staff_cookie_is_strict_and_login_then_admin_pages_work(client):
    token = await page_csrf(client, "/login?next=/admin/events")
    response = await client.post("/login", allow_redirects=False, data={
        "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "csrf_token": token,
        "next": "/admin/events"})
    assert response.status == 303 and response.headers["Location"] == "/admin/events"
    cookie = response.cookies["visitroom_staff"]
    assert cookie["samesite"] == "Strict" and cookie["httponly"] is True
    for path in ("/admin/events", "/admin", "/admin/therapists", "/admin/api-keys",
                 "/admin/visits/new"):
        page = await client.get(path, allow_redirects=False)
        assert page.status == 200, path
    created = await post_form(client, "/admin/api-keys", "/admin/api-keys",
                              {"name": "EHR", "scopes": "read"})
    assert created.status == 201


async def _visit_cookie_max_age(client, path: str) -> int:
    response = await client.get(path, allow_redirects=False)
    assert response.status == 303, await response.text()
    return int(response.cookies["visitroom_visit"]["max-age"])


async def test_patient_visit_cookie_lasts_the_call_and_home_program_windows(aiohttp_client, config):
    client = await aiohttp_client(create_app(config.with_overrides(program_days=7)))
    visit = await make_visit(client)
    patient = visit.participant("patient")
    max_age = await _visit_cookie_max_age(client, await link_of(client, visit, "patient"))
    assert abs(max_age - (patient.expires_at + 7 * 86400 - now())) <= 2


async def test_guest_visit_cookie_ends_with_the_call_window(client):
    visit = await make_visit(client)
    visit = await client.server.app[VISITS].add_guest(visit, "Ana Interpreter", actor="test")
    guest = visit.participant("guest")
    max_age = await _visit_cookie_max_age(client, await link_of(client, visit, "guest"))
    assert abs(max_age - (guest.expires_at - now())) <= 2
    assert max_age < 86400


async def test_a_guest_link_past_the_call_window_opens_nothing(client):
    past = now() - hours(48)
    visit = await make_visit(client, now=past)
    visit = await client.server.app[VISITS].add_guest(visit, "Ana Interpreter", actor="test",
                                                      now=past)
    response = await client.get(await link_of(client, visit, "guest"), allow_redirects=False)
    assert response.status == 401
    assert "link no longer works" in await response.text()
    assert "visitroom_visit" not in response.cookies
    patient = await client.get(await link_of(client, visit, "patient"), allow_redirects=False)
    assert patient.status == 303 and patient.headers["Location"].endswith("/program")
