"""What a connection upgraded to a WebSocket no longer needs of its HTTP side, let go.

aiohttp serves a WebSocket as one long HTTP request: the request, its handler's coroutines
and the connection's HTTP machinery stay until the socket closes, and with ten thousand
idle sockets each KB one keeps is 10 MB (`bench.idle`). Some of it is read no more once
the upgrade is answered; in aiohttp's code (3.14) nothing reads these after an accepted
upgrade, so they are let go then (bytes a socket, measured on 1,000 sockets):

- the connection's HTTP parser (`RequestHandler._parser`), with the last request's header
  lists it still holds (2.2 KB): read only while the connection is not upgraded (aiohttp
  drops it itself when the connection closes);
- its queue of parsed requests (`_messages`, 1 KB): only the HTTP parser fills it, and an
  empty deque still holds a block of 64 slots; a shared one that keeps nothing takes its
  place (after the handler, aiohttp reads it only on a kept-alive connection, which an
  upgraded one is not);
- the request's parsed cookies, cached on the request (1.3 KB: the visit token a second
  time): read again, they would be parsed again;
- the 101 response's headers, written already (0.6 KB).

Like `signaling/masking.py`, this reaches into aiohttp's request handler and lets go only
of what this version has, where it finds it as described.
"""

from __future__ import annotations

from collections import deque
from typing import Any

_NO_MESSAGES: deque[Any] = deque(maxlen=0)
"""Stands for an upgraded connection's queue of parsed requests: it never holds one."""


def release_http_side(request: Any, response: Any) -> None:
    """Let go of what the upgraded connection of `request` keeps for HTTP and reads no more,
    once `response` (its WebSocket) is prepared."""
    handler = request.protocol
    # An accepted upgrade: aiohttp set the frame reader in the parser's place.
    if getattr(handler, "_upgraded", False) and getattr(handler, "_payload_parser", None) \
            is not None:
        if hasattr(handler, "_parser"):
            handler._parser = None
        if isinstance(getattr(handler, "_messages", None), deque) and not handler._messages:
            handler._messages = _NO_MESSAGES
    cache = getattr(request, "_cache", None)
    if isinstance(cache, dict):
        cache.pop("cookies", None)
    response.headers.clear()
