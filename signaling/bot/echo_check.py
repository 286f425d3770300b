"""The connection check from Python: the server's echo peer, as the pre-call page uses it."""

from __future__ import annotations

import asyncio
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from signaling.bot.client import VisitClient, VisitClientError
from signaling.bot.figures import EchoFigures
from signaling.bot.loops import count_frames, make_tracks, time_round_trips


async def run_echo_check(link: str, *, seconds: float = 3.0, media: str = "synthetic") -> EchoFigures:
    """Open a visit link, run the server's connection check for `seconds`, return its figures."""
    client = VisitClient(link, media=media)
    figures = EchoFigures()
    pc: RTCPeerConnection | None = None
    try:
        visit_id = await client.open_link()
        pc = RTCPeerConnection()
        for track in make_tracks(media):
            pc.addTrack(track)
            client._owned_tracks.append(track)
        channel = pc.createDataChannel("echo")

        def on_message(message: dict[str, Any]) -> None:
            if message.get("type") == "echo-stats":
                figures.stats_messages += 1
                figures.media_rtt_ms = message.get("rtt_ms") or figures.media_rtt_ms
                if message.get("loss_pct") is not None:
                    figures.loss_pct = message["loss_pct"]

        def on_rtt(rtt_ms: float) -> None:
            if figures.rtt_ms is None:
                figures.rtt_ms = rtt_ms

        # The echo peer sends each ping back as it came: its round trip is timed the same.
        time_round_trips(channel, on_message, on_rtt, answer_pings=False)

        def on_frame(kind: str) -> None:
            if kind == "video":
                figures.video_frames_back += 1
            else:
                figures.audio_frames_back += 1

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            client._spawn(count_frames(track, on_frame))

        await pc.setLocalDescription(await pc.createOffer())
        assert client._session is not None
        async with client._session.post(
                f"{client.origin}/visits/{visit_id}/echo", headers={"Origin": client.origin},
                json={"type": "offer", "sdp": pc.localDescription.sdp}) as response:
            body = await response.json()
            if response.status != 200:
                raise VisitClientError(f"The connection check refused ({response.status}): "
                                       f"{body['error']['message']}")
        await pc.setRemoteDescription(RTCSessionDescription(sdp=body["sdp"], type="answer"))
        await asyncio.sleep(seconds)
        return figures
    finally:
        if pc is not None:
            await pc.close()
        await client.close()
