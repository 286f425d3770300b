"""Synthetic media for the aiortc peer: a slowly changing picture and a quiet tone.

Frames are built once and cycled, so a bot costs little CPU beyond encoding.
"""

from __future__ import annotations

import array
import asyncio
import fractions
import math
import time

from aiortc.mediastreams import MediaStreamTrack
from av import AudioFrame, VideoFrame

VIDEO_CLOCK = 90000
AUDIO_RATE = 48000
AUDIO_SAMPLES = 960  # 20 ms


class SyntheticVideoTrack(MediaStreamTrack):
    """A 320x240 picture whose brightness cycles once a second, at `fps` frames a second."""

    kind = "video"

    def __init__(self, fps: int = 15, width: int = 320, height: int = 240) -> None:
        super().__init__()
        self.fps = fps
        self._frames = []
        for i in range(fps):
            frame = VideoFrame(width, height, "yuv420p")
            luma = 60 + int(120 * (0.5 + 0.5 * math.sin(2 * math.pi * i / fps)))
            frame.planes[0].update(bytes([luma]) * (frame.planes[0].buffer_size))
            for plane in frame.planes[1:]:
                plane.update(bytes([128]) * plane.buffer_size)
            self._frames.append(frame)
        self._count = 0
        self._start: float | None = None

    async def recv(self) -> VideoFrame:
        """The next frame, paced to the frame rate."""
        if self._start is None:
            self._start = time.monotonic()
        target = self._start + self._count / self.fps
        delay = target - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        source = self._frames[self._count % self.fps]
        frame = VideoFrame(source.width, source.height, "yuv420p")
        for dst, src in zip(frame.planes, source.planes):
            dst.update(bytes(src))
        frame.pts = int(self._count * VIDEO_CLOCK / self.fps)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self._count += 1
        return frame


class SyntheticAudioTrack(MediaStreamTrack):
    """A quiet 450 Hz tone in 20 ms frames (nine whole cycles, so frames join without a click)."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        tone = array.array("h", (int(3000 * math.sin(2 * math.pi * 450 * n / AUDIO_RATE))
                                 for n in range(AUDIO_SAMPLES)))
        self._pcm = tone.tobytes()
        self._count = 0
        self._start: float | None = None

    async def recv(self) -> AudioFrame:
        """The next 20 ms of tone, paced to real time."""
        if self._start is None:
            self._start = time.monotonic()
        target = self._start + self._count * AUDIO_SAMPLES / AUDIO_RATE
        delay = target - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        frame = AudioFrame(format="s16", layout="mono", samples=AUDIO_SAMPLES)
        frame.planes[0].update(self._pcm)
        frame.sample_rate = AUDIO_RATE
        frame.pts = self._count * AUDIO_SAMPLES
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        self._count += 1
        return frame
