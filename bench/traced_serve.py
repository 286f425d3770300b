"""`run.py serve` with tracemalloc on, for the soak's memory hunt.

    python -m bench.traced_serve FOLDER serve --db ... --port ...

Every SIGUSR1 runs a full garbage collection, then writes a snapshot of the traced
allocations to FOLDER/<n>.snapshot (under a temporary name, then renamed, so a reader never
sees half a file) and what the collection found to FOLDER/<n>.gc. What grows between two
snapshots is then held by something, not garbage waiting for the collector; the .gc file
tells how much garbage there was. Taking one pauses the server for a moment; this is for
finding growth, not for timing.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import re
import signal
import sys
import tracemalloc
from pathlib import Path
from types import FrameType

from server.runtime.cli import main

FRAMES = 12
"""Stack depth kept per allocation: enough to see which of our lines asked for it."""


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def allocator_figures(folder: Path) -> dict[str, int]:
    """What glibc's malloc and Python's small-object allocator hold, in KiB.

    tracemalloc sees only blocks Python asked for; memory the allocators keep (free pieces
    between live ones, arenas of other threads) and what C libraries allocate themselves
    shows here instead.
    """
    figures: dict[str, int] = {"python_blocks": sys.getallocatedblocks()}
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
        info = libc.mallinfo2()
        figures.update(malloc_heap_kib=info.arena // 1024, malloc_mmap_kib=info.hblkhd // 1024,
                       malloc_in_use_kib=info.uordblks // 1024,
                       malloc_free_kib=info.fordblks // 1024)
    except (OSError, AttributeError):
        pass
    # sys._debugmallocstats writes to the C stderr: catch it in a file for a moment.
    stats = folder / "mallocstats.txt"
    saved = os.dup(2)
    with open(stats, "w") as out:
        os.dup2(out.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    text = stats.read_text()
    for label, key in (("arenas allocated current", "pymalloc_arenas"),
                       ("Total", "pymalloc_total_bytes")):
        match = re.search(rf"# {label}\s*=\s*([\d,]+)" if label != "Total" else
                          r"Total\s*=\s*([\d,]+)", text)
        if match:
            figures[key] = int(match.group(1).replace(",", ""))
    return figures


def serve_traced(folder: Path, argv: list[str]) -> int:
    """Run the command line with tracemalloc on and snapshots on SIGUSR1."""
    folder.mkdir(parents=True, exist_ok=True)
    taken = 0

    def snapshot(_signum: int, _frame: FrameType | None) -> None:
        nonlocal taken
        taken += 1
        target = folder / f"{taken}.snapshot"
        pending = gc.get_count()
        collected = gc.collect()
        (folder / f"{taken}.gc").write_text(json.dumps({
            "collected": collected, "pending_before": pending,
            "garbage": len(gc.garbage), "frozen": gc.get_freeze_count(),
            **allocator_figures(folder)}))
        partial = target.with_suffix(".partial")
        tracemalloc.take_snapshot().dump(str(partial))
        os.replace(partial, target)

    tracemalloc.start(FRAMES)
    signal.signal(signal.SIGUSR1, snapshot)
    return main(argv)


if __name__ == "__main__":
    sys.exit(serve_traced(Path(sys.argv[1]), sys.argv[2:]))
