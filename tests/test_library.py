"""The condition library: content checks, a broken file stops start-up, pages, API, quiz."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from server.app import create_app
from server.library.clinical import SUPINE_IN_PREGNANCY, SUPINE_SOURCE
from server.library.loader import LIBRARY_DIR, SUPINE_POSES, LibraryError, load_library
from server.library.model import Dosage
from server.library.quiz import QUESTIONS, assess
from server.library.warning_signs import SHARED_SIGNS
from tests.test_library_consistency import SAMPLE_FILE, _broken_copy

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def library():
    return load_library()


def test_the_library_has_the_required_breadth(library):
    assert len(library.conditions) >= 20
    assert len(library.exercises) >= 60
    for condition in library.conditions.values():
        assert len(condition.exercises) >= 4, condition.slug
        assert condition.sources, condition.slug


def test_sacroiliac_joint_dysfunction_comes_first_with_the_facts(library):
    first = library.ordered_conditions()[0]
    assert first.slug == "sacroiliac-joint-dysfunction"
    assert "upper butt pain" in first.aliases
    text = " ".join([first.who_and_when, first.approach, first.how_long, first.outlook]).lower()
    for fact in ("second trimester", "6 to 12 weeks", "breastfeed", "manual therapy", "stabilisation",
                 "body mechanics", "belt", "belly band", "couple of visits"):
        assert fact in text, fact
    # The outdated story (relaxin loosens, the pelvis slips, therapy restores symmetry) is gone.
    everything = " ".join([first.gist, first.anatomy, text]).lower()
    for outdated in ("relaxin", "hypermobile", "symmetry", "too much or too little"):
        assert outdated not in everything, outdated


def test_sacroiliac_joint_dysfunction_cites_its_sources_truly(library):
    sources = {s.url: s for s in library.conditions["sacroiliac-joint-dysfunction"].sources}
    fiani = sources["https://pmc.ncbi.nlm.nih.gov/articles/PMC8580107/"]
    assert fiani.title.startswith("Sacroiliac Joint and Pelvic Dysfunction Due to Symphysiolysis in Postpartum Women")
    assert (fiani.publisher, fiani.year) == ("Cureus", 2021)
    le_huec = sources["https://doi.org/10.1016/j.otsr.2018.05.019"]
    assert le_huec.title.startswith("The sacro-iliac joint: A potentially painful enigma") and le_huec.year == 2019
    assert le_huec.publisher == "Orthopaedics & Traumatology: Surgery & Research"
    bertuit = sources["https://doi.org/10.1111/jocn.13888"]
    assert bertuit.title.startswith("Pregnancy and pelvic girdle pain: analysis of pelvic belt on pain")
    assert (bertuit.publisher, bertuit.year) == ("Journal of Clinical Nursing", 2018)
    # The belt advice no longer rests on a study of a realignment device used during exercise.
    assert not any("realignment" in s.title.lower() for s in sources.values())


def test_every_source_has_title_publisher_year_and_url(library):
    for condition in library.conditions.values():
        for source in condition.sources:
            where = f"{condition.slug}: {source.url}"
            assert source.title.strip() and source.publisher.strip(), where
            assert source.url.startswith("https://"), where
            assert bool(source.year) != bool(source.accessed), where
            assert 1900 <= (source.year or source.accessed) <= 2100, where
            assert source.when() in (str(source.year), f"accessed {source.accessed}"), where
            assert source.kind in ("guideline", "paper", "patient-information", "reference"), where


async def test_condition_pages_show_each_source_with_its_year(client, library):
    for condition in library.conditions.values():
        body = await (await client.get(f"/library/{condition.slug}")).text()
        for source in condition.sources:
            assert f"{source.publisher}, {source.when()}" in body.replace("&amp;", "&"), source.url


def _lies_on_the_back(exercise) -> bool:
    position = exercise.position.lower()
    shown_supine = 2 * sum(f.pose in SUPINE_POSES for f in exercise.demo) >= len(exercise.demo)
    return shown_supine or position.startswith("lying on your back")


def test_every_exercise_on_the_back_carries_the_one_pregnancy_rule(library):
    on_back = [e for e in library.exercises.values() if _lies_on_the_back(e)]
    assert {"glute-bridge", "heel-slides", "diaphragmatic-breathing", "pelvic-floor-slow-holds",
            "adductor-squeeze", "transverse-abdominis-activation"} <= {e.slug for e in on_back}
    for exercise in library.exercises.values():
        carries = exercise.avoid_when.count(SUPINE_IN_PREGNANCY)
        assert carries == (1 if _lies_on_the_back(exercise) else 0), exercise.slug
        assert exercise.supine == _lies_on_the_back(exercise), exercise.slug
        # No second, different wording of the same rule anywhere.
        others = [a for a in exercise.avoid_when if a != SUPINE_IN_PREGNANCY]
        assert not any("16 weeks" in a or "later pregnancy" in a for a in others), exercise.slug
        assert "later pregnancy" not in exercise.position and "late in pregnancy" not in exercise.position.lower()


async def test_an_exercise_page_on_the_back_shows_the_rule_and_its_source(client):
    body = await (await client.get("/library/exercises/glute-bridge")).text()
    assert "after about 16 weeks" in body and 'data-testid="supine-rule-source"' in body
    assert SUPINE_SOURCE.url in body
    body = await (await client.get("/library/exercises/clamshell")).text()
    assert "after about 16 weeks" not in body and "supine-rule-source" not in body


def test_a_content_file_may_not_repeat_the_supine_rule(tmp_path):
    root = _broken_copy(tmp_path, "exercises/hips.toml", 'avoid_when = ["Pain at the pubic joint',
                        'avoid_when = ["Pregnancy after about 16 weeks: lie propped up.", "Pain at the pubic joint')
    with pytest.raises(LibraryError) as broken:
        load_library(root)
    assert "glute-bridge" in str(broken.value) and "avoid_when[0]" in str(broken.value)


def test_dosage_reads_as_a_person_would_say_it(library):
    for exercise in library.exercises.values():
        text = exercise.dosage.text()
        assert "1 times" not in text and "1× a day" not in text and "×  " not in text, exercise.slug
        assert text[0].isupper() or text[0].isdigit(), exercise.slug
    assert library.exercises["log-roll"].dosage.text() == "Each time you get out of bed"
    assert library.exercises["scoop-lift"].dosage.text() == "Each time you pick up your baby"
    assert Dosage(2, 10, 3, 1, 0).text() == "2 × 10, hold 3 s, once a day"
    assert Dosage(1, 10, 0, 2, 0).text() == "10 times, twice a day"
    assert Dosage(1, 5, 0, 3, 0).text() == "5 times, 3 times a day"
    assert Dosage(2, 8, 0, 0, 4).text() == "2 × 8, 4 days a week"


def test_a_one_off_strategy_without_when_is_refused(tmp_path):
    root = _broken_copy(tmp_path, "exercises/core.toml", ', when = "each time you get out of bed"', "")
    with pytest.raises(LibraryError) as broken:
        load_library(root)
    assert "exercise 'log-roll' field 'dosage.when': a strategy done once at a time says when" in str(broken.value)


def test_diastasis_text_matches_its_sources(library):
    condition = library.conditions["diastasis-recti"]
    assert "twins" not in condition.who_and_when and "large baby" not in condition.who_and_when
    assert "curl-ups" in condition.approach.lower()
    assert any(s.url == "https://doi.org/10.1016/j.jphys.2023.05.017" and s.year == 2023 for s in condition.sources)


def test_corrected_citations_of_issue_11(library):
    csec = library.conditions["c-section-recovery"]
    clinic = [s for s in csec.sources if s.publisher == "Cleveland Clinic"]
    assert [(s.title, s.url, s.year) for s in clinic] == [
        ("C-Section Recovery Timeline and Aftercare", "https://health.clevelandclinic.org/c-section-recovery", 2021)]
    assert "two to four days" in csec.who_and_when
    round_ligament = library.conditions["round-ligament-pain"]
    assert "https://my.clevelandclinic.org/health/symptoms/21642-round-ligament-pain" in {
        s.url for s in round_ligament.sources}
    breathing = library.exercises["diaphragmatic-breathing"]
    assert "belly gently fall and the pelvic floor lift" in breathing.steps[2]


def test_de_quervains_has_thumb_exercises_and_nothing_that_loads_a_bent_back_wrist(library):
    condition = library.conditions["de-quervains"]
    assert "median-nerve-glide" not in condition.exercises and "wall-push-up" not in condition.exercises
    thumb = [library.exercises[s] for s in condition.exercises if s.startswith("thumb-")]
    assert len(thumb) >= 2
    for exercise in thumb:
        assert "wrist straight" in exercise.position.lower() or "wrist straight" in " ".join(exercise.steps).lower()
        assert all(f.pose.startswith("sit") for f in exercise.demo)  # seated at a table, as the text says


def test_every_demo_pose_and_step_exists_and_dosages_are_sane(library):
    for exercise in library.exercises.values():
        assert len(exercise.demo) >= 2
        for frame in exercise.demo:
            assert frame.pose in library.poses
            assert 1 <= frame.step <= len(exercise.steps)
        d = exercise.dosage
        assert 1 <= d.sets <= 10 and 1 <= d.reps <= 50 and 0 <= d.hold_seconds <= 120
        assert d.per_day or d.per_week


def test_every_exercise_is_used_by_a_condition(library):
    used = {slug for c in library.conditions.values() for slug in c.exercises}
    assert used == set(library.exercises)


@pytest.mark.parametrize("relative, old, new, phrase", [
    # unknown field, wrong type, missing field, out of range, not one of the choices
    ("exercises/hips.toml", 'slug = "glute-bridge"', 'slug = "glute-bridge"\nrepeats = 3',
     "exercise 'glute-bridge' field 'repeats': is not a field here (known: slug, name, summary,"),
    ("exercises/hips.toml", 'name = "Glute bridge"', "name = 3",
     "exercise 'glute-bridge' field 'name': must be non-empty text of at most 80 characters"),
    (SAMPLE_FILE, "order = 999\n", "",
     "condition field 'order': is required: a whole number between 0 and 1000"),
    ("exercises/hips.toml", "reps = 10, hold_seconds = 3", "reps = 500, hold_seconds = 3",
     "exercise 'glute-bridge' field 'dosage.reps': must be a whole number between 1 and 50"),
    (SAMPLE_FILE, 'phase = "postpartum"', 'phase = "later"',
     "condition field 'phase': must be one of any, postpartum, pregnancy"),
    ("exercises/core.toml", "[[exercise]]", "[[exercises]]", "core.toml: file field 'exercises': is not a field here (known: exercise)"),
    # addresses and citations
    (SAMPLE_FILE, 'url = "https://www.nhs.uk/sample/"', 'url = "ftp://x"',
     "condition field 'sources[0].url': must be an https:// address"),
    (SAMPLE_FILE, 'url = "https://www.nhs.uk/sample/"\naccessed = 2026', 'url = "https://www.nhs.uk/sample/"',
     "condition field 'sources[0].year': give the publication year"),
    # references to other files
    ("exercises/hips.toml", 'pose = "bridge"', 'pose = "flying"',
     "exercise 'glute-bridge' field 'demo[1].pose': unknown pose 'flying'"),
    ("conditions/coccydynia.toml", '"childs-pose", ', '"handstand", ',
     "condition field 'exercises[1]': unknown exercise 'handstand'"),
    # poses and the figure
    ("poses.toml", "[stand]\nhip = [120, 82]", "[stand]\nhip = [999, 82]",
     "pose 'stand' field 'hip': must be [x, y] (or [x, y, z]) inside the 240 × 160 stage"),
    ("poses.toml", "out = { arm = [12, 6]", "out = { arm = [12, 600]",
     "pose 'stand' field 'out.arm[1]': must be a number between -360 and 360"),
    ("figure.toml", "pelvis = 7 ", "pelvis = -7 ", "figure.toml: file field 'body.pelvis': must be a number above 0"),
    ("figure.toml", "[props.mat]\nboxes", "[props.mat]\nsoft = true\nboxes",
     "field 'props.mat.soft': is not a field here (known: solid, held, between, band, boxes, balls)"),
    ("conditions/coccydynia.toml", 'name = "Tailbone pain (coccydynia)"', 'name = ', "syntax"),
])
def test_a_broken_content_file_names_the_file_and_the_field(tmp_path, config, relative, old, new, phrase):
    root = _broken_copy(tmp_path, relative, old, new)
    with pytest.raises(LibraryError) as broken:
        create_app(config.with_overrides(library_dir=root))
    assert phrase in str(broken.value)
    assert Path(relative).name in str(broken.value)


def test_run_py_refuses_to_start_on_a_broken_library(tmp_path):
    root = _broken_copy(tmp_path, "exercises/hips.toml", 'pose = "bridge"', 'pose = "flying"')
    env = {"VISITROOM_LIBRARY_DIR": str(root), "VISITROOM_DB": str(tmp_path / "x.db"), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, str(ROOT / "run.py"), "serve", "--port", "8199"],
                            capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
    assert result.returncode == 2
    assert "hips.toml" in result.stderr and "unknown pose 'flying'" in result.stderr
    assert "Traceback" not in result.stderr


async def test_library_index_searches_aliases_and_filters_by_phase(client):
    body = await (await client.get("/library", params={"q": "upper butt"})).text()
    assert "Sacroiliac joint dysfunction" in body and "Diastasis" not in body
    body = await (await client.get("/library", params={"phase": "pregnancy"})).text()
    assert "Pelvic girdle pain in pregnancy" in body and "Recovery after a caesarean" not in body
    body = await (await client.get("/library", params={"q": "zzzz"})).text()
    assert "No condition matches" in body


async def test_every_library_page_answers_and_says_it_is_education(client, library):
    paths = ["/library", "/library/exercises", "/library/quiz"]
    paths += [f"/library/{slug}" for slug in library.conditions]
    paths += [f"/library/exercises/{slug}" for slug in library.exercises]
    for path in paths:
        response = await client.get(path)
        assert response.status == 200, path
        assert "Education, not a diagnosis" in await response.text(), path


async def test_a_condition_page_shows_sources_and_red_flags(client):
    body = await (await client.get("/library/sacroiliac-joint-dysfunction")).text()
    assert "When to see a doctor" in body and 'id="source-1"' in body and "choosept.com" in body
    assert SHARED_SIGNS["cauda-equina"].text in body and 'data-testid="pregnancy-red-flags"' in body
    assert body.count('href="/library/exercises/') >= 4


async def test_unknown_library_pages_are_404(client):
    assert (await client.get("/library/not-a-condition")).status == 404
    assert (await client.get("/library/exercises/not-an-exercise")).status == 404
    response = await client.get("/api/library/exercises/not-an-exercise")
    assert response.status == 404 and (await response.json())["error"]["code"] == "not_found"


async def test_library_api_answers_with_etag_and_304(client):
    response = await client.get("/api/library/conditions/sacroiliac-joint-dysfunction")
    assert response.status == 200
    body = await response.json()
    assert body["slug"] == "sacroiliac-joint-dysfunction"
    assert {"glute-bridge", "clamshell"} <= {e["slug"] for e in body["exercises"]}
    assert all(e["poses"] for e in body["exercises"])
    etag = response.headers["ETag"]
    assert "max-age" in response.headers["Cache-Control"]
    again = await client.get("/api/library/conditions/sacroiliac-joint-dysfunction",
                             headers={"If-None-Match": etag})
    assert again.status == 304
    listing = await (await client.get("/api/library/conditions")).json()
    assert listing["conditions"][0]["slug"] == "sacroiliac-joint-dysfunction"
    exercises = await (await client.get("/api/library/exercises")).json()
    assert len(exercises["exercises"]) >= 40
    one = await (await client.get("/api/library/exercises/glute-bridge")).json()
    assert set(one["poses"]) == {f["pose"] for f in one["demo"]}


async def test_library_routes_are_in_the_openapi_document(client):
    doc = await (await client.get("/api/openapi.json")).json()
    for path in ("/api/library/conditions", "/api/library/conditions/{slug}",
                 "/api/library/exercises", "/api/library/exercises/{slug}"):
        assert "get" in doc["paths"][path]


def test_the_quiz_recommends_a_visit_only_when_answers_warrant_it():
    never = {q.key: "never" for q in QUESTIONS}
    assert assess(never).level == "none"
    assert assess({**never, "leak_effort": "sometimes"}).level == "book"
    assert assess({**never, "heaviness": "sometimes"}).level == "soon"
    assert assess({**never, "leak_effort": "often", "urgency": "often"}).level == "soon"
    assert assess({"leak_effort": "<script>"}).level == "none"


async def test_the_quiz_page_shows_a_result_and_stores_nothing(client):
    from tests.helpers import count_rows

    before = await count_rows(client, "events")
    response = await client.get("/library/quiz", params={"leak_effort": "often", "heaviness": "sometimes"})
    body = await response.text()
    assert 'data-level="soon"' in body and "Book a pelvic health visit soon" in body
    assert await count_rows(client, "events") == before
