"""Reading a JSON object from a request body, with the API's errors."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from server.errors import ApiError


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object; 415 when not application/json, 400 when not an object."""
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "Send the body as application/json.")
    try:
        body = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(400, "malformed_json", "The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "malformed_json", "The body must be a JSON object.")
    return body
