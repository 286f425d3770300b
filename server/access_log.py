"""The HTTP access log: method, path without its query, status and time.

The query string is left out because a visit link carries its token there.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger


class AccessLogger(AbstractAccessLogger):
    """Logs one line a request, never a query string, cookie or body."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info("%s %s %s %.1fms", request.method, request.rel_url.path,
                         response.status, time * 1000)
