"""What both the call and the connection check do with media: send it, count what comes
back, and time round trips on a data channel."""

from __future__ import annotations

import json
import time
from typing import Any, Callable

from aiortc import RTCDataChannel
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from signaling.media import SyntheticAudioTrack, SyntheticVideoTrack


def make_tracks(media: str) -> list[MediaStreamTrack]:
    """Outgoing tracks for a media choice: 'synthetic', 'none', or a file path."""
    if media == "none":
        return []
    if media == "synthetic":
        return [SyntheticAudioTrack(), SyntheticVideoTrack()]
    from aiortc.contrib.media import MediaPlayer

    player = MediaPlayer(media, loop=True)
    return [t for t in (player.audio, player.video) if t is not None]


async def count_frames(track: MediaStreamTrack, on_frame: Callable[[str], None]) -> None:
    """Receive a remote track until it ends, calling `on_frame(kind)` for each frame."""
    while True:
        try:
            await track.recv()
        except MediaStreamError:
            return
        on_frame(track.kind)


def time_round_trips(channel: RTCDataChannel, on_message: Callable[[dict[str, Any]], None],
                     on_rtt: Callable[[float], None], *, answer_pings: bool) -> None:
    """Send a ping when the channel opens and report the round trip of its echo.

    The call's peer answers a ping with a pong; the server's echo peer sends the ping
    itself back. `answer_pings` makes this side answer the other's pings too.
    """
    def ping() -> None:
        channel.send(json.dumps({"type": "ping", "t": time.perf_counter()}))

    @channel.on("open")
    def on_open() -> None:
        ping()

    @channel.on("message")
    def message(data: Any) -> None:
        try:
            received = json.loads(data)
        except (TypeError, ValueError):
            return
        if not isinstance(received, dict):
            return
        on_message(received)
        kind, sent = received.get("type"), received.get("t")
        if kind == "ping" and answer_pings:
            channel.send(json.dumps({"type": "pong", "t": sent}))
        elif kind in ("pong", "ping") and isinstance(sent, float):
            on_rtt((time.perf_counter() - sent) * 1000)

    if channel.readyState == "open":
        ping()
