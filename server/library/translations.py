"""Translations of library entries: their files, the rules they keep, and the entries as a page in
each language shows them.

A translation sits beside its English entry, named with the language before `.toml`:
`conditions/pelvic-girdle-pain.es.toml` translates `conditions/pelvic-girdle-pain.toml`, and
`exercises/hips.es.toml` holds `[[exercise]]` tables translating exercises of `exercises/hips.toml`.
A translation carries every text field of its entry (nothing else: the slug names the entry, the
dosage numbers, demo, sources and warning signs stay the English entry's own), each list item at the
place of its English one, so the demo's step numbers still point at the right step. A condition
cites the sources its English cites in each field, and may add `[[sources]]` in its language that it
was reviewed against. The warning signs and the rule for lying on the back are not in these files:
warning_signs.py writes them once in each language, so an entry without a translation still shows
them in the page's language.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, Any, Callable

import msgspec
from msgspec import Meta

from server.library.citations import cited_keys, uncited_figures
from server.library.clinical import Source, lies_on_the_back
from server.library.errors import LibraryError, explain
from server.library.fields import Content, Item, Prose, Slug, text
from server.library.model import (
    PROSE_FIELDS,
    Condition,
    Exercise,
    Library,
    PageCondition,
    PageExercise,
)
from server.library.warning_signs import TRANSLATED, Signs, fill_number, signs_for

LANGUAGES: tuple[str, ...] = tuple(TRANSLATED)
"""The languages entries may be translated into (those the warning signs are written in)."""
Items = Annotated[tuple[Item, ...], Meta(min_length=1)]


class ConditionText(Content, frozen=True):
    """A condition's text in another language (`conditions/<slug>.<language>.toml`)."""

    slug: Slug
    """The English entry's slug, as the file's name says."""
    name: Annotated[str, text(100)]
    aliases: Annotated[tuple[Annotated[str, text(100)], ...], Meta(min_length=1)]
    gist: Prose
    anatomy: Prose
    who_and_when: Prose
    approach: Prose
    how_long: Prose
    outlook: Prose
    red_flags: Items
    """The entry's own warning signs, one for each of the English ones, in the same order."""
    sources: tuple[Source, ...] = ()
    """Sources in this language the translation was reviewed against; the English sources stay cited."""


class ExerciseText(Content, frozen=True):
    """An exercise's text in another language (an `[[exercise]]` table of `exercises/<theme>.<language>.toml`)."""

    slug: Slug
    name: Annotated[str, text(80)]
    summary: Annotated[str, text(300)]
    position: Annotated[str, text(400)]
    steps: Items
    cues: Items
    mistakes: Items
    avoid_when: Items
    """The English `avoid_when` as written (the loader adds the rule for lying on the back itself)."""
    when: Annotated[str, text(120)] = ""
    """The dosage's `when`, where the English has one."""
    sources: tuple[Source, ...] = ()
    """Sources in this language the translation was reviewed against."""


class ExerciseTextFile(Content, frozen=True):
    exercise: Annotated[tuple[ExerciseText, ...], Meta(min_length=1, description="[[exercise]] tables, at least one")]


LIST_FIELDS = ("steps", "cues", "mistakes", "avoid_when")


def language_of(path: Path) -> str | None:
    """The language a content file is written in: None for English (`hips.toml`), the tag of a
    translation (`hips.es.toml`); LibraryError for a tag the library is not translated into."""
    parts = path.name.split(".")
    if len(parts) == 2:
        return None
    if len(parts) == 3 and parts[1] in LANGUAGES:
        return parts[1]
    raise LibraryError(path, "file name", f"is neither an entry (name.toml) nor a translation of one "
                       f"(name.<language>.toml, language one of {', '.join(LANGUAGES)})")


def _decode(path: Path, raw: dict[str, Any], schema: Any, table: str) -> Any:
    try:
        return msgspec.convert(raw, schema)
    except msgspec.ValidationError as exc:
        field, rule = explain(exc, schema, raw)
        raise LibraryError(path, f"{table} field '{field}'" if field else table, rule) from None


def _same_length(path: Path, where: str, name: str, translated: tuple[str, ...], english: tuple[str, ...]) -> None:
    if len(translated) != len(english):
        raise LibraryError(path, f"{where} '{name}'", f"has {len(translated)} item(s), its English {len(english)}: "
                           "translate each item, in the same order")


def _filled(fields: dict[str, Any], number: str) -> dict[str, Any]:
    """An entry's fields with the clinic's emergency number filled into its text."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if isinstance(value, str):
            value = fill_number(value, number)
        elif isinstance(value, tuple) and value and isinstance(value[0], str):
            value = tuple(fill_number(v, number) for v in value)
        out[name] = value
    return out


def page_exercise(exercise: Exercise, signs: Signs, number: str, translation: ExerciseText | None = None
                  ) -> PageExercise:
    """The exercise as a page in `signs.language` shows it: the translation's text (or the English when
    there is none), the rule for lying on the back in that language, the emergency number filled in."""
    fields = {name: getattr(exercise, name) for name in Exercise.__struct_fields__}
    own = exercise.avoid_when[1:] if exercise.supine else exercise.avoid_when
    if translation is not None:
        fields.update({name: getattr(translation, name) for name in ("name", "summary", "position", *LIST_FIELDS)})
        if translation.when:
            fields["dosage"] = msgspec.structs.replace(exercise.dosage, when=translation.when)
        own = translation.avoid_when
    fields["avoid_when"] = (signs.supine, *own) if exercise.supine else own
    fields["dosage"] = msgspec.structs.replace(fields["dosage"], when=fill_number(fields["dosage"].when, number))
    english_only = translation is None and signs.language != "en"
    return PageExercise(**_filled(fields, number), language="en" if english_only else signs.language,
                        english_only=english_only, review_sources=translation.sources if translation else ())


def page_condition(condition: Condition, signs: Signs, number: str,
                   translation: ConditionText | None = None) -> PageCondition:
    """The condition as a page in `signs.language` shows it (as page_exercise)."""
    fields = {name: getattr(condition, name) for name in Condition.__struct_fields__}
    review: tuple[Source, ...] = ()
    if translation is not None:
        fields.update({name: getattr(translation, name) for name in ("name", "aliases", *PROSE_FIELDS, "red_flags")})
        review = translation.sources
    english_only = translation is None and signs.language != "en"
    return PageCondition(**_filled(fields, number), language="en" if english_only else signs.language,
                         review_sources=review, page_signs=signs, english_only=english_only)


def _check_condition(path: Path, text: ConditionText, english: Condition) -> None:
    """The translation says what its English says, citing the same sources for it."""
    _same_length(path, "condition field", "red_flags", text.red_flags, english.red_flags)
    own = [source.key for source in english.sources]
    review = [source.key for source in text.sources]
    for i, key in enumerate(review):
        if key in own or key in review[:i]:
            raise LibraryError(path, f"condition field 'sources[{i}].key'", f"'{key}' is already a key of the entry "
                               "or of this file: give the translation's source its own key")
    fields = [(name, getattr(text, name), getattr(english, name)) for name in PROSE_FIELDS]
    fields += [(f"red_flags[{i}]", t, e) for i, (t, e) in enumerate(zip(text.red_flags, english.red_flags))]
    for field, translated, original in fields:
        cited, needed = Counter(cited_keys(translated)), Counter(cited_keys(original))
        unknown = set(cited) - set(own) - set(review)
        if unknown:
            raise LibraryError(path, f"condition field '{field}'", f"cites '[{sorted(unknown)[0]}]', which is not "
                               f"the key of a source of the entry or of this file")
        if needed - cited:  # each claim keeps its marker: as many of each key as the English has
            missing = "; ".join(sorted(needed - cited))
            raise LibraryError(path, f"condition field '{field}'", f"does not cite [{missing}] as often as its "
                               "English does: keep each marker after the claim it supports")
        for sentence in uncited_figures(translated):
            raise LibraryError(path, f"condition field '{field}'", f"'{sentence}' states a figure without the "
                               "source that states it: add [key] of that source after the claim")


def _check_exercise(path: Path, text: ExerciseText, english: Exercise, poses: list[str]) -> None:
    where = f"exercise '{text.slug}' field"
    own = english.avoid_when[1:] if english.supine else english.avoid_when
    for name, translated, original in [(n, getattr(text, n), getattr(english, n)) for n in LIST_FIELDS[:3]]:
        _same_length(path, where, name, translated, original)
    _same_length(path, where, "avoid_when", text.avoid_when, own)
    if bool(text.when) != bool(english.dosage.when):
        raise LibraryError(path, f"{where} 'when'", "is required: the English dosage says when" if english.dosage.when
                           else "is not a field here: the English dosage has no 'when'")
    if lies_on_the_back(text.position, poses) != english.supine:
        raise LibraryError(path, f"{where} 'position'", "must begin as its English does: with the words for "
                           "lying on the back (\"Acostada boca arriba\") exactly when the English begins "
                           "\"Lying on your back\"")


def page_library(english: Library, language: str, number: str, conditions: dict[str, ConditionText] | None = None,
                 exercises: dict[str, ExerciseText] | None = None) -> Library:
    """The library as a page in `language` shows it: each entry translated where `conditions` or
    `exercises` has its text, in English otherwise, with the warning signs in `language`."""
    signs = signs_for(language, number)
    conditions, exercises = conditions or {}, exercises or {}
    return Library(
        english.poses,
        {slug: page_condition(c, signs, number, conditions.get(slug)) for slug, c in english.conditions.items()},
        {slug: page_exercise(e, signs, number, exercises.get(slug)) for slug, e in english.exercises.items()},
        english.etag if language == "en" else f"{english.etag}-{language}", english.figure)


def _exercise_field(raw: dict[str, Any], field: str) -> str:
    """How a refusal names a field of an exercise file: "exercise 'glute-bridge' field 'name'"."""
    head, _, rest = field.partition("].")
    items = raw.get("exercise")
    if head.startswith("exercise[") and head[9:].isdigit() and isinstance(items, list) and int(head[9:]) < len(items):
        item = items[int(head[9:])]
        slug = item.get("slug") if isinstance(item, dict) else None
        return f"exercise '{slug or '#' + str(int(head[9:]) + 1)}' field '{rest}'"
    return f"file field '{field}'"


def translate_library(root: Path, english: Library, number: str,
                      load: Callable[[Path], dict[str, Any]]) -> dict[str, Library]:
    """The library as a page in each language of LANGUAGES shows it, from the translation files under
    `root`; LibraryError names the first file that breaks a rule."""
    out: dict[str, Library] = {}
    english_files = {path.name: path for path in (root / "exercises").glob("*.toml") if language_of(path) is None}
    for language in LANGUAGES:
        condition_texts: dict[str, ConditionText] = {}
        for path in sorted((root / "conditions").glob(f"*.{language}.toml")):
            text = _decode(path, load(path), ConditionText, "condition")
            slug = path.name.split(".")[0]
            if text.slug != slug or slug not in english.conditions:
                raise LibraryError(path, "condition field 'slug'", f"must be '{slug}', the slug of the entry "
                                   f"conditions/{slug}.toml it translates")
            _check_condition(path, text, english.conditions[slug])
            condition_texts[slug] = text
        exercise_texts: dict[str, ExerciseText] = {}
        for path in sorted((root / "exercises").glob(f"*.{language}.toml")):
            theme = f"{path.name.split('.')[0]}.toml"
            raw = load(path)
            try:
                decoded = msgspec.convert(raw, ExerciseTextFile).exercise
            except msgspec.ValidationError as exc:
                field, rule = explain(exc, ExerciseTextFile, raw)
                raise LibraryError(path, _exercise_field(raw, field), rule) from None
            theirs = {e["slug"] for e in load(english_files[theme]).get("exercise", [])} if theme in english_files \
                else set()
            for text in decoded:
                if text.slug not in theirs or text.slug in exercise_texts:
                    raise LibraryError(path, f"exercise '{text.slug}' field 'slug'", f"must be an exercise of "
                                       f"exercises/{theme}, translated once")
                exercise = english.exercises[text.slug]
                _check_exercise(path, text, exercise, [f.pose for f in exercise.demo])
                exercise_texts[text.slug] = text
        out[language] = page_library(english, language, number, condition_texts, exercise_texts)
    return out
