"""What an outcome questionnaire is made of: its sources, items, minimal important change,
the answers a patient gives, the score, and the error a bad answer gets. A source has the
condition library's shape (`server.library.clinical.Source`), written once.

Every instrument is a module of this package that declares one `Instrument` (psfs.py,
nprs.py, pgq.py, pgic.py); `server.care.instruments` holds the registry. Text a patient
reads is a message id marked with `N_` and translated where her language is known.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any, Literal

from server.care.field_error import FieldError
from server.http.i18n import N_
from server.library.clinical import Source

Answers = dict[str, Any]
"""Answers after validation: plain JSON (dicts, lists, str, int), safe to store as is."""

_FIELD_KEY = re.compile(r"[A-Za-z0-9_]{1,40}")
"""An answer key that may be echoed in an error's field name (anything else is not)."""
SAME = 1e-9
"""Float slack when a change is compared with a minimal important change, so 2 - 1e-16
still counts as 2 and 20 + 1e-14 still counts as 20."""


class AnswerError(FieldError):
    """An answer a questionnaire cannot take: `field` names it (`items.q3`,
    `activities[1].score`), `message` is a message id for the catalog and `values` fill
    its `{placeholders}`."""


@dataclass(frozen=True)
class Cited:
    """A source (the library's shape: title, publisher, https URL, year or accessed, kind)
    and the figures of ours it is the authority for."""

    source: Source
    states: str


@dataclass(frozen=True)
class Item:
    """One question: a whole number from `low` to `high`."""

    key: str
    wording: str
    """Message id of the question (or the activity's label under a section prompt)."""
    low: int
    high: int
    anchors: Mapping[int, str]
    """Labels (message ids) of answer values: every value of a verbal scale, or the ends
    of a numeric one."""
    part: str | None = None
    """The subscale the item belongs to, when the instrument has subscales."""


@dataclass(frozen=True)
class Mic:
    """The minimal important change of a score, in score points, or why there is none."""

    value: float | None
    source: Source | None
    """Where the value is published (one of the instrument's sources)."""
    note: str
    parts: Mapping[str, float] = field(default_factory=dict)
    """The minimal important change of each subscale score, where published."""
    beyond: frozenset[str] = frozenset()
    """Subscales whose source calls a change of exactly the value insignificant, so only a
    larger change is important (PGQ symptom: "a change score of 20 ... should be regarded
    as insignificant", Stuge et al. 2017)."""

    def reached(self, size: float, part: str | None = None) -> bool | None:
        """Whether a change of `size` score points is important: at least the minimal
        important change of the total (or of `part`), more than it for a subscale in
        `beyond`; None where none is published. The one comparison, used both ways (an
        improvement, and a worsening by passing its size)."""
        mic = self.parts.get(part) if part else self.value
        if mic is None:
            return None
        if part in self.beyond:
            return size > mic + SAME
        return size >= mic - SAME


@dataclass(frozen=True)
class Score:
    """A scored fill of a questionnaire."""

    instrument: str
    value: float
    """Rounded as `Instrument.rounding` says; what a person reads."""
    low: float
    high: float
    higher_is_better: bool
    answered: int
    total: int
    complete: bool
    parts: Mapping[str, float] = field(default_factory=dict)
    """Subscale scores, rounded like `value` (PGQ: activity, symptom)."""
    exact: float = 0.0
    """The unrounded score: changes are measured on it, so rounding never decides one."""
    exact_parts: Mapping[str, float] = field(default_factory=dict)


LanguageStatus = Literal["ours", "validated-not-included", "none-found"]
"""ours: shown in the language, in our wording (no validated translation of it was found);
validated-not-included: a validated translation exists but is not here, so the page shows the
English, marked; none-found: no validated translation was found, the page shows the English, marked."""
LANGUAGE_NOTES: dict[str, str] = {
    "validated-not-included": N_("This questionnaire is shown in English: a validated version in your language "
                                 "exists, but it is not included here yet. If you cannot answer it in English, "
                                 "tell your therapist."),
    "none-found": N_("This questionnaire is shown in English: no validated version in your language was found. "
                     "If you cannot answer it in English, tell your therapist."),
}
"""What a page in another language says above an instrument it shows in English (message ids)."""


@dataclass(frozen=True)
class InLanguage:
    """Whether an instrument is shown in a language other than English, and on what evidence
    (docs/questionnaires.md)."""

    language: str
    status: LanguageStatus
    note: str
    """For clinicians: which validated version exists (or that none was found) and what we did."""
    sources: tuple[Source, ...] = ()
    """The validation studies the note names."""

    @property
    def shown(self) -> bool:
        """Its items are shown in this language (through the catalog)."""
        return self.status == "ours"


@dataclass(frozen=True)
class Instrument:
    """An outcome questionnaire, declared once: what it asks, how it is scored and read."""

    key: str
    title: str
    """Message id."""
    measures: str
    """Message id: what it measures, in words a patient understands."""
    instructions: str
    """Message id: what the patient is asked to do (the section prompt)."""
    items: tuple[Item, ...]
    """Fixed items; empty for the PSFS, whose activities the patient names herself."""
    shape: str
    """The JSON shape of its answers (for the API's documentation)."""
    scoring: str
    """The published scoring method, in a sentence (for clinicians and docs)."""
    low: float
    high: float
    higher_is_better: bool
    rounding: int
    """Decimals of a score as shown (the methods we found state none; see docs)."""
    mic: Mic
    partial: str
    """How partial answers are handled, and why."""
    sources: tuple[Cited, ...]
    wording: str
    """Where the wording comes from: the published items, or a paraphrase and why."""
    check: Callable[[Any], Answers]
    compute: Callable[[Answers], Score]
    languages: tuple[InLanguage, ...] = ()
    """Its status in each language other than English a page can be in."""

    def in_language(self, language: str) -> InLanguage | None:
        """Its status in `language` (None for English, or a language it says nothing of)."""
        return next((found for found in self.languages if found.language == language), None)

    def shown_in(self, language: str) -> bool:
        """Whether a page in `language` shows its items in that language (else in English, marked)."""
        found = self.in_language(language)
        return language == "en" or (found is not None and found.shown)


def rounded(value: Fraction, decimals: int) -> float:
    """`value` rounded half up (not to even: 2.25 reads 2.3 as on paper)."""
    exponent = Decimal(1).scaleb(-decimals)
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return float(exact.quantize(exponent, rounding=ROUND_HALF_UP))


def answer_object(answers: Any, allowed: set[str]) -> dict[str, Any]:
    """The answers as a JSON object with no key but `allowed` ones."""
    if not isinstance(answers, dict):
        raise AnswerError("answers", N_("The answers could not be read. Please try again."))
    for key in answers:
        if key not in allowed:
            raise AnswerError(field_name("", key),
                              N_("This answer is not part of the questionnaire."))
    return answers


def field_name(prefix: str, key: Any) -> str:
    """`prefix.key` when the key is a short plain name; else only the prefix, so a
    field never echoes arbitrary input."""
    safe = isinstance(key, str) and _FIELD_KEY.fullmatch(key)
    if not prefix:
        return key if safe else "answers"
    return f"{prefix}.{key}" if safe else prefix


def whole_number(value: Any, field: str, low: int, high: int) -> int:
    """`value` as an int from `low` to `high`; a bool, a float or text is refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise AnswerError(field, N_("Please choose a whole number from {low} to {high}."),
                          low=low, high=high)
    if not low <= value <= high:
        raise AnswerError(field, N_("Please choose a number from {low} to {high}."),
                          low=low, high=high)
    return value


def check_items(answers: Any, items: tuple[Item, ...],
                may_skip: frozenset[str] = frozenset()) -> Answers:
    """`{"items": {key: int}}` with every item answered and in range, nothing else; an item
    in `may_skip` may be left open (absent or null) and is then left out of the result."""
    answers = answer_object(answers, {"items"})
    given = answers.get("items")
    if not isinstance(given, dict):
        raise AnswerError("items", N_("The answers could not be read. Please try again."))
    known = {item.key: item for item in items}
    for key in given:
        if key not in known:
            raise AnswerError(field_name("items", key),
                              N_("This question is not part of the questionnaire."))
    clean: dict[str, int] = {}
    for item in items:
        if given.get(item.key) is None:
            if item.key in may_skip:
                continue
            raise AnswerError(f"items.{item.key}", N_("Please answer this question."))
        clean[item.key] = whole_number(given[item.key], f"items.{item.key}", item.low, item.high)
    return {"items": clean}
