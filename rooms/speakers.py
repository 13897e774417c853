"""The speakers list: accepted floor requests in the order they will be heard."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from .priority import Priority

__all__ = ["SpeakersList"]


class SpeakersList:
    """Request ids in order; positions are 1-based and always contiguous."""

    def __init__(self) -> None:
        self._ids: list[str] = []

    def copy(self) -> SpeakersList:
        speakers = SpeakersList()
        speakers._ids = list(self._ids)
        return speakers

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, request_id: object) -> bool:
        return request_id in self._ids

    def position(self, request_id: str) -> int:
        return self._ids.index(request_id) + 1

    def place_for(self, priority: Priority, priority_of: Callable[[str], Priority]) -> int:
        """Where a new request goes: right after the last one of equal or higher priority.

        It never overtakes an equal or higher request and goes ahead of every
        lower one behind those; without chair reordering the list stays sorted
        by priority, then by time of acceptance.
        """
        position = 1
        for index, request_id in enumerate(self._ids):
            if priority_of(request_id).rank <= priority.rank:
                position = index + 2
        return position

    def insert(self, request_id: str, position: int) -> None:
        self._ids.insert(position - 1, request_id)

    def remove(self, request_id: str) -> None:
        self._ids.remove(request_id)

    def move(self, request_id: str, position: int) -> None:
        self._ids.remove(request_id)
        self._ids.insert(position - 1, request_id)
