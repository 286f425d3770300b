"""Pelvic Girdle Questionnaire (PGQ): 25 items, 20 on activity and 5 on symptoms, each
answered on 4 options scored 0 (not at all) to 3 (to a large extent); the total and the
two subscale scores are the sum as a percentage of its maximum, 0-100, higher is worse.

Sources (opened through the search tool):
- Physiopedia, "Pelvic Girdle Questionnaire (PGQ)",
  https://www.physio-pedia.com/Pelvic_Girdle_Questionnaire_(PGQ) : "20 activity items and
  5 symptom items scored on a 4-point response scale", each scored from 'Not at all' (0)
  to 'To a large extent' (3); "Item scores are summed and transformed to yield a score of
  0 to 100, where 100 is the worst possible score"; "developed for patients with pelvic
  girdle pain during pregnancy as well as postpartum". It cites Stuge B, Garratt A,
  Krogstad Jenssen H, Grotle M, Phys Ther 91(7):1096-108, 2011, doi:10.2522/ptj.20100357,
  the development paper, which we did not open (quoted via Physiopedia).
- Cong H et al. (with Stuge B), "Cross-cultural adaptation, reliability, and validity of a
  Chinese version of the pelvic girdle questionnaire", BMC Pregnancy and Childbirth 21:470,
  2021, Table 5,
  https://bmcpregnancychildbirth.biomedcentral.com/articles/10.1186/s12884-021-03962-8/tables/5 :
  the 25 items in order, activity 1-20 and symptom 21-25 (open access); items 16 and 19
  left blank by 18 and 34 of the 130 women. Its abstract (the article page,
  https://bmcpregnancychildbirth.biomedcentral.com/articles/10.1186/s12884-021-03962-8):
  good discrimination "but not for discriminating the pregnant and postpartum states
  (AUC = 0.488, p = 0.824)".
- Rejano-Campo M et al. (with Stuge B), "Transcultural adaptation and psychometric
  validation of a Spanish-language version of the 'Pelvic Girdle Questionnaire'", Health
  and Quality of Life Outcomes, 2017,
  https://hqlo.biomedcentral.com/articles/10.1186/s12955-017-0605-0 : "ROC curves showed
  no discriminatory capacity for number of sites of pain or pregnancy/post-partum state."
- SurveyMonkey copy of the English form, https://www.surveymonkey.com/r/Pelvic-PGQ : the
  prompt ("How problematic is it for you because of your pelvic girdle pain to:", "how
  you are today") and the answer labels (not at all / to a small extent / to some extent /
  to a large extent).
- Stuge B, Krogstad Jenssen H, Grotle M, "The Pelvic Girdle Questionnaire: Responsiveness
  and Minimal Important Change in Women With Pregnancy-Related Pelvic Girdle Pain, Low
  Back Pain, or Both", Physical Therapy 97(11):1103-1113, 2017,
  https://academic.oup.com/ptj/article/97/11/1103/4055971 : "a change score smaller than
  25 for the total score and activity subscale score and a change score of 20 for the
  symptom subscale score should be regarded as insignificant" (change from the last
  trimester to within 3 months post partum). So a symptom change must exceed 20: in steps
  of 100/15 = 6.67, the first important one is 26.7.
- Ogollah R et al., "Responsiveness and Minimal Important Change for Pain and Disability
  Outcome Measures in Pregnancy-Related Low Back and Pelvic Girdle Pain", Phys Ther
  99(11):1551-1561, 2019, https://pubmed.ncbi.nlm.nih.gov/31392990/ (accepted version open
  at https://eprints.keele.ac.uk/id/eprint/6748/): change during pregnancy, 8 weeks of
  treatment in a pilot trial (90 women): "The estimated MICs were ... 11.0, 9.4, 13.3 ...
  for the ... PGQ-total, PGQ-activity, PGQ-symptoms". Stated, not used for the chart: see
  INSTRUMENT.mic.

No published rule for unanswered items was found. Items 16 and 19 (the two Table 5 shows
left blank) may be left open; a scale is then scored as sum / (3 x items answered) x 100
and the score is incomplete (no minimal-important-change judgement). Our rule, not the
authors'. Any other item left open is refused.
"""

from __future__ import annotations

from fractions import Fraction

from server.care.instruments.model import (
    AnswerError,
    Answers,
    Cited,
    InLanguage,
    Instrument,
    Item,
    Mic,
    Score,
    check_items,
    rounded,
)
from server.http.i18n import N_
from server.library.clinical import Source

PHYSIOPEDIA = Source(
    key="physiopedia-pgq", title="Pelvic Girdle Questionnaire (PGQ)", publisher="Physiopedia",
    url="https://www.physio-pedia.com/Pelvic_Girdle_Questionnaire_(PGQ)",
    accessed=2026, kind="reference")
CONG_2021 = Source(
    key="cong-2021",
    title="Cross-cultural adaptation, reliability, and validity of a Chinese version of the "
          "pelvic girdle questionnaire (Table 5)",
    publisher="BMC Pregnancy and Childbirth 21:470",
    url="https://bmcpregnancychildbirth.biomedcentral.com/articles/"
        "10.1186/s12884-021-03962-8/tables/5",
    year=2021, kind="paper")
ENGLISH_FORM = Source(
    key="pgq-english-form", title="PGQ - Pelvic Girdle Questionnaire",
    publisher="SurveyMonkey (a clinic's copy of the English form)",
    url="https://www.surveymonkey.com/r/Pelvic-PGQ", accessed=2026, kind="reference")
STUGE_2017 = Source(
    key="stuge-2017",
    title="The Pelvic Girdle Questionnaire: Responsiveness and Minimal Important Change in "
          "Women With Pregnancy-Related Pelvic Girdle Pain, Low Back Pain, or Both",
    publisher="Physical Therapy 97(11):1103-1113",
    url="https://academic.oup.com/ptj/article/97/11/1103/4055971", year=2017, kind="paper")
OGOLLAH_2019 = Source(
    key="ogollah-2019",
    title="Responsiveness and Minimal Important Change for Pain and Disability Outcome "
          "Measures in Pregnancy-Related Low Back and Pelvic Girdle Pain",
    publisher="Phys Ther 99(11):1551-1561 (accepted version open at "
              "https://eprints.keele.ac.uk/id/eprint/6748/)",
    url="https://pubmed.ncbi.nlm.nih.gov/31392990/", year=2019, kind="paper")
REJANO_CAMPO_2017 = Source(
    key="rejano-campo-2017",
    title="Transcultural adaptation and psychometric validation of a Spanish-language "
          "version of the \u201cPelvic Girdle Questionnaire\u201d",
    publisher="Health and Quality of Life Outcomes",
    url="https://hqlo.biomedcentral.com/articles/10.1186/s12955-017-0605-0",
    year=2017, kind="paper")

OPTIONAL = frozenset({"q16", "q19"})
"""Items that may be left open: 16 (sporting activities) and 19 (a normal sex life), the
two the Chinese validation's Table 5 shows left blank (18 and 34 of 130 women). Our rule:
no published one was found."""

OPTIONS = {
    0: N_("Not at all"),
    1: N_("To a small extent"),
    2: N_("To some extent"),
    3: N_("To a large extent"),
}
ACTIVITY = "activity"
SYMPTOM = "symptom"

_ACTIVITIES = (
    N_("Dress yourself"),
    N_("Stand for less than 10 minutes"),
    N_("Stand for more than 60 minutes"),
    N_("Bend down"),
    N_("Sit for less than 10 minutes"),
    N_("Sit for more than 60 minutes"),
    N_("Walk for less than 10 minutes"),
    N_("Walk for more than 60 minutes"),
    N_("Climb stairs"),
    N_("Do housework"),
    N_("Carry light objects"),
    N_("Carry heavy objects"),
    N_("Get up or sit down"),
    N_("Push a shopping cart"),
    N_("Run"),
    N_("Carry out sporting activities"),
    N_("Lie down"),
    N_("Roll over in bed"),
    N_("Have a normal sex life"),
    N_("Push something with one foot"),
)
_SYMPTOMS = (
    N_("Pain in the morning"),
    N_("Pain in the evening"),
    N_("Has your leg (or have your legs) given way?"),
    N_("Do you do things more slowly?"),
    N_("Is your sleep interrupted?"),
)
ITEMS = tuple(
    Item(f"q{n}", wording, 0, 3, OPTIONS, ACTIVITY if n <= len(_ACTIVITIES) else SYMPTOM)
    for n, wording in enumerate(_ACTIVITIES + _SYMPTOMS, start=1))
PROMPTS = {
    ACTIVITY: N_("How problematic is it for you, because of your pelvic girdle pain, to:"),
    SYMPTOM: N_("Because of your pelvic girdle pain, how much does each of these apply "
                "to you?"),
}
"""The section prompt above each subscale's items (the symptom one is our paraphrase)."""


def check(answers: object) -> Answers:
    """`{"items": {"q1": 0..3, ..., "q25": 0..3}}`, every item answered but those in
    OPTIONAL, which may be left open (absent or null; left out of the result)."""
    return check_items(answers, ITEMS, OPTIONAL)


def _percent(answers: dict[str, int], items: tuple[Item, ...]) -> Fraction:
    """The sum of the items answered as a percentage of their maximum (3 x items
    answered): the published transformation when all are answered, prorated when not."""
    answered = [i for i in items if answers.get(i.key) is not None]
    if not answered:
        raise AnswerError(f"items.{items[0].key}", N_("Please answer this question."))
    return Fraction(100 * sum(answers[i.key] for i in answered),
                    sum(i.high for i in answered))


def compute(answers: Answers) -> Score:
    """Total, activity and symptom scores as a percentage of their maximum (0-100), over
    the items answered: with item 16 or 19 open the score is prorated and incomplete
    (`complete` False, so no minimal-important-change judgement is made on it)."""
    given = answers["items"]
    total = _percent(given, ITEMS)
    parts = {part: _percent(given, tuple(i for i in ITEMS if i.part == part))
             for part in (ACTIVITY, SYMPTOM)}
    answered = sum(1 for i in ITEMS if given.get(i.key) is not None)
    return Score(
        "pgq", rounded(total, 1), 0, 100, False, answered, len(ITEMS),
        answered == len(ITEMS),
        parts={k: rounded(v, 1) for k, v in parts.items()},
        exact=float(total), exact_parts={k: float(v) for k, v in parts.items()})


INSTRUMENT = Instrument(
    key="pgq",
    title=N_("Pelvic Girdle Questionnaire"),
    measures=N_("How much pelvic girdle pain limits your everyday activities, and your "
                "symptoms."),
    instructions=N_("For each line, choose the answer that best describes how you are "
                    "today."),
    items=ITEMS,
    shape='{"items": {"q1": 0..3, ..., "q25": 0..3}}',
    scoring="Each item 0-3; total = sum / 75 x 100, activity (items 1-20) = sum / 60 x 100, "
            "symptom (items 21-25) = sum / 15 x 100; 0-100, higher is worse. With item 16 "
            "or 19 open (our rule), a scale is sum / (3 x items answered) x 100, prorated.",
    low=0, high=100, higher_is_better=False, rounding=1,
    mic=Mic(25, STUGE_2017,
            "A fall of 25 points or more in the total or activity score; in the symptom "
            "score a fall of more than 20 (a change of 20 is regarded as insignificant; "
            "Stuge et al. 2017), so in its steps of 6.67 the first important one is 26.7. "
            "Measured from late pregnancy to within 3 months after birth. During pregnancy "
            "under treatment Ogollah et al. 2019 estimated 11.0 (total), 9.4 (activity) and "
            "13.3 (symptoms) in 90 women of a pilot trial; we keep Stuge et al. 2017's "
            "larger values, from 441 women, so the chart does not call a smaller change "
            "important.",
            parts={ACTIVITY: 25, SYMPTOM: 20}, beyond=frozenset({SYMPTOM})),
    partial="Items 16 (sporting activities) and 19 (a normal sex life) may be left open: a "
            "scale is then scored as sum / (3 x items answered) x 100, marked incomplete "
            "(no minimal-important-change judgement). Our rule: no published rule for "
            "unanswered items was found. Any other item left open is refused.",
    sources=(
        Cited(PHYSIOPEDIA, "20 activity items and 5 symptom items scored on a 4-point "
                           "response scale, 0 (not at all) to 3 (to a large extent); summed "
                           "and transformed to 0-100, 100 the worst; developed for pelvic "
                           "girdle pain during pregnancy as well as postpartum (citing Stuge "
                           "et al. 2011, not opened)"),
        Cited(CONG_2021, "the 25 items in order: activity 1-20, symptom 21-25; items 16 and "
                         "19 left blank by 18 and 34 of 130 women; no discrimination between "
                         "pregnant and postpartum states (AUC 0.488, abstract)"),
        Cited(REJANO_CAMPO_2017, "no discriminatory capacity for pregnancy/post-partum "
                                 "state"),
        Cited(ENGLISH_FORM, "the activity prompt, 'how you are today', the four answer "
                            "labels"),
        Cited(STUGE_2017, "minimal important change: 25 (total and activity); a symptom "
                          "change of 20 is insignificant"),
        Cited(OGOLLAH_2019, "minimal important change during pregnancy under treatment: "
                            "11.0 (total), 9.4 (activity), 13.3 (symptoms); not used")),
    wording="Items are the English labels as printed in the open-access validation "
            "(Cong et al. 2021, Table 5) and the English form; 'Get up/sit down', '1 foot' "
            "and 'Has your leg/have your legs' are spelled out, and the symptom section's "
            "prompt is our paraphrase. No licence or terms for the PGQ were found; see "
            "docs/questionnaires.md.",
    languages=(InLanguage(
        "es", "validated-not-included",
        "A validated Spanish PGQ exists (Rejano-Campo et al. 2017: Spain, 125 pregnant or postpartum "
        "women with pelvic girdle pain, Cronbach's alpha 0.961, ICC 0.962), but its Spanish items and "
        "their terms of use were not seen, so it is not included: a Spanish page shows the English "
        "PGQ, marked. Our own translation would not be the validated one.", (REJANO_CAMPO_2017,)),),
    check=check,
    compute=compute,
)
