"""The application factory.

`create_app(config)` builds the aiohttp application and fills the service keys of
`server.keys`; resources open and close in `cleanup_ctx` generators. Nothing else creates
shared state.
"""

from __future__ import annotations

from pathlib import Path
from typing import AsyncIterator

from aiohttp import web

from server.http import access_log, middleware, templating
from server.auth.login_throttle import LoginThrottle
from server.auth.passwords import PasswordPool
from server.auth.tokens import KeyRing
from server.runtime.bootstrap import ensure_admin
from server.runtime.config import Config
from server.runtime.helper_threads import helper_threads_ctx
from server.runtime.housekeeping import purge_kind
from server.runtime.jobs import job_runner, jobs_ctx
from server.runtime.outbox_runner import outbox_ctx
from server.keys import (
    API_KEY_THROTTLE,
    AUDIT_SECRET,
    CARE,
    CLINIC_LOOK,
    CONFIG,
    DB,
    JOBS,
    KEYRING,
    LIBRARY,
    MEASUREMENTS,
    LOGIN_THROTTLE,
    PASSWORDS,
    STATIC,
    TEMPLATES,
    VISITS,
)
from server.library.loader import load_library
from server.runtime.memory import memory_release_ctx
from server.visits.signaling_wiring import drain_signaling, node_header, signaling_ctx
from server.http.static_files import StaticFiles
from server.measure.definitions import load_definitions
from server.measure.vendor_files import vendor_file
from server.care.reminders import compose_kind
from server.care.service import CareService
from server.clinic.look import ClinicLooks, clinic_look_ctx, fresh_look
from server.storage import open_store
from server.storage.server_secrets import audit_tag_secret
from server.views import routes
from server.visits.service import VisitService

ROOT = Path(__file__).resolve().parent.parent
WEB_DIR = ROOT / "web"
TEMPLATES_DIR = ROOT / "templates"
MAX_BODY_BYTES = 64 * 1024



async def _database_ctx(app: web.Application) -> AsyncIterator[None]:
    db = await open_store(app[CONFIG])
    ring = KeyRing(db)
    await ring.load()
    await ensure_admin(db, app[CONFIG])
    app[DB] = db
    app[KEYRING] = ring
    app[VISITS] = VisitService(db, ring, app[CONFIG])
    app[CARE] = CareService(db, ring, app[CONFIG])
    yield
    await db.close()


async def _login_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    app[AUDIT_SECRET] = await audit_tag_secret(app[DB])
    app[LOGIN_THROTTLE] = LoginThrottle(
        address_failures=config.login_address_failures,
        window_seconds=config.login_lockout_minutes * 60,
        global_per_minute=config.login_global_per_minute)
    # Wrong API keys from one address wait as failed sign-ins do (the same limit and window).
    app[API_KEY_THROTTLE] = LoginThrottle(
        address_failures=config.login_address_failures,
        window_seconds=config.login_lockout_minutes * 60,
        global_per_minute=config.login_global_per_minute)
    pool = app[PASSWORDS] = PasswordPool(config.password_threads)
    yield
    pool.close()


def create_app(config: Config) -> web.Application:
    """Build the Visitroom web application for these settings."""
    app = web.Application(
        middlewares=[middleware.error_pages, middleware.csrf_cookie, fresh_look],
        client_max_size=MAX_BODY_BYTES,
    )
    app[CONFIG] = config
    # A broken content file raises LibraryError here, before the server listens.
    app[LIBRARY] = load_library(config.library_dir, config.emergency_number)
    app[MEASUREMENTS] = load_definitions(exercise_slugs=frozenset(app[LIBRARY].exercises))
    app[TEMPLATES] = templating.environment(TEMPLATES_DIR, config)
    # The clinic's look (server/clinic/look.py): pages read it as `clinic`.
    app[CLINIC_LOOK] = app[TEMPLATES].globals["clinic"] = ClinicLooks(config.clinic_name)
    app[STATIC] = StaticFiles(WEB_DIR)
    app[JOBS] = job_runner(app)
    app[JOBS].register(purge_kind(config))
    app[JOBS].register(compose_kind(config.reminder_seconds))
    app.cleanup_ctx.append(helper_threads_ctx)
    app.cleanup_ctx.append(_database_ctx)
    app.cleanup_ctx.append(_login_ctx)
    app.cleanup_ctx.append(clinic_look_ctx)
    app.cleanup_ctx.append(signaling_ctx)
    app.cleanup_ctx.append(jobs_ctx)
    app.cleanup_ctx.append(outbox_ctx)
    app.cleanup_ctx.append(memory_release_ctx)
    app.on_response_prepare.append(middleware.security_headers)
    app.on_response_prepare.append(node_header)
    app.on_shutdown.append(drain_signaling)
    app.on_startup.append(access_log.quiet_protocol_errors)
    routes.register(app)
    app.router.add_get("/static/{path:.+}", app[STATIC].handle)
    app.router.add_get("/vendor/{path:.+}", vendor_file)
    return app
