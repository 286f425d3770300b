"""Patients and plans as the API shows them (`server.http.care_schemas`), and the cursor
that pages the patient list."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import msgspec

from server.http import care_schemas
from server.storage import Database
from server.storage.patients import Patient, name_key, search_patients
from server.storage.plans import Plan
from server.visits.times import iso_time


def patient_json(patient: Patient) -> dict[str, Any]:
    """A patient as the list shows her."""
    return msgspec.to_builtins(patient_struct(patient))


def patient_struct(patient: Patient) -> care_schemas.Patient:
    """A patient as the `Patient` schema."""
    return care_schemas.Patient(
        patient_id=patient.id, name=patient.name, birth_date=patient.birth_date,
        email=patient.email, email_consent=patient.email_consent, phone=patient.phone,
        phone_consent=patient.phone_consent, language=patient.language,
        external_id=patient.external_id, created_at=iso_time(patient.created_at))


def plan_json(plan: Plan, url: str | None = None) -> dict[str, Any]:
    """A plan as the API shows it; `url` is her plan link where the reader may have it."""
    return msgspec.to_builtins(care_schemas.Plan(
        plan_id=plan.id, condition=plan.condition, goals=plan.goals,
        starts_at=iso_time(plan.starts_at), ends_at=iso_time(plan.ends_at), weeks=plan.weeks,
        status=plan.status,  # type: ignore[arg-type]
        therapist_id=plan.therapist_id, url=url))


def page_cursor(patient: Patient) -> str:
    """The cursor of the page after `patient` (opaque to the client)."""
    raw = json.dumps([name_key(patient.name), patient.id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


def read_cursor(cursor: str) -> tuple[str, str] | None:
    """The (name key, id) a cursor names; None when it is not one this server made."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, str) and len(v) <= 400 for v in value)):
        return value[0], value[1]
    return None


class BadCursor(ValueError):
    """A page cursor this server did not give."""


async def patient_list_page(db: Database, *, query: str, cursor: str | None,
                        limit: int) -> tuple[list[Patient], str | None]:
    """One page of patients matching `query` after `cursor`, and the cursor of the next
    page (None on the last); BadCursor for a cursor this server did not give."""
    after = read_cursor(cursor) if cursor else None
    if cursor and after is None:
        raise BadCursor(cursor)
    found = await search_patients(db, query=query, after=after, limit=limit + 1)
    page = found[:limit]
    return page, page_cursor(page[-1]) if len(found) > limit else None

