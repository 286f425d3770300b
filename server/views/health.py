"""Health check and the front page."""

from __future__ import annotations

import asyncio

from aiohttp import web

from server.auth.client_address import from_this_machine, trusted_proxy_set
from server.auth.staff import load_user
from server.keys import CONFIG, DB, ROUTER
from server.http.templating import render


async def healthz(request: web.Request) -> web.StreamResponse:
    """GET /healthz: 200 with the database status, 503 when the database does not answer.

    `schema_version`, `sockets` (open visit WebSockets) and `tasks` (asyncio tasks) let
    monitoring and the soak benchmark see that what a day of visits starts, it also ends.
    They describe how busy the clinic is, so only signed-in staff, a trusted proxy
    forwarding a client on its own machine (loopback), or, with `health_loopback`, a
    request straight over loopback see them; anyone else gets the status alone.
    """
    try:
        version = await request.app[DB].schema_version()
    except Exception:  # any database failure is reported, not raised
        return web.json_response({"status": "error", "database": "unavailable"}, status=503)
    body: dict[str, object] = {"status": "ok", "database": "ok"}
    config = request.app[CONFIG]
    local = from_this_machine(request, trusted_proxy_set(config.trusted_proxies),
                              direct_loopback=config.health_loopback)
    if local or await load_user(request) is not None:
        body.update({"schema_version": version, "sockets": request.app[ROUTER].counts()["sockets"],
                     "tasks": len(asyncio.all_tasks())})
    return web.json_response(body)


async def home(request: web.Request) -> web.StreamResponse:
    """GET /: what this server is, and where staff sign in."""
    return render(request, "home.html")
