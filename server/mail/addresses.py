"""What the outbox accepts in a header: an email address, a From, a one-line text.

Checked once, at enqueue and at start (the From), so a message that reaches SMTP can
carry nothing that adds a header or a recipient (CR or LF, a comma, angle brackets)."""

from __future__ import annotations

import re
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.utils import parseaddr

from server.http.schemas import is_email_address

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_SUBJECT = 200
"""The longest Subject the outbox takes (characters)."""


def is_mail_address(value: str) -> bool:
    """A bare address SMTP can deliver to (`maya@example.org`): the shape staff accounts
    use, read back unchanged as one addr-spec, nothing that could add a header or a
    recipient."""
    if not is_email_address(value) or _CONTROL.search(value) or any(c in value for c in ',;<>"()'):
        return False
    try:
        address = Address(addr_spec=value)
    except (HeaderParseError, ValueError, IndexError):
        return False
    return address.addr_spec == value and bool(address.username) and "." in address.domain


def is_from_address(value: str) -> bool:
    """A From: one address, with or without a display name (`Harbor Physio <r@h.example>`)."""
    if not value or _CONTROL.search(value):
        return False
    _, address = parseaddr(value)
    return is_mail_address(address)


def one_line_problem(value: str, what: str, longest: int) -> str | None:
    """Why `value` cannot be a header's text (empty, too long, a line break or another
    control character), or None."""
    if not value.strip():
        return f"{what} is empty"
    if len(value) > longest:
        return f"{what} is longer than {longest} characters"
    if _CONTROL.search(value):
        return f"{what} holds a line break or another control character"
    return None


class MailInputError(ValueError):
    """A message the outbox refuses; `str()` says why (never the refused value itself)."""


KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,199}")
"""An idempotency key: ids and words joined by `:` (`visit-reminder:v_x:24h`)."""
KIND = re.compile(r"[a-z][a-z0-9_]{0,39}(\.[a-z0-9_]{1,40}){0,3}")
"""A message kind (`reminder.visit`), the form of a job kind."""
MAX_BODY = 100_000
"""The longest body, HTML alternative or attachment the outbox takes (characters)."""


def check_email(*, key: str, kind: str, recipient: str, subject: str, body: str,
                html: str | None, attachment: str | None, unsubscribe_url: str | None,
                patient_id: str | None) -> None:
    """Refuse (MailInputError) an email the outbox must not queue."""
    problems = []
    if KEY.fullmatch(key) is None:
        problems.append("the idempotency key must be 1 to 200 letters, digits and ._:@/+-")
    if KIND.fullmatch(kind) is None:
        problems.append("the kind must be dotted lower-case words, such as reminder.visit")
    if not is_mail_address(recipient):
        problems.append("the recipient is not one email address")
    problem = one_line_problem(subject, "the subject", MAX_SUBJECT)
    if problem:
        problems.append(problem)
    if not body.strip():
        problems.append("the body is empty")
    for text, what in ((body, "the body"), (html, "the HTML body"), (attachment, "the attachment")):
        if text is not None and (len(text) > MAX_BODY or "\x00" in text):
            problems.append(f"{what} is longer than {MAX_BODY} characters or holds a NUL")
    if unsubscribe_url is not None and (
            not unsubscribe_url.startswith(("https://", "http://"))
            or len(unsubscribe_url) > 2000
            or re.search(r"[\s<>\x00-\x1f\x7f]", unsubscribe_url)):
        problems.append("the unsubscribe URL must be one http(s) URL without spaces or <>")
    if patient_id is not None and re.fullmatch(r"[A-Za-z0-9_-]{1,64}", patient_id) is None:
        problems.append("the patient id must be an id")
    if problems:
        raise MailInputError("; ".join(problems) + ".")
