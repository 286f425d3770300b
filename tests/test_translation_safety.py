"""A translation cannot break or take over a page: a translated text needs the page's
language, a translation's markup and placeholders are checked when compiling and contained
when rendering, Accept-Language answers in the server's spelling and q stays in 0..1, and a
catalog folder may be named the gettext way (`pt_BR`)."""

from __future__ import annotations

import json
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2
import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import write_po

from server.app import create_app
from server.http import catalogs, i18n, templating
from server.library.model import Dosage
from server.runtime.config import Config

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def _environment(tmp_path: Path, config: Config, templates: dict[str, str]) -> jinja2.Environment:
    for name, source in templates.items():
        (tmp_path / name).write_text(source)
    return templating.environment(tmp_path, config)


def test_a_translated_text_without_a_language_fails_instead_of_showing_english(tmp_path, config):
    env = _environment(tmp_path, config, {
        "macro.html": "{% macro m() %}{% trans %}Play{% endtrans %}{% endmacro %}",
        "bare.html": '{% from "macro.html" import m %}{{ m() }}',
        "with.html": '{% from "macro.html" import m with context %}{{ m() }}'})
    assert env.get_template("with.html").render(language="en") == "Play"
    with pytest.raises(RuntimeError, match="with context"):
        env.get_template("bare.html").render(language="en")


@pytest.fixture
def hand_made(tmp_path, monkeypatch):
    """Install a Spanish `.mo` written straight from {message: translation}, past the checks
    `compiled()` makes (as a catalog compiled by hand or by another tool would be)."""
    def install(translations: dict[str, str]) -> None:
        catalog = Catalog(locale="es")
        for message, translation in translations.items():
            catalog.add(message, translation)
        folder = tmp_path / "locale" / "es" / "LC_MESSAGES"
        folder.mkdir(parents=True)
        with open(folder / "messages.mo", "wb") as f:
            write_mo(f, catalog)
        monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path / "locale")
        monkeypatch.setattr(i18n, "LANGUAGES", ("en", "es"))
        i18n.translations.cache_clear()
    yield install
    i18n.translations.cache_clear()


def test_a_translation_is_escaped_except_the_tags_of_its_message(tmp_path, config, hand_made):
    waiting = "You wait for <strong>%(name)s</strong> at %(time)s."
    hand_made({"Play": 'Reproducir<img src=x onerror="alert(1)">',
               waiting: 'Espera a <strong>%(name)s</strong> <script>x()</script>a las %(time)s.',
               "Mirror": "Espejo & «reflejo»"})
    env = _environment(tmp_path, config, {"page.html": (
        '<b title="{{ _("Mirror") }}">{% trans %}Play{% endtrans %}</b>'
        '{% trans name=who, time="10:00" %}You wait for <strong>{{ name }}</strong> at {{ time }}.'
        '{% endtrans %}')})
    page = env.get_template("page.html").render(language="es", who="<i>Rae</i>")
    assert page == (
        '<b title="Espejo &amp; «reflejo»">Reproducir&lt;img src=x onerror=&#34;alert(1)&#34;&gt;'
        '</b>Espera a <strong>&lt;i&gt;Rae&lt;/i&gt;</strong> &lt;script&gt;x()&lt;/script&gt;'
        'a las 10:00.')
    english = env.get_template("page.html").render(language="en", who="Rae")
    assert english == '<b title="Mirror">Play</b>You wait for <strong>Rae</strong> at 10:00.'


async def test_a_translators_placeholder_typo_shows_english_instead_of_failing_the_page(
        tmp_path, config, hand_made, aiohttp_client):
    hand_made({"{sets} × {reps}": "{series} × {reps}", "hold {seconds} s": "{seconds:>999999999}",
               "{days} days a week": "{days} días a la semana", "Visit with %(name)s":
               "Visita con %(nombre)s", "Play": "Reproducir 100 %", "source {n}": "fuente {n.real}"})
    def spanish(message: str) -> str:
        return i18n.translate("es", message)

    assert Dosage(2, 10, 3, 0, 4).text(spanish) == "2 × 10, hold 3 s, 4 días a la semana"
    env = _environment(tmp_path, config, {"page.html": (
        "{% trans name=who %}Visit with {{ name }}{% endtrans %}|{% trans %}Play{% endtrans %}")})
    assert env.get_template("page.html").render(language="es", who="Rae") == "Visit with Rae|Play"
    client = await aiohttp_client(create_app(config))
    es = {"Accept-Language": "es"}
    exercise = await client.get("/library/exercises/glute-bridge", headers=es)
    assert exercise.status == 200 and "2 × " in await exercise.text()
    condition = await client.get("/library/perineal-tear-recovery", headers=es)
    assert condition.status == 200 and 'aria-label="source 1"' in await condition.text()


def _po(tmp_path: Path, translations: dict[str, str]) -> Path:
    catalog = Catalog(locale="es")
    for message, translation in translations.items():
        catalog.add(message, translation)
    path = tmp_path / "es" / "LC_MESSAGES" / "messages.po"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        write_po(f, catalog)
    return path


@pytest.mark.parametrize("message, translation, problem", [
    ("Hi <strong>%(name)s</strong>", "Hola <b>%(name)s</b>", "HTML tags differ"),
    ("Skip to content", "Saltar <img src=x onerror=alert(1)>", "HTML tags differ"),
    ("Skip to content", 'Saltar " onmouseover="alert(1)', "outside"),
    ("Skip to content", "Saltar > aquí", "outside"),
    ("Visit with %(name)s", "Visita con %(nombre)s", "unknown named placeholder"),
    ("{name} left the call.", "{nombre} salió.", "differ"),
    ("{name} left the call.", "Salió.", "differ"),
    ("Step {n} of {count}", "Paso {n:>999999999} de {count}", "not a bare name"),
    ("Step {n} of {count}", "Paso {n.__class__} de {count}", "not a bare name"),
    ("{name} left the call.", "{name} salió {", "stray"),
])
def test_compiling_refuses_a_translation_that_would_break_or_take_over_a_page(
        tmp_path, message, translation, problem):
    po = _po(tmp_path, {message: translation, "Play": "Reproducir"})
    with pytest.raises(catalogs.CatalogProblem, match=problem):
        catalogs.compiled(po, set())


def test_compiling_accepts_the_same_tags_and_placeholders_in_another_order(tmp_path):
    po = _po(tmp_path, {
        'Read <a href="%(url)s">%(title)s</a> by %(who)s.':
            'De %(who)s: lea <a href="%(url)s">%(title)s</a>.',
        "Step {n} of {count}: {text}": "{text} — paso {n} de {count}",
        "<strong>Note:</strong> stop when it hurts.": "<strong>Nota:</strong> pare si duele."})
    mo, js = catalogs.compiled(po, {"Step {n} of {count}: {text}"})
    assert json.loads(js) == {"Step {n} of {count}: {text}": "{text} — paso {n} de {count}"}
    assert mo


@pytest.mark.parametrize("header, expected", [
    ("ES", "es"), ("Es-MX", "es"), ("en, es;q=inf", "en"), ("en, es;q=1e999", "en"),
    ("en, es;q=2", "en"), ("es;q=nan, en;q=0.1", "en"), ("de, ES;q=0.5", "es")])
def test_accept_language_answers_in_the_servers_spelling_and_q_stays_in_0_to_1(header, expected):
    assert i18n.negotiate(header, ("en", "es")) == expected


def test_a_catalog_folder_in_gettext_spelling_is_a_language(tmp_path, monkeypatch):
    locale_dir, web_catalogs = tmp_path / "locale", tmp_path / "i18n"
    template = Catalog()
    template.add("Play", locations=[("web/js/demo.js", 1)])
    po = catalogs.init("pt_br", template, locale_dir)
    assert po == locale_dir / "pt_BR" / "LC_MESSAGES" / "messages.po"
    catalog = catalogs._read(po)
    catalog.get("Play").string = "Reproduzir"
    catalogs._write_po(po, catalog)
    catalogs.compile_all(locale_dir, web_catalogs)
    assert json.loads((web_catalogs / "pt-BR.json").read_text()) == {"Play": "Reproduzir"}
    (locale_dir / "not-a-language" / "LC_MESSAGES").mkdir(parents=True)
    (locale_dir / "not-a-language" / "LC_MESSAGES" / "messages.mo").write_bytes(
        po.with_suffix(".mo").read_bytes())
    assert i18n._compiled_languages(locale_dir) == ("pt-BR",)
    monkeypatch.setattr(i18n, "LOCALE_DIR", locale_dir)
    monkeypatch.setattr(i18n, "LANGUAGES", ("en", "pt-BR"))
    i18n.translations.cache_clear()
    try:
        assert i18n.negotiate("pt-br,pt;q=0.9") == "pt-BR"
        assert i18n.page_language("pt_BR") == i18n.page_language("pt-br") == "pt-BR"
        assert i18n.page_language("xx") == i18n.page_language(None) == "en"
        assert i18n.translate("pt-BR", "Play") == "Reproduzir"
        assert i18n.format_time(1767272700, ZoneInfo("Europe/Berlin"), "pt-BR", "day") == (
            "quinta-feira 01 janeiro 2026")
    finally:
        i18n.translations.cache_clear()
    with pytest.raises(ValueError, match="not a language tag"):
        catalogs.init("xx-nonsense", template, locale_dir)
    with pytest.raises(ValueError, match="source language"):
        catalogs.init("EN", template, locale_dir)
