"""A request to create a visit, checked: names, times, kind, length, capacity, therapist.

The API, the admin form and the CLI all build a `VisitRequest` here; what the schema
(server/http/schemas.py) can say, it says, and the rest (control characters, the clinic's
time zone, a name or an email for the therapist) is checked below.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping

from server.http import schemas
from server.http.i18n import language_tag
from server.runtime.config import Config
from server.http.schemas import KIND_MINUTES, MAX_NAME_LENGTH, MIN_CAPACITY  # noqa: F401 (one place for callers)
from server.visits.times import parse_iso_time

DEFAULT_THERAPIST_NAME = "Your therapist"
_FORBIDDEN = re.compile(f"[{schemas.NAME_FORBIDDEN}]")


class VisitInputError(ValueError):
    """A field of a visit request is not acceptable."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class VisitRequest:
    """A validated request to create a visit."""

    patient_name: str
    therapist_name: str | None
    therapist_email: str | None
    starts_at: int | None
    """Unix time; None means now."""
    minutes: int
    kind: str
    capacity: int
    patient_id: str | None = None
    """Her patient record, by its id..."""
    patient_external_id: str | None = None
    """...or by the clinic's own id for her (one of the two at most)."""
    plan_id: str | None = None
    """One of her plans; by default her active plan that started last."""
    language: str | None = None
    """The patient's pages' language for this visit (None: her record's, else her browser's)."""


def clean_name(value: Any, field: str, *, required: bool = True,
               max_length: int = MAX_NAME_LENGTH) -> str | None:
    """A display name (or short text): trimmed, at most `max_length` characters, nothing
    `schemas.NAME_FORBIDDEN` (the rule the API's schema states as a pattern)."""
    if isinstance(value, str) and _FORBIDDEN.search(value):
        # Checked before spaces are tidied: a tab or a line break is refused, not folded.
        raise VisitInputError(field, "must not contain control characters")
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise VisitInputError(field, "is required")
        return None
    if not isinstance(value, str):
        raise VisitInputError(field, "must be text")
    value = unicodedata.normalize("NFC", " ".join(value.split()))
    if len(value) > max_length:
        raise VisitInputError(field, f"must be at most {max_length} characters")
    return value


def clean_language(value: str, field: str = "language") -> str:
    """A language tag as pages spell it (`es`, `pt-BR`): one Babel knows, with or without a
    catalog yet (pages fall back to English until there is one)."""
    try:
        if re.fullmatch(schemas.LANGUAGE_PATTERN, value):
            return language_tag(value)
    except ValueError:
        pass
    raise VisitInputError(field, "is not a language tag (e.g. en, es)")


def parse_start(value: Any, config: Config) -> int | None:
    """An ISO 8601 date-time (clinic time zone when none is given) as unix time."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise VisitInputError("starts_at", "must be an ISO 8601 date and time, e.g. 2026-03-02T09:30")
    at = parse_iso_time(value, config.tz)
    if at is None:
        raise VisitInputError("starts_at", "must be an ISO 8601 date and time, e.g. 2026-03-02T09:30")
    if not 2000 <= datetime.fromtimestamp(at, timezone.utc).year <= 2200:
        raise VisitInputError("starts_at", "must be between the years 2000 and 2200")
    return at


def parse_visit_request(data: Mapping[str, Any] | schemas.NewVisit,
                        config: Config) -> VisitRequest:
    """Validate a create-visit request from any front: the API's decoded `NewVisit`, or a
    form's or the command line's text values (read through the same schema)."""
    if not isinstance(data, schemas.NewVisit):
        try:
            data = schemas.convert_text(data, schemas.NewVisit)
        except schemas.SchemaError as exc:
            raise VisitInputError(exc.field or "request", exc.message) from None
    email = (data.therapist_email or "").strip() or None
    if email is not None and "@" not in email:
        raise VisitInputError("therapist_email", "must be an email address")
    therapist_name = clean_name(data.therapist_name, "therapist_name", required=False)
    if email and therapist_name:
        raise VisitInputError("therapist_name", "give a therapist's name or her email, not both")
    patient_id = (data.patient_id or "").strip() or None
    external_id = (data.patient_external_id or "").strip() or None
    if patient_id and external_id:
        raise VisitInputError("patient_external_id", "give patient_id or patient_external_id, "
                              "not both")
    plan_id = (data.plan_id or "").strip() or None
    if plan_id and not (patient_id or external_id):
        raise VisitInputError("plan_id", "needs patient_id or patient_external_id")
    return VisitRequest(
        patient_name=clean_name(data.patient_name, "patient_name",
                                required=not (patient_id or external_id)) or "",
        patient_id=patient_id, patient_external_id=external_id, plan_id=plan_id,
        therapist_name=therapist_name,
        therapist_email=email,
        starts_at=parse_start(data.starts_at, config),
        minutes=KIND_MINUTES[data.kind] if data.minutes is None else data.minutes,
        kind=data.kind,
        capacity=data.capacity,
        language=clean_language(data.language) if data.language else None,
    )


