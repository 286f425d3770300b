"""What a bot measured: a call's figures and a connection check's."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class CallFigures:
    """What one call measured, in milliseconds from the socket opening."""

    role: str = ""
    participant_id: str = ""
    visit_id: str = ""
    connected_ms: float | None = None
    first_frame_ms: float | None = None
    first_audio_ms: float | None = None
    rtt_ms: float | None = None
    video_frames: int = 0
    audio_frames: int = 0
    video_tracks: dict[str, int] = field(default_factory=dict)
    """Video frames by remote track id: a second track is a shared screen."""
    data_messages: int = 0
    peers: list[str] = field(default_factory=list)
    reconnects: int = 0
    """Times the visit socket dropped and was opened again."""
    connections: int = 0
    """Peer connections that reached ICE completed (a renegotiation adds one)."""
    candidate_types: tuple[str, str] | None = None
    """(local, remote) candidate types of the pair ICE chose last: ("relay", "relay") is a
    call through TURN, ("host", "host") a direct one."""

    @property
    def complete(self) -> bool:
        """ICE connected, a video and an audio frame arrived, and a data round trip was timed."""
        return (self.connected_ms is not None and self.first_frame_ms is not None
                and self.first_audio_ms is not None and self.rtt_ms is not None)

    def as_json(self) -> dict[str, Any]:
        """The figures for `run.py bot --json`."""
        return {"role": self.role, "visit_id": self.visit_id, "participant_id": self.participant_id,
                "connected_ms": _round(self.connected_ms), "first_frame_ms": _round(self.first_frame_ms),
                "first_audio_ms": _round(self.first_audio_ms), "rtt_ms": _round(self.rtt_ms),
                "video_frames": self.video_frames, "audio_frames": self.audio_frames,
                "video_tracks": len(self.video_tracks),
                "candidate_types": list(self.candidate_types) if self.candidate_types else None}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


@dataclass
class EchoFigures:
    """What a connection check measured."""

    rtt_ms: float | None = None
    """Data-channel round trip through the echo peer."""
    media_rtt_ms: float | None = None
    """Round trip the echo peer measured on the media (RTCP)."""
    loss_pct: float | None = None
    video_frames_back: int = 0
    audio_frames_back: int = 0
    stats_messages: int = 0
