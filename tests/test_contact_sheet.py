"""The contact sheet: one command draws every exercise's keyframes, one PNG per condition."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

from server.library.loader import load_library

ROOT = Path(__file__).resolve().parent.parent
SHEETS = ROOT / "tests" / "artifacts" / "demos"


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", head[16:24])


def test_the_contact_sheet_command_draws_a_sheet_per_condition():
    library = load_library()
    for old in SHEETS.glob("*.png"):
        old.unlink()
    result = subprocess.run([sys.executable, "-m", "bench.contact_sheet"], cwd=ROOT, capture_output=True,
                            text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr
    for condition in library.conditions.values():
        sheet = SHEETS / f"{condition.slug}.png"
        assert sheet.exists(), condition.slug
        width, height = _png_size(sheet)
        # A title and at least one row of drawings per exercise, and real drawings, not blank cells.
        assert width >= 1200 and height >= 150 * len(condition.exercises), condition.slug
        assert sheet.stat().st_size > 20_000 * len(condition.exercises) ** 0.5, condition.slug


def test_the_contact_sheet_refuses_an_unknown_exercise():
    result = subprocess.run([sys.executable, "-m", "bench.contact_sheet", "--only", "handstand"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2 and "no such exercise: handstand" in result.stderr
