"""The OpenAPI 3.1 description of the REST API, served at /api/openapi.json.

Generated: the schemas come from the Structs in `server.http.schemas` (msgspec's JSON Schema),
and each operation from one row of `OPERATIONS` (path, method, operationId, tag, summary,
parameters, body, responses, examples). The operationIds name the functions a generated
client has (`create_visit`, `cancel_visit`, …).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, get_args

import msgspec

from server.auth.policy import describe_scopes
from server.library.model import PHASES

from server.care.ids import PATIENT_ID_PATTERN
from server.http.care_schemas import (
    CARE_REQUESTS,
    CARE_RESPONSES,
    NewPatient,
    NewPlan,
    Patient,
    PatientList,
    PatientRecord,
    Plan,
)
from server.http.schemas import (
    ISO_TIME_PATTERN,
    LINKS_VALUES,
    MAX_QUERY_LENGTH,
    REQUESTS,
    RESPONSES,
    Error,
    NewGuest,
    NewVisit,
    Status,
    Visit,
    VisitList,
)
from signaling.ids import (
    NAMED_ROLES,
    PARTICIPANT_ID_PATTERN,
    SLUG_MAX_LENGTH,
    SLUG_PATTERN,
    VISIT_ID_PATTERN,
)

_REF = "#/components/schemas/{name}"

EXAMPLE_VISIT_ID = "v_Q2xpbmljVmlzaXQx"
_LINK = "https://visits.example-clinic.org/join/" + EXAMPLE_VISIT_ID + "?token=eyJhbGciOiJFZERTQSJ9.e30.c2ln"
EXAMPLE_VISIT: dict[str, Any] = {
    "visit_id": EXAMPLE_VISIT_ID, "status": "scheduled", "kind": "follow-up",
    "starts_at": "2030-03-02T09:30:00Z", "ends_at": "2030-03-02T10:15:00Z",
    "minutes": 45, "capacity": 2, "patient_url": _LINK, "therapist_url": _LINK,
    "participants": [
        {"id": "p_UGF0aWVudE9uZTAx", "role": "patient", "name": "Maya Lopez", "url": _LINK},
        {"id": "p_VGhlcmFwaXN0MDAx", "role": "therapist", "name": "Sam Lee", "url": _LINK},
    ],
    "assignments": [],
}
"""A visit as the API shows it (tests check it against the `Visit` schema)."""
EXAMPLE_PATIENT_ID = "pt_UGF0aWVudFJlY29y"
EXAMPLE_PATIENT: dict[str, Any] = {
    "patient_id": EXAMPLE_PATIENT_ID, "name": "Maya Lopez", "birth_date": "1992-04-17",
    "email": "maya@example.org", "email_consent": True, "phone": None, "phone_consent": False,
    "language": "en", "external_id": "MRN-004211", "created_at": "2030-03-01T08:00:00Z",
}
"""A patient as the API lists her (tests check it against the `Patient` schema)."""
EXAMPLE_PLAN: dict[str, Any] = {
    "plan_id": "pl_UGxhbk9mQ2FyZTAx", "condition": "pelvic-girdle-pain",
    "goals": "Lift her baby from the floor without pain", "starts_at": "2030-03-02T00:00:00Z",
    "ends_at": "2030-04-27T00:00:00Z", "weeks": 8, "status": "active", "therapist_id": 2,
    "url": "https://visits.example-clinic.org/care/pl_UGxhbk9mQ2FyZTAx?token=eyJhbGciOiJFZERTQSJ9.e30.c2ln",
}
EXAMPLE_RECORD: dict[str, Any] = {
    **EXAMPLE_PATIENT, "plans": [EXAMPLE_PLAN], "visits": [EXAMPLE_VISIT | {
        "patient_url": None, "therapist_url": None, "participants": [
            {**p, "url": None} for p in EXAMPLE_VISIT["participants"]]}],
    "program": [], "outcomes": [], "adherence": None,
}
_EXAMPLE_GUEST = {"id": "p_R3Vlc3RJbnRlcnAx", "role": "guest", "name": "Ana Ruiz", "url": _LINK}


@dataclass(frozen=True)
class Operation:
    """One operation of the API, as a row of the table below."""

    path: str
    method: str
    operation_id: str
    tag: str
    summary: str
    ok: tuple[int, str, type[msgspec.Struct] | dict[str, Any]]
    """The success status, its description and its body's schema (a Struct or JSON Schema)."""
    example: Any
    """The success body, as an example."""
    errors: dict[int, str] = field(default_factory=dict)
    description: str = ""
    parameters: tuple[dict[str, Any], ...] = ()
    body: type[msgspec.Struct] | None = None
    body_example: dict[str, Any] | None = None
    public: bool = False
    """Open without an API key."""
    cached: bool = False
    """Answers 304 to a matching If-None-Match."""


def _path_param(name: str, pattern: str, example: str, description: str = "",
                max_length: int | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "pattern": pattern}
    if max_length is not None:
        schema["maxLength"] = max_length
    param = {"name": name, "in": "path", "required": True, "example": example,
             "schema": schema}
    if description:
        param["description"] = description
    return param


def _query_param(name: str, schema: dict[str, Any], example: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "example": example, "description": description}


_VISIT_ID = _path_param("visit_id", f"^{VISIT_ID_PATTERN}$", EXAMPLE_VISIT_ID)
_SEAT = _path_param("participant", f"^({'|'.join(NAMED_ROLES)}|{PARTICIPANT_ID_PATTERN})$",
                    "patient", "'patient', 'therapist', or a guest's participant id.")
_SLUG = _path_param("slug", f"^{SLUG_PATTERN}$", "pelvic-girdle-pain",
                    max_length=SLUG_MAX_LENGTH)
_PATIENT_ID = _path_param("patient_id", f"^{PATIENT_ID_PATTERN}$", EXAMPLE_PATIENT_ID)
_BAD_BODY = {400: "The body is not a JSON object.", 415: "The body is not application/json."}
_NO_VISIT = {404: "No such visit."}
_LIBRARY = {"type": "object"}  # the library's content has no schema of its own yet
_ISO_TIME = {"type": "string", "pattern": ISO_TIME_PATTERN}

OPERATIONS: tuple[Operation, ...] = (
    Operation("/api/openapi.json", "get", "getOpenApi", "meta", "This document",
              (200, "The OpenAPI document", {"type": "object"}),
              {"openapi": "3.1.0", "info": {"title": "Visitroom API", "version": "1.0"}},
              public=True),
    Operation("/api/library/conditions", "get", "listConditions", "library",
              "Conditions of the library",
              (200, "Conditions, in the library's order", _LIBRARY),
              {"conditions": [{"slug": "pelvic-girdle-pain", "name": "Pelvic girdle pain",
                               "aliases": ["PGP"], "phase": "pregnancy",
                               "gist": "Pain at the back or front of the pelvis."}]},
              parameters=(
                  _query_param("q", {"type": "string", "maxLength": MAX_QUERY_LENGTH}, "pelvic",
                               "Searches names and aliases."),
                  _query_param("phase", {"enum": list(PHASES)}, "pregnancy",
                               "Conditions of this phase (and of any phase)."),
              ), public=True, cached=True,
              errors={400: "A query parameter is not acceptable."}),
    Operation("/api/library/conditions/{slug}", "get", "getCondition", "library",
              "One condition with its exercises", (200, "The condition", _LIBRARY),
              {"slug": "pelvic-girdle-pain", "name": "Pelvic girdle pain", "exercises": []},
              {404: "No such condition in the library."}, parameters=(_SLUG,), public=True,
              cached=True),
    Operation("/api/library/exercises", "get", "listExercises", "library", "All exercises",
              (200, "Exercises by name", _LIBRARY),
              {"exercises": [{"slug": "pelvic-tilt", "name": "Pelvic tilt",
                              "summary": "Rock the pelvis gently.", "dosage": "10 times"}]},
              public=True, cached=True),
    Operation("/api/library/exercises/{slug}", "get", "getExercise", "library",
              "One exercise with its demo poses", (200, "The exercise", _LIBRARY),
              {"slug": "pelvic-tilt", "name": "Pelvic tilt", "poses": {}},
              {404: "No such exercise in the library."},
              parameters=(_path_param("slug", "^[a-z0-9-]{1,80}$", "pelvic-tilt"),),
              public=True, cached=True),
    Operation("/api/visits", "post", "createVisit", "visits", "Create a visit and its links",
              (201, "The new visit", Visit), EXAMPLE_VISIT,
              {**_BAD_BODY, 422: "A field is missing, unknown or not acceptable; the message names it."},
              body=NewVisit,
              body_example={"patient_name": "Maya Lopez", "therapist_name": "Sam Lee",
                            "starts_at": "2030-03-02T09:30", "kind": "follow-up"}),
    Operation("/api/visits", "get", "listVisits", "visits", "List visits",
              (200, "Visits, earliest first", VisitList), {"visits": [EXAMPLE_VISIT]},
              {400: "A query parameter is not acceptable."},
              parameters=(
                  _query_param("from", _ISO_TIME, "2030-03-01",
                               "ISO 8601; visits starting at or after (clinic time zone "
                               "without an offset)."),
                  _query_param("to", _ISO_TIME, "2030-04-01",
                               "ISO 8601; visits starting before."),
                  _query_param("status", {"enum": list(get_args(Status))},
                               "scheduled", "Only visits in this state."),
                  _query_param("links", {"enum": list(LINKS_VALUES)}, "false",
                               "true: include each participant's link (signed on request)."),
              )),
    Operation("/api/visits/{visit_id}", "get", "getVisit", "visits", "One visit",
              (200, "The visit", Visit), EXAMPLE_VISIT, _NO_VISIT, parameters=(_VISIT_ID,)),
    Operation("/api/visits/{visit_id}/cancel", "post", "cancelVisit", "visits",
              "Cancel a visit; every link of it stops working",
              (200, "The cancelled visit", Visit), {**EXAMPLE_VISIT, "status": "cancelled"},
              {**_NO_VISIT, 409: "The visit is cancelled or ended already."},
              parameters=(_VISIT_ID,)),
    Operation("/api/visits/{visit_id}/participants", "post", "addGuest", "participants",
              "Add a guest (interpreter, partner) with a link of her own",
              (201, "The visit with the guest's link in participants", Visit),
              {**EXAMPLE_VISIT, "capacity": 3,
               "participants": [*EXAMPLE_VISIT["participants"], _EXAMPLE_GUEST]},
              {**_BAD_BODY, **_NO_VISIT, 409: "The visit is cancelled or ended, or full.",
               422: "The name is missing or not acceptable."},
              parameters=(_VISIT_ID,), body=NewGuest, body_example={"name": "Ana Ruiz"}),
    Operation("/api/visits/{visit_id}/participants/{participant}/reissue", "post",
              "reissueLink", "participants",
              "Give a participant a new link; the old one stops working",
              (200, "The visit with the new link", Visit), EXAMPLE_VISIT,
              {404: "No such visit or participant.", 409: "The visit is cancelled."},
              description="Allowed while the visit is scheduled and after it ended (the new "
                          "link reopens the home program). The new link's holder waits to be "
                          "admitted again.",
              parameters=(_VISIT_ID, _SEAT)),
    Operation("/api/visits/{visit_id}/participants/{participant}/revoke", "post",
              "revokeLink", "participants",
              "Stop a participant's link without giving a new one",
              (200, "The visit", Visit), EXAMPLE_VISIT,
              {404: "No such visit or participant.", 409: "The visit is cancelled."},
              description="The link opens nothing from now on (call and home program); her "
                          "live connection closes. Re-issue gives her a new link.",
              parameters=(_VISIT_ID, _SEAT)),
)

OPERATIONS = OPERATIONS + (
    Operation("/api/patients", "post", "createPatient", "patients", "Create a patient record",
              (201, "The new patient", Patient), EXAMPLE_PATIENT,
              {**_BAD_BODY, 422: "A field is missing, unknown or not acceptable (an external "
                                 "id another patient has); the message names it."},
              body=NewPatient,
              body_example={"name": "Maya Lopez", "email": "maya@example.org",
                            "email_consent": True, "external_id": "MRN-004211"}),
    Operation("/api/patients", "get", "listPatients", "patients", "Find patients",
              (200, "One page of patients, by name", PatientList),
              {"patients": [EXAMPLE_PATIENT], "next_cursor": None},
              {400: "A query parameter is not acceptable."},
              parameters=(
                  _query_param("q", {"type": "string", "maxLength": MAX_QUERY_LENGTH}, "maya",
                               "A name's beginning (any case), or an external id or email "
                               "exactly."),
                  _query_param("limit", {"type": "string", "pattern": "^[0-9]{1,3}$"}, "50",
                               "Patients a page, 1 to 100 (default 50)."),
                  _query_param("cursor", {"type": "string", "maxLength": 1200}, "",
                               "The next_cursor of the page before."),
              )),
    Operation("/api/patients/{patient_id}", "get", "getPatient", "patients",
              "One patient with her plans, visits, program, outcomes and adherence",
              (200, "The patient's record", PatientRecord), EXAMPLE_RECORD,
              {404: "No such patient."}, parameters=(_PATIENT_ID,),
              description="Plan links (`plans[].url`) are given only to a key that may "
                          "change patients' care."),
    Operation("/api/patients/{patient_id}", "put", "updatePatient", "patients",
              "Change a patient's record (contact details, consents, language, the clinic's id)",
              (200, "The patient as she is now", Patient), EXAMPLE_PATIENT,
              {**_BAD_BODY, 404: "No such patient.",
               422: "A field is missing, unknown or not acceptable (an external id another "
                    "patient has); the message names it."},
              parameters=(_PATIENT_ID,), body=NewPatient,
              description="The whole record, as when creating her. Withdrawing email consent "
                          "or changing the address also drops the emails queued for her.",
              body_example={"name": "Maya Lopez", "email": "maya@example.org",
                            "email_consent": False, "external_id": "MRN-004211"}),
    Operation("/api/patients/{patient_id}/plans", "post", "createPlan", "patients",
              "Start a plan of care, with her plan link",
              (201, "The new plan; `url` is her plan link: send it to her alone", Plan),
              EXAMPLE_PLAN,
              {**_BAD_BODY, 404: "No such patient.",
               422: "A field is missing, unknown or not acceptable; the message names it."},
              parameters=(_PATIENT_ID,), body=NewPlan,
              body_example={"condition": "pelvic-girdle-pain", "weeks": 8,
                            "goals": "Lift her baby from the floor without pain"}),
)

_AUTH_ERRORS = {401: "Missing, unknown or revoked API key.",
                403: "The API key's scopes do not allow this operation (code `forbidden`). "
                     f"{describe_scopes()}.",


                429: "Too many wrong API keys came from this address; every key from it "
                     "waits Retry-After seconds.",
                503: "The database is locked by another process for a moment; retry after "
                     "Retry-After seconds."}
_TAGS = (
    {"name": "visits", "description": "Create, find and cancel visits."},
    {"name": "participants", "description": "Guests and the links of each participant."},
    {"name": "patients", "description": "Patient records and their plans of care."},
    {"name": "library", "description": "The public condition and exercise library."},
    {"name": "meta", "description": "This description."},
)


def _schema(shape: type[msgspec.Struct] | dict[str, Any]) -> dict[str, Any]:
    if isinstance(shape, dict):
        return shape
    return {"$ref": _REF.format(name=shape.__name__)}


def _json(description: str, shape: type[msgspec.Struct] | dict[str, Any],
          example: Any = None) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": _schema(shape)}
    if example is not None:
        media["example"] = example
    return {"description": description, "content": {"application/json": media}}


def _operation(op: Operation) -> dict[str, Any]:
    status, description, shape = op.ok
    responses: dict[str, Any] = {str(status): _json(description, shape, op.example)}
    if op.cached:
        responses["304"] = {"description": "Not modified (If-None-Match matched the ETag)"}
    errors = dict(op.errors) if op.public else {**op.errors, **_AUTH_ERRORS}
    for code in sorted(errors):
        responses[str(code)] = _json(errors[code], Error)
    out: dict[str, Any] = {"operationId": op.operation_id, "tags": [op.tag],
                           "summary": op.summary}
    if op.description:
        out["description"] = op.description
    if op.public:
        out["security"] = []
    if op.parameters:
        out["parameters"] = list(op.parameters)
    if op.body is not None:
        out["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": _schema(op.body), "example": op.body_example}}}
    out["responses"] = responses
    return out


def components() -> dict[str, Any]:
    """The JSON Schemas of every request and response body, generated from their Structs."""
    _, schemas = msgspec.json.schema_components(
        REQUESTS + RESPONSES + CARE_REQUESTS + CARE_RESPONSES, ref_template=_REF)
    return schemas


@lru_cache(maxsize=4)
def document(server_url: str) -> dict[str, Any]:
    """The OpenAPI document for a server at this URL (built once; do not change it)."""
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Visitroom API",
            "version": "1.0",
            "description": "Create and manage virtual physical-therapy visits. Authenticate "
                           "with an API key from the admin pages: `Authorization: Bearer <key>`.",
        },
        "servers": [{"url": server_url}],
        "security": [{"apiKey": []}],
        "tags": list(_TAGS),
        "components": {
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
            "schemas": components(),
        },
        "paths": paths,
    }

