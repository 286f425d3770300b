"""What the exercises tell a patient: stop signs, timings and the alternatives they offer (issue 19).

Each test loads the real library and reads the words a patient sees, so a clinical review's finding
stays fixed: the walking programme carries the warning signs to stop exercising in pregnancy (ACOG
Committee Opinion 804, with the NHS on a baby moving less), the advice on starting pelvic floor
exercises after a catheter reads the same everywhere (NHS maternity leaflets), the deep tummy
draw-in starts gently after a caesarean as pain allows (NHS postnatal physiotherapy leaflets), and
no exercise sends a patient to another exercise that itself warns against her complaint.
"""

from __future__ import annotations

import re

import pytest

from server.library.loader import load_library
from server.library.warning_signs import BLOOD_CLOT, POSTPARTUM, PREGNANCY, fill_number


@pytest.fixture(scope="module")
def library():
    return load_library()


def _words(exercise) -> list[str]:
    """Every text a patient reads on an exercise's page, one string each."""
    return [exercise.summary, exercise.position, *exercise.steps, *exercise.cues, *exercise.mistakes,
            *exercise.avoid_when]


# ACOG Committee Opinion 804 (2020), warning signs to stop exercising in pregnancy, and the NHS's
# reduced baby movements; each with the words that show an avoid_when item names it.
PREGNANCY_STOP_SIGNS = {
    "vaginal bleeding": r"bleeding from the vagina",
    "regular painful contractions": r"regular, painful .*contractions",
    "amniotic fluid leakage": r"fluid leaking .*from the vagina",
    "breathlessness before exertion": r"breath.*before you (even )?start",
    "dizziness": r"dizzy",
    "headache": r"headache",
    "chest pain": r"chest pain",
    "muscle weakness affecting balance": r"weakness .*balance",
    "calf pain or swelling": r"calf",
    "reduced baby movements": r"baby (is )?moving less",
}
# Words that say whom to contact and how soon.
URGENCY = re.compile(r"999|straight away|the same day|before you walk again|midwife|doctor|therapist|GP")


def test_the_walking_programme_names_each_warning_sign_to_stop_and_how_urgently_to_get_help(library):
    walking = library.exercises["walking-program"]
    text = " ".join(walking.avoid_when)
    missing = [sign for sign, words in PREGNANCY_STOP_SIGNS.items() if not re.search(words, text, re.IGNORECASE)]
    assert not missing, f"walking-program avoid_when misses ACOG's stop signs: {missing}"
    for item in walking.avoid_when:
        assert URGENCY.search(item), f"walking-program: says neither whom to call nor how soon: {item!r}"
        assert item.count(". ") == 0, f"walking-program: one sentence an item: {item!r}"
    # The emergencies say so.
    for sign in ("chest pain", "calf"):
        assert any(sign in item.lower() and "999" in item for item in walking.avoid_when), sign


CATHETER_ADVICE = re.compile(r"catheter", re.IGNORECASE)


def test_the_advice_after_a_catheter_is_to_start_once_it_is_out_and_urine_is_passed_and_reads_the_same(library):
    said = {slug: [t for t in _words(e) if CATHETER_ADVICE.search(t)] for slug, e in library.exercises.items()}
    said = {slug: texts for slug, texts in said.items() if texts}
    assert "pelvic-floor-slow-holds" in said
    sentences = set()
    for slug, texts in said.items():
        for text in texts:
            assert "passed urine" in text and "as soon as you feel able" in text, (
                f"{slug}: the catheter advice must say to start as soon as you feel able after the birth, once "
                f"the catheter is out and you have passed urine: {text!r}")
            assert "first days" not in text, f"{slug}: no wait of 'the first days' after a catheter: {text!r}"
            sentences.add(re.search(r"[^.:]*catheter[^.]*", text).group(0).strip())
    assert len(sentences) == 1, f"the catheter advice reads differently in different exercises: {sentences}"


def test_the_deep_tummy_draw_in_starts_gently_after_a_caesarean_as_pain_allows(library):
    draw_in = library.exercises["transverse-abdominis-activation"]
    items = [item for item in draw_in.avoid_when if "caesarean" in item.lower()]
    assert items, "the draw-in should say how to do it after a caesarean"
    for item in items:
        assert "only when your therapist says so" not in item
        assert "as pain allows" in item and "stop" in item.lower(), item
    # No exercise that NHS postnatal leaflets start in the first days after a caesarean waits for a therapist.
    early = ("transverse-abdominis-activation", "pelvic-floor-slow-holds", "supported-cough", "log-roll",
             "diaphragmatic-breathing")
    for slug in early:
        for item in library.exercises[slug].avoid_when:
            assert "therapist says so" not in item, f"{slug}: {item!r}"


# Complaints an avoid_when item can name, each with the words that show it.
COMPLAINTS = {
    "pain at the pubic joint": r"pubic|front of the pelvis",
    "pain at the back of the pelvis": r"back of the pelvis",
    "wrist pain": r"wrist",
    "knee pain when kneeling": r"knee pain|kneeling",
    "shoulder pain": r"shoulder pain",
    "doming along the midline": r"\bdom(e|es|ing)\b|ridge",
    "dizziness": r"dizz|faint",
    "leaking": r"\bleak",
    "heaviness in the vagina": r"heaviness|dragging|feels heavier",
    "pain spreading down the leg": r"down the leg|into the leg",
    "pins and needles": r"tingling|numb|pins and needles",
}
# Other names the text uses for an exercise, besides its name and slug.
ALIASES = {
    "two-leg bridge": "glute-bridge",
    "slow holds": "pelvic-floor-slow-holds",
    "quick squeezes": "pelvic-floor-quick-squeezes",
    "clamshells": "clamshell",
}


def _names(exercise) -> set[str]:
    name = exercise.name.lower()
    return {name, re.sub(r"\s*\(.*\)", "", name), exercise.slug, exercise.slug.replace("-", " ")}


def _complaints(text: str) -> set[str]:
    return {c for c, words in COMPLAINTS.items() if re.search(words, text, re.IGNORECASE)}


def test_no_avoid_when_sends_the_patient_to_an_exercise_that_warns_against_the_same_complaint(library):
    exercises = library.exercises
    names = {slug: _names(e) for slug, e in exercises.items()}
    problems = []
    for slug, exercise in exercises.items():
        for item in exercise.avoid_when:
            lowered = item.lower()
            mentioned = {other for other, said in names.items() if other != slug and any(n in lowered for n in said)}
            mentioned |= {other for alias, other in ALIASES.items() if alias in lowered and other != slug}
            for other in mentioned:
                shared = _complaints(item) & _complaints(" ".join(exercises[other].avoid_when))
                if shared:
                    problems.append(f"{slug}: {item!r} sends to '{other}', which itself warns against "
                                    f"{', '.join(sorted(shared))}")
    assert not problems, "\n".join(problems)


def test_a_painful_swollen_calf_is_graded_the_same_in_every_exercise(library):
    """A possible blood clot in pregnancy or after birth needs help straight away, 999 with breathlessness or
    chest pain (NHS maternity leaflets); no exercise may grade it as something to see a doctor about later."""
    items = [(slug, item) for slug, e in library.exercises.items() for item in e.avoid_when
             if re.search(r"\bcalf\b", item)]
    assert len(items) >= 3
    urgency = "get medical help straight away (possible blood clot); call 999 if you are breathless or have chest pain"
    assert urgency in fill_number(BLOOD_CLOT, "999")  # the one grading of a clot, as the warning-sign sets give it
    for slug, item in items:
        assert urgency in item, f"{slug}: {item!r}"
    assert BLOOD_CLOT in PREGNANCY.signs and BLOOD_CLOT in POSTPARTUM.signs


def test_the_aliases_name_exercises_that_exist(library):
    assert set(ALIASES.values()) <= set(library.exercises)
