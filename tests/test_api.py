"""The REST API: every route, its errors, and the OpenAPI document."""

from __future__ import annotations

import re

import pytest

from tests.helpers import count_rows, make_visit


async def test_create_visit_returns_201_with_the_cli_fields(api):
    client, auth = api
    response = await client.post("/api/visits", json={"patient_name": "Maya Lopez",
                                                      "kind": "intro"}, headers=auth)
    assert response.status == 201
    body = await response.json()
    for field in ("visit_id", "patient_url", "therapist_url", "starts_at", "ends_at"):
        assert body[field]
    assert body["minutes"] == 10
    assert body["patient_url"].startswith(f"http://127.0.0.1:8080/join/{body['visit_id']}?token=")
    link = "/" + body["patient_url"].split("/", 3)[3]
    assert (await client.get(link, allow_redirects=False)).status == 303


async def test_api_creation_is_audited_with_the_key_id(api):
    client, auth = api
    response = await client.post("/api/visits", json={"patient_name": "Maya"}, headers=auth)
    visit_id = (await response.json())["visit_id"]
    from server.app import DB

    row = await client.server.app[DB].fetchone(
        "SELECT actor FROM events WHERE visit_id = ? AND action = 'visit.created'", (visit_id,))
    assert re.fullmatch(r"api_key:\d+", row[0])


@pytest.mark.parametrize("body, status, code", [
    ({}, 422, "invalid_field"),
    ({"patient_name": ""}, 422, "invalid_field"),
    ({"patient_name": "A", "minutes": 0}, 422, "invalid_field"),
    ({"patient_name": "A", "minutes": 241}, 422, "invalid_field"),
    ({"patient_name": "A", "minutes": "ten"}, 422, "invalid_field"),
    ({"patient_name": "A", "minutes": True}, 422, "invalid_field"),
    ({"patient_name": "A", "starts_at": "tomorrow"}, 422, "invalid_field"),
    ({"patient_name": "A", "kind": "party"}, 422, "invalid_field"),
    ({"patient_name": "A", "kind": [None, None]}, 422, "invalid_field"),  # found by the fuzzer
    ({"patient_name": "A", "capacity": 9}, 422, "invalid_field"),
    ({"patient_name": "A", "therapist_email": "nobody@clinic.test"}, 422, "invalid_field"),
    ({"patient_name": "A", "therapist_name": "B", "therapist_email": "b@c.d"}, 422, "invalid_field"),
    ({"patient_name": "A\u0000B"}, 422, "invalid_field"),
    ({"patient_name": "A" * 101}, 422, "invalid_field"),
    ({"patient_name": ["A"]}, 422, "invalid_field"),
    ({"patient_name": "A", "colour": "red"}, 422, "unknown_field"),
])
async def test_bad_visit_bodies_are_422_and_store_nothing(api, body, status, code):
    client, auth = api
    response = await client.post("/api/visits", json=body, headers=auth)
    assert response.status == status
    payload = await response.json()
    assert payload["error"]["code"] == code
    assert payload["error"]["message"]
    assert await count_rows(client, "visits") == 0


async def test_list_filters_by_time_and_status(api):
    client, auth = api
    early = await make_visit(client, starts_at="2030-01-01T09:00:00Z")
    late = await make_visit(client, starts_at="2030-02-01T09:00:00Z")
    from server.app import VISITS

    await client.server.app[VISITS].cancel(late, actor="test")
    response = await client.get("/api/visits", params={"from": "2029-12-31", "to": "2030-01-15"},
                                headers=auth)
    assert [v["visit_id"] for v in (await response.json())["visits"]] == [early.id]
    response = await client.get("/api/visits", params={"status": "cancelled"}, headers=auth)
    assert [v["visit_id"] for v in (await response.json())["visits"]] == [late.id]
    response = await client.get("/api/visits", params={"status": "lost"}, headers=auth)
    assert response.status == 400
    response = await client.get("/api/visits", params={"from": "yesterday"}, headers=auth)
    assert response.status == 400


async def test_get_visit_and_404(api):
    client, auth = api
    visit = await make_visit(client)
    response = await client.get(f"/api/visits/{visit.id}", headers=auth)
    assert response.status == 200
    assert (await response.json())["visit_id"] == visit.id
    response = await client.get("/api/visits/v_AAAAAAAAAAAAAAAA", headers=auth)
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"
    response = await client.get("/api/visits/not-an-id", headers=auth)
    assert response.status == 404
    assert "error" in await response.json()


async def test_cancel_then_cancel_again_is_409(api):
    client, auth = api
    visit = await make_visit(client)
    response = await client.post(f"/api/visits/{visit.id}/cancel", headers=auth)
    assert response.status == 200
    assert (await response.json())["status"] == "cancelled"
    response = await client.post(f"/api/visits/{visit.id}/cancel", headers=auth)
    assert response.status == 409
    response = await client.post(f"/api/visits/{visit.id}/participants/patient/reissue", headers=auth)
    assert response.status == 409


async def test_reissue_changes_only_that_link(api):
    client, auth = api
    visit = await make_visit(client)
    before = await (await client.get(f"/api/visits/{visit.id}", headers=auth)).json()
    response = await client.post(f"/api/visits/{visit.id}/participants/therapist/reissue", headers=auth)
    after = await response.json()
    assert response.status == 200
    assert after["therapist_url"] != before["therapist_url"]
    assert after["patient_url"] == before["patient_url"]
    old = "/" + before["therapist_url"].split("/", 3)[3]
    assert (await client.get(old, allow_redirects=False)).status == 403
    response = await client.post(f"/api/visits/{visit.id}/participants/observer/reissue", headers=auth)
    assert response.status == 404


def _openapi_path(canonical: str) -> str:
    return re.sub(r"\{(\w+):[^{}]*(?:\{[^{}]*\}[^{}]*)*\}", r"{\1}", canonical)


async def test_openapi_document_describes_every_api_route(client):
    response = await client.get("/api/openapi.json")
    assert response.status == 200
    doc = await response.json()
    assert doc["openapi"].startswith("3.1")
    registered = set()
    for route in client.server.app.router.routes():
        path = _openapi_path(route.resource.canonical)
        if path.startswith("/api/") and route.method != "HEAD":
            registered.add((path, route.method.lower()))
    assert len(registered) >= 6
    for path, method in registered:
        assert path in doc["paths"], path
        assert method in doc["paths"][path], (path, method)


async def test_add_a_guest_with_her_own_link(api):
    client, auth = api
    visit = await make_visit(client, capacity="3")
    response = await client.post(f"/api/visits/{visit.id}/participants", json={"name": "Ana Interpreter"},
                                 headers=auth)
    assert response.status == 201
    body = await response.json()
    guest = next(p for p in body["participants"] if p["role"] == "guest")
    assert guest["name"] == "Ana Interpreter"
    assert (await client.get("/" + guest["url"].split("/", 3)[3], allow_redirects=False)).status == 303
    for bad in ({}, {"name": ""}, {"name": "A", "role": "therapist"}):
        response = await client.post(f"/api/visits/{visit.id}/participants", json=bad, headers=auth)
        assert response.status == 422
    assert await count_rows(client, "participants") == 3
