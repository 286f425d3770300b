"""Messages between visits: the patient and her care team write on her plan of care.

She writes from her home page (her plan link); the plan's therapist or an admin answers on
her admin page. The rules live here, the table in `server/storage/plan_messages.py`:

- a message is 1 to `MAX_TEXT` characters once blanks are stripped from its ends, plain
  text with line breaks and no other control character nor bidi override (the rule of the
  call's chat, `signaling.protocol.CHAT_FORBIDDEN`); it is stored and shown as text;
- she may send `MAX_A_DAY["patient"]` messages a day on a plan, the staff
  `MAX_A_DAY["staff"]` (past that, `TooMany` and nothing stored);
- only an active plan takes messages (a closed one: `CareStateError`);
- a thread is read newest first, `PAGE` at a time, each page's `older` cursor naming the
  oldest message it showed;
- a staff message, when she agrees to email, queues a notice in the message's transaction
  that says only that a message waits, with her plan link: never the text. One notice
  stands for every staff message she has not read yet (its key names the first of them),
  so writing three replies sends one email until she opens her page.

Each message is audited (`plan.message`: plan, message and author kind, no text). Nothing
is edited or deleted.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

from aiohttp import web

from server.auth.policy import Action, CareFile, StaffActor, allowed
from server.care.field_error import FieldError
from server.care.reminders import Composed, compose, live_plan_link
from server.care.service import CareStateError
from server.http.i18n import N_
from server.keys import DB, OUTBOX
from server.mail.addresses import MailInputError
from server.storage import audit_events as audit
from server.storage.events import record_event
from server.storage.interface import Connection, Database
from server.storage.outbox import enqueue_email
from server.storage.patients import Patient, get_patient
from server.storage.plan_messages import (
    PlanMessage,
    first_unread,
    insert_message,
    mark_read,
    sent_since,
    thread,
    unread_count,
)
from server.storage.plans import Plan
from signaling.protocol import CHAT_FORBIDDEN

log = logging.getLogger(__name__)

MAX_TEXT = 2000
"""Characters a message may hold, once blanks are stripped from its ends."""
MAX_A_DAY = {"patient": 20, "staff": 100}
"""Messages one side may write on one plan in 24 hours."""
PAGE = 50
"""Messages a page of a thread shows."""
DAY = 86400
NOTICE_KIND = "notice.message"
"""The outbox kind of the email that says a message waits."""
_CURSOR = re.compile(r"(\d{1,12})-(\d{1,12})")


class TooMany(Exception):
    """This side wrote its day's messages on the plan; `retry_after` seconds until one more
    is taken."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many messages; retry after {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class ThreadPage:
    """A page of a thread, newest first, and the cursor of the page before it."""

    messages: list[PlanMessage]
    older: str | None


def clean_text(raw: object) -> str:
    """A message's text as stored: line breaks as `\\n`, blanks stripped from its ends;
    FieldError (field `text`) when it is not 1 to `MAX_TEXT` characters of plain text."""
    if not isinstance(raw, str):
        raise FieldError("text", N_("Write your message as text."))
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    # The call chat's rule for written text, looked for before stripping (Python counts
    # some control characters as blanks).
    if CHAT_FORBIDDEN.search(text):
        raise FieldError("text", N_("A message may hold letters, numbers, punctuation and "
                                    "line breaks, but no control characters or marks that "
                                    "turn the direction of the text."))
    text = text.strip()
    if not text:
        raise FieldError("text", N_("Write a message first."))
    if len(text) > MAX_TEXT:
        raise FieldError("text", N_("A message holds at most {max} characters; this one has "
                                    "{length}."), max=MAX_TEXT, length=len(text))
    return text


def cursor_of(message: PlanMessage) -> str:
    """The cursor of the page of messages older than `message`."""
    return f"{message.created_at}-{message.id}"


def read_cursor(cursor: str) -> tuple[int, int] | None:
    """The (created_at, id) a cursor names; None when it is not one this server made."""
    match = _CURSOR.fullmatch(cursor)
    return None if match is None else (int(match.group(1)), int(match.group(2)))


async def thread_page(db: Database, plan_id: str, before: tuple[int, int] | None) -> ThreadPage:
    """A page of the plan's thread (the newest one when `before` is None)."""
    found = await thread(db, plan_id, before=before, limit=PAGE + 1)
    page = found[:PAGE]
    return ThreadPage(page, cursor_of(page[-1]) if len(found) > PAGE else None)


async def open_thread(db: Database, plan: Plan, before: tuple[int, int] | None, *,
                      reader: str, now: int) -> ThreadPage:
    """A page of the thread as `reader` ('patient' or 'staff') opens it: opening its newest
    page marks the other side's messages read (a write only when some are unread)."""
    page = await thread_page(db, plan.id, before)
    other = "staff" if reader == "patient" else "patient"
    if before is None and await unread_count(db, plan.id, other):
        async with db.transaction() as conn:
            await mark_read(conn, plan.id, other, now)
    return page


async def reads_for_care_team(actor: StaffActor, plan: Plan) -> bool:
    """Whether this staff member's view of the thread counts as the care team reading her
    messages: the plan's own therapist's, or for a plan no therapist leads, the view of one
    who may answer it (an admin). An admin looking at a therapist's plan leaves her
    messages unread on that therapist's dashboard."""
    if plan.therapist_id is not None:
        return actor.user.id == plan.therapist_id
    return await allowed(actor, Action.CHANGE_CARE, CareFile(plan.patient_id, frozenset()))


async def write(app: web.Application, plan: Plan, raw: object, *, author: str,
                user_id: int | None, actor: str, now: int | None = None) -> PlanMessage:
    """Store a message of `author` on the plan (with its audit row and, for a staff message,
    her email notice, in one transaction); FieldError, TooMany or CareStateError store
    nothing."""
    now = int(time.time()) if now is None else now
    text = clean_text(raw)
    db = app[DB]
    notice = await _compose_notice(app, plan, now) if author == "staff" else None
    queued = False
    async with db.transaction() as conn:
        count, first = await sent_since(conn, plan.id, author, now - DAY)
        if count >= MAX_A_DAY[author] and first is not None:
            raise TooMany(max(1, first + DAY - now))
        message_id = await insert_message(conn, plan_id=plan.id, author=author,
                                          user_id=user_id, text=text, now=now)
        if message_id is None:
            raise CareStateError("the plan is closed")
        await record_event(conn, audit.PlanMessageWritten(plan=plan.id, message=message_id,
                                                          author=author),
                           actor=actor, now=now)
        if notice is not None:
            queued = await _queue_notice(conn, plan, *notice, now=now)
    if queued and (runner := app.get(OUTBOX)) is not None:
        runner.wake()
    return PlanMessage(message_id, plan.id, author, user_id, text, now, None)


async def _compose_notice(app: web.Application, plan: Plan,
                          now: int) -> tuple[Patient, Composed] | None:
    """Her notice of a staff message, composed before the message's transaction (composing
    may make her unsubscribe link in a transaction of its own); None when she does not
    agree to email or her plan link no longer opens."""
    patient = await get_patient(app[DB], plan.patient_id)
    if patient is None or not patient.may_email:
        return None
    link = await live_plan_link(app, plan, now)
    if link is None:
        return None
    mail = await compose(app, patient, template="message_notice",
                         subject=N_("You have a new message from {clinic}"),
                         context={"link": link}, now=now)
    return patient, mail


async def _queue_notice(conn: Connection, plan: Plan, patient: Patient, mail: Composed, *,
                        now: int) -> bool:
    """Queue her notice under the key of the first staff message she has not read (this
    one, or one an earlier notice already told her of: then nothing is added)."""
    first = await first_unread(conn, plan.id, "staff")
    try:
        return await enqueue_email(
            conn, key=f"message-notice:{plan.id}:{first}", kind=NOTICE_KIND,
            recipient=patient.email or "", subject=mail.subject, body=mail.body,
            unsubscribe_url=mail.unsubscribe, patient_id=patient.id, now=now)
    except MailInputError:
        # Checked before anything is written: the message stands, without its notice.
        log.warning("message notice not queued: patient=%s has an address the outbox"
                    " refuses", patient.id)
        return False
