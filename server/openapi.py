"""The OpenAPI 3.1 description of the REST API, served at /api/openapi.json."""

from __future__ import annotations

from typing import Any

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}

_VISIT = {
    "type": "object",
    "required": ["visit_id", "status", "kind", "starts_at", "ends_at", "minutes", "capacity",
                 "patient_url", "therapist_url", "participants", "assignments"],
    "properties": {
        "visit_id": {"type": "string", "pattern": "^v_[A-Za-z0-9_-]{16}$"},
        "status": {"enum": ["scheduled", "cancelled", "ended"]},
        "kind": {"enum": ["intro", "evaluation", "follow-up"]},
        "starts_at": {"type": "string", "format": "date-time"},
        "ends_at": {"type": "string", "format": "date-time"},
        "minutes": {"type": "integer"},
        "capacity": {"type": "integer"},
        "patient_url": {"type": "string", "format": "uri",
                        "description": "The patient's link; send it to her."},
        "therapist_url": {"type": "string", "format": "uri"},
        "assignments": {
            "type": "array",
            "description": "The home program: exercises assigned to the patient.",
            "items": {"type": "object", "required": ["id", "exercise", "sets", "reps"],
                      "properties": {"id": {"type": "integer"}, "exercise": {"type": "string"},
                                     "sets": {"type": "integer"}, "reps": {"type": "integer"},
                                     "hold_seconds": {"type": "integer"},
                                     "per_day": {"type": "integer"},
                                     "per_week": {"type": "integer"},
                                     "note": {"type": "string"}}},
        },
        "participants": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "role", "name", "url"],
                "properties": {"id": {"type": "string"},
                               "role": {"enum": ["patient", "therapist", "guest"]},
                               "name": {"type": "string"},
                               "url": {"type": "string", "format": "uri"}},
            },
        },
    },
}

_NEW_VISIT = {
    "type": "object",
    "required": ["patient_name"],
    "additionalProperties": False,
    "properties": {
        "patient_name": {"type": "string", "minLength": 1, "maxLength": 100},
        "therapist_name": {"type": "string", "maxLength": 100},
        "therapist_email": {"type": "string", "format": "email",
                            "description": "An active therapist account; not with therapist_name."},
        "starts_at": {"type": "string", "format": "date-time",
                      "description": "ISO 8601; without an offset, the clinic's time zone. "
                                     "Default: now."},
        "minutes": {"type": "integer", "minimum": 1, "maximum": 240,
                    "description": "Default by kind: intro 10, evaluation 60, follow-up 45."},
        "kind": {"enum": ["intro", "evaluation", "follow-up"], "default": "follow-up"},
        "capacity": {"type": "integer", "minimum": 2, "maximum": 4, "default": 2},
    },
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_VISIT_REF = {"$ref": "#/components/schemas/Visit"}
_VISIT_ID = {"name": "visit_id", "in": "path", "required": True,
             "schema": {"type": "string", "pattern": "^v_[A-Za-z0-9_-]{16}$"}}
_AUTH_ERRORS = {"401": _error("Missing, unknown or revoked API key."),
                "503": _error("The database is locked by another process for a moment; "
                              "retry after Retry-After seconds.")}


def _public_get(summary: str, schema: dict[str, Any], *, slug: bool = False) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": _ok(summary, schema),
                                 "304": {"description": "Not modified (If-None-Match matched the ETag)"}}
    if slug:
        responses["404"] = _error("No such entry in the library.")
    operation: dict[str, Any] = {"summary": summary, "security": [], "responses": responses}
    if slug:
        operation["parameters"] = [{"name": "slug", "in": "path", "required": True,
                                    "schema": {"type": "string", "pattern": "^[a-z0-9-]{1,80}$"}}]
    return {"get": operation}


def _library_paths() -> dict[str, Any]:
    listing = {"type": "object"}
    return {
        "/api/library/conditions": _public_get("Conditions (?q= searches names and aliases, "
                                               "?phase= pregnancy|postpartum|any)", listing),
        "/api/library/conditions/{slug}": _public_get("One condition with its exercises", listing,
                                                      slug=True),
        "/api/library/exercises": _public_get("All exercises", listing),
        "/api/library/exercises/{slug}": _public_get("One exercise with its demo poses", listing,
                                                     slug=True),
    }


def document(server_url: str) -> dict[str, Any]:
    """The OpenAPI document for a server at this URL."""
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
        "components": {
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": _ERROR, "Visit": _VISIT, "NewVisit": _NEW_VISIT},
        },
        "paths": {
            "/api/openapi.json": {
                "get": {"summary": "This document", "security": [],
                        "responses": {"200": _ok("The OpenAPI document", {"type": "object"})}},
            },
            **_library_paths(),
            "/api/visits": {
                "post": {
                    "summary": "Create a visit and its two links",
                    "requestBody": {"required": True, "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/NewVisit"}}}},
                    "responses": {
                        "201": _ok("The new visit", _VISIT_REF),
                        "400": _error("The body is not a JSON object."),
                        **_AUTH_ERRORS,
                        "415": _error("The body is not application/json."),
                        "422": _error("A field is missing or not acceptable."),
                    },
                },
                "get": {
                    "summary": "List visits",
                    "parameters": [
                        {"name": "from", "in": "query", "schema": {"type": "string"},
                         "description": "ISO 8601; visits starting at or after."},
                        {"name": "to", "in": "query", "schema": {"type": "string"},
                         "description": "ISO 8601; visits starting before."},
                        {"name": "status", "in": "query",
                         "schema": {"enum": ["scheduled", "cancelled", "ended"]}},
                    ],
                    "responses": {
                        "200": _ok("Visits, earliest first", {
                            "type": "object", "required": ["visits"],
                            "properties": {"visits": {"type": "array", "items": _VISIT_REF}}}),
                        "400": _error("A query parameter is not acceptable."),
                        **_AUTH_ERRORS,
                    },
                },
            },
            "/api/visits/{visit_id}": {
                "get": {
                    "summary": "One visit",
                    "parameters": [_VISIT_ID],
                    "responses": {"200": _ok("The visit", _VISIT_REF), **_AUTH_ERRORS,
                                  "404": _error("No such visit.")},
                },
            },
            "/api/visits/{visit_id}/cancel": {
                "post": {
                    "summary": "Cancel a visit; every link of it stops working",
                    "parameters": [_VISIT_ID],
                    "responses": {"200": _ok("The cancelled visit", _VISIT_REF), **_AUTH_ERRORS,
                                  "404": _error("No such visit."),
                                  "409": _error("The visit is cancelled or ended already.")},
                },
            },
            "/api/visits/{visit_id}/participants": {
                "post": {
                    "summary": "Add a guest (interpreter, partner) with a link of her own",
                    "parameters": [_VISIT_ID],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {
                        "type": "object", "required": ["name"], "additionalProperties": False,
                        "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 100}},
                    }}}},
                    "responses": {"201": _ok("The visit with the guest's link in participants",
                                             _VISIT_REF),
                                  "400": _error("The body is not a JSON object."), **_AUTH_ERRORS,
                                  "404": _error("No such visit."),
                                  "409": _error("The visit is cancelled or ended, or full."),
                                  "415": _error("The body is not application/json."),
                                  "422": _error("The name is missing or not acceptable.")},
                },
            },
            "/api/visits/{visit_id}/participants/{role}/reissue": {
                "post": {
                    "summary": "Give a participant a new link; the old one stops working",
                    "parameters": [_VISIT_ID, {"name": "role", "in": "path", "required": True,
                                               "schema": {"enum": ["patient", "therapist"]}}],
                    "responses": {"200": _ok("The visit with the new link", _VISIT_REF),
                                  **_AUTH_ERRORS, "404": _error("No such visit or role."),
                                  "409": _error("The visit is cancelled or ended.")},
                },
            },
        },
    }
