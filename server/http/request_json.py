"""Reading a JSON body from a request, with the API's errors.

`read_body` decodes straight into the request's schema (a Struct of `server.http.schemas`):
415 when the body is not application/json, 400 when it is not a JSON object, 422 naming
the field that is missing, unknown or not acceptable.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from aiohttp import web

from server.http.errors import ApiError
from server.http.schemas import explain

T = TypeVar("T", bound=msgspec.Struct)

_MALFORMED = "The body is not valid JSON."
_NOT_AN_OBJECT = "The body must be a JSON object."


async def _raw(request: web.Request) -> bytes:
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "Send the body as application/json.")
    return await request.read()


async def read_body(request: web.Request, schema: type[T]) -> T:
    """The body decoded into `schema`, or the API error that says what is wrong with it."""
    raw = await _raw(request)
    try:
        return msgspec.json.decode(raw, type=schema)
    except msgspec.ValidationError as exc:
        problem = explain(schema, exc)
    except (msgspec.DecodeError, RecursionError):
        raise ApiError(400, "malformed_json", _MALFORMED) from None
    if problem.field is None:
        raise ApiError(400, "malformed_json", _NOT_AN_OBJECT)
    try:
        # A body that is not JSON all through is a 400 even when a field failed first.
        msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        raise ApiError(400, "malformed_json", _MALFORMED) from None
    if problem.unknown:
        raise ApiError(422, "unknown_field", f"Unknown field: {problem.field}")
    raise ApiError(422, "invalid_field", str(problem))


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object; 415 when not application/json, 400 when not an object."""
    raw = await _raw(request)
    try:
        body = msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        raise ApiError(400, "malformed_json", _MALFORMED) from None
    if not isinstance(body, dict):
        raise ApiError(400, "malformed_json", _NOT_AN_OBJECT)
    return body
