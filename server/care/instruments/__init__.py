"""Outcome questionnaires: each instrument declared once (one module each), answers
validated, fills scored by the instrument's published method, changes read against its
minimal important change. Pure: no database, no HTTP.

Answer shapes (JSON):
- PSFS: `{"activities": [{"activity": "lifting my baby", "score": 4}, ...]}`, 1 to 5
  activities named by the patient at intake; later fills rate the same activities
  (`psfs.follow_up_form(intake)` builds their form, `validate("psfs", answers,
  intake=...)` checks them).
- NPRS: `{"items": {"pain": 0..10}}`; PGIC: `{"items": {"change": 1..7}}`;
  PGQ: `{"items": {"q1": 0..3, ..., "q25": 0..3}}`.

A bad answer raises `AnswerError(field, message)`; `message` is a message id for the
catalog (`error.text(translate)` gives it in the patient's language). Sources, terms and
what could not be found: docs/questionnaires.md.
"""

from __future__ import annotations

from typing import Any

from server.care.instruments import nprs, pgic, pgq, psfs
from server.care.instruments.model import (
    AnswerError,
    Answers,
    Cited,
    Instrument,
    Item,
    Mic,
    Score,
)
from server.http.i18n import N_

__all__ = [
    "INSTRUMENTS",
    "AnswerError",
    "Answers",
    "Cited",
    "Instrument",
    "Item",
    "Mic",
    "Score",
    "change",
    "change_is_important",
    "instrument",
    "score",
    "validate",
]

INSTRUMENTS: dict[str, Instrument] = {
    module.INSTRUMENT.key: module.INSTRUMENT for module in (psfs, nprs, pgq, pgic)}
"""Every questionnaire a plan of care can attach, by key."""


def instrument(key: Any) -> Instrument:
    """The instrument called `key`; AnswerError when there is none."""
    found = INSTRUMENTS.get(key) if isinstance(key, str) else None
    if found is None:
        raise AnswerError("instrument", N_("This questionnaire is not available."))
    return found


def validate(instrument_key: str, answers: Any, *, intake: Answers | None = None) -> Answers:
    """The answers, checked and cleaned (plain JSON, safe to store), or AnswerError naming
    the first field that is wrong. `intake` (PSFS only): the first fill, whose activities
    a later fill must rate."""
    found = instrument(instrument_key)
    if found.key == psfs.INSTRUMENT.key:
        return psfs.check(answers, intake=intake)
    return found.check(answers)


def score(instrument_key: str, answers: Any) -> Score:
    """The score of a fill by the instrument's published method (validated first, so a
    stored fill is scored by today's rules)."""
    found = instrument(instrument_key)
    return found.compute(found.check(answers))


def change(instrument_key: str, first: Score, last: Score, part: str | None = None) -> float:
    """How much better `last` is than `first`, in score points (negative: worse), on the
    unrounded scores; `part` names a subscale (PGQ: activity, symptom)."""
    found = instrument(instrument_key)
    before, after = ((first.exact_parts[part], last.exact_parts[part]) if part
                     else (first.exact, last.exact))
    return after - before if found.higher_is_better else before - after


def change_is_important(instrument_key: str, first: Score, last: Score,
                        part: str | None = None) -> bool | None:
    """Whether `last` is better than `first` by the minimal important change (`Mic.reached`:
    at least it, or more than it where a change of exactly it is called insignificant, as
    the PGQ symptom subscale's 20); None when no minimal important change is published
    (PGIC) or a fill is incomplete (a PGQ with item 16 or 19 open, scored prorated).
    A worsening is never "important" here: `change()` tells its size."""
    found = instrument(instrument_key)
    if not (first.complete and last.complete):
        return None
    return found.mic.reached(change(instrument_key, first, last, part), part)
