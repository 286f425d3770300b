"""A line chart of scores over time, drawn on the server as SVG (no script, no style).

The therapist's patient page shows two kinds: a questionnaire's scores across the plan
with the baseline and the band of no important change around it (one minimal important
change either side), and an exercise's pain ratings with the high-pain line of the flag
rule. The picture is never the only way in: the SVG has a title and a description
(`role="img"`, `aria-labelledby`), and `Chart.rows` is the same data for a table beside
it. Colours and strokes are SVG presentation attributes, which the page's CSP allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 480, 220
"""The drawing's own units; the SVG scales to its container's width (the page keeps that
near its own size, so 14 units of text read at about 10 to 15 px from a phone to a laptop)."""
FONT = 14
LEFT, RIGHT, TOP, BOTTOM = 40, 14, 14, 34
"""Room for the axis labels."""
LINE = "#1f5f8b"
BAND = "#d9ead3"
BASELINE = "#4f7a3a"
THRESHOLD = "#a33a2a"
GRID = "#d0d4da"
INK = "#333"


@dataclass(frozen=True)
class Row:
    """One point as the table beside the chart reads it."""

    when: str
    """The day (YYYY-MM-DD, clinic time)."""
    value: str
    note: str
    """What the point means against the baseline, or empty."""


@dataclass(frozen=True)
class Chart:
    """A drawn chart and its data: `svg` is safe to place in a page as is."""

    chart_id: str
    title: str
    description: str
    svg: Markup
    rows: tuple[Row, ...]


def _number(value: float) -> str:
    return f"{value:g}"


def _day(ts: int, tz: tzinfo) -> str:
    return datetime.fromtimestamp(ts, tz).date().isoformat()


def line_chart(*, chart_id: str, title: str, points: Sequence[tuple[int, float]],
               low: float, high: float, tz: tzinfo, baseline: float | None = None,
               band: tuple[float, float] | None = None, threshold: float | None = None,
               threshold_label: str = "", notes: Sequence[str] = ()) -> Chart:
    """A chart of `points` (unix time, value), oldest first, on the scale `low`–`high`.

    `baseline` draws a dashed line at that value, `band` shades the values within the
    minimal important change of it, `threshold` draws a line such as the high-pain one.
    `notes` (one per point, optional) go into the table's last column. `chart_id` must be
    unique on the page (it names the title and description elements)."""
    if high <= low:
        raise ValueError("the scale's high must be above its low")
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    times = [t for t, _ in points]
    first, last = (min(times), max(times)) if times else (0, 1)
    span = max(last - first, 1)

    def x(ts: int) -> float:
        return LEFT + (plot_w / 2 if len(points) == 1 else (ts - first) / span * plot_w)

    def y(value: float) -> float:
        clipped = min(max(value, low), high)
        return TOP + (high - clipped) / (high - low) * plot_h

    title_id, desc_id = f"{chart_id}-title", f"{chart_id}-desc"
    description = _describe(points, low, high, baseline, band, threshold, threshold_label, tz)
    parts = [f'<svg class="trend-chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" '
             f'role="img" aria-labelledby="{escape(title_id)} {escape(desc_id)}" '
             f'xmlns="http://www.w3.org/2000/svg">',
             f'<title id="{escape(title_id)}">{escape(title)}</title>',
             f'<desc id="{escape(desc_id)}">{escape(description)}</desc>']
    if band is not None:
        top, bottom = y(max(band)), y(min(band))
        parts.append(f'<rect x="{LEFT}" y="{top:.1f}" width="{plot_w}" '
                     f'height="{max(bottom - top, 1):.1f}" fill="{BAND}"/>')
    for value in (low, (low + high) / 2, high):
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(value):.1f}" '
                     f'y2="{y(value):.1f}" stroke="{GRID}" stroke-width="1"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end" '
                     f'font-size="{FONT}" fill="{INK}">{escape(_number(value))}</text>')
    if baseline is not None:
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(baseline):.1f}" '
                     f'y2="{y(baseline):.1f}" stroke="{BASELINE}" stroke-width="2" '
                     f'stroke-dasharray="6 4"/>')
    if threshold is not None:
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(threshold):.1f}" '
                     f'y2="{y(threshold):.1f}" stroke="{THRESHOLD}" stroke-width="1.5" '
                     f'stroke-dasharray="2 3"/>')
    if len(points) > 1:
        path = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{LINE}" '
                     f'stroke-width="2.5"/>')
    for t, v in points:
        parts.append(f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="4" fill="{LINE}"/>')
    if points:
        for ts, anchor in ((first, "start"), (last, "end")) if len(points) > 1 else (
                (first, "middle"),):
            parts.append(f'<text x="{x(ts):.1f}" y="{HEIGHT - 10}" text-anchor="{anchor}" '
                         f'font-size="{FONT}" fill="{INK}">{escape(_day(ts, tz))}</text>')
    parts.append("</svg>")
    rows = tuple(Row(_day(t, tz), _number(v), notes[i] if i < len(notes) else "")
                 for i, (t, v) in enumerate(points))
    return Chart(chart_id, title, description, Markup("".join(parts)), rows)


def _describe(points: Sequence[tuple[int, float]], low: float, high: float,
              baseline: float | None, band: tuple[float, float] | None,
              threshold: float | None, threshold_label: str, tz: tzinfo) -> str:
    """The chart in one paragraph, for a screen reader."""
    if not points:
        return f"No scores yet (scale {_number(low)} to {_number(high)})."
    said = [f"{len(points)} point{'s' if len(points) != 1 else ''} from "
            f"{_day(points[0][0], tz)} to {_day(points[-1][0], tz)} on a scale of "
            f"{_number(low)} to {_number(high)}; first {_number(points[0][1])}, "
            f"latest {_number(points[-1][1])}."]
    if baseline is not None:
        said.append(f"Dashed line: the baseline, {_number(baseline)}.")
    if band is not None:
        said.append(f"Shaded band: no important change, {_number(min(band))} to "
                    f"{_number(max(band))}.")
    if threshold is not None:
        said.append(f"Dotted line: {threshold_label or 'threshold'}, {_number(threshold)}.")
    return " ".join(said)
