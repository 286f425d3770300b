"""Citation markers in a condition's text: the rule that every figure, duration or timing names
the source that states it, and how a page shows the marker.

A marker is the key of one of the entry's sources in square brackets, right after the claim:
"about 3 in 100 vaginal births [rcog-gtg29]"; several keys are separated by semicolons
("[nice-ng59; nhs-back-pain]"). The loader refuses a sentence that holds a figure and no
marker, and a marker naming a key the entry does not have.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

KEY = r"[a-z0-9]+(?:-[a-z0-9]+)*"
MARKER = re.compile(rf"\s*\[({KEY}(?:;\s*{KEY})*)\]")
"""A citation marker and the white space before it."""
FIGURE = re.compile(
    r"\d"
    r"|\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|sixty"
    r"|seventy|eighty|ninety|hundreds?|thousands?|half|halves|quarters?|dozens?)\b"
    r"|\ba (?:third|fifth|tenth)\b(?!-)"
    r"|(?<!same )\b(?:hours?|days?|weeks?|months?|years?)\b",
    re.IGNORECASE)
"""What makes a sentence state a figure, a duration or a timing: a digit, a number word (not
'one', which reads as 'a'), a fraction, or a unit of time ('the same day' is an urgency, not a
timing a source must state)."""
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")


def sentences(text: str) -> list[str]:
    """The sentences of a paragraph (split after . ! ? where a capital follows)."""
    return [s for s in SENTENCE_END.split(text) if s.strip()]


def cited_keys(text: str) -> list[str]:
    """Every source key a text cites, in order, with repeats."""
    return [key.strip() for group in MARKER.findall(text) for key in group.split(";")]


def uncited_figures(text: str) -> list[str]:
    """The sentences of `text` that state a figure, duration or timing but cite no source."""
    return [s for s in sentences(text) if FIGURE.search(MARKER.sub("", s)) and not MARKER.search(s)]


def without_markers(text: str) -> str:
    """The text with its citation markers taken out, for a summary or a plain-text reader."""
    return MARKER.sub("", text)


def with_citations(text: str, keys: Sequence[str],
                   label: Callable[[int], str] = "source {}".format) -> Markup:
    """HTML of `text` with each marker shown as numbered links to the source list (`#source-N`,
    N the 1-based place of the key in `keys`), each named `label(N)` for screen readers (in
    the page's language); the rest of the text escaped."""
    number = {key: i for i, key in enumerate(keys, 1)}
    out: list[str] = []
    last = 0
    for match in MARKER.finditer(text):
        out.append(str(escape(text[last:match.start()])))
        cited = [number[k] for k in (key.strip() for key in match.group(1).split(";")) if k in number]
        links = ",".join(f'<a href="#source-{n}" aria-label="{escape(label(n))}">{n}</a>'
                         for n in cited)
        out.append(f'<sup class="cite">{links}</sup>' if links else "")
        last = match.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))
