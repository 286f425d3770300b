"""The condition library: content checks, a broken file stops start-up, pages, API, quiz."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from server.app import create_app
from server.library.loader import LIBRARY_DIR, LibraryError, load_library
from server.library.quiz import QUESTIONS, assess

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def library():
    return load_library()


def test_the_library_has_the_required_breadth(library):
    assert len(library.conditions) >= 12
    assert len(library.exercises) >= 40
    for condition in library.conditions.values():
        assert len(condition.exercises) >= 4, condition.slug
        assert condition.sources, condition.slug
        assert all(s.url.startswith("https://") for s in condition.sources)


def test_sacroiliac_joint_dysfunction_comes_first_with_the_facts(library):
    first = library.ordered_conditions()[0]
    assert first.slug == "sacroiliac-joint-dysfunction"
    assert "upper butt pain" in first.aliases
    text = " ".join([first.who_and_when, first.approach, first.how_long, first.outlook]).lower()
    for fact in ("second trimester", "6 to 12 weeks", "breastfeed", "manual therapy", "stabilisation",
                 "body mechanics", "belt"):
        assert fact in text, fact


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


def _broken_copy(tmp_path: Path, relative: str, old: str, new: str) -> Path:
    root = tmp_path / "library"
    shutil.copytree(LIBRARY_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    target = root / relative
    text = target.read_text()
    assert old in text
    target.write_text(text.replace(old, new, 1))
    return root


@pytest.mark.parametrize("relative, old, new, phrase", [
    ("exercises/hips.toml", 'pose = "bridge"', 'pose = "flying"', "demo[1] field 'pose': unknown pose 'flying'"),
    ("exercises/hips.toml", "reps = 10, hold_seconds = 3", "reps = 500, hold_seconds = 3", "field 'reps'"),
    ("conditions/coccydynia.toml", 'phase = "postpartum"', 'phase = "later"', "field 'phase'"),
    ("conditions/coccydynia.toml", '"childs-pose", ', '"handstand", ', "unknown exercise 'handstand'"),
    ("conditions/coccydynia.toml", 'url = "https://www.physio-pedia.com/Coccydynia"', 'url = "ftp://x"', "field 'url'"),
    ("poses.toml", "[stand]\nhip = [120, 82]", "[stand]\nhip = [999, 82]", "pose 'stand' field 'hip'"),
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
    assert "When to see a doctor" in body and "physio-pedia.com" in body
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
