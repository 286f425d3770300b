"""The WebSocket endpoint `/visits/{visit_id}/ws`: checks, then one loop per connection.

Before the upgrade: the Origin must be the public URL's and the authenticator (given by
the server, which owns cookies and links) must name a seat. After it: every text frame is
rate-limited, validated and passed to the room; the room's answers come back through the
bus on the connection's own channel.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from aiohttp import WSMsgType, web

from signaling.bus import Bus, Delivery
from signaling.protocol import RELAYED, ProtocolError, encode, error, parse_message
from signaling.room import Seat
from signaling.rooms import RoomRegistry

log = logging.getLogger(__name__)

# Frames above the protocol limit but below this get an `error`; larger ones close the socket.
HARD_FRAME_LIMIT = 256 * 1024
CLOSE_POLICY = 1008


class SeatRefused(Exception):
    """Authentication failed; answered with an HTTP error before the upgrade."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


Authenticator = Callable[[web.Request], Awaitable[Seat]]
WelcomeExtra = Callable[[Seat], dict[str, Any]]


@dataclass(frozen=True)
class EndpointSettings:
    """Limits of the WebSocket endpoint."""

    allowed_origin: str
    """The only Origin accepted (scheme://host[:port] of the public URL)."""
    heartbeat_seconds: float = 20.0
    """A socket quiet this long is pinged; one silent for 1.5 times this is dropped."""
    flood_rate: float = 50.0
    """Messages per second a connection may send, sustained."""
    flood_burst: float = 100.0
    """Messages a connection may send at once before the rate applies."""


class TokenBucket:
    """Allows `burst` messages at once and `rate` per second after that."""

    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst, self.tokens, self.stamp = rate, burst, burst, now

    def take(self, now: float) -> bool:
        """Spend one token at `now` (a monotonic clock); False when the bucket is empty."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


class _Connection:
    """Per-socket state the deliverer, the read loop and the heartbeat share."""

    __slots__ = ("ws", "reading", "close_code", "last_seen")

    def __init__(self, ws: web.WebSocketResponse, now: float) -> None:
        self.ws = ws
        self.reading = False
        self.close_code: int | None = None
        self.last_seen = now


def _json_refusal(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


class SignalingEndpoint:
    """Serves the visit WebSocket for one application."""

    def __init__(self, registry: RoomRegistry, bus: Bus, authenticate: Authenticator,
                 settings: EndpointSettings, welcome_extra: WelcomeExtra | None = None) -> None:
        self.registry = registry
        self.bus = bus
        self.authenticate = authenticate
        self.settings = settings
        self.welcome_extra = welcome_extra or (lambda seat: {})
        self._open: dict[str, _Connection] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._heartbeat: asyncio.Task[None] | None = None

    @property
    def connections(self) -> int:
        """Open sockets."""
        return len(self._open)

    async def _beat(self) -> None:
        # One sweep for every socket instead of a timer per socket: ping the quiet ones,
        # drop those that stayed silent (no frame, not even a pong) for 1.5 intervals.
        # Sweeping every quarter interval puts at least one sweep, so one ping, between.
        interval = self.settings.heartbeat_seconds
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(interval / 4)
            now = loop.time()
            for state in list(self._open.values()):
                idle = now - state.last_seen
                if state.ws.closed:
                    continue
                if idle > 1.5 * interval:
                    self._spawn_close(state.ws, 1001)
                elif idle >= interval:
                    try:
                        await state.ws.ping()
                    except (ConnectionError, RuntimeError):
                        self._spawn_close(state.ws, 1001)

    def _spawn_close(self, ws: web.WebSocketResponse, code: int) -> None:
        task = asyncio.ensure_future(ws.close(code=code))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The aiohttp handler for GET /visits/{visit_id}/ws."""
        if request.headers.get("Origin") != self.settings.allowed_origin:
            return _json_refusal(403, "bad_origin", "This socket only serves the clinic's own pages.")
        try:
            seat = await self.authenticate(request)
        except SeatRefused as refused:
            return _json_refusal(refused.status, refused.code, refused.message)
        ws = web.WebSocketResponse(autoping=False, max_msg_size=HARD_FRAME_LIMIT, compress=False)
        if not ws.can_prepare(request).ok:
            return _json_refusal(400, "not_websocket", "Open this address as a WebSocket.")
        await ws.prepare(request)
        conn = "c_" + secrets.token_urlsafe(9)
        state = _Connection(ws, asyncio.get_running_loop().time())
        subscription = self.bus.subscribe(conn, self._deliverer(state))
        self._open[conn] = state
        if self._heartbeat is None:
            self._heartbeat = asyncio.ensure_future(self._beat())
        log.info("socket open visit=%s participant=%s conn=%s", seat.visit_id,
                 seat.participant_id, conn)
        try:
            await self.registry.join(seat, conn, {
                "heartbeat_s": self.settings.heartbeat_seconds, **self.welcome_extra(seat)})
            if state.close_code is not None:
                # The room turned the connection away while seating it (ended, denied).
                await ws.close(code=state.close_code)
            else:
                state.reading = True
                # Read in a task of its own: waking it for each frame then resumes a
                # short chain of coroutines, not the handler's middlewares as well.
                await asyncio.ensure_future(self._read(ws, seat, conn, state))
        finally:
            subscription.cancel()
            self._open.pop(conn, None)
            await self.registry.leave(seat, conn)
            log.info("socket closed visit=%s conn=%s code=%s", seat.visit_id, conn, ws.close_code)
        return ws

    @staticmethod
    async def _write(state: _Connection, text: str) -> bool:
        """Send a text frame unless the socket is closing; False when nothing was sent."""
        if state.ws.closed or state.close_code is not None:
            return False
        try:
            await state.ws.send_str(text)
        except (ConnectionError, RuntimeError):
            return False
        return True

    def _deliverer(self, state: "_Connection") -> Callable[[Delivery], Awaitable[None]]:
        ws = state.ws

        async def deliver(delivery: Delivery) -> None:
            message = delivery.message
            if not await self._write(state, message if isinstance(message, str) else encode(message)):
                return
            if delivery.close_code is not None:
                state.close_code = delivery.close_code
                if state.reading:
                    # Closing waits for the peer's answer; never hold up the room for it.
                    self._spawn_close(ws, delivery.close_code)
        return deliver

    async def _read(self, ws: web.WebSocketResponse, seat: Seat, conn: str, state: _Connection) -> None:
        loop = asyncio.get_running_loop()
        bucket = TokenBucket(self.settings.flood_rate, self.settings.flood_burst, loop.time())
        async for frame in ws:
            state.last_seen = now = loop.time()
            if frame.type == WSMsgType.PONG:
                continue
            if frame.type == WSMsgType.PING:
                await ws.pong(frame.data)
                continue
            if not bucket.take(now):
                log.warning("flood visit=%s conn=%s", seat.visit_id, conn)
                await ws.send_str(encode(error("flood", "Too many messages; closing.")))
                await ws.close(code=CLOSE_POLICY, message=b"flood")
                return
            if frame.type == WSMsgType.BINARY:
                await ws.send_str(encode(error("binary_refused", "Send JSON text frames only.")))
                continue
            if frame.type != WSMsgType.TEXT:
                continue
            try:
                message = parse_message(frame.data, seat.role)
                if message.type in RELAYED:
                    channel, text = self.registry.route(seat, conn, message)
                    target = self._open.get(channel)
                    if target is None:
                        await self.bus.publish(channel, Delivery(text))
                    else:  # the peer's socket is in this process: write to it, skipping the bus
                        await self._write(target, text)
                elif message.type == "ping":
                    await ws.send_str(encode({"type": "pong", "t": message["t"]}))
                elif message.type == "bye":
                    await ws.close(code=1000)
                    return
                else:
                    await self.registry.handle(seat, conn, message)
            except ProtocolError as exc:
                if not ws.closed:
                    await ws.send_str(encode(error(exc.code, exc.message)))

    async def close(self) -> None:
        """Stop the heartbeat and pending closes (server shutdown)."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        for task in list(self._closing):
            task.cancel()
