"""Clinical consistency of the library: every rule a clinician relies on holds for every entry,
and the loader refuses a content file that breaks one, naming the file and the field."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from server.library.clinical import (
    CLINICAL_KINDS,
    SOURCE_KINDS,
    SUPINE_IN_PREGNANCY,
    SUPINE_SOURCE,
)
from server.library.loader import LIBRARY_DIR, SUPINE_POSES, LibraryError, load_library
from server.library.quiz import QUESTIONS, assess, related_conditions
from server.library.warning_signs import POSTPARTUM, PREGNANCY, SHARED_SIGNS, signs_for

SHOWN_POSTPARTUM = signs_for("en").phase_sets["postpartum"][0]
"""The warning signs after birth as an English page shows them (the default emergency number filled in)."""

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
    shared = [s for sign in SHARED_SIGNS.values() for s in sign.sources]
    sources = [s for c in library.conditions.values() for s in c.sources] + [
        SUPINE_SOURCE, *PREGNANCY.sources, *POSTPARTUM.sources, *shared]
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
        assert (SHOWN_POSTPARTUM in condition.warning_sets) == (condition.phase in ("postpartum", "any")), condition.slug


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
    assert 'data-testid="postpartum-red-flags"' in body and 'data-testid="pregnancy-red-flags"' not in body
    for flag in SHOWN_POSTPARTUM.signs:
        assert flag.replace("'", "&#39;") in body
    for source in POSTPARTUM.sources:
        assert source.url in body
    assert "(clinical guideline)" in body
    body = await (await client.get("/library/hip-pain-in-pregnancy")).text()
    assert 'data-testid="postpartum-red-flags"' not in body and 'data-testid="pregnancy-red-flags"' in body
    api = await (await client.get("/api/library/conditions/return-to-running")).json()
    assert api["phase_red_flags"] == {"postpartum": {"heading": SHOWN_POSTPARTUM.heading, "signs": list(SHOWN_POSTPARTUM.signs)}}
    assert {s["kind"] for s in api["sources"]} <= set(SOURCE_KINDS)


# -- refusals --------------------------------------------------------------------------------------


SAMPLE = """slug = "zz-sample"
name = "Sample condition"
order = 999
phase = "postpartum"
aliases = ["sample"]
gist = "A sample entry the refusal tests change one field of."
anatomy = "Muscles and joints."
who_and_when = "About 1 in 10 women, in the first weeks after birth [nice-ng210]."
approach = "Exercise and advice."
how_long = "A few visits."
outlook = "Good."
red_flags = ["Pain that keeps getting worse: see your GP soon."]
shared_red_flags = ["cauda-equina"]
exercises = ["glute-bridge", "clamshell", "bird-dog", "walking-program"]

[[sources]]
key = "nhs-sample"
title = "A sample page"
publisher = "NHS"
kind = "patient-information"
url = "https://www.nhs.uk/sample/"
accessed = 2026

[[sources]]
key = "nice-ng210"
title = "Pelvic floor dysfunction: prevention and non-surgical management (NG210)"
publisher = "NICE"
year = 2021
url = "https://www.nice.org.uk/guidance/ng210"
kind = "guideline"
"""
"""A condition written for the refusal tests, so each changes one known field of it."""


def _library_copy(tmp_path: Path) -> Path:
    root = tmp_path / "library"
    # English content only: a change to an English entry is tested apart from its translations
    # (tests/test_library_spanish.py tests those).
    shutil.copytree(LIBRARY_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__", "*.*.toml"))
    return root


def _broken_copy(tmp_path: Path, relative: str, old: str, new: str) -> Path:
    """A copy of the library with one change; `conditions/zz-sample.toml` is SAMPLE, added."""
    root = _library_copy(tmp_path)
    (root / "conditions/zz-sample.toml").write_text(SAMPLE)
    target = root / relative
    text = target.read_text()
    assert old in text, old
    target.write_text(text.replace(old, new, 1))
    return root


NHS_SAMPLE = 'publisher = "NHS"\nkind = "patient-information"\nurl = "https://www.nhs.uk/sample/"'
SAMPLE_FILE = "conditions/zz-sample.toml"


def test_the_sample_condition_loads_with_its_shared_and_phase_warning_signs(tmp_path):
    sample = load_library(_broken_copy(tmp_path, SAMPLE_FILE, "", "")).conditions["zz-sample"]
    assert sample.all_red_flags() == (sample.red_flags[0], SHARED_SIGNS["cauda-equina"].text, *SHOWN_POSTPARTUM.signs)


@pytest.mark.parametrize("relative, old, new, phrase", [
    (SAMPLE_FILE, NHS_SAMPLE, NHS_SAMPLE.replace('\nkind = "patient-information"', ""),
     "condition field 'sources[0].kind': is required: one of guideline, paper, patient-information, reference"),
    (SAMPLE_FILE, NHS_SAMPLE, NHS_SAMPLE.replace("patient-information", "blog"),
     "condition field 'sources[0].kind': must be one of guideline, paper, patient-information, reference"),
    (SAMPLE_FILE, 'kind = "guideline"', 'kind = "patient-information"',
     "condition field 'sources': at least one source must be a clinical guideline or a peer-reviewed paper"),
    (SAMPLE_FILE, 'url = "https://www.nice.org.uk/guidance/ng210"', 'url = "http://www.nice.org.uk/guidance/ng210"',
     "condition field 'sources[1].url': must be an https:// address"),
    (SAMPLE_FILE, 'publisher = "NICE"', 'publisher = ""',
     "condition field 'sources[1].publisher': must be non-empty text of at most 200 characters"),
    (SAMPLE_FILE, 'title = "A sample page"', 'title = " "',
     "condition field 'sources[0].title': must be non-empty text of at most 300 characters"),
    (SAMPLE_FILE, 'key = "nhs-sample"\n', "",
     "condition field 'sources[0].key': is required"),
    (SAMPLE_FILE, 'key = "nhs-sample"', 'key = "nice-ng210"',
     "condition field 'sources[1].key': 'nice-ng210' is used twice"),
    (SAMPLE_FILE, "red_flags = [", "red_flags = [] \nold_flags = [",
     "condition field 'red_flags': must be a list of at least 1 item(s), each non-empty text"),
    (SAMPLE_FILE, '"Pain that keeps getting worse: see your GP soon."',
     '"Pain that keeps getting worse: see your GP soon.", "A swollen, painful calf: see your GP."',
     "condition field 'red_flags[1]': the postpartum warning signs"),
    (SAMPLE_FILE, '"Pain that keeps getting worse: see your GP soon."',
     '"Being unable to pass urine: see your GP soon."',
     "condition field 'red_flags[0]': describes the shared warning sign 'cannot-pass-urine'"),
    (SAMPLE_FILE, '"Pain that keeps getting worse: see your GP soon."',
     '"Pain so severe that you cannot stand or walk: get a medical review soon."',
     "condition field 'red_flags[0]': describes the shared warning sign 'cannot-bear-weight'"),
    (SAMPLE_FILE, 'shared_red_flags = ["cauda-equina"]', 'shared_red_flags = ["cauda-equina", "cauda-equina"]',
     "condition field 'shared_red_flags[1]': 'cauda-equina' is named twice"),
    (SAMPLE_FILE, 'shared_red_flags = ["cauda-equina"]', 'shared_red_flags = ["headache"]',
     "condition field 'shared_red_flags[0]': must be one of"),
    (SAMPLE_FILE, "in the first weeks after birth [nice-ng210].", "in the first weeks after birth.",
     "condition field 'who_and_when': 'About 1 in 10 women, in the first weeks after birth.' states a figure"),
    (SAMPLE_FILE, "A few visits.", "Six to eight visits.",
     "condition field 'how_long': 'Six to eight visits.' states a figure, duration or timing without"),
    (SAMPLE_FILE, '"Pain that keeps getting worse: see your GP soon."',
     '"Pain for more than two weeks: see your GP soon."',
     "condition field 'red_flags[0]': 'Pain for more than two weeks: see your GP soon.' states a figure"),
    (SAMPLE_FILE, "after birth [nice-ng210].", "after birth [rcog-gtg29].",
     "condition field 'who_and_when': cites '[rcog-gtg29]', which is not the key of one of its sources"),
    (SAMPLE_FILE, '"walking-program"]', '"walking-program", "moonwalk"]',
     "condition field 'exercises[4]': unknown exercise 'moonwalk'"),
    ("exercises/hips.toml", 'position = "Lying on your side, hips and knees bent',
     'position = "Lying on your back, hips and knees bent', "supine"),
])
def test_the_loader_refuses_a_clinical_mistake_and_names_file_and_field(tmp_path, relative, old, new, phrase):
    root = _broken_copy(tmp_path, relative, old, new)
    if phrase == "supine":  # not a refusal: an exercise said to lie on the back gets the pregnancy rule
        assert SUPINE_IN_PREGNANCY in load_library(root).exercises["clamshell"].avoid_when
        return
    with pytest.raises(LibraryError) as broken:
        load_library(root)
    assert phrase in str(broken.value)
    assert Path(relative).name in str(broken.value)


@pytest.mark.parametrize("phase, refused", [("pregnancy", True), ("any", True), ("postpartum", False)])
def test_an_entry_of_pregnancy_may_not_repeat_the_warning_signs_in_pregnancy(tmp_path, phase, refused):
    root = _broken_copy(tmp_path, SAMPLE_FILE, 'phase = "postpartum"', f'phase = "{phase}"')
    target = root / SAMPLE_FILE
    target.write_text(target.read_text().replace(
        '"Pain that keeps getting worse: see your GP soon."', '"Your baby moving less: tell your midwife now."'))
    if not refused:
        assert load_library(root).conditions["zz-sample"].warning_sets == (SHOWN_POSTPARTUM,)
        return
    with pytest.raises(LibraryError) as broken:
        load_library(root)
    assert "zz-sample.toml: condition field 'red_flags[0]': the pregnancy warning signs" in str(broken.value)


def test_a_condition_with_one_source_is_refused(tmp_path):
    root = _broken_copy(tmp_path, SAMPLE_FILE, "", "")
    target = root / SAMPLE_FILE
    head, first, *_ = target.read_text().split("[[sources]]")
    target.write_text(head.replace(" [nice-ng210]", " [nhs-sample]") + "[[sources]]" + first)  # the first alone
    with pytest.raises(LibraryError) as broken:
        load_library(root)
    assert "zz-sample.toml: condition field 'sources': must be a list of at least 2 [[sources]] tables" in str(
        broken.value)
