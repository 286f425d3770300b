"""GET /measure/setup.json?lang=: what a page needs to measure, fetched once measuring is used.

The pose model's files (or none, when this server has no pose model: the page then offers no
measuring), the measurements file's URL and the words of measuring in the page's language
(server/measure/words.py). A page that never measures carries none of it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aiohttp import web

from server.http.i18n import page_language
from server.keys import STATIC
from server.measure.vendor import browser_assets
from server.measure.words import measure_words

CACHE = "public, max-age=300"


async def setup(request: web.Request) -> web.StreamResponse:
    """The setup in `lang` (or the source language when Visitroom does not speak it)."""
    language = page_language(request.query.get("lang"))
    body = {"assets": browser_assets(), "definitions": request.app[STATIC].url("measure/measurements.json"),
            "words": _words(language)}
    return web.json_response(body, headers={"Cache-Control": CACHE})


@cache
def _words(language: str) -> dict[str, Any]:
    return measure_words(language)
