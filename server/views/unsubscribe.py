"""Stopping email reminders from the link in one, without signing in.

`GET /unsubscribe/{patient_id}?token=…` asks her to confirm (a mail scanner that follows
links changes nothing); the button POSTs to the same address, which is also the
`List-Unsubscribe` target that mail apps call with one click (RFC 8058). Either way the
token, a live `unsubscribe` link of hers, is the authority: no cookie, no CSRF token.
"""

from __future__ import annotations

from aiohttp import web

from server.care.ids import is_patient_id
from server.http.error_pages import error_response
from server.http.i18n import N_
from server.http.templating import render
from server.keys import CARE
from server.views.language import speak_to_patient


def _patient_id(request: web.Request) -> str:
    patient_id = request.match_info["patient_id"]
    if not is_patient_id(patient_id):
        raise web.HTTPNotFound()
    return patient_id


async def confirm(request: web.Request) -> web.StreamResponse:
    """GET: the question, with the button that stops the emails."""
    _patient_id(request)
    token = request.query.get("token", "")
    if not token:
        return _refused(request)
    return render(request, "care/unsubscribe.html", {"token": token, "done": False})


async def unsubscribe(request: web.Request) -> web.StreamResponse:
    """POST: stop her email reminders (one click from a mail app, or the page's button)."""
    patient_id = _patient_id(request)
    if not await request.app[CARE].unsubscribe(patient_id, request.query.get("token", "")):
        return _refused(request)
    await speak_to_patient(request, patient_id)  # her link proved whose page this is
    return render(request, "care/unsubscribe.html", {"token": "", "done": True})


def _refused(request: web.Request) -> web.Response:
    return error_response(request, 403, "bad_unsubscribe_link",
                          N_("This link cannot stop emails. Use the link in the most recent "
                             "email, or ask the clinic."), title=N_("Link not valid"))
