"""A Python participant built on aiortc: opens a visit link as a browser does and joins the call.

`VisitClient` follows the redirect and keeps the visit cookie, joins the WebSocket with the
page's Origin, waits or admits, negotiates with each admitted peer (perfect negotiation:
the therapist is impolite, a polite bot that meets a colliding offer starts its peer
connection again, since aiortc cannot roll back), and reports when ICE is connected,
frames have arrived and a data-channel message made a round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from html import unescape
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiortc import RTCDataChannel
from aiortc.mediastreams import MediaStreamTrack

from signaling.bot.figures import CallFigures
from signaling.bot.loops import count_frames, time_round_trips
from signaling.bot.peer import PeerLink
from signaling.closes import FINAL as FINAL_CLOSE_CODES

log = logging.getLogger(__name__)

RECONNECT_SECONDS = 30.0
"""How long a dropped visit socket is tried again before the bot gives up."""


class VisitClientError(Exception):
    """The visit could not be joined or the call did not complete; the text is for people."""


def _page_problem(html: str) -> str:
    title = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S)
    text = re.search(r"<p[^>]*>(.*?)</p>", html, re.S)
    parts = [unescape(re.sub(r"<[^>]+>", "", m.group(1))).strip() for m in (title, text) if m]
    return ": ".join(p for p in parts if p) or "the link did not open"


class VisitClient:
    """Joins a visit from its link and runs one call."""

    def __init__(self, link: str, *, admit: bool = False, media: str = "synthetic",
                 relay: bool = False, session: aiohttp.ClientSession | None = None) -> None:
        """`relay` uses TURN relay candidates only, whatever the server's policy says."""
        self.link = link
        self.admit = admit
        self.media = media
        self.relay = relay
        self.loss = 0.0
        """Share of media and data datagrams dropped each way once ICE is up (0 to 1): a
        weak network on the bot's side, which may change during a call (tests, benches)."""
        parts = urlsplit(link)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self._session = session
        self._own_session = session is None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.ice_servers: list[dict[str, Any]] = []
        self.ice_transport_policy = "relay" if relay else "all"
        self.peers: dict[str, PeerLink] = {}
        self.figures = CallFigures()
        self.status = ""
        self.messages: list[dict[str, Any]] = []
        """Every message received, in order (for tests and diagnostics)."""
        self.data: list[dict[str, Any]] = []
        """Every data-channel message received from peers, in order (e.g. `video-step`)."""
        self.close_code: int | None = None
        """The code the server sent when it last closed the socket (read from its close
        frame: the socket's own close_code says 1006 when the server drops the
        connection before the answer to its close frame is written)."""
        self.done = asyncio.Event()
        self._admitted_sent: set[str] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._owned_tracks: list[MediaStreamTrack] = []
        self._channels: list[RTCDataChannel] = []
        self._opened = 0.0
        self._ended: str | None = None

    # -- plumbing --------------------------------------------------------------------------

    def _elapsed_ms(self) -> float:
        return (time.perf_counter() - self._opened) * 1000

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _check_done(self) -> None:
        if self.figures.complete:
            self.done.set()

    async def send(self, message: dict[str, Any]) -> None:
        """Send one signaling message."""
        if self.ws is not None and not self.ws.closed:
            await self.ws.send_str(json.dumps(message))

    # -- joining ---------------------------------------------------------------------------

    async def open_link(self) -> str:
        """Open the link like a browser: follow the redirect, keep the cookie. Returns the visit id."""
        if self._session is None:
            self._session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        try:
            async with self._session.get(self.link) as response:
                body = await response.text()
                if response.status != 200:
                    raise VisitClientError(f"The link did not open ({response.status}): {_page_problem(body)}")
                match = re.fullmatch(r"/visits/([^/]+)", response.url.path)
                if response.url.path == "/login":
                    raise VisitClientError("This therapist link needs the therapist's staff "
                                           "sign-in, which the bot cannot do.")
                if not match:
                    raise VisitClientError("The link did not lead to a visit page.")
                return match.group(1)
        except aiohttp.ClientError as exc:
            raise VisitClientError(f"Could not reach the server: {exc}") from None

    async def connect(self) -> None:
        """Open the link and the visit's WebSocket."""
        visit_id = await self.open_link()
        self.figures.visit_id = visit_id
        assert self._session is not None
        try:
            self.ws = await self._session.ws_connect(f"{self.origin}/visits/{visit_id}/ws",
                                                     origin=self.origin, heartbeat=None)
        except aiohttp.WSServerHandshakeError as exc:
            raise VisitClientError(f"The visit socket refused the connection ({exc.status}).") from None
        self._opened = time.perf_counter()

    async def run(self, *, timeout: float = 30.0, stay: float = 0.0) -> CallFigures:
        """Join and run the call until it is complete (then stay `stay` seconds)."""
        try:
            await self.connect()
            reader = asyncio.ensure_future(self._read())
            self._tasks.add(reader)  # close() stops it, even when run() itself is cancelled
            reader.add_done_callback(self._tasks.discard)
            waiter = asyncio.ensure_future(self.done.wait())
            finished, _ = await asyncio.wait({reader, waiter}, timeout=timeout,
                                             return_when=asyncio.FIRST_COMPLETED)
            if waiter not in finished:
                waiter.cancel()
                if reader in finished and reader.exception() is not None:
                    raise reader.exception()  # type: ignore[misc]
                if self._ended:
                    raise VisitClientError(self._ended)
                raise VisitClientError(self._timeout_reason(timeout))
            if stay > 0:
                await asyncio.wait({reader}, timeout=stay)
            reader.cancel()
            return self.figures
        finally:
            await self.close()

    def _timeout_reason(self, timeout: float) -> str:
        if self.status == "waiting":
            return f"Still waiting to be admitted after {timeout:g} s."
        if not self.peers:
            return f"Nobody else joined within {timeout:g} s."
        missing = [name for name, value in (("ICE connection", self.figures.connected_ms),
                                            ("video", self.figures.first_frame_ms),
                                            ("audio", self.figures.first_audio_ms),
                                            ("data round trip", self.figures.rtt_ms)) if value is None]
        return f"The call was incomplete after {timeout:g} s (missing: {', '.join(missing)})."

    async def close(self) -> None:
        """Leave: close peers, tracks, socket and session."""
        for task in list(self._tasks):
            task.cancel()
        for peer in list(self.peers.values()):
            await peer.close()
        for track in self._owned_tracks:
            track.stop()
        if self.ws is not None and not self.ws.closed:
            with contextlib.suppress(Exception):
                await self.ws.send_str(json.dumps({"type": "bye"}))
            await self.ws.close()
        if self._own_session and self._session is not None:
            await self._session.close()

    # -- signaling -------------------------------------------------------------------------

    async def _read(self) -> None:
        while True:
            assert self.ws is not None
            while True:
                frame = await self.ws.receive()
                if frame.type == aiohttp.WSMsgType.CLOSE:
                    self.close_code = int(frame.data)
                    break
                if frame.type in (aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED,
                                  aiohttp.WSMsgType.ERROR):
                    self.close_code = self.ws.close_code
                    break
                if frame.type != aiohttp.WSMsgType.TEXT:
                    continue
                message = json.loads(frame.data)
                self.messages.append(message)
                await self._on_message(message)
            if (self._ended is not None or self.close_code in FINAL_CLOSE_CODES
                    or not await self._reconnect()):
                break
        if not self.done.is_set() and self._ended is None:
            self._ended = f"The server closed the visit socket (code {self.close_code})."

    async def _reconnect(self) -> bool:
        """The socket dropped while the visit goes on (a server restart, a network change):
        open it again with the visit cookie, backing off, for up to RECONNECT_SECONDS.
        The welcome that follows makes every peer connection start afresh."""
        assert self._session is not None and self.figures.visit_id
        deadline = time.monotonic() + RECONNECT_SECONDS
        delay = 0.1
        while time.monotonic() < deadline:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
            try:
                self.ws = await self._session.ws_connect(
                    f"{self.origin}/visits/{self.figures.visit_id}/ws", origin=self.origin,
                    heartbeat=None)
            except aiohttp.WSServerHandshakeError as exc:
                if exc.status in (401, 403, 404):  # the link no longer opens the visit
                    return False
            except (aiohttp.ClientError, OSError):
                continue
            else:
                self.figures.reconnects += 1
                log.info("visit socket reopened visit=%s", self.figures.visit_id)
                return True
        return False

    async def _on_message(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "welcome":
            you = message["you"]
            self.figures.role, self.figures.participant_id = you["role"], you["id"]
            # STUN only while waiting: the TURN server comes with admission.
            self.ice_servers = message.get("ice_servers", [])
            relay = self.relay or message.get("ice_transport_policy") == "relay"
            self.ice_transport_policy = "relay" if relay else "all"
            if relay and not message.get("turn"):
                raise VisitClientError("Relay only, but the server offers no TURN server "
                                       "(its VISITROOM_TURN_URL and VISITROOM_TURN_SECRET).")
            self.status = message["status"]
            for peer in message["peers"]:
                await self._meet(peer)
        elif kind == "waiting":
            self.status = "waiting"
        elif kind == "ice":
            # A renewed TURN credential: peer connections made from now on use it (aiortc
            # has no setConfiguration; the allocations already made stay).
            self.ice_servers = message["ice_servers"]
        elif kind == "lobby" and self.admit:
            for waiting in message["waiting"]:
                if waiting["id"] not in self._admitted_sent:
                    self._admitted_sent.add(waiting["id"])
                    await self.send({"type": "admit", "participant": waiting["id"]})
        elif kind == "admitted":
            self.status = "admitted"
            self.ice_servers = message.get("ice_servers", self.ice_servers)
            for peer in message["peers"]:
                await self._meet(peer)
        elif kind == "peer-joined":
            await self._meet(message["peer"])
        elif kind == "peer-left":
            peer = self.peers.pop(message["peer"], None)
            if peer is not None:
                await peer.close()
        elif kind in ("offer", "answer", "candidate", "restart"):
            await self._negotiate(message)
        elif kind == "denied":
            self._ended = "The therapist did not admit this participant."
        elif kind == "visit-ended":
            self._ended = f"The visit ended ({message.get('reason')})."
        elif kind == "bye":
            self._ended = f"The server closed this connection ({message.get('reason')})."
        elif kind == "error":
            log.warning("signaling error %s: %s", message.get("code"), message.get("message"))

    async def _meet(self, peer: dict[str, Any]) -> None:
        old = self.peers.pop(peer["id"], None)
        if old is not None:
            await old.close()
        link = PeerLink(self, peer["id"], bool(peer["polite"]))
        self.peers[peer["id"]] = link
        self.figures.peers.append(peer["id"])
        if not link.polite:
            await link.offer()

    async def _negotiate(self, message: dict[str, Any]) -> None:
        sender = message.get("from", "")
        link = self.peers.get(sender)
        if link is None:
            return
        kind = message["type"]
        if kind == "offer":
            await link.on_offer(message["sdp"])
        elif kind == "answer":
            await link.on_answer(message["sdp"])
        elif kind == "candidate":
            await link.on_candidate(message.get("candidate"))
        elif kind == "restart":
            await link.restart()

    # -- media and data --------------------------------------------------------------------

    async def _consume(self, track: MediaStreamTrack) -> None:
        await count_frames(track, lambda kind: self._on_frame(kind, track.id))

    def _on_frame(self, kind: str, track_id: str = "") -> None:
        if kind == "video":
            self.figures.video_frames += 1
            self.figures.video_tracks[track_id] = self.figures.video_tracks.get(track_id, 0) + 1
            if self.figures.first_frame_ms is None:
                self.figures.first_frame_ms = self._elapsed_ms()
        else:
            self.figures.audio_frames += 1
            if self.figures.first_audio_ms is None:
                self.figures.first_audio_ms = self._elapsed_ms()
        self._check_done()

    def _wire_channel(self, channel: RTCDataChannel) -> None:
        self._channels.append(channel)
        time_round_trips(channel, self._on_data, self._on_rtt, answer_pings=True)

    def send_data(self, message: dict[str, Any]) -> None:
        """Send one message on the data channel of every peer connection that has it open."""
        for channel in self._channels:
            if channel.readyState == "open":
                channel.send(json.dumps(message))

    def _on_data(self, message: dict[str, Any]) -> None:
        self.figures.data_messages += 1
        if len(self.data) < 1000:
            self.data.append(message)

    def _on_rtt(self, rtt_ms: float) -> None:
        if self.figures.rtt_ms is None:
            self.figures.rtt_ms = rtt_ms
            self._check_done()


async def run_bot(link: str, *, admit: bool = False, media: str = "synthetic",
                  timeout: float = 30.0, stay: float = 0.0, relay: bool = False) -> CallFigures:
    """Join a visit from its link and complete one call; raise VisitClientError otherwise."""
    client = VisitClient(link, admit=admit, media=media, relay=relay)
    return await client.run(timeout=timeout, stay=stay)
