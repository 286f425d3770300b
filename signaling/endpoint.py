"""The WebSocket endpoint `/visits/{visit_id}/ws`: checks, then one loop per connection.

Before the upgrade: the Origin must be the public URL's and the authenticator (given by
the server, which owns cookies and links) must name a seat. After it: every text frame is
rate-limited, validated and handed to the router; whatever the room answers comes back,
whenever it comes, through the connection's sink (a bounded send queue). A ping, or a
relay whose receiver's socket is in this process, is handled as aiohttp parses it, without
waking the socket's reader task (`_at_once`, `signaling/inline_frames.py`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from functools import partial
from typing import Any, Awaitable, Callable, Protocol

from aiohttp import WSMsgType, web

from signaling.bus import Delivery
from signaling.closes import (
    CLOSE_GOING_AWAY,
    CLOSE_NORMAL,
    CLOSE_POLICY,
    CLOSE_RECONNECT,
)
from signaling.masking import ServerWebSocket
from signaling.protocol import RELAYED, ProtocolError, encode, error, parse_message
from signaling.rate import TokenBucket
from signaling.router import Router, Sink
from signaling.seat import Seat
from signaling.sink import SocketSink
from signaling.upgraded import release_http_side

log = logging.getLogger(__name__)

_CLOSED = (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED)
"""What `receive` returns once the socket is closing or closed (the end of the loop)."""

# Frames above the protocol limit but below this get an `error`; larger ones close the socket.
HARD_FRAME_LIMIT = 256 * 1024


class SeatRefused(Exception):
    """Authentication failed; answered with an HTTP error before the upgrade."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


Authenticator = Callable[[web.Request], Awaitable[Seat]]
WelcomeExtra = Callable[[Seat], dict[str, Any]]


class SeatSink(Sink, Protocol):
    """A socket's sink as the server shapes it for one seat (`signaling.turn_grant`)."""

    def stop(self) -> None:
        """The socket closed: nothing more is sent on its own initiative."""


SinkFor = Callable[[Seat, Sink], SeatSink]


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


class _Connection:
    """Per-socket state the read loop and the heartbeat share."""

    __slots__ = ("ws", "last_seen")

    def __init__(self, ws: web.WebSocketResponse, now: float) -> None:
        self.ws = ws
        self.last_seen = now


def _log_open(seat: Seat, conn: str) -> None:
    # Logged from here, not from the handler: the logger looks up its caller's frame, and
    # the frame object that makes for a coroutine stays as long as the coroutine (the
    # handler's lives as long as its socket).
    log.info("socket open visit=%s participant=%s conn=%s", seat.visit_id, seat.participant_id,
             conn)


def _json_refusal(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def _draining() -> web.Response:
    response = _json_refusal(503, "restarting", "This server is restarting; connect again.")
    response.headers["Retry-After"] = "0"
    return response


class SignalingEndpoint:
    """Serves the visit WebSocket for one application."""

    def __init__(self, router: Router, authenticate: Authenticator,
                 settings: EndpointSettings, welcome_extra: WelcomeExtra | None = None,
                 sink_for: SinkFor | None = None) -> None:
        self.router = router
        self.authenticate = authenticate
        self.settings = settings
        self.welcome_extra = welcome_extra or (lambda seat: {})
        self.sink_for = sink_for
        """Wraps each socket's sink for its seat (TURN credentials follow admission)."""
        self._open: dict[str, _Connection] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._heartbeat: asyncio.Task[None] | None = None
        self.draining = False
        """The process is stopping: new sockets are refused (503: the client tries again
        and lands on another process) and open ones are closed with "reconnect now"."""

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
                    self._spawn_close(state.ws, CLOSE_GOING_AWAY)
                elif idle >= interval:
                    try:
                        await state.ws.ping()
                    except (ConnectionError, RuntimeError):
                        self._spawn_close(state.ws, CLOSE_GOING_AWAY)

    def _spawn_close(self, ws: web.WebSocketResponse, code: int) -> None:
        self._track(asyncio.ensure_future(ws.close(code=code)))

    def _track(self, task: asyncio.Task[None]) -> None:
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The aiohttp handler for GET /visits/{visit_id}/ws."""
        if request.headers.get("Origin") != self.settings.allowed_origin:
            return _json_refusal(403, "bad_origin", "This socket only serves the clinic's own pages.")
        if self.draining:
            return _draining()
        try:
            seat = await self.authenticate(request)
        except SeatRefused as refused:
            return _json_refusal(refused.status, refused.code, refused.message)
        if self.draining:
            return _draining()
        ws = ServerWebSocket(autoping=False, max_msg_size=HARD_FRAME_LIMIT, compress=False)
        if not ws.can_prepare(request).ok:
            return _json_refusal(400, "not_websocket", "Open this address as a WebSocket.")
        await ws.prepare(request)
        release_http_side(request, ws)
        if self.draining:  # began to stop while this socket was opened
            await ws.close(code=CLOSE_RECONNECT, message=b"reconnect")
            return ws
        conn = self.router.new_conn_id()
        state = _Connection(ws, asyncio.get_running_loop().time())
        sink: Sink = SocketSink(ws, conn, on_close=self._track)
        shaped = self.sink_for(seat, sink) if self.sink_for is not None else None
        self.router.attach(conn, shaped or sink)
        self._open[conn] = state
        if self._heartbeat is None:
            self._heartbeat = asyncio.ensure_future(self._beat())
        _log_open(seat, conn)
        # Read in a task of its own, started before the join: whatever the room answers,
        # and whenever (a denial may close the socket at once), the reader is there to
        # see the socket close. Waking it for each frame then resumes a short chain of
        # coroutines, not the handler's middlewares as well.
        reader = asyncio.ensure_future(self._read(ws, seat, conn, state, sink))
        try:
            await self.router.join(seat, conn, {
                "heartbeat_s": self.settings.heartbeat_seconds, **self.welcome_extra(seat)})
            await reader
        finally:
            reader.cancel()
            try:
                await self.router.leave(seat, conn)
            finally:
                self._open.pop(conn, None)  # (after the leave: a drain waits for it)
                self.router.detach(conn)
                if shaped is not None:
                    shaped.stop()
            log.info("socket closed visit=%s conn=%s code=%s", seat.visit_id, conn, ws.close_code)
        return ws

    async def _read(self, ws: ServerWebSocket, seat: Seat, conn: str, state: _Connection,
                    sink: Sink) -> None:
        loop = asyncio.get_running_loop()
        bucket = TokenBucket(self.settings.flood_rate, self.settings.flood_burst, loop.time())
        inline = ws.inline
        if inline is not None:
            inline.take = partial(self._at_once, seat, conn, state, bucket, sink, loop.time)
        try:
            while True:
                if inline is not None:
                    # Parked with nothing queued: frames that need no await are handled as they
                    # come (with one queued, those after it wait behind it).
                    inline.idle = not inline._buffer
                frame = await ws.receive()
                if inline is not None:
                    inline.idle = False
                if frame.type in _CLOSED:
                    return
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
                refused_type: dict[str, str] = {}
                try:
                    message = parse_message(frame.data, seat.role)
                    refused_type = {"re": message.type}  # an error names what it refuses
                    if message.type == "ping":
                        await ws.send_str(encode({"type": "pong", "t": message["t"]}))
                    elif message.type == "bye":
                        await ws.close(code=CLOSE_NORMAL)
                        return
                    else:
                        await self.router.inbound(seat, conn, message)
                except ProtocolError as exc:
                    if not ws.closed:
                        await ws.send_str(encode(error(exc.code, exc.message, **refused_type)))
        finally:
            if inline is not None:  # (a reader cancelled or done: nothing more inline)
                inline.idle, inline.take = False, None

    def _at_once(self, seat: Seat, conn: str, state: _Connection, bucket: TokenBucket,
                 sink: Sink, clock: Callable[[], float], text: str) -> bool:
        """Handle a text frame as it is parsed, when nothing about it awaits: a ping, or a
        relay whose receiver's socket is in this process. False leaves the frame (not yet
        counted against the flood limit) to the reader task: everything else, a frame
        refused (its error is sent from there), a flood, a socket already closing."""
        if state.ws.closed:
            return False  # the reader task sees it closed and leaves the room
        try:
            message = parse_message(text, seat.role)
            if message.type in RELAYED:
                found = self.router.relay_target(seat, conn, message)
                if found is None:
                    return False
                target, out = found
            elif message.type == "ping":
                target, out = sink, encode({"type": "pong", "t": message["t"]})
            else:
                return False
        except ProtocolError:
            return False
        except Exception:  # the reader task meets it again, and it ends the socket as before
            log.exception("frame left to the reader visit=%s conn=%s", seat.visit_id, conn)
            return False
        state.last_seen = now = clock()
        if not bucket.take(now):  # (an empty bucket is not charged: the reader takes again)
            return False
        try:
            target.deliver(Delivery(out))
        except Exception:  # not relayed twice: it counted, and may be partly written
            log.exception("relay failed visit=%s conn=%s", seat.visit_id, conn)
        return True

    def refuse_new(self) -> None:
        """Answer new sockets 503 from now on (the process is stopping)."""
        self.draining = True

    async def close_all(self, timeout: float = 3.0) -> None:
        """Close every open socket with "reconnect now" and wait (bounded) until each
        handler has let its room know."""
        self.draining = True
        closing = [asyncio.ensure_future(state.ws.close(code=CLOSE_RECONNECT, message=b"reconnect"))
                   for state in list(self._open.values()) if not state.ws.closed]
        for task in closing:
            self._track(task)  # (one still going when time is up is cancelled at close)
        if closing:
            await asyncio.wait(closing, timeout=timeout)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._open and loop.time() < deadline:
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        """Stop the heartbeat and pending closes (server shutdown)."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        for task in list(self._closing):
            task.cancel()
