"""Text frames handled as aiohttp parses them, without waking the socket's reader task.

aiohttp's frame reader puts each message it parses into the socket's queue, and the
reader task (`SignalingEndpoint._read`) wakes up to take it: a future resolved, a task
scheduled, and a chain of coroutines resumed, for every relayed offer or candidate. Most
frames need none of that: a relay whose receiver is in this process, or a ping, is
answered by writing to a socket, which never waits. `InlineFrames` stands in for the
socket's queue and offers each text frame to `take` first, while the reader task is
parked with nothing queued (so frames are still handled in the order they came); what
`take` declines (joins, chat, anything that awaits, any error to report) is queued for
the reader task as before.

This reaches into aiohttp as `signaling/masking.py` does (the queue class, the frame
reader that holds it, the request handler's `_payload_parser`); when a version lacks
them, `install` returns None and every frame goes through the reader task.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType

try:
    from aiohttp._websocket.reader import WebSocketDataQueue, WebSocketReader
except ImportError:  # another aiohttp layout: frames go through the reader task
    WebSocketDataQueue = WebSocketReader = None

log = logging.getLogger(__name__)

Take = Callable[[str], bool]
"""Handles one text frame now (True), or declines it to the reader task (False)."""


if WebSocketDataQueue is not None:
    class InlineFrames(WebSocketDataQueue):  # type: ignore[misc, valid-type]
        """A socket's message queue that offers text frames to `take` before queueing."""

        __slots__ = ("idle", "take")

        def __init__(self, protocol: Any, limit: int, *, loop: Any) -> None:
            super().__init__(protocol, limit, loop=loop)
            self.take: Take | None = None
            self.idle = False
            """The reader task waits for a frame (it sets this around each wait)."""

        def feed_data(self, data: Any, size: int) -> None:
            """A frame parsed: handled now by `take`, or queued for the reader task."""
            take = self.take
            if take is not None and self.idle and data.type is WSMsgType.TEXT \
                    and not self._buffer and take(data.data):
                return
            self.idle = False  # queued: whatever follows it waits behind it
            super().feed_data(data, size)
else:  # pragma: no cover - only with an aiohttp that lacks the queue
    InlineFrames = None


def install(ws: Any, request: Any) -> Any | None:
    """Give a just-prepared server socket an `InlineFrames` queue (and a frame reader
    feeding it); returns the queue, or None when this aiohttp version does not allow it."""
    handler = request.protocol
    needed = ("_reader", "_parser", "_max_msg_size", "_compress", "_loop")
    if InlineFrames is None or not all(hasattr(ws, name) for name in needed) \
            or not hasattr(handler, "_payload_parser"):
        return None
    # The same flow-control limit as the queue it replaces (reading pauses when that much
    # is queued and unread).
    limit = getattr(ws._reader, "_limit", 2 ** 17) // 2
    queue = InlineFrames(request._protocol, limit, loop=ws._loop)
    options = {"compress": bool(ws._compress)}
    if hasattr(ws, "_decode_text"):
        options["decode_text"] = ws._decode_text
    try:
        parser = WebSocketReader(queue, ws._max_msg_size, **options)
    except TypeError:
        return None
    ws._reader, ws._parser = queue, parser
    handler._payload_parser = parser
    return queue
