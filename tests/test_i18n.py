"""Every string a patient sees goes through the catalog: the checks that find one that does
not (and proof that they catch one), the one catalog Babel extracts, a language compiled
to .mo and browser JSON and pages rendered in it, and Accept-Language."""

from __future__ import annotations

import io
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import babel
import pytest
from aiohttp.test_utils import TestClient
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo

from server.app import create_app
from server.http import catalogs, i18n
from server.runtime.config import Config
from tests.helpers import ADMIN_EMAIL, csrf_from, link_of, make_visit
from tests.untranslated import (
    error_message_problems,
    js_problems,
    missing_translations,
    patient_facing,
    template_problems,
)

ROOT = Path(__file__).resolve().parent.parent
PATIENT_TEMPLATES = sorted(
    str(p.relative_to(ROOT / "templates")) for pattern in ("**/*.html", "**/*.txt")
    for p in (ROOT / "templates").glob(pattern) if patient_facing(str(p.relative_to(ROOT))))
"""Templates of pages and emails a patient reads (tests/untranslated.py `patient_facing`)."""
BROWSER_MODULES = sorted(p.name for p in (ROOT / "web" / "js").glob("*.js")
                         if patient_facing(str(p.relative_to(ROOT))))
"""Every module but the staff's admin pages' runs on a page a patient opens (or on the
therapist's side of the call page)."""
PAGE_ERROR_MODULES = ["server/views/join.py", "server/views/library.py", "server/views/login.py",
                      "server/http/middleware.py", "server/http/error_pages.py",
                      "server/views/care_home.py", "server/views/care_api.py",
                      "server/views/unsubscribe.py"]
"""Server modules whose errors a patient reads on a page (the call page's JSON refusals are
mapped to the browser's own words by code; the admin's and the API's are not translated)."""


@pytest.mark.parametrize("name", PATIENT_TEMPLATES)
def test_every_text_of_a_patient_page_template_goes_through_the_catalog(name):
    assert template_problems((ROOT / "templates" / name).read_text()) == []


def test_the_template_check_catches_unwrapped_text_attributes_and_strings():
    found = template_problems(
        '<p>Hello {{ name }}</p><b title="Nice">{% trans %}Wrapped{% endtrans %}</b>'
        '<input type="submit" value="Go"><img alt="{{ _(\'Fine\') }}">'
        '{{ dose("sets", "Sets") }}{{ dose("reps", _("Reps")) }}<span>×</span>Visitroom')
    assert found == ["'Sets'", "Hello …", '<b title="Nice">', '<input value="Go">']


@pytest.mark.parametrize("name", BROWSER_MODULES)
def test_every_text_a_browser_module_shows_goes_through_t(name):
    assert js_problems((ROOT / "web" / "js" / name).read_text()) == []


def test_the_module_check_catches_unwrapped_literals():
    found = js_problems("""
        el.textContent = "Camera blocked";           // prose
        button.textContent = "Mute";                 // one capitalised word
        announce(`${name} left the call`);           // a template literal
        counter.textContent = n + " · hold ";        // a fragment joined to a value
        const x = t("{a} ok", { a: "Inner words" }); // a value of t() is not its message
        svg.innerHTML = `<svg aria-label="${view} view">`;
        ok.textContent = t("Wrapped words");
        console.warn("offer failed", err);
        fetch(url, { headers: { "Content-Type": "application/json" } });
        if (err.name === "NotAllowedError") retry();
    """)
    assert [f.split(": ", 1)[1] for f in found] == [
        "'Camera blocked'", "'Mute'", "'${…} left the call'", "' · hold '", "'Inner words'",
        "'<svg aria-label=\"… view\">'"]


@pytest.mark.parametrize("snippet, found", [
    # a ternary's first branch is a branch, not an object's key
    ('b.textContent = muted ? "Unmute" : "Mute";', ["'Unmute'", "'Mute'"]),
    ('const o = { "Key": 1, label: on ? "Shown words" : "" };', ["'Shown words'"]),
    # text nodes of markup built from a string, and attributes in single quotes
    ("el.innerHTML = `<p>Hello there</p><b title='Nice one'>${x}</b>`;",
     ["'Hello there'", "'<b title=\"Nice one\">'"]),
    ("svg.innerHTML = '<svg role=\"img\">' + `<g aria-label='${view} view'>`;",
     ["'<g aria-label=\"… view\">'"]),
    # a message id that changes with a value is no message id
    ("status.textContent = t(`Hello ${name}`);", ["t() of a template literal with a value"]),
    # one lowercase word, where a person reads it
    ('label.textContent = "mute";', ["'mute'"]),
    ('button.title = ready ? "ready" : t("Wait");', ["'ready'"]),
    ('input.value = "send";', ["'send'"]),
    ('option.label = "default";', ["'default'"]),
    ('list.append("done");', ["'done'"]),
    ('select.add(new Option("none", ""));', ["'none'"]),
    ('announce("left");', ["'left'"]),
    # the catalog never sees a t() inside a template literal: its message stays English
    ('el.textContent = `${a} ${t("and")} ${b}`;',
     ["t() inside a template literal is not extracted"]),
])
def test_the_module_check_catches_branches_markup_text_and_words_given_to_the_page(snippet, found):
    assert [f.split(": ", 1)[1] for f in js_problems(snippet)] == found


def test_the_module_check_lets_keys_comparisons_and_wrapped_text_pass():
    assert js_problems("""
        const o = { "Content-Type": "json", mode: "cors" };
        item.className = own ? "message message-own" : "message message-team";
        if (kind === "videoinput") x.value = id;
        el.textContent = t("Camera {n}", { n });
        el.innerHTML = `<svg viewBox="${box}" class="demo-figure"><g${flip} class="scene"></g></svg>`;
    """) == []


@pytest.mark.parametrize("name", PAGE_ERROR_MODULES)
def test_every_error_message_a_page_shows_is_marked_for_the_catalog(name):
    assert error_message_problems((ROOT / name).read_text()) == []


def test_the_error_message_check_catches_unmarked_literals_and_f_strings():
    found = error_message_problems("""
raise ApiError(404, "not_found", "There is no such page.")
raise ApiError(404, "not_found", f"No {thing} here.")
return error_response(request, 400, "bad", message="Plain words")
return _again(request, 401, "The email or password is not right.")
raise ApiError(404, "not_found", N_("Marked."))
return error_response(request, 403, code, message, title=N_("Title"))
return _again(request, 429, fill_plural(language, "a {n}", "b {n}", n), wait)
raise ApiError(refused.status, refused.code, refused.message)
""")
    assert [f.split(":", 1)[0] for f in found] == ["line 2", "line 3", "line 4", "line 5"]


def test_one_catalog_is_extracted_from_python_templates_and_browser_modules():
    catalog = catalogs.extract()
    sources = {path.split("/", 1)[0] for message in catalog for path, _line in message.locations}
    assert sources == {"server", "templates", "web"}
    for message_id in ("Link not valid", "Skip to content", "Visit with %(name)s",
                       "To stop these emails:",  # an email's body (templates/email/*.txt)
                       "{name} left the call. They can come back.", "Connection: {grade}"):
        assert catalog.get(message_id) is not None, message_id


@pytest.mark.parametrize("header, expected", [
    ("", "en"), ("es", "es"), ("es-MX,es;q=0.9,en;q=0.8", "es"), ("fr-CA, fr;q=0.9", "en"),
    ("en;q=0.9, es", "es"), ("es;q=0, en;q=0.5", "en"), ("de;q=0.9,es;q=0.1", "es"),
    ("*", "en"), ("es;q=nonsense", "en"), ("," * 50 + "es", "en")])
def test_accept_language_picks_a_language_with_a_catalog_else_english(header, expected):
    assert i18n.negotiate(header, ("en", "es")) == expected


def test_english_has_no_catalog_and_gives_the_message_back():
    assert i18n.LANGUAGES[0] == "en"
    assert i18n.translate("en", "Link not valid") == "Link not valid"
    assert i18n.translate("xx", "Link not valid") == "Link not valid"


def test_dates_are_written_by_babel_in_the_page_language():
    berlin = ZoneInfo("Europe/Berlin")
    ts = 1767272700  # Thursday 1 January 2026, 14:05 in Berlin
    assert i18n.format_time(ts, berlin, "en", "visit") == "Thursday 01 January, 14:05"
    assert i18n.format_time(ts, berlin, "en") == "Thu 01 Jan 2026, 14:05"
    assert i18n.format_time(ts, berlin, "es", "day") == "jueves 1 de enero de 2026"
    assert i18n.format_time(None, berlin, "en") == ""


@pytest.mark.parametrize("form, english, spanish", [
    ("visit", "Thursday 01 January, 14:05", "jueves 1 de enero, 2:05 p.\u202fm."),
    ("when", "Thu 01 Jan 2026, 14:05", "jue 1 de ene de 2026, 2:05 p.\u202fm."),
    ("date", "01 January 2026", "1 de enero de 2026"),
    ("time", "14:05", "2:05 p.\u202fm."),
    ("stamp", "2026-01-01 14:05:00", "2026-01-01 14:05:00")])
def test_a_spanish_page_writes_dates_the_spanish_way_and_a_dialect_as_its_language(
        form, english, spanish):
    berlin = ZoneInfo("Europe/Berlin")
    ts = 1767272700
    assert i18n.format_time(ts, berlin, "en", form) == english
    assert i18n.format_time(ts, berlin, "es", form) == spanish
    assert i18n.format_time(ts, berlin, "es-MX", form) == spanish  # her record may say es-MX
    assert i18n.format_time(ts, berlin, "fr", form) == english  # no French pages: English


SPANISH_PO = ROOT / "server/locale/es/LC_MESSAGES/messages.po"


def test_every_patient_facing_message_has_a_spanish_translation():
    """Run `python -m server.http.catalogs update`, translate what this lists in the .po,
    then `compile` (docs/translating.md)."""
    assert missing_translations(catalogs.extract(), catalogs._read(SPANISH_PO)) == []


def test_a_patient_facing_message_without_spanish_is_reported_and_a_staff_one_is_not():
    template = Catalog()
    for message_id, place in [
            ("Skip to content", "templates/base.html"),  # translated
            ("Made-up words for her page", "templates/visit/call.html"),
            ("Made-up words of a module", "web/js/call-page.js"),
            ("Made-up refusal of a link", "server/views/join.py"),
            ("Made-up words of the admin", "templates/admin/visit_detail.html"),
            ("Made-up words of the dashboard", "web/js/dashboard.js"),
            ("Made-up item of a questionnaire", "server/care/instruments/pgq.py"),
            ("Made-up fuzzy words", "templates/care/home.html"),
            ("Made-up forms", "server/views/login.py")]:
        template.add(message_id, locations=[(place, 1)])
    translated = catalogs._read(SPANISH_PO)
    translated.add("Made-up fuzzy words", "Palabras", flags=["fuzzy"])
    translated.add(("Made-up forms", "Made-up forms {n}"), ("Forma", "", ""))
    template.add(("Made-up forms", "Made-up forms {n}"), locations=[("server/views/login.py", 2)])
    assert missing_translations(template, translated) == [
        "templates/visit/call.html: 'Made-up words for her page'",
        "web/js/call-page.js: 'Made-up words of a module'",
        "server/views/join.py: 'Made-up refusal of a link'",
        "templates/care/home.html: 'Made-up fuzzy words'",
        "server/views/login.py: 'Made-up forms'"]


def test_the_template_check_reads_a_macros_attributes_as_attributes():
    assert template_problems('{% macro m(e) %}{% if e %} lang="en" class="x"{% endif %}'
                             '{% endmacro %}') == []
    assert template_problems('{% macro m() %} title="Nice words"{% endmacro %}') == [
        '<x title="Nice words">']
    assert template_problems('<h1{{ m(e) }}>{{ e.name }}</h1><p{{ m(e) }}>Hello there</p>') == [
        "Hello there"]


def _pseudo_translate(catalog: Catalog) -> None:
    """Every message "translated" as «message», placeholders kept."""
    for message in catalog:
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            message.string = tuple(f"«{form}»" for form in message.id)
        else:
            message.string = f"«{message.id}»"


@pytest.fixture
def spanish(tmp_path, monkeypatch):
    """A pseudo-Spanish catalog made the way a translator's is (init, translate, compile),
    in a temporary folder the server reads instead of server/locale."""
    locale_dir, web_catalogs = tmp_path / "locale", tmp_path / "i18n"
    po = catalogs.init("es", catalogs.extract(), locale_dir)
    catalog = catalogs._read(po)
    _pseudo_translate(catalog)
    catalogs._write_po(po, catalog)
    written = catalogs.compile_all(locale_dir, web_catalogs)
    monkeypatch.setattr(i18n, "LOCALE_DIR", locale_dir)
    monkeypatch.setattr(i18n, "LANGUAGES", ("en", "es"))
    i18n.translations.cache_clear()
    yield locale_dir, web_catalogs, written
    i18n.translations.cache_clear()


def test_a_language_compiles_to_a_mo_and_a_browser_catalog_of_the_modules_messages(spanish):
    locale_dir, web_catalogs, written = spanish
    mo, js = locale_dir / "es/LC_MESSAGES/messages.mo", web_catalogs / "es.json"
    assert sorted(written) == sorted([mo, js])
    assert i18n.translate("es", "Link not valid") == "«Link not valid»"
    browser = json.loads(js.read_text())
    left = "{name} left the call. They can come back."
    assert browser[left] == f"«{left}»"
    assert "Skip to content" not in browser  # a template's message stays on the server
    assert "Link not valid" not in browser


def test_a_po_changed_after_compiling_is_reported_stale_until_compiled_again(spanish):
    locale_dir, web_catalogs, _written = spanish
    assert catalogs.stale(locale_dir, web_catalogs) == []
    po = locale_dir / "es/LC_MESSAGES/messages.po"
    catalog = catalogs._read(po)
    catalog.get("Connection: {grade}").string = "Conexión: {grade}"
    catalogs._write_po(po, catalog)
    assert sorted(catalogs.stale(locale_dir, web_catalogs)) == sorted(
        [po.with_suffix(".mo"), web_catalogs / "es.json"])
    catalogs.compile_all(locale_dir, web_catalogs)
    assert catalogs.stale(locale_dir, web_catalogs) == []


def test_the_committed_compiled_catalogs_match_their_po_files():
    assert catalogs.stale() == []


def test_english_is_the_source_language_and_gets_no_catalog_file(tmp_path):
    with pytest.raises(ValueError, match="source language"):
        catalogs.init("en", catalogs.extract(), tmp_path)
    assert not (tmp_path / "en").exists()


@pytest.fixture
async def spanish_client(aiohttp_client, config: Config, spanish) -> TestClient:
    return await aiohttp_client(create_app(config))


async def test_pages_render_in_the_language_the_browser_asks_for(spanish_client):
    es = {"Accept-Language": "es-ES,es;q=0.9,en;q=0.5"}
    page = await (await spanish_client.get("/library", headers=es)).text()
    assert '<html lang="es" data-catalog="/static/i18n/es.json' in page
    assert "<h1>«Condition library»</h1>" in page and "«Pregnancy»" in page
    english = await (await spanish_client.get("/library")).text()
    assert '<html lang="en">' in english and "<h1>Condition library</h1>" in english


async def test_a_refused_link_and_the_call_page_speak_the_patients_language(spanish_client, config):
    es = {"Accept-Language": "es"}
    visit = await make_visit(spanish_client, therapist_name="Rae Kim")
    refused = await spanish_client.get(f"/join/{visit.id}?token=damaged", headers=es)
    body = await refused.text()
    assert refused.status == 401
    assert "<h1>«Link not valid»</h1>" in body and "«This link is damaged" in body
    as_json = await spanish_client.get(f"/join/{visit.id}?token=damaged",
                                       headers={**es, "Accept": "application/json"})
    assert (await as_json.json())["error"] == {
        "code": "malformed", "message": "«This link is damaged or incomplete. Copy the whole "
        "link from your invitation, or ask the clinic to send it again.»"}
    call = await (await spanish_client.get(await link_of(spanish_client, visit), headers=es)).text()
    assert "«Join visit»" in call and "«Get ready for your visit with Rae Kim»" in call
    day = i18n.format_time(visit.starts_at, config.tz, "es", "visit")
    assert day in call and day != i18n.format_time(visit.starts_at, config.tz, "en", "visit")


DEMO_PANEL = ("«Mirror»", "«The steps as still pictures»",
              "«Show the figure mirrored, left and right swapped»")


async def test_the_demo_panel_speaks_the_page_language_on_the_call_program_and_exercise_pages(
        spanish_client, aiohttp_client):
    es = {"Accept-Language": "es"}
    exercise = await (await spanish_client.get("/library/exercises/clamshell", headers=es)).text()
    visit = await make_visit(spanish_client, therapist_name="Rae Kim")
    therapist = await aiohttp_client(spanish_client.server)
    call = await (await therapist.get(await link_of(spanish_client, visit, "therapist"),
                                      headers=es)).text()
    assigned = await therapist.post(f"/visits/{visit.id}/assignments", json={"exercise": "clamshell"})
    assert assigned.status == 201
    patient = await aiohttp_client(spanish_client.server)
    assert (await patient.get(await link_of(spanish_client, visit))).status == 200
    program = await (await patient.get(f"/visits/{visit.id}/program", headers=es)).text()
    for name, page in (("exercise", exercise), ("call", call), ("program", program)):
        for text in DEMO_PANEL:
            assert text in page, (name, text)
        assert ">Mirror<" not in page, name


def test_a_compiled_catalog_is_stale_when_it_means_something_else_not_when_its_bytes_differ(
        spanish):
    locale_dir, web_catalogs, _written = spanish
    mo, js = locale_dir / "es/LC_MESSAGES/messages.mo", web_catalogs / "es.json"
    version = f"Generated-By: Babel {babel.__version__}".encode()
    assert version in mo.read_bytes()  # another Babel writes another header, same length here
    mo.write_bytes(mo.read_bytes().replace(version, b"Generated-By: Babel " + b"9" * (
        len(version) - len(b"Generated-By: Babel "))))
    js.write_text(json.dumps(json.loads(js.read_text()), indent=2))  # same dict, other bytes
    assert catalogs.stale(locale_dir, web_catalogs) == []
    catalog = catalogs._read(mo.with_suffix(".po"))
    catalog.get("Skip to content").string = "Saltar"
    changed = io.BytesIO()
    write_mo(changed, catalog)
    mo.write_bytes(changed.getvalue())
    assert catalogs.stale(locale_dir, web_catalogs) == [mo]


def test_the_browser_catalog_holds_the_modules_messages_even_without_location_comments(spanish):
    locale_dir, _web_catalogs, _written = spanish
    po = locale_dir / "es/LC_MESSAGES/messages.po"
    catalog = catalogs._read(po)
    for message in catalog:
        message.locations = []
    catalogs._write_po(po, catalog)
    browser = json.loads(catalogs.compiled(po)[1])
    left = "{name} left the call. They can come back."
    assert browser[left] == f"«{left}»" and "Skip to content" not in browser


async def test_the_sign_in_page_says_a_wrong_password_in_the_pages_language(spanish_client):
    es = {"Accept-Language": "es"}
    token = csrf_from(await (await spanish_client.get("/login", headers=es)).text())
    refused = await spanish_client.post("/login", headers=es, data={
        "email": ADMIN_EMAIL, "password": "not the password", "csrf_token": token})
    assert refused.status == 401
    assert "«The email or password is not right.»" in await refused.text()
