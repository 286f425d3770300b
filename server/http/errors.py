"""Errors as the API answers them: `{"error": {"code", "message"}}` (pages: server.http.error_pages)."""

from __future__ import annotations

from aiohttp import web


class ApiError(Exception):
    """An error to answer with a status, a machine code and a human message."""

    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        """Headers the answer carries (`Retry-After` of a 429)."""


def wants_json(request: web.Request) -> bool:
    """API routes and JSON requests get JSON; pages get HTML."""
    return (request.path.startswith("/api/") or request.content_type == "application/json"
            or request.headers.get("Accept", "").startswith("application/json"))


def json_error(status: int, code: str, message: str) -> web.Response:
    """A JSON error body."""
    return web.json_response({"error": {"code": code, "message": message}}, status=status)
