"""Jinja2 rendering: one environment, autoescaped, with the clinic's time formatting.

`render_text` renders a template in a language without an HTTP request (a job composing
an email); `render` is the request's path through it, into an HTML response.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

import jinja2
from aiohttp import web

from server.auth.csrf import csrf_token
from server.auth.staff import cached_user
from server.runtime.config import Config
from server.keys import STATIC, TEMPLATES
from server.library.citations import without_markers

COMPRESS_ON_LOOP_BELOW = 512 * 1024
"""Bodies smaller than this are compressed on the event loop (well under a millisecond for a
page). aiohttp's default hands anything over 4 KiB to its thread pool, and each of those
threads grows a malloc arena of its own that never shrinks back: the server's memory crept
up all day."""


def environment(templates_dir: Path, config: Config) -> jinja2.Environment:
    """The template environment for this server."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        autoescape=jinja2.select_autoescape(["html", "xml"], default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    tz = config.tz

    def local_time(ts: int | None, fmt: str = "%a %d %b %Y, %H:%M") -> str:
        if ts is None:
            return ""
        return datetime.fromtimestamp(ts, tz).strftime(fmt)

    env.filters["local_time"] = local_time
    env.filters["without_markers"] = without_markers
    env.globals["clinic_timezone"] = config.timezone
    return env


LANGUAGES = ("en",)
"""The languages pages and messages can be rendered in; the first is the default."""


def page_language(requested: str | None) -> str:
    """The language to render in: the one asked for when there is a catalog for it, else
    the default."""
    return requested if requested in LANGUAGES else LANGUAGES[0]


def request_language(request: web.Request) -> str:
    """The language of this request's pages (English, until there are catalogs)."""
    return LANGUAGES[0]


def render_text(app: web.Application, name: str, language: str,
                context: Mapping[str, Any] | None = None) -> str:
    """Render a template to text without a request, in `language` (the default when there
    is no catalog for it): a page as an anonymous visitor sees it, or a message's body.
    `language` and `static` are in every template's context, `user` is None unless given."""
    values: dict[str, Any] = {"user": None, "static": app[STATIC].url,
                              "language": page_language(language)}
    values.update(context or {})
    return app[TEMPLATES].get_template(name).render(values)


def render(request: web.Request, name: str, context: dict[str, Any] | None = None, *,
           status: int = 200) -> web.Response:
    """Render a template into an HTML response, in the request's language."""
    values: dict[str, Any] = {
        "request": request,
        "user": cached_user(request),
        "csrf_token": lambda: csrf_token(request),
    }
    values.update(context or {})
    body = render_text(request.app, name, request_language(request), values)
    response = web.Response(text=body, status=status, content_type="text/html", charset="utf-8",
                            zlib_executor_size=COMPRESS_ON_LOOP_BELOW)
    response.enable_compression()
    return response


def see_other(location: str) -> web.Response:
    """A 303 redirect that can carry cookies."""
    return web.Response(status=303, headers={"Location": location})
