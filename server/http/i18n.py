"""Languages: which ones there are, which one a request gets, its translations, its dates.

English is the source language: its strings are the catalog's message ids, so English
needs no catalog and loads none. Another language is a folder under `server/locale/`
with its compiled `messages.mo` (and `web/i18n/<lang>.json` for the browser), made by
`python -m server.http.catalogs` (docs/translating.md).
"""

from __future__ import annotations

import functools
import gettext
import re
from collections.abc import Callable
from datetime import datetime, tzinfo
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.core import negotiate_locale
from babel.dates import format_datetime
from babel.support import Translations

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
"""The catalogs: `messages.pot` (extracted) and `<lang>/LC_MESSAGES/messages.{po,mo}`."""
DOMAIN = "messages"
SOURCE_LANGUAGE = "en"
MARKUP_TAG = re.compile(r"<[^<>]*>")
"""An HTML tag in a message: a template's message may hold some (`<strong>`, `<a href=...>`);
a translation holds the same ones and no other markup (catalogs.py checks, templating.py
escapes the rest)."""
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
"""A `{name}` placeholder (browser modules, Python's str.format), or something posing as one."""
BARE_NAME = re.compile(r"[A-Za-z_]\w*")
"""What a `{}` placeholder may hold: a name, never a format spec (`{n:>999999999}` would
build a gigabyte) or an attribute (`{n.__class__}`)."""


def language_tag(name: str) -> str:
    """A language's tag as pages and Accept-Language spell it (`es`, `pt-BR`), from a tag
    or a catalog folder's name in any spelling (`pt_BR`, `pt-br`); ValueError when it
    names no language Babel knows."""
    try:
        return str(Locale.parse(name.replace("-", "_"))).replace("_", "-")
    except (ValueError, UnknownLocaleError) as e:
        raise ValueError(f"{name!r} is not a language tag (e.g. es, pt-BR)") from e


def catalog_folder(language: str) -> str:
    """The folder of a language's catalog under server/locale (gettext's spelling, `pt_BR`)."""
    return language.replace("-", "_")


def _compiled_languages(locale_dir: Path) -> tuple[str, ...]:
    tags = []
    for path in locale_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.mo"):
        try:
            tag = language_tag(path.parent.parent.name)
        except ValueError:
            continue  # not a language: `python -m server.http.catalogs check` says so
        if tag != SOURCE_LANGUAGE:
            tags.append(tag)
    return tuple(sorted(tags))


LANGUAGES: tuple[str, ...] = (SOURCE_LANGUAGE, *_compiled_languages(LOCALE_DIR))
"""The languages pages and messages can be rendered in; the first is the default."""
LANGUAGE_COOKIE = "visitroom_lang"
"""The language she picked with the pages' language switch (server/views/language.py)."""
MAX_TAG_LENGTH = 35
"""The longest language tag read from a cookie or a record (BCP 47 tags in use are short)."""

TIME_FORMATS = {
    "when": "EEE dd MMM y, HH:mm",
    "visit": "EEEE dd MMMM, HH:mm",
    "day": "EEEE dd MMMM y",
    "date": "dd MMMM y",
    "time": "HH:mm",
    "stamp": "y-MM-dd HH:mm:ss",
    "clock": "HH:mm:ss",
}
"""The clinic's ways of writing a moment, as CLDR patterns (Babel puts day and month names
in the page's language). Keyed, so a template names a use and not a format."""
LOCAL_TIME_FORMATS: dict[str, dict[str, str]] = {
    "es": {
        "when": "EEE d 'de' MMM 'de' y, h:mm a",
        "visit": "EEEE d 'de' MMMM, h:mm a",
        "day": "EEEE d 'de' MMMM 'de' y",
        "date": "d 'de' MMMM 'de' y",
        "time": "h:mm a",
    },
}
"""Where a language writes a use otherwise than TIME_FORMATS: Spanish for US patients puts
the day first with "de" and a 12-hour clock ("jueves 1 de enero, 2:05 p. m.")."""


def N_(message: str) -> str:  # noqa: N802 (gettext's own name for the marker)
    """Mark a string for the catalog without translating it here: a table of text at
    module level holds message ids, translated where a request's language is known."""
    return message


def language_names() -> dict[str, str]:
    """Each language of LANGUAGES by its own name ("English", "Español"): what the language
    switch offers, read in the language it names."""
    return {language: _locale(language).get_display_name(_locale(language)).capitalize()
            for language in LANGUAGES}


def choose_language(chosen: str | None, person: str | None, accept_language: str) -> str:
    """The language of a page: the one she chose on the page (its cookie), else the one of
    the person the page is for (her patient record or her visit), else the best match of
    her browser's Accept-Language, else English. A choice without a catalog is passed over
    (`es-MX` is Spanish; `fr` goes on to the next)."""
    for asked in ((chosen or "")[:MAX_TAG_LENGTH], (person or "")[:MAX_TAG_LENGTH],
                  accept_language):
        found = _best(asked, LANGUAGES)
        if found is not None:
            return found
    return LANGUAGES[0]


def page_language(requested: str | None) -> str:
    """The language to render in: the one asked for (`pt-BR`, `pt_br`; `es-MX` is Spanish)
    when there is a catalog for it, else the default."""
    return _best((requested or "")[:MAX_TAG_LENGTH].replace("_", "-"), LANGUAGES) or LANGUAGES[0]


def negotiate(accept_language: str, languages: tuple[str, ...] | None = None) -> str:
    """The best of `languages` (LANGUAGES) for an Accept-Language header (RFC 9110
    12.5.4), else the first of them. `es-MX` finds `es`; weights order the choices, and
    `q=0` refuses one."""
    languages = languages or LANGUAGES
    return _best(accept_language, languages) or languages[0]


def _best(accept_language: str, languages: tuple[str, ...]) -> str | None:
    """The best of `languages` for an Accept-Language header (or a single tag); None when
    it asks for none of them."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language.split(",")[:20]):
        tag, _sep, params = part.strip().partition(";")
        weight = 1.0
        for param in params.split(";"):
            name, _eq, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        weight = min(weight, 1.0) if weight > 0 else 0.0  # q is 0..1: `q=inf` is no trump
        tag = tag.strip()
        if tag and tag != "*" and weight > 0:
            ranked.append((-weight, index, tag))
    preferred = [tag for _w, _i, tag in sorted(ranked)]
    found = negotiate_locale(preferred, list(languages), sep="-")
    # Babel compares without case but answers in the header's spelling ("ES", "Es-MX" -> "Es").
    spelled = {language.lower(): language for language in languages}
    return spelled.get(found.lower()) if found else None


@functools.cache
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalog of `language`'s page language (`es-MX`: Spanish); English (and a
    language without one) gives the message ids back."""
    language = page_language(language)
    if language == SOURCE_LANGUAGE:
        return gettext.NullTranslations()
    return Translations.load(str(LOCALE_DIR), [catalog_folder(language)], DOMAIN)


def translate(language: str, message: str) -> str:
    """`message` (a message id) in `language`."""
    return translations(language).gettext(message)


def fill(translate: Callable[[str], str], message: str, /, **values: object) -> str:
    """`message` translated by `translate` with its `{name}` placeholders filled in; the
    message itself (English) when the translation's placeholders do not fit, so a
    translator's typo shows English instead of failing the page."""
    translation = translate(message)
    if all(BARE_NAME.fullmatch(name) for name in PLACEHOLDER.findall(translation)):
        try:
            return translation.format(**values)
        except (KeyError, IndexError, ValueError):
            pass
    return message.format(**values)


def fill_plural(language: str, singular: str, plural: str, n: int, /, **values: object) -> str:
    """The form of a message for `n` in `language` (its plural rule), filled in as `fill`
    does; `n` is `{n}`. Written with the two English forms as literals, so the catalog
    extracts them as one plural message (catalogs.KEYWORDS)."""
    english = singular if n == 1 else plural
    return fill(lambda _m: translations(language).ngettext(singular, plural, n), english,
                n=n, **values)


@functools.cache
def _locale(language: str) -> Locale:
    return Locale.parse(language, sep="-")


def format_time(ts: int | None, tz: tzinfo, language: str, form: str = "when") -> str:
    """A Unix time in the clinic's time zone, written the `form` way (TIME_FORMATS, or the
    language's own LOCAL_TIME_FORMATS) in `language`'s page language; empty for None."""
    if ts is None:
        return ""
    moment = datetime.fromtimestamp(ts, tz)
    language = page_language(language)  # the page's: a date never speaks another language
    pattern = LOCAL_TIME_FORMATS.get(language, {}).get(form, TIME_FORMATS[form])
    return format_datetime(moment, pattern, tzinfo=tz, locale=_locale(language))
