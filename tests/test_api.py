"""The REST API: every route, its errors, and the OpenAPI document."""

from __future__ import annotations

import re

import msgspec
import pytest

from server.http import schemas
from server.keys import DB, VISITS
from server.http.openapi import OPERATIONS
from tests.helpers import count_rows, make_visit

pytestmark = pytest.mark.both_engines


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
    from server.keys import DB

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
    from server.keys import VISITS

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


@pytest.mark.parametrize("body, field", [
    ({}, "patient_name"),
    ({"patient_name": "A", "minutes": "45"}, "minutes"),  # JSON numbers are numbers
    ({"patient_name": "A", "minutes": 1.5}, "minutes"),
    ({"patient_name": "A", "capacity": None}, "capacity"),
    ({"patient_name": "A", "kind": None}, "kind"),
    ({"patient_name": "A", "starts_at": 20300101}, "starts_at"),
    ({"patient_name": "A", "therapist_email": "no-at-sign"}, "therapist_email"),
    ({"patient_name": "A", "therapist_name": "B" * 101}, "therapist_name"),
])
async def test_a_refused_field_is_named_in_the_message(api, body, field):
    client, auth = api
    response = await client.post("/api/visits", json=body, headers=auth)
    assert response.status == 422
    error = (await response.json())["error"]
    assert error["code"] == "invalid_field"
    assert error["message"].startswith(f"{field} ")
    assert await count_rows(client, "visits") == 0


async def test_a_body_that_breaks_off_after_a_bad_field_is_400(api):
    client, auth = api
    response = await client.post("/api/visits", data=b'{"patient_name": 5, "kind": ',
                                 headers={**auth, "Content-Type": "application/json"})
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "malformed_json"


@pytest.mark.parametrize("body, code", [
    ({"name": "Ana", "role": "therapist"}, "unknown_field"),
    ({"name": 7}, "invalid_field"),
    ({"name": "Ana\u0007"}, "invalid_field"),
    ([], "malformed_json"),
])
async def test_bad_guest_bodies_are_refused_and_add_nobody(api, body, code):
    client, auth = api
    visit = await make_visit(client, capacity="3")
    response = await client.post(f"/api/visits/{visit.id}/participants", json=body, headers=auth)
    assert (await response.json())["error"]["code"] == code
    assert response.status == (400 if code == "malformed_json" else 422)
    assert await count_rows(client, "participants") == 2


async def test_every_answer_of_the_api_is_a_visit_by_its_schema(api):
    client, auth = api
    created = await client.post("/api/visits", json={"patient_name": "Maya", "capacity": 3},
                                headers=auth)
    visit = msgspec.convert(await created.json(), schemas.Visit)
    base = f"/api/visits/{visit.visit_id}"
    answers = [await client.post(f"{base}/participants", json={"name": "Ana"}, headers=auth),
               await client.get(base, headers=auth),
               await client.post(f"{base}/participants/patient/reissue", headers=auth),
               await client.post(f"{base}/participants/therapist/revoke", headers=auth),
               await client.post(f"{base}/cancel", headers=auth)]
    for answer in answers:
        assert answer.status in (200, 201)
        msgspec.convert(await answer.json(), schemas.Visit)
    listed = await client.get("/api/visits", headers=auth)
    assert len(msgspec.convert(await listed.json(), schemas.VisitList).visits) == 1


async def test_every_operation_has_an_id_a_tag_and_examples(client):
    doc = await (await client.get("/api/openapi.json")).json()
    seen = set()
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            assert re.fullmatch(r"[a-z]+[A-Za-z]*", op["operationId"]), (path, method)
            seen.add(op["operationId"])
            assert op["tags"] and set(op["tags"]) <= {t["name"] for t in doc["tags"]}
            ok = next(r for status, r in op["responses"].items() if status.startswith("2"))
            assert "example" in ok["content"]["application/json"], (path, method)
            if "requestBody" in op:
                assert "example" in op["requestBody"]["content"]["application/json"]
            for param in op.get("parameters", []):
                assert "example" in param, (path, method, param["name"])
    assert len(seen) == sum(len(m) for m in doc["paths"].values())
    assert {"createVisit", "listVisits", "getVisit", "cancelVisit", "addGuest", "reissueLink",
            "revokeLink", "listConditions", "getCondition", "listExercises", "getExercise"} <= seen


def test_the_examples_of_the_document_match_its_schemas():
    for op in OPERATIONS:
        if isinstance(op.ok[2], type):
            msgspec.convert(op.example, op.ok[2])
        if op.body is not None:
            msgspec.convert(op.body_example, op.body)
        for param in op.parameters:
            assert re.search(param["schema"].get("pattern", ""), param["example"])


async def test_the_documented_schemas_are_generated_from_the_structs(client):
    doc = await (await client.get("/api/openapi.json")).json()
    shown = doc["components"]["schemas"]
    for struct in (schemas.NewVisit, schemas.NewGuest, schemas.Visit, schemas.Error):
        assert set(shown[struct.__name__]["properties"]) == set(struct.__struct_fields__)
    assert shown["NewVisit"]["additionalProperties"] is False
    assert shown["NewVisit"]["properties"]["minutes"]["anyOf"][0]["maximum"] == schemas.MAX_MINUTES
    assert set(shown["NewVisit"]["properties"]["kind"]["enum"]) == set(schemas.KIND_MINUTES)


async def test_listing_500_visits_makes_a_fixed_number_of_queries_and_signs_no_link(api):
    client, auth = api
    app = client.server.app
    for _ in range(500):
        await make_visit(client)
    db, service = app[DB], app[VISITS]
    counts = {"queries": 0, "links": 0}
    fetchall, fetchone, link = db.fetchall, db.fetchone, service.link

    async def counted_fetchall(*args, **kwargs):
        counts["queries"] += 1
        return await fetchall(*args, **kwargs)

    async def counted_fetchone(*args, **kwargs):
        counts["queries"] += 1
        return await fetchone(*args, **kwargs)

    async def counted_link(*args, **kwargs):
        counts["links"] += 1
        return await link(*args, **kwargs)

    db.fetchall, db.fetchone, service.link = counted_fetchall, counted_fetchone, counted_link
    try:
        response = await client.get("/api/visits", headers=auth)
        assert response.status == 200
        body = await response.json()
        assert len(body["visits"]) == 500
        assert body["visits"][0]["patient_url"] is None
        assert counts["links"] == 0
        few = counts["queries"]
        assert few <= 6  # API key, visits, participants, assignments: not one per visit
        counts.update(queries=0, links=0)
        response = await client.get("/api/visits?links=true&status=scheduled", headers=auth)
        body = await response.json()
        assert body["visits"][0]["patient_url"].startswith("http://127.0.0.1:8080/join/")
        assert counts["links"] == 1000 and counts["queries"] == few
    finally:
        db.fetchall, db.fetchone, service.link = fetchall, fetchone, link
