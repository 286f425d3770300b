"""Jinja2 rendering: one environment, autoescaped, translated (`jinja2.ext.i18n`, the
catalogs of server/http/i18n.py), with the clinic's dates and times written by Babel.

`render_text` renders a template in a language without an HTTP request (a job composing
an email); `render` is the request's path through it, into an HTML response.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any, Callable, Mapping

import jinja2
from aiohttp import web
from markupsafe import Markup, escape

from server.auth.csrf import csrf_token
from server.auth.staff import cached_user
from server.http.i18n import (
    LANGUAGE_COOKIE,
    MARKUP_TAG,
    SOURCE_LANGUAGE,
    choose_language,
    format_time,
    language_names,
    page_language,
    translate,
    translations,
)
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
        extensions=["jinja2.ext.i18n"],
    )
    # A trans block's message id is its text with the whitespace collapsed, as the
    # extractor (babel.cfg: trimmed) writes it into the catalog.
    env.policies["ext.i18n.trimmed"] = True
    # Newstyle (values passed to gettext, which fills them in), with our own callables in
    # place of Jinja's: those mark every translation safe, so a translation could inject markup.
    env.newstyle_gettext = True  # type: ignore[attr-defined]
    env.globals.update(gettext=_gettext, ngettext=_ngettext)
    tz = config.tz

    @jinja2.pass_context
    def local_time(ctx: jinja2.runtime.Context, ts: int | None, form: str = "when") -> str:
        return format_time(ts, tz, ctx.get("language", SOURCE_LANGUAGE), form)

    env.filters["local_time"] = local_time
    env.filters["without_markers"] = without_markers
    @jinja2.pass_context
    def measure_setup_url(ctx: jinja2.runtime.Context) -> str:
        return f"/measure/setup.json?lang={_language(ctx)}"

    env.globals["measure_setup_url"] = measure_setup_url
    env.globals["clinic_timezone"] = config.timezone
    env.globals["language_names"] = language_names()
    return env


def _language(ctx: jinja2.runtime.Context) -> str:
    language = ctx.get("language")
    if language is None:  # falling back to English would hide the mistake on every page
        raise RuntimeError(f"{ctx.name}: translated text without `language` in the context "
                           "(import a macro `with context`)")
    return str(language)


def _trusted(translation: str, message: str) -> Markup:
    """A translation as markup: escaped, except the exact tags its message id (the
    template's own text) holds."""
    if translation == message:
        return Markup(message)
    allowed = set(MARKUP_TAG.findall(message))
    out, last = [], 0
    for match in MARKUP_TAG.finditer(translation):
        tag = match.group()
        out += [escape(translation[last:match.start()]), tag if tag in allowed else escape(tag)]
        last = match.end()
    out.append(escape(translation[last:]))
    return Markup("".join(out))


def _filled(ctx: jinja2.runtime.Context, translation: str, message: str,
            values: dict[str, Any]) -> str:
    """The translation with its `%(name)s` values (escaped when autoescaping); the message
    id (English) when the translation's placeholders do not fit them."""
    wrap: Callable[[str, str], str] = _trusted if ctx.eval_ctx.autoescape else lambda t, _m: t
    try:
        return wrap(translation, message) % values
    except (KeyError, ValueError, TypeError):
        return wrap(message, message) % values


@jinja2.pass_context
def _gettext(ctx: jinja2.runtime.Context, message: str, /, **values: Any) -> str:
    return _filled(ctx, translations(_language(ctx)).gettext(message), message, values)


@jinja2.pass_context
def _ngettext(ctx: jinja2.runtime.Context, singular: str, plural: str, n: int, /,
              **values: Any) -> str:
    values.setdefault("num", n)
    translation = translations(_language(ctx)).ngettext(singular, plural, n)
    return _filled(ctx, translation, singular if n == 1 else plural, values)


_PERSON_LANGUAGE = "visitroom_person_language"


def speak_to(request: web.Request, language: str | None) -> None:
    """Say whose pages these are: the language of the person a view found (her patient
    record's, her visit's; None when she has none), used after her own choice on the page."""
    request[_PERSON_LANGUAGE] = language


def request_language(request: web.Request) -> str:
    """The language of this request's pages (i18n.choose_language): the language switch's
    cookie, else the person's language (`speak_to`), else Accept-Language, else English."""
    return choose_language(request.cookies.get(LANGUAGE_COOKIE), request.get(_PERSON_LANGUAGE),
                           request.headers.get("Accept-Language", ""))


def render_text(app: web.Application, name: str, language: str,
                context: Mapping[str, Any] | None = None) -> str:
    """Render a template to text without a request, in `language` (the default when there
    is no catalog for it): a page as an anonymous visitor sees it, or a message's body.
    `language`, `static` and `translate` (a message id -> its text in `language`, for
    code a template calls) are in every template's context, `user` is None unless given."""
    language = page_language(language)
    values: dict[str, Any] = {"user": None, "static": app[STATIC].url, "language": language,
                              "translate": partial(translate, language),
                              "browser_catalog": _browser_catalog(app, language)}
    values.update(context or {})
    return app[TEMPLATES].get_template(name).render(values)


def _browser_catalog(app: web.Application, language: str) -> str | None:
    """The URL of the browser's catalog for `language`; None for English, whose strings
    are the message ids (web/js/i18n.js loads nothing then)."""
    if language == SOURCE_LANGUAGE:
        return None
    return app[STATIC].url(f"i18n/{language}.json")


class PageResponse(web.Response):
    """An HTML page that lets go of its body and headers once it is sent.

    aiohttp's connection loop keeps the last response it sent until the next request on
    the connection has been answered. A WebSocket upgraded on that connection is answered
    only when it closes: the page before it (its text, its gzip copy and its headers, some
    22 KB) would stay as long as the socket (`bench.idle`, the reused case). Nothing reads
    them once the page is written (the access log reads the status)."""

    async def write_eof(self, data: bytes = b"") -> None:
        await super().write_eof(data)
        self.body = None
        self.headers.clear()


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
    response = PageResponse(text=body, status=status, content_type="text/html", charset="utf-8",
                            zlib_executor_size=COMPRESS_ON_LOOP_BELOW)
    response.enable_compression()
    return response


def see_other(location: str) -> web.Response:
    """A 303 redirect that can carry cookies."""
    return web.Response(status=303, headers={"Location": location})
