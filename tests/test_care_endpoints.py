"""A patient's plan link and what her home page sends: the link moves into the plan cookie,
her program and questionnaires come as JSON, a logged session is stored once, answers are
scored once; every bad input is refused with its field named and nothing stored, and a
refused link opens nothing."""

from __future__ import annotations

import time

import pytest

from server.care.outcomes import attach
from server.care.patient_input import PatientRequest, PlanRequest
from server.keys import CARE, DB, VISITS
from server.visits.program import assign
from server.visits.visit_input import VisitRequest
from tests.helpers import count_rows

pytestmark = pytest.mark.both_engines


async def _patient_plan(client, name="Maya Lopez"):
    care = client.server.app[CARE]
    patient = await care.create_patient(PatientRequest(name, None, None, False, None, False,
                                                       "en", None), actor="test")
    plan = await care.create_plan(patient, PlanRequest("pelvic-girdle-pain", "", None, 8, None),
                                  actor="test")
    return patient, plan


async def _open(client, plan):
    url = await client.server.app[CARE].plan_link(plan)
    response = await client.get(url.split("8080", 1)[1], allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == f"/care/{plan.id}"
    cookie = response.cookies["visitroom_plan"]
    assert cookie["httponly"] and cookie["path"] == f"/care/{plan.id}"
    return response


async def _assignment(client, patient, plan):
    app = client.server.app
    visit = await app[VISITS].create(VisitRequest("", None, None, None, 45, "follow-up", 2,
                                                  patient_id=patient.id), actor="test")
    assert visit.plan_id == plan.id
    values = {"exercise": "glute-bridge", "sets": 2, "reps": 10, "hold_seconds": 0,
              "per_day": 1, "per_week": 0, "note": ""}
    return await assign(app[DB], visit=visit, participant_id=visit.participant("patient").id,
                        values=values, actor="test")


def _session(assignment_id, key="k" * 12, pain=3):
    return {"client_key": key, "done_at": int(time.time()) - 60, "effort": 4,
            "entries": [{"assignment_id": assignment_id, "status": "done", "pain": pain}]}


async def test_her_link_opens_her_plan_and_the_page_logs_a_session_once(client):
    patient, plan = await _patient_plan(client)
    item = await _assignment(client, patient, plan)
    await _open(client, plan)
    state = await (await client.get(f"/care/{plan.id}/state.json")).json()
    assert [(a["id"], a["name"]) for a in state["program"]] == [(item.id, "Glute bridge")]
    body = _session(item.id, pain=8)
    first = await client.post(f"/care/{plan.id}/log", json=body)
    assert first.status == 201, await first.text()
    again = await client.post(f"/care/{plan.id}/log", json=body)
    assert again.status == 200 and (await again.json())["repeat"] is True
    assert (await first.json())["flags"][0]["reason"] == "high"
    assert (await count_rows(client, "log_sessions"), await count_rows(client, "pain_flags")) \
        == (1, 1)


@pytest.mark.parametrize("change, field", [
    ({"client_key": "short"}, "client_key"),
    ({"done_at": "yesterday"}, "done_at"),
    ({"effort": 11}, "effort"),
    ({"entries": []}, "entries"),
    ({"colour": "red"}, "colour"),
])
async def test_a_bad_session_is_refused_naming_the_field(client, change, field):
    patient, plan = await _patient_plan(client)
    item = await _assignment(client, patient, plan)
    await _open(client, plan)
    response = await client.post(f"/care/{plan.id}/log", json={**_session(item.id), **change})
    assert response.status == 422, await response.text()
    assert (await response.json())["error"]["message"].startswith(field)
    assert await count_rows(client, "log_sessions") == 0


async def test_her_questionnaires_are_offered_and_a_fill_is_scored_once(client):
    _patient, plan = await _patient_plan(client)
    await attach(client.server.app[DB], plan, "nprs", 2, actor="test", now=int(time.time()))
    await _open(client, plan)
    listed = (await (await client.get(f"/care/{plan.id}/questionnaires.json")).json())["pending"]
    assert [(p["instrument"], p["round"], p["items"][0]["key"]) for p in listed] \
        == [("nprs", 0, "pain")]
    fill = {"due_at": listed[0]["due_at"], "answers": {"items": {"pain": 4}}}
    bad = await client.post(f"/care/{plan.id}/questionnaires/nprs",
                            json={**fill, "answers": {"items": {"pain": 11}}})
    assert bad.status == 422 and "items.pain" in (await bad.json())["error"]["message"]
    early = await client.post(f"/care/{plan.id}/questionnaires/nprs",
                              json={**fill, "due_at": fill["due_at"] + 2 * 7 * 86400})
    assert early.status == 422 and await count_rows(client, "outcome_responses") == 0
    made = await client.post(f"/care/{plan.id}/questionnaires/nprs", json=fill)
    assert made.status == 201 and (await made.json())["score"] == 4
    again = await client.post(f"/care/{plan.id}/questionnaires/nprs", json=fill)
    assert again.status == 422 and "already" in (await again.json())["error"]["message"]
    assert await count_rows(client, "outcome_responses") == 1
    assert (await (await client.get(f"/care/{plan.id}/questionnaires.json")).json())[
        "pending"] == []


async def test_the_reminder_time_is_hers_to_set(client):
    _patient, plan = await _patient_plan(client)
    await _open(client, plan)
    for minute, status in ((450, 200), (None, 200), (1440, 422), (-1, 422), (True, 422)):
        response = await client.post(f"/care/{plan.id}/reminder", json={"minute": minute})
        assert response.status == status, (minute, await response.text())
    assert (await (await client.get(f"/care/{plan.id}/state.json")).json())[
        "reminder_minute"] is None


async def test_a_page_of_another_site_cannot_post_with_her_cookie(client):
    patient, plan = await _patient_plan(client)
    item = await _assignment(client, patient, plan)
    await _open(client, plan)
    response = await client.post(f"/care/{plan.id}/log", json=_session(item.id),
                                 headers={"Origin": "https://evil.example"})
    assert response.status == 403
    assert await count_rows(client, "log_sessions") == 0


async def test_a_refused_plan_link_opens_nothing(client):
    care = client.server.app[CARE]
    _patient, plan = await _patient_plan(client)
    _other_patient, other = await _patient_plan(client, "Ana Ruiz")
    # Another patient's link on this plan's address.
    other_url = await care.plan_link(other)
    token = other_url.split("token=", 1)[1]
    response = await client.get(f"/care/{plan.id}?token={token}", allow_redirects=False)
    assert response.status == 403
    # No cookie: 401 page and JSON.
    assert (await client.get(f"/care/{plan.id}")).status == 401
    assert (await client.get(f"/care/{plan.id}/state.json")).status == 401
    # Revoked: the cookie she holds stops at once.
    await _open(client, plan)
    assert (await client.get(f"/care/{plan.id}/state.json")).status == 200
    await care.revoke_plan_link(plan, actor="test")
    assert (await client.get(f"/care/{plan.id}/state.json")).status == 403
    # A new link works; closing the plan stops it.
    await care.reissue_plan_link(plan, actor="test")
    await _open(client, plan)
    assert (await client.get(f"/care/{plan.id}/state.json")).status == 200
    await care.close_plan(plan, actor="test")
    assert (await client.get(f"/care/{plan.id}/state.json")).status == 403
    assert (await client.get("/care/pl_nonsense")).status == 404
    assert (await client.get("/healthz")).status == 200


async def test_the_waiting_room_offers_her_pending_questionnaires_through_her_visit_link(client):
    from tests.helpers import link_of

    patient, plan = await _patient_plan(client)
    await attach(client.server.app[DB], plan, "nprs", 0, actor="test", now=int(time.time()))
    visit = await client.server.app[VISITS].create(VisitRequest(
        "", None, None, None, 45, "follow-up", 2, patient_id=patient.id), actor="test")
    base = f"/visits/{visit.id}/questionnaires"
    assert (await client.get(f"{base}.json")).status == 401  # no visit cookie yet
    assert (await client.get(await link_of(client, visit), allow_redirects=False)).status == 303
    listed = (await (await client.get(f"{base}.json")).json())["pending"]
    assert [p["instrument"] for p in listed] == ["nprs"]
    made = await client.post(f"{base}/nprs", json={"due_at": listed[0]["due_at"],
                                                   "answers": {"items": {"pain": 3}}})
    assert made.status == 201, await made.text()
    bad = await client.post(f"{base}/nprs", json={"due_at": listed[0]["due_at"],
                                                  "answers": {"items": {"pain": 3}}},
                            headers={"Origin": "https://evil.example"})
    assert bad.status == 403
    assert await count_rows(client, "outcome_responses") == 1
    # A visit made without a plan has none; a guest's link opens none of hers.
    other = await client.server.app[VISITS].create(VisitRequest(
        "Ana", None, None, None, 45, "follow-up", 2), actor="test")
    await client.get(await link_of(client, other), allow_redirects=False)
    assert (await client.get(f"/visits/{other.id}/questionnaires.json")).status == 404
    guest_visit = await client.server.app[VISITS].add_guest(visit, "Iris", actor="test")
    guest = next(p for p in guest_visit.participants if p.role == "guest")
    guest_url = await client.server.app[VISITS].link(guest)
    await client.get("/" + guest_url.split("/", 3)[3], allow_redirects=False)
    assert (await client.get(f"{base}.json")).status == 404


async def test_the_call_panel_shows_the_therapist_her_patients_care_and_nobody_else(client):
    from server.care.exercise_log import log_session
    from server.keys import CONFIG
    from tests.helpers import link_of

    patient, plan = await _patient_plan(client)
    item = await _assignment(client, patient, plan)
    app = client.server.app
    await attach(app[DB], plan, "nprs", 0, actor="test", now=int(time.time()))
    due = plan.starts_at
    from server.care.outcomes import submit
    await submit(app[DB], plan, "nprs", {"items": {"pain": 6}}, due_at=due, now=int(time.time()))
    await log_session(app[DB], plan.id, _session(item.id, pain=9), tz=app[CONFIG].tz,
                      now=int(time.time()))
    visit = await app[VISITS].get(item.visit_id)
    # The patient's visit link: not hers to see.
    await client.get(await link_of(client, visit), allow_redirects=False)
    assert (await client.get(f"/visits/{visit.id}/care.json")).status == 403
    # The therapist's link (a visit booked without an account: bound to this browser).
    client.session.cookie_jar.clear()
    await client.get(await link_of(client, visit, "therapist"), allow_redirects=False)
    care = await (await client.get(f"/visits/{visit.id}/care.json")).json()
    assert care["plan"] == plan.id
    assert [(o["instrument"], [f["score"] for f in o["fills"]], o["mic"])
            for o in care["outcomes"]] == [("nprs", [6], 2)]
    assert [(f["pain"], f["reason"]) for f in care["flags"]] == [(9, "high")]
    assert [a["days"] for a in care["adherence"]] == [7, 28]
    # A visit without a plan has nothing to show.
    other = await app[VISITS].create(VisitRequest("Ana", None, None, None, 45, "follow-up", 2),
                                     actor="test")
    client.session.cookie_jar.clear()
    await client.get(await link_of(client, other, "therapist"), allow_redirects=False)
    assert await (await client.get(f"/visits/{other.id}/care.json")).json() == {"plan": None}


async def test_a_guest_of_a_plan_visit_sees_no_program_of_hers(client):
    patient, plan = await _patient_plan(client)
    item = await _assignment(client, patient, plan)
    app = client.server.app
    visit = await app[VISITS].add_guest(await app[VISITS].get(item.visit_id), "Iris",
                                        actor="test")
    guest = next(p for p in visit.participants if p.role == "guest")
    url = await app[VISITS].link(guest)
    await client.get("/" + url.split("/", 3)[3], allow_redirects=False)
    listed = await client.get(f"/visits/{visit.id}/assignments")
    assert listed.status == 200 and (await listed.json())["assignments"] == []
    page = await client.get(f"/visits/{visit.id}/program")
    assert page.status == 200 and "Glute bridge" not in await page.text()


async def test_an_assignment_id_past_64_bits_or_a_flood_of_sessions_is_refused(client):
    from server.views.care_api import MAX_SESSIONS_A_DAY

    patient, plan = await _patient_plan(client)
    item = await _assignment(client, patient, plan)
    await _open(client, plan)
    huge = _session(item.id)
    huge["entries"][0]["assignment_id"] = 2 ** 70
    refused = await client.post(f"/care/{plan.id}/log", json=huge)
    assert refused.status == 422
    assert (await refused.json())["error"]["message"].startswith("entries[0].assignment_id")
    # Counted by when they came (a back-dated log counts too): the cap holds.
    for n in range(MAX_SESSIONS_A_DAY):
        body = _session(item.id, key=f"key-{n:08d}")
        assert (await client.post(f"/care/{plan.id}/log", json=body)).status == 201
    over = await client.post(f"/care/{plan.id}/log", json=_session(item.id, key="one-too-many"))
    assert over.status == 429
    assert await count_rows(client, "log_sessions") == MAX_SESSIONS_A_DAY


async def test_the_offline_worker_is_served_uncached_from_its_scope(client):
    response = await client.get("/care/offline.js")
    assert response.status == 200
    assert response.content_type == "text/javascript"
    assert response.headers["Cache-Control"] == "no-cache"
    body = await response.text()
    # It keeps GETs only, and never her messages or a link with its token.
    assert 'request.method !== "GET"' in body and "messages" not in body.split("const KEPT")[1].split("\n")[0]
    assert 'has("token")' in body


async def test_her_page_joins_a_visit_through_its_own_checked_redirect(client):
    patient, plan = await _patient_plan(client)
    app = client.server.app
    visit = await app[VISITS].create(VisitRequest("", None, None, None, 45, "follow-up", 2,
                                                  patient_id=patient.id), actor="test")
    join = f"/care/{plan.id}/visits/{visit.id}/join"
    assert (await client.get(join, allow_redirects=False)).status == 401  # no plan cookie
    await _open(client, plan)
    page = await (await client.get(f"/care/{plan.id}")).text()
    assert f'href="{join}"' in page and "/join/v_" not in page  # no visit link in the page
    home = await client.get(f"/care/{plan.id}")
    assert int(home.headers["X-Visitroom-Keep-Until"]) > time.time()
    answer = await client.get(join, allow_redirects=False)
    assert answer.status == 303
    assert answer.headers["Location"] == await app[VISITS].link(visit.participant("patient"))
    # Another patient's visit, or one that is not a visit, is not hers to join.
    other_patient, _other_plan = await _patient_plan(client, "Ana Ruiz")
    other = await app[VISITS].create(VisitRequest("", None, None, None, 45, "follow-up", 2,
                                                  patient_id=other_patient.id), actor="test")
    refused = await client.get(f"/care/{plan.id}/visits/{other.id}/join", allow_redirects=False)
    assert refused.status == 404 and "Traceback" not in await refused.text()
    assert (await client.get(f"/care/{plan.id}/visits/v_nothing_here_0/join")).status == 404
