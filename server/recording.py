"""Recording the floor: one Matroska file per intervention, while the chair says so.

The service calls :meth:`FloorRecorder.start` when a delegation is granted the
floor (or when recording starts while it holds it) and :meth:`stop` when the
floor ends. The recorder taps the speaker's producers: it sees exactly the
packets the SFU forwards, and never decodes them.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import av

from media.producer import PacketSink, Producer
from media.recorder import RecordedFile, Recording

logger = logging.getLogger(__name__)

SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class RecordingEntry:
    """One line of the recordings index."""

    name: str
    request_id: str
    delegation: str
    speaker: str
    started_at: float
    ended_at: float
    video_frames: int
    audio_frames: int
    bytes: int


@dataclass
class _Active:
    recording: Recording
    speakers: frozenset[str]  # participant ids whose producers are recorded
    request_id: str
    taps: list[tuple[Producer, PacketSink]]


class FloorRecorder:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
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
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        name = SAFE.sub("-", f"{stamp}-{request_id}-{delegation}")[:120] + ".mkv"
        metadata = {
            "title": f"{delegation}: {speaker}",
            "delegation": delegation,
            "speaker": speaker,
            "request_id": request_id,
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        video = any(p.kind == "video" for p in producers)
        active = _Active(
            Recording(self.directory / name, metadata, video=video), speakers, request_id, []
        )
        self._active[request_id] = active
        for producer in producers:
            self.attach(producer)

    def attach(self, producer: Producer) -> None:
        """Tap a producer of a speaker being recorded (also when published late)."""
        for active in self._active.values():
            if producer.owner not in active.speakers:
                continue
            if any(p is producer for p, _ in active.taps):
                continue
            sink = _sink(active.recording, producer.kind)
            producer.sinks.append(sink)
            active.taps.append((producer, sink))
            if producer.kind == "video":
                producer.request_keyframe()  # the file starts at a keyframe

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
        try:
            recorded = active.recording.close()
            if recorded.path is None:
                logger.info("nothing to record for %s: no media came", request_id)
                return None
            entry = _entry(recorded, recorded.path)
            self._append_to_index(entry)
        except (OSError, ValueError, av.FFmpegError):
            logger.exception("recording of %s could not be finished", request_id)
            return None
        logger.info("recorded %s", entry.name)
        return entry

    def stop_all(self) -> None:
        for request_id in list(self._active):
            self.stop(request_id)

    @property
    def recording(self) -> frozenset[str]:
        return frozenset(self._active)

    def index(self) -> list[dict[str, object]]:
        path = self.directory / "index.json"
        if not path.exists():
            return []
        entries: list[dict[str, object]] = json.loads(path.read_text(encoding="utf-8"))
        return entries

    def file(self, name: str) -> Path | None:
        """The path of a listed recording (never anything else)."""
        if any(e["name"] == name for e in self.index()):
            return self.directory / name
        return None

    def _append_to_index(self, entry: RecordingEntry) -> None:
        entries = [*self.index(), asdict(entry)]
        path = self.directory / "index.json"
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(entries, ensure_ascii=False, indent=2), encoding="utf-8")
        temporary.replace(path)


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
