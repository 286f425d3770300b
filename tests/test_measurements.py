"""Measurements taken on the patient's device: the call's therapist saves a result to her
record and lists the visit's; every refusal stores nothing and leaves the server answering;
her admin page shows her results with a trend; a home session's entry carries repetitions
and a camera's measurement, stored with a home result. Through the real app, on SQLite and
on PostgreSQL."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.care.exercise_log import LogError, log_session, parse_session
from server.care.patient_input import PatientRequest, PlanRequest
from server.keys import CARE, CONFIG, DB, VISITS
from server.storage import measurements as store
from server.storage.events import events_for_visit
from server.storage.visits import Visit
from server.views.measurements import MAX_PER_VISIT
from server.visits.program import assign
from server.visits.visit_input import VisitRequest
from tests.helpers import count_rows, link_of, make_visit

pytestmark = pytest.mark.both_engines

GOOD = {"measurement": "knee_flexion", "side": "left", "peak": 85.5, "reps": 12,
        "seconds": 40.2, "exercise": "supported-squat",
        "trace": [[0, 10], [0.5, 42.25], [1.0, 85.5]]}
ORIGIN = {"Origin": "http://127.0.0.1:8080"}


async def _patient_plan(client: TestClient) -> tuple[Any, Any]:
    care = client.server.app[CARE]
    patient = await care.create_patient(PatientRequest("Maya Lopez", None, None, False, None,
                                                       False, "en", None), actor="test")
    plan = await care.create_plan(patient, PlanRequest("pelvic-girdle-pain", "", None, 8, None),
                                  actor="test")
    return patient, plan


async def _record_visit(client: TestClient) -> tuple[Visit, Any]:
    patient, plan = await _patient_plan(client)
    visit = await client.server.app[VISITS].create(
        VisitRequest("", None, None, None, 45, "follow-up", 2, patient_id=patient.id),
        actor="test")
    assert visit.patient_id == patient.id and visit.plan_id == plan.id
    return visit, plan


async def _holder(aiohttp_client: Any, client: TestClient, visit: Visit, role: str) -> TestClient:
    """A client of its own holding the visit cookie of `role`."""
    holder = await aiohttp_client(client.server)
    assert (await holder.get(await link_of(client, visit, role))).status == 200
    return holder


@pytest.fixture
async def call(aiohttp_client, client):
    """A visit of her plan with the therapist's client holding her visit cookie."""
    visit, plan = await _record_visit(client)
    return visit, plan, await _holder(aiohttp_client, client, visit, "therapist")


def _url(visit: Visit) -> str:
    return f"/visits/{visit.id}/measurements"


async def _saves(therapist: TestClient, visit: Visit, body: dict[str, Any] | None = None) -> Any:
    response = await therapist.post(_url(visit), json=body or GOOD, headers=ORIGIN)
    assert response.status == 201, await response.text()
    return await response.json()


async def test_the_therapist_saves_a_result_and_lists_the_visits_newest_first(call):
    visit, plan, therapist = call
    saved = await _saves(therapist, visit)
    assert set(saved) == {"id", "measurement", "side", "peak", "reps", "seconds", "exercise",
                          "created_at"}
    assert (saved["measurement"], saved["side"], saved["peak"], saved["reps"], saved["seconds"],
            saved["exercise"]) == ("knee_flexion", "left", 85.5, 12, 40.2, "supported-squat")
    assert abs(saved["created_at"] - time.time()) < 60
    second = await _saves(therapist, visit, {"measurement": "trunk_side_bend", "side": None,
                                             "peak": 22, "reps": 0, "seconds": 10})
    # A sided measurement the camera took on the side facing it: no side is claimed.
    third = await _saves(therapist, visit, {"measurement": "knee_flexion", "side": None,
                                            "peak": 40, "reps": 3, "seconds": 12})
    assert third["side"] is None
    listed = await (await therapist.get(_url(visit))).json()
    assert [m["id"] for m in listed["measurements"]] == [third["id"], second["id"], saved["id"]]
    assert listed["measurements"][2] == saved
    db = therapist.server.app[DB]
    row = await db.fetchone("SELECT patient_id, plan_id, visit_id, trace, source, created_by"
                            " FROM measurements WHERE id = ?", (saved["id"],))
    therapist_seat = visit.participant("therapist")
    assert therapist_seat is not None
    assert (row[0], row[1], row[2], json.loads(row[3]), row[4], row[5]) == (
        visit.patient_id, plan.id, visit.id, GOOD["trace"], "visit",
        f"participant:{therapist_seat.id}")
    events = [e for e in await events_for_visit(db, visit.id)
              if e.action == "measurement.recorded"]
    # Ids only: the row, never what was measured or its value.
    assert sorted(e.detail["measurement"] for e in events) == [saved["id"], second["id"], third["id"]]
    assert all(set(e.detail) == {"measurement"} for e in events)


def _with(**changes: Any) -> dict[str, Any]:
    body = dict(GOOD)
    for name, value in changes.items():
        if value is ...:
            body.pop(name)
        else:
            body[name] = value
    return body


@pytest.mark.parametrize("body, field", [
    (_with(measurement="elbow_wiggle"), "measurement"),
    (_with(measurement=7), "measurement"),
    (_with(side="middle"), "side"),
    ({"measurement": "trunk_side_bend", "side": "left", "peak": 20, "reps": 1, "seconds": 5},
     "side"),
    (_with(peak=160.5), "peak"),
    (_with(peak=-1), "peak"),
    (_with(peak="85"), "peak"),
    (_with(peak=None), "peak"),
    (_with(peak=...), "peak"),
    (_with(reps=1001), "reps"),
    (_with(reps=-1), "reps"),
    (_with(reps=True), "reps"),
    (_with(reps=2.5), "reps"),
    (_with(seconds=3601), "seconds"),
    (_with(seconds="ten"), "seconds"),
    (_with(trace=[[n * 0.1, 20] for n in range(121)]), "trace"),
    (_with(trace=[[1, 20], [0.5, 30]]), "trace[1]"),
    (_with(trace=[[0, 20], [3601, 30]]), "trace[1]"),
    (_with(trace=[[0, 20], [1, 161]]), "trace[1]"),
    (_with(trace=[[0, 20, 3]]), "trace"),
    (_with(trace="0,20"), "trace"),
    (_with(exercise="glute-bridge"), "exercise"),
    (_with(exercise="moonwalk"), "exercise"),
    (_with(colour="red"), "colour"),
])
async def test_a_bad_result_is_422_naming_its_field_and_stores_nothing(call, body, field):
    visit, _plan, therapist = call
    response = await therapist.post(_url(visit), json=body, headers=ORIGIN)
    assert response.status == 422, await response.text()
    message = (await response.json())["error"]["message"]
    assert message.startswith(f"{field} ") or message == f"Unknown field: {field}", message
    assert await count_rows(therapist, "measurements") == 0
    await _saves(therapist, visit)  # the server still answers


@pytest.mark.parametrize("raw", [
    '{"measurement": "knee_flexion", "side": "left", "peak": NaN, "reps": 1, "seconds": 1}',
    '{"measurement": "knee_flexion", "side": "left", "peak": Infinity, "reps": 1, "seconds": 1}',
    '{"measurement": "knee_flexion", "side": "left", "peak": 1e999, "reps": 1, "seconds": 1}',
    '{"measurement": "knee_flexion", "side": "left", "peak": 80, "reps": 1, "seconds": -Infinity}',
    '[1, 2]', 'not json',
])
async def test_numbers_json_cannot_hold_and_bodies_that_are_not_one_are_refused(call, raw):
    visit, _plan, therapist = call
    response = await therapist.post(_url(visit), data=raw, headers={
        **ORIGIN, "Content-Type": "application/json"})
    assert response.status in (400, 422), await response.text()
    assert (await response.json())["error"]["code"] in ("malformed_json", "invalid_field")
    assert await count_rows(therapist, "measurements") == 0
    await _saves(therapist, visit)


async def test_only_the_therapist_of_the_call_saves_or_reads_from_this_site(
        aiohttp_client, client, call):
    visit, _plan, therapist = call
    visit = await client.server.app[VISITS].add_guest(visit, "Ana Ruiz", actor="test")
    guest_seat = next(p for p in visit.participants if p.role == "guest")
    patient = await _holder(aiohttp_client, client, visit, "patient")
    guest = await aiohttp_client(client.server)
    url = await client.server.app[VISITS].link(guest_seat)
    assert (await guest.get("/" + url.split("/", 3)[3])).status == 200
    for other in (patient, guest):
        assert (await other.post(_url(visit), json=GOOD, headers=ORIGIN)).status == 403
        assert (await other.get(_url(visit))).status == 403
    no_cookie = await aiohttp_client(client.server)
    assert (await no_cookie.post(_url(visit), json=GOOD, headers=ORIGIN)).status == 401
    assert (await no_cookie.get(_url(visit))).status == 401
    foreign = await therapist.post(_url(visit), json=GOOD,
                                   headers={"Origin": "https://evil.example"})
    assert foreign.status == 403 and (await foreign.json())["error"]["code"] == "bad_origin"
    other_visit, _ = await _record_visit(client)
    assert (await therapist.post(_url(other_visit), json=GOOD, headers=ORIGIN)).status in (401, 403)
    assert await count_rows(therapist, "measurements") == 0
    await _saves(therapist, visit)


async def test_a_visit_without_a_patient_record_keeps_nothing(aiohttp_client, client):
    visit = await make_visit(client)
    assert visit.patient_id is None
    therapist = await _holder(aiohttp_client, client, visit, "therapist")
    response = await therapist.post(_url(visit), json=GOOD, headers=ORIGIN)
    assert response.status == 409
    error = (await response.json())["error"]
    assert error["code"] == "no_patient_record" and "patient record" in error["message"]
    assert await count_rows(therapist, "measurements") == 0


async def test_a_visit_keeps_at_most_its_share(call):
    visit, plan, therapist = call
    assert visit.patient_id is not None
    async with therapist.server.app[DB].transaction() as conn:
        await store.insert_measurements(conn, [store.NewMeasurement(
            visit.patient_id, plan.id, visit.id, "knee_flexion", None, "left", 80.0, 5, 10.0,
            None, "visit")] * (MAX_PER_VISIT - 1), created_at=int(time.time()), created_by="test")
    await _saves(therapist, visit)
    response = await therapist.post(_url(visit), json=GOOD, headers=ORIGIN)
    assert response.status == 409 and (await response.json())["error"]["code"] == "too_many"
    assert await count_rows(therapist, "measurements") == MAX_PER_VISIT
    assert len((await (await therapist.get(_url(visit))).json())["measurements"]) == MAX_PER_VISIT


async def test_her_admin_page_lists_her_results_with_a_trend(admin, aiohttp_client):
    visit, _plan = await _record_visit(admin)
    page_url = f"/admin/patients/{visit.patient_id}"
    page = await (await admin.get(page_url)).text()
    assert "Measurements" in page and "No measurements have been saved for her yet." in page
    therapist = await _holder(aiohttp_client, admin, visit, "therapist")
    await _saves(therapist, visit, _with(peak=70, trace=...))
    await _saves(therapist, visit, _with(peak=85.5, trace=...))
    await _saves(therapist, visit, _with(side="right", peak=90, trace=...))
    page = await (await admin.get(page_url)).text()
    assert "No measurements have been saved" not in page
    assert "Knee bend (flexion)" in page and "estimated" in page
    assert "86°" in page and "85.5°" not in page and "70°" in page and "90°" in page
    assert 'data-testid="chart-measure-knee_flexion-left"' in page
    assert "chart-measure-knee_flexion-right" not in page  # one result: no trend
    assert page.count("in a visit") >= 3


# The exercise log: repetitions and a camera's measurement on an entry.

async def _squat(client: TestClient) -> tuple[Any, Any, int]:
    """Her plan with supported squats (measured as knee flexion) assigned."""
    visit, plan = await _record_visit(client)
    patient_seat = visit.participant("patient")
    assert patient_seat is not None
    item = await assign(client.server.app[DB], visit=visit, participant_id=patient_seat.id,
                        values={"exercise": "supported-squat", "sets": 2, "reps": 10,
                                "hold_seconds": 0, "per_day": 1, "per_week": 0, "note": ""},
                        actor="test")
    return visit, plan, item.id


def _session(assignment_id: int, **entry: Any) -> dict[str, Any]:
    return {"client_key": f"key-{time.monotonic_ns()}", "done_at": int(time.time()) - 60,
            "entries": [{"assignment_id": assignment_id, "status": "done", "pain": 2, **entry}]}


async def test_a_logged_entry_keeps_its_count_and_the_cameras_best_as_a_home_result(admin):
    visit, plan, item = await _squat(admin)
    app = admin.server.app
    await log_session(app[DB], plan.id, _session(item, reps=12, measurement="knee_flexion",
                                                 measured_peak=85),
                      tz=app[CONFIG].tz, now=int(time.time()))
    await log_session(app[DB], plan.id, _session(item, reps=9), tz=app[CONFIG].tz,
                      now=int(time.time()))
    rows = await app[DB].fetchall("SELECT reps, measurement, measured_peak FROM log_entries"
                                  " ORDER BY reps")
    assert [tuple(r) for r in rows] == [(9, None, None), (12, "knee_flexion", 85.0)]
    home = await store.of_patient(app[DB], visit.patient_id, 10)
    assert [(m.source, m.measurement, m.peak, m.reps, m.seconds, m.side, m.plan_id,
             m.visit_id, m.exercise) for m in home] == [
        ("home", "knee_flexion", 85.0, 12, 0.0, None, plan.id, None, "supported-squat")]
    page = await (await admin.get(f"/admin/patients/{visit.patient_id}")).text()
    assert "12 repetitions (counted by camera), largest 85° estimated" in page
    assert "9 repetitions</li>" in page
    assert "at home" in page


@pytest.mark.parametrize("entry, field", [
    ({"reps": -1}, "entries[0].reps"),
    ({"reps": 1001}, "entries[0].reps"),
    ({"reps": "12"}, "entries[0].reps"),
    ({"reps": True}, "entries[0].reps"),
    ({"reps": 2.5}, "entries[0].reps"),
    ({"measurement": "knee_flexion"}, "entries[0].measured_peak"),
    ({"measured_peak": 80}, "entries[0].measurement"),
    ({"measurement": "elbow_wiggle", "measured_peak": 80}, "entries[0].measurement"),
    ({"measurement": 3, "measured_peak": 80}, "entries[0].measurement"),
    ({"measurement": "knee_flexion", "measured_peak": 161}, "entries[0].measured_peak"),
    ({"measurement": "knee_flexion", "measured_peak": float("nan")}, "entries[0].measured_peak"),
    ({"measurement": "knee_flexion", "measured_peak": float("inf")}, "entries[0].measured_peak"),
    ({"measurement": "knee_flexion", "measured_peak": "80"}, "entries[0].measured_peak"),
    ({"status": "skipped", "pain": None, "reps": 3}, "entries[0].reps"),
    ({"status": "skipped", "pain": None, "measurement": "knee_flexion", "measured_peak": 80},
     "entries[0].measurement"),
])
async def test_a_bad_count_is_refused_naming_its_field(client, entry, field):
    _visit, plan, item = await _squat(client)
    app = client.server.app
    raw = _session(item, **entry)
    if raw["entries"][0].get("pain", 0) is None:
        del raw["entries"][0]["pain"]
    with pytest.raises(LogError) as refused:
        parse_session(raw, now=int(time.time()))
    assert refused.value.field == field
    assert refused.value.text()  # readable words, as her page shows them
    with pytest.raises(LogError):
        await log_session(app[DB], plan.id, raw, tz=app[CONFIG].tz, now=int(time.time()))
    assert await count_rows(client, "log_sessions") == 0
    assert await count_rows(client, "measurements") == 0


async def test_a_measurement_of_another_exercise_is_refused_and_nothing_is_stored(client):
    _visit, plan, item = await _squat(client)
    app = client.server.app
    with pytest.raises(LogError) as refused:
        await log_session(app[DB], plan.id, _session(item, reps=5, measurement="heel_raise",
                                                     measured_peak=10),
                          tz=app[CONFIG].tz, now=int(time.time()))
    assert refused.value.field == "entries[0].measurement"
    for table in ("log_sessions", "log_entries", "measurements"):
        assert await count_rows(client, table) == 0


async def test_her_page_logs_a_counted_session_through_the_plan_link(client):
    _visit, plan, item = await _squat(client)
    url = await client.server.app[CARE].plan_link(plan)
    assert (await client.get(url.split("8080", 1)[1], allow_redirects=False)).status == 303
    response = await client.post(f"/care/{plan.id}/log", headers=ORIGIN, json=_session(
        item, reps=11, measurement="knee_flexion", measured_peak=92.5))
    assert response.status == 201, await response.text()
    refused = await client.post(f"/care/{plan.id}/log", headers=ORIGIN, json=_session(
        item, reps=11, measurement="knee_flexion", measured_peak=200))
    assert refused.status == 422
    assert "measured_peak" in json.dumps(await refused.json())
    assert await count_rows(client, "measurements") == 1
