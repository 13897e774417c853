"""Synthetic media for tests: each publisher sends a distinct solid colour."""

from __future__ import annotations

import fractions

import av
import numpy as np
from aiortc import AudioStreamTrack, VideoStreamTrack

# Distinct in U and V so that a decoded frame tells which publisher it came from.
COLOURS = {
    "red": (76, 84, 255),
    "green": (150, 44, 21),
    "blue": (29, 255, 107),
    "yellow": (226, 1, 149),
}


class ColourTrack(VideoStreamTrack):
    """640x360 frames of one YUV colour, 30 fps."""

    def __init__(self, colour: str, width: int = 320, height: int = 180) -> None:
        super().__init__()
        y, u, v = COLOURS[colour]
        self.colour = colour
        planes = np.empty((height * 3 // 2, width), dtype=np.uint8)
        planes[:height] = y
        chroma = planes[height:].reshape(-1)
        quarter = (width // 2) * (height // 2)
        chroma[:quarter] = u
        chroma[quarter:] = v
        self._planes = planes

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame.from_ndarray(self._planes, format="yuv420p")
        frame.pts = pts
        frame.time_base = time_base
        return frame


def dominant_colour(frame: av.VideoFrame) -> str:
    """The test colour closest to the frame's mean chroma."""
    array = frame.to_ndarray(format="yuv420p")
    height = frame.height
    chroma = array[height:].reshape(-1).astype(np.int32)
    quarter = chroma.size // 2
    u, v = chroma[:quarter].mean(), chroma[quarter:].mean()
    return min(COLOURS, key=lambda c: (COLOURS[c][1] - u) ** 2 + (COLOURS[c][2] - v) ** 2)


class ToneTrack(AudioStreamTrack):
    """aiortc's silence track is enough to carry Opus packets; keep the name explicit."""


class SineTrack(AudioStreamTrack):
    """A loud tone (440 Hz unless told): its Opus packets are much larger than silence's."""

    def __init__(self, frequency: float = 440.0) -> None:
        super().__init__()
        self.frequency = frequency

    async def recv(self) -> av.AudioFrame:  # type: ignore[override]
        frame = await super().recv()
        assert isinstance(frame, av.AudioFrame)
        rate, count = frame.sample_rate, frame.samples
        start = int(frame.pts or 0)
        t = (np.arange(start, start + count) / rate).astype(np.float64)
        samples = (np.sin(2 * np.pi * self.frequency * t) * 12000).astype("<i2")
        frame.planes[0].update(samples.tobytes())
        return frame


__all__ = ["ColourTrack", "SineTrack", "ToneTrack", "dominant_colour", "fractions"]
