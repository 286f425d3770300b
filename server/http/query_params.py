"""Reading the API's query parameters as the OpenAPI document states them.

Each parameter is given at most once (`?links=true&links=false` says two things), and
within its documented rule: a length, a list of values, or a pattern. Anything else is a
400 `bad_parameter` that names the parameter, and the request changes nothing.
"""

from __future__ import annotations

import re
from typing import Iterable

from aiohttp import web

from server.http.errors import ApiError


def query_value(request: web.Request, name: str, *, max_length: int | None = None,
                choices: Iterable[str] | None = None,
                pattern: str | None = None) -> str | None:
    """The parameter's one value (None when absent), checked against its rule."""
    values = request.query.getall(name, [])
    if len(values) > 1:
        raise ApiError(400, "bad_parameter", f"{name} may be given only once.")
    if not values:
        return None
    value = values[0]
    if max_length is not None and len(value) > max_length:
        raise ApiError(400, "bad_parameter", f"{name} must be at most {max_length} characters.")
    if choices is not None:
        allowed = list(choices)
        if value not in allowed:
            raise ApiError(400, "bad_parameter", f"{name} must be one of {', '.join(allowed)}.")
    if pattern is not None and re.fullmatch(pattern, value) is None:
        raise ApiError(400, "bad_parameter", f"{name} is not in the documented form.")
    return value
