"""One RTCPeerConnection of the bot with one remote participant (perfect negotiation:
a polite bot that meets a colliding offer starts its connection again, since aiortc
cannot roll back a local offer)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import weakref
from typing import Any, Protocol

from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCIceTransport,
    RTCIceTransportPolicy,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamTrack
from aiortc.sdp import candidate_from_sdp

from signaling.bot.figures import CallFigures
from signaling.bot.loops import make_tracks

log = logging.getLogger(__name__)
DATA_CHANNEL = "visitroom"


class PeerHost(Protocol):
    """What a peer link uses of the participant that holds it (the bot's `VisitClient`):
    its media and ICE settings, its figures, its signaling socket and its task keeping."""

    media: str
    loss: float
    ice_servers: list[dict[str, Any]]
    ice_transport_policy: str
    figures: CallFigures
    _owned_tracks: list[MediaStreamTrack]

    async def send(self, message: dict[str, Any]) -> None: ...

    def _spawn(self, coro: Any) -> None: ...

    async def _consume(self, track: MediaStreamTrack) -> None: ...

    def _wire_channel(self, channel: RTCDataChannel) -> None: ...

    def _elapsed_ms(self) -> float: ...

    def _check_done(self) -> None: ...


def ice_configuration(servers: list[dict[str, Any]], policy: str = "all") -> RTCConfiguration:
    """The aiortc configuration for the ICE servers and transport policy in `welcome`."""
    return RTCConfiguration([
        RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
        for s in servers
    ], iceTransportPolicy=RTCIceTransportPolicy(policy))


def selected_candidate_types(pc: RTCPeerConnection) -> tuple[str, str] | None:
    """(local, remote) candidate types of the pair ICE chose for this connection, e.g.
    ("relay", "relay") through TURN; None before ICE has chosen one."""
    sctp = pc.sctp
    transport = sctp.transport.transport if sctp is not None else None
    # aiortc has no selected-pair API (nor candidate-pair stats): aioice's nominated pair
    # of component 1 is the one media and data use (everything is bundled).
    # (read defensively: a newer aioice may name these otherwise; then None, not a crash)
    nominated = getattr(getattr(transport, "_connection", None), "_nominated", None)
    pair = nominated.get(1) if isinstance(nominated, dict) else None
    if pair is None:
        return None
    return pair.local_candidate.type, pair.remote_candidate.type


_LOSSY: weakref.WeakSet[RTCIceTransport] = weakref.WeakSet()
"""ICE transports whose send and receive `drop_datagrams` wrapped already."""


def drop_datagrams(pc: RTCPeerConnection, host: PeerHost) -> None:
    """Drop `host.loss` of the media and data datagrams this connection sends and receives.

    Wraps aiortc's ICE transports' send and receive (what DTLS, SRTP and SCTP use), not
    aioice's STUN: the connection checks stay answered, as on a real lossy link that has
    not failed. Once per transport (bundled m-lines share one).
    """
    transports = {t.sender.transport.transport for t in pc.getTransceivers() if t.sender.transport}
    if pc.sctp is not None:
        transports.add(pc.sctp.transport.transport)
    for ice in [t for t in transports if t not in _LOSSY]:
        _LOSSY.add(ice)
        send, recv = ice._send, ice._recv

        async def lossy_send(data: bytes, send: Any = send) -> None:
            if random.random() >= host.loss:
                await send(data)

        async def lossy_recv(recv: Any = recv) -> bytes:
            while True:
                data = await recv()
                if random.random() >= host.loss:
                    return data

        ice._send, ice._recv = lossy_send, lossy_recv


class PeerLink:
    """One RTCPeerConnection with one remote participant."""

    def __init__(self, client: PeerHost, peer_id: str, polite: bool) -> None:
        self.client = client
        self.peer_id = peer_id
        self.polite = polite
        self.making_offer = False
        self.closed = False
        self.pc = self._new_pc()

    def _new_pc(self) -> RTCPeerConnection:
        client = self.client
        pc = RTCPeerConnection(ice_configuration(client.ice_servers, client.ice_transport_policy))
        tracks = make_tracks(client.media)
        for track in tracks:
            pc.addTrack(track)
        kinds = {t.kind for t in tracks}
        for kind in ("audio", "video"):
            if kind not in kinds:
                pc.addTransceiver(kind, direction="recvonly")
        client._owned_tracks.extend(tracks)
        # Browsers and bots both open the same pre-negotiated channel (id 0).
        client._wire_channel(pc.createDataChannel(DATA_CHANNEL, negotiated=True, id=0))

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            client._spawn(client._consume(track))

        @pc.on("iceconnectionstatechange")
        def on_ice() -> None:
            if pc.iceConnectionState == "completed":
                drop_datagrams(pc, client)
                client.figures.connections += 1
                client.figures.candidate_types = selected_candidate_types(pc)
                if client.figures.connected_ms is None:
                    client.figures.connected_ms = client._elapsed_ms()
                    client._check_done()
            elif pc.iceConnectionState == "failed":
                client._spawn(self.restart())

        return pc

    async def offer(self) -> None:
        """Create and send an offer (the impolite side starts)."""
        self.making_offer = True
        try:
            await self.pc.setLocalDescription(await self.pc.createOffer())
        finally:
            self.making_offer = False
        await self.client.send({"type": "offer", "to": self.peer_id, "sdp": self.pc.localDescription.sdp})

    async def on_offer(self, sdp: str) -> None:
        """Answer an offer, resolving a collision the perfect-negotiation way."""
        collision = self.making_offer or self.pc.signalingState != "stable"
        if collision and not self.polite:
            return
        if collision:
            await self.pc.close()
            self.pc = self._new_pc()
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await self.client.send({"type": "answer", "to": self.peer_id, "sdp": self.pc.localDescription.sdp})

    async def on_answer(self, sdp: str) -> None:
        """Apply the peer's answer to our offer."""
        if self.pc.signalingState == "have-local-offer":
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))

    async def on_candidate(self, candidate: dict[str, Any] | None) -> None:
        """Add a trickled candidate from a browser (aiortc's own are in its SDP)."""
        if not candidate or not candidate.get("candidate"):
            return
        line = candidate["candidate"]
        parsed = candidate_from_sdp(line.split(":", 1)[1] if line.startswith("candidate:") else line)
        parsed.sdpMid = candidate.get("sdpMid")
        parsed.sdpMLineIndex = candidate.get("sdpMLineIndex")
        with contextlib.suppress(Exception):  # a candidate for a closed or replaced connection
            await self.pc.addIceCandidate(parsed)

    async def restart(self) -> None:
        """Start over with a fresh connection (aiortc has no ICE restart of its own)."""
        await self.pc.close()
        self.pc = self._new_pc()
        if self.polite:
            await self.client.send({"type": "restart", "to": self.peer_id})
        else:
            await self.offer()

    async def close(self) -> None:
        """Close the connection (once: a peer can leave while the client is closing)."""
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(asyncio.InvalidStateError):
            await self.pc.close()
