"""The condition library: TOML content under `server/library/`, validated once at start.

A mistake in a content file stops start-up with the file and the field named, so a
clinic never serves a half-broken library. Each file is decoded into the Structs that declare
its tables (model.py, clinical.Source, figure_schema.py), which refuse unknown fields, wrong
types and values out of range; the checks across files (poses, views, props, exercise slugs)
and the clinical rules (sources, red flags, lying on the back) follow here. Layout:

    figure.toml              the demo figure's body, views, joint ranges and props
    poses.toml               named poses of the demo figure (angles in degrees)
    conditions/*.toml        one condition a file
    exercises/*.toml         [[exercise]] tables, grouped by theme
    */*.<language>.toml      a translation of the entry or file of that name (translations.py)

`{emergency_number}` in any text, the warning signs' included, is filled with the clinic's number.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from pathlib import Path
from typing import Any

import msgspec

from server.library import demo_checks
from server.library.citations import cited_keys, uncited_figures
from server.library.clinical import (
    CLINICAL_KINDS,
    SUPINE_IN_PREGNANCY,
    SUPINE_POSES,
)
from server.library.errors import LibraryError, explain
from server.library.fields import SLUG_PATTERN, FieldProblem
from server.library.figure import (
    Figure,
    PoseError,
    build_figure,
    check_placement,
    check_prop_names,
    check_ranges,
    inherit,
    parse_pose,
    placed_props,
)
from server.library.figure_schema import FigureFile, Pose
from server.library.model import (
    PHASES,
    PROSE_FIELDS,
    Condition,
    Exercise,
    ExerciseFile,
    Library,
    PropPlace,
)
from server.library.translations import language_of, page_library, translate_library
from server.library.warning_signs import DEFAULT_EMERGENCY_NUMBER, SHARED_SIGNS, translation_problems

__all__ = ["LIBRARY_DIR", "PHASES", "SUPINE_POSES", "LibraryError", "load_library"]

LIBRARY_DIR = Path(__file__).resolve().parent


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise LibraryError(path, "syntax", str(exc)) from None


def _where(table: str, field: str) -> str:
    """'exercise 'glute-bridge' field 'dosage.reps'', or the table alone when it is what is wrong."""
    return f"{table} field '{field}'" if field else table


def _exercise_name(raw: dict[str, Any], index: int) -> str:
    """How a refusal names the exercise at `index` of a file: its slug when it has one."""
    items = raw.get("exercise")
    item = items[index] if isinstance(items, list) and index < len(items) else None
    slug = item.get("slug") if isinstance(item, dict) else None
    return f"exercise '{slug}'" if isinstance(slug, str) and slug else f"exercise #{index + 1}"


def _decode_exercises(path: Path, raw: dict[str, Any]) -> tuple[Exercise, ...]:
    try:
        return msgspec.convert(raw, ExerciseFile).exercise
    except msgspec.ValidationError as exc:
        field, rule = explain(exc, ExerciseFile, raw)
        head, _, rest = field.partition("]")
        if head.startswith("exercise[") and head[9:].isdigit():  # name the exercise by its slug
            raise LibraryError(path, _where(_exercise_name(raw, int(head[9:])), rest.lstrip(".")), rule) from None
        raise LibraryError(path, _where("file", field), rule) from None


def _read_poses(path: Path, figure: Figure) -> dict[str, dict[str, Any]]:
    data = _load_toml(path)
    poses: dict[str, dict[str, Any]] = {}
    for name, raw in data.items():
        if not re.fullmatch(SLUG_PATTERN, name.replace("_", "-")):
            raise LibraryError(path, f"pose '{name}'", "pose names are lowercase words")
        try:
            full = inherit(raw, data)
            poses[name] = parse_pose(full, figure)
        except msgspec.ValidationError as exc:
            field, rule = explain(exc, Pose, full)
            raise LibraryError(path, _where(f"pose '{name}'", field), rule) from None
        except FieldProblem as exc:
            raise LibraryError(path, f"pose '{name}' field '{exc.field}'", str(exc)) from None
    if not poses:
        raise LibraryError(path, "poses", "at least one pose is needed")
    return poses


def _check_demo(path: Path, exercise: Exercise, poses: dict[str, Any], figure: Figure) -> None:
    """Every pose of a demo within human ranges, on the floor or its props, reaching what it holds."""
    placed = placed_props(exercise.props, figure)
    checked: set[str] = set()
    for i, frame in enumerate(exercise.demo):
        if frame.pose in checked:
            continue
        checked.add(frame.pose)
        try:
            check_ranges(poses[frame.pose], figure)
            check_placement(poses[frame.pose], figure, placed)
        except PoseError as exc:
            raise LibraryError(path, f"exercise '{exercise.slug}' demo[{i}] pose '{frame.pose}'", str(exc)) from None


def _complete_exercise(path: Path, exercise: Exercise, poses: dict[str, Any], figure: Figure) -> Exercise:
    """Check a decoded exercise against poses.toml, figure.toml and the clinical rules; add what they bring."""
    where = f"exercise '{exercise.slug}' field"
    for i, frame in enumerate(exercise.demo):
        if frame.pose not in poses:
            raise LibraryError(path, f"{where} 'demo[{i}].pose'", f"unknown pose '{frame.pose}'")
        if frame.view and frame.view not in figure.views:
            raise LibraryError(path, f"{where} 'demo[{i}].view'", f"must be one of {', '.join(figure.views)}")
    if exercise.view not in figure.views:
        raise LibraryError(path, f"{where} 'view'", f"must be one of {', '.join(figure.views)}")
    try:
        check_prop_names([p.name for p in exercise.props], figure)
    except FieldProblem as exc:
        raise LibraryError(path, f"{where} '{exc.field}'", str(exc)) from None
    # A pose that holds a prop (a chair, the wall) brings it, where the exercise does not place it.
    props = list(exercise.props)
    for frame in exercise.demo:
        for prop in poses[frame.pose].get("touch", {}).values():
            if prop not in {p.name for p in props}:
                props.append(PropPlace(name=prop))
    exercise = msgspec.structs.replace(exercise, props=tuple(props))
    _check_demo(path, exercise, poses, figure)
    demo_checks.check(path, exercise, poses, figure)  # the demo shows what the dosage and the words say
    if exercise.supine:
        for i, item in enumerate(exercise.avoid_when):
            if "16 weeks" in item or "later pregnancy" in item or "late pregnancy" in item.lower():
                raise LibraryError(path, f"{where} 'avoid_when[{i}]'", "the rule for lying on the back in "
                                   "pregnancy is added by the loader; do not repeat it")
        exercise = msgspec.structs.replace(exercise, avoid_when=(SUPINE_IN_PREGNANCY, *exercise.avoid_when))
    return exercise


def _read_condition(path: Path, raw: dict[str, Any]) -> Condition:
    try:
        condition = msgspec.convert(raw, Condition)
    except msgspec.ValidationError as exc:
        field, rule = explain(exc, Condition, raw)
        raise LibraryError(path, _where("condition", field), rule) from None
    if not any(source.kind in CLINICAL_KINDS for source in condition.sources):
        raise LibraryError(path, "condition field 'sources'", "at least one source must be a clinical guideline "
                           "or a peer-reviewed paper (kind = \"guideline\" or \"paper\")")
    _check_citations(path, condition)
    _check_red_flags(path, condition)
    return condition


def _check_citations(path: Path, condition: Condition) -> None:
    """Each source key once; every marker names a source; every figure, duration or timing has one."""
    keys = [source.key for source in condition.sources]
    for i, key in enumerate(keys):
        if key in keys[:i]:
            raise LibraryError(path, f"condition field 'sources[{i}].key'", f"'{key}' is used twice")
    texts = [(name, getattr(condition, name)) for name in PROSE_FIELDS]
    texts += [(f"red_flags[{i}]", flag) for i, flag in enumerate(condition.red_flags)]
    for field, text in texts:
        for key in cited_keys(text):
            if key not in keys:
                raise LibraryError(path, f"condition field '{field}'", f"cites '[{key}]', which is not the key "
                                   f"of one of its sources ({', '.join(keys)})")
        for sentence in uncited_figures(text):
            raise LibraryError(path, f"condition field '{field}'", f"'{sentence}' states a figure, duration or "
                               "timing without the source that states it: add [key] of that source after the claim")


def _check_red_flags(path: Path, condition: Condition) -> None:
    """An entry's own warning signs say nothing its phase sets or a shared sign already say."""
    for i, flag in enumerate(condition.red_flags):
        for warning_set in condition.warning_sets:
            if warning_set.topics.search(flag):
                raise LibraryError(path, f"condition field 'red_flags[{i}]'", f"the {warning_set.name} warning signs "
                                   "(server/library/warning_signs.py) are added by the loader; do not repeat them")
        for key, sign in SHARED_SIGNS.items():
            if sign.says.search(flag):
                raise LibraryError(path, f"condition field 'red_flags[{i}]'", f"describes the shared warning sign "
                                   f"'{key}': name it in shared_red_flags instead, so it reads the same everywhere")
    for i, key in enumerate(condition.shared_red_flags):
        if key in condition.shared_red_flags[:i]:
            raise LibraryError(path, f"condition field 'shared_red_flags[{i}]'", f"'{key}' is named twice")


def _read_figure(path: Path) -> Figure:
    raw = _load_toml(path)
    try:
        return build_figure(raw)
    except msgspec.ValidationError as exc:
        field, rule = explain(exc, FigureFile, raw)
        raise LibraryError(path, _where("file", field), rule) from None


def _entries(folder: Path) -> list[Path]:
    """The English content files of a folder, in order (a translation's name has its language too)."""
    return [path for path in sorted(folder.glob("*.toml")) if language_of(path) is None]


def load_library(root: Path = LIBRARY_DIR, emergency_number: str = DEFAULT_EMERGENCY_NUMBER) -> Library:
    """Read and check every content file and translation; LibraryError names the first problem found.
    `emergency_number` is filled in wherever a text says `{emergency_number}`."""
    for problem in translation_problems():
        raise LibraryError(Path(__file__).parent / "warning_signs.py", "translations", problem)
    poses_path = root / "poses.toml"
    if not poses_path.exists():
        raise LibraryError(poses_path, "file", "is missing")
    figure_path = root / "figure.toml"
    if not figure_path.exists():
        raise LibraryError(figure_path, "file", "is missing")
    figure = _read_figure(figure_path)
    poses = _read_poses(poses_path, figure)
    files = [poses_path, figure_path]
    exercises: dict[str, Exercise] = {}
    for path in _entries(root / "exercises"):
        files.append(path)
        for decoded in _decode_exercises(path, _load_toml(path)):
            exercise = _complete_exercise(path, decoded, poses, figure)
            if exercise.slug in exercises:
                raise LibraryError(path, f"exercise '{exercise.slug}' field 'slug'", "is used twice")
            exercises[exercise.slug] = exercise
    conditions: dict[str, Condition] = {}
    for path in _entries(root / "conditions"):
        files.append(path)
        condition = _read_condition(path, _load_toml(path))
        if condition.slug in conditions:
            raise LibraryError(path, "condition field 'slug'", "is used twice")
        for i, slug in enumerate(condition.exercises):
            if slug not in exercises:
                raise LibraryError(path, f"condition field 'exercises[{i}]'", f"unknown exercise '{slug}'")
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
    for path in sorted({*(root / "conditions").glob("*.*.toml"), *(root / "exercises").glob("*.*.toml")}):
        digest.update(path.read_bytes())
    digest.update(emergency_number.encode())
    english = Library(poses, conditions, exercises, digest.hexdigest()[:20], figure)
    library = page_library(english, "en", emergency_number)
    library.by_language = translate_library(root, english, emergency_number, _load_toml)
    return library
