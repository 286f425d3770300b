"""Patient-Specific Functional Scale (PSFS): at intake the patient names 1 to 5 activities
she finds hard because of her problem and rates each 0 (unable to perform) to 10 (able to
perform at the same level as before); later fills rate the same activities. The score is
the mean of the ratings.

Sources (opened through the search tool):
- Precision Physiotherapy, "The Patient-Specific Functional Scale",
  https://www.precisionphysio.com.au/the-patient-specific-functional-scale/ : the form
  ("Reproduced with the permission of the authors"), anchors "Unable to perform activity"
  and "Able to perform activity at the same level as before injury or problem", "Total
  score = sum of the activity scores/number of activities", "Minimum detectable change
  (90%CI) for average score = 2 points", "Minimum detectable change (90%CI) for single
  activity score = 3 points"; the clinician's script asks for "up to three important
  activities" (we allow up to five, as Patient Watch does); developed by Stratford P, Gill
  C, Westaway M, Binkley J, Physiotherapy Canada 47:258-263, 1995.
- Patient Watch, "Patient-Specific Functional Scale",
  https://patient-watch.com/forms/patient-specific-functional-scale : patients identify
  up to 5 activities; each rated 0-10; averaged to a score from 0 to 10; higher is better.
- Shirley Ryan AbilityLab, Rehabilitation Measures Database, "Patient Specific Functional
  Scale" (copy at http://www.rehabmeasures.org/Lists/RehabMeasures/DispForm.aspx?ID=890):
  cost free.
- Abbott JH, Schmitt JS, "Minimum Important Differences for the Patient-Specific Functional
  Scale, 4 Region-Specific Outcome Measures, and the Numeric Pain Rating Scale", Journal of
  Orthopaedic & Sports Physical Therapy 44(8):560-564, 2014, doi:10.2519/jospt.2014.5248,
  https://www.integrative-archives.com/2014/04/minimum-important-differences-for-the-patient-specific-functional-scale-4-region-specific-outcome-measures-and-the-numeric-pain-rating-scale/ :
  MID 1.3 (small change), 2.3 (medium), 2.7 (large), stable across body regions.
"""

from __future__ import annotations

import re
import unicodedata
from fractions import Fraction
from typing import Any

from server.care.instruments.model import (
    AnswerError,
    Answers,
    Cited,
    InLanguage,
    Instrument,
    Mic,
    Score,
    answer_object,
    field_name,
    rounded,
    whole_number,
)
from server.http.i18n import N_
from server.http.schemas import MAX_NAME_LENGTH, NAME_FORBIDDEN
from server.library.clinical import Source

MAX_ACTIVITIES = 5
"""Up to 5 activities, as Patient Watch allows (the authors' script asks for up to three);
at least one, or there is nothing to score."""
LOW, HIGH = 0, 10
ANCHORS = {
    LOW: N_("Unable to perform the activity"),
    HIGH: N_("Able to perform the activity at the same level as before the problem"),
}
_FORBIDDEN = re.compile(f"[{NAME_FORBIDDEN}]")

FORM = Source(
    key="psfs-form", title="The Patient-Specific Functional Scale",
    publisher="Precision Physiotherapy (the form, reproduced with the authors' permission; "
              "Stratford et al., Physiotherapy Canada 47:258-263, 1995)",
    url="https://www.precisionphysio.com.au/the-patient-specific-functional-scale/",
    accessed=2026, kind="reference")
PATIENT_WATCH = Source(
    key="patient-watch-psfs", title="Patient-Specific Functional Scale",
    publisher="Patient Watch",
    url="https://patient-watch.com/forms/patient-specific-functional-scale",
    accessed=2026, kind="reference")
ABBOTT_2014 = Source(
    key="abbott-2014",
    title="Minimum Important Differences for the Patient-Specific Functional Scale, 4 "
          "Region-Specific Outcome Measures, and the Numeric Pain Rating Scale",
    publisher="Journal of Orthopaedic & Sports Physical Therapy 44(8):560-564",
    url="https://www.integrative-archives.com/2014/04/minimum-important-differences-for-"
        "the-patient-specific-functional-scale-4-region-specific-outcome-measures-and-the-"
        "numeric-pain-rating-scale/",
    year=2014, kind="paper")


def clean_activity(value: Any, field: str) -> str:
    """An activity as the patient named it: text, trimmed, spaces folded, at most
    MAX_NAME_LENGTH characters, nothing `schemas.NAME_FORBIDDEN` (the rule of a name)."""
    if not isinstance(value, str):
        raise AnswerError(field, N_("Please write the activity in words."))
    if _FORBIDDEN.search(value):
        raise AnswerError(field, N_("Please use plain text, without line breaks or "
                                    "special characters."))
    value = unicodedata.normalize("NFC", " ".join(value.split()))
    if not value:
        raise AnswerError(field, N_("Please name the activity."))
    if len(value) > MAX_NAME_LENGTH:
        raise AnswerError(field, N_("Please keep the activity to {n} characters or fewer."),
                          n=MAX_NAME_LENGTH)
    return value


def check(answers: Any, *, intake: Answers | None = None) -> Answers:
    """`{"activities": [{"activity": text, "score": 0..10}, ...]}` with 1 to 5 distinct
    activities, each rated; with `intake`, the same activities as the intake fill."""
    answers = answer_object(answers, {"activities"})
    given = answers.get("activities")
    if not isinstance(given, list):
        raise AnswerError("activities", N_("The answers could not be read. Please try again."))
    if not given:
        raise AnswerError("activities", N_("Please name at least one activity."))
    if len(given) > MAX_ACTIVITIES:
        raise AnswerError("activities", N_("Please name at most {n} activities."),
                          n=MAX_ACTIVITIES)
    clean: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, entry in enumerate(given):
        where = f"activities[{index}]"
        entry = _entry(entry, where)
        name = clean_activity(entry.get("activity"), f"{where}.activity")
        if name.casefold() in seen:
            raise AnswerError(f"{where}.activity", N_("You named this activity twice."))
        seen.add(name.casefold())
        if entry.get("score") is None:
            raise AnswerError(f"{where}.score", N_("Please rate this activity."))
        score = whole_number(entry["score"], f"{where}.score", LOW, HIGH)
        clean.append({"activity": name, "score": score})
    result = {"activities": clean}
    if intake is not None:
        check_same_activities(intake, result)
    return result


def _entry(entry: Any, where: str) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise AnswerError(where, N_("The answers could not be read. Please try again."))
    for key in entry:
        if key not in ("activity", "score"):
            raise AnswerError(field_name(where, key),
                              N_("This answer is not part of the questionnaire."))
    return entry


def activities(answers: Answers) -> list[str]:
    """The activities of a validated fill, in order."""
    return [entry["activity"] for entry in answers["activities"]]


def follow_up_form(intake: Answers) -> Answers:
    """The form of a later fill: the intake's activities, in order, not yet rated."""
    return {"activities": [{"activity": name, "score": None} for name in activities(intake)]}


def check_same_activities(intake: Answers, follow_up: Answers) -> None:
    """Refuse a later fill that does not rate exactly the intake's activities (any order;
    case and spacing aside)."""
    def key(fill: Answers) -> list[str]:
        return sorted(name.casefold() for name in activities(fill))

    if key(intake) != key(follow_up):
        raise AnswerError("activities", N_("Please rate the same activities as in your first "
                                           "questionnaire."))


def compute(answers: Answers) -> Score:
    """The mean of the activity ratings (0-10, higher is better)."""
    ratings = [entry["score"] for entry in answers["activities"]]
    mean = Fraction(sum(ratings), len(ratings))
    return Score("psfs", rounded(mean, 1), LOW, HIGH, True, len(ratings), len(ratings), True,
                 exact=float(mean))


RUBIO_PSFS_AR = Source(
    key="rubio-psfs-ar", title="Validación de la versión argentina de la escala Patient Specific Functional "
    "Scale en sujetos con trastornos musculoesqueléticos (Rubio et al.)",
    publisher="Argentinian Journal of Respiratory & Physical Therapy (AJRPT)",
    url="https://revista.ajrpt.com/index.php/Main/article/view/119", accessed=2026, kind="paper")
"""The Argentine PSFS: 336 adults with upper- or lower-limb musculoskeletal disorders; test-retest
ICC 0.61 overall, 0.51 lower limb; minimum detectable change 2.85. Its wording was not seen."""


INSTRUMENT = Instrument(
    key="psfs",
    title=N_("Activities that matter to you"),
    measures=N_("How well you can do the activities you find hard because of your problem."),
    instructions=N_("Name up to 5 important activities that you are unable to do or find "
                    "hard because of your problem, and rate each from 0 (unable to "
                    "perform) to 10 (able to perform at the same level as before)."),
    items=(),
    shape='{"activities": [{"activity": "lifting my baby", "score": 0..10}, ...]} '
          "(1 to 5 activities; later fills rate the intake's activities)",
    scoring="Each activity 0-10; the score is the sum of the ratings / number of activities.",
    low=LOW, high=HIGH, higher_is_better=True, rounding=1,
    mic=Mic(2.3, ABBOTT_2014,
            "Important change: a rise of 2.3 or more (medium change; Abbott & Schmitt "
            "2014; 1.3 small, 2.7 large). A change under 2 in the mean (under 3 for one "
            "activity) is within measurement error (minimum detectable change, 90% CI; "
            "Stratford et al. form)."),
    partial="Refused: every activity she names must be rated (the method scores the "
            "activities named, so an unrated one is a question left open).",
    sources=(
        Cited(FORM, "anchors of 0 and 10; score = sum of the activity scores / number of "
                    "activities; \"Minimum detectable change (90%CI) for average score = 2 "
                    "points\", \"for single activity score = 3 points\"; the authors' "
                    "script asks for up to three activities"),
        Cited(PATIENT_WATCH, "up to 5 activities, each 0-10; the mean, 0-10; higher is better"),
        Cited(ABBOTT_2014, "minimum important difference 1.3 (small), 2.3 (medium), "
                           "2.7 (large change)")),
    wording="The anchors follow the published form ('the activity', 'the problem' for "
            "'injury or problem'); the instruction is our sentence from the form's.",
    languages=(InLanguage(
        "es", "validated-not-included",
        "An Argentine Spanish PSFS was validated (Rubio et al., 336 adults with upper- or lower-limb "
        "musculoskeletal disorders; test-retest ICC 0.61, 0.51 for the lower limb), but its wording "
        "was not seen and it did not study pregnancy or the pelvis, so it is not included: a Spanish "
        "page shows the English PSFS, marked.", (RUBIO_PSFS_AR,)),),
    check=check,
    compute=compute,
)
