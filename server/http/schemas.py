"""The REST API's bodies as typed schemas (msgspec Structs), declared once.

Requests are decoded into these Structs at the edge (`server.http.request_json.read_body`), and
the OpenAPI document's components are generated from them (`server.http.openapi`); forms and the
command line go through the same Structs (`convert_text`). What a schema cannot say (names
without control characters, one therapist field of two, a start time in the clinic's zone)
is checked after it, in `server.visits.service`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Mapping, TypeVar

import msgspec
from msgspec import Meta, Struct

from server.library.fields import DOSE_LIMITS
from server.measure.definitions import shipped as shipped_measurements
from signaling.ids import PARTICIPANT_ID_PATTERN, SLUG_MAX_LENGTH, VISIT_ID_PATTERN

KIND_MINUTES: dict[str, int] = {"intro": 10, "evaluation": 60, "follow-up": 45}
"""Visit kinds and the length each has when none is given (`Kind` lists the same)."""
Kind = Literal["intro", "evaluation", "follow-up"]
Status = Literal["scheduled", "cancelled", "ended"]
Role = Literal["patient", "therapist", "guest"]
MAX_MINUTES = 240
MAX_NAME_LENGTH = 100
MAX_EMAIL_LENGTH = 254
MIN_CAPACITY, MAX_CAPACITY = 2, 4


def is_email_address(value: str) -> bool:
    """The shape of a staff account's email: an @, no white space, at most
    `MAX_EMAIL_LENGTH` characters (the account's own mail proves the rest)."""
    return (0 < len(value) <= MAX_EMAIL_LENGTH and "@" in value
            and not any(c.isspace() for c in value))

VisitId = Annotated[str, Meta(pattern=f"^{VISIT_ID_PATTERN}$", examples=["v_Q2xpbmljVmlzaXQx"])]
Url = Annotated[str, Meta(extra_json_schema={"format": "uri"})]
Timestamp = Annotated[str, Meta(extra_json_schema={"format": "date-time"},
                                examples=["2030-03-02T09:30:00Z"])]
NAME_FORBIDDEN = (r"\x00-\x1f\x7f-\x9f\xad\u061c\u180e\u200b\u200e\u200f\u2028-\u202e"
                  r"\u2060-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff")
"""What no name or note may hold, as the body of a regex character class (one text for
Python's `re` and JSON Schema's ECMA-262): control characters (C0, C1), invisible and
direction-changing format characters, line and paragraph separators, lone surrogates.
The zero-width joiner and non-joiner stay: Persian and Indic names and emoji need them."""
NAME_PATTERN = rf"^[^{NAME_FORBIDDEN}]*[^\s{NAME_FORBIDDEN}][^{NAME_FORBIDDEN}]*$"
"""A name: something besides spaces, and nothing `NAME_FORBIDDEN`."""
OPTIONAL_NAME_PATTERN = rf"^[^{NAME_FORBIDDEN}]*$"
"""A name that may be left blank."""
ISO_TIME_PATTERN = (r"^$|^(?!0000)[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
                    r"(T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?"
                    r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?)?$")
"""A query's date or date-time: ISO 8601 (`2030-03-01`, `2030-03-01T09:30`, with seconds,
fraction and `Z` or an offset as wanted), or empty for none."""
MAX_QUERY_LENGTH = 100
"""Longest search text."""
LINKS_VALUES = ("true", "false")
"""What `links` of a visit list may say."""

LANGUAGE_PATTERN = r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})*$"
"""A BCP 47 language tag's shape (`es`, `pt-BR`)."""
# Checked by `visit_input.clean_language` (the shape, then Babel), which says what is wrong
# in words; msgspec's message would quote the pattern.
Language = Annotated[str, Meta(max_length=35, extra_json_schema={"pattern": LANGUAGE_PATTERN},
                               examples=["en", "es"])]

# Not validated by msgspec (its message would quote the pattern): `visit_input.clean_name`
# checks the same rule and says what is wrong in words.
Name = Annotated[str, Meta(min_length=1, max_length=MAX_NAME_LENGTH,
                           extra_json_schema={"pattern": NAME_PATTERN})]


class NewVisit(Struct, forbid_unknown_fields=True, kw_only=True):
    """A request to create a visit."""

    patient_name: Annotated[Name, Meta(
        description="How the patient is greeted; by default her record's name "
                    "(required without patient_id or patient_external_id).",
        examples=["Maya Lopez"])] | None = None
    patient_id: Annotated[str, Meta(
        max_length=40, description="Her patient record (see /api/patients); the visit joins "
        "her active plan of care.", examples=["pt_UGF0aWVudFJlY29y"])] | None = None
    patient_external_id: Annotated[str, Meta(
        max_length=64, description="Her record by the clinic's own id (not with patient_id).",
        examples=["MRN-004211"])] | None = None
    plan_id: Annotated[str, Meta(
        max_length=40, description="One of her plans of care, when she has several active.",
        examples=["pl_UGxhbk9mQ2FyZTAx"])] | None = None
    therapist_name: Annotated[str, Meta(max_length=MAX_NAME_LENGTH,
                                        extra_json_schema={"pattern": OPTIONAL_NAME_PATTERN},
                                        description="Not with therapist_email.")] | None = None
    therapist_email: Annotated[str, Meta(
        max_length=MAX_EMAIL_LENGTH, extra_json_schema={"format": "email"},
        description="An active therapist account; not with therapist_name.")] | None = None
    starts_at: Annotated[str, Meta(
        max_length=40, extra_json_schema={"format": "date-time"},
        description="ISO 8601; without an offset, the clinic's time zone. Default: now.")] | None = None
    minutes: Annotated[int, Meta(ge=1, le=MAX_MINUTES, description=(
        "Default by kind: " + ", ".join(f"{k} {m}" for k, m in KIND_MINUTES.items()) + "."))] | None = None
    kind: Kind = "follow-up"
    capacity: Annotated[int, Meta(ge=MIN_CAPACITY, le=MAX_CAPACITY,
                                  description="How many may be in the call at once.")] = MIN_CAPACITY
    language: Annotated[Language, Meta(description=(
        "The patient's pages' language for this visit. Default: her record's language "
        "(with patient_id), else what her browser asks for."))] | None = None


class NewGuest(Struct, forbid_unknown_fields=True):
    """A guest to add to a visit (an interpreter, a partner)."""

    name: Annotated[Name, Meta(examples=["Ana Ruiz"])]


MAX_NOTE = 500


def _dose(field: str) -> Any:
    low, high = DOSE_LIMITS[field]
    return Annotated[int, Meta(ge=low, le=high)] | None


class NewAssignment(Struct, forbid_unknown_fields=True, kw_only=True):
    """An exercise for the patient's home program; a dosage left out is the exercise's own."""

    exercise: Annotated[str, Meta(max_length=SLUG_MAX_LENGTH, examples=["glute-bridge"])]
    sets: _dose("sets") = None
    reps: _dose("reps") = None
    hold_seconds: _dose("hold_seconds") = None
    per_day: _dose("per_day") = None
    per_week: _dose("per_week") = None
    note: Annotated[str, Meta(max_length=MAX_NOTE)] | None = None


class AssignmentChange(Struct, forbid_unknown_fields=True, kw_only=True):
    """A new dosage or note for an assigned exercise; what is left out stays as it was."""

    exercise: Annotated[str, Meta(max_length=SLUG_MAX_LENGTH)] | None = None
    sets: _dose("sets") = None
    reps: _dose("reps") = None
    hold_seconds: _dose("hold_seconds") = None
    per_day: _dose("per_day") = None
    per_week: _dose("per_week") = None
    note: Annotated[str, Meta(max_length=MAX_NOTE)] | None = None


MAX_REPS = shipped_measurements().limits.reps
"""Repetitions one measured result, or one logged exercise, may count (measurements.json `limits`)."""
MAX_SECONDS = shipped_measurements().limits.seconds
"""How long one result may have been measured, and the last time of its trace."""
MAX_TRACE = shipped_measurements().limits.trace_points
"""Points of a result's trace at most: [seconds, value] pairs for a small chart."""


class MeasurementResult(Struct, forbid_unknown_fields=True, kw_only=True):
    """A result measured on the patient's device in the call, as the therapist's page saves
    it (`POST /visits/{visit_id}/measurements`). What a schema cannot say (a measurement of
    web/measure/measurements.json, its side, its range, an exercise it measures, a trace in
    time order) is checked after it, in `server/views/measurements.py`."""

    measurement: Annotated[str, Meta(max_length=40, examples=["knee_flexion"])]
    side: Literal["left", "right"] | None = None
    peak: Annotated[float, Meta(description="The best value, in the measurement's unit.")]
    reps: Annotated[int, Meta(ge=0, le=MAX_REPS)]
    seconds: Annotated[float, Meta(ge=0, le=MAX_SECONDS)]
    exercise: Annotated[str, Meta(max_length=SLUG_MAX_LENGTH)] | None = None
    trace: Annotated[list[tuple[float, float]], Meta(max_length=MAX_TRACE)] | None = None


class Participant(Struct, kw_only=True):
    """One person of a visit with her link."""

    id: Annotated[str, Meta(pattern=f"^{PARTICIPANT_ID_PATTERN}$")]
    role: Role
    name: str
    url: Annotated[Url | None, Meta(
        description="Her link; send it to her alone (a list carries it only with links=true).")] = None


class Assignment(Struct, kw_only=True):
    """One exercise of the patient's home program."""

    id: int
    visit_id: VisitId
    participant_id: str
    exercise: str
    sets: int
    reps: int
    hold_seconds: int
    per_day: int
    per_week: int
    note: str
    created_at: Annotated[int, Meta(description="Unix time.")]


class ChatMessage(Struct, kw_only=True):
    """A chat message of the visit's call or waiting room, kept with it
    (`VISITROOM_CHAT_STORE=on`)."""

    id: str
    sent_at: Timestamp
    sender_id: Annotated[str, Meta(pattern=f"^{PARTICIPANT_ID_PATTERN}$")]
    sender_role: Role
    sender_name: Annotated[str, Meta(description="Her name as the room knew it.")]
    to: Annotated[str | None, Meta(description=(
        "null: written in the call; else the waiting participant whose exchange with the "
        "therapist it belongs to."))] = None
    text: Annotated[str, Meta(description="Plain text, as written (never HTML).")]


class Visit(Struct, kw_only=True):
    """A visit as the API shows it (the same JSON as `run.py create-visit --json`)."""

    visit_id: VisitId
    status: Status
    kind: Kind
    starts_at: Timestamp
    ends_at: Timestamp
    minutes: int
    capacity: int
    patient_url: Annotated[Url | None, Meta(description="The patient's link; send it to her.")] = None
    therapist_url: Url | None = None
    participants: list[Participant]
    patient_id: Annotated[str | None, Meta(description="Her patient record, if any.")] = None
    plan_id: Annotated[str | None, Meta(
        description="The plan of care the visit is part of; its program is the plan's.")] = None
    assignments: Annotated[list[Assignment], Meta(
        description="The home program: exercises assigned to the patient.")]
    chat: Annotated[list[ChatMessage], Meta(description=(
        "The visit's chat, oldest first: only in `getVisit`, only when the server keeps chat "
        "(or kept some), and only for a key with patients:read (it may carry health "
        "details); the latest 500 messages (a visit keeps at most 2,000: `chat_more`)."
    ))] | msgspec.UnsetType = msgspec.UNSET
    chat_more: Annotated[bool, Meta(description=(
        "With `chat`: true when the visit keeps earlier messages than the 500 returned."
    ))] | msgspec.UnsetType = msgspec.UNSET


class VisitList(Struct):
    """Visits, earliest first."""

    visits: list[Visit]


class ErrorDetail(Struct):
    """What went wrong: a code for programs, a message for people."""

    code: Annotated[str, Meta(examples=["invalid_field"])]
    message: Annotated[str, Meta(examples=["minutes must be between 1 and 240"])]


class Error(Struct):
    """Every error the API answers."""

    error: ErrorDetail


REQUESTS: tuple[type[Struct], ...] = (NewVisit, NewGuest)
RESPONSES: tuple[type[Struct], ...] = (Visit, VisitList, Error)

T = TypeVar("T", bound=Struct)


class SchemaError(ValueError):
    """A body its schema refused, explained for people."""

    def __init__(self, field: str | None, message: str, *, unknown: bool = False) -> None:
        super().__init__(f"{field} {message}" if field else message)
        self.field = field
        """The field at fault; None when the body as a whole is."""
        self.message = message
        self.unknown = unknown
        """The field is not one the schema has."""


def _field_type(cls: type[Struct], name: str) -> msgspec.inspect.Type | None:
    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)
    field = next((f for f in info.fields if f.name == name), None)
    if field is None:
        return None
    kind = field.type
    if isinstance(kind, msgspec.inspect.UnionType):
        kind = next(t for t in kind.types if not isinstance(t, msgspec.inspect.NoneType))
    while isinstance(kind, msgspec.inspect.Metadata):
        kind = kind.type
    return kind


def _rule(kind: msgspec.inspect.Type | None, problem: str) -> str:
    """The rule a field breaks, in words, from its schema."""
    wrong_type = problem.startswith("Expected `") and ", got `" in problem
    if isinstance(kind, msgspec.inspect.IntType):
        if wrong_type or kind.ge is None or kind.le is None:
            return "must be a whole number"
        return f"must be between {kind.ge} and {kind.le}"
    if isinstance(kind, msgspec.inspect.StrType):
        if wrong_type:
            return "must be text"
        if kind.min_length and "length >=" in problem:
            return "is required"
        if kind.max_length is not None:
            return f"must be at most {kind.max_length} characters"
    if isinstance(kind, msgspec.inspect.LiteralType):
        return "must be one of " + ", ".join(sorted(str(v) for v in kind.values))
    if isinstance(kind, msgspec.inspect.FloatType):
        if wrong_type or kind.ge is None or kind.le is None:
            return "must be a number"
        return f"must be a number from {kind.ge:g} to {kind.le:g}"
    if isinstance(kind, msgspec.inspect.ListType) and kind.max_length is not None:
        return f"must be a list of at most {kind.max_length} items, each as documented"
    return "is not valid"


def explain(cls: type[Struct], exc: msgspec.ValidationError) -> SchemaError:
    """A refusal from msgspec, said in words that name the field."""
    text = str(exc)
    if text.startswith("Object contains unknown field `"):
        return SchemaError(text.split("`")[1], "is not a field of this request", unknown=True)
    if text.startswith("Object missing required field `"):
        return SchemaError(text.split("`")[1], "is required")
    marker = " - at `$."
    if marker not in text:
        return SchemaError(None, "The body must be a JSON object.")
    field = text.split(marker, 1)[1].split("`", 1)[0].split(".")[0].split("[")[0]
    return SchemaError(field, _rule(_field_type(cls, field), text))


def convert_text(data: Mapping[str, Any], cls: type[T]) -> T:
    """A Struct from a form's or the command line's values (text, empty for unset).

    Fields the Struct does not have are left out (a form carries its CSRF token), and
    numbers written as text are read as numbers.
    """
    fields = {name: value for name in cls.__struct_fields__
              if (value := data.get(name)) is not None and value != ""}
    try:
        return msgspec.convert(fields, cls, strict=False)
    except msgspec.ValidationError as exc:
        raise explain(cls, exc) from None
