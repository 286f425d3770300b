"""Clinical rules of the library, written once: how sources are cited and the rule for lying on the
back in pregnancy (the warning signs each phase carries are in warning_signs.py).

The loader applies them to the content files; the pages show them with their sources.
"""

from __future__ import annotations

import re
from typing import Annotated, Callable, Literal, get_args

from server.http.i18n import N_, fill
from server.library.fields import Content, FieldProblem, HttpsUrl, Slug, between, text

SourceKind = Literal["guideline", "paper", "patient-information", "reference"]
"""guideline: a clinical guideline or committee opinion; paper: a peer-reviewed article or review;
patient-information: a leaflet or web page for patients; reference: a clinicians' reference wiki."""
SOURCE_KINDS: tuple[str, ...] = get_args(SourceKind)


class Source(Content, frozen=True, kw_only=True):
    """A reference the content rests on (a `[[sources]]` table of a condition file).

    A paper, guideline or dated leaflet carries its publication `year`; a web page that shows
    no date carries the year it was `accessed` instead, as citations of undated pages do.
    """

    key: Slug
    """How the entry's text cites it: `[key]` after the claim (citations.py)."""
    title: Annotated[str, text(300)]
    publisher: Annotated[str, text(200)]
    url: HttpsUrl
    year: Annotated[int, between(1900, 2100)] = 0
    accessed: Annotated[int, between(1990, 2100)] = 0
    kind: SourceKind
    """One of SOURCE_KINDS."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if bool(self.year) == bool(self.accessed):
            raise FieldProblem("year", "give the publication year, or for an undated web page the year it was "
                               "accessed (one of the two)")

    def when(self, translate: Callable[[str], str] = str) -> str:
        """The date part of the citation: '2019' or 'accessed 2026' (`translate` gives a
        message in the page's language)."""
        return str(self.year) if self.year else fill(translate, N_("accessed {year}"),
                                                      year=self.accessed)


SUPINE_SOURCE = Source(key="frimley-exercise-in-pregnancy", title="Exercise in pregnancy",
                       publisher="Frimley Health and Care (NHS Frimley Integrated Care System)",
                       url="https://www.frimleyhealthandcare.org.uk/maternity/your-pregnancy/exercise-in-pregnancy/",
                       accessed=2026, kind="patient-information")
"""Where the rule for lying on the back in pregnancy comes from."""


SUPINE_IN_PREGNANCY = (
    "Pregnant, especially after about 16 weeks: do not stay flat on your back for long. The weight of "
    "the bump can press on the large vein that carries blood back to the heart and make you feel faint. "
    "Do it propped up on pillows, on your side, sitting or standing instead, and turn onto your side if "
    "you feel dizzy, sick or short of breath."
)
"""The one rule for lying on the back in pregnancy (NHS Frimley, Exercise in pregnancy), added by the loader
to every exercise done lying on the back so no content file has to repeat it."""
SUPINE_IN_PREGNANCY_TRANSLATED = {
    "es": "Si está embarazada, sobre todo después de unas 16 semanas: no se quede mucho tiempo acostada boca "
          "arriba. El peso de la barriga puede presionar la vena grande que lleva la sangre de vuelta al corazón y "
          "hacer que se sienta a punto de desmayarse. En su lugar, hágalo semisentada sobre almohadas, de lado, sentada o de pie, "
          "y póngase de lado si se siente mareada, con náuseas o le falta el aire.",
}
"""The same rule in each language other than English a page can be in."""


def translated_supine_rule(language: str) -> str:
    """The rule for lying on the back in `language`; empty when it is not written in it."""
    return SUPINE_IN_PREGNANCY_TRANSLATED.get(language, "")


SUPINE_POSITION = re.compile(r"^((lying|lie) (on|flat on) your back|acostada boca arriba)", re.IGNORECASE)
"""A starting position that says the exercise is done lying on the back, whatever the demo shows (a
translation's position begins with the same words in its language: "Acostada boca arriba")."""
SUPINE_POSES = frozenset({
    "hook_lying", "hook_lying_tilt", "bridge", "supine", "heel_slide_out", "tabletop_legs", "heel_tap",
    "knee_chest", "figure_four", "hook_lying_arms_up", "hook_lying_arms_back", "hook_lying_squeeze",
    "head_lift", "curl_up", "figure_four_pull", "single_bridge_start", "single_bridge", "hook_lying_hands_on_belly",
})
"""Demo poses that lie on the back; an exercise shown mostly in them is done lying on the back."""


def lies_on_the_back(position: str, poses: list[str]) -> bool:
    """Whether an exercise is done lying on the back: its demo mostly, or its starting position says so."""
    return 2 * sum(pose in SUPINE_POSES for pose in poses) >= len(poses) or bool(SUPINE_POSITION.match(position))


CLINICAL_KINDS = frozenset({"guideline", "paper"})
MIN_SOURCES = 2
