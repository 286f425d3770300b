"""The pre-call connection check: a server-side aiortc peer that sends everything back.

A participant offers audio, video and a data channel; the echo peer returns her own media,
answers every data-channel message with the same bytes (so the page can time round trips),
and once a second sends `echo-stats` with the round trip and loss it sees. At most
`max_sessions` run at once; each ends by itself after `max_seconds`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # aiortc is imported on the first check, not at server start
    from aiortc import RTCDataChannel
    from aiortc.mediastreams import MediaStreamTrack

log = logging.getLogger(__name__)


class EchoBusy(Exception):
    """All echo sessions are in use."""


class EchoOfferError(ValueError):
    """The offer could not be used."""


def loss_figures(stats: dict[str, Any]) -> dict[str, Any]:
    """Round trip (ms) and loss (%) from an aiortc stats report."""
    lost = received = 0
    rtts = []
    for report in stats.values():
        kind = getattr(report, "type", "")
        if kind == "inbound-rtp":
            lost += max(0, getattr(report, "packetsLost", 0) or 0)
            received += getattr(report, "packetsReceived", 0) or 0
        elif kind == "remote-inbound-rtp":
            rtt = getattr(report, "roundTripTime", None)
            if rtt is not None:
                rtts.append(rtt * 1000)
    total = lost + received
    return {
        "rtt_ms": round(sum(rtts) / len(rtts), 1) if rtts else None,
        "packets_received": received,
        "packets_lost": lost,
        "loss_pct": round(100 * lost / total, 2) if total else None,
    }


class EchoSession:
    """One participant's check."""

    def __init__(self, pool: "EchoPool", session_id: str) -> None:
        from aiortc import RTCPeerConnection
        from aiortc.contrib.media import MediaRelay

        self.pool = pool
        self.id = session_id
        self.pc = RTCPeerConnection()
        self.relay = MediaRelay()
        self.channel: "RTCDataChannel | None" = None
        self.started = time.monotonic()
        self._tasks: list[asyncio.Task[Any]] = []

        @self.pc.on("track")
        def on_track(track: "MediaStreamTrack") -> None:
            self.pc.addTrack(self.relay.subscribe(track))

        @self.pc.on("datachannel")
        def on_datachannel(channel: "RTCDataChannel") -> None:
            self.channel = channel

            @channel.on("message")
            def on_message(message: Any) -> None:
                channel.send(message)

        @self.pc.on("connectionstatechange")
        async def on_state() -> None:
            if self.pc.connectionState in ("failed", "closed"):
                await self.pool.finish(self)

    async def answer(self, offer_sdp: str) -> str:
        """Take the participant's offer and return the answer SDP."""
        from aiortc import RTCSessionDescription

        if not offer_sdp.startswith("v=0") or "\nm=" not in offer_sdp:
            raise EchoOfferError("the offer has no media section")
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            await self.pc.setLocalDescription(await self.pc.createAnswer())
        except Exception as exc:  # aiortc raises several types for a bad SDP
            raise EchoOfferError(str(exc) or type(exc).__name__) from None
        self._tasks.append(asyncio.ensure_future(self._report()))
        self._tasks.append(asyncio.ensure_future(self._expire()))
        return self.pc.localDescription.sdp

    async def _report(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            if self.channel is not None and self.channel.readyState == "open":
                figures = loss_figures(await self.pc.getStats())
                self.channel.send(json.dumps({"type": "echo-stats", **figures}))

    async def _expire(self) -> None:
        await asyncio.sleep(self.pool.max_seconds)
        if self.channel is not None and self.channel.readyState == "open":
            self.channel.send(json.dumps({"type": "echo-ended", "reason": "time_limit"}))
        await self.pool.finish(self)

    async def close(self) -> None:
        """Stop reporting and close the connection."""
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        await self.pc.close()


class EchoPool:
    """Runs echo sessions within a limit."""

    def __init__(self, max_sessions: int = 4, max_seconds: float = 60.0) -> None:
        self.max_sessions = max_sessions
        self.max_seconds = max_seconds
        self.sessions: dict[str, EchoSession] = {}
        self._counter = 0

    async def start(self, offer_sdp: str) -> tuple[str, str]:
        """Start a session for this offer: (session id, answer SDP). EchoBusy when full."""
        if len(self.sessions) >= self.max_sessions:
            raise EchoBusy()
        self._counter += 1
        session = EchoSession(self, f"e{self._counter}")
        self.sessions[session.id] = session
        try:
            answer = await session.answer(offer_sdp)
        except BaseException:
            await self.finish(session)
            raise
        log.info("echo session %s started (%d running)", session.id, len(self.sessions))
        return session.id, answer

    async def finish(self, session: EchoSession) -> None:
        """End a session and free its place."""
        if self.sessions.pop(session.id, None) is not None:
            with contextlib.suppress(Exception):
                await session.close()
            log.info("echo session %s ended", session.id)

    async def close(self) -> None:
        """End every session (server shutdown)."""
        for session in list(self.sessions.values()):
            await self.finish(session)
