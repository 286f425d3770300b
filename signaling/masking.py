"""A server WebSocket that closes the connection on an unmasked client frame.

RFC 6455 section 5.1: "a client MUST mask all frames that it sends to the server", and the
server "MUST close the connection upon receiving a frame that is not masked". aiohttp's
frame reader serves clients and servers alike and accepts either, with no setting for it.
`ServerWebSocket` puts `MaskedFramesOnly` in front of that reader: it walks the frame
headers of the incoming bytes (it never copies a payload) and, at the first unmasked
frame, hands the reader a protocol error (1002) instead of the bytes, so aiohttp fails
the connection as it does for any broken frame: a close frame with 1002, then the TCP
connection closed.

This reaches into aiohttp's request handler (`_payload_parser`, `_message_tail`) and the
socket's message queue (`_reader`); when a
version lacks them, sockets still open, without the check, and a warning says so once
(`tests/security/test_websocket.py` sends unmasked frames over a raw socket to notice).
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from aiohttp.http import WebSocketError, WSCloseCode

from signaling.inline_frames import install as install_inline_frames

log = logging.getLogger(__name__)

_MASK_BIT = 0x80
_LENGTH = 0x7F
_EXTENDED = {126: 2, 127: 8}
_MASK_KEY = 4
_warned = False


class MaskedFramesOnly:
    """Stands in for aiohttp's frame reader on a server socket: passes the bytes on while
    every frame header carries the mask bit; at the first that does not, fails the reader
    with a protocol error and passes nothing more."""

    __slots__ = ("_failed", "_head", "_payload_left", "_queue", "_reader")

    def __init__(self, reader: Any, queue: Any) -> None:
        self._reader = reader
        self._queue = queue
        """Where the reader puts messages (the socket's `receive` reads them)."""
        self._head = bytearray()
        """Header bytes of the frame being read, until its mask key is complete."""
        self._payload_left = 0
        self._failed = False

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        """Check `data`'s frame headers, then let the reader parse it."""
        if self._failed:
            return True, b""
        if not self._all_masked(data):
            self._failed = True
            self._queue.set_exception(
                WebSocketError(WSCloseCode.PROTOCOL_ERROR, "A client frame was not masked."))
            return True, b""
        result: tuple[bool, bytes] = self._reader.feed_data(data)
        return result

    def feed_eof(self) -> None:
        """The connection ended."""
        self._reader.feed_eof()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reader, name)

    def _all_masked(self, data: bytes) -> bool:
        at, end = 0, len(data)
        while at < end:
            if self._payload_left:
                step = min(self._payload_left, end - at)
                self._payload_left -= step
                at += step
                continue
            if not self._head and end - at >= 2:
                # A whole header in this chunk (the usual case): read it in one step.
                second = data[at + 1]
                if not second & _MASK_BIT:
                    return False
                extended = _EXTENDED.get(second & _LENGTH, 0)
                size = 2 + extended + _MASK_KEY
                if end - at >= size:
                    self._payload_left = (int.from_bytes(data[at + 2:at + 2 + extended], "big")
                                          if extended else second & _LENGTH)
                    at += size
                    continue
            self._head.append(data[at])
            at += 1
            head = self._head
            if len(head) < 2:
                continue
            if not head[1] & _MASK_BIT:
                return False
            extended = _EXTENDED.get(head[1] & _LENGTH, 0)
            if len(head) < 2 + extended + _MASK_KEY:
                continue
            self._payload_left = (int.from_bytes(head[2:2 + extended], "big") if extended
                                  else head[1] & _LENGTH)
            self._head = bytearray()
        return True


class ServerWebSocket(web.WebSocketResponse):
    """`web.WebSocketResponse` whose incoming frames must be masked, and whose text frames
    can be handled as they are parsed (`inline`: `signaling/inline_frames.py`)."""

    inline: Any = None
    """The socket's `InlineFrames` queue once prepared (None where aiohttp lacks it)."""

    def _post_start(self, request: Any, protocol: Any, writer: Any) -> None:
        handler = request.protocol
        if not (hasattr(handler, "_payload_parser") and hasattr(handler, "_message_tail")):
            _warn_once()
            super()._post_start(request, protocol, writer)
            return
        # Bytes that came with the handshake are handed to the reader as it starts: hold
        # them back until the check stands in front of it.
        early, handler._message_tail = handler._message_tail, b""
        super()._post_start(request, protocol, writer)
        self.inline = install_inline_frames(self, request)
        queue = getattr(self, "_reader", None)  # aiohttp's message queue of this socket
        if queue is None or not hasattr(queue, "set_exception"):
            _warn_once()
            parser = handler._payload_parser
        else:
            parser = handler._payload_parser = MaskedFramesOnly(handler._payload_parser, queue)
        if early and parser.feed_data(early)[0]:
            handler.close()


def _warn_once() -> None:
    global _warned
    if not _warned:
        _warned = True
        log.warning("this aiohttp version hides its frame reader: unmasked client frames "
                    "are not refused")
