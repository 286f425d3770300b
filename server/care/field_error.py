"""The one shape of a refused input in care: which field, and a catalog message for it."""

from __future__ import annotations

from typing import Callable

from server.http.i18n import fill


class FieldError(ValueError):
    """Input that cannot be taken: `field` names it (`entries[2].pain`, `items.q3`),
    `message` is a message id for the catalog and `values` fill its `{placeholders}`."""

    def __init__(self, field: str, message: str, **values: object) -> None:
        super().__init__(f"{field}: {message.format(**values)}")
        self.field = field
        self.message = message
        self.values = values

    def text(self, translate: Callable[[str], str] = lambda m: m) -> str:
        """The message for the reader, translated by `translate` (English by default)."""
        return fill(translate, self.message, **self.values)
