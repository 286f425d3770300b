"""The field types the library's content is declared with, and the base of every content table.

Each content file is decoded into msgspec Structs built from these types, so a rule a field
keeps (non-empty text, a slug, an https address, a range) is written once, here, and the
refusal reads it back in words (`server/library/errors.py`).
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from signaling.ids import SLUG_MAX_LENGTH
from signaling.ids import SLUG_PATTERN as _SLUG

SLUG_PATTERN = f"^{_SLUG}$"


def text(max_len: int) -> Meta:
    """Non-empty text of at most `max_len` characters (runs of white space read as one space)."""
    return Meta(min_length=1, max_length=max_len, pattern=r"\S",
                description=f"non-empty text of at most {max_len} characters")


DOSE_LIMITS: dict[str, tuple[int, int]] = {
    "sets": (1, 10), "reps": (1, 50), "hold_seconds": (0, 120), "per_day": (0, 10),
    "per_week": (0, 7)}
"""Whole-number ranges of a dosage: the library's defaults, a home program's assignments
(the API and the call page's form)."""


def between(low: float, high: float) -> Meta:
    """A number from `low` to `high`, both included."""
    return Meta(ge=low, le=high)


Slug = Annotated[str, Meta(pattern=SLUG_PATTERN, max_length=SLUG_MAX_LENGTH,
                           description="a lowercase slug like 'glute-bridge'")]
HttpsUrl = Annotated[str, Meta(max_length=500, pattern=r"^https://[^\s/]+\.\S+$",
                               description="an https:// address")]
Item = Annotated[str, text(600)]
"""One entry of a list of steps, cues, mistakes, warnings."""
Prose = Annotated[str, text(4000)]
"""A paragraph of a condition page."""
Angle = Annotated[int, between(-360, 360)] | Annotated[float, between(-360, 360)]
"""Degrees; a whole number stays one in what the browser gets."""


class FieldProblem(ValueError):
    """A rule across fields of one table, raised from `__post_init__`; names the field it blames."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class Content(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A table of a content file: unknown fields are refused, and text is tidied once decoded."""

    def __post_init__(self) -> None:
        # Text may be wrapped over several lines in TOML; it reads as one paragraph.
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if isinstance(value, str):
                msgspec.structs.force_setattr(self, name, " ".join(value.split()))
            elif isinstance(value, tuple) and value and isinstance(value[0], str):
                msgspec.structs.force_setattr(
                    self, name, tuple(" ".join(v.split()) if isinstance(v, str) else v for v in value))
