"""Pre-encoded media for synthetic publishers: encode once, loop the packets.

A load generator that encoded per publisher would measure itself; these
tracks hand aiortc ``av.Packet`` objects, which its sender only packetizes.
"""

from __future__ import annotations

import asyncio
import fractions
import math
import time
from dataclasses import dataclass

import av
import numpy as np
from aiortc import MediaStreamTrack

VIDEO_TIME_BASE = fractions.Fraction(1, 90000)
AUDIO_TIME_BASE = fractions.Fraction(1, 48000)


@dataclass(frozen=True)
class Clip:
    kind: str
    packets: tuple[bytes, ...]
    keyframes: frozenset[int]
    period: float  # seconds between packets
    ticks: int  # clock units between packets


def encode_video(
    width: int = 640,
    height: int = 360,
    fps: int = 30,
    seconds: float = 4.0,
    bitrate: int = 500_000,
    gop: int = 30,
) -> Clip:
    """VP8 of a moving pattern, a keyframe every ``gop`` frames."""
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.time_base = fractions.Fraction(1, fps)
    codec.framerate = fractions.Fraction(fps, 1)
    codec.bit_rate = bitrate
    codec.gop_size = gop
    # Constant bit rate, as a browser's encoder holds its target: without it
    # libvpx overshoots several times on synthetic images.
    rate = f"{bitrate // 1000}k"
    codec.options = {
        "deadline": "realtime",
        "cpu-used": "8",
        "lag-in-frames": "0",
        "minrate": rate,
        "maxrate": rate,
        "bufsize": rate,
    }
    rng = np.random.default_rng(7)
    # Mild noise and slow motion: compressible like a camera image of a
    # speaker, so that the stream stays near ``bitrate``.
    noise = rng.integers(0, 8, size=(height, width), dtype=np.uint8)
    xs = np.arange(width, dtype=np.int32)
    packets: list[bytes] = []
    keyframes: set[int] = set()
    frames = int(fps * seconds)
    for i in range(frames + 1):
        if i < frames:
            luma = ((xs[None, :] + i * 2) % 256).astype(np.uint8) + noise
            image = np.full((height * 3 // 2, width), 128, dtype=np.uint8)
            image[:height] = luma
            frame = av.VideoFrame.from_ndarray(image, format="yuv420p")
            frame.pts = i
            encoded = codec.encode(frame)
        else:
            encoded = codec.encode(None)
        for packet in encoded:
            if packet.is_keyframe:
                keyframes.add(len(packets))
            packets.append(bytes(packet))
    return Clip("video", tuple(packets), frozenset(keyframes), 1 / fps, 90000 // fps)


def encode_audio(seconds: float = 1.0, bitrate: int = 32_000) -> Clip:
    """Opus, 20 ms packets of a 440 Hz tone."""
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate = 48000
    codec.layout = "stereo"
    codec.format = "s16"
    codec.bit_rate = bitrate
    samples = 960
    packets: list[bytes] = []
    for i in range(int(seconds * 50)):
        t = (np.arange(samples) + i * samples) / 48000
        tone = (np.sin(2 * math.pi * 440 * t) * 8000).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(
            np.repeat(tone, 2).reshape(1, -1), format="s16", layout="stereo"
        )
        frame.sample_rate = 48000
        frame.pts = i * samples
        packets.extend(bytes(p) for p in codec.encode(frame))
    return Clip("audio", tuple(packets), frozenset(), 0.02, 960)


class LoopTrack(MediaStreamTrack):
    """Plays a clip's packets in a loop, in real time, without encoding."""

    def __init__(self, clip: Clip) -> None:
        super().__init__()
        self.kind = clip.kind
        self._clip = clip
        self._index = 0  # packets sent: drives timing and timestamps
        self._position = 0  # where in the clip the next packet comes from
        self._start: float | None = None
        self._time_base = VIDEO_TIME_BASE if clip.kind == "video" else AUDIO_TIME_BASE

    async def recv(self) -> av.Packet:  # type: ignore[type-arg]
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._index * self._clip.period
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        data = self._clip.packets[self._position]
        self._position = (self._position + 1) % len(self._clip.packets)
        packet = av.Packet(data)
        packet.pts = self._index * self._clip.ticks
        packet.time_base = self._time_base
        self._index += 1
        return packet

    def request_keyframe(self) -> None:
        """Jump to the clip's next keyframe, as an encoder asked for one would."""
        if self._clip.keyframes:
            later = [k for k in self._clip.keyframes if k >= self._position]
            self._position = min(later) if later else min(self._clip.keyframes)
