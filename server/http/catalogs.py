"""The translation catalogs, made with Babel (after Sphinx's `utils/babel_runner.py`).

    python -m server.http.catalogs extract       # sources -> server/locale/messages.pot
    python -m server.http.catalogs init LANG     # a new language's messages.po from the .pot
    python -m server.http.catalogs update        # the .pot merged into every language's .po
    python -m server.http.catalogs compile       # each .po -> messages.mo + web/i18n/LANG.json
    python -m server.http.catalogs check         # exit 1 when a compiled file is stale

One catalog comes from Python, the Jinja templates and the browser modules (babel.cfg
says which files, with which extractor). The compiled files are committed, so a fresh
clone runs with no step; `check` (and tests/test_i18n.py) fails when a `.po` changed and
was not compiled again. The browser's JSON holds only the messages of web/js.

A translation that would break a page is refused when compiling: placeholders other than
its message id's (`%(name)s`, `{name}`; a `{name}` is a bare name, never a format spec),
other HTML tags, or `<`, `>` or `"` outside those tags.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

from server.http.i18n import (
    BARE_NAME,
    DOMAIN,
    LOCALE_DIR,
    MARKUP_TAG,
    PLACEHOLDER,
    SOURCE_LANGUAGE,
    catalog_folder,
    language_tag,
)

ROOT = LOCALE_DIR.parent.parent
WEB_CATALOGS = ROOT / "web" / "i18n"
"""Where each language's browser catalog is served from (/static/i18n/LANG.json)."""
KEYWORDS = {**DEFAULT_KEYWORDS, "t": None, "fill_plural": (2, 3)}
"""Calls whose arguments are messages: gettext's names, the browser's `t()`, and
i18n.fill_plural (its 2nd and 3rd arguments, one plural message)."""
BROWSER_SOURCES = "web/js"


class CatalogProblem(ValueError):
    """A `.po` holds translations that would break a page; the message lists them."""


def extract(root: Path = ROOT) -> Catalog:
    """Every translatable message of the sources babel.cfg names, with where it is used."""
    with open(root / "babel.cfg", encoding="utf-8") as mapping:
        method_map, options_map = parse_mapping_cfg(mapping)
    catalog = Catalog(project="Visitroom", domain=DOMAIN, charset="utf-8")
    for filename, lineno, message, comments, context in extract_from_dir(
            str(root), method_map, options_map, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",)):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def _po_files(locale_dir: Path) -> list[Path]:
    return sorted(locale_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


def _read(path: Path) -> Catalog:
    with open(path, "rb") as f:
        return read_po(f, locale=path.parent.parent.name, domain=DOMAIN)


def _write_po(path: Path, catalog: Catalog, **options: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        write_po(f, catalog, width=100, **options)


def write_template(catalog: Catalog, locale_dir: Path = LOCALE_DIR) -> Path:
    """Write the extracted catalog as `messages.pot`."""
    path = locale_dir / f"{DOMAIN}.pot"
    _write_po(path, catalog)
    return path


def init(language: str, template: Catalog, locale_dir: Path = LOCALE_DIR) -> Path:
    """Start a language: its `.po`, every message untranslated. `language` is a tag in
    either spelling (`pt-BR`, `pt_br`); its folder is gettext's spelling (`pt_BR`)."""
    language = language_tag(language)
    if language == SOURCE_LANGUAGE:
        raise ValueError(f"{SOURCE_LANGUAGE} is the source language: its strings are the "
                         "message ids and need no catalog")
    folder = catalog_folder(language)
    path = locale_dir / folder / "LC_MESSAGES" / f"{DOMAIN}.po"
    if path.exists():
        raise FileExistsError(f"{path} exists; use update")
    catalog = Catalog(locale=folder, domain=DOMAIN, project="Visitroom", charset="utf-8")
    catalog.update(template)
    _write_po(path, catalog)
    return path


def update(template: Catalog, locale_dir: Path = LOCALE_DIR) -> list[Path]:
    """Merge the template into every language's `.po`: new messages come in untranslated,
    changed ones are marked fuzzy, dropped ones kept as obsolete."""
    paths = _po_files(locale_dir)
    for path in paths:
        catalog = _read(path)
        catalog.update(template)
        _write_po(path, catalog, ignore_obsolete=False)
    return paths


def browser_messages(root: Path = ROOT) -> set[str]:
    """The message ids the browser modules use: their `t()` calls, extracted again (a
    `.po`'s `#:` comments may be stale or stripped)."""
    return {message for _file, _line, message, _comments, _context in extract_from_dir(
                str(root / BROWSER_SOURCES), [("**.js", "javascript")], keywords=KEYWORDS)
            if isinstance(message, str)}


def _placeholder_problem(message_id: str, string: str, exact: bool) -> str | None:
    wanted, found = set(PLACEHOLDER.findall(message_id)), set(PLACEHOLDER.findall(string))
    odd = sorted(name for name in found if not BARE_NAME.fullmatch(name))
    if odd:
        return f"placeholder {{{odd[0]}}} is not a bare name"
    if found != wanted if exact else not found <= wanted:
        return f"placeholders {sorted(found)} differ from the message's {sorted(wanted)}"
    if _stray_braces(string) != _stray_braces(message_id):
        return "a stray { or }"
    return None


def _stray_braces(text: str) -> int:
    rest = PLACEHOLDER.sub("", text)
    return rest.count("{") + rest.count("}")


def _markup_problem(message_id: str, string: str) -> str | None:
    if sorted(MARKUP_TAG.findall(string)) != sorted(MARKUP_TAG.findall(message_id)):
        return "its HTML tags differ from the message's"
    if re.search(r'[<>"]', MARKUP_TAG.sub("", string)):
        return 'a <, > or " outside the message\'s HTML tags'
    return None


def translation_problems(catalog: Catalog) -> list[str]:
    """What in a catalog's translations (the ones compiled: translated, not fuzzy) would
    break a page or let a translation inject markup."""
    out: list[str] = []
    for message in catalog:
        if not message.id or not message.string or message.fuzzy:
            continue
        problems = [str(error) for error in message.check(catalog)]  # Babel: %(name)s, plurals
        ids = message.id if isinstance(message.id, (list, tuple)) else (message.id,)
        strings = message.string if isinstance(message.string, (list, tuple)) else (message.string,)
        for form, string in enumerate(strings):
            if string:
                message_id = ids[min(form, len(ids) - 1)]
                problems += filter(None, (
                    _placeholder_problem(message_id if len(ids) == 1 else " ".join(ids), string,
                                         exact=len(ids) == 1),
                    _markup_problem(message_id, string)))
        out += [f"{ids[0]!r}: {problem}" for problem in problems]
    return out


def compiled(po_path: Path, browser_ids: set[str] | None = None) -> tuple[bytes, bytes]:
    """A `.po`'s compiled forms: the `.mo` (server) and the browser's JSON (the translated,
    not fuzzy messages used in web/js, message id -> translation). CatalogProblem when a
    translation would break a page (translation_problems)."""
    catalog = _read(po_path)
    problems = translation_problems(catalog)
    if problems:
        raise CatalogProblem(f"{po_path}:\n  " + "\n  ".join(problems))
    mo = io.BytesIO()
    write_mo(mo, catalog)
    browser_ids = browser_messages() if browser_ids is None else browser_ids
    browser = {m.id: m.string for m in catalog
               if isinstance(m.id, str) and m.id in browser_ids and m.string and not m.fuzzy}
    js = json.dumps(browser, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return mo.getvalue(), js.encode()


def _targets(po_path: Path, web_catalogs: Path) -> tuple[Path, Path]:
    tag = language_tag(po_path.parent.parent.name)
    return po_path.with_suffix(".mo"), web_catalogs / f"{tag}.json"


def _meaning(target: Path, body: bytes) -> Any:
    """What a compiled file says, without what does not change it (the .mo's header names
    the Babel version that wrote it and a date): message -> translation, plural rule."""
    if target.suffix == ".json":
        return json.loads(body)
    catalog = read_mo(io.BytesIO(body))
    return catalog.plural_forms, {(m.context, _hashable(m.id)): _hashable(m.string)
                                  for m in catalog if m.id}


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value  # a plural's forms


def compile_all(locale_dir: Path = LOCALE_DIR, web_catalogs: Path = WEB_CATALOGS) -> list[Path]:
    """Compile every language; returns the files written."""
    written: list[Path] = []
    browser_ids = browser_messages()
    for po in _po_files(locale_dir):
        for target, body in zip(_targets(po, web_catalogs), compiled(po, browser_ids)):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(body)
            written.append(target)
    return written


def stale(locale_dir: Path = LOCALE_DIR, web_catalogs: Path = WEB_CATALOGS) -> list[Path]:
    """The compiled files that are missing or say something else than what their `.po`
    compiles to (CatalogProblem when a `.po` does not compile)."""
    out: list[Path] = []
    browser_ids = browser_messages()
    for po in _po_files(locale_dir):
        for target, body in zip(_targets(po, web_catalogs), compiled(po, browser_ids)):
            try:
                same = _meaning(target, target.read_bytes()) == _meaning(target, body)
            except (OSError, ValueError, LookupError):  # missing or unreadable
                same = False
            if not same:
                out.append(target)
    return out


def main(argv: list[str] | None = None) -> int:
    """The command line (see the module's docstring)."""
    parser = argparse.ArgumentParser(prog="python -m server.http.catalogs",
                                     description="Extract, start, update and compile the catalogs.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("extract", help="write server/locale/messages.pot from the sources")
    start = sub.add_parser("init", help="start a language's messages.po")
    start.add_argument("language", help="a language tag, e.g. es")
    sub.add_parser("update", help="merge the sources' messages into every messages.po")
    sub.add_parser("compile", help="compile every messages.po to .mo and web/i18n/LANG.json")
    sub.add_parser("check", help="exit 1 when a compiled file is missing or stale")
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except (ValueError, FileExistsError) as e:  # CatalogProblem, a tag that is no language
        print(e, file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    if args.command == "extract":
        catalog = extract()
        print(f"{write_template(catalog)}: {len(catalog)} messages")
    elif args.command == "init":
        print(init(args.language, extract()))
    elif args.command == "update":
        template = extract()
        write_template(template)
        for path in update(template):
            print(path)
    elif args.command == "compile":
        for path in compile_all():
            print(path)
    else:
        late = stale()
        for path in late:
            print(f"stale: {path} (run: python -m server.http.catalogs compile)")
        return 1 if late else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
