"""Error answers by route: JSON under /api/ (and for JSON requests), a readable page elsewhere.

Messages and titles are message ids (marked with `N_` where they are written) and are
translated here, into the request's language.
"""

from __future__ import annotations

from aiohttp import web

from server.http.errors import json_error, wants_json
from server.http.i18n import N_, translate
from server.http.templating import render, request_language


def error_response(request: web.Request, status: int, code: str, message: str,
                   title: str | None = None) -> web.Response:
    """The error as JSON or as an HTML page, by route, in the request's language."""
    language = request_language(request)
    message = translate(language, message)
    if wants_json(request):
        return json_error(status, code, message)
    title = translate(language, title or _TITLES.get(status, N_("Error")))
    return render(request, "error.html", {"title": title, "message": message, "status": status},
                  status=status)


_TITLES = {
    400: N_("That did not work"),
    401: N_("Please sign in"),
    403: N_("Not allowed"),
    404: N_("Page not found"),
    405: N_("Not allowed"),
    409: N_("That cannot be done now"),
    413: N_("Too large"),
    422: N_("Please check the form"),
    500: N_("Something went wrong"),
    503: N_("Busy for a moment"),
}
