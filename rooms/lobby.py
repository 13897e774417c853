"""The lobby: arrivals waiting for the chair, in arrival order."""

from __future__ import annotations

from collections.abc import Iterator

from .participant import Participant

__all__ = ["Lobby"]


class Lobby:
    def __init__(self) -> None:
        self._waiting: dict[str, Participant] = {}

    def copy(self) -> Lobby:
        lobby = Lobby()
        lobby._waiting = dict(self._waiting)
        return lobby

    def __contains__(self, participant_id: object) -> bool:
        return participant_id in self._waiting

    def __iter__(self) -> Iterator[Participant]:
        return iter(self._waiting.values())

    def __len__(self) -> int:
        return len(self._waiting)

    def get(self, participant_id: str) -> Participant | None:
        return self._waiting.get(participant_id)

    def add(self, participant: Participant) -> None:
        self._waiting[participant.participant_id] = participant

    def pop(self, participant_id: str) -> Participant:
        return self._waiting.pop(participant_id)
