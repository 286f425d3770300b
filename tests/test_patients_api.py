"""Patients and plans of care through the REST API: create, find, read her record, start a
plan with her plan link; a visit made for her record joins her plan and shows its program.
Every bad input is refused with the field named and nothing stored."""

from __future__ import annotations

import msgspec
import pytest

from server.http import care_schemas
from server.keys import DB
from tests.helpers import count_rows, make_api_key

pytestmark = pytest.mark.both_engines


@pytest.fixture
async def api_all(admin):
    """A client and the header of a key that may do everything, visits and patients."""
    key = await make_api_key(admin, "EHR", "everything")
    return admin, {"Authorization": f"Bearer {key}"}


async def _patient(client, auth, **fields):
    body = {"name": "Maya Lopez", **fields}
    response = await client.post("/api/patients", json=body, headers=auth)
    assert response.status == 201, await response.text()
    return await response.json()


async def _plan(client, auth, patient_id, **fields):
    body = {"condition": "pelvic-girdle-pain", "weeks": 8, **fields}
    response = await client.post(f"/api/patients/{patient_id}/plans", json=body, headers=auth)
    assert response.status == 201, await response.text()
    return await response.json()


async def test_a_patient_is_created_found_and_read(api_all):
    client, auth = api_all
    made = await _patient(client, auth, email="maya@example.org", email_consent=True,
                          external_id="MRN-1", birth_date="1992-04-17", language="es")
    msgspec.convert(made, care_schemas.Patient)
    assert (made["email_consent"], made["external_id"], made["language"]) == (True, "MRN-1", "es")
    for query in ("maya", "MAYA L", "MRN-1", "maya@example.org"):
        found = await (await client.get("/api/patients", params={"q": query}, headers=auth)).json()
        assert [p["patient_id"] for p in found["patients"]] == [made["patient_id"]], query
    assert (await (await client.get("/api/patients", params={"q": "lopez"},
                                    headers=auth)).json())["patients"] == []
    record = await (await client.get(f"/api/patients/{made['patient_id']}", headers=auth)).json()
    msgspec.convert(record, care_schemas.PatientRecord)
    assert (record["plans"], record["visits"], record["program"]) == ([], [], [])


async def test_the_list_pages_by_name_with_a_cursor(api_all):
    client, auth = api_all
    names = [f"Patient {i:02d}" for i in range(7)]
    for name in reversed(names):
        await _patient(client, auth, name=name)
    seen, cursor = [], None
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        page = await (await client.get("/api/patients", params=params, headers=auth)).json()
        seen += [p["name"] for p in page["patients"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == names


@pytest.mark.parametrize("body, field", [
    ({}, "name"),
    ({"name": ""}, "name"),
    ({"name": "A\u0000B"}, "name"),
    ({"name": "A", "email": "not-an-address"}, "email"),
    ({"name": "A", "email_consent": True}, "email_consent"),
    ({"name": "A", "phone_consent": True}, "phone_consent"),
    ({"name": "A", "phone": "call me"}, "phone"),
    ({"name": "A", "birth_date": "1992-02-30"}, "birth_date"),
    ({"name": "A", "birth_date": "2999-01-01"}, "birth_date"),
    ({"name": "A", "language": "xx-notalanguage"}, "language"),
    ({"name": "A", "external_id": "has space"}, "external_id"),
    ({"name": "A", "email_consent": "yes"}, "email_consent"),
    ({"name": "A", "colour": "red"}, "colour"),
])
async def test_a_bad_patient_is_refused_naming_the_field_and_nothing_is_stored(
        api_all, body, field):
    client, auth = api_all
    response = await client.post("/api/patients", json=body, headers=auth)
    assert response.status == 422, await response.text()
    assert field in (await response.json())["error"]["message"]
    assert await count_rows(client, "patients") == 0


async def test_an_external_id_belongs_to_one_patient(api_all):
    client, auth = api_all
    await _patient(client, auth, external_id="MRN-7")
    response = await client.post("/api/patients", json={"name": "B", "external_id": "MRN-7"},
                                 headers=auth)
    assert response.status == 422
    assert "external_id" in (await response.json())["error"]["message"]
    assert await count_rows(client, "patients") == 1


@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "101"}, {"limit": "x"},
                                    {"cursor": "nonsense!"}, {"q": "x" * 101},
                                    {"cursor": "WzEsMl0"}])
async def test_bad_list_parameters_are_400(api_all, params):
    client, auth = api_all
    response = await client.get("/api/patients", params=params, headers=auth)
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "bad_parameter"


async def test_an_unknown_patient_is_404(api_all):
    client, auth = api_all
    for path in ("/api/patients/pt_AAAAAAAAAAAAAAAA", "/api/patients/nonsense"):
        response = await client.get(path, headers=auth)
        assert response.status == 404 and (await response.json())["error"]["code"]


async def test_a_plan_gives_her_a_plan_link_and_a_visit_joins_the_plan(api_all):
    client, auth = api_all
    patient = await _patient(client, auth, external_id="MRN-9")
    plan = await _plan(client, auth, patient["patient_id"], goals="Carry her toddler")
    msgspec.convert(plan, care_schemas.Plan)
    assert plan["url"].startswith(f"http://127.0.0.1:8080/care/{plan['plan_id']}?token=")
    first = await client.post("/api/visits", json={"patient_external_id": "MRN-9"}, headers=auth)
    assert first.status == 201, await first.text()
    visit = await first.json()
    assert (visit["patient_id"], visit["plan_id"]) == (patient["patient_id"], plan["plan_id"])
    assert visit["participants"][0]["name"] == "Maya Lopez"  # her record's name
    record = await (await client.get(f"/api/patients/{patient['patient_id']}",
                                     headers=auth)).json()
    assert [v["visit_id"] for v in record["visits"]] == [visit["visit_id"]]
    assert record["plans"][0]["url"] == plan["url"]
    assert record["adherence"] is not None


@pytest.mark.parametrize("body, field", [
    ({"patient_id": "pt_AAAAAAAAAAAAAAAA"}, "patient_id"),
    ({"patient_id": "nonsense"}, "patient_id"),
    ({"patient_external_id": "nobody"}, "patient_external_id"),
    ({"patient_name": "A", "plan_id": "pl_AAAAAAAAAAAAAAAA"}, "plan_id"),
    ({}, "patient_name"),
])
async def test_a_visit_for_an_unknown_patient_or_plan_is_refused(api_all, body, field):
    client, auth = api_all
    response = await client.post("/api/visits", json=body, headers=auth)
    assert response.status == 422
    assert field in (await response.json())["error"]["message"]
    assert await count_rows(client, "visits") == 0


@pytest.mark.parametrize("body, field", [
    ({}, "condition"),
    ({"condition": "no-such-condition"}, "condition"),
    ({"condition": "pelvic-girdle-pain", "weeks": 0}, "weeks"),
    ({"condition": "pelvic-girdle-pain", "weeks": 53}, "weeks"),
    ({"condition": "pelvic-girdle-pain", "starts_on": "2020-13-01"}, "starts_on"),
    ({"condition": "pelvic-girdle-pain", "starts_on": "2001-01-01"}, "starts_on"),
    ({"condition": "pelvic-girdle-pain", "therapist_email": "nobody@clinic.test"},
     "therapist_email"),
    ({"condition": "pelvic-girdle-pain", "goals": "x" * 1001}, "goals"),
])
async def test_a_bad_plan_is_refused_and_nothing_is_stored(api_all, body, field):
    client, auth = api_all
    patient = await _patient(client, auth)
    response = await client.post(f"/api/patients/{patient['patient_id']}/plans", json=body,
                                 headers=auth)
    assert response.status == 422, await response.text()
    assert field in (await response.json())["error"]["message"]
    assert (await count_rows(client, "plans"), await count_rows(client, "links")) == (0, 0)


async def test_the_program_of_a_plan_carries_from_visit_to_visit(api_all):
    client, auth = api_all
    patient = await _patient(client, auth)
    await _plan(client, auth, patient["patient_id"])
    made = [await (await client.post("/api/visits", json={"patient_id": patient["patient_id"]},
                                     headers=auth)).json() for _ in range(2)]
    from server.keys import VISITS
    from server.visits.program import assign, unassign, visit_program

    app = client.server.app
    first, second = [await app[VISITS].get(v["visit_id"]) for v in made]
    seat = first.participant("patient")
    values = {"exercise": "glute-bridge", "sets": 2, "reps": 10, "hold_seconds": 0,
              "per_day": 1, "per_week": 0, "note": ""}
    item = await assign(app[DB], visit=first, participant_id=seat.id, values=values,
                        actor="test")
    assert [a.id for a in await visit_program(app[DB], second)] == [item.id]
    changed = await assign(app[DB], visit=second, participant_id=seat.id,
                           values={**values, "reps": 12}, actor="test2", replaces=item)
    assert [(a.id, a.reps) for a in await visit_program(app[DB], first)] == [(changed.id, 12)]
    assert await unassign(app[DB], visit=second, assignment_id=changed.id, actor="test2")
    assert await visit_program(app[DB], first) == []
    record = await (await client.get(f"/api/patients/{patient['patient_id']}",
                                     headers=auth)).json()
    assert record["program"] == []
    history = await app[DB].fetchall(
        "SELECT id, replaces, stopped_by FROM assignments ORDER BY id")
    assert [tuple(r) for r in history] == [(item.id, None, "test2"),
                                           (changed.id, item.id, "test2")]


async def test_her_record_is_changed_whole_and_the_change_is_audited_by_field(api_all):
    client, auth = api_all
    made = await _patient(client, auth, email="maya@example.org", email_consent=True,
                          external_id="MRN-1")
    await _patient(client, auth, name="Other", external_id="MRN-2")
    url = f"/api/patients/{made['patient_id']}"
    changed = await client.put(url, json={"name": "Maya Lopez", "email": "maya@example.org",
                                          "email_consent": False, "external_id": "MRN-1",
                                          "language": "es"}, headers=auth)
    assert changed.status == 200, await changed.text()
    body = await changed.json()
    assert (body["email_consent"], body["language"]) == (False, "es")
    rows = await client.server.app[DB].fetchall(
        "SELECT detail FROM events WHERE action = 'patient.changed'")
    assert [r[0] for r in rows] == ['{"patient":"%s","fields":["email_consent","language"]}'
                                    % made["patient_id"]]
    for bad, field in (({"name": "Maya", "external_id": "MRN-2"}, "external_id"),
                       ({"name": "Maya", "email": "maya@clinic"}, "email"),
                       ({"email": "x@y.org"}, "name")):
        refused = await client.put(url, json=bad, headers=auth)
        assert refused.status == 422 and field in (await refused.json())["error"]["message"]
    record = await (await client.get(url, headers=auth)).json()
    assert (record["name"], record["external_id"]) == ("Maya Lopez", "MRN-1")


async def test_a_visits_key_cannot_name_a_patient_record(api_all):
    client, auth = api_all
    patient = await _patient(client, auth, external_id="MRN-3")
    visits_only = {"Authorization": f"Bearer {await make_api_key(client, 'Booking', 'all')}"}
    for body in ({"patient_id": patient["patient_id"]}, {"patient_external_id": "MRN-3"},
                 {"patient_external_id": "nobody"}):
        refused = await client.post("/api/visits", json=body, headers=visits_only)
        assert refused.status == 403, body  # the same answer whether she exists or not
    assert await count_rows(client, "visits") == 0
    made = await client.post("/api/visits", json={"patient_name": "Walk-in"}, headers=visits_only)
    assert made.status == 201
