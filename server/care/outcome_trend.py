"""The therapist's trend of a plan's questionnaires: each one's fills oldest first, read
against the first (the baseline) by the instrument's minimal important change, and what a
chart needs (the score range, the band of no important change around the baseline).

Stored fills are scored again from their answers by today's rules (`instruments.score`),
so a change is measured on the unrounded scores, never on rounding.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from server.care.instruments import (
    INSTRUMENTS,
    AnswerError,
    Instrument,
    Score,
    change,
    change_is_important,
    pgic,
    score,
)
from server.storage import outcomes as store
from server.storage.interface import Database

log = logging.getLogger(__name__)

READINGS = ("improved", "worsened", "no_important_change")
"""How a later fill reads against the baseline, by the instrument's minimal important
change: better by at least it, worse by at least it, or neither (by more than it where
its source calls a change of exactly it insignificant: the PGQ symptom subscale)."""
IMPROVED, WORSENED, NO_IMPORTANT_CHANGE = READINGS


@dataclass(frozen=True)
class Point:
    """One fill on the trend."""

    due_at: int
    answered_at: int
    score: float
    """Rounded as the instrument shows it."""
    parts: Mapping[str, float]
    """Subscale scores (PGQ: activity, symptom), rounded."""
    change: float | None
    """How much better than the baseline, in score points (negative: worse); None for
    the baseline itself."""
    reading: str | None
    """One of READINGS against the baseline; None for the baseline, or where no minimal
    important change is published (PGIC)."""
    part_readings: Mapping[str, str | None] = field(default_factory=dict)
    """The reading of each subscale with a published minimal important change."""
    complete: bool = True
    """Every item answered; False for a fill scored over the items given (prorated),
    which has no reading."""

    def as_json(self) -> dict[str, Any]:
        """The point for the chart."""
        return {"due_at": self.due_at, "answered_at": self.answered_at, "score": self.score,
                "parts": dict(self.parts),
                "change": None if self.change is None else round(self.change, 2),
                "reading": self.reading, "part_readings": dict(self.part_readings),
                "complete": self.complete}


@dataclass(frozen=True)
class InstrumentTrend:
    """One questionnaire's trend across the plan."""

    instrument: Instrument
    every_weeks: int | None
    """Its interval while attached; None once taken off (its fills stay)."""
    points: tuple[Point, ...]
    baseline_exact: float | None
    """The first fill's unrounded score, the centre of the band."""
    improved: bool | None = None
    """PGIC: whether her latest rating counts as improved; None elsewhere or unfilled."""

    def band(self) -> dict[str, float] | None:
        """The scores within one minimal important change of the baseline (clipped to
        the range): a fill inside it is no important change."""
        mic = self.instrument.mic.value
        if mic is None or self.baseline_exact is None:
            return None
        return {"low": round(max(self.instrument.low, self.baseline_exact - mic), 2),
                "high": round(min(self.instrument.high, self.baseline_exact + mic), 2)}

    def as_json(self) -> dict[str, Any]:
        """The trend for the chart and the table."""
        found = self.instrument
        return {
            "instrument": found.key, "every_weeks": self.every_weeks,
            "low": found.low, "high": found.high,
            "better": "higher" if found.higher_is_better else "lower",
            "mic": found.mic.value, "mic_parts": dict(found.mic.parts),
            "baseline": self.points[0].as_json() if self.points else None,
            "band": self.band(),
            "fills": [p.as_json() for p in self.points],
            "improved": self.improved,
        }


@dataclass(frozen=True)
class Trend:
    """Every questionnaire of a plan (attached now, or with fills), in registry order."""

    plan_id: str
    instruments: tuple[InstrumentTrend, ...]

    def as_json(self) -> dict[str, Any]:
        """The plan's trend for the API."""
        return {"plan_id": self.plan_id, "instruments": [i.as_json() for i in self.instruments]}


def reading(key: str, baseline: Score, later: Score, part: str | None = None) -> str | None:
    """How `later` reads against `baseline`: IMPROVED or WORSENED by at least the minimal
    important change, else NO_IMPORTANT_CHANGE; None where none is published or a fill is
    incomplete (a prorated PGQ). Both directions use the instrument's one comparison
    (`Mic.reached`), so a PGQ symptom change of exactly 20 is no important change either way."""
    found = INSTRUMENTS[key]
    important = change_is_important(key, baseline, later, part)
    if important is None:
        return None
    if important:
        return IMPROVED
    if found.mic.reached(-change(key, baseline, later, part), part):
        return WORSENED
    return NO_IMPORTANT_CHANGE


def _points(key: str, scored: list[tuple[store.StoredFill, Score]]) -> tuple[Point, ...]:
    if not scored:
        return ()
    base = scored[0][1]
    points = []
    for index, (stored, current) in enumerate(scored):
        later = index > 0
        parts = {part: reading(key, base, current, part) for part in INSTRUMENTS[key].mic.parts}
        points.append(Point(stored.due_at, stored.answered_at, current.value,
                            dict(current.parts), change(key, base, current) if later else None,
                            reading(key, base, current) if later else None,
                            parts if later else {}, current.complete))
    return tuple(points)


async def trend(db: Database, plan_id: str) -> Trend:
    """The plan's trend: per questionnaire attached or filled, its fills oldest first
    with their reading against the first, the minimal important change and its band."""
    questionnaires = {q.instrument: q.every_weeks
                      for q in await store.attached_of_plan(db, plan_id)}
    fills = await store.fills_of_plan(db, plan_id, with_answers=True)
    found = []
    for key, instrument in INSTRUMENTS.items():
        scored = []
        for stored in (f for f in fills if f.instrument == key):
            try:
                scored.append((stored, score(key, stored.answers)))
            except AnswerError:
                # Today's rules refuse a fill stored under older ones: left off the trend.
                log.warning("outcome %s of plan %s no longer scores", stored.id, plan_id)
        if key not in questionnaires and not scored:
            continue
        latest = scored[-1][0].answers if scored else None
        improved = (pgic.is_improved(latest)
                    if key == pgic.INSTRUMENT.key and latest is not None else None)
        found.append(InstrumentTrend(instrument, questionnaires.get(key), _points(key, scored),
                                     scored[0][1].exact if scored else None, improved))
    return Trend(plan_id, tuple(found))
