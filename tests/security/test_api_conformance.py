"""The API answers as its OpenAPI document says: what the document allows is accepted, what
it forbids is a 400 or 422 that changes nothing, and a 405 names the allowed methods.

Each case is one that schemathesis' `--checks all` found; they run here directly through
the test client, the document's schemas checked with jsonschema.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from server.keys import DB
from server.http.openapi import document
from tests.helpers import count_rows, make_visit

DOC = document("http://127.0.0.1:8080")


def allowed_by_document(schema: dict[str, Any], value: Any) -> bool:
    """Whether the document's schema accepts this value."""
    root = {**schema, "components": DOC["components"]}
    return jsonschema.Draft202012Validator(root).is_valid(value)


def query_schema(path: str, name: str) -> dict[str, Any]:
    return next(p["schema"] for p in DOC["paths"][path]["get"]["parameters"] if p["name"] == name)


NAMES = ["Maya Lopez", "Zoë 🙂", "فرزانه\u200cای",  # a zero-width non-joiner belongs in Persian
         "Ma\x07ya", "Ana\u202eRuiz", "Ana\x00", "a\tb", "x\x85y", "Ana\u2028Ruiz", "\ufeffAna",
         "   ", "Ana\u200bRuiz"]


@pytest.mark.parametrize("name", NAMES)
async def test_a_name_is_accepted_exactly_when_the_document_allows_it(api, name):
    client, auth = api
    new_visit = {"$ref": "#/components/schemas/NewVisit"}
    allowed = allowed_by_document(new_visit, {"patient_name": name})
    before = await count_rows(client, "visits")
    response = await client.post("/api/visits", json={"patient_name": name}, headers=auth)
    assert response.status == (201 if allowed else 422), (name, allowed, await response.text())
    assert await count_rows(client, "visits") == before + allowed  # a refusal stores nothing
    if not allowed:
        message = (await response.json())["error"]["message"]
        assert message.startswith("patient_name ") and "regex" not in message
    guest = {"$ref": "#/components/schemas/NewGuest"}
    visit = await make_visit(client)
    response = await client.post(f"/api/visits/{visit.id}/participants", json={"name": name},
                                 headers=auth)
    assert allowed_by_document(guest, {"name": name}) is allowed
    assert response.status == (201 if allowed else 422), name


@pytest.mark.parametrize("value", ["2030-03-01", "2030-03-01T09:30", "2030-03-01T09:30:00Z",
                                   "2030-03-01T09:30:00.250+02:00", "", "20300301",
                                   "2030-03-01T09", "2030-13-01", "yesterday", "2030-3-1",
                                   "٢٠٣٠-03-01"])
async def test_from_and_to_take_exactly_the_documented_iso_forms(api, value):
    client, auth = api
    for name in ("from", "to"):
        allowed = allowed_by_document(query_schema("/api/visits", name), value)
        response = await client.get("/api/visits", params={name: value}, headers=auth)
        assert response.status == (200 if allowed else 400), (name, value, allowed)
        if not allowed:
            assert (await response.json())["error"]["code"] == "bad_parameter"
    assert not allowed_by_document(query_schema("/api/visits", "from"), "20300301")


async def test_an_over_long_search_is_refused_by_the_api_and_cut_short_by_the_page(client):
    limit = query_schema("/api/library/conditions", "q")["maxLength"]
    response = await client.get("/api/library/conditions", params={"q": "p" * (limit + 1)})
    assert response.status == 400
    assert (await response.json())["error"] == {
        "code": "bad_parameter", "message": f"q must be at most {limit} characters."}
    assert (await client.get("/api/library/conditions", params={"q": "p" * limit})).status == 200
    assert (await client.get("/api/library/conditions", params={"phase": "later"})).status == 400
    assert (await client.get("/library", params={"q": "p" * (limit + 1)})).status == 200


@pytest.mark.parametrize("query", ["links=true&links=false", "status=scheduled&status=ended",
                                   "from=2030-01-01&from=2031-01-01", "links=1"])
async def test_a_parameter_given_twice_or_off_its_list_is_refused(api, query):
    client, auth = api
    response = await client.get(f"/api/visits?{query}", headers=auth)
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "bad_parameter"
    rows = await client.server.app[DB].fetchall(
        "SELECT 1 FROM events WHERE action = 'visits.listed'")
    assert rows == []  # refused before anything was read or audited


async def test_the_library_search_given_twice_is_refused(client):
    response = await client.get("/api/library/conditions?q=pelvic&q=back")
    assert response.status == 400


@pytest.mark.parametrize("method, path, allow", [
    ("DELETE", "/api/visits", {"GET", "POST"}),
    ("PUT", "/api/visits/v_Q2xpbmljVmlzaXQx/cancel", {"POST"}),
    ("POST", "/api/openapi.json", {"GET"}),
])
async def test_a_method_not_allowed_names_the_allowed_ones(api, method, path, allow):
    client, auth = api
    response = await client.request(method, path, headers=auth)
    assert response.status == 405
    assert {m.strip() for m in response.headers["Allow"].split(",")} - {"HEAD"} == allow
    assert (await response.json())["error"]["code"] == "method_not_allowed"
