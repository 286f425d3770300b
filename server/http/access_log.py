"""The HTTP access log, and aiohttp's own error lines kept to one line without addresses.

The access log has method, path without its query, status and time; the query string is
left out because a visit link carries its token there.
"""

from __future__ import annotations

import logging

from aiohttp import web, web_response
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError

SERVER_HEADER = "Visitroom"
"""What the Server header says: no library or language versions."""


class AccessLogger(AbstractAccessLogger):
    """Logs one line a request, never a query string, cookie or body."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info("%s %s %s %.1fms", request.method, request.rel_url.path,
                         response.status, time * 1000)


class ClientErrorsInOneLine(logging.Filter):
    """Rewrites aiohttp's record of a request it could not parse (a header too large, a bad
    request line) into one WARNING line with the status and the kind of fault: no traceback, and no
    client address (aiohttp's line names it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError) and 400 <= (exc.code or 400) < 500:
            # The class names the fault; the message may quote what the client sent.
            record.msg = "refused an unreadable request: %s %s"
            record.args = (exc.code, type(exc).__name__)
            record.exc_info = None
            record.exc_text = None
            record.levelno = logging.WARNING
            record.levelname = "WARNING"
        return True


_FILTER = ClientErrorsInOneLine()


async def quiet_protocol_errors(app: web.Application) -> None:
    """Install the one-line filter on aiohttp's server logger and a version-free Server
    header (also on the answers aiohttp writes itself, before any handler runs)."""
    logging.getLogger("aiohttp.server").addFilter(_FILTER)  # adding twice keeps one
    # aiohttp fills in "Python/x.y aiohttp/x.y.z" from this module constant wherever a
    # response has no Server header, including its own 400s for unparseable requests.
    web_response.SERVER_SOFTWARE = SERVER_HEADER  # type: ignore[attr-defined]
