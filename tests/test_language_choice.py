"""Which language her pages speak: her choice on the page (the switch's cookie), else hers
(the visit's `language`, else her patient record's), else her browser's Accept-Language, else
English; the switch refuses what it should and sends her back only to a page of this site."""

from __future__ import annotations

import time

import pytest

from server.care.patient_input import PatientRequest, PlanRequest
from server.care.reminders import compose
from server.http.i18n import LANGUAGE_COOKIE, N_, choose_language, format_time
from server.keys import CARE, CONFIG, DB, VISITS
from tests.helpers import count_rows, csrf_from, link_of, make_visit

pytestmark = pytest.mark.both_engines

SPANISH = '<html lang="es" data-catalog="/static/i18n/es.json'
ENGLISH = '<html lang="en">'


async def _page(client, path, **headers):
    response = await client.get(path, headers=headers)
    assert response.status == 200, await response.text()
    return await response.text()


@pytest.mark.parametrize("chosen, person, header, expected", [
    (None, None, "", "en"), (None, None, "es-MX,es;q=0.9", "es"), (None, "es", "en", "es"),
    (None, "en", "es", "en"), ("en", "es", "es", "en"), ("es", "en", "en", "es"),
    ("klingon", "es", "en", "es"), (None, "fr", "es", "es"), (None, "es-MX", "", "es"),
    ("x" * 5000 + ",es", None, "", "en")])
def test_her_choice_comes_before_her_language_before_her_browser(chosen, person, header,
                                                                  expected):
    assert choose_language(chosen, person, header) == expected


async def test_a_visit_made_in_spanish_speaks_spanish_to_her_and_not_to_the_therapist(
        client, api):
    admin, auth = api
    made = await admin.post("/api/visits", headers=auth, json={
        "patient_name": "Lucía Gómez", "therapist_name": "Rae Kim", "language": "es"})
    assert made.status == 201, await made.text()
    visit = await client.server.app[VISITS].get(
        (await made.json())["visit_id"])
    patient = await client.get(await link_of(client, visit))  # follows to /visits/{id}
    body = await patient.text()
    assert SPANISH in body and "Prepárese para su consulta con Rae Kim" in body
    assert "Get ready" not in body
    # Her browser asking for English does not outweigh the visit's language...
    assert SPANISH in await _page(client, f"/visits/{visit.id}", **{"Accept-Language": "en"})
    # ...her own choice on the page does.
    client.session.cookie_jar.update_cookies({LANGUAGE_COOKIE: "en"})
    assert ENGLISH in await _page(client, f"/visits/{visit.id}")
    therapist = await admin.get(await link_of(admin, visit, "therapist"))
    assert ENGLISH in await therapist.text()


async def test_a_visit_of_her_record_follows_her_records_language(client):
    app = client.server.app
    care = app[CARE]
    patient = await care.create_patient(PatientRequest("Lucía Gómez", None, None, False, None,
                                                       False, "es", None), actor="test")
    await care.create_plan(patient, PlanRequest("pelvic-girdle-pain", "", None, 8, None),
                           actor="test")
    visit = await make_visit(client, patient_name="", patient_id=patient.id,
                             therapist_name="Rae Kim")
    body = await (await client.get(await link_of(client, visit))).text()
    assert SPANISH in body and "Sala de espera" in body
    async with app[DB].transaction() as conn:
        await conn.execute("UPDATE patients SET language = 'en' WHERE id = ?", (patient.id,))
    assert ENGLISH in await _page(client, f"/visits/{visit.id}", **{"Accept-Language": "es"})


async def test_without_a_language_her_browser_decides(client):
    visit = await make_visit(client, therapist_name="Rae Kim")
    await client.get(await link_of(client, visit))
    assert SPANISH in await _page(client, f"/visits/{visit.id}", **{"Accept-Language": "es-US"})
    assert ENGLISH in await _page(client, f"/visits/{visit.id}")


async def test_the_switch_keeps_her_choice_and_sends_her_back_to_her_page(client):
    page = await _page(client, "/library", **{"Accept-Language": "es"})
    assert SPANISH in page and 'data-testid="language-switch"' in page
    assert 'value="en" lang="en"' in page and 'value="es" lang="es"' not in page
    assert "csrf_token" not in page.split('data-testid="language-switch"')[1].split("</form>")[0]
    switched = await client.post("/language", allow_redirects=False, data={
        "language": "en", "back": "/library?q=back"})
    assert switched.status == 303 and switched.headers["Location"] == "/library?q=back"
    cookie = switched.cookies[LANGUAGE_COOKIE]
    assert (cookie.value, cookie["path"], cookie["samesite"], cookie["httponly"]) == (
        "en", "/", "Lax", True)
    assert ENGLISH in await _page(client, "/library", **{"Accept-Language": "es"})


@pytest.mark.parametrize("back", [
    "//evil.example/x", "/\\evil.example", "https://evil.example/", "javascript:alert(1)",
    "/ok\r\nSet-Cookie: a=b", "", "x" * 10, "/" + "a" * 2001])
async def test_the_switch_never_sends_her_to_another_site(client, back):
    switched = await client.post("/language", allow_redirects=False,
                                 data={"language": "es", "back": back})
    assert switched.status == 303 and switched.headers["Location"] == "/"


@pytest.mark.parametrize("data, status, says", [
    ({"language": "fr", "back": "/"}, 400, "Este idioma no se ofrece"),
    ({"language": "es" * 3000, "back": "/"}, 413, "demasiado grande"),
])
async def test_the_switch_refuses_a_bad_form_in_words_and_sets_nothing(client, data, status,
                                                                       says):
    refused = await client.post("/language", data=data, allow_redirects=False,
                                headers={"Accept-Language": "es"})
    assert refused.status == status and says in await refused.text()
    assert LANGUAGE_COOKIE not in refused.cookies
    assert ENGLISH in await _page(client, "/library")  # still serving, nothing kept


@pytest.mark.parametrize("language, said", [
    ("e", "language is not a language tag (e.g. en, es)"),
    ("zz", "language is not a language tag (e.g. en, es)"),
    ("es\nX", "language is not a language tag (e.g. en, es)"),
    ("x" * 40, "language must be at most 35 characters"), (5, "language must be text")])
async def test_the_api_refuses_a_language_that_is_none_and_stores_nothing(api, language, said):
    admin, auth = api
    before = await count_rows(admin, "visits")
    refused = await admin.post("/api/visits", headers=auth,
                               json={"patient_name": "Lucía Gómez", "language": language})
    assert refused.status == 422, await refused.text()
    assert (await refused.json())["error"]["message"] == said
    assert await count_rows(admin, "visits") == before


async def test_the_admin_patient_form_offers_every_language(admin):
    page = await _page(admin, "/admin/patients")
    assert '<option value="es"' in page and '<option value="en"' in page


async def test_her_emails_are_written_in_her_records_language_dates_included(client):
    app = client.server.app
    patient = await app[CARE].create_patient(PatientRequest(
        "Lucía Gómez", None, "lucia@example.org", True, None, False, "es-MX", None), actor="test")
    when = format_time(1767272700, app[CONFIG].tz, patient.language)
    assert " de ene de 2026, " in when  # her record's es-MX is Spanish, its date too
    mail = await compose(app, patient, template="visit_reminder",
                         subject=N_("Reminder: your video visit with {clinic}"),
                         context={"when": when, "link": "https://clinic.test/j", "zone": "UTC"},
                         now=int(time.time()))
    assert mail.subject.startswith("Recordatorio: su videoconsulta con ")
    assert f"Le recordamos su videoconsulta con {app[CONFIG].clinic_name} el {when} (UTC)." \
        in mail.body
    assert "Para dejar de recibir estos correos:" in mail.body and "Hello" not in mail.body


async def test_her_plan_pages_and_their_json_speak_her_records_language(client):
    care = client.server.app[CARE]
    patient = await care.create_patient(PatientRequest("Lucía Gómez", None, None, False, None,
                                                       False, "es", None), actor="test")
    plan = await care.create_plan(patient, PlanRequest("pelvic-girdle-pain", "", None, 8, None),
                                  actor="test")
    url = await care.plan_link(plan)
    home = await client.get(url.split("8080", 1)[1], headers={"Accept-Language": "en"})
    body = await home.text()
    assert SPANISH in body and "Su plan de atención" in body and "Your plan of care" not in body
    refused = await client.post(f"/care/{plan.id}/reminder", json={"minute": 5000},
                                headers={"Accept-Language": "en"})
    assert refused.status == 422
    assert (await refused.json())["error"]["message"] == (
        "el minuto debe estar entre 0 y 1439, o ser nulo.")


async def test_the_admin_visit_form_can_name_her_language(admin):
    page = await _page(admin, "/admin/visits/new")
    assert '<option value="es" lang="es" >Español</option>' in page
    made = await admin.post("/admin/visits", allow_redirects=False, data={
        "csrf_token": csrf_from(page), "patient_name": "Lucía Gómez", "therapist_name": "Rae Kim",
        "kind": "follow-up", "capacity": "2", "language": "es"})
    assert made.status in (201, 303), await made.text()
    row = await admin.server.app[DB].fetchone(
        "SELECT language FROM participants WHERE role = 'patient' AND display_name = ?",
        ("Lucía Gómez",))
    assert row["language"] == "es"
