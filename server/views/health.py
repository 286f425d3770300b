"""Health check and the front page."""

from __future__ import annotations

from aiohttp import web

from server.app import DB
from server.templating import render


async def healthz(request: web.Request) -> web.StreamResponse:
    """GET /healthz: 200 with the database status, 503 when the database does not answer."""
    try:
        version = await request.app[DB].schema_version()
    except Exception:  # any database failure is reported, not raised
        return web.json_response({"status": "error", "database": "unavailable"}, status=503)
    return web.json_response({"status": "ok", "database": "ok", "schema_version": version})


async def home(request: web.Request) -> web.StreamResponse:
    """GET /: what this server is, and where staff sign in."""
    return render(request, "home.html")
