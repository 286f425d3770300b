"""The pre-call connection check: a server-side aiortc peer that sends everything back.

A participant offers audio, video and a data channel; the echo peer returns her own media,
answers every data-channel message with the same bytes (so the page can time round trips),
and once a second sends `echo-stats` with the round trip and loss it sees.

Limits keep one participant from holding the check for everyone: at most `max_sessions`
run at once and `per_visit` for one visit; a participant has one check at a time (a new
one replaces her old one); a check that has not connected within `connect_seconds` is
dropped, and every check ends after `max_seconds`. The peer uses only the configured STUN
servers (none by default) and tries only the candidates `trim_offer_candidates` keeps.

Its answer names none of the server's local addresses (`public_answer`): anyone with a
link may ask for one, and the server's private, loopback or link-local interfaces are
nobody's business. The browser still reaches the peer: the peer's checks to her candidates
make it a peer-reflexive candidate for her, and a global address stays listed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from signaling.ice import MAX_REMOTE_CANDIDATES, candidate_address_allowed, trim_offer_candidates

if TYPE_CHECKING:  # aiortc is imported on the first check, not at server start
    from aiortc import RTCDataChannel
    from aiortc.mediastreams import MediaStreamTrack

log = logging.getLogger(__name__)


class EchoBusy(Exception):
    """No place for this check: the server's (`scope` "server") or the visit's ("visit")."""

    def __init__(self, scope: str = "server") -> None:
        super().__init__(scope)
        self.scope = scope


@dataclass(frozen=True)
class EchoLimits:
    """How many checks run, for how long, and whom the echo peer talks to."""

    max_sessions: int = 4
    """Checks running at once on this server."""
    max_seconds: float = 60.0
    """Longest a check lasts."""
    connect_seconds: float = 10.0
    """A check not connected by then is dropped (an offer nobody can reach holds no place)."""
    per_visit: int = 2
    """Checks running at once for one visit."""
    stun_urls: tuple[str, ...] = ()
    """STUN servers the echo peer may ask for its public address; none by default."""
    loopback: bool = False
    """Every peer runs on this machine: only loopback candidates are tried."""
    max_candidates: int = MAX_REMOTE_CANDIDATES
    """Distinct remote addresses tried for one offer."""


class EchoOfferError(ValueError):
    """The offer could not be used."""


def _public(host: str) -> bool:
    return candidate_address_allowed(host, loopback=False)


def _public_candidate(line: str) -> str | None:
    """A candidate line with no local address in it, or None when its own address is local."""
    bits = line[len("a=candidate:"):].split()
    if len(bits) < 8 or not _public(bits[4]):
        return None
    for n, bit in enumerate(bits[:-1]):
        if bit == "raddr" and not _public(bits[n + 1]):
            # A reflexive or relayed candidate names the local address behind it.
            bits[n + 1] = "0.0.0.0"
            if n + 3 < len(bits) and bits[n + 2] == "rport":
                bits[n + 3] = "0"
    return "a=candidate:" + " ".join(bits)


def public_answer(sdp: str) -> str:
    """The echo peer's answer without the server's local (non-global) addresses: their
    candidates dropped, a connection line naming one set to 0.0.0.0, a reflexive
    candidate's related address blanked. A section left with no candidate loses its
    end-of-candidates, so the browser keeps listening for the peer's checks."""
    sections: list[list[str]] = [[]]
    for line in sdp.splitlines():
        if line.startswith("m="):
            sections.append([])
        if line.startswith("a=candidate:"):
            kept = _public_candidate(line)
            if kept is None:
                continue
            line = kept
        elif line.startswith("c=IN IP") and not _public(line.split()[-1]):
            line = "c=IN IP4 0.0.0.0"
        sections[-1].append(line)
    out: list[str] = []
    for section in sections:
        if section and section[0].startswith("m=") and not any(
                line.startswith("a=candidate:") for line in section):
            section = [line for line in section if line != "a=end-of-candidates"]
        out.extend(section)
    return "\r\n".join(out) + "\r\n"


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

    def __init__(self, pool: "EchoPool", session_id: str, visit_id: str, participant_id: str) -> None:
        from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection
        from aiortc.contrib.media import MediaRelay

        self.pool = pool
        self.id = session_id
        self.visit_id = visit_id
        self.participant_id = participant_id
        # An explicit list, even empty: given none, aiortc asks a public STUN server.
        servers = [RTCIceServer(urls=list(pool.limits.stun_urls))] if pool.limits.stun_urls else []
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=servers))
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
        offer_sdp, dropped = trim_offer_candidates(offer_sdp, loopback=self.pool.limits.loopback,
                                                   limit=self.pool.limits.max_candidates)
        if dropped:
            log.info("echo session %s: %d offered candidates not tried", self.id, dropped)
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            await self.pc.setLocalDescription(await self.pc.createAnswer())
        except Exception as exc:  # aiortc raises several types for a bad SDP
            raise EchoOfferError(str(exc) or type(exc).__name__) from None
        self._tasks.append(asyncio.ensure_future(self._report()))
        self._tasks.append(asyncio.ensure_future(self._expire()))
        return public_answer(self.pc.localDescription.sdp)

    async def _report(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            if self.channel is not None and self.channel.readyState == "open":
                figures = loss_figures(await self.pc.getStats())
                self.channel.send(json.dumps({"type": "echo-stats", **figures}))

    async def _expire(self) -> None:
        limits = self.pool.limits
        await asyncio.sleep(min(limits.connect_seconds, limits.max_seconds))
        if self.pc.connectionState != "connected":
            log.info("echo session %s not connected after %gs", self.id, limits.connect_seconds)
            await self.pool.finish(self)
            return
        await asyncio.sleep(max(0.0, limits.max_seconds - limits.connect_seconds))
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


def _import_media() -> None:
    import aiortc  # noqa: F401
    import aiortc.contrib.media  # noqa: F401


PRELOAD_AFTER_SECONDS = 3.0
"""How long after start aiortc's import waits, unless a check asks for it sooner: run
during start-up, it competes with it for the interpreter and slowed it by about 0.2 s."""


class EchoPool:
    """Runs echo sessions within a limit."""

    def __init__(self, limits: EchoLimits | None = None) -> None:
        self.limits = limits or EchoLimits()
        self.sessions: dict[str, EchoSession] = {}
        self._counter = 0
        self._media_wanted = asyncio.Event()
        self._media_import: asyncio.Future[None] | None = None

    @property
    def max_seconds(self) -> float:
        """Longest a check lasts."""
        return self.limits.max_seconds

    async def preload(self, after: float = PRELOAD_AFTER_SECONDS) -> None:
        """Import aiortc in a helper thread once the server is up (`after` seconds, or at
        the first check if one comes sooner): imported on the loop by the first check, it
        held the event loop for 0.2 to 3 s (docs/performance.md)."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._media_wanted.wait(), after)
        await self._media_imported()

    async def _media_imported(self) -> None:
        """Wait until aiortc is imported, starting its import in a helper thread (once)."""
        self._media_wanted.set()
        if self._media_import is None:
            self._media_import = asyncio.ensure_future(asyncio.to_thread(_import_media))
        await asyncio.shield(self._media_import)

    async def start(self, offer_sdp: str, visit_id: str, participant_id: str) -> tuple[str, str]:
        """Start this participant's check: (session id, answer SDP).

        Her running check, if any, ends first. EchoBusy when the server or the visit is full.
        """
        await self._media_imported()  # before the checks: nothing awaits between them and the seat
        for old in [s for s in self.sessions.values() if s.participant_id == participant_id]:
            await self.finish(old)
        if len(self.sessions) >= self.limits.max_sessions:
            raise EchoBusy("server")
        if sum(s.visit_id == visit_id for s in self.sessions.values()) >= self.limits.per_visit:
            raise EchoBusy("visit")
        self._counter += 1
        session = EchoSession(self, f"e{self._counter}", visit_id, participant_id)
        self.sessions[session.id] = session
        try:
            answer = await session.answer(offer_sdp)
        except BaseException:
            await self.finish(session)
            raise
        log.info("echo session %s started visit=%s participant=%s (%d running)", session.id,
                 visit_id, participant_id, len(self.sessions))
        return session.id, answer

    async def finish(self, session: EchoSession) -> None:
        """End a session and free its place."""
        if self.sessions.pop(session.id, None) is not None:
            with contextlib.suppress(Exception):
                await session.close()
            log.info("echo session %s ended", session.id)

    async def end(self, visit_id: str, participant_id: str | None = None) -> int:
        """End the running checks of a visit (cancelled), or of one of its participants
        (link revoked); returns how many ended."""
        ending = [s for s in self.sessions.values() if s.visit_id == visit_id
                  and participant_id in (None, s.participant_id)]
        for session in ending:
            await self.finish(session)
        return len(ending)

    async def close(self) -> None:
        """End every session (server shutdown)."""
        for session in list(self.sessions.values()):
            await self.finish(session)
