"""The measurements, read once from web/measure/measurements.json and checked at start.

The browser measures and counts with the same file (web/js/measure/pose-math.js); the
server uses it to check a saved result (its measurement, side, unit and range) and to know
which library exercises can be counted. A mistake in the file stops start-up with the field
named, like a library content file.
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from server.library.errors import LibraryError

DEFINITIONS_PATH = Path(__file__).resolve().parents[2] / "web" / "measure" / "measurements.json"
FORMULA_JOINTS = {"flexion": 3, "angle": 3, "side_bend": 0, "ankle_rise": 2, "foot_lift": 0}
JOINTS = ("Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle")
KIND_FORMULAS = {"angle": {"flexion", "angle", "side_bend"}, "rise": {"ankle_rise"},
                 "hold": {"foot_lift"}}
KIND_UNITS = {"angle": "deg", "rise": "percent_shin", "hold": "seconds"}
Positive = Annotated[float, Meta(ge=0, le=1000)]
Posture = Literal["standing", "standing_one_leg", "sitting_to_standing", "lying_on_back"]
"""How she is placed while measured: each has its safety line on the sheets (server/measure/words.py)."""


class DefinitionError(LibraryError):
    """The measurements file breaks a rule; the message names the field (start-up stops, as
    for a broken library file)."""

    def __init__(self, message: str) -> None:
        ValueError.__init__(self, f"web/measure/measurements.json: {message}")


class Count(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Repetition thresholds with hysteresis: rest, then beyond peak, then back to rest."""

    rest: Positive
    peak: Positive


class Measurement(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One thing a therapist can ask to measure."""

    kind: Literal["angle", "rise", "hold"]
    formula: Literal["flexion", "angle", "side_bend", "ankle_rise", "foot_lift"]
    joints: list[str]
    sided: bool
    view: Literal["side", "front"]
    posture: Posture
    unit: Literal["deg", "percent_shin", "seconds"]
    range: tuple[Positive, Positive]
    error: Annotated[float, Meta(gt=0, le=45)] | None
    """The expected error (± in the unit, about 95 % of readings) derived from the nearest
    published figure, or None: none found. Its source's `states` gives the derivation."""
    error_source: str | None
    """The key in `sources` of the publication `error` is derived from."""
    count: Count

    def holds(self, value: object) -> bool:
        """Whether `value` is a finite number within this measurement's range: the one rule
        for a measured value, saved from a call or logged at home."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        low, high = self.range
        return math.isfinite(value) and low <= value <= high


class Limits(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The most one result may hold: repetitions, seconds measured, points of its trace."""

    reps: Annotated[int, Meta(gt=0, le=100_000)]
    seconds: Annotated[int, Meta(gt=0, le=86_400)]
    trace_points: Annotated[int, Meta(gt=0, le=1000)]


class FrameRules(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """When the patient is framed well enough for the numbers to count."""

    min_score: Annotated[float, Meta(gt=0, lt=1)]
    min_body_height: Annotated[float, Meta(gt=0, le=1)]
    steady_seconds: Annotated[float, Meta(ge=0, le=10)]
    steady_share: Annotated[float, Meta(gt=0, le=1)]
    lost_seconds: Annotated[float, Meta(gt=0, le=10)]
    smoothing_frames: Annotated[int, Meta(ge=1, le=15)]
    min_hold_seconds: Annotated[float, Meta(ge=0, le=60)]
    side_view_max_shoulder_ratio: Annotated[float, Meta(gt=0, lt=2)]
    front_view_min_shoulder_ratio: Annotated[float, Meta(gt=0, lt=2)]


class ExerciseMeasure(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What counts a library exercise: a measurement, with thresholds and a posture of its own
    where the library teaches the movement differently from the measurement's default."""

    measurement: str
    count: Count | None = None
    posture: Posture | None = None


class Source(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A published validation an expected error comes from, as docs/measurement.md cites it."""

    title: str
    publisher: str
    year: int
    url: Annotated[str, Meta(pattern=r"^https://")]
    states: str


class Definitions(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The whole file."""

    about: str
    keypoints: list[str]
    limits: Limits
    frame_rules: FrameRules
    measurements: dict[str, Measurement]
    sources: dict[str, Source]
    exercises: dict[str, ExerciseMeasure]

    def measurement_for(self, exercise_slug: str) -> str | None:
        """The measurement that counts an exercise, if it has one."""
        found = self.exercises.get(exercise_slug)
        return found.measurement if found else None


def _check(definitions: Definitions) -> None:
    for name, item in definitions.measurements.items():
        where = f"measurements.{name}"
        if len(item.joints) != FORMULA_JOINTS[item.formula]:
            raise DefinitionError(f"{where}.joints: {item.formula} takes {FORMULA_JOINTS[item.formula]}")
        for joint in item.joints:
            if joint not in JOINTS:
                raise DefinitionError(f"{where}.joints: unknown joint {joint!r}")
            if item.sided and f"left{joint}" not in definitions.keypoints:
                raise DefinitionError(f"{where}.joints: no keypoint left{joint}")
        if item.formula not in KIND_FORMULAS[item.kind] or item.unit != KIND_UNITS[item.kind]:
            raise DefinitionError(f"{where}: kind {item.kind} does not go with {item.formula} in {item.unit}")
        low, high = item.range
        if not low < high:
            raise DefinitionError(f"{where}.range: the low end must be below the high end")
        if (item.error is None) != (item.error_source is None):
            raise DefinitionError(f"{where}.error: an expected error needs its source, and only it")
        if item.error_source is not None and item.error_source not in definitions.sources:
            raise DefinitionError(f"{where}.error_source: {item.error_source!r} is not in sources")
        _check_count(f"{where}.count", item.count, item)
    for slug, exercise in definitions.exercises.items():
        item = definitions.measurements.get(exercise.measurement)
        if item is None:
            raise DefinitionError(f"exercises.{slug}: unknown measurement {exercise.measurement!r}")
        if exercise.count is not None:
            _check_count(f"exercises.{slug}.count", exercise.count, item)


def _check_count(where: str, count: Count, item: Measurement) -> None:
    if count.rest == count.peak:
        raise DefinitionError(f"{where}: rest and peak must differ (hysteresis)")
    low, high = item.range
    if not all(low <= value <= high for value in (count.rest, count.peak)):
        raise DefinitionError(f"{where}: thresholds must lie in the range")


def load_definitions(path: Path = DEFINITIONS_PATH, exercise_slugs: frozenset[str] | None = None) -> Definitions:
    """The checked measurements; exercise_slugs (the library's) are checked when given."""
    try:
        definitions = msgspec.json.decode(path.read_bytes(), type=Definitions)
    except (OSError, msgspec.ValidationError, msgspec.DecodeError) as err:
        raise DefinitionError(f"{path.name}: {err}") from err
    _check(definitions)
    if exercise_slugs is not None:
        unknown = sorted(set(definitions.exercises) - exercise_slugs)
        if unknown:
            raise DefinitionError(f"exercises: not in the library: {', '.join(unknown)}")
    return definitions



@cache
def shipped() -> Definitions:
    """web/measure/measurements.json as shipped (the app checks it against the library at start)."""
    return load_definitions()
