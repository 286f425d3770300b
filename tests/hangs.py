"""What a test that ran out of time was waiting for.

pytest-timeout (its limits are in pyproject.toml) stops a test that runs too long by
raising in the main thread when SIGALRM fires. A test of this suite mostly waits inside an
event loop, where that exception only shows the loop's `select`: so, for the `signal`
method, this hook arms the alarm itself and the failure lists every task of the running
loop with the chain of awaits it is suspended in (the test's own, and the product's tasks
it waits for). The alarm then fires again after `GRACE_SECONDS` for as long as the test
item runs, so a teardown that hangs in turn (a task that ignores its cancel) is stopped too.
`tests/conftest.py` exposes the hook.
"""

from __future__ import annotations

import asyncio
import linecache
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
import pytest_timeout

ROOT = Path(__file__).resolve().parent.parent
GRACE_SECONDS = 30.0
"""After a time-out, how long what follows (the loop's cancelled tasks, fixtures' teardown)
may take before it is interrupted as well."""
DEPTH = 40
"""Awaits followed down one task's chain at most."""


def awaited(loop: asyncio.AbstractEventLoop) -> str:
    """Every task of `loop`, each with the awaits it is suspended in, outermost first."""
    lines: list[str] = []
    for task in sorted(asyncio.all_tasks(loop), key=lambda t: t.get_name()):
        state = "cancelling" if task.cancelling() else "pending"
        lines.append(f"task {task.get_name()} ({state}):")
        lines.extend(f"  {where}" for where in _chain(task.get_coro()))
    return "\n".join(lines)


def _chain(awaitable: Any) -> list[str]:
    found: list[str] = []
    for _ in range(DEPTH):
        frame: FrameType | None = (getattr(awaitable, "cr_frame", None)
                                   or getattr(awaitable, "gi_frame", None)
                                   or getattr(awaitable, "ag_frame", None))
        if frame is None:
            if type(awaitable).__name__ == "FutureIter":  # a Future's: it hides the Future
                found.append("awaits a future")
            elif awaitable is not None:
                found.append(f"awaits {awaitable!r}")
            break
        found.append(_where(frame))
        awaitable = (getattr(awaitable, "cr_await", None)
                     or getattr(awaitable, "gi_yieldfrom", None)
                     or getattr(awaitable, "ag_await", None))
    return found


def _where(frame: FrameType) -> str:
    path = Path(frame.f_code.co_filename)
    name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    line = linecache.getline(str(path), frame.f_lineno).strip()
    return f"{name}:{frame.f_lineno} {frame.f_code.co_name}: {line}"


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> bool | None:
    """Arm the alarm for the `signal` method (other methods: pytest-timeout's own)."""
    if settings.method != "signal" or threading.current_thread() is not threading.main_thread():
        return None
    fired = 0

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        nonlocal fired
        __tracebackhide__ = True
        if not settings.disable_debugger_detection and pytest_timeout.is_debugging():
            return
        fired += 1
        signal.setitimer(signal.ITIMER_REAL, GRACE_SECONDS)
        pytest_timeout.dump_stacks(item.config.get_terminal_writer())  # other threads, if any
        what = (f"more than {settings.timeout:g} s" if fired == 1 else
                f"still running {GRACE_SECONDS * (fired - 1):g} s after its time-out")
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # a test without an event loop: its traceback says where
            loop = None
        waiting = f"; its event loop's tasks wait at:\n{awaited(loop)}" if loop else ""
        pytest.fail(f"Timeout: {what} (pytest-timeout){waiting}", pytrace=loop is None)

    def cancel() -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)

    item.cancel_timeout = cancel  # type: ignore[attr-defined]  # pytest-timeout calls it
    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, settings.timeout)
    return True
