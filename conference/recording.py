"""Recording the floor and the language channels while the chair says so.

The floor: one Matroska file per intervention. The service calls
:meth:`FloorRecorder.start` when a delegation is granted the floor (or when
recording starts while it holds it) and :meth:`stop` when the floor ends.
A screen share presented during the intervention goes to a file of its own,
named and listed after the intervention (its presenter, delegation, times).

The channels: one Opus file per open channel, from the start of recording (or
the channel's opening) to its end (or the channel's closing), across
handovers. The service tells :meth:`ChannelRecorder.follow` which interpreter
is on air in each channel whenever that may have changed.

Both tap producers: they see exactly the packets the SFU forwards, and never
decode them. Both list their files in one index per conference.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import av

from media.producer import SCREEN, PacketSink, Producer
from media.recorder import LayerFollower, RecordedFile, Recording

logger = logging.getLogger(__name__)

SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class RecordingEntry:
    """One line of the recordings index: an intervention on the floor."""

    name: str
    request_id: str
    delegation: str
    speaker: str
    started_at: float
    ended_at: float
    video_frames: int
    audio_frames: int
    bytes: int
    kind: str = "floor"


@dataclass(frozen=True)
class ShareRecordingEntry:
    """One line of the recordings index: a screen share presented during an intervention."""

    name: str
    request_id: str  # the intervention
    delegation: str
    presenter: str
    started_at: float  # its first and last frame (unix seconds)
    ended_at: float
    video_frames: int
    bytes: int
    kind: str = "share"


@dataclass(frozen=True)
class ChannelRecordingEntry:
    """One line of the recordings index: a language channel, across its shifts."""

    name: str
    channel: str  # ISO 639-1
    interpreters: list[str]  # names, in the order they first went on air
    # Each stretch of one interpreter: {"interpreter", "start", "end"} in
    # seconds from the start of the file (its chapters).
    shifts: list[dict[str, object]]
    started_at: float
    ended_at: float
    audio_frames: int
    bytes: int
    kind: str = "channel"


class RecordingIndex:
    """The recordings of one conference: a folder and its ``index.json``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def entries(self) -> list[dict[str, object]]:
        path = self.directory / "index.json"
        if not path.exists():
            return []
        entries: list[dict[str, object]] = json.loads(path.read_text(encoding="utf-8"))
        return entries

    def file(self, name: str) -> Path | None:
        """The path of a listed recording (never anything else)."""
        if any(e["name"] == name for e in self.entries()):
            return self.directory / name
        return None

    def new_file(self, stem: str) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        return self.directory / (SAFE.sub("-", f"{stamp}-{stem}")[:120] + ".mkv")

    def append(self, entry: RecordingEntry | ShareRecordingEntry | ChannelRecordingEntry) -> None:
        entries = [*self.entries(), asdict(entry)]
        path = self.directory / "index.json"
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(entries, ensure_ascii=False, indent=2), encoding="utf-8")
        temporary.replace(path)


@dataclass
class _Share:
    """A screen share being recorded to its own file."""

    recording: Recording
    presenter: str
    producer: Producer
    sink: PacketSink | None = None
    follower: LayerFollower | None = None
    first_at: float | None = None  # time.time() of its first and last packet
    last_at: float | None = None


@dataclass
class _Active:
    recording: Recording
    speakers: frozenset[str]  # participant ids whose producers are recorded
    request_id: str
    taps: list[tuple[Producer, PacketSink]]
    attached: list[Producer] = field(default_factory=list)
    followers: list[LayerFollower] = field(default_factory=list)  # simulcast cameras
    delegation: str = ""
    speaker: str = ""
    shares: list[_Share] = field(default_factory=list)
    presentations: int = 0  # shares recorded in this intervention so far


class FloorRecorder:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.catalogue = RecordingIndex(directory)
        self._active: dict[str, _Active] = {}  # by request id

    def start(
        self,
        request_id: str,
        delegation: str,
        speakers: frozenset[str],
        speaker: str,
        producers: list[Producer],
    ) -> None:
        if request_id in self._active:
            return
        path = self.catalogue.new_file(f"{request_id}-{delegation}")
        metadata = {
            "title": f"{delegation}: {speaker}",
            "delegation": delegation,
            "speaker": speaker,
            "request_id": request_id,
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        video = any(p.kind == "video" and p.source != SCREEN for p in producers)
        active = _Active(Recording(path, metadata, video=video), speakers, request_id, [])
        active.delegation, active.speaker = delegation, speaker
        self._active[request_id] = active
        for producer in producers:
            self.attach(producer)

    def attach(self, producer: Producer) -> None:
        """Tap a producer of a speaker being recorded (also when published late)."""
        for active in self._active.values():
            if producer.owner not in active.speakers:
                continue
            if any(p is producer for p in active.attached):
                if producer.source == SCREEN:
                    # Shared again (a withdrawn share restored): a new presentation, a new file.
                    for share in [s for s in active.shares if s.producer is producer]:
                        active.shares.remove(share)
                        self._stop_share(active, share)
                    self._share(active, producer)
                continue
            active.attached.append(producer)
            if producer.source == SCREEN:
                self._share(active, producer)
                continue
            if producer.layer_streams:
                # The highest layer arriving, from its keyframe on (asked for).
                follower = LayerFollower(active.recording, producer)
                follower.attach()
                active.followers.append(follower)
                continue
            sink = _sink(active.recording, producer.kind)
            producer.sinks.append(sink)
            active.taps.append((producer, sink))
            if producer.kind == "video":
                producer.request_keyframe()  # the file starts at a keyframe

    def _share(self, active: _Active, producer: Producer) -> None:
        """Record a screen share of a speaker to its own file, from its first keyframe."""
        # The intervention's speaker; for a delegation's turn (any member may
        # speak), the delegation.
        presenter = active.speaker if len(active.speakers) == 1 else active.delegation
        active.presentations += 1
        stem = f"{active.request_id}-{active.delegation}-share-{active.presentations}"
        path = self.catalogue.new_file(stem)  # numbered: two may start within a second
        metadata = {
            "title": f"{active.delegation}: {presenter} (screen share)",
            "delegation": active.delegation,
            "presenter": presenter,
            "request_id": active.request_id,
            "source": SCREEN,
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        try:
            recording = Recording(path, metadata, audio=False)
        except (OSError, ValueError, av.FFmpegError):
            logger.exception("recording of a share in %s could not start", active.request_id)
            return
        share = _Share(recording, presenter, producer)
        active.shares.append(share)
        if producer.layer_streams:
            share.follower = LayerFollower(recording, producer)
            share.follower.attach()
            return
        record = _sink(recording, "video")

        def sink(seq: int, timestamp: int, marker: bool, payload: bytes) -> None:
            share.last_at = time.time()
            if share.first_at is None:
                share.first_at = share.last_at
            record(seq, timestamp, marker, payload)

        share.sink = sink
        producer.sinks.append(sink)
        producer.request_keyframe()

    def _stop_share(self, active: _Active, share: _Share) -> None:
        if share.sink is not None and share.sink in share.producer.sinks:
            share.producer.sinks.remove(share.sink)
        if share.follower is not None:
            share.follower.detach()
        try:
            recorded = share.recording.close()
            if recorded.path is None:
                logger.info("nothing to record of a share in %s", active.request_id)
                return
            entry = ShareRecordingEntry(
                name=recorded.path.name,
                request_id=active.request_id,
                delegation=active.delegation,
                presenter=share.presenter,
                started_at=share.first_at or recorded.started_at,
                ended_at=share.last_at or recorded.ended_at,
                video_frames=recorded.video_frames,
                bytes=recorded.path.stat().st_size,
            )
            self.catalogue.append(entry)
        except (OSError, ValueError, av.FFmpegError):
            logger.exception("recording of a share in %s could not be finished", active.request_id)
            return
        logger.info("recorded %s", entry.name)

    def stop(self, request_id: str) -> RecordingEntry | None:
        """End a recording; None if there was none, or nothing came to record.

        Never raises: stopping is a consequence of the floor ending, which must
        reach everyone whatever happens to the file.
        """
        active = self._active.pop(request_id, None)
        if active is None:
            return None
        for producer, sink in active.taps:
            if sink in producer.sinks:
                producer.sinks.remove(sink)
        for follower in active.followers:
            follower.detach()
        for share in active.shares:
            self._stop_share(active, share)
        try:
            recorded = active.recording.close()
            if recorded.path is None:
                logger.info("nothing to record for %s: no media came", request_id)
                return None
            entry = _entry(recorded, recorded.path)
            self.catalogue.append(entry)
        except (OSError, ValueError, av.FFmpegError):
            logger.exception("recording of %s could not be finished", request_id)
            return None
        logger.info("recorded %s", entry.name)
        return entry

    def followers(self, request_id: str) -> list[LayerFollower]:
        """The simulcast cameras of an intervention being recorded, and their layer now."""
        active = self._active.get(request_id)
        return list(active.followers) if active is not None else []

    def stop_all(self) -> None:
        for request_id in list(self._active):
            self.stop(request_id)

    @property
    def recording(self) -> frozenset[str]:
        return frozenset(self._active)

    def index(self) -> list[dict[str, object]]:
        """Every recording of the conference: interventions and channels."""
        return self.catalogue.entries()

    def file(self, name: str) -> Path | None:
        """The path of a listed recording (never anything else)."""
        return self.catalogue.file(name)


@dataclass
class _Channel:
    """A channel being recorded: its file and the producer it taps now."""

    language: str
    recording: Recording
    source: Producer | None = None
    sink: PacketSink | None = None
    interpreters: list[str] = field(default_factory=list)

    def tap(self, producer: Producer | None, interpreter: str | None) -> None:
        """Record ``producer`` from its next forwarded packet (None: nobody on air)."""
        if producer is self.source:
            return
        if self.source is not None and self.sink in self.source.sinks:
            self.source.sinks.remove(self.sink)
        self.source, self.sink = producer, None
        self.recording.audio_source(interpreter if producer is not None else None)
        if producer is None:
            return
        if interpreter is not None and interpreter not in self.interpreters:
            self.interpreters.append(interpreter)
        self.sink = _sink(self.recording, "audio")
        producer.sinks.append(self.sink)


class ChannelRecorder:
    """Each open channel's stream, as its listeners receive it, to a file of its own."""

    def __init__(self, catalogue: RecordingIndex) -> None:
        self.catalogue = catalogue
        self._channels: dict[str, _Channel] = {}  # by language

    def follow(self, channels: Mapping[str, tuple[Producer | None, str | None]]) -> None:
        """The channels to record now: language -> (producer on air, interpreter's name).

        A channel not in ``channels`` any more ends its file; a new one starts
        one; a changed producer is a handover inside the file. Never raises:
        recording follows the meeting, it must not stop it.
        """
        for language in [c for c in self._channels if c not in channels]:
            self.stop(language)
        for language, (producer, interpreter) in channels.items():
            channel = self._channels.get(language)
            if channel is None:
                try:
                    channel = self._start(language)
                except (OSError, ValueError, av.FFmpegError):
                    logger.exception("recording of the %s channel could not start", language)
                    continue
            channel.tap(producer if producer is None or not producer.closed else None, interpreter)

    def _start(self, language: str) -> _Channel:
        path = self.catalogue.new_file(f"channel-{language}-{secrets.token_hex(3)}")
        metadata = {
            "title": f"Channel {language}",
            "channel": language,
            "language": language,
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        channel = _Channel(language, Recording(path, metadata, video=False, language=language))
        self._channels[language] = channel
        return channel

    def stop(self, language: str) -> ChannelRecordingEntry | None:
        """End a channel's file; None if nothing came to record (no file is kept)."""
        channel = self._channels.pop(language, None)
        if channel is None:
            return None
        channel.tap(None, None)
        try:
            recorded = channel.recording.close()
            if recorded.path is None:
                logger.info("nothing to record for the %s channel: nobody spoke", language)
                return None
            entry = ChannelRecordingEntry(
                name=recorded.path.name,
                channel=language,
                interpreters=channel.interpreters,
                shifts=[
                    {"interpreter": c.title, "start": c.start_ms / 1000, "end": c.end_ms / 1000}
                    for c in recorded.chapters
                ],
                started_at=recorded.started_at,
                ended_at=recorded.ended_at,
                audio_frames=recorded.audio_frames,
                bytes=recorded.path.stat().st_size,
            )
            self.catalogue.append(entry)
        except (OSError, ValueError, av.FFmpegError):
            logger.exception("recording of the %s channel could not be finished", language)
            return None
        logger.info("recorded %s", entry.name)
        return entry

    def stop_all(self) -> None:
        for language in list(self._channels):
            self.stop(language)

    @property
    def recording(self) -> frozenset[str]:
        return frozenset(self._channels)


def _sink(recording: Recording, kind: str) -> PacketSink:
    if kind == "video":

        def video(seq: int, timestamp: int, marker: bool, payload: bytes) -> None:
            recording.video_packet(timestamp, marker, payload)

        return video

    def audio(seq: int, timestamp: int, marker: bool, payload: bytes) -> None:
        recording.audio_packet(timestamp, payload)

    return audio


def _entry(recorded: RecordedFile, path: Path) -> RecordingEntry:
    meta = recorded.metadata
    return RecordingEntry(
        name=path.name,
        request_id=meta["request_id"],
        delegation=meta["delegation"],
        speaker=meta["speaker"],
        started_at=recorded.started_at,
        ended_at=recorded.ended_at,
        video_frames=recorded.video_frames,
        audio_frames=recorded.audio_frames,
        bytes=path.stat().st_size,
    )
