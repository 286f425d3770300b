"""Every shared service of the application, as a typed key on the aiohttp Application.

This module is a leaf: it imports nothing of Visitroom at run time (the types are for
the type checker only), so any module can name the services it needs without importing
the factory, and no import cycles can start here. `server.app.create_app` fills them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    import jinja2

    from server.auth.login_throttle import LoginThrottle
    from server.auth.passwords import PasswordPool
    from server.auth.tokens import KeyRing
    from server.care.service import CareService
    from server.clinic.look import ClinicLooks
    from server.runtime.config import Config
    from server.runtime.jobs import JobRunner
    from server.runtime.outbox_runner import OutboxRunner
    from server.library.model import Library
    from server.measure.definitions import Definitions
    from server.http.static_files import StaticFiles
    from server.storage import Database
    from server.visits.presence import TherapistPresence
    from server.visits.service import VisitService
    from signaling.echo import EchoPool
    from signaling.endpoint import SignalingEndpoint
    from signaling.router import Router

CONFIG: web.AppKey[Config] = web.AppKey("config")
DB: web.AppKey[Database] = web.AppKey("db")
KEYRING: web.AppKey[KeyRing] = web.AppKey("keyring")
VISITS: web.AppKey[VisitService] = web.AppKey("visits")
CARE: web.AppKey[CareService] = web.AppKey("care")
TEMPLATES: web.AppKey[jinja2.Environment] = web.AppKey("templates")
ROUTER: web.AppKey[Router] = web.AppKey("router")
SIGNALING: web.AppKey[SignalingEndpoint] = web.AppKey("signaling")
ECHO: web.AppKey[EchoPool] = web.AppKey("echo")
PRESENCE: web.AppKey[TherapistPresence] = web.AppKey("presence")
STATIC: web.AppKey[StaticFiles] = web.AppKey("static")
LIBRARY: web.AppKey[Library] = web.AppKey("library")
MEASUREMENTS: web.AppKey[Definitions] = web.AppKey("measurements")
PASSWORDS: web.AppKey[PasswordPool] = web.AppKey("passwords")
LOGIN_THROTTLE: web.AppKey[LoginThrottle] = web.AppKey("login_throttle")
API_KEY_THROTTLE: web.AppKey[LoginThrottle] = web.AppKey("api_key_throttle")
AUDIT_SECRET: web.AppKey[str] = web.AppKey("audit_secret")
JOBS: web.AppKey[JobRunner] = web.AppKey("jobs")
OUTBOX: web.AppKey[OutboxRunner] = web.AppKey("outbox")
CLINIC_LOOK: web.AppKey[ClinicLooks] = web.AppKey("clinic_look")
