"""Which event loop the server runs on: uvloop by default, asyncio's own when asked.

uvloop is installed with Visitroom where the platform has it (an environment marker in
pyproject.toml); `serve` and each of its workers run on it unless `VISITROOM_LOOP=asyncio`
(for comparing the two, or debugging with asyncio's debug mode). Where uvloop is missing,
the default falls back to asyncio's loop without complaint; asking for it by name then fails.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping

from server.runtime.config import ConfigError

LOOP_VARIABLE = "VISITROOM_LOOP"
LOOPS = ("uvloop", "asyncio")


def choose_loop(environ: Mapping[str, str] | None = None) -> str:
    """Set the event loop policy `VISITROOM_LOOP` asks for and return the loop's name.

    Unset or empty means uvloop where installed, else asyncio; an unknown name, or
    `uvloop` asked for by name where it is not installed, raises ConfigError.
    """
    environ = os.environ if environ is None else environ
    asked = environ.get(LOOP_VARIABLE, "").strip().lower()
    if asked and asked not in LOOPS:
        raise ConfigError(f"{LOOP_VARIABLE} must be one of {', '.join(LOOPS)}, not {asked!r}")
    if asked == "asyncio":
        asyncio.set_event_loop_policy(None)
        return "asyncio"
    try:
        import uvloop
    except ImportError:
        if asked == "uvloop":
            raise ConfigError(f"{LOOP_VARIABLE}=uvloop but uvloop is not installed") from None
        asyncio.set_event_loop_policy(None)
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"
