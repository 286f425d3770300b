"""Error answers by route: JSON under /api/ (and for JSON requests), a readable page elsewhere."""

from __future__ import annotations

from aiohttp import web

from server.http.errors import json_error, wants_json
from server.http.templating import render


def error_response(request: web.Request, status: int, code: str, message: str,
                   title: str | None = None) -> web.Response:
    """The error as JSON or as an HTML page, by route."""
    if wants_json(request):
        return json_error(status, code, message)
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
