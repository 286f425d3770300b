"""Health check and the front page."""

from __future__ import annotations

import asyncio

from aiohttp import web

from server.app import DB, SIGNALING
from server.templating import render


async def healthz(request: web.Request) -> web.StreamResponse:
    """GET /healthz: 200 with the database status, 503 when the database does not answer.

    `sockets` (open visit WebSockets) and `tasks` (asyncio tasks) let monitoring and the
    soak benchmark see that what a day of visits starts, it also ends.
    """
    try:
        version = await request.app[DB].schema_version()
    except Exception:  # any database failure is reported, not raised
        return web.json_response({"status": "error", "database": "unavailable"}, status=503)
    return web.json_response({"status": "ok", "database": "ok", "schema_version": version,
                              "sockets": request.app[SIGNALING].connections,
                              "tasks": len(asyncio.all_tasks())})


async def home(request: web.Request) -> web.StreamResponse:
    """GET /: what this server is, and where staff sign in."""
    return render(request, "home.html")
