"""Requests to create a patient or a plan of care, checked after their schema.

The API, the admin forms and the command line build these here, so a patient made anywhere
is checked the same way: names without control characters, a language tag Babel knows, a
consent only with the contact it is for, a plan's condition from the library, an active
therapist account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time as clock, tzinfo
from typing import Any, Mapping

from server.http import schemas
from server.http.care_schemas import MAX_GOALS, NewPatient, NewPlan
from server.library.model import Library
from server.mail.addresses import is_mail_address
from server.visits.visit_input import VisitInputError, clean_language, clean_name


@dataclass(frozen=True)
class PatientRequest:
    """A validated patient record to create."""

    name: str
    birth_date: str | None
    email: str | None
    email_consent: bool
    phone: str | None
    phone_consent: bool
    language: str
    external_id: str | None


@dataclass(frozen=True)
class PlanRequest:
    """A validated plan of care to start (its therapist still to be found by email)."""

    condition: str
    goals: str
    starts_at: int | None
    """Unix time of the start day's midnight, clinic time; None: today."""
    weeks: int
    therapist_email: str | None


def _struct(data: Mapping[str, Any] | Any, cls: type) -> Any:
    if isinstance(data, cls):
        return data
    try:
        return schemas.convert_text(data, cls)
    except schemas.SchemaError as exc:
        raise VisitInputError(exc.field or "request", exc.message) from None


def _birth_date(value: str | None, today: date) -> str | None:
    if value is None:
        return None
    try:
        born = date.fromisoformat(value)
    except ValueError:
        raise VisitInputError("birth_date", "is not a date of the calendar") from None
    if not date(1900, 1, 1) <= born <= today:
        raise VisitInputError("birth_date", "must be between 1900-01-01 and today")
    return born.isoformat()


def parse_patient_request(data: Mapping[str, Any] | NewPatient, *, today: date) -> PatientRequest:
    """Validate a new patient from any front (the API's decoded body, a form, the CLI)."""
    body: NewPatient = _struct(data, NewPatient)
    email = (body.email or "").strip() or None
    if email is not None and not is_mail_address(email):
        raise VisitInputError("email", "must be an email address")
    phone = " ".join((body.phone or "").split()) or None
    if body.email_consent and email is None:
        raise VisitInputError("email_consent", "needs an email address")
    if body.phone_consent and phone is None:
        raise VisitInputError("phone_consent", "needs a phone number")
    language = clean_language(body.language)
    return PatientRequest(
        name=clean_name(body.name, "name") or "",
        birth_date=_birth_date(body.birth_date, today),
        email=email, email_consent=body.email_consent,
        phone=phone, phone_consent=body.phone_consent,
        language=language,
        external_id=(body.external_id or "").strip() or None,
    )


def day_start(day: date, tz: tzinfo) -> int:
    """Unix time of a calendar day's first moment in the clinic's time zone."""
    return int(datetime.combine(day, clock(0), tzinfo=tz).timestamp())


def parse_plan_request(data: Mapping[str, Any] | NewPlan, library: Library, *,
                       tz: tzinfo) -> PlanRequest:
    """Validate a new plan of care from any front."""
    body: NewPlan = _struct(data, NewPlan)
    if body.condition not in library.conditions:
        raise VisitInputError("condition", "is not a condition of the library")
    starts_at = None
    if body.starts_on is not None:
        try:
            starts_at = day_start(date.fromisoformat(body.starts_on), tz)
        except ValueError:
            raise VisitInputError("starts_on", "is not a date of the calendar") from None
    email = (body.therapist_email or "").strip() or None
    if email is not None and not schemas.is_email_address(email):
        raise VisitInputError("therapist_email", "must be an email address")
    return PlanRequest(
        condition=body.condition,
        goals=clean_name(body.goals, "goals", required=False, max_length=MAX_GOALS) or "",
        starts_at=starts_at, weeks=body.weeks, therapist_email=email)
