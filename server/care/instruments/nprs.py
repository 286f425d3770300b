"""Numeric Pain Rating Scale (NPRS): one whole number from 0 (no pain) to 10 (the most
intense pain imaginable) for the pain of the last 24 hours.

The question ("How strong has your pain been over the last 24 hours?") is ours, built on
the published 24-hour recall; the NPRS has no fixed question text.

Sources (opened through the search tool):
- Shirley Ryan AbilityLab, Rehabilitation Measures Database, "Numeric Pain Rating Scale",
  https://www.sralab.org/rehabilitation-measures/numeric-pain-rating-scale (opened as a
  copy at http://so-mine.com/rehabilitation-measures/numeric-pain-rating-scale): an 11-point
  scale, "0" = no pain, "10" = the most intense pain imaginable; patients select the value
  most in line with the intensity of pain they have experienced in the last 24 hours;
  1 item; cost free.
- physiotherapy.ca, Pain Science Division, "Numeric Rating Scale (NRS-11)",
  https://physiotherapy.ca/divisions/pain-science/numeric-rating-scale-nrs-11/ : "a scale
  from 0 (no pain) to 10 (worst imaginable pain)"; "at least a 2-point change in the scale
  is considered clinically meaningful"; 7-10 "Severe Pain (disabling; unable to perform
  ADLs)".
- Childs JD et al., "Responsiveness of the numeric pain rating scale in patients with low
  back pain", Spine (Phila Pa 1976) 30(11):1331-4, 2005,
  https://pubmed.ncbi.nlm.nih.gov/15928561/ : "a 2-point change on the NPRS represents
  clinically meaningful change that exceeds the bounds of measurement error" (MCID 2.2 at
  1 week, 1.5 at 4 weeks; minimum detectable change 2).
"""

from __future__ import annotations

from fractions import Fraction

from server.care.instruments.model import (
    Answers,
    Cited,
    InLanguage,
    Instrument,
    Item,
    Mic,
    Score,
    check_items,
)
from server.http.i18n import N_
from server.library.clinical import Source

SRALAB = Source(
    key="sralab-nprs", title="Numeric Pain Rating Scale",
    publisher="Shirley Ryan AbilityLab, Rehabilitation Measures Database (opened as a copy "
              "at http://so-mine.com/rehabilitation-measures/numeric-pain-rating-scale)",
    url="https://www.sralab.org/rehabilitation-measures/numeric-pain-rating-scale",
    accessed=2026, kind="reference")
PHYSIOTHERAPY_CANADA = Source(
    key="physiotherapy-ca-nrs11", title="Numeric Rating Scale (NRS-11)",
    publisher="physiotherapy.ca, Pain Science Division",
    url="https://physiotherapy.ca/divisions/pain-science/numeric-rating-scale-nrs-11/",
    accessed=2026, kind="reference")
CHILDS_2005 = Source(
    key="childs-2005",
    title="Responsiveness of the numeric pain rating scale in patients with low back pain",
    publisher="Spine (Phila Pa 1976) 30(11):1331-4",
    url="https://pubmed.ncbi.nlm.nih.gov/15928561/", year=2005, kind="paper")

ITEMS = (
    Item("pain", N_("How strong has your pain been over the last 24 hours?"), 0, 10,
         {0: N_("No pain"), 10: N_("The most intense pain imaginable")}),
)


def check(answers: object) -> Answers:
    """`{"items": {"pain": 0..10}}`."""
    return check_items(answers, ITEMS)


def compute(answers: Answers) -> Score:
    """The rating itself (0-10, lower is better)."""
    pain = answers["items"]["pain"]
    return Score("nprs", float(pain), 0, 10, False, 1, 1, True, exact=float(Fraction(pain)))


JENSEN_2019 = Source(
    key="jensen-2019", title="The Utility and Construct Validity of Four Measures of Pain Intensity: "
    "Results from a University-Based Study in Spain (Jensen et al.)",
    publisher="Pain Medicine", url="https://doi.org/10.1093/pm/pny319", year=2019, kind="paper")
"""The 0-10 numerical rating scale in a Spanish-speaking sample (419 university students in Spain):
"The findings support the utility and construct validity of all four pain intensity scales in
this Spanish-speaking sample"."""


INSTRUMENT = Instrument(
    key="nprs",
    title=N_("Pain rating"),
    measures=N_("How strong your pain has been over the last 24 hours."),
    instructions=N_("Choose the number that best matches your pain: 0 is no pain, "
                    "10 is the most intense pain you can imagine."),
    items=ITEMS,
    shape='{"items": {"pain": 0..10}}',
    scoring="The score is the number chosen (0-10), no transformation.",
    low=0, high=10, higher_is_better=False, rounding=0,
    mic=Mic(2, CHILDS_2005, "A fall of 2 points or more (Childs et al. 2005, low back pain)."),
    partial="One item: an unanswered scale is refused.",
    sources=(
        Cited(SRALAB, "11-point scale 0-10; anchors: no pain, the most intense pain "
                      "imaginable; the pain of the last 24 hours; 1 item; free"),
        Cited(PHYSIOTHERAPY_CANADA, "a scale from 0 (no pain) to 10 (worst imaginable "
                                    "pain); at least a 2-point change is considered "
                                    "clinically meaningful; 7-10 is severe pain"),
        Cited(CHILDS_2005, "minimal clinically important difference: a 2-point change; "
                           "minimum detectable change 2 points")),
    wording="The question is ours, built on the published 24-hour recall (\"the intensity "
            "of pain that they have experienced in the last 24 hours\", SRALab) and the "
            "published anchors; the NPRS has no fixed question text (patients pick the "
            "value; a written form with 0-10 is also used).",
    languages=(InLanguage(
        "es", "ours",
        "Shown in Spanish, in our wording: the NPRS has no fixed question text (the English is ours "
        "too), and no validated Spanish NPRS was found; Jensen et al. 2019 support the 0-10 scale's "
        "utility and construct validity in a Spanish-speaking sample (university students, no "
        "test-retest, no patients), which is not a validation of our wording.", (JENSEN_2019,)),),
    check=check,
    compute=compute,
)
