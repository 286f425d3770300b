"""Reminders by email, composed by a periodic job into the outbox (never in a request).

Three kinds, each sent only to a patient with an email address and her consent, each
keyed so that a group composing the same reminder twice (two processes, a retried job)
queues it once (`server.storage.outbox.enqueue_email` ignores a key it has):

- a visit's reminders, `visit_reminder_minutes` before it starts (a day and an hour by
  default), with her join link and an `.ics` carrying an alarm; a reminder whose time came
  before the visit was booked is not sent;
- her home-program reminder, at the time of day she picked on her home page (clinic time),
  sent within the hour after it, once a day, while she has an active plan;
- a notice when a questionnaire of her plan falls due, within a week of that.

No email says anything about her health: not the condition, not an exercise or a
questionnaire's name, and no subject says what the reminder is for beyond a visit; the
clinic's name (a clinic named for its specialty shows it in every subject: see
docs/email.md), the time and the link. Each carries her
unsubscribe link (`List-Unsubscribe`, one click, no sign-in). Text comes from
`templates/email/` through the catalogs, in her language.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from server.care.outcomes import pending
from server.clinic.look import clinic_look
from server.http.i18n import N_, fill, format_time, translate
from server.http.templating import render_text
from server.keys import CARE, CONFIG, DB, OUTBOX, VISITS
from server.mail.addresses import MailInputError
from server.runtime.jobs import JobKind
from server.storage.outbox import enqueue_email
from server.storage.patients import Patient, patient_columns
from server.storage.plans import WEEK, Plan, active_plan, plans_of_patient
from server.storage.visits import get_visit
from server.visits.ics import visit_invite

log = logging.getLogger(__name__)

COMPOSE = "reminders.compose"
"""The periodic job's kind."""
PROGRAM_WINDOW_MINUTES = 60
"""A home-program reminder goes out within this long after the time she picked."""
QUESTIONNAIRE_WINDOW_SECONDS = 7 * 86400
"""A questionnaire's notice goes out within this long after it falls due."""
BATCH = 500
"""Reminders of one kind composed a run at most (the next run takes the rest)."""

_PATIENT = patient_columns("p")
"""Her columns in the queries below (the visit and plan ids are aliased apart)."""
_MAY_EMAIL = "p.email IS NOT NULL AND p.email_consent <> 0"


@dataclass(frozen=True)
class Composed:
    """An email to a patient as composed, ready for `enqueue_email`."""

    subject: str
    body: str
    unsubscribe: str
    """Her unsubscribe link (`List-Unsubscribe` and the body's last line)."""


async def compose(app: web.Application, patient: Patient, *, template: str, subject: str,
                  context: dict[str, Any], now: int) -> Composed:
    """One email to her in her language: `templates/email/{template}.txt` and `subject` (a
    catalog id) filled with the clinic's name, her unsubscribe link and `context`. Call it
    outside a write transaction (her unsubscribe link may be made in its own)."""
    unsubscribe = await app[CARE].unsubscribe_url(patient, now)
    # The clinic's name and support phone as the admin set them (server/clinic/look.py).
    look = await clinic_look(app)
    values = {**look.mail_values(), "unsubscribe": unsubscribe, **context}
    body = render_text(app, f"email/{template}.txt", patient.language, values)
    title = fill(lambda m: translate(patient.language, m), subject, **{
        k: v for k, v in values.items() if isinstance(v, str)})
    return Composed(title, body, unsubscribe)


async def _queue(app: web.Application, patient: Patient, *, key: str, kind: str,
                 template: str, subject: str, context: dict[str, Any], now: int,
                 attachment: str | None = None) -> bool:
    """Compose one email in her language and queue it under `key`. An address the outbox
    refuses (entered before addresses were checked as strictly) is skipped and logged by
    her id, so that one patient never holds up the others' reminders."""
    mail = await compose(app, patient, template=template, subject=subject, context=context,
                         now=now)
    try:
        async with app[DB].transaction() as conn:
            return await enqueue_email(conn, key=key, kind=kind, recipient=patient.email or "",
                                       subject=mail.subject, body=mail.body,
                                       attachment=attachment, unsubscribe_url=mail.unsubscribe,
                                       patient_id=patient.id, now=now)
    except MailInputError:
        log.warning("reminder %s not queued: patient=%s has an address the outbox refuses",
                    kind, patient.id)
        return False


def _not_queued(key_sql: str) -> str:
    """A condition: no outbox row has the key `key_sql` builds (SQL text, `||` joins), so a
    run composes only what no run queued before and a batch moves on."""
    return f"NOT EXISTS (SELECT 1 FROM outbox o WHERE o.idempotency_key = {key_sql})"


async def visit_reminders(app: web.Application, now: int) -> int:
    """Queue each visit reminder due now; returns how many were new."""
    config, db = app[CONFIG], app[DB]
    queued = 0
    for minutes in config.visit_reminder_offsets:
        key = ("'visit-reminder:' || v.id || ':' || CAST(? AS TEXT) || ':'"
               " || CAST(v.starts_at AS TEXT)")
        rows = await db.fetchall(
            f"SELECT v.id AS visit_id, v.starts_at, {_PATIENT} FROM visits v"
            f" JOIN patients p ON p.id = v.patient_id WHERE v.status = 'scheduled'"
            f" AND v.starts_at > ? AND v.starts_at <= ? AND v.created_at <= v.starts_at - ?"
            f" AND {_MAY_EMAIL} AND {_not_queued(key)} ORDER BY v.starts_at, v.id LIMIT ?",
            (now, now + minutes * 60, minutes * 60, minutes, BATCH))
        for row in rows:
            visit = await get_visit(db, row["visit_id"])
            seat = visit.participant("patient") if visit is not None else None
            if visit is None or seat is None:
                continue
            patient = Patient.from_row(row)
            when = format_time(visit.starts_at, config.tz, patient.language)
            link = await app[VISITS].link(seat)
            summary = fill(lambda m: translate(patient.language, m),
                           N_("Video visit with {clinic}"),
                           clinic=(await clinic_look(app)).name)
            invite = visit_invite(uid=f"{visit.id}@visitroom", starts_at=visit.starts_at,
                                  ends_at=visit.ends_at, now=now, summary=summary,
                                  description=link, url=link, alarm_minutes=min(minutes, 60))
            queued += await _queue(
                app, patient, key=f"visit-reminder:{visit.id}:{minutes}:{visit.starts_at}",
                kind="reminder.visit", template="visit_reminder",
                subject=N_("Reminder: your video visit with {clinic}"),
                context={"when": when, "link": link, "zone": config.timezone}, now=now,
                attachment=invite)
    return queued


def _local_minute(now: int, app: web.Application) -> tuple[int, str]:
    local = datetime.fromtimestamp(now, app[CONFIG].tz)
    return local.hour * 60 + local.minute, local.date().isoformat()


async def live_plan_link(app: web.Application, plan: Plan | None, now: int) -> str | None:
    """Her plan link while it still opens her page (not revoked, not past its end)."""
    if plan is None or plan.status != "active" or now >= app[CARE].link_expires(plan):
        return None
    return await app[CARE].plan_link(plan)


async def program_reminders(app: web.Application, now: int) -> int:
    """Queue today's home-program reminders whose time came within the last hour."""
    minute, today = _local_minute(now, app)
    key = "'program-reminder:' || p.id || ':' || ?"
    rows = await app[DB].fetchall(
        f"SELECT {_PATIENT} FROM patients p WHERE p.program_reminder IS NOT NULL"
        f" AND p.program_reminder <= ? AND p.program_reminder > ? AND {_MAY_EMAIL}"
        f" AND EXISTS (SELECT 1 FROM plans pl WHERE pl.patient_id = p.id"
        f" AND pl.status = 'active') AND {_not_queued(key)} ORDER BY p.id LIMIT ?",
        (minute, minute - PROGRAM_WINDOW_MINUTES, today, BATCH))
    queued = 0
    for row in rows:
        patient = Patient.from_row(row)
        plan = active_plan(await plans_of_patient(app[DB], patient.id))
        link = await live_plan_link(app, plan, now)
        if link is None:
            continue
        queued += await _queue(
            app, patient, key=f"program-reminder:{patient.id}:{today}", kind="reminder.program",
            template="program_reminder", subject=N_("A reminder from {clinic}"),
            context={"link": link}, now=now)
    return queued


async def questionnaire_notices(app: web.Application, now: int) -> int:
    """Queue one notice a plan for each time questionnaires of hers fell due within the
    last week and wait unanswered. Only plans with a round due in that week are looked at
    (a round falls due at the plan's start plus a whole number of its intervals), and a
    notice names no questionnaire, not even in its key."""
    window = QUESTIONNAIRE_WINDOW_SECONDS
    rows = await app[DB].fetchall(
        f"SELECT DISTINCT pl.id AS plan_id, {_PATIENT} FROM plan_questionnaires q"
        f" JOIN plans pl ON pl.id = q.plan_id AND pl.status = 'active'"
        f" JOIN patients p ON p.id = pl.patient_id WHERE {_MAY_EMAIL} AND pl.starts_at <= ?"
        f" AND ((q.every_weeks = 0 AND pl.starts_at > ?) OR (q.every_weeks > 0"
        f" AND (? - pl.starts_at) % (q.every_weeks * {WEEK}) < ?))"
        f" ORDER BY pl.id LIMIT ?", (now, now - window, now, window, BATCH))
    queued = 0
    for row in rows:
        plan: Plan | None = await app[CARE].plan(row["plan_id"])
        if plan is None:
            continue
        due = sorted({p.due_at for p in await pending(app[DB], plan, now=now)
                      if now - p.due_at < window})
        link = await live_plan_link(app, plan, now) if due else None
        if link is None:
            continue
        patient = Patient.from_row(row)
        queued += await _queue(
            app, patient, key=f"questionnaire-due:{plan.id}:{due[-1]}",
            kind="reminder.questionnaire", template="questionnaire_due",
            subject=N_("A short questionnaire from {clinic}"), context={"link": link},
            now=now)
    return queued


async def compose_once(app: web.Application, now: int | None = None) -> int:
    """Compose every reminder due now into the outbox; returns how many were new."""
    now = int(time.time()) if now is None else now
    queued = (await visit_reminders(app, now) + await program_reminders(app, now)
              + await questionnaire_notices(app, now))
    if queued:
        log.info("reminders queued=%d", queued)
        runner = app.get(OUTBOX)
        if runner is not None:
            runner.wake()
    return queued


async def _compose_job(app: web.Application, _job: Any) -> None:
    await compose_once(app)


def compose_kind(seconds: int) -> JobKind:
    """The periodic job that composes reminders, once a `reminder_seconds` period."""
    return JobKind(COMPOSE, _compose_job, max_attempts=3, timeout_seconds=120,
                   every_seconds=seconds)
