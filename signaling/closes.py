"""WebSocket close codes the server sends, in one place (the browser's copy in
web/js/signaling.js is checked against this module by a test)."""

from __future__ import annotations

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
"""A silent socket dropped by the heartbeat."""
CLOSE_POLICY = 1008
"""Flooding: too many messages."""
CLOSE_TOO_BIG = 1009
CLOSE_RECONNECT = 1012
"""The server is restarting or handing the room to another process: reconnect now."""
CLOSE_TRY_LATER = 1013
"""The room could not be reached (the bus between processes is down): reconnect with
the usual backoff."""
CLOSE_ENDED = 4000
CLOSE_REPLACED = 4001
"""A newer socket of the same participant took over."""
CLOSE_DENIED = 4003
CLOSE_REVOKED = 4004
CLOSE_TOO_SLOW = 4008
"""The socket fell too far behind its deliveries; it may reconnect."""

FINAL = frozenset({CLOSE_POLICY, CLOSE_ENDED, CLOSE_REPLACED, CLOSE_DENIED, CLOSE_REVOKED})
"""After these a client must not reconnect by itself: the visit is over for this socket."""
