"""A socket's outbound side: a bounded send queue that never makes its caller wait.

Rooms and relays hand deliveries to a sink without awaiting the network. While the
socket keeps up, a delivery is written at once (the transport's buffer has room, so the
write cannot block); otherwise it joins a queue that a writer task drains. A socket that
falls `max_queued` deliveries behind is closed with `CLOSE_TOO_SLOW`, instead of being
waited on while a room's lock is held.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Callable

from aiohttp import web

from signaling.bus import Delivery
from signaling.closes import CLOSE_TOO_SLOW
from signaling.protocol import encode

log = logging.getLogger(__name__)

MAX_QUEUED = 256
"""Deliveries a socket may fall behind before it is closed: a whole call's negotiation
(offers, answers, a few dozen candidates) fits many times over."""


class SocketSink:
    """Where deliveries to one connection go."""

    __slots__ = ("ws", "conn", "max_queued", "queue", "closing", "_writer", "_on_close")

    def __init__(self, ws: web.WebSocketResponse, conn: str, *, max_queued: int = MAX_QUEUED,
                 on_close: Callable[[asyncio.Task[None]], None] | None = None) -> None:
        self.ws = ws
        self.conn = conn
        self.max_queued = max_queued
        self.queue: deque[Delivery] | None = None
        """Deliveries waiting for the writer task; None while there are none (an empty deque
        keeps a 64-slot block: 760 bytes on each of thousands of idle sockets)."""
        self.closing: int | None = None
        """The close code once a delivery asked to close (nothing more is sent)."""
        self._writer: asyncio.Task[None] | None = None
        self._on_close = on_close

    def deliver(self, delivery: Delivery) -> None:
        """Send a delivery, now or in order after the ones queued; never waits."""
        if self.closing is not None or self.ws.closed:
            return
        queue = self.queue
        if not queue and self._writer is None and delivery.close_code is None \
                and self._has_room():
            try:
                # The transport's buffer is below its high-water mark: this write returns
                # without suspending, so it needs no task of its own.
                self._send_now(delivery)
                return
            except (ConnectionError, RuntimeError):
                return
        if queue is None:
            queue = self.queue = deque()
        elif len(queue) >= self.max_queued:
            log.warning("socket too slow, closing conn=%s", self.conn)
            self.queue = None
            self._close(CLOSE_TOO_SLOW)
            return
        queue.append(delivery)
        if self._writer is None:
            self._writer = asyncio.ensure_future(self._drain())

    def _has_room(self) -> bool:
        transport = self.ws._writer.transport if self.ws._writer else None  # noqa: SLF001
        if transport is None or transport.is_closing():
            return False
        return transport.get_write_buffer_size() < transport.get_write_buffer_limits()[1]

    def _send_now(self, delivery: Delivery) -> None:
        message = delivery.message
        text = message if isinstance(message, str) else encode(message)
        # send_str writes the frame to the transport first and only then may wait for the
        # buffer to drain; with room in the buffer it finishes at the first step. Should
        # this very write cross the high-water mark, the frame is already buffered: the
        # wait is skipped here, and later deliveries queue behind until the buffer drains.
        step = self.ws.send_str(text).__await__()
        try:
            next(step)
        except StopIteration:
            return
        step.close()

    async def _drain(self) -> None:
        try:
            while self.queue:
                delivery = self.queue.popleft()
                message = delivery.message
                try:
                    await self.ws.send_str(message if isinstance(message, str) else encode(message))
                except (ConnectionError, RuntimeError):
                    self.queue = None
                    return
                if delivery.close_code is not None:
                    self.queue = None
                    self._close(delivery.close_code)
                    return
        finally:
            self._writer = None
            if not self.queue:
                self.queue = None

    def _close(self, code: int) -> None:
        self.closing = code
        task = asyncio.ensure_future(self.ws.close(code=code))
        if self._on_close is not None:
            self._on_close(task)
