"""The in-memory EventStore: the default, and the reference for the Redis one."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ._codec import JSON
from .events import Event
from .store import EventStore, StoreConflict, StoredEvent, StoredSnapshot

__all__ = ["MemoryEventStore"]


class MemoryEventStore:
    """Keeps JSON text, as Redis would, so nothing unserialisable slips through."""

    def __init__(self) -> None:
        self._logs: dict[str, list[str]] = {}
        self._snapshots: dict[str, tuple[int, str]] = {}

    async def append(
        self, conference_id: str, events: Sequence[Event], *, expected_seq: int | None = None
    ) -> list[int]:
        log = self._logs.get(conference_id, [])
        if expected_seq is not None and expected_seq != len(log):
            raise StoreConflict(conference_id, expected_seq, len(log))
        encoded = [json.dumps(event.to_dict(), allow_nan=False) for event in events]
        if not encoded:
            return []
        first = len(log) + 1
        self._logs.setdefault(conference_id, log).extend(encoded)
        return list(range(first, first + len(encoded)))

    async def read(self, conference_id: str, after: int = 0) -> list[StoredEvent]:
        log = self._logs.get(conference_id, [])
        start = max(after, 0)
        return [
            StoredEvent(seq, Event.from_dict(json.loads(text)))
            for seq, text in enumerate(log[start:], start=start + 1)
        ]

    async def last_seq(self, conference_id: str) -> int:
        return len(self._logs.get(conference_id, []))

    async def save_snapshot(self, conference_id: str, seq: int, snapshot: dict[str, JSON]) -> None:
        self._snapshots[conference_id] = (seq, json.dumps(snapshot, allow_nan=False))

    async def load_snapshot(self, conference_id: str) -> StoredSnapshot | None:
        saved = self._snapshots.get(conference_id)
        if saved is None:
            return None
        seq, text = saved
        snapshot: dict[str, JSON] = json.loads(text)
        return StoredSnapshot(seq, snapshot)

    async def conferences(self) -> list[str]:
        return list(self._logs)


if TYPE_CHECKING:  # mypy checks that the memory store satisfies the interface
    _store: EventStore = MemoryEventStore()
