"""The pelvic-floor self-check: a few questions and a plain recommendation. Nothing is stored.

The questions follow the symptoms the NHS and the International Consultation on
Incontinence list for pelvic floor problems: leaking with effort, urgency, heaviness,
pain, and trouble emptying. Each question names the library conditions that explain it, so a
result can send the reader to the right pages.
"""

from __future__ import annotations

from dataclasses import dataclass

CHOICES = (("never", "Never"), ("sometimes", "Sometimes"), ("often", "Often"))


@dataclass(frozen=True)
class Question:
    """One question of the self-check."""

    key: str
    text: str
    conditions: tuple[str, ...]
    """Library conditions (slugs) that explain this symptom; the result links to them."""
    urgent: bool = False
    """A symptom that deserves a visit soon even when it happens only sometimes."""


@dataclass(frozen=True)
class QuizResult:
    """What the answers suggest."""

    level: str
    """'none', 'book' or 'soon'."""
    title: str
    advice: str


QUESTIONS = (
    Question("leak_effort", "Do you leak urine when you cough, sneeze, laugh, lift or exercise?",
             ("stress-urinary-incontinence",)),
    Question("urgency", "Do you have sudden, strong urges to pass urine, or leak before you reach the toilet?",
             ("overactive-bladder",)),
    Question("wind", "Do you have trouble holding in wind or stool?",
             ("pelvic-floor-dysfunction", "perineal-tear-recovery")),
    Question("heaviness", "Do you feel heaviness, dragging or a bulge in the vagina?", ("pelvic-organ-prolapse",),
             urgent=True),
    Question("pain", "Do you have pain in the pelvis, the vagina or during sex?", ("painful-sex-and-pelvic-pain",),
             urgent=True),
    Question("emptying", "Is it hard to empty your bladder or bowel completely?",
             ("constipation-and-toilet-habits", "pelvic-floor-dysfunction")),
    Question("back_pelvis", "Do you have low back, tailbone or pelvic joint pain that limits daily life?",
             ("low-back-pain", "coccydynia", "pelvic-girdle-pain")),
)


def related_conditions(answers: dict[str, str]) -> list[str]:
    """Slugs of the library conditions that explain the symptoms answered 'sometimes' or 'often', in order."""
    slugs: list[str] = []
    for q in QUESTIONS:
        if answers.get(q.key) in ("sometimes", "often"):
            slugs += [slug for slug in q.conditions if slug not in slugs]
    return slugs


def assess(answers: dict[str, str]) -> QuizResult:
    """The recommendation for a set of answers (unknown or missing answers count as 'never')."""
    clean = {q.key: answers.get(q.key) if answers.get(q.key) in ("never", "sometimes", "often") else "never"
             for q in QUESTIONS}
    often = sum(1 for v in clean.values() if v == "often")
    sometimes = sum(1 for v in clean.values() if v == "sometimes")
    urgent = any(clean[q.key] != "never" for q in QUESTIONS if q.urgent)
    if urgent or often >= 2:
        return QuizResult("soon", "Book a pelvic health visit soon",
                          "Your answers describe symptoms a pelvic health physical therapist can assess and "
                          "treat. Please book a visit in the next few weeks, and see a doctor first if you have "
                          "bleeding, fever or cannot pass urine.")
    if often or sometimes >= 1:
        return QuizResult("book", "A pelvic health visit could help",
                          "These symptoms are common but not something you have to live with. A visit with a "
                          "pelvic health physical therapist can tell you which exercises will help.")
    return QuizResult("none", "No signs of a pelvic floor problem",
                      "Keep up daily pelvic floor exercises, especially in pregnancy and after birth, and come "
                      "back to this check if anything changes.")
