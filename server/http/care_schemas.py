"""The REST API's bodies for patients and plans of care (msgspec Structs), declared once.

As in `server.http.schemas`: requests are decoded into these at the edge, the OpenAPI
document's components come from them, and what a schema cannot say (names without control
characters, a language Babel knows, an active therapist) is checked after it, in
`server.care.patient_input`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import Meta, Struct

from server.care.ids import PATIENT_ID_PATTERN, PLAN_ID_PATTERN
from server.http.schemas import MAX_EMAIL_LENGTH, Language, Name, Timestamp
from signaling.ids import SLUG_MAX_LENGTH

PatientId = Annotated[str, Meta(pattern=f"^{PATIENT_ID_PATTERN}$",
                                examples=["pt_UGF0aWVudFJlY29y"])]
PlanId = Annotated[str, Meta(pattern=f"^{PLAN_ID_PATTERN}$", examples=["pl_UGxhbk9mQ2FyZTAx"])]
EXTERNAL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$"
"""An id from the clinic's EHR: letters, digits and . _ : / - (at most 64)."""
PHONE_PATTERN = r"^\+?[0-9][0-9 ()-]{4,24}$"
"""A phone number as people write it: digits, spaces, ( ) and -, an optional leading +."""
DATE_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
MAX_GOALS = 1000
MIN_WEEKS, MAX_WEEKS, DEFAULT_WEEKS = 1, 52, 8
"""A plan's expected length; care for these conditions runs 6 to 12 weeks as a rule."""
ExternalId = Annotated[str, Meta(max_length=64, pattern=EXTERNAL_ID_PATTERN,
                                 description="The clinic's own id for her (its EHR); unique.",
                                 examples=["MRN-004211"])]
Email = Annotated[str, Meta(max_length=MAX_EMAIL_LENGTH, extra_json_schema={"format": "email"})]


class NewPatient(Struct, forbid_unknown_fields=True, kw_only=True):
    """A patient record to create."""

    name: Annotated[Name, Meta(examples=["Maya Lopez"])]
    birth_date: Annotated[str, Meta(pattern=DATE_PATTERN, examples=["1992-04-17"])] | None = None
    email: Email | None = None
    email_consent: Annotated[bool, Meta(
        description="She agreed to email reminders (needs an email).")] = False
    phone: Annotated[str, Meta(pattern=PHONE_PATTERN, max_length=25)] | None = None
    phone_consent: Annotated[bool, Meta(
        description="She agreed to text reminders (needs a phone).")] = False
    language: Annotated[Language, Meta(
        description="Her pages' and emails' language (a BCP 47 tag).")] = "en"
    external_id: ExternalId | None = None


class NewPlan(Struct, forbid_unknown_fields=True, kw_only=True):
    """A plan of care to start for a patient."""

    condition: Annotated[str, Meta(max_length=SLUG_MAX_LENGTH, examples=["pelvic-girdle-pain"],
                                   description="A condition of the library (its slug).")]
    goals: Annotated[str, Meta(max_length=MAX_GOALS, examples=[
        "Lift her baby from the floor without pain"])] = ""
    starts_on: Annotated[str, Meta(pattern=DATE_PATTERN, examples=["2030-03-02"],
                                   description="Default: today (clinic time zone).")] | None = None
    weeks: Annotated[int, Meta(ge=MIN_WEEKS, le=MAX_WEEKS)] = DEFAULT_WEEKS
    therapist_email: Annotated[Email, Meta(
        description="The active therapist account that leads it.")] | None = None


class Plan(Struct, kw_only=True):
    """A plan of care as the API shows it."""

    plan_id: PlanId
    condition: str
    goals: str
    starts_at: Timestamp
    ends_at: Annotated[Timestamp, Meta(description="Its start plus its expected length.")]
    weeks: int
    status: Literal["active", "closed"]
    therapist_id: int | None
    url: Annotated[str | None, Meta(
        description="Her plan link (her home page); only on the record of one patient.")] = None


class Patient(Struct, kw_only=True):
    """A patient as the API lists her."""

    patient_id: PatientId
    name: str
    birth_date: str | None
    email: str | None
    email_consent: bool
    phone: str | None
    phone_consent: bool
    language: str
    external_id: str | None
    created_at: Timestamp


class PatientList(Struct, kw_only=True):
    """One page of patients, by name."""

    patients: list[Patient]
    next_cursor: Annotated[str | None, Meta(
        description="Give it as `cursor` for the next page; null on the last.")]


class PatientRecord(Patient, kw_only=True):
    """One patient with her plans, visits, home program, outcomes and adherence."""

    plans: list[Plan]
    visits: list[dict[str, Any]]
    program: Annotated[list[dict[str, Any]], Meta(
        description="The home program of her active plan: what she does now.")]
    outcomes: Annotated[list[dict[str, Any]], Meta(
        description="Questionnaire scores, oldest first.")]
    adherence: Annotated[dict[str, Any] | None, Meta(
        description="Sessions done of planned, last 7 and 28 days (active plan).")]


CARE_REQUESTS: tuple[type[Struct], ...] = (NewPatient, NewPlan)
CARE_RESPONSES: tuple[type[Struct], ...] = (Patient, PatientList, PatientRecord, Plan)
