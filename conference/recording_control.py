"""The chair's recording of a live conference: which recorders run, and on what.

While the chair records, each intervention is recorded from its speaker's
producers (conference/recording.py's FloorRecorder), and each open language
channel as its listeners hear it (ChannelRecorder).
"""

from __future__ import annotations

from pathlib import Path

from media.producer import Producer
from media.router import Router
from rooms import Conference
from rooms.events import (
    ConferenceClosed,
    Event,
    FloorGranted,
    FloorReleased,
    FloorRevoked,
    RecordingStarted,
    RecordingStopped,
)

from .recording import ChannelRecorder, FloorRecorder


class ConferenceRecording:
    """Starts and stops the recorders as the floor, the channels and the chair say."""

    def __init__(self, state: Conference, router: Router, folder: Path) -> None:
        self.state = state
        self.router = router
        self.recorder = FloorRecorder(folder)
        self.channel_recorder = ChannelRecorder(self.recorder.catalogue)

    def apply(self, event: Event) -> None:
        """What an applied event means for the recorders."""
        match event:
            case RecordingStarted():
                for request in self.state.floor.holders():
                    self.record(request.request_id)
            case FloorGranted(request_id=rid) if self.state.recording:
                self.record(rid)
            case FloorReleased(request_id=rid) | FloorRevoked(request_id=rid):
                self.recorder.stop(rid)
            case RecordingStopped() | ConferenceClosed():
                self.stop_all()

    def record(self, request_id: str) -> None:
        """Start recording an intervention: its speaker, or its delegation's members."""
        request = self.state.floor.requests[request_id]
        delegation = self.state.delegations[request.delegation_id]
        if request.speaker_id is not None:
            speakers = frozenset({request.speaker_id})
        else:
            speakers = frozenset(
                p.participant_id for p in self.state.members(delegation.delegation_id)
            )
        names = [self.state.participants[p].name for p in speakers if p in self.state.participants]
        producers = [p for s in speakers for p in self.router.producers_of(s)]
        self.recorder.start(
            request_id, delegation.name, speakers, ", ".join(names) or delegation.name, producers
        )

    def record_channels(self, on_air: dict[str, Producer | None]) -> None:
        """While the chair records, each open channel is recorded as its listeners hear it."""
        state = self.state
        if not state.recording or state.closed:
            self.channel_recorder.stop_all()
            return
        active = state.interpretation.active_interpreters()
        names = {
            language: state.participants[pid].name if pid in state.participants else None
            for language, pid in active.items()
        }
        self.channel_recorder.follow(
            {
                language: (on_air.get(language), names.get(language))
                for language in state.interpretation.open_channels()
            }
        )

    def stop_all(self) -> None:
        self.recorder.stop_all()
        self.channel_recorder.stop_all()


__all__ = ["ConferenceRecording"]
