"""The condition library: TOML content under `server/library/`, validated once at start.

A mistake in a content file stops start-up with the file and the field named, so a
clinic never serves a half-broken library. Layout:

    poses.toml               named poses of the demo figure (angles in degrees)
    conditions/*.toml        one condition a file
    exercises/*.toml         [[exercise]] tables, grouped by theme
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from pathlib import Path
from typing import Any

from server.library.clinical import (
    CLINICAL_KINDS,
    MIN_SOURCES,
    POSTNATAL_RED_FLAGS,
    POSTNATAL_TOPICS,
    SOURCE_KINDS,
    SUPINE_IN_PREGNANCY,
    SUPINE_POSITION,
    Source,
)
from server.library.figure import (
    Figure,
    PoseError,
    PoseFieldError,
    check_placement,
    check_ranges,
    inherit,
    load_figure,
    parse_pose,
    parse_props,
    placed_props,
)
from server.library.model import Condition, Dosage, Exercise, Keyframe, Library

LIBRARY_DIR = Path(__file__).resolve().parent
SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
PHASES = ("pregnancy", "postpartum", "any")
HIGHLIGHTS = ("", "pelvic_floor", "abdomen", "glutes", "back", "inner_thighs", "chest", "neck", "wrist",
              "thighs", "hamstrings", "calves", "hip_flexors", "shoulders", "arms", "thumb")
"""Muscle groups a demo step may light up (drawn by web/js/demo-figure.js)."""
SUPINE_POSES = frozenset({
    "hook_lying", "hook_lying_tilt", "bridge", "supine", "heel_slide_out", "tabletop_legs", "heel_tap",
    "knee_chest", "figure_four", "hook_lying_arms_up", "hook_lying_arms_back", "hook_lying_squeeze",
    "head_lift", "curl_up", "figure_four_pull", "single_bridge_start", "single_bridge", "hook_lying_hands_on_belly",
})
"""Demo poses that lie on the back; an exercise shown mostly in them is done lying on the back."""
class LibraryError(ValueError):
    """A content file is wrong; the message names the file and the field."""

    def __init__(self, path: Path, where: str, message: str) -> None:
        try:
            shown = path.relative_to(LIBRARY_DIR.parent.parent)
        except ValueError:
            shown = path
        super().__init__(f"{shown}: {where}: {message}")


# -- field readers -----------------------------------------------------------------------


class _Reader:
    def __init__(self, path: Path, where: str, data: Any) -> None:
        if not isinstance(data, dict):
            raise LibraryError(path, where, "must be a table")
        self.path, self.where, self.data = path, where, data

    def fail(self, name: str, message: str) -> LibraryError:
        return LibraryError(self.path, f"{self.where} field '{name}'", message)

    def text(self, name: str, *, max_len: int = 4000, optional: bool = False) -> str:
        value = self.data.get(name)
        if value is None and optional:
            return ""
        if not isinstance(value, str) or not value.strip():
            raise self.fail(name, "must be non-empty text")
        if len(value) > max_len:
            raise self.fail(name, f"must be at most {max_len} characters")
        return " ".join(value.split())

    def texts(self, name: str, *, minimum: int = 1, max_len: int = 600) -> tuple[str, ...]:
        value = self.data.get(name)
        if not isinstance(value, list) or len(value) < minimum:
            raise self.fail(name, f"must be a list of at least {minimum} text item(s)")
        items = []
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip() or len(item) > max_len:
                raise self.fail(f"{name}[{i}]", f"must be text of 1..{max_len} characters")
            items.append(" ".join(item.split()))
        return tuple(items)

    def number(self, name: str, low: float, high: float, *, default: float | None = None,
               whole: bool = False) -> float:
        value = self.data.get(name, default)
        ok_type = isinstance(value, int) if whole else isinstance(value, (int, float))
        if value is None or isinstance(value, bool) or not ok_type:
            raise self.fail(name, "must be a whole number" if whole else "must be a number")
        if not low <= value <= high:
            raise self.fail(name, f"must be between {low:g} and {high:g}")
        return value

    def slug(self, name: str) -> str:
        value = self.data.get(name)
        if not isinstance(value, str) or not SLUG.fullmatch(value):
            raise self.fail(name, "must be a lowercase slug like 'glute-bridge'")
        return value


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise LibraryError(path, "syntax", str(exc)) from None


def _read_poses(path: Path, figure: Figure) -> dict[str, dict[str, Any]]:
    data = _load_toml(path)
    poses: dict[str, dict[str, Any]] = {}
    for name, raw in data.items():
        if not SLUG.fullmatch(name.replace("_", "-")):
            raise LibraryError(path, f"pose '{name}'", "pose names are lowercase words")
        try:
            poses[name] = parse_pose(inherit(raw, data), figure)
        except PoseFieldError as exc:
            raise LibraryError(path, f"pose '{name}' field '{exc.field}'", str(exc)) from None
    if not poses:
        raise LibraryError(path, "poses", "at least one pose is needed")
    return poses


def _check_demo(path: Path, slug: str, frames: list[Keyframe], poses: dict[str, Any], figure: Figure,
                props: list[dict[str, Any]]) -> None:
    """Every pose of a demo within human ranges, on the floor or its props, reaching what it holds."""
    placed = placed_props(props, figure)
    checked: set[str] = set()
    for i, frame in enumerate(frames):
        if frame.pose in checked:
            continue
        checked.add(frame.pose)
        try:
            check_ranges(poses[frame.pose], figure)
            check_placement(poses[frame.pose], figure, placed)
        except PoseError as exc:
            raise LibraryError(path, f"exercise '{slug}' demo[{i}] pose '{frame.pose}'", str(exc)) from None


def _read_exercise(path: Path, index: int, raw: Any, poses: dict[str, Any], figure: Figure) -> Exercise:
    r = _Reader(path, f"exercise #{index + 1}", raw)
    slug = r.slug("slug")
    r.where = f"exercise '{slug}'"
    steps = r.texts("steps")
    dosage_raw = raw.get("dosage")
    d = _Reader(path, f"exercise '{slug}' dosage", dosage_raw)
    per_day = int(d.number("per_day", 0, 10, default=0, whole=True))
    per_week = int(d.number("per_week", 0, 7, default=0, whole=True))
    if not per_day and not per_week:
        raise d.fail("per_day", "give per_day (1..10) or per_week (1..7)")
    sets, reps = int(d.number("sets", 1, 10, whole=True)), int(d.number("reps", 1, 50, whole=True))
    when = d.text("when", max_len=120, optional=True)
    if sets == 1 and reps == 1 and not when:
        raise d.fail("when", "a strategy done once at a time says when, e.g. 'each time you get out of bed'")
    dosage = Dosage(sets, reps, int(d.number("hold_seconds", 0, 120, default=0, whole=True)), per_day,
                    per_week, when)
    demo_raw = raw.get("demo")
    if not isinstance(demo_raw, list) or len(demo_raw) < 2:
        raise r.fail("demo", "needs at least two keyframes")
    frames = []
    for i, frame_raw in enumerate(demo_raw):
        f = _Reader(path, f"exercise '{slug}' demo[{i}]", frame_raw)
        pose = f.text("pose", max_len=40)
        if pose not in poses:
            raise f.fail("pose", f"unknown pose '{pose}'")
        highlight = f.data.get("highlight", "")
        if highlight not in HIGHLIGHTS:
            raise f.fail("highlight", f"must be one of {', '.join(h for h in HIGHLIGHTS if h)}")
        step = int(f.number("step", 1, len(steps), default=1, whole=True))
        frame_view = f.data.get("view", "")
        if frame_view and frame_view not in figure.views:
            raise f.fail("view", f"must be one of {', '.join(figure.views)}")
        frames.append(Keyframe(pose, float(f.number("seconds", 0.2, 10, default=1.0)),
                               float(f.number("hold", 0, 60, default=0)), step, highlight, frame_view))
    view = raw.get("view", "side")
    if view not in figure.views:
        raise r.fail("view", f"must be one of {', '.join(figure.views)}")
    try:
        props = parse_props(raw.get("props"), figure)
    except PoseFieldError as exc:
        raise r.fail(exc.field, str(exc)) from None
    # A pose that holds a prop (a chair, the wall) brings it, where the exercise does not place it.
    for frame in frames:
        for prop in poses[frame.pose].get("touch", {}).values():
            if prop not in {p["name"] for p in props}:
                props.append({"name": prop})
    _check_demo(path, slug, frames, poses, figure, props)
    avoid_when = r.texts("avoid_when")
    position = r.text("position", max_len=400)
    supine = (2 * sum(f.pose in SUPINE_POSES for f in frames) >= len(frames)
              or bool(SUPINE_POSITION.match(position)))
    if supine:
        for i, item in enumerate(avoid_when):
            if "16 weeks" in item or "later pregnancy" in item or "late pregnancy" in item.lower():
                raise r.fail(f"avoid_when[{i}]", "the rule for lying on the back in pregnancy is added by "
                             "the loader; do not repeat it")
        avoid_when = (SUPINE_IN_PREGNANCY, *avoid_when)
    return Exercise(
        slug=slug, name=r.text("name", max_len=80), summary=r.text("summary", max_len=300),
        position=position, steps=steps, dosage=dosage,
        cues=r.texts("cues"), mistakes=r.texts("mistakes"), avoid_when=avoid_when,
        demo=tuple(frames), supine=supine, view=view, props=tuple(props),
    )


def _read_condition(path: Path, raw: dict[str, Any]) -> Condition:
    r = _Reader(path, "condition", raw)
    slug = r.slug("slug")
    phase = raw.get("phase")
    if phase not in PHASES:
        raise r.fail("phase", f"must be one of {', '.join(PHASES)}")
    sources_raw = raw.get("sources")
    if not isinstance(sources_raw, list) or len(sources_raw) < MIN_SOURCES:
        raise r.fail("sources", f"at least {MIN_SOURCES} sources are needed")
    sources = []
    for i, s in enumerate(sources_raw):
        sr = _Reader(path, f"condition source[{i}]", s)
        url = sr.text("url", max_len=500)
        if not url.startswith("https://"):
            raise sr.fail("url", "must be an https:// address")
        if ("year" in s) == ("accessed" in s):
            raise sr.fail("year", "give the publication year, or for an undated web page the year "
                          "it was accessed (one of the two)")
        year = int(sr.number("year", 1900, 2100, whole=True)) if "year" in s else 0
        accessed = int(sr.number("accessed", 1990, 2100, whole=True)) if "accessed" in s else 0
        kind = s.get("kind")
        if kind not in SOURCE_KINDS:
            raise sr.fail("kind", f"must be one of {', '.join(SOURCE_KINDS)}")
        sources.append(Source(sr.text("title", max_len=300), sr.text("publisher", max_len=200), url,
                              year, accessed, kind))
    if not any(source.kind in CLINICAL_KINDS for source in sources):
        raise r.fail("sources", "at least one source must be a clinical guideline or a peer-reviewed paper "
                     "(kind = \"guideline\" or \"paper\")")
    red_flags = r.texts("red_flags")
    if phase == "postpartum":
        for i, item in enumerate(red_flags):
            if POSTNATAL_TOPICS.search(item):
                raise r.fail(f"red_flags[{i}]", "the warning signs after birth (bleeding, fever, a painful leg, "
                             "wound infection, severe headache) are added by the loader; do not repeat them")
    exercises = raw.get("exercises")
    if not isinstance(exercises, list) or len(exercises) < 4 or not all(
            isinstance(e, str) and SLUG.fullmatch(e) for e in exercises):
        raise r.fail("exercises", "must list at least 4 exercise slugs")
    return Condition(
        slug=slug, name=r.text("name", max_len=100), order=int(r.number("order", 0, 1000, whole=True)),
        aliases=r.texts("aliases", max_len=100), phase=phase, gist=r.text("gist"),
        anatomy=r.text("anatomy"), who_and_when=r.text("who_and_when"), approach=r.text("approach"),
        how_long=r.text("how_long"), outlook=r.text("outlook"), red_flags=red_flags,
        sources=tuple(sources), exercises=tuple(exercises),
        postnatal_red_flags=POSTNATAL_RED_FLAGS if phase == "postpartum" else (),
    )


def load_library(root: Path = LIBRARY_DIR) -> Library:
    """Read and check every content file; LibraryError names the first problem found."""
    poses_path = root / "poses.toml"
    if not poses_path.exists():
        raise LibraryError(poses_path, "file", "is missing")
    figure_path = root / "figure.toml"
    if not figure_path.exists():
        raise LibraryError(figure_path, "file", "is missing")
    figure = load_figure(figure_path)
    poses = _read_poses(poses_path, figure)
    files = [poses_path, figure_path]
    exercises: dict[str, Exercise] = {}
    for path in sorted((root / "exercises").glob("*.toml")):
        files.append(path)
        data = _load_toml(path)
        items = data.get("exercise")
        if not isinstance(items, list) or not items:
            raise LibraryError(path, "exercise", "the file needs [[exercise]] tables")
        for i, raw in enumerate(items):
            exercise = _read_exercise(path, i, raw, poses, figure)
            if exercise.slug in exercises:
                raise LibraryError(path, f"exercise '{exercise.slug}' field 'slug'", "is used twice")
            exercises[exercise.slug] = exercise
    conditions: dict[str, Condition] = {}
    for path in sorted((root / "conditions").glob("*.toml")):
        files.append(path)
        condition = _read_condition(path, _load_toml(path))
        if condition.slug in conditions:
            raise LibraryError(path, "condition field 'slug'", "is used twice")
        for slug in condition.exercises:
            if slug not in exercises:
                raise LibraryError(path, "condition field 'exercises'", f"unknown exercise '{slug}'")
        conditions[condition.slug] = condition
    if not conditions:
        raise LibraryError(root / "conditions", "files", "no condition found")
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.read_bytes())
    used = {f.pose for e in exercises.values() for f in e.demo}
    for name in sorted(set(poses) - used):
        try:
            check_ranges(poses[name], figure)
            check_placement({**poses[name], "airborne": True}, figure, {})
        except PoseError as exc:
            raise LibraryError(poses_path, f"pose '{name}'", str(exc)) from None
    return Library(poses, conditions, exercises, digest.hexdigest()[:20], figure)
