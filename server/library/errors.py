"""A content refusal in words: the file, the field's path, and the rule the field breaks.

msgspec says where a value fails (`at $.sources[0].url`) and which constraint; the schema
says what the constraint means. `explain` puts the two together, so every refusal reads like
`conditions/coccydynia.toml: condition field 'sources[0].url': must be an https:// address`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import msgspec
import msgspec.inspect as mi

from server.library.fields import FieldProblem

ROOT = Path(__file__).resolve().parent.parent.parent
_AT = re.compile(r"(?P<message>.*?)(?: - at `key` in `\$(?P<key_path>[^`]*)`| - at `\$(?P<path>[^`]*)`)?", re.S)
_PART = re.compile(r"\.([^.\[]+)|\[(\d+|\.\.\.)\]")
_SOME_KEY = "..."
"""msgspec's word for a key of a table whose names are free (figure.toml's props, views)."""


class LibraryError(ValueError):
    """A content file is wrong; the message names the file and the field."""

    def __init__(self, path: Path, where: str, message: str) -> None:
        try:
            shown = path.relative_to(ROOT)
        except ValueError:
            shown = path
        super().__init__(f"{shown}: {where}: {message}")


def _unwrap(kind: Any) -> tuple[Any, str]:
    description = ""
    while isinstance(kind, mi.Metadata):
        description = description or (kind.extra_json_schema or {}).get("description", "")
        kind = kind.type
    return kind, description


def _table(kind: Any) -> Any:
    kind, _ = _unwrap(kind)
    if isinstance(kind, mi.UnionType):  # a name or a table: the table is what has parts
        kind = next((k for k in kind.types if not isinstance(_unwrap(k)[0], mi.StrType)), kind)
        kind, _ = _unwrap(kind)
    return kind


def _step(kind: Any, part: str | int) -> Any:
    kind = _table(kind)
    if isinstance(kind, mi.StructType) and isinstance(part, str):
        return next((f.type for f in kind.fields if f.encode_name == part), None)
    if isinstance(kind, mi.DictType):
        return kind.value_type
    if isinstance(kind, (mi.ListType, mi.VarTupleType)):
        return kind.item_type
    if isinstance(kind, mi.TupleType) and isinstance(part, int) and part < len(kind.item_types):
        return kind.item_types[part]
    return None


def _range(kind: Any) -> str:
    if kind.ge is not None and kind.le is not None:
        return f" between {kind.ge:g} and {kind.le:g}"
    bounds = [f"{words} {value:g}" for words, value in (("at least", kind.ge), ("above", kind.gt),
                                                         ("at most", kind.le), ("below", kind.lt))
              if value is not None]
    return " " + " and ".join(bounds) if bounds else ""


def describe(kind: Any) -> str:
    """What a value of this schema type is, as a noun phrase ('a whole number between 1 and 10')."""
    kind, description = _unwrap(kind)
    if description:
        return description
    if isinstance(kind, mi.StrType):
        return f"text of at most {kind.max_length} characters" if kind.max_length else "text"
    if isinstance(kind, mi.BoolType):
        return "true or false"
    if isinstance(kind, mi.IntType):
        return "a whole number" + _range(kind)
    if isinstance(kind, mi.FloatType):
        return "a number" + _range(kind)
    if isinstance(kind, mi.UnionType):
        numbers = [_unwrap(k)[0] for k in kind.types]
        if all(isinstance(k, (mi.IntType, mi.FloatType)) for k in numbers):
            return "a number" + _range(numbers[-1])
        return " or ".join(describe(k) for k in kind.types)
    if isinstance(kind, mi.LiteralType):
        return "one of " + ", ".join(str(v) for v in kind.values if v != "")
    if isinstance(kind, mi.TupleType):
        return f"a list of {len(kind.item_types)} items, each {describe(kind.item_types[0])}"
    if isinstance(kind, (mi.ListType, mi.VarTupleType)):
        least = f"at least {kind.min_length} " if kind.min_length else ""
        return f"a list of {least}item(s), each {describe(kind.item_type)}"
    if isinstance(kind, mi.StructType):
        return "a table of " + ", ".join(f.encode_name for f in kind.fields)
    if isinstance(kind, mi.DictType):
        return f"a table of {describe(kind.value_type)}"
    return "valid"


def _path(parts: list[str | int]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts).lstrip(".")


def _blame_key(schema: Any, raw: Any, parts: list[str | int], refusal: str) -> str:
    """The key of a free-named table that msgspec's path shows as `[...]`: the one entry that,
    alone in that table, is refused the same way."""
    at = parts.index(_SOME_KEY)
    table = raw
    for part in parts[:at]:
        table = table[part]

    def alone(key: str, value: Any, node: Any, depth: int) -> Any:
        if depth == at:
            return {key: value}
        return ({**node, parts[depth]: alone(key, value, node[parts[depth]], depth + 1)} if isinstance(node, dict)
                else [alone(key, value, v, depth + 1) if i == parts[depth] else v for i, v in enumerate(node)])

    for key, value in table.items():
        try:
            msgspec.convert(alone(key, value, raw, 0), schema)
        except msgspec.ValidationError as exc:
            if str(exc) == refusal:
                return key
    return _SOME_KEY


def explain(exc: msgspec.ValidationError, schema: Any, raw: Any = None) -> tuple[str, str]:
    """(the field's path, like 'sources[0].url', and the rule it breaks) for a refusal of `schema`;
    `raw`, the data refused, lets a key of a free-named table be named."""
    found = _AT.fullmatch(str(exc))
    assert found is not None  # the pattern matches any text
    message, key_path, at = found["message"], found["key_path"], found["path"]
    parts: list[str | int] = [int(i) if i.isdigit() else (i or name)
                              for name, i in _PART.findall(key_path or at or "")]
    while _SOME_KEY in parts and raw is not None:
        try:
            key = _blame_key(schema, raw, parts, str(exc))
        except (KeyError, IndexError, TypeError, AttributeError):
            break
        if key == _SOME_KEY:
            break
        parts[parts.index(_SOME_KEY)] = key
    kind: Any = mi.type_info(schema)
    for part in parts:
        kind = _step(kind, part) if kind is not None else None
    cause = exc.__cause__
    if isinstance(cause, FieldProblem):
        own = [int(i) if i else name for name, i in _PART.findall("." + cause.field)]
        return _path(parts + own), str(cause)
    if isinstance(cause, ValueError):
        return _path(parts), str(cause)
    unknown = re.fullmatch(r"Object contains unknown field `(.*)`", message)
    if unknown:
        table = _table(kind)
        known = ", ".join(f.encode_name for f in getattr(table, "fields", ()))
        return _path(parts + [unknown[1]]), f"is not a field here (known: {known})"
    missing = re.fullmatch(r"Object missing required field `(.*)`", message)
    if missing:
        return _path(parts + [missing[1]]), f"is required: {describe(_step(kind, missing[1]))}"
    if key_path is not None:
        table, _ = _unwrap(kind)
        bad = re.search(r"'(.*)'", message)
        name = f"'{bad[1]}' " if bad else ""
        return _path(parts), f"{name}is not allowed here: the names must be {describe(table.key_type)}"
    if kind is None:
        return _path(parts), message
    return _path(parts), f"must be {describe(kind)}"
