"""The library in Spanish: translated entries translate every field and keep their sources, the
rest show their English text marked "English only", the warning signs are in Spanish on every
Spanish page with the clinic's emergency number, a bad translation stops the start, and each
questionnaire says whether it is shown in Spanish."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from server.app import create_app
from server.care.instruments import INSTRUMENTS
from server.care.instruments.model import LANGUAGE_NOTES
from server.care.outcomes import attach
from server.care.patient_input import PatientRequest, PlanRequest
from server.http import i18n
from server.library.citations import cited_keys
from server.library.loader import LIBRARY_DIR, LibraryError, load_library
from server.library.model import PROSE_FIELDS
from server.library.translations import LIST_FIELDS
from server.library.warning_signs import SPANISH, translation_problems
from server.keys import CARE, DB
from server.runtime.config import ConfigError, config_from_env
from tests.test_care_endpoints import _assignment, _open

TEN_EXERCISES = {"adductor-squeeze", "transverse-abdominis-activation", "knees-together-turning", "side-lying-rest",
                 "clamshell", "pelvic-belt-use", "pelvic-floor-slow-holds", "glute-bridge", "side-lying-leg-lift",
                 "stairs-one-at-a-time"}
"""The ten exercises in Spanish (no assignment counts exist: the two Spanish entries' lists; docs/library.md)."""
TWO_CONDITIONS = {"sacroiliac-joint-dysfunction", "pelvic-girdle-pain"}
ES = {"Accept-Language": "es"}


@pytest.fixture(scope="module")
def library():
    return load_library()


@pytest.fixture(autouse=True)
def spanish_pages(monkeypatch):
    """Pages may be in Spanish, with or without its compiled catalog in this checkout."""
    if "es" not in i18n.LANGUAGES:
        monkeypatch.setattr(i18n, "LANGUAGES", (*i18n.LANGUAGES, "es"))


def test_the_ten_exercises_and_the_two_conditions_have_spanish_and_nothing_else_does(library):
    spanish = library.in_language("es")
    assert {s for s, c in spanish.conditions.items() if not c.english_only} == TWO_CONDITIONS
    assert {s for s, e in spanish.exercises.items() if not e.english_only} == TEN_EXERCISES
    assert all(c.english_only for s, c in spanish.conditions.items() if s not in TWO_CONDITIONS)


def test_every_translated_entry_translates_every_text_field_and_keeps_its_sources(library):
    spanish = library.in_language("es")
    for slug in TWO_CONDITIONS:
        english, text = library.conditions[slug], spanish.conditions[slug]
        assert text.language == "es" and text.name != english.name
        for field in PROSE_FIELDS:
            assert getattr(text, field) != getattr(english, field), (slug, field)
            assert set(cited_keys(getattr(english, field))) <= set(cited_keys(getattr(text, field))), (slug, field)
        assert len(text.red_flags) == len(english.red_flags)
        for translated, original in zip(text.red_flags, english.red_flags):
            assert translated != original and set(cited_keys(original)) <= set(cited_keys(translated))
        assert text.sources == english.sources and text.review_sources  # reviewed against a Spanish source
        assert text.exercises == english.exercises and text.phase == english.phase
    for slug in TEN_EXERCISES:
        english, text = library.exercises[slug], spanish.exercises[slug]
        for field in ("name", "summary", "position"):
            assert getattr(text, field) != getattr(english, field), (slug, field)
        for field in LIST_FIELDS:
            pairs = list(zip(getattr(text, field), getattr(english, field), strict=True))
            assert all(t != e for t, e in pairs), (slug, field)
        assert text.supine == english.supine and text.demo == english.demo and text.dosage.sets == english.dosage.sets
        assert (text.dosage.when != english.dosage.when) == bool(english.dosage.when), slug


def test_every_warning_sign_and_the_rule_for_lying_on_the_back_are_written_in_spanish(library):
    assert translation_problems() == []
    spanish = library.in_language("es")
    for condition in spanish.conditions.values():  # translated or not
        english = library.conditions[condition.slug]
        for shown, original in zip(condition.warning_sets, english.warning_sets, strict=True):
            assert shown.heading == SPANISH.sets[shown.name][0]
            assert not set(shown.signs) & set(original.signs)
        assert not set(condition.shared_flags()) & set(english.shared_flags())
    for exercise in spanish.exercises.values():
        if exercise.supine:
            assert exercise.avoid_when[0].startswith("Si está embarazada, sobre todo después de unas 16 semanas")


async def test_an_english_only_entry_shows_its_english_text_marked_on_a_spanish_page(client, library):
    body = await (await client.get("/library/coccydynia", headers=ES)).text()
    assert '<html lang="es"' in body
    assert 'data-testid="english-only"' in body
    assert f'<h1 lang="en">{library.conditions["coccydynia"].name}</h1>' in body
    assert library.conditions["coccydynia"].gist.split(" [")[0].split(".")[0] in body
    assert SPANISH.shared["cauda-equina"] in body  # its warning signs in Spanish all the same
    body = await (await client.get("/library/exercises/curl-up-progression", headers=ES)).text()
    assert 'data-testid="english-only"' in body and "Si está embarazada, sobre todo después de unas 16" in body
    listing = await (await client.get("/library/exercises", headers=ES)).text()
    assert listing.count('data-testid="english-only"') == len(library.exercises) - len(TEN_EXERCISES)


async def test_a_translated_entry_shows_its_spanish_text_and_the_sources_it_was_checked_against(client):
    body = await (await client.get("/library/pelvic-girdle-pain", headers=ES)).text()
    assert "<h1>Dolor de cintura pélvica en el embarazo</h1>" in body and 'data-testid="english-only"' not in body
    assert 'data-testid="review-sources"' in body and "cochrane.org/es/CD001139" in body
    english = await (await client.get("/library/pelvic-girdle-pain")).text()
    assert "<h1>Pelvic girdle pain in pregnancy</h1>" in english and "cochrane.org/es" not in english
    body = await (await client.get("/library/exercises/pelvic-floor-slow-holds", headers=ES)).text()
    assert "Contracciones sostenidas del piso pélvico" in body and "mayoclinic.org/es/" in body


async def test_the_demo_gets_the_exercise_in_the_pages_language(client):
    spanish = await client.get("/api/library/exercises/glute-bridge", headers=ES)
    english = await client.get("/api/library/exercises/glute-bridge")
    body = await spanish.json()
    assert body["name"] == "Puente de glúteos" and body["language"] == "es" and not body["english_only"]
    assert body["steps"][0].startswith("Suelte el aire") and (await english.json())["name"] == "Glute bridge"
    assert spanish.headers["ETag"] != english.headers["ETag"] and "Accept-Language" in spanish.headers["Vary"]
    other = await (await client.get("/api/library/exercises/bird-dog", headers=ES)).json()
    assert other["english_only"] and other["language"] == "en"


@pytest.mark.parametrize("number", ["911", "112"])
async def test_the_warning_signs_give_the_clinics_emergency_number_in_every_language(aiohttp_client, config, number):
    client = await aiohttp_client(create_app(config.with_overrides(emergency_number=number)))
    pages = ["/library/sacroiliac-joint-dysfunction", "/library/pelvic-girdle-pain", "/library/coccydynia",
             "/library/exercises/walking-program", "/api/library/conditions/c-section-recovery"]
    for headers, says in ((ES, f"llame al {number}"), ({}, f"call {number}")):
        for path in pages:
            body = await (await client.get(path, headers=headers)).text()
            assert "999" not in body and "{emergency_number}" not in body, (path, headers)
            assert number in body, (path, headers)
        assert says in await (await client.get("/library/pelvic-girdle-pain", headers=headers)).text()


async def test_without_a_setting_the_english_pages_still_say_999(client):
    body = await (await client.get("/library/pelvic-girdle-pain")).text()
    assert "call 999 for heavy bleeding or clots" in body


def test_the_emergency_number_is_a_setting_of_digits():
    assert config_from_env({}).emergency_number == "999"
    assert config_from_env({"VISITROOM_EMERGENCY_NUMBER": "911"}).emergency_number == "911"
    for bad in ("9-1-1", "1", "call 911", "１１２"):
        with pytest.raises(ConfigError, match="emergency_number"):
            config_from_env({"VISITROOM_EMERGENCY_NUMBER": bad})


def _copy(tmp_path: Path, relative: str, old: str, new: str) -> Path:
    """The library with its translations, one of them changed."""
    root = tmp_path / "library"
    shutil.copytree(LIBRARY_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    target = root / relative
    text = target.read_text()
    assert old in text, old
    target.write_text(text.replace(old, new, 1))
    return root


PGP = "conditions/pelvic-girdle-pain.es.toml"
HIPS = "exercises/hips.es.toml"


@pytest.mark.parametrize("relative, old, new, phrase", [
    (PGP, 'how_long = """', 'how_longer = """', "condition field 'how_longer': is not a field here"),
    (PGP, 'slug = "pelvic-girdle-pain"\n', 'slug = "pelvic-girdle-pain"\ncolour = "red"\n',
     "condition field 'colour': is not a field here"),
    (PGP, 'slug = "pelvic-girdle-pain"\n', 'slug = "pelvic-girdle-pain"\nphase = "any"\n',
     "condition field 'phase': is not a field here"),
    ("conditions/sacroiliac-joint-dysfunction.es.toml", 'name = "Disfunción de la articulación sacroilíaca"\n', "",
     "condition field 'name': is required"),
    (PGP, "red_flags = [\n", 'red_flags = [\n  "Otra señal: llame a su médico.",\n',
     "condition field 'red_flags': has 2 item(s), its English 1"),
    (PGP, "una lesión en la pelvis [vleeming-2008; cuh-pgp].", "una lesión en la pelvis [vleeming-2008].",
     "condition field 'who_and_when': does not cite [cuh-pgp] as often as its English does"),
    (PGP, "en el parto [fiani-2021];", "en el parto [nhs-nowhere];", "cites '[nhs-nowhere]'"),
    (PGP, "durante el resto del embarazo.", "durante el resto del embarazo. Dura 3 meses.",
     "condition field 'how_long': 'Dura 3 meses.' states a figure without the source"),
    (HIPS, '  "Bájela despacio.",\n', "", "exercise 'clamshell' field 'steps': has 2 item(s), its English 3"),
    (HIPS, 'slug = "glute-bridge"\n', 'slug = "glute-bridge"\ndosage = { sets = 5 }\n',
     "exercise 'glute-bridge' field 'dosage': is not a field here"),
    (HIPS, 'name = "Puente de glúteos"\n', "", "exercise 'glute-bridge' field 'name': is required"),
    (HIPS, 'slug = "glute-bridge"', 'slug = "moonwalk"', "exercise 'moonwalk' field 'slug': must be an exercise of"),
    (HIPS, 'position = "Acostada de lado, con la cadera', 'position = "Acostada boca arriba, con la cadera',
     "exercise 'clamshell' field 'position': must begin"),
    ("exercises/daily-strategies.es.toml", 'when = "cada vez que use las escaleras"\n', "",
     "exercise 'stairs-one-at-a-time' field 'when': is required"),
])
def test_a_bad_translation_is_refused_naming_the_file_and_the_field(tmp_path, relative, old, new, phrase):
    root = _copy(tmp_path, relative, old, new)
    with pytest.raises(LibraryError) as refused:
        load_library(root)
    assert phrase in str(refused.value)
    assert Path(relative).name in str(refused.value)


def test_a_translation_in_a_language_the_library_has_no_warning_signs_in_is_refused(tmp_path):
    root = _copy(tmp_path, HIPS, "", "")
    shutil.copy(root / HIPS, root / "exercises/hips.fr.toml")
    with pytest.raises(LibraryError, match=r"hips\.fr\.toml: file name: is neither an entry"):
        load_library(root)


def test_each_questionnaire_says_whether_it_is_shown_in_spanish_and_why():
    shown = {key for key, instrument in INSTRUMENTS.items() if instrument.shown_in("es")}
    assert shown == {"nprs"}  # our wording of a 0-10 scale; no validated Spanish version of the rest is here
    for key, instrument in INSTRUMENTS.items():
        status = instrument.in_language("es")
        assert status is not None and status.note, key
        assert status.shown or status.status in LANGUAGE_NOTES, key
    assert INSTRUMENTS["pgq"].in_language("es").sources[0].url.endswith("10.1186/s12955-017-0605-0")
    assert INSTRUMENTS["pgic"].in_language("es").status == "none-found"


def test_a_questionnaire_shown_in_spanish_has_every_message_of_its_module_translated():
    from babel.messages.extract import extract_from_file

    from server.http.catalogs import KEYWORDS

    spanish = i18n.translations("es")
    for key, instrument in INSTRUMENTS.items():
        if not instrument.shown_in("es"):
            continue
        source = Path(__file__).resolve().parent.parent / "server" / "care" / "instruments" / f"{key}.py"
        messages = [m for _line, m, _comments, _context in extract_from_file("python", str(source), KEYWORDS)]
        assert messages, key
        untranslated = [m for m in messages if isinstance(m, str) and spanish.gettext(m) == m]
        assert untranslated == [], (key, untranslated)


async def test_her_home_page_and_questionnaires_in_spanish_mark_what_is_in_english(client):
    care = client.server.app[CARE]
    patient = await care.create_patient(PatientRequest("Ana Ruiz", None, None, False, None, False, "es", None),
                                        actor="test")
    plan = await care.create_plan(patient, PlanRequest("pelvic-girdle-pain", "", None, 8, None), actor="test")
    await _assignment(client, patient, plan)  # a glute bridge
    for key in ("nprs", "pgq"):
        await attach(client.server.app[DB], plan, key, 2, actor="test", now=int(time.time()))
    await _open(client, plan)
    home = await (await client.get(f"/care/{plan.id}", headers=ES)).text()
    assert "Puente de glúteos" in home and SPANISH.sets["pregnancy"][0] in home
    assert 'data-testid="english-only"' not in home  # the glute bridge has its Spanish
    pending = (await (await client.get(f"/care/{plan.id}/questionnaires.json", headers=ES)).json())["pending"]
    forms = {form["instrument"]: form for form in pending}
    assert forms["pgq"]["language"] == "en" and forms["pgq"]["language_note"]
    assert forms["pgq"]["items"][0]["text"] == INSTRUMENTS["pgq"].items[0].wording  # the English, not ours
    assert forms["nprs"]["language"] == "es" and "language_note" not in forms["nprs"]
