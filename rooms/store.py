"""Where a conference's events live: the interface every store implements.

Each conference has its own log; sequence numbers are per conference, start at
1 and have no gaps. A store keeps events as JSON (`Event.to_dict`), so what it
reads back is what a browser or another node would see. The snapshot is a
cache of `Conference.snapshot()` tagged with the seq it reflects, for clients
and other nodes; the state itself is always rebuilt by replaying the log
(`load_conference`), which is exact.

The methods are async because real stores (Redis) do I/O; rooms/ itself does none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ._codec import JSON
from .conference import Conference
from .events import Event

__all__ = ["EventStore", "StoreConflict", "StoredEvent", "StoredSnapshot", "load_conference"]


@dataclass(frozen=True)
class StoredEvent:
    seq: int
    event: Event


@dataclass(frozen=True)
class StoredSnapshot:
    seq: int  # the last event the snapshot reflects
    snapshot: dict[str, JSON]


class StoreConflict(Exception):
    """Someone else appended first: reload, decide again, retry."""

    def __init__(self, conference_id: str, expected_seq: int, actual_seq: int) -> None:
        super().__init__(
            f"{conference_id}: expected last seq {expected_seq}, store has {actual_seq}"
        )
        self.conference_id = conference_id
        self.expected_seq = expected_seq
        self.actual_seq = actual_seq


class EventStore(Protocol):
    async def append(
        self, conference_id: str, events: Sequence[Event], *, expected_seq: int | None = None
    ) -> list[int]:
        """Append all or nothing; return the seqs given, in order.

        With `expected_seq` (the last seq the writer has seen), raise StoreConflict
        and append nothing if the log has moved on: the guard for two nodes that
        both believe they own the conference.
        """
        ...

    async def read(self, conference_id: str, after: int = 0) -> list[StoredEvent]:
        """Events with seq > `after`, in order (all of them by default)."""
        ...

    async def last_seq(self, conference_id: str) -> int:
        """The seq of the last event, 0 for an empty or unknown conference."""
        ...

    async def save_snapshot(
        self, conference_id: str, seq: int, snapshot: dict[str, JSON]
    ) -> None: ...

    async def load_snapshot(self, conference_id: str) -> StoredSnapshot | None: ...

    async def conferences(self) -> list[str]:
        """Ids of every conference with at least one event, in order of creation."""
        ...


async def load_conference(store: EventStore, conference_id: str) -> tuple[Conference, int]:
    """Rebuild a conference from its log: the state and the last seq applied."""
    stored = await store.read(conference_id)
    conference = Conference.replay(conference_id, (s.event for s in stored))
    return conference, stored[-1].seq if stored else 0
