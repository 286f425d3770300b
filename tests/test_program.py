"""Home programs over HTTP: assigning, validation, who may do what, and where they show."""

from __future__ import annotations

import pytest

from tests.helpers import count_rows, hours, link_of, make_api_key, make_visit, now

pytestmark = pytest.mark.both_engines


@pytest.fixture
async def seats(aiohttp_client, client):
    """A visit with a therapist client and a patient client, each holding her visit cookie."""
    visit = await make_visit(client, patient_name="Pia Program")
    therapist = await aiohttp_client(client.server)
    assert (await therapist.get(await link_of(client, visit, "therapist"))).status == 200
    patient = await aiohttp_client(client.server)
    assert (await patient.get(await link_of(client, visit, "patient"))).status == 200
    return visit, therapist, patient


def _url(visit) -> str:
    return f"/visits/{visit.id}/assignments"


async def test_the_therapist_assigns_and_the_patient_sees_it(seats):
    visit, therapist, patient = seats
    response = await therapist.post(_url(visit), json={"exercise": "glute-bridge", "reps": 12,
                                                       "note": "Slow lowering"})
    assert response.status == 201
    created = await response.json()
    assert created["sets"] == 2 and created["reps"] == 12 and created["hold_seconds"] == 3
    listed = await (await patient.get(_url(visit))).json()
    assert [a["exercise"] for a in listed["assignments"]] == ["glute-bridge"]
    page = await (await patient.get(f"/visits/{visit.id}/program")).text()
    assert "Glute bridge" in page and "Slow lowering" in page and "2 × 12" in page


@pytest.mark.parametrize("body, field", [
    ({"exercise": "moonwalk"}, "exercise"),
    ({"exercise": "glute-bridge", "reps": 0}, "reps"),
    ({"exercise": "glute-bridge", "sets": "three"}, "sets"),
    ({"exercise": "glute-bridge", "per_day": 0, "per_week": 0}, "per_day"),
    ({"exercise": "glute-bridge", "note": "x" * 501}, "note"),
    ({"exercise": "glute-bridge", "note": "bad\u0007bell"}, "note"),
    ({"exercise": "glute-bridge", "colour": "red"}, "colour"),
    ({"exercise": "glute-bridge", "reps": True}, "reps"),
])
async def test_bad_assignments_are_422_and_store_nothing(seats, body, field):
    visit, therapist, _ = seats
    response = await therapist.post(_url(visit), json=body)
    assert response.status == 422
    assert field in (await response.json())["error"]["message"]
    assert await count_rows(therapist, "assignments") == 0


async def test_a_patient_cannot_change_the_program(seats):
    visit, _, patient = seats
    response = await patient.post(_url(visit), json={"exercise": "glute-bridge"})
    assert response.status == 403
    assert await count_rows(patient, "assignments") == 0


async def test_no_cookie_or_a_foreign_origin_is_refused(client, seats):
    visit, therapist, _ = seats
    assert (await client.post(_url(visit), json={"exercise": "glute-bridge"})).status == 401
    response = await therapist.post(_url(visit), json={"exercise": "glute-bridge"},
                                    headers={"Origin": "https://evil.example"})
    assert response.status == 403


async def test_removing_an_assignment(seats):
    visit, therapist, patient = seats
    created = await (await therapist.post(_url(visit), json={"exercise": "clamshell"})).json()
    assert (await therapist.delete(f"{_url(visit)}/{created['id']}")).status == 204
    assert (await therapist.delete(f"{_url(visit)}/{created['id']}")).status == 404
    assert (await (await patient.get(_url(visit))).json())["assignments"] == []


async def test_the_admin_page_and_the_api_show_the_program(admin, aiohttp_client):
    visit = await make_visit(admin)
    therapist = await aiohttp_client(admin.server)
    await therapist.get(await link_of(admin, visit, "therapist"))
    await therapist.post(_url(visit), json={"exercise": "bird-dog", "note": "Keep hips level"})
    page = await (await admin.get(f"/admin/visits/{visit.id}")).text()
    assert "Bird dog" in page and "Keep hips level" in page
    key = await make_api_key(admin)
    body = await (await admin.get(f"/api/visits/{visit.id}", headers={"Authorization": f"Bearer {key}"})).json()
    assert [a["exercise"] for a in body["assignments"]] == ["bird-dog"]


async def test_the_program_outlives_the_call_but_not_the_program_window(client, aiohttp_client):
    visit = await make_visit(client, now=now() - hours(24 * 30))  # a month ago
    patient = await aiohttp_client(client.server)
    response = await patient.get(await link_of(client, visit, "patient"))
    assert response.status == 200 and str(response.url).endswith("/program")
    import aiohttp

    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await patient.ws_connect(f"/visits/{visit.id}/ws", headers={"Origin": "http://127.0.0.1:8080"})
    assert refused.value.status == 403
