"""Patient Global Impression of Change (PGIC): one rating of change since treatment began,
on the 7-point scale of the Clinical Global Impression of improvement (1 = very much
improved ... 4 = no change ... 7 = very much worse).

Sources (opened through the search tool):
- NINDS Common Data Elements, "Patient Global Impression of Change Scale",
  https://www.commondataelements.ninds.nih.gov/ReportViewer.aspx?/nindscdereports/rptNOC&rs:Command=Render&rc:Parameters=false&crfID=F2677 :
  "Available in the public domain"; a single-item measure on a seven-point scale
  ("1=very much improved" to "7=very much worse"). An older address of the same notice
  (https://www.commondataelements.ninds.nih.gov/report-viewer/25166/Patient%20Global%20Impression%20of%20Change%20Scale,
  "Document last updated April 2020") lists Hurst H, Bolton J, J Manipulative Physiol
  Ther 2004;27(1):26-35 among its references.
- Hypersomnia Foundation, "Clinical Global Impression scales (CGI)",
  https://www.hypersomniafoundation.org/glossary/clinical-global-impression-improvement-scale/ :
  the seven labels in order (very much improved; much improved; minimally improved; no
  change; minimally worse; much worse; very much worse).
- Suzuki H et al., "Clinically significant changes in pain along the Pain Intensity
  Numerical Rating Scale in patients with chronic low back pain", PLOS ONE 15(3):e0229228,
  2020, https://pmc.ncbi.nlm.nih.gov/articles/PMC7053735 : patients split by PGIC into
  satisfied (PGIC = 1, 2) and unsatisfied (3-7). "Improved" here is 1 or 2 (much or very
  much improved); Suzuki et al. 2020 grouped these as "satisfied" (the word "improved" is
  ours).

Hurst & Bolton 2004 used a different PGIC wording (higher = better); its abstract
(https://pubmed.ncbi.nlm.nih.gov/14739871/) does not give the wording, so it is not used.
"""

from __future__ import annotations

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

NINDS = Source(
    key="ninds-pgic", title="Patient Global Impression of Change Scale",
    publisher="NINDS Common Data Elements (National Institute of Neurological Disorders "
              "and Stroke)",
    url="https://www.commondataelements.ninds.nih.gov/ReportViewer.aspx?/nindscdereports/"
        "rptNOC&rs:Command=Render&rc:Parameters=false&crfID=F2677",
    accessed=2026, kind="reference")
CGI_LABELS = Source(
    key="hypersomnia-cgi", title="Clinical Global Impression scales (CGI)",
    publisher="Hypersomnia Foundation, glossary",
    url="https://www.hypersomniafoundation.org/glossary/"
        "clinical-global-impression-improvement-scale/",
    accessed=2026, kind="reference")
SUZUKI_2020 = Source(
    key="suzuki-2020",
    title="Clinically significant changes in pain along the Pain Intensity Numerical "
          "Rating Scale in patients with chronic low back pain",
    publisher="PLOS ONE 15(3):e0229228",
    url="https://pmc.ncbi.nlm.nih.gov/articles/PMC7053735", year=2020, kind="paper")

LABELS = {
    1: N_("Very much improved"),
    2: N_("Much improved"),
    3: N_("Minimally improved"),
    4: N_("No change"),
    5: N_("Minimally worse"),
    6: N_("Much worse"),
    7: N_("Very much worse"),
}
IMPROVED = frozenset({1, 2})
"""Ratings that count as improved: 1 or 2 (much or very much improved); Suzuki et al.
2020 grouped these as "satisfied"."""

ITEMS = (
    Item("change", N_("Since you started treatment, how would you describe the change in "
                      "your condition?"), 1, 7, LABELS),
)


def check(answers: object) -> Answers:
    """`{"items": {"change": 1..7}}`."""
    return check_items(answers, ITEMS)


def compute(answers: Answers) -> Score:
    """The rating itself (1-7, lower is better)."""
    change = answers["items"]["change"]
    return Score("pgic", float(change), 1, 7, False, 1, 1, True, exact=float(change))


def is_improved(answers: Answers) -> bool:
    """Whether the patient rated herself much or very much improved."""
    return answers["items"]["change"] in IMPROVED


INSTRUMENT = Instrument(
    key="pgic",
    title=N_("Your impression of change"),
    measures=N_("How you feel your condition has changed since you started treatment."),
    instructions=N_("Choose the answer that best describes the change."),
    items=ITEMS,
    shape='{"items": {"change": 1..7}}',
    scoring="The score is the rating (1 = very much improved ... 7 = very much worse); "
            "1 or 2 counts as improved.",
    low=1, high=7, higher_is_better=False, rounding=0,
    mic=Mic(None, None, "None: the PGIC is itself a rating of change (it is the anchor "
                        "other scales' minimal important changes are measured against); "
                        "1 or 2 (much or very much improved) counts as improved; Suzuki et "
                        "al. 2020 grouped these as 'satisfied'."),
    partial="One item: an unanswered scale is refused.",
    sources=(
        Cited(NINDS, "public domain; a single item; 7 points from 1 = very much improved to "
                     "7 = very much worse"),
        Cited(CGI_LABELS, "the seven labels of the improvement scale, in order"),
        Cited(SUZUKI_2020, "patients grouped as satisfied (PGIC = 1, 2) and unsatisfied "
                           "(3-7); we call 1 or 2 improved")),
    wording="The seven answers are the published labels; the question is our paraphrase "
            "(no source we could open gives the question's exact text).",
    languages=(InLanguage(
        "es", "none-found",
        "No validated Spanish PGIC was found (only a Portuguese adaptation, and Spanish material on "
        "other instruments: the clinician-rated CGI, the GRoC): a Spanish page shows the English "
        "PGIC, marked."),),
    check=check,
    compute=compute,
)
