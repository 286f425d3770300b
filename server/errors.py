"""Error answers: JSON `{"error": {"code", "message"}}` under /api/, a readable page elsewhere."""

from __future__ import annotations

from aiohttp import web


class ApiError(Exception):
    """An error to answer with a status, a machine code and a human message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def wants_json(request: web.Request) -> bool:
    """API routes and JSON requests get JSON; pages get HTML."""
    return (request.path.startswith("/api/") or request.content_type == "application/json"
            or request.headers.get("Accept", "").startswith("application/json"))


def json_error(status: int, code: str, message: str) -> web.Response:
    """A JSON error body."""
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def error_response(request: web.Request, status: int, code: str, message: str,
                   title: str | None = None) -> web.Response:
    """The error as JSON or as an HTML page, by route."""
    if wants_json(request):
        return json_error(status, code, message)
    from server.templating import render

    return render(request, "error.html", {"title": title or _TITLES.get(status, "Error"),
                                          "message": message, "status": status}, status=status)


_TITLES = {
    400: "That did not work",
    401: "Please sign in",
    403: "Not allowed",
    404: "Page not found",
    405: "Not allowed",
    409: "That cannot be done now",
    413: "Too large",
    422: "Please check the form",
    500: "Something went wrong",
    503: "Busy for a moment",
}
