"""Clinical consistency of the library: every rule a clinician relies on holds for every entry,
and the loader refuses a content file that breaks one, naming the file and the field."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from server.library.clinical import (
    CLINICAL_KINDS,
    POSTNATAL_RED_FLAGS,
    POSTNATAL_SOURCES,
    SOURCE_KINDS,
    SUPINE_IN_PREGNANCY,
    SUPINE_SOURCE,
)
from server.library.loader import LIBRARY_DIR, SUPINE_POSES, LibraryError, load_library
from server.library.quiz import QUESTIONS, assess, related_conditions

# The warning signs after birth that every postpartum entry must name, each with words that show it.
POSTNATAL_TOPICS = {
    "heavy bleeding": r"heavy bleeding",
    "fever": r"temperature of 38|fever",
    "calf pain or breathlessness": r"calf.*(breathing|breathless)",
    "wound infection": r"wound.*(infection|red, swollen)",
    "severe headache": r"severe headache",
}


@pytest.fixture(scope="module")
def library():
    return load_library()


def test_the_library_covers_what_the_clinic_treats(library):
    assert len(library.conditions) >= 20 and len(library.exercises) >= 60
    assert {"pelvic-floor-dysfunction", "overactive-bladder", "painful-sex-and-pelvic-pain", "perineal-tear-recovery",
            "constipation-and-toilet-habits", "return-to-running", "hip-pain-in-pregnancy",
            "pubic-symphysis-pain-after-birth"} <= set(library.conditions)
    assert {"caesarean-scar-massage", "curl-up-progression", "running-readiness-check", "walk-jog-intervals",
            "footstool-toilet-posture", "standing-pelvic-floor", "car-seat-carry", "pram-lift"} <= set(library.exercises)


def test_every_condition_has_red_flags_sources_and_real_exercises(library):
    for condition in library.conditions.values():
        assert condition.red_flags, condition.slug
        assert len(condition.sources) >= 2, condition.slug
        assert any(s.kind in CLINICAL_KINDS for s in condition.sources), condition.slug
        assert len(condition.exercises) >= 4, condition.slug
        for slug in condition.exercises:
            assert slug in library.exercises, (condition.slug, slug)
        assert len(set(condition.exercises)) == len(condition.exercises), condition.slug


def test_every_source_is_cited_in_full(library):
    sources = [s for c in library.conditions.values() for s in c.sources] + [SUPINE_SOURCE, *POSTNATAL_SOURCES]
    for source in sources:
        assert source.title.strip() and source.publisher.strip(), source.url
        assert re.fullmatch(r"https://[^\s/]+\.[^\s]+", source.url), source.url
        assert bool(source.year) != bool(source.accessed), source.url
        assert 1900 <= (source.year or source.accessed) <= 2100, source.url
        assert source.kind in SOURCE_KINDS, source.url


def test_every_postpartum_entry_names_the_postnatal_warning_signs(library):
    postpartum = [c for c in library.conditions.values() if c.phase == "postpartum"]
    assert {"c-section-recovery", "perineal-tear-recovery", "return-to-running",
            "pubic-symphysis-pain-after-birth"} <= {c.slug for c in postpartum}
    for condition in postpartum:
        flags = " ".join(condition.all_red_flags()).lower()
        for topic, pattern in POSTNATAL_TOPICS.items():
            assert re.search(pattern, flags), (condition.slug, topic)
    for condition in library.conditions.values():
        assert bool(condition.postnatal_red_flags) == (condition.phase == "postpartum"), condition.slug


def _lies_on_the_back(exercise) -> bool:
    shown = 2 * sum(f.pose in SUPINE_POSES for f in exercise.demo) >= len(exercise.demo)
    said = re.match(r"(lying|lie) (flat )?on your back", exercise.position, re.IGNORECASE)
    return shown or bool(said)


def test_every_exercise_on_the_back_carries_the_pregnancy_rule_once(library):
    on_back = {e.slug for e in library.exercises.values() if _lies_on_the_back(e)}
    assert {"curl-up-progression", "single-leg-bridge", "glute-bridge"} <= on_back
    for exercise in library.exercises.values():
        assert exercise.avoid_when.count(SUPINE_IN_PREGNANCY) == (exercise.slug in on_back), exercise.slug
        assert exercise.supine == (exercise.slug in on_back), exercise.slug


def test_every_quiz_answer_points_to_pages_that_exist(library):
    for question in QUESTIONS:
        assert question.conditions, question.key
        for slug in question.conditions:
            assert slug in library.conditions, (question.key, slug)
    assert "overactive-bladder" in QUESTIONS[[q.key for q in QUESTIONS].index("urgency")].conditions


def test_the_quiz_links_only_the_symptoms_answered():
    never = {q.key: "never" for q in QUESTIONS}
    assert related_conditions(never) == []
    assert related_conditions({**never, "urgency": "sometimes"}) == ["overactive-bladder"]
    both = related_conditions({**never, "wind": "often", "emptying": "often"})
    assert both == ["pelvic-floor-dysfunction", "perineal-tear-recovery", "constipation-and-toilet-habits"]
    assert related_conditions({"urgency": "<script>"}) == []
    assert assess({**never, "urgency": "sometimes"}).level == "book"


async def test_the_quiz_result_links_to_the_urgency_page(client):
    body = await (await client.get("/library/quiz", params={"urgency": "often"})).text()
    assert 'data-testid="quiz-related"' in body and 'href="/library/overactive-bladder"' in body
    body = await (await client.get("/library/quiz", params={"urgency": "never"})).text()
    assert 'data-testid="quiz-related"' not in body


async def test_a_postpartum_page_shows_the_warning_signs_and_their_sources(client):
    body = await (await client.get("/library/perineal-tear-recovery")).text()
    assert 'data-testid="postnatal-red-flags"' in body
    for flag in POSTNATAL_RED_FLAGS:
        assert flag.replace("'", "&#39;") in body
    for source in POSTNATAL_SOURCES:
        assert source.url in body
    assert "(clinical guideline)" in body
    body = await (await client.get("/library/hip-pain-in-pregnancy")).text()
    assert 'data-testid="postnatal-red-flags"' not in body
    api = await (await client.get("/api/library/conditions/return-to-running")).json()
    assert api["postnatal_red_flags"] == list(POSTNATAL_RED_FLAGS)
    assert {s["kind"] for s in api["sources"]} <= set(SOURCE_KINDS)


# -- refusals --------------------------------------------------------------------------------------


def _broken_copy(tmp_path: Path, relative: str, old: str, new: str) -> Path:
    root = tmp_path / "library"
    shutil.copytree(LIBRARY_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    target = root / relative
    text = target.read_text()
    assert old in text, old
    target.write_text(text.replace(old, new, 1))
    return root


NHS_COCCYX = 'publisher = "NHS"\nkind = "patient-information"\nurl = "https://www.nhs.uk/conditions/tailbone-coccyx-pain/"'


@pytest.mark.parametrize("relative, old, new, phrase", [
    ("conditions/coccydynia.toml", NHS_COCCYX, NHS_COCCYX.replace('\nkind = "patient-information"', ""),
     "condition field 'sources[0].kind': is required: one of guideline, paper, patient-information, reference"),
    ("conditions/coccydynia.toml", NHS_COCCYX, NHS_COCCYX.replace("patient-information", "blog"),
     "condition field 'sources[0].kind': must be one of guideline, paper, patient-information, reference"),
    ("conditions/coccydynia.toml", 'kind = "paper"', 'kind = "patient-information"',
     "condition field 'sources': at least one source must be a clinical guideline or a peer-reviewed paper"),
    ("conditions/coccydynia.toml", 'url = "https://www.physio-pedia.com/Coccydynia"',
     'url = "http://www.physio-pedia.com/Coccydynia"', "condition field 'sources[1].url': must be an https:// address"),
    ("conditions/coccydynia.toml", 'publisher = "Ochsner Journal"', 'publisher = ""',
     "condition field 'sources[2].publisher': must be non-empty text of at most 200 characters"),
    ("conditions/coccydynia.toml", 'title = "Tailbone (coccyx) pain"', 'title = " "',
     "condition field 'sources[0].title': must be non-empty text of at most 300 characters"),
    ("conditions/coccydynia.toml", "red_flags = [", "red_flags = [] \nold_flags = [",
     "condition field 'red_flags': must be a list of at least 1 item(s), each non-empty text"),
    ("conditions/coccydynia.toml", '"Pain after a fall that makes sitting impossible.",',
     '"Pain after a fall that makes sitting impossible.", "A swollen, painful calf.",',
     "condition field 'red_flags[3]': the warning signs after birth"),
    ("conditions/perineal-tear-recovery.toml", '"walking-program"]', '"walking-program", "moonwalk"]',
     "condition field 'exercises[8]': unknown exercise 'moonwalk'"),
    ("exercises/hips.toml", 'position = "Lying on your side, hips and knees bent',
     'position = "Lying on your back, hips and knees bent', None),
])
def test_the_loader_refuses_a_clinical_mistake_and_names_file_and_field(tmp_path, relative, old, new, phrase):
    root = _broken_copy(tmp_path, relative, old, new)
    if phrase is None:  # not a refusal: an exercise said to lie on the back gets the pregnancy rule
        assert SUPINE_IN_PREGNANCY in load_library(root).exercises["clamshell"].avoid_when
        return
    with pytest.raises(LibraryError) as broken:
        load_library(root)
    assert phrase in str(broken.value)
    assert Path(relative).name in str(broken.value)


def test_a_condition_with_one_source_is_refused(tmp_path):
    root = _broken_copy(tmp_path, "conditions/carpal-tunnel-in-pregnancy.toml", "", "")
    target = root / "conditions/carpal-tunnel-in-pregnancy.toml"
    head, first, *_ = target.read_text().split("[[sources]]")
    target.write_text(head + "[[sources]]" + first)  # keep only the first source
    with pytest.raises(LibraryError) as broken:
        load_library(root)
    assert ("carpal-tunnel-in-pregnancy.toml: condition field 'sources': must be a list of at least 2 [[sources]] "
            "tables") in str(broken.value)
