"""What the condition library holds once loaded: conditions, exercises, dosages, keyframes."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from server.library.clinical import Source
from server.library.figure import Figure


@dataclass(frozen=True)
class Dosage:
    """How much of an exercise: sets × reps, holds, and how often.

    A movement strategy done once at a time (one set of one) says when to use it in `when`
    ("each time you get out of bed"); the numbers stay as the home program's defaults.
    """

    sets: int
    reps: int
    hold_seconds: int
    per_day: int
    per_week: int
    when: str = ""

    def text(self) -> str:
        """The dosage in plain words."""
        if self.when:
            return self.when[0].upper() + self.when[1:]
        parts = [f"{self.sets} × {self.reps}" if self.sets > 1 else f"{self.reps} times"]
        if self.hold_seconds:
            parts.append(f"hold {self.hold_seconds} s")
        if self.per_day:
            parts.append({1: "once a day", 2: "twice a day"}.get(self.per_day, f"{self.per_day} times a day"))
        elif self.per_week:
            parts.append(f"{self.per_week} days a week")
        return ", ".join(parts)


@dataclass(frozen=True)
class Keyframe:
    """One pose of a demo, reached in `seconds` and held for `hold` seconds."""

    pose: str
    seconds: float
    hold: float
    step: int
    """The step (1-based) whose text shows while this keyframe plays."""
    highlight: str
    view: str = ""
    """A view for this keyframe only (figure.toml [views]); empty: the exercise's view."""


@dataclass(frozen=True)
class Exercise:
    """An exercise or movement strategy with its animated demo."""

    slug: str
    name: str
    summary: str
    position: str
    steps: tuple[str, ...]
    dosage: Dosage
    cues: tuple[str, ...]
    mistakes: tuple[str, ...]
    avoid_when: tuple[str, ...]
    demo: tuple[Keyframe, ...]
    supine: bool = False
    view: str = "side"
    """The view the demo is drawn from (figure.toml [views])."""
    props: tuple[dict[str, Any], ...] = ()
    """Props on the stage, placed: {name, dx, dy, dz} (geometry in figure.toml)."""
    """Done lying on the back; `avoid_when` then starts with the pregnancy rule."""

    def as_json(self) -> dict[str, Any]:
        """The exercise for the API and the demo renderer."""
        data = asdict(self)
        data["dosage"]["text"] = self.dosage.text()
        return data


@dataclass(frozen=True)
class Condition:
    """A condition of the library."""

    slug: str
    name: str
    order: int
    aliases: tuple[str, ...]
    phase: str
    gist: str
    anatomy: str
    who_and_when: str
    approach: str
    how_long: str
    outlook: str
    red_flags: tuple[str, ...]
    sources: tuple[Source, ...]
    exercises: tuple[str, ...]
    postnatal_red_flags: tuple[str, ...] = ()
    """The shared warning signs after birth; every postpartum condition carries them."""

    def as_json(self) -> dict[str, Any]:
        """The condition for the API."""
        return asdict(self)

    def all_red_flags(self) -> tuple[str, ...]:
        """The condition's own warning signs, then the shared postnatal ones."""
        return self.red_flags + self.postnatal_red_flags

    def matches(self, query: str) -> bool:
        """Whether a search query hits the name or an alias."""
        q = query.strip().lower()
        return not q or q in self.name.lower() or any(q in a.lower() for a in self.aliases)


@dataclass
class Library:
    """Everything the library holds."""

    poses: dict[str, dict[str, Any]]
    conditions: dict[str, Condition]
    exercises: dict[str, Exercise]
    etag: str = ""
    figure: Figure | None = None

    def ordered_conditions(self) -> list[Condition]:
        """Conditions in their set order (sacroiliac joint dysfunction first)."""
        return sorted(self.conditions.values(), key=lambda c: (c.order, c.name))

    def conditions_for(self, exercise_slug: str) -> list[Condition]:
        """Conditions whose list includes this exercise."""
        return [c for c in self.ordered_conditions() if exercise_slug in c.exercises]
