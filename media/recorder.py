"""Recording forwarded media into Matroska/WebM files, without transcoding.

The recorder takes the same RTP payloads the SFU forwards: VP8 payloads are
reassembled into frames (RFC 7741 descriptors stripped), Opus payloads are
frames already; PyAV only muxes them. Timestamps come from RTP, anchored to
the arrival time of each stream's first packet so that audio and video line
up.

A simulcast camera is recorded from the highest of its layers that arrives
(:class:`LayerFollower`): when the publisher drops its top layer on a weak
link, the file goes on in the next one down, and back up when it returns,
each switch at a keyframe of the new layer, in one video track.
"""

from __future__ import annotations

import fractions
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av

from .consumer import KEYFRAME_ASK_AGAIN
from .vp8 import is_keyframe_start

if TYPE_CHECKING:
    from .producer import PacketSink, Producer

MILLISECONDS = fractions.Fraction(1, 1000)
CLOCK_RATES = {"audio": 48000, "video": 90000}
OPUS_FRAME_MS = 20


def vp8_descriptor_length(payload: bytes) -> int:
    """Length of the VP8 payload descriptor at the start of an RTP payload."""
    pos = 1
    if payload[0] & 0x80:
        flags = payload[1]
        pos = 2
        if flags & 0x80:
            pos += 2 if payload[pos] & 0x80 else 1
        if flags & 0x40:
            pos += 1
        if flags & 0x30:
            pos += 1
    return pos


def vp8_dimensions(frame: bytes) -> tuple[int, int] | None:
    """Width and height from a VP8 keyframe header (RFC 6386 9.1)."""
    if len(frame) < 10 or frame[0] & 0x01 or frame[3:6] != b"\x9d\x01\x2a":
        return None
    width = int.from_bytes(frame[6:8], "little") & 0x3FFF
    height = int.from_bytes(frame[8:10], "little") & 0x3FFF
    return width, height


@dataclass
class _Track:
    kind: str
    stream: av.stream.Stream | None = None
    first_timestamp: int | None = None
    offset_ms: float = 0.0  # arrival of the first packet, from the recording's start
    last_pts: int = -1
    frames: int = 0
    parts: list[bytes] = field(default_factory=list)
    frame_timestamp: int | None = None
    waiting_keyframe: bool = True
    switching: bool = False  # another source's keyframe starts what follows


@dataclass(frozen=True)
class RecordedFile:
    """``path`` is None when nothing was recorded (no packet came): no file is written."""

    path: Path | None
    started_at: float  # unix seconds
    ended_at: float
    video_frames: int
    audio_frames: int
    metadata: dict[str, str]
    chapters: tuple[Chapter, ...] = ()


@dataclass(frozen=True)
class Chapter:
    """A stretch of the file from one audio source: milliseconds from its start."""

    start_ms: int
    end_ms: int
    title: str


VIDEO_WAIT = 3.0  # seconds to wait for a keyframe before recording audio alone
# A source's RTP clock jumped (a publisher that reconnected, or changed tracks)
# when a frame falls further behind the last one than a late audio packet can
# (video frames are muxed in order: any step back), or further ahead of its
# arrival than delays explain: it is placed at its arrival, after the last.
LATE_AUDIO_MS = 1000
AHEAD_MS = 5000
# Seconds between two looks at which simulcast layers arrive (a layer counts
# as arriving for media.producer.LAYER_ACTIVE after its last packet).
LAYER_CHECK = 0.25


class Recording:
    """One file: the packets of one audio and/or one video producer.

    Matroska writes its header, with every stream, before the first packet;
    the video stream's size is only known from a keyframe, so packets wait in
    a queue until the first keyframe (or ``VIDEO_WAIT``, then without video).
    """

    def __init__(
        self,
        path: Path,
        metadata: dict[str, str],
        *,
        video: bool = True,
        audio: bool = True,
        language: str | None = None,
    ) -> None:
        """``video``: expect a video track; ``audio``: have an audio track (a
        screen share has none)."""
        self.path = path
        self.metadata = dict(metadata)
        self.started_at = time.time()
        self._start = time.monotonic()
        self._container = av.open(str(path), mode="w", format="matroska")
        for key, value in metadata.items():
            self._container.metadata[key] = value
        self._audio = _Track("audio")
        if audio:
            self._audio.stream = self._container.add_stream("libopus", rate=48000)
            self._audio.stream.time_base = MILLISECONDS
            if language is not None:
                self._audio.stream.metadata["language"] = language
        # Chapters: [start_ms, end_ms, title]; start -1 until the source's first packet.
        self._chapters: list[list[Any]] = []
        self._video = _Track("video")
        self._expect_video = video
        self._queue: list[Any] = []  # av.Packet, until the header can be written
        self._closed = False

    def audio_packet(self, timestamp: int, payload: bytes) -> None:
        """An Opus RTP payload (one frame)."""
        if self._closed or not payload or self._audio.stream is None:
            return
        self._mux(self._audio, payload, timestamp, keyframe=True)

    def audio_source(self, title: str | None) -> None:
        """The audio comes from another source from the next packet on (a handover).

        The new source's RTP clock is unrelated to the last one's: its first
        packet is placed at its arrival, and at least one Opus frame after the
        last packet, so the file runs on as the listeners heard it, pause
        included. ``title`` names the new stretch as a chapter (None: nobody).
        """
        track = self._audio
        track.first_timestamp = None
        if self._chapters and self._chapters[-1][1] is None:
            chapter = self._chapters[-1]
            if chapter[0] < 0:
                self._chapters.pop()  # nothing came from that source
            else:
                chapter[1] = track.last_pts + OPUS_FRAME_MS
        if title is not None:
            self._chapters.append([-1, None, title])

    def video_source(self) -> None:
        """The video comes from another stream from the next keyframe on (a layer switch).

        Its RTP clock is unrelated to the last one's: its first frame is
        placed at its arrival, after the last frame, so the track runs on
        as one stream; a frame in progress is dropped, and so is anything
        before the new source's first keyframe.
        """
        track = self._video
        track.switching = True
        track.first_timestamp = None
        track.parts = []
        track.frame_timestamp = None

    def video_packet(self, timestamp: int, marker: bool, payload: bytes) -> None:
        """A VP8 RTP payload; frames are muxed once complete, from a keyframe on."""
        if self._closed or not payload:
            return
        track = self._video
        start = bool(payload[0] & 0x10) and payload[0] & 0x07 == 0
        if start or track.frame_timestamp != timestamp:
            track.parts = []
            track.frame_timestamp = timestamp
        track.parts.append(payload[vp8_descriptor_length(payload) :])
        if not marker:
            return
        frame = b"".join(track.parts)
        track.parts = []
        keyframe = bool(frame) and not frame[0] & 0x01
        if track.waiting_keyframe:
            size = vp8_dimensions(frame) if keyframe else None
            if size is None:
                return
            track.waiting_keyframe = track.switching = False
            stream = self._container.add_stream("libvpx", rate=30)
            stream.width, stream.height = size
            stream.time_base = MILLISECONDS
            track.stream = stream
        elif track.switching:
            if not keyframe:
                return
            track.switching = False
        self._mux(track, frame, timestamp, keyframe)

    def _mux(self, track: _Track, data: bytes, timestamp: int, keyframe: bool) -> None:
        assert track.stream is not None
        now_ms = (time.monotonic() - self._start) * 1000
        if track.first_timestamp is None:
            self._anchor(track, timestamp, now_ms)
            if track is self._audio and self._chapters and self._chapters[-1][0] < 0:
                self._chapters[-1][0] = int(track.offset_ms)
        first = track.first_timestamp
        assert first is not None
        ticks = (timestamp - first) & 0xFFFFFFFF
        if ticks >= 0x80000000:
            ticks -= 0x100000000  # before the first
        pts = int(track.offset_ms + ticks * 1000 / CLOCK_RATES[track.kind])
        late = LATE_AUDIO_MS if track is self._audio else 0
        if pts > now_ms + AHEAD_MS or track.last_pts - pts > late:
            self._anchor(track, timestamp, now_ms)  # the source's clock jumped
            pts = int(track.offset_ms)
        if pts <= track.last_pts:
            return  # a retransmitted or reordered frame already passed
        track.last_pts = pts
        packet = av.Packet(data)
        packet.stream = track.stream
        packet.time_base = MILLISECONDS
        packet.pts = packet.dts = pts
        packet.is_keyframe = keyframe
        track.frames += 1
        if self._expect_video and self._video.stream is None:
            if now_ms < VIDEO_WAIT * 1000:
                self._queue.append(packet)
                return
            self._expect_video = False  # no keyframe came: audio only
        for queued in self._queue:
            self._container.mux(queued)
        self._queue.clear()
        self._container.mux(packet)

    @property
    def video_frames(self) -> int:
        """Video frames recorded so far."""
        return self._video.frames

    @staticmethod
    def _anchor(track: _Track, timestamp: int, now_ms: float) -> None:
        """Place ``timestamp`` at its arrival, after the track's last frame."""
        track.first_timestamp = timestamp
        track.offset_ms = now_ms
        if track.last_pts >= 0:  # a new source (audio_source, video_source) or clock
            step = OPUS_FRAME_MS if track.kind == "audio" else 1
            track.offset_ms = max(now_ms, track.last_pts + step)

    def close(self) -> RecordedFile:
        if not self._closed:
            self._closed = True
            for queued in self._queue:
                if queued.stream is self._audio.stream:
                    self._container.mux(queued)
            self.audio_source(None)  # ends the last chapter
            # Nothing muxed: the muxer never opened the file; there is nothing to close.
            if self._audio.frames or self._video.frames:
                if self.chapters:
                    self._container.set_chapters(
                        [
                            {
                                "id": i + 1,
                                "start": c.start_ms,
                                "end": c.end_ms,
                                "time_base": MILLISECONDS,
                                "metadata": {"title": c.title},
                            }
                            for i, c in enumerate(self.chapters)
                        ]
                    )
                self._container.close()
        written = self.path.exists() and self.path.stat().st_size > 0
        return RecordedFile(
            self.path if written else None,
            self.started_at,
            time.time(),
            self._video.frames,
            self._audio.frames,
            self.metadata,
            self.chapters,
        )

    @property
    def chapters(self) -> tuple[Chapter, ...]:
        """The finished stretches, one per audio source that sent something."""
        return tuple(Chapter(c[0], c[1], c[2]) for c in self._chapters if c[1] is not None)


class LayerFollower:
    """Records a simulcast camera from the highest of its layers that arrives.

    Taps every layer. About four times a second it picks the highest layer
    sent now (the rule consumers follow, :meth:`media.consumer.Consumer.refresh_layer`,
    with nothing above it to cap it) and, if that is not the one recorded,
    asks it for a keyframe (coalesced by the producer, asked again while
    none comes); the recording moves to it at that keyframe. Until then the
    current layer goes on being recorded, if it still arrives.
    """

    def __init__(self, recording: Recording, producer: Producer) -> None:
        self.recording = recording
        self.producer = producer
        self.current: int | None = None  # the layer recorded now
        self.target: int | None = None  # the layer to move to at its next keyframe
        self.switches = 0
        self._checked = 0.0
        self._asked = 0.0
        self._taps: list[tuple[Producer, PacketSink]] = []

    def attach(self) -> None:
        for spatial, layer in enumerate(self.producer.layer_streams):
            sink = self._sink(spatial)
            layer.sinks.append(sink)
            self._taps.append((layer, sink))

    def detach(self) -> None:
        for layer, sink in self._taps:
            if sink in layer.sinks:
                layer.sinks.remove(sink)
        self._taps.clear()

    def _sink(self, spatial: int) -> PacketSink:
        def packet(seq: int, timestamp: int, marker: bool, payload: bytes) -> None:
            self.on_packet(spatial, timestamp, marker, payload)

        return packet

    def on_packet(self, spatial: int, timestamp: int, marker: bool, payload: bytes) -> None:
        now = time.monotonic()
        if now - self._checked >= LAYER_CHECK:
            self._checked = now
            self._retarget(now)
        if spatial == self.target and spatial != self.current:
            if is_keyframe_start(payload):
                self.current, self.target = spatial, None
                self.switches += 1
                self.recording.video_source()
            elif now - self._asked >= KEYFRAME_ASK_AGAIN:
                self._ask(spatial, now)  # the request or its keyframe may have been lost
        if spatial == self.current:
            self.recording.video_packet(timestamp, marker, payload)

    def _retarget(self, now: float) -> None:
        layers = self.producer.layer_streams
        sending = [i for i, layer in enumerate(layers) if layer.sending(now)]
        if not sending:
            return  # nothing arrives: nothing to choose from
        best = sending[-1]
        if best == self.current:
            self.target = None
        elif best != self.target:
            self.target = best
            self._ask(best, now)

    def _ask(self, spatial: int, now: float) -> None:
        self._asked = now
        self.producer.layer_streams[spatial].request_keyframe()
