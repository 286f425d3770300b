"""Loaded by every Python process started with this folder on PYTHONPATH (a benchmark's
server and its workers): when VISITROOM_BENCH_LOOPWATCH names a folder, watch the event
loop (bench/loop_watch.py). Nothing else is changed."""

import os

if os.environ.get("VISITROOM_BENCH_LOOPWATCH"):
    from pathlib import Path

    from bench.loop_watch import install

    install(Path(os.environ["VISITROOM_BENCH_LOOPWATCH"]))
