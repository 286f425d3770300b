"""Staff pages for patients and plans of care: the list and new-patient form (admins), her
page for admins and the plan's therapist, every form on it (start a plan, the plan link,
close, questionnaires, pain flags, review minutes), the monitoring CSV, the dashboard's
pain flags and the trend chart. Through the real app, on SQLite and on PostgreSQL.

The seeding helpers at the top are shared with tests/security/test_patient_privacy.py.
Longer than 400 lines: every test seeds one patient's care through those helpers (the
forms and services the clinic uses), and splitting the forms' tests from the page's would
split them too.
"""

from __future__ import annotations

import re
import time
from datetime import date, timedelta
from typing import Any
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient

from server.care import outcomes
from server.care.exercise_log import log_session
from server.care.trend_chart import line_chart
from server.keys import CARE, CONFIG, DB, VISITS
from server.storage.audit_events import by_participant
from server.storage.plans import WEEK, Plan, plans_of_patient
from server.storage.visits import Visit
from server.visits.program import assign
from tests.helpers import add_therapist, count_rows, login, make_visit, page_csrf, post_form

pytestmark = pytest.mark.both_engines

CONDITION = "pelvic-girdle-pain"
DAY = 86400
EXERCISE = "pelvic-floor-slow-holds"
THERAPIST_PASSWORD = "therapist-pass-1"


# Seeding, through the forms and services the clinic uses.

async def therapist_client(aiohttp_client: Any, admin: TestClient, name: str,
                           email: str) -> TestClient:
    """A therapist account made by the admin, signed in on a client of its own."""
    assert (await add_therapist(admin, name, email, THERAPIST_PASSWORD)).status == 201
    client = await aiohttp_client(admin.server)
    await login(client, email, THERAPIST_PASSWORD)
    return client


async def new_patient(admin: TestClient, name: str = "Maya Lopez", **fields: str) -> str:
    """Create a patient through the admin form; her id."""
    response = await post_form(admin, "/admin/patients", "/admin/patients",
                               {"name": name, **fields})
    assert response.status == 303, await response.text()
    match = re.fullmatch(r"/admin/patients/(pt_[A-Za-z0-9_-]{16})\?done=created",
                         response.headers["Location"])
    assert match
    return match.group(1)


async def new_plan(client: TestClient, patient_id: str, **fields: str) -> Plan:
    """Start a plan through her page's form; the plan (her newest)."""
    page = f"/admin/patients/{patient_id}"
    db = client.server.app[DB]
    before = {p.id for p in await plans_of_patient(db, patient_id)}
    response = await post_form(client, page, f"{page}/plans",
                               {"condition": CONDITION, "weeks": "8", **fields})
    assert response.status == 303, await response.text()
    made = [p for p in await plans_of_patient(db, patient_id) if p.id not in before]
    assert len(made) == 1
    return made[0]


async def plan_visit(client: TestClient, patient_id: str, therapist_email: str) -> Visit:
    """A visit of her active plan booked with the therapist's account."""
    return await make_visit(client, patient_id=patient_id, therapist_email=therapist_email)


async def assign_exercise(client: TestClient, visit: Visit, exercise: str = EXERCISE) -> int:
    """Assign an exercise in the visit as her therapist's link does; the assignment id."""
    therapist, patient = visit.participant("therapist"), visit.participant("patient")
    assert therapist and patient
    found = await assign(client.server.app[DB], visit=visit, participant_id=patient.id,
                         values={"exercise": exercise, "sets": 2, "reps": 10,
                                 "hold_seconds": 5, "per_day": 1, "per_week": 0, "note": ""},
                         actor=by_participant(therapist.id))
    return found.id


async def log_pain(client: TestClient, plan: Plan, assignment_id: int, pain: int) -> None:
    """A session she logged with this pain (a pain of 7 or more raises a flag)."""
    app = client.server.app
    await log_session(app[DB], plan.id, {
        "client_key": f"key-{time.monotonic_ns()}", "done_at": int(time.time()) - 60,
        "entries": [{"assignment_id": assignment_id, "status": "done", "pain": pain}]},
        tz=app[CONFIG].tz, now=int(time.time()))


async def plan_link(client: TestClient, plan: Plan) -> str:
    """Her plan link as a path + query."""
    url = await client.server.app[CARE].plan_link(plan)
    assert url is not None
    return "/" + url.split("/", 3)[3]


async def care_of(aiohttp_client: Any, admin: TestClient) -> dict[str, Any]:
    """A patient whose plan Rae leads, with a visit, an exercise and a session logged."""
    rae = await therapist_client(aiohttp_client, admin, "Rae Kim", "rae@clinic.test")
    patient_id = await new_patient(admin, "Maya Lopez", external_id="MRN-1",
                                   email="maya@example.test")
    plan = await new_plan(admin, patient_id, therapist_email="rae@clinic.test",
                          goals="Lift her baby")
    visit = await plan_visit(admin, patient_id, "rae@clinic.test")
    assignment = await assign_exercise(admin, visit)
    await log_pain(admin, plan, assignment, 3)
    return {"rae": rae, "patient_id": patient_id, "plan": plan, "visit": visit,
            "assignment": assignment, "page": f"/admin/patients/{patient_id}"}


# The list and the new-patient form.

async def test_admin_creates_a_patient_and_finds_her_by_name_external_id_and_email(admin):
    patient_id = await new_patient(admin, "Nora <b>Quinn</b>", external_id="MRN-77",
                                   email="nora@example.test", email_consent="true",
                                   birth_date="1990-02-03", language="es")
    await new_patient(admin, "Ida Berg")
    page = await (await admin.get(f"/admin/patients/{patient_id}?done=created")).text()
    assert "Nora &lt;b&gt;Quinn&lt;/b&gt;" in page and "<b>Quinn" not in page
    assert "The patient was created." in page and "reminders agreed" in page
    for query in ("nora", "MRN-77", "nora@example.test"):
        listing = await (await admin.get("/admin/patients", params={"q": query})).text()
        assert f"/admin/patients/{patient_id}" in listing and "Ida Berg" not in listing
    everyone = await (await admin.get("/admin/patients")).text()
    assert "Ida Berg" in everyone and "Quinn" in everyone


async def test_the_list_pages_with_a_cursor_and_refuses_one_it_did_not_give(admin):
    care = admin.server.app[CARE]
    from server.care.patient_input import parse_patient_request
    for n in range(51):
        await care.create_patient(parse_patient_request({"name": f"Patient {n:02d}"},
                                                        today=date.today()), actor="test")
    first = await (await admin.get("/admin/patients")).text()
    assert "Patient 49" in first and "Patient 50" not in first
    next_link = re.search(r'href="(/admin/patients\?[^"]+)" rel="next"', first)
    assert next_link
    second = await (await admin.get(next_link.group(1).replace("&amp;", "&"))).text()
    assert "Patient 50" in second and "Patient 49" not in second
    bad = await admin.get("/admin/patients?cursor=not-a-cursor")
    assert bad.status == 400 and "not one this server gave" in await bad.text()


@pytest.mark.parametrize(("fields", "field"), [
    ({"name": ""}, "name"),
    ({"name": "Tab\tName"}, "name"),
    ({"name": "Ann", "email": "not-an-email"}, "email"),
    ({"name": "Ann", "email_consent": "true"}, "email_consent"),
    ({"name": "Ann", "phone_consent": "true"}, "phone_consent"),
    ({"name": "Ann", "birth_date": "2999-01-01"}, "birth_date"),
    ({"name": "Ann", "birth_date": "2020-02-30"}, "birth_date"),
    ({"name": "Ann", "language": "not a tag"}, "language"),
    ({"name": "Ann", "email_consent": "maybe", "email": "a@b.test"}, "email_consent"),
])
async def test_a_bad_new_patient_is_a_422_naming_the_field_and_stores_nothing(admin, fields,
                                                                            field):
    response = await post_form(admin, "/admin/patients", "/admin/patients", fields)
    assert response.status == 422
    assert f'data-field="{field}"' in await response.text()
    assert await count_rows(admin, "patients") == 0
    assert (await admin.get("/admin/patients")).status == 200


async def test_an_external_id_another_patient_has_is_refused(admin):
    await new_patient(admin, "Ann", external_id="MRN-5")
    response = await post_form(admin, "/admin/patients", "/admin/patients",
                               {"name": "Bea", "external_id": "MRN-5"})
    assert response.status == 422 and 'data-field="external_id"' in await response.text()
    assert await count_rows(admin, "patients") == 1


async def test_a_therapist_may_neither_list_nor_create_patients(aiohttp_client, admin):
    rae = await therapist_client(aiohttp_client, admin, "Rae Kim", "rae@clinic.test")
    assert (await rae.get("/admin/patients")).status == 403
    token = await page_csrf(rae, "/admin")
    response = await rae.post("/admin/patients", data={"name": "Eve", "csrf_token": token},
                              allow_redirects=False)
    assert response.status == 403
    assert await count_rows(admin, "patients") == 0
    assert 'href="/admin/patients"' not in await (await rae.get("/admin")).text()
    assert 'href="/admin/patients"' in await (await admin.get("/admin")).text()


# Her page and the plan's forms.

async def test_the_admin_starts_a_plan_and_her_link_is_copied_reissued_revoked_and_closed(
        aiohttp_client, admin):
    patient_id = await new_patient(admin)
    plan = await new_plan(admin, patient_id, goals="Walk without pain")
    page = f"/admin/patients/{patient_id}"
    body = await (await admin.get(page)).text()
    first = await plan_link(admin, plan)
    assert first.replace("&", "&amp;") in body and "Walk without pain" in body
    patient = await aiohttp_client(admin.server)
    assert (await patient.get(first, allow_redirects=False)).status == 303
    assert (await post_form(admin, page, f"/admin/plans/{plan.id}/reissue")).status == 303
    second = await plan_link(admin, plan)
    assert second != first
    assert (await patient.get(f"/care/{plan.id}")).status == 403
    assert (await post_form(admin, page, f"/admin/plans/{plan.id}/revoke")).status == 303
    assert await admin.server.app[CARE].plan_link(plan) is None
    assert "Revoked: re-issue" in await (await admin.get(page)).text()
    assert (await post_form(admin, page, f"/admin/plans/{plan.id}/close")).status == 303
    closed = await admin.server.app[CARE].plan(plan.id)
    assert closed is not None and closed.status == "closed"
    again = await post_form(admin, page, f"/admin/plans/{plan.id}/close")
    assert again.status == 409 and "closed already" in await again.text()
    assert (await post_form(admin, page, f"/admin/plans/{plan.id}/reissue")).status == 409
    actions = {r[0] for r in await admin.server.app[DB].fetchall("SELECT action FROM events")}
    assert {"plan.created", "plan.link_reissued", "plan.link_revoked", "plan.closed",
            "patient.read"} <= actions


@pytest.mark.parametrize(("fields", "field"), [
    ({"condition": "no-such-condition"}, "condition"),
    ({"weeks": "0"}, "weeks"),
    ({"weeks": "53"}, "weeks"),
    ({"weeks": "many"}, "weeks"),
    ({"starts_on": "2026-13-01"}, "starts_on"),
    ({"starts_on": "2000-01-01"}, "starts_on"),
    ({"therapist_email": "nobody@clinic.test"}, "therapist_email"),
    ({"goals": "line\x00break"}, "goals"),
])
async def test_a_bad_plan_is_a_422_naming_the_field_and_stores_nothing(admin, fields, field):
    patient_id = await new_patient(admin)
    page = f"/admin/patients/{patient_id}"
    response = await post_form(admin, page, f"{page}/plans",
                               {"condition": CONDITION, "weeks": "8", **fields})
    assert response.status == 422
    body = await response.text()
    assert f'data-field="{field}"' in body and "This form was not saved" in body
    assert await count_rows(admin, "plans") == 0 and await count_rows(admin, "links") == 0


async def test_the_plans_therapist_sees_her_page_and_another_therapist_gets_404(
        aiohttp_client, admin):
    care = await care_of(aiohttp_client, admin)
    rae, page, plan = care["rae"], care["page"], care["plan"]
    body = await (await rae.get(page)).text()
    assert "Maya Lopez" in body and "Lift her baby" in body
    assert (await plan_link(rae, plan)).replace("&", "&amp;") in body
    assert "New visit for this patient" not in body  # creating visits is the admin's
    sam = await therapist_client(aiohttp_client, admin, "Sam Lee", "sam@clinic.test")
    response = await sam.get(page)
    assert response.status == 404 and "Maya" not in await response.text()
    assert (await sam.get(f"/admin/patients/pt_{'A' * 16}")).status == 404
    assert (await sam.get(f"/admin/plans/{plan.id}/monitoring.csv")).status == 404
    token = await page_csrf(sam, "/admin")
    for action in ("reissue", "revoke", "close", "questionnaires", "review-minutes"):
        response = await sam.post(f"/admin/plans/{plan.id}/{action}",
                                  data={"csrf_token": token, "instrument": "nprs",
                                        "every_weeks": "0", "minutes": "5"},
                                  allow_redirects=False)
        assert response.status == 404, action
    response = await sam.post(f"{page}/plans", data={"csrf_token": token,
                                                     "condition": CONDITION},
                              allow_redirects=False)
    assert response.status == 404
    assert await count_rows(admin, "plans") == 1
    assert await count_rows(admin, "plan_questionnaires") == 0
    assert await count_rows(admin, "review_minutes") == 0


async def test_the_plans_therapist_reissues_revokes_and_closes_her_plan(aiohttp_client, admin):
    care = await care_of(aiohttp_client, admin)
    rae, page, plan = care["rae"], care["page"], care["plan"]
    first = await plan_link(rae, plan)
    assert (await post_form(rae, page, f"/admin/plans/{plan.id}/reissue")).status == 303
    assert await plan_link(rae, plan) != first
    assert (await post_form(rae, page, f"/admin/plans/{plan.id}/revoke")).status == 303
    assert await rae.server.app[CARE].plan_link(plan) is None
    response = await post_form(rae, page, f"/admin/plans/{plan.id}/close")
    assert response.status == 303 and response.headers["Location"].endswith("done=plan_closed")
    assert "The plan was closed" in await (await rae.get(response.headers["Location"])).text()
    row = await admin.server.app[DB].fetchone(
        "SELECT actor FROM events WHERE action = 'plan.closed'")
    assert row[0] == f"user:{plan.therapist_id}"


async def test_an_unknown_plan_or_patient_is_a_readable_404(admin):
    missing_plan, missing_patient = f"pl_{'A' * 16}", f"pt_{'A' * 16}"
    response = await post_form(admin, "/admin", f"/admin/plans/{missing_plan}/close")
    assert response.status == 404 and "no plan of care with this id" in await response.text()
    response = await admin.get(f"/admin/patients/{missing_patient}")
    assert response.status == 404 and "no patient with this id" in await response.text()
    assert (await admin.get(f"/admin/plans/{missing_plan}/monitoring.csv")).status == 404
    assert (await admin.get("/admin/patients/not-an-id")).status == 404


async def test_a_therapist_who_led_an_older_plan_sees_but_cannot_change_the_new_one(
        aiohttp_client, admin):
    care = await care_of(aiohttp_client, admin)
    await therapist_client(aiohttp_client, admin, "Sam Lee", "sam@clinic.test")
    newer = await new_plan(admin, care["patient_id"], therapist_email="sam@clinic.test")
    rae = care["rae"]
    body = await (await rae.get(care["page"])).text()
    assert f'id="plan-link-{newer.id}"' not in body
    response = await post_form(rae, care["page"], f"/admin/plans/{newer.id}/close")
    assert response.status == 403
    assert (await admin.server.app[CARE].plan(newer.id)).status == "active"


async def test_a_therapist_starting_a_plan_leads_it_herself(aiohttp_client, admin):
    care = await care_of(aiohttp_client, admin)
    await therapist_client(aiohttp_client, admin, "Sam Lee", "sam@clinic.test")
    rae = care["rae"]
    plan = await new_plan(rae, care["patient_id"], therapist_email="sam@clinic.test")
    rae_id = (await admin.server.app[DB].fetchone(
        "SELECT id FROM users WHERE email = 'rae@clinic.test'"))[0]
    assert plan.therapist_id == rae_id


async def test_the_program_shows_with_its_history_by_role_and_name(aiohttp_client, admin):
    care = await care_of(aiohttp_client, admin)
    app = admin.server.app
    from server.visits.program import unassign
    therapist = care["visit"].participant("therapist")
    await unassign(app[DB], visit=care["visit"], assignment_id=care["assignment"],
                   actor=by_participant(therapist.id))
    await assign_exercise(admin, care["visit"], "the-knack")
    body = await (await care["rae"].get(care["page"])).text()
    history = body.split('data-testid="program-history"', 1)[1].split("</table>", 1)[0]
    assert "Rae Kim (the therapist" in history and "participant:" not in history
    assert history.count("<tr>") == 3  # the header, the stopped one and the live one
    program = body.split('data-testid="care-program"', 1)[1].split("</ul>", 1)[0]
    assert "the-knack" in program and EXERCISE not in program


async def test_a_pain_flag_shows_on_her_page_and_the_dashboard_until_acknowledged(
        aiohttp_client, admin):
    care = await care_of(aiohttp_client, admin)
    rae, plan = care["rae"], care["plan"]
    await log_pain(admin, plan, care["assignment"], 8)
    dashboard = await (await rae.get("/admin")).text()
    assert "Pain flags" in dashboard and f'href="{care["page"]}">Maya Lopez' in dashboard
    assert "Pain flags" in await (await admin.get("/admin")).text()
    page = await (await rae.get(care["page"])).text()
    assert 'data-testid="care-flags"' in page and "pain 8/10" in page
    assert 'data-testid="chart-pain-' in page and "<svg" in page
    flag_id = (await admin.server.app[DB].fetchone("SELECT id FROM pain_flags"))[0]
    response = await post_form(rae, "/admin", f"/admin/plans/{plan.id}/flags/{flag_id}"
                               "/acknowledge", {"back": "dashboard"})
    assert response.status == 303 and response.headers["Location"].startswith("/admin?done=")
    assert "Pain flags" not in await (await rae.get("/admin")).text()
    assert "No open pain flags." in await (await rae.get(care["page"])).text()
    row = await admin.server.app[DB].fetchone(
        "SELECT actor FROM events WHERE action = 'pain_flag.acknowledged'")
    assert row is not None and row[0].startswith("user:")
    again = await post_form(rae, care["page"],
                            f"/admin/plans/{plan.id}/flags/{flag_id}/acknowledge")
    assert again.status == 409


async def test_adherence_shows_the_last_7_and_28_days(aiohttp_client, admin):
    care = await care_of(aiohttp_client, admin)
    body = await (await care["rae"].get(care["page"])).text()
    adherence = body.split('data-testid="adherence"', 1)[1].split("</dl>", 1)[0]
    assert "Last 7 days" in adherence and "Last 28 days" in adherence
    assert "1 of" in adherence


async def test_questionnaires_attach_detach_and_their_trend_marks_the_mic(aiohttp_client,
                                                                         admin):
    rae = await therapist_client(aiohttp_client, admin, "Rae Kim", "rae@clinic.test")
    app = admin.server.app
    patient_id = await new_patient(admin)
    page = f"/admin/patients/{patient_id}"
    # A plan that started three weeks ago, so two weekly rounds can be filled.
    start = (date.today() - timedelta(weeks=3)).isoformat()
    plan = await new_plan(admin, patient_id, starts_on=start, therapist_email="rae@clinic.test")
    response = await post_form(rae, page, f"/admin/plans/{plan.id}/questionnaires",
                               {"instrument": "nprs", "every_weeks": "1"})
    assert response.status == 303
    assert "then every 1 week" in await (await rae.get(page)).text()
    await outcomes.submit(app[DB], plan, "nprs", {"items": {"pain": 7}},
                          due_at=plan.starts_at, now=plan.starts_at + 60)
    await outcomes.submit(app[DB], plan, "nprs", {"items": {"pain": 3}},
                          due_at=plan.starts_at + WEEK, now=plan.starts_at + WEEK + 60)
    body = await (await rae.get(page)).text()
    chart = body.split('data-testid="chart-outcome-nprs"', 1)[1].split("</figure>", 1)[0]
    assert "<title" in chart and "<desc" in chart and "baseline, 7" in chart
    assert "no important change, 5 to 9" in chart and "<rect" in chart
    assert "improved (+4.00)" in chart
    response = await post_form(rae, page, f"/admin/plans/{plan.id}/questionnaires/detach",
                               {"instrument": "nprs"})
    assert response.status == 303
    assert await count_rows(admin, "plan_questionnaires") == 0
    assert 'data-testid="chart-outcome-nprs"' in await (await rae.get(page)).text()


@pytest.mark.parametrize(("fields", "field"), [
    ({"instrument": "oswestry", "every_weeks": "0"}, "instrument"),
    ({"instrument": "nprs", "every_weeks": "13"}, "every_weeks"),
    ({"instrument": "nprs", "every_weeks": "-1"}, "every_weeks"),
    ({"instrument": "nprs", "every_weeks": "weekly"}, "every_weeks"),
    ({"instrument": "nprs"}, "every_weeks"),
])
async def test_a_bad_questionnaire_is_a_422_naming_the_field(aiohttp_client, admin, fields,
                                                             field):
    care = await care_of(aiohttp_client, admin)
    response = await post_form(care["rae"], care["page"],
                               f"/admin/plans/{care['plan'].id}/questionnaires", fields)
    assert response.status == 422 and f'data-field="{field}"' in await response.text()
    assert await count_rows(admin, "plan_questionnaires") == 0
    detach = await post_form(care["rae"], care["page"],
                             f"/admin/plans/{care['plan'].id}/questionnaires/detach",
                             {"instrument": "nprs"})
    assert detach.status == 422 and 'data-field="instrument"' in await detach.text()


async def test_review_minutes_are_logged_and_the_monitoring_csv_is_a_private_download(
        aiohttp_client, admin):
    care = await care_of(aiohttp_client, admin)
    rae, plan = care["rae"], care["plan"]
    response = await post_form(rae, care["page"], f"/admin/plans/{plan.id}/review-minutes",
                               {"minutes": "25"})
    assert response.status == 303
    csv = await rae.get(f"/admin/plans/{plan.id}/monitoring.csv")
    assert csv.status == 200 and csv.content_type == "text/csv"
    assert csv.headers["Content-Disposition"] == \
        f'attachment; filename="monitoring-{plan.id}.csv"'
    assert csv.headers["Cache-Control"] == "no-store"
    lines = (await csv.text()).split("\r\n")
    assert lines[0] == "plan_id,period,start,end,days_with_data,review_minutes"
    assert lines[1].startswith(f"{plan.id},1,") and lines[1].endswith(",1,25")
    assert "Maya" not in await csv.text()
    body = await (await rae.get(care["page"])).text()
    assert 'data-testid="monitoring"' in body and "<td>25</td>" in body
    row = await admin.server.app[DB].fetchone(
        "SELECT actor FROM events WHERE action = 'review.logged'")
    assert row is not None


@pytest.mark.parametrize(("fields", "field"), [
    ({"minutes": "0"}, "minutes"),
    ({"minutes": "241"}, "minutes"),
    ({"minutes": "ten"}, "minutes"),
    ({"minutes": ""}, "minutes"),
    ({"minutes": "10", "day": "2999-01-01"}, "day"),
    ({"minutes": "10", "day": "yesterday"}, "day"),
])
async def test_bad_review_minutes_are_a_422_and_nothing_is_stored(aiohttp_client, admin,
                                                                  fields, field):
    care = await care_of(aiohttp_client, admin)
    response = await post_form(care["rae"], care["page"],
                               f"/admin/plans/{care['plan'].id}/review-minutes", fields)
    assert response.status == 422 and f'data-field="{field}"' in await response.text()
    assert await count_rows(admin, "review_minutes") == 0


async def test_every_form_without_its_csrf_token_is_refused_and_changes_nothing(
        aiohttp_client, admin):
    care = await care_of(aiohttp_client, admin)
    plan = care["plan"]
    await log_pain(admin, plan, care["assignment"], 9)
    flag_id = (await admin.server.app[DB].fetchone("SELECT id FROM pain_flags"))[0]
    targets = ["/admin/patients", f"{care['page']}/plans", f"/admin/plans/{plan.id}/reissue",
               f"/admin/plans/{plan.id}/revoke", f"/admin/plans/{plan.id}/close",
               f"/admin/plans/{plan.id}/questionnaires",
               f"/admin/plans/{plan.id}/questionnaires/detach",
               f"/admin/plans/{plan.id}/flags/{flag_id}/acknowledge",
               f"/admin/plans/{plan.id}/review-minutes", f"/admin/plans/{plan.id}/messages"]
    before = {t: await count_rows(admin, t) for t in ("patients", "plans", "links", "events",
                                                      "plan_questionnaires", "review_minutes",
                                                      "plan_messages")}
    for target in targets:
        response = await admin.post(target, data={"name": "X", "condition": CONDITION,
                                                  "instrument": "nprs", "every_weeks": "0",
                                                  "minutes": "5", "text": "Hello"},
                                    allow_redirects=False)
        assert response.status == 403, target
        assert "form has expired" in await response.text()
    after = {t: await count_rows(admin, t) for t in before}
    assert after == before
    assert (await admin.server.app[CARE].plan(plan.id)).status == "active"
    assert (await admin.server.app[DB].fetchone(
        "SELECT acknowledged_at FROM pain_flags"))[0] is None


async def test_new_visit_for_this_patient_books_her_visit_in_her_plan(aiohttp_client, admin):
    care = await care_of(aiohttp_client, admin)
    body = await (await admin.get(care["page"])).text()
    assert f'href="/admin/visits/new?patient_id={care["patient_id"]}"' in body
    form = f"/admin/visits/new?patient_id={care['patient_id']}"
    page = await (await admin.get(form)).text()
    assert f'name="patient_id" value="{care["patient_id"]}"' in page and "Maya Lopez" in page
    response = await post_form(admin, form, "/admin/visits",
                               {"patient_id": care["patient_id"],
                                "therapist_email": "rae@clinic.test"})
    assert response.status == 303
    visit_id = response.headers["Location"].rsplit("/", 1)[1]
    visit = await admin.server.app[VISITS].get(visit_id)
    assert visit.plan_id == care["plan"].id
    bad = await post_form(admin, form, "/admin/visits", {"patient_id": f"pt_{'B' * 16}"})
    assert bad.status == 422 and "patient id" in await bad.text()


async def test_reading_her_page_is_audited_with_ids_only(aiohttp_client, admin):
    care = await care_of(aiohttp_client, admin)
    await care["rae"].get(care["page"])
    rows = await admin.server.app[DB].fetchall(
        "SELECT actor, detail FROM events WHERE action = 'patient.read'")
    assert rows and all("Maya" not in str(r[1]) for r in rows)
    assert any(r[0].startswith("user:") and care["patient_id"] in str(r[1]) for r in rows)


# The chart itself.

def test_the_trend_chart_is_an_accessible_svg_with_its_data_as_a_table():
    tz = ZoneInfo("UTC")
    chart = line_chart(chart_id="c1", title="PSFS <scores>", points=[(0, 3.0), (WEEK, 6.5)],
                       low=0, high=10, tz=tz, baseline=3.0, band=(1.0, 5.0),
                       notes=["baseline", "improved"])
    root = ElementTree.fromstring(str(chart.svg))
    ns = "{http://www.w3.org/2000/svg}"
    assert root.get("role") == "img" and root.get("aria-labelledby") == "c1-title c1-desc"
    assert root.find(f"{ns}title").text == "PSFS <scores>"
    assert "baseline, 3" in root.find(f"{ns}desc").text
    assert len(root.findall(f"{ns}circle")) == 2 and root.find(f"{ns}rect") is not None
    assert [(r.when, r.value, r.note) for r in chart.rows] == [
        ("1970-01-01", "3", "baseline"), ("1970-01-08", "6.5", "improved")]
    empty = line_chart(chart_id="c2", title="t", points=[], low=0, high=10, tz=tz)
    assert "No scores yet" in empty.description and empty.rows == ()
    with pytest.raises(ValueError):
        line_chart(chart_id="c3", title="t", points=[], low=5, high=5, tz=tz)


# Her page in a real browser, on a phone and a laptop.

async def test_her_page_fits_a_phone_and_a_laptop_with_no_script_error(live):
    from server.care.patient_input import PlanRequest, parse_patient_request
    from server.care.adherence import log_review_minutes
    from tests.browser import Chromium, screenshot
    from tests.helpers import ADMIN_EMAIL, ADMIN_PASSWORD

    app = live.app
    rae = await live.therapist_account()
    care = app[CARE]
    patient = await care.create_patient(parse_patient_request(
        {"name": "Maya Lopez", "email": "maya@example.test", "email_consent": True,
         "external_id": "MRN-4211"}, today=date.today()), actor="test")
    start = int(time.time()) - 3 * WEEK
    plan = await care.create_plan(patient, PlanRequest(
        condition=CONDITION, goals="Lift her baby from the floor without pain",
        starts_at=start, weeks=8, therapist_email="rae@clinic.test"), actor="test")
    visit = await live.visit(patient_id=patient.id, therapist_name=None,
                             therapist_email="rae@clinic.test")
    therapist, seat = visit.participant("therapist"), visit.participant("patient")
    for exercise in (EXERCISE, "the-knack"):
        found = await assign(app[DB], visit=visit, participant_id=seat.id, actor=by_participant(
            therapist.id), values={"exercise": exercise, "sets": 2, "reps": 10,
                                   "hold_seconds": 5, "per_day": 1, "per_week": 0, "note": ""})
        async with app[DB].transaction() as conn:  # assigned at the plan's first visit
            await conn.execute("UPDATE assignments SET created_at = ? WHERE id = ?",
                               (start, found.id))
        for n, pain in enumerate((2, 3, 2, 8)):
            await log_session(app[DB], plan.id, {
                "client_key": f"k-{exercise}-{n}", "done_at": int(time.time()) - (4 - n) * DAY,
                "entries": [{"assignment_id": found.id, "status": "done", "pain": pain}]},
                tz=app[CONFIG].tz, now=int(time.time()))
    await outcomes.attach(app[DB], plan, "nprs", 1, actor="user:1", now=start)
    for week, pain in ((0, 7), (1, 5), (2, 3)):
        await outcomes.submit(app[DB], plan, "nprs", {"items": {"pain": pain}},
                              due_at=start + week * WEEK, now=start + week * WEEK + 60)
    await log_review_minutes(app[DB], plan.id, rae, 20, day=date.today(),
                             now=int(time.time()))
    async with Chromium(grant_media=False) as chromium:
        for width in (390, 1280):
            page = await chromium.page(width=width, height=844 if width < 500 else 800)
            await page.goto(live.base + "/login")
            await page.fill("input[name=email]", ADMIN_EMAIL)
            await page.fill("input[name=password]", ADMIN_PASSWORD)
            await page.click("button[type=submit]")
            for path, name in ((f"/admin/patients/{patient.id}", "patient-detail"),
                               ("/admin/patients", "patients"), ("/admin", "dashboard-flags")):
                await page.goto(live.base + path)
                await screenshot(page, f"{name}-{width}")
                overflow = await page.evaluate(
                    "document.documentElement.scrollWidth > window.innerWidth")
                assert not overflow, f"{path} scrolls sideways at {width}px"
            assert await page.locator("[data-testid=pain-flags] li").count() == 2
            assert page.errors == []  # type: ignore[attr-defined]


async def test_her_record_and_consent_are_changed_on_her_page_and_bad_input_changes_nothing(
        admin: TestClient) -> None:
    patient_id = await new_patient(admin, email="maya@example.test", email_consent="true")
    page = f"/admin/patients/{patient_id}"
    form = {"name": "Maya Lopez", "email": "maya@example.test", "language": "en"}
    response = await post_form(admin, page, f"{page}/record", form)  # consent box unticked
    assert response.status == 303 and response.headers["Location"].endswith("done=record_changed")
    patient = await admin.server.app[CARE].patient(patient_id)
    assert patient is not None and not patient.email_consent
    refused = await post_form(admin, page, f"{page}/record", {**form, "email": "maya@clinic"})
    assert refused.status == 422 and 'data-field="email"' in await refused.text()
    assert (await admin.server.app[CARE].patient(patient_id)).email == "maya@example.test"
    rows = await admin.server.app[DB].fetchall(
        "SELECT detail FROM events WHERE action = 'patient.changed'")
    assert len(rows) == 1 and "maya" not in rows[0][0]
