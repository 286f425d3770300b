"""WCAG 2.x contrast: relative luminance and the contrast ratio, and the check a clinic's
accent colour passes before it is saved.

The accent is used three ways in `web/css/app.css`: as the background of buttons under
white text (`--accent-ink`), and as the colour of links and secondary buttons' text on the
page (`--paper`) and on cards and tables (`--card`). Each must reach AA for normal text
(4.5:1); `tests/test_clinic_settings.py` checks that these colours are app.css's tokens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
"""An accent as the admin enters it and the theme stylesheet writes it: `#rrggbb`."""
AA_NORMAL_TEXT = 4.5
"""WCAG 2.x success criterion 1.4.3 (AA) for text under 18 pt (14 pt bold)."""
ACCENT_PAIRS: tuple[tuple[str, str], ...] = (
    ("white text on buttons", "#ffffff"),
    ("links on the page background", "#f6f7f9"),
    ("links on cards", "#ffffff"),
)
"""What the accent meets on a page: (where, the other colour: app.css `--accent-ink`,
`--paper`, `--card`)."""


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(colour: str) -> float:
    """WCAG 2.x relative luminance of `#rrggbb` (0 black, 1 white). The sRGB threshold is
    IEC 61966-2-1's 0.04045 (WCAG 2.1 printed 0.03928; no 8-bit value falls between)."""
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_ratio(first: str, second: str) -> float:
    """(L1 + 0.05) / (L2 + 0.05), the lighter colour's luminance over the darker's: 1 to 21."""
    a, b = relative_luminance(first), relative_luminance(second)
    lighter, darker = max(a, b), min(a, b)
    return (lighter + 0.05) / (darker + 0.05)


@dataclass(frozen=True)
class AccentProblem:
    """Why an accent colour was refused: the worst pair it makes on a page."""

    where: str
    ratio: float
    needed: float = AA_NORMAL_TEXT

    def message(self) -> str:
        """In the admin's words, with the ratio found and the one needed."""
        return (f"This accent colour is too light for {self.where}: its contrast is "
                f"{self.ratio:.2f}:1 and needs at least {self.needed:g}:1 (WCAG AA). "
                "Choose a darker colour.")


def accent_problem(accent: str) -> AccentProblem | None:
    """None when `accent` (`#rrggbb`) reaches AA in every use on a page; else its worst."""
    worst = min((contrast_ratio(accent, other), where) for where, other in ACCENT_PAIRS)
    # Compared unrounded: a colour shown as 4.50:1 but just under it is still refused.
    return None if worst[0] >= AA_NORMAL_TEXT else AccentProblem(worst[1], worst[0])
