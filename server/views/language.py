"""Which language a patient's pages speak: her own choice on the page, or hers as the clinic
recorded it.

`POST /language` is the pages' language switch (templates/_language_switch.html): a form
that works without script or account. It keeps her choice in the `visitroom_lang` cookie
and sends her back to the page she was on: a path of this site only, never another site
(docs/security.md T60). It stores nothing on the server and grants nothing, so it asks for
no CSRF token: a token would set a cookie on every patient page, link errors included, and
another site sending the form can only change the language her pages speak.

The views that know whose page they render say so (`speak_to_participant`,
`speak_to_patient`); `templating.request_language` then writes the page in her choice,
else her language, else her browser's (i18n.choose_language).
"""

from __future__ import annotations

import re

from aiohttp import web

from server.http.errors import ApiError
from server.http.i18n import LANGUAGE_COOKIE, LANGUAGES, N_
from server.http.templating import see_other, speak_to
from server.keys import CONFIG, DB
from server.storage.patients import get_patient
from server.storage.visits import Participant, Visit

MAX_FORM_BYTES = 4096
"""The switch's form: a language and the page to go back to."""
MAX_BACK_LENGTH = 2000
COOKIE_SECONDS = 365 * 24 * 3600
SAFE_BACK = re.compile(r"/(?![/\\])[!#-\[\]-~]*")
"""A path (and query) of this site: starts with one `/` (`//host` and `/\\host` name
another site to a browser), printable ASCII without spaces or backslashes."""


def safe_back(back: str) -> str:
    """Where the switch sends her: `back` when it is a path of this site, else the start page."""
    return back if len(back) <= MAX_BACK_LENGTH and SAFE_BACK.fullmatch(back) else "/"


async def switch(request: web.Request) -> web.StreamResponse:
    """POST /language: keep her choice of language in a cookie, 303 back to her page."""
    if request.content_length is None or request.content_length > MAX_FORM_BYTES:
        raise ApiError(413, "too_large", N_("What you sent is too large."))
    form = await request.post()
    language = str(form.get("language", ""))
    if language not in LANGUAGES:
        raise ApiError(400, "bad_language", N_("This language is not offered."))
    response = see_other(safe_back(str(form.get("back", ""))))
    # Lax, not Strict: her choice should hold on the first page a link from her email or
    # messages opens; it grants nothing, so another site sending it costs nothing.
    response.set_cookie(LANGUAGE_COOKIE, language, path="/", max_age=COOKIE_SECONDS,
                        httponly=True, samesite="Lax",
                        secure=request.app[CONFIG].secure_cookies)
    return response


async def speak_to_patient(request: web.Request, patient_id: str) -> None:
    """This request's pages are for the patient `patient_id`: her record's language."""
    patient = await get_patient(request.app[DB], patient_id)
    speak_to(request, patient.language if patient is not None else None)


async def speak_to_participant(request: web.Request, visit: Visit,
                               participant: Participant) -> None:
    """This request's pages are for `participant`: the language her visit names, else (the
    patient's seat of a visit made for her record) her record's, else none."""
    if participant.language is None and participant.role == "patient" and visit.patient_id:
        await speak_to_patient(request, visit.patient_id)
    else:
        speak_to(request, participant.language)
