"""The admin's clinic settings (`/admin/settings`): the clinic's name, logo, accent colour
and support phone, shown on every patient page and in every email (`server/clinic/`).

Only the clinic admin may open or post it (`MANAGE_CLINIC`); the form is multipart, read
with caps and its CSRF token checked before the logo is decoded (`clinic/upload.py`). One
post costs at most 5 MB read, one image decoded in a helper thread (two at once in a
process: `ClinicLooks.decode`) and one transaction; a refused post stores nothing.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from server.auth.policy import Action
from server.clinic.contrast import AA_NORMAL_TEXT, HEX_COLOUR, accent_problem
from server.clinic.images import LOGO_BOX, ImageRefused, StoredImage, logo_image
from server.clinic.look import PHONE
from server.clinic.upload import read_image_form
from server.http.templating import render, see_other
from server.keys import CLINIC_LOOK, CONFIG, DB
from server.storage import audit_events as audit
from server.storage.clinic_settings import (
    ClinicSettings,
    clinic_settings,
    save_clinic_settings,
    set_clinic_logo,
)
from server.storage.events import record_event
from server.views.guards import staff_may
from server.visits.visit_input import VisitInputError, clean_name

NAME_MAX = 100
"""The longest clinic name."""


async def _page(request: web.Request, *, error: str | None = None,
                values: dict[str, str] | None = None, status: int = 200) -> web.Response:
    stored = await clinic_settings(request.app[DB])
    shown = values if values is not None else {
        "name": stored.name or "", "accent": stored.accent or "",
        "support_phone": stored.support_phone or ""}
    return render(request, "admin/settings.html", {
        "values": shown, "error": error, "saved": request.query.get("saved") == "1",
        "look": request.app[CLINIC_LOOK].look, "default_name": request.app[CONFIG].clinic_name,
        "needed": f"{AA_NORMAL_TEXT:g}", "logo_box": LOGO_BOX, "name_max": NAME_MAX},
        status=status)


async def settings_page(request: web.Request) -> web.StreamResponse:
    """GET /admin/settings."""
    await staff_may(request, Action.MANAGE_CLINIC)
    return await _page(request)


def _text_settings(fields: dict[str, str]) -> tuple[str | None, str | None, str | None]:
    """The form's name, accent and phone, checked (None: the default); raises ValueError
    with the admin's message."""
    try:
        name = clean_name(fields.get("name"), "name", required=False, max_length=NAME_MAX)
    except VisitInputError as exc:
        raise ValueError(f"Name {exc.message}.") from None
    accent = fields.get("accent", "").strip() or None
    if accent is not None:
        if not HEX_COLOUR.fullmatch(accent):
            raise ValueError("Enter the accent colour as # and six hexadecimal digits, "
                             "such as #0b5cad.")
        accent = accent.lower()
        problem = accent_problem(accent)
        if problem is not None:
            raise ValueError(problem.message())
    phone = " ".join(fields.get("support_phone", "").split()) or None
    if phone is not None and not PHONE.fullmatch(phone):
        raise ValueError("Enter the support phone with digits, spaces, brackets, dots or "
                         "dashes and an optional leading +, such as +1 (555) 010-0199.")
    return name, accent, phone


def _changed(before: ClinicSettings, after: dict[str, Any]) -> list[str]:
    return [field for field, value in after.items() if getattr(before, field) != value]


async def save_settings(request: web.Request) -> web.StreamResponse:
    """POST /admin/settings (multipart: name, accent, support_phone, logo, remove_logo)."""
    admin = await staff_may(request, Action.MANAGE_CLINIC)
    try:
        form = await read_image_form(request, "logo")
    except ImageRefused as refused:
        return await _page(request, error=refused.message, status=refused.status)
    values = {k: form.fields.get(k, "") for k in ("name", "accent", "support_phone")}
    try:
        name, accent, phone = _text_settings(form.fields)
        logo: StoredImage | None = None
        if form.file is not None:
            logo = await request.app[CLINIC_LOOK].decode(logo_image, form.file)
    except ValueError as exc:
        return await _page(request, error=str(exc), values=values, status=422)
    except ImageRefused as refused:
        return await _page(request, error=refused.message, values=values,
                           status=refused.status)
    db, now = request.app[DB], int(time.time())
    before = await clinic_settings(db)
    fields = _changed(before, {"name": name, "accent": accent, "support_phone": phone})
    remove = form.fields.get("remove_logo") == "on" and before.logo_type is not None
    async with db.transaction() as conn:
        await save_clinic_settings(conn, name=name, accent=accent, support_phone=phone, now=now)
        if logo is not None:
            await set_clinic_logo(conn, logo.data, logo.content_type, logo.width, logo.height)
        elif remove:
            await set_clinic_logo(conn, None, None, 0, 0)
        if logo is not None or remove:
            fields.append("logo")
        if fields:
            await record_event(conn, audit.ClinicSettingsChanged(fields=fields),
                               actor=admin.audit, now=now)
    await request.app[CLINIC_LOOK].refresh(db, wait=True)
    return see_other("/admin/settings?saved=1")
