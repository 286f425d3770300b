"""The clinic's look as every process serves it: a snapshot of the admin's settings kept
in memory (pages and emails are rendered without waiting on the database), read again at
most `REFRESH_SECONDS` after the last read, and at once by the process that saved them.

Pages read it as the template global `clinic` (`clinic.look`: `templates/base.html`);
code that composes an email takes `mail_values()` of `await clinic_look(app)` into its
template's context (`{{ clinic }}`, `{{ support_phone }}`: `templates/email/`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable

from aiohttp import web

from server.clinic.images import StoredImage
from server.keys import CLINIC_LOOK, DB
from server.storage import Database, DatabaseBusy
from server.storage.clinic_settings import (
    NO_SETTINGS,
    ClinicSettings,
    clinic_logo,
    clinic_settings,
)

log = logging.getLogger(__name__)

REFRESH_SECONDS = 5.0
"""How stale another process's save may be on this process's pages and emails."""
PHONE = re.compile(r"\+?[0-9(][0-9 ().\-]{2,28}[0-9]")
"""A support phone as the admin enters it and patients read it: digits with spaces,
brackets, dots or dashes, an optional leading +, ending in a digit; 4 to 30 characters."""
IMAGE_WORK = 2
"""Uploads decoded at once in a process (each may hold `images.MAX_PIXELS` in memory)."""
LOGO_PATH = "/clinic/logo"
THEME_PATH = "/clinic/theme.css"


@dataclass(frozen=True)
class ClinicLook:
    """What patients see of the clinic on pages and in emails."""

    name: str
    """The admin's name for the clinic, else the config's `clinic_name`."""
    phone: str | None
    """The support phone as entered; None: none shown."""
    accent: str | None
    """A custom accent (`#rrggbb`); None: today's (app.css)."""
    logo_version: int
    """The logo's version; 0 without a logo."""
    logo_width: int
    logo_height: int
    version: int
    """The settings' version (the theme's `?v=`)."""

    @property
    def tel(self) -> str:
        """The phone as a `tel:` URL (RFC 3966: the + and the digits)."""
        return "tel:" + re.sub(r"[^0-9+]", "", self.phone or "")

    @property
    def logo_url(self) -> str | None:
        """The logo's versioned URL; None without a logo."""
        return f"{LOGO_PATH}?v={self.logo_version}" if self.logo_version else None

    @property
    def theme_url(self) -> str | None:
        """The stylesheet that sets the accent, linked only when there is one."""
        return f"{THEME_PATH}?v={self.version}" if self.accent else None

    def theme_css(self) -> str:
        """That stylesheet: app.css's accent token, set again after it."""
        return ("/* The clinic's accent (admin settings); app.css has the rest. */\n"
                f":root {{ --accent: {self.accent}; }}\n" if self.accent else "")

    def mail_values(self) -> dict[str, str]:
        """The clinic as an email template reads it: `clinic` (the name) and
        `support_phone` (empty without one)."""
        return {"clinic": self.name, "support_phone": self.phone or ""}


def look_of(settings: ClinicSettings, default_name: str) -> ClinicLook:
    """The look the settings give (the defaults where nothing is set)."""
    return ClinicLook(settings.name or default_name, settings.support_phone, settings.accent,
                      settings.logo_version if settings.logo_type else 0,
                      settings.logo_width, settings.logo_height, settings.version)


class ClinicLooks:
    """This process's snapshot of the clinic's look, the logo's bytes it last served, and
    its image work (at most `IMAGE_WORK` uploads decoded at once; more wait their turn)."""

    def __init__(self, default_name: str) -> None:
        self._default_name = default_name
        self.look = look_of(NO_SETTINGS, default_name)
        self._read_at = float("-inf")
        self._reading: asyncio.Lock | None = None
        self._logo: tuple[bytes, str, int] | None = None
        self._image_work: asyncio.Semaphore | None = None

    async def decode(self, work: Callable[[bytes], StoredImage], data: bytes) -> StoredImage:
        """`work` (`images.logo_image`, `images.photo_image`) on `data` in a helper thread:
        nothing slow runs on the event loop."""
        if self._image_work is None:
            self._image_work = asyncio.Semaphore(IMAGE_WORK)
        async with self._image_work:
            return await asyncio.to_thread(work, data)

    def stale(self) -> bool:
        """Whether the snapshot was read more than `REFRESH_SECONDS` ago."""
        return time.monotonic() - self._read_at > REFRESH_SECONDS

    async def refresh(self, db: Database, *, wait: bool = False) -> ClinicLook:
        """Read the settings now (one short query); a request that finds a read under way
        goes on with the snapshot it has (unless it must `wait`: the save that changed
        them), and a busy database keeps it too."""
        if self._reading is None:
            self._reading = asyncio.Lock()
        if self._reading.locked() and not wait:
            return self.look
        async with self._reading:
            try:
                settings = await clinic_settings(db)
            except DatabaseBusy:
                log.warning("clinic settings not read (database busy); the last ones stay")
                return self.look
            self.look = look_of(settings, self._default_name)
            self._read_at = time.monotonic()
        return self.look

    async def fresh(self, db: Database) -> ClinicLook:
        """The snapshot, read again first when it is stale."""
        return await self.refresh(db) if self.stale() else self.look

    async def logo(self, db: Database) -> tuple[bytes, str, int] | None:
        """The logo's bytes, type and version, from memory while the version holds."""
        if not self.look.logo_version:
            return None
        if self._logo is None or self._logo[2] != self.look.logo_version:
            self._logo = await clinic_logo(db)
        return self._logo


async def clinic_look(app: web.Application) -> ClinicLook:
    """The clinic's look now, for code without a request (a job composing an email)."""
    return await app[CLINIC_LOOK].fresh(app[DB])


@web.middleware
async def fresh_look(request: web.Request, handler: Any) -> web.StreamResponse:
    """Read the settings again before a request when the snapshot is stale (another
    process may have saved new ones)."""
    looks = request.app[CLINIC_LOOK]
    if looks.stale() and not request.path.startswith("/static/"):
        await looks.refresh(request.app[DB])
    return await handler(request)


async def clinic_look_ctx(app: web.Application) -> AsyncIterator[None]:
    """Read the settings once the database is open, before the first request."""
    await app[CLINIC_LOOK].refresh(app[DB])
    yield

