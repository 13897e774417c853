"""Synthetic media for the aiortc participants of the end-to-end tests."""

from __future__ import annotations

from fractions import Fraction

import av
from aiortc import VideoStreamTrack

RGB = tuple[int, int, int]

# Distinctive colours, far from Chromium's fake camera (a green test pattern)
# and from each other.
ORANGE: RGB = (255, 128, 0)
BLUE: RGB = (40, 70, 210)


def rgb_to_yuv(rgb: RGB) -> RGB:
    """BT.601 limited range, what VP8 decoders assume by default."""
    r, g, b = (c / 255 for c in rgb)
    y = 16 + 65.481 * r + 128.553 * g + 24.966 * b
    u = 128 - 37.797 * r - 74.203 * g + 112.0 * b
    v = 128 + 112.0 * r - 93.786 * g - 18.214 * b
    return round(y), round(u), round(v)


class SolidColorVideoTrack(VideoStreamTrack):
    """640x360 yuv420p frames of one colour at 30 fps."""

    def __init__(self, rgb: RGB = ORANGE, width: int = 640, height: int = 360) -> None:
        super().__init__()
        self.rgb = rgb
        self.width = width
        self.height = height
        self._yuv = rgb_to_yuv(rgb)
        self._planes: list[bytes] | None = None

    def _frame(self) -> av.VideoFrame:
        frame = av.VideoFrame(self.width, self.height, "yuv420p")
        if self._planes is None:
            # buffer_size includes any line padding of the plane.
            self._planes = [
                bytes([value]) * plane.buffer_size
                for plane, value in zip(frame.planes, self._yuv, strict=True)
            ]
        for plane, data in zip(frame.planes, self._planes, strict=True):
            plane.update(data)
        return frame

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = self._frame()
        frame.pts = pts
        frame.time_base = Fraction(time_base)
        return frame
