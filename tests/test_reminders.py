"""Reminders by email through real parts: the compose job queues them, the server's own
outbox runner sends them to a real SMTP server (aiosmtpd on 127.0.0.1), and the test reads
what arrived. Only with consent, once each, nothing about her health, with a one-click
unsubscribe link that works without signing in.

The app's own periodic job composes too (it may run while a test sets up), so a test calls
`compose_once` itself and then reads the outbox, which holds each reminder once whoever
composed it."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pytest

from server.app import create_app
from server.care.outcomes import attach
from server.care.patient_input import PatientRequest, PlanRequest
from server.care.reminders import compose_once
from server.keys import CARE, CONFIG, DB, VISITS
from server.storage.outbox import enqueue_email
from server.runtime.config import Config
from server.visits.visit_input import VisitRequest
from tests.helpers import count_rows
from tests.smtp_server import SmtpServer, smtp_server  # noqa: F401 (a fixture)

pytestmark = pytest.mark.both_engines
SENDER = "Harbor Physio <reminders@harbor.example>"


@pytest.fixture
async def app(aiohttp_client, config: Config, smtp_server: SmtpServer):  # noqa: F811
    configured = config.with_overrides(smtp_host="127.0.0.1", smtp_port=smtp_server.port,
                                       smtp_security="none", smtp_from=SENDER,
                                       clinic_name="Harbor Physio")
    client = await aiohttp_client(create_app(configured))
    return client


async def _keys(client) -> list[str]:
    return [r[0] for r in await client.server.app[DB].fetchall(
        "SELECT idempotency_key FROM outbox ORDER BY idempotency_key")]


async def _patient(client, *, consent: bool = True, language: str = "en", **plan: Any):
    care = client.server.app[CARE]
    patient = await care.create_patient(PatientRequest(
        "Maya Lopez", None, "maya@example.org" if consent is not None else None,
        bool(consent), None, False, language, None), actor="test")
    made = await care.create_plan(patient, PlanRequest("pelvic-girdle-pain", "", None, 8, None),
                                  actor="test")
    return patient, made


async def _visit_in(client, patient, minutes: int, booked_before: int = 2 * 3600):
    """A visit of hers starting in `minutes`, booked `booked_before` seconds before it."""
    visit = await client.server.app[VISITS].create(VisitRequest(
        "", None, None, int(time.time()) + minutes * 60, 45, "follow-up", 2,
        patient_id=patient.id), actor="test")
    await client.server.app[DB].execute("UPDATE visits SET created_at = ? WHERE id = ?",
                                        (visit.starts_at - booked_before, visit.id))
    return visit


async def test_a_visit_reminder_reaches_her_once_with_her_link_and_a_calendar_alarm(
        app, smtp_server):  # noqa: F811
    patient, _plan = await _patient(app)
    visit = await _visit_in(app, patient, 30)
    late = await _visit_in(app, patient, 30, booked_before=40 * 60)
    # The hour's reminder of the first; the day's came before it was booked, and both of
    # the one booked 40 minutes ahead.
    await compose_once(app.server.app)
    assert await compose_once(app.server.app) == 0  # composed again: queued once
    assert await _keys(app) == [f"visit-reminder:{visit.id}:60:{visit.starts_at}"]
    [received] = await smtp_server.wait_for(1)
    mail = received.parsed()
    assert received.recipients == ["maya@example.org"]
    assert mail["Subject"] == "Reminder: your video visit with Harbor Physio"
    text = mail.get_body(("plain",)).get_content()
    assert f"/join/{visit.id}?token=" in text and "Harbor Physio" in text
    # Nothing about her health: not the condition, not the kind of visit, not her name.
    for secret in ("pelvic", "girdle", "Pelvic", "follow-up", "Maya"):
        assert secret not in mail.as_string(), secret
    [ics] = list(mail.iter_attachments())
    assert "BEGIN:VALARM" in ics.get_content() and "TRIGGER:-PT60M" in ics.get_content()
    assert mail["List-Unsubscribe"].startswith(f"<http://127.0.0.1:8080/unsubscribe/{patient.id}")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert await count_rows(app, "outbox") == 1 and late.id not in mail.as_string()


async def test_both_reminders_of_a_visit_booked_early_and_none_without_consent(
        app, smtp_server):  # noqa: F811
    config = app.server.app[CONFIG]
    assert config.visit_reminder_offsets == (1440, 60)
    patient, _plan = await _patient(app)
    # Booked two days ahead: the day's reminder is due a day before, the hour's an hour.
    visit = await _visit_in(app, patient, 30, booked_before=2 * 86400)
    silent, _ = await _patient(app, consent=False)
    await _visit_in(app, silent, 30)
    await compose_once(app.server.app)
    assert await _keys(app) == [f"visit-reminder:{visit.id}:1440:{visit.starts_at}",
                    f"visit-reminder:{visit.id}:60:{visit.starts_at}"]
    await smtp_server.wait_for(2)


async def test_the_home_program_reminder_comes_at_her_time_once_a_day(app, smtp_server):  # noqa: F811
    patient, plan = await _patient(app)
    now = int(time.time())
    local = datetime.fromtimestamp(now, app.server.app[CONFIG].tz)
    minute = local.hour * 60 + local.minute
    async with app.server.app[DB].transaction() as conn:
        await conn.execute("UPDATE patients SET program_reminder = ? WHERE id = ?",
                           (minute, patient.id))
    await compose_once(app.server.app, now)
    assert await compose_once(app.server.app, now + 60) == 0
    assert await _keys(app) == [f"program-reminder:{patient.id}:{local.date().isoformat()}"]
    [received] = await smtp_server.wait_for(1)
    mail = received.parsed()
    assert mail["Subject"] == "A reminder from Harbor Physio"
    assert f"/care/{plan.id}?token=" in mail.get_body(("plain",)).get_content()
    assert "glute" not in mail.as_string().lower()


async def test_a_questionnaire_due_brings_a_notice_without_naming_it(app, smtp_server):  # noqa: F811
    _patient_record, plan = await _patient(app)
    await attach(app.server.app[DB], plan, "pgq", 2, actor="test", now=int(time.time()))
    await compose_once(app.server.app)
    assert await _keys(app) == [f"questionnaire-due:{plan.id}:{plan.starts_at}"]
    [received] = await smtp_server.wait_for(1)
    mail = received.parsed()
    assert mail["Subject"] == "A short questionnaire from Harbor Physio"
    for secret in ("Pelvic", "Girdle", "PGQ", "pgq"):
        assert secret not in mail.as_string(), secret


async def test_the_unsubscribe_link_stops_them_without_signing_in(app, smtp_server):  # noqa: F811
    patient, _plan = await _patient(app)
    await _visit_in(app, patient, 30)
    await compose_once(app.server.app)
    [received] = await smtp_server.wait_for(1)
    url = received.parsed()["List-Unsubscribe"].strip("<>").split("8080", 1)[1]
    page = await app.get(url)
    assert page.status == 200 and "Stop email reminders?" in await page.text()
    assert (await app.server.app[CARE].patient(patient.id)).email_consent  # a GET changes nothing
    tampered = await app.post(url[:-3] + "abc")
    assert tampered.status == 403
    done = await app.post(url, data="List-Unsubscribe=One-Click",
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert done.status == 200 and "no more reminders" in await done.text()
    assert not (await app.server.app[CARE].patient(patient.id)).email_consent
    assert (await app.post(url)).status == 200  # again: nothing changes, no error
    rows = await app.server.app[DB].fetchall(
        "SELECT actor FROM events WHERE action = 'patient.unsubscribed'")
    assert [r[0] for r in rows] == [f"patient:{patient.id}"]
    await _visit_in(app, patient, 45)
    await compose_once(app.server.app)
    assert await count_rows(app, "outbox") == 1
    assert (await app.get(f"/unsubscribe/{patient.id}")).status == 403
    assert (await app.get("/unsubscribe/nonsense?token=x")).status == 404


async def test_unsubscribing_drops_what_was_queued_and_a_bad_address_holds_up_nobody(
        app, smtp_server):  # noqa: F811
    patient, _plan = await _patient(app)
    visit = await _visit_in(app, patient, 30)
    # A record whose address the outbox refuses (made before addresses were checked so).
    odd, _ = await _patient(app)
    await app.server.app[DB].execute("UPDATE patients SET email = 'x@clinic' WHERE id = ?",
                                     (odd.id,))
    await _visit_in(app, odd, 20)
    await compose_once(app.server.app)
    assert await _keys(app) == [f"visit-reminder:{visit.id}:60:{visit.starts_at}"]
    await smtp_server.wait_for(1)
    # A message of hers waits in the outbox (due later); she unsubscribes: it is not sent.
    async with app.server.app[DB].transaction() as conn:
        assert await enqueue_email(conn, key="program-reminder:later", kind="reminder.program",
                                   recipient="maya@example.org", subject="A reminder",
                                   body="Your plan: link", patient_id=patient.id,
                                   now=int(time.time()) + 3600)
    url = smtp_server.received[0].parsed()["List-Unsubscribe"].strip("<>").split("8080", 1)[1]
    assert (await app.post(url)).status == 200
    row = await app.server.app[DB].fetchone(
        "SELECT status, last_error FROM outbox WHERE idempotency_key = 'program-reminder:later'")
    assert tuple(row) == ("dead", "Unsubscribed")
