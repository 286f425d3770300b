"""What the condition library holds: conditions, exercises, dosages, keyframes.

Each content table is declared once, here, as a msgspec Struct; the loader decodes the TOML
files straight into them, so the schema a file is checked against is the object the server
serves. What the loader adds from other files (props a held pose brings, the pregnancy rule
for lying on the back) it adds once, after decoding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Callable, Literal, get_args

import msgspec
from msgspec import Meta

from server.http.i18n import N_, fill
from server.library.clinical import (
    MIN_SOURCES,
    Source,
    lies_on_the_back,
)
from server.library.fields import (
    DOSE_LIMITS,
    Content,
    FieldProblem,
    Item,
    Prose,
    Slug,
    between,
    text,
)
from server.library.figure import Figure
from server.library.warning_signs import SharedSignKey, Signs, WarningSet, signs_for

Phase = Literal["pregnancy", "postpartum", "any"]
PHASES: tuple[str, ...] = get_args(Phase)
Highlight = Literal["", "pelvic_floor", "abdomen", "glutes", "back", "inner_thighs", "chest", "neck", "wrist",
                    "thighs", "hamstrings", "calves", "hip_flexors", "shoulders", "arms", "thumb", "leg", "far_leg"]
"""Muscle groups a demo step may light up (drawn by web/js/demo-figure.js); `leg`/`far_leg` light one
whole leg, her right or her left (the leg that leads on the stairs)."""
Items = Annotated[tuple[Item, ...], Meta(min_length=1)]


class Dosage(Content, frozen=True):
    """How much of an exercise: sets × reps, holds, and how often.

    A movement strategy done once at a time (one set of one) says when to use it in `when`
    ("each time you get out of bed"); the numbers stay as the home program's defaults.
    """

    sets: Annotated[int, between(*DOSE_LIMITS["sets"])]
    reps: Annotated[int, between(*DOSE_LIMITS["reps"])]
    hold_seconds: Annotated[int, between(*DOSE_LIMITS["hold_seconds"])] = 0
    per_day: Annotated[int, between(*DOSE_LIMITS["per_day"])] = 0
    per_week: Annotated[int, between(*DOSE_LIMITS["per_week"])] = 0
    when: Annotated[str, text(120)] = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.per_day and not self.per_week:
            raise FieldProblem("per_day", f"give per_day (1..{DOSE_LIMITS['per_day'][1]}) or "
                                          f"per_week (1..{DOSE_LIMITS['per_week'][1]})")
        if self.sets == 1 and self.reps == 1 and not self.when:
            raise FieldProblem("when", "a strategy done once at a time says when, e.g. 'each time you get "
                               "out of bed'")

    def text(self, translate: Callable[[str], str] = str) -> str:
        """The dosage in plain words; `translate` gives a message in the page's language
        (a template passes its `translate`). `when` is content, in the library's language."""
        if self.when:
            return self.when[0].upper() + self.when[1:]
        parts = [fill(translate, N_("{sets} × {reps}"), sets=self.sets, reps=self.reps)
                 if self.sets > 1 else fill(translate, N_("{reps} times"), reps=self.reps)]
        if self.hold_seconds:
            parts.append(fill(translate, N_("hold {seconds} s"), seconds=self.hold_seconds))
        if self.per_day == 1:
            parts.append(translate(N_("once a day")))
        elif self.per_day == 2:
            parts.append(translate(N_("twice a day")))
        elif self.per_day:
            parts.append(fill(translate, N_("{times} times a day"), times=self.per_day))
        elif self.per_week:
            parts.append(fill(translate, N_("{days} days a week"), days=self.per_week))
        return ", ".join(parts)


class Keyframe(Content, frozen=True):
    """One pose of a demo, reached in `seconds` and held for `hold` seconds."""

    pose: Annotated[str, text(40)]
    """A pose of poses.toml."""
    seconds: Annotated[float, between(0.2, 10)] = 1.0
    hold: Annotated[float, between(0, 60)] = 0.0
    step: Annotated[int, Meta(ge=1)] = 1
    """The step (1-based) whose text shows while this keyframe plays."""
    highlight: Highlight = ""
    view: str = ""
    """A view for this keyframe only (figure.toml [views]); empty: the exercise's view."""
    moves: tuple[Literal["foot", "far_foot"], ...] = ()
    """Feet that step or slide to a new place on the way to this keyframe (a stair, a lunge step, a heel
    slide); every other foot resting on the floor here and in the keyframe before stays put
    (demo_checks.py)."""


class PropPlace(Content, frozen=True, omit_defaults=True):
    """A prop on an exercise's stage (geometry in figure.toml), shifted by dx, dy, dz."""

    name: str
    dx: Annotated[int, between(-200, 200)] | Annotated[float, between(-200, 200)] = 0
    dy: Annotated[int, between(-200, 200)] | Annotated[float, between(-200, 200)] = 0
    dz: Annotated[int, between(-200, 200)] | Annotated[float, between(-200, 200)] = 0


class Exercise(Content, frozen=True):
    """An exercise or movement strategy with its animated demo (an `[[exercise]]` table)."""

    slug: Slug
    name: Annotated[str, text(80)]
    summary: Annotated[str, text(300)]
    position: Annotated[str, text(400)]
    steps: Items
    dosage: Dosage
    cues: Items
    mistakes: Items
    avoid_when: Items
    """Once loaded, starts with the pregnancy rule when the exercise is done lying on the back."""
    demo: Annotated[tuple[Keyframe, ...], Meta(min_length=2, description="a list of at least two keyframes")]
    view: str = "side"
    """The view the demo is drawn from (figure.toml [views])."""
    props: tuple[Annotated[str | PropPlace, Meta(description="a prop's name, or { name, dx, dy, dz }")], ...] = ()
    """Props on the stage; once decoded each is a PropPlace (a bare name is one unshifted)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for i, frame in enumerate(self.demo):
            if frame.step > len(self.steps):
                raise FieldProblem(f"demo[{i}].step", f"must be a step between 1 and {len(self.steps)}")
        msgspec.structs.force_setattr(
            self, "props", tuple(PropPlace(name=p) if isinstance(p, str) else p for p in self.props))

    @property
    def supine(self) -> bool:
        """Done lying on the back; `avoid_when` then starts with the pregnancy rule."""
        return lies_on_the_back(self.position, [f.pose for f in self.demo])

    def as_json(self) -> dict[str, Any]:
        """The exercise for the API and the demo renderer."""
        data = msgspec.to_builtins(self)
        data["dosage"]["text"] = self.dosage.text()
        view, props = data.pop("view"), data.pop("props")  # keys in the order the API has always served
        return {**data, "supine": self.supine, "view": view, "props": props}


class ExerciseFile(Content, frozen=True):
    """A file of exercises/: `[[exercise]]` tables, grouped by theme."""

    exercise: Annotated[tuple[Exercise, ...], Meta(min_length=1, description="[[exercise]] tables, at least one")]


PROSE_FIELDS = ("gist", "anatomy", "who_and_when", "approach", "how_long", "outlook")
"""The paragraphs of a condition page, in page order."""


class Condition(Content, frozen=True):
    """A condition of the library (one file of conditions/)."""

    slug: Slug
    name: Annotated[str, text(100)]
    order: Annotated[int, between(0, 1000)]
    aliases: Annotated[tuple[Annotated[str, text(100)], ...], Meta(min_length=1)]
    phase: Phase
    gist: Prose
    anatomy: Prose
    who_and_when: Prose
    approach: Prose
    how_long: Prose
    outlook: Prose
    red_flags: Items
    """The entry's own warning signs, each ending with how urgent it is."""
    sources: Annotated[tuple[Source, ...], Meta(min_length=MIN_SOURCES,
                                                description=f"a list of at least {MIN_SOURCES} [[sources]] tables")]
    exercises: Annotated[tuple[Slug, ...], Meta(min_length=4, description="a list of at least 4 exercise slugs")]
    shared_red_flags: tuple[SharedSignKey, ...] = ()
    """Warning signs written once in warning_signs.SHARED_SIGNS that this entry carries too."""

    def signs(self) -> Signs:
        """The warning signs as its page shows them (PageCondition: in the page's language, with the
        clinic's emergency number)."""
        return signs_for("en")

    @property
    def warning_sets(self) -> tuple[WarningSet, ...]:
        """The warning-sign sets of the entry's phase: pregnancy, after birth, or both."""
        return self.signs().phase_sets[self.phase]

    def shared_flags(self) -> tuple[str, ...]:
        """The text of each shared warning sign the entry names."""
        return tuple(self.signs().shared[key] for key in self.shared_red_flags)

    def as_json(self) -> dict[str, Any]:
        """The condition for the API: markers in the text name `sources[].key`."""
        data = msgspec.to_builtins({name: getattr(self, name) for name in Condition.__struct_fields__})
        data["shared_red_flags"] = [{"key": key, "text": self.signs().shared[key]} for key in self.shared_red_flags]
        data["phase_red_flags"] = {s.name: {"heading": s.heading, "signs": list(s.signs)} for s in self.warning_sets}
        return data

    def all_red_flags(self) -> tuple[str, ...]:
        """Every warning sign the page shows: the entry's own, the shared ones it names, its phase sets."""
        return self.red_flags + self.shared_flags() + tuple(sign for s in self.warning_sets for sign in s.signs)

    def matches(self, query: str) -> bool:
        """Whether a search query hits the name or an alias."""
        q = query.strip().lower()
        return not q or q in self.name.lower() or any(q in a.lower() for a in self.aliases)


class PageCondition(Condition, frozen=True):
    """A condition as a page in one language shows it: its text translated, or its English text when it
    has no translation (`english_only`); its warning signs always in the page's language, with the
    clinic's emergency number. Made by the loader, never read from a file."""

    language: str = "en"
    """The language of its text ("en" when `english_only`; its warning signs are in the page's)."""
    english_only: bool = False
    """The page is in another language, and this entry has no translation in it."""
    review_sources: tuple[Source, ...] = ()
    """Sources in the page's language the translation was reviewed against (cited by key like the rest)."""
    page_signs: Any = None
    """The Signs of the page's language (warning_signs.signs_for)."""

    def signs(self) -> Signs:
        return self.page_signs or signs_for(self.language)

    def as_json(self) -> dict[str, Any]:
        data = super().as_json()
        data.update(language=self.language, english_only=self.english_only,
                    review_sources=msgspec.to_builtins(self.review_sources))
        return data


class PageExercise(Exercise, frozen=True):
    """An exercise as a page in one language shows it (as PageCondition): its loader-added safety rule
    (lying on the back in pregnancy) is always in the page's language."""

    language: str = "en"
    english_only: bool = False
    review_sources: tuple[Source, ...] = ()
    """Sources in the page's language the translation was reviewed against."""


@dataclass
class Library:
    """Everything the library holds, in English; `in_language` gives it as a page in another
    language shows it."""

    poses: dict[str, dict[str, Any]]
    conditions: dict[str, Condition]
    exercises: dict[str, Exercise]
    etag: str = ""
    figure: Figure | None = None
    by_language: dict[str, Library] = field(default_factory=dict)
    """The library as pages in each other language show it (translated entries, the rest in English)."""

    def in_language(self, language: str) -> Library:
        """The library as a page in `language` shows it; itself for English or a language it has none of."""
        return self.by_language.get(language, self)

    def ordered_conditions(self) -> list[Condition]:
        """Conditions in their set order (sacroiliac joint dysfunction first)."""
        return sorted(self.conditions.values(), key=lambda c: (c.order, c.name))

    def conditions_for(self, exercise_slug: str) -> list[Condition]:
        """Conditions whose list includes this exercise."""
        return [c for c in self.ordered_conditions() if exercise_slug in c.exercises]
