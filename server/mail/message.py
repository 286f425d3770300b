"""One outbox message, and the email it becomes (after Synapse's `push/mailer.py`: the
message is composed here, `senders.py` only sends it).

The email is composed again on every attempt from the stored row, and comes out the same
each time: its Date is when it was queued and its Message-ID is derived from the
idempotency key, so a repeat (a process that died after SMTP's DATA but before recording
the send) is recognisable as the same message by the receiving side."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

ATTACHMENT_NAME = "invite.ics"
"""The file name of a message's calendar attachment."""
ONE_CLICK = "List-Unsubscribe=One-Click"
"""The `List-Unsubscribe-Post` value of RFC 8058: one POST to the link unsubscribes."""


@dataclass(frozen=True)
class OutboxMessage:
    """A message taken from the outbox to send, as a sender sees it."""

    key: str
    """The idempotency key the caller built (`visit-reminder:v_x:24h`)."""
    channel: str
    """Which sender takes it ('email')."""
    kind: str
    """What it is (`reminder.visit`): logged, shown to the admin."""
    recipient: str
    """Where it goes (an email address): never logged."""
    subject: str
    body: str
    """The plain-text body."""
    html: str | None
    """An HTML alternative of the body, if any."""
    attachment: str | None
    """An iCalendar text sent as `invite.ics`, if any."""
    unsubscribe_url: str | None
    """The recipient's unsubscribe link (`List-Unsubscribe`), if any."""
    patient_id: str | None
    """The patient it is for (an id), if any."""
    created_at: int
    """When it was queued (the email's Date)."""
    attempts: int
    """This attempt's number, from 1."""
    max_attempts: int
    lease_owner: str
    lease_until: int


def message_id(key: str, sender: str) -> str:
    """The Message-ID of the message with this idempotency key, at the domain of `sender`
    (a From): the same key gives the same id, and the key itself is not shown."""
    _, address = parseaddr(sender)
    domain = address.rpartition("@")[2] or "visitroom.invalid"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@{domain}>"


def compose_email(message: OutboxMessage, sender: str) -> EmailMessage:
    """The email of an outbox message, from `sender` (the clinic's From)."""
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Date"] = format_datetime(datetime.fromtimestamp(message.created_at, timezone.utc))
    email["Message-ID"] = message_id(message.key, sender)
    email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to a reminder
    if message.unsubscribe_url:
        email["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
        email["List-Unsubscribe-Post"] = ONE_CLICK
    email.set_content(message.body)
    if message.html:
        email.add_alternative(message.html, subtype="html")
    if message.attachment:
        email.add_attachment(message.attachment, subtype="calendar", filename=ATTACHMENT_NAME)
    return email
