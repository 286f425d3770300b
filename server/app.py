"""The application factory and every shared service key.

`create_app(config)` builds the aiohttp application; resources open and close in
`cleanup_ctx` generators. Nothing else creates shared state.
"""

from __future__ import annotations

from pathlib import Path
from typing import AsyncIterator

import jinja2
from aiohttp import web

from server.auth.tokens import KeyRing
from server.config import Config
from server.library.loader import Library, load_library
from server.static_files import StaticFiles
from server.storage import Database, open_database
from server.visits import VisitService
from signaling.bus import Bus
from signaling.echo import EchoPool
from signaling.endpoint import SignalingEndpoint
from signaling.rooms import RoomRegistry

ROOT = Path(__file__).resolve().parent.parent
WEB_DIR = ROOT / "web"
TEMPLATES_DIR = ROOT / "templates"
MAX_BODY_BYTES = 64 * 1024

CONFIG = web.AppKey("config", Config)
DB = web.AppKey("db", Database)
KEYRING = web.AppKey("keyring", KeyRing)
VISITS = web.AppKey("visits", VisitService)
TEMPLATES = web.AppKey("templates", jinja2.Environment)
BUS = web.AppKey("bus", Bus)
ROOMS = web.AppKey("rooms", RoomRegistry)
SIGNALING = web.AppKey("signaling", SignalingEndpoint)
ECHO = web.AppKey("echo", EchoPool)
STATIC = web.AppKey("static", StaticFiles)
LIBRARY = web.AppKey("library", Library)


async def _database_ctx(app: web.Application) -> AsyncIterator[None]:
    from server.bootstrap import ensure_admin

    db = await open_database(app[CONFIG].db, app[CONFIG].db_busy_seconds)
    ring = KeyRing(db)
    await ring.load()
    await ensure_admin(db, app[CONFIG])
    app[DB] = db
    app[KEYRING] = ring
    app[VISITS] = VisitService(db, ring, app[CONFIG])
    yield
    await db.close()


def create_app(config: Config) -> web.Application:
    """Build the Visitroom web application for these settings."""
    from server import live, middleware, templating
    from server.views import routes

    app = web.Application(
        middlewares=[middleware.error_pages, middleware.csrf_cookie],
        client_max_size=MAX_BODY_BYTES,
    )
    app[CONFIG] = config
    # A broken content file raises LibraryError here, before the server listens.
    app[LIBRARY] = load_library(config.library_dir)
    app[TEMPLATES] = templating.environment(TEMPLATES_DIR, config)
    app[STATIC] = StaticFiles(WEB_DIR)
    app.cleanup_ctx.append(_database_ctx)
    app.cleanup_ctx.append(live.signaling_ctx)
    app.on_response_prepare.append(middleware.security_headers)
    routes.register(app)
    app.router.add_get("/static/{path:.+}", app[STATIC].handle)
    return app
