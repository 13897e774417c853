"""The in-memory event store, held to the EventStore contract."""

from __future__ import annotations

import pytest
from test_rooms_support import T0, meeting_and_log

from rooms import (
    Conference,
    EventStore,
    GrantFloor,
    MemoryEventStore,
    RequestFloor,
    RoomLocked,
    RoomUnlocked,
    StoreConflict,
    load_conference,
)


def store() -> EventStore:
    return MemoryEventStore()


async def test_append_numbers_events_per_conference_from_one() -> None:
    events = store()
    lock, unlock = RoomLocked(at=T0, actor="chair"), RoomUnlocked(at=T0 + 1, actor="chair")
    assert await events.append("a", [lock, unlock]) == [1, 2]
    assert await events.append("b", [lock]) == [1]
    assert await events.append("a", [lock]) == [3]
    assert await events.last_seq("a") == 3 and await events.last_seq("b") == 1
    assert await events.last_seq("unknown") == 0
    assert await events.conferences() == ["a", "b"]


async def test_read_all_or_after_a_seq() -> None:
    events = store()
    log = [RoomLocked(at=T0 + i, actor="chair") for i in range(5)]
    await events.append("a", log)
    stored = await events.read("a")
    assert [s.seq for s in stored] == [1, 2, 3, 4, 5] and [s.event for s in stored] == log
    assert [s.seq for s in await events.read("a", after=3)] == [4, 5]
    assert await events.read("a", after=5) == []
    assert await events.read("unknown") == []


async def test_expected_seq_guards_against_a_second_writer() -> None:
    events = store()
    lock = RoomLocked(at=T0, actor="chair")
    assert await events.append("a", [lock], expected_seq=0) == [1]
    with pytest.raises(StoreConflict) as caught:
        await events.append("a", [lock, lock], expected_seq=0)
    assert (caught.value.expected_seq, caught.value.actual_seq) == (0, 1)
    assert await events.last_seq("a") == 1  # nothing appended
    assert await events.append("a", [lock], expected_seq=1) == [2]


async def test_empty_append_changes_nothing() -> None:
    events = store()
    assert await events.append("a", []) == []
    assert await events.conferences() == [] and await events.last_seq("a") == 0


async def test_snapshot_save_and_load() -> None:
    events = store()
    assert await events.load_snapshot("a") is None
    conference, _ = meeting_and_log()
    await events.save_snapshot("a", 7, conference.snapshot())
    saved = await events.load_snapshot("a")
    assert saved is not None and saved.seq == 7 and saved.snapshot == conference.snapshot()


async def test_a_conference_is_rebuilt_from_its_log() -> None:
    events = store()
    conference, log = meeting_and_log(default_time_limit=60.0)
    log += conference.execute(RequestFloor("hn"), "hn_head", T0 + 1)
    log += conference.execute(GrantFloor("r1"), "chair", T0 + 2)
    await events.append("c1", log)
    loaded, seq = await load_conference(events, "c1")
    assert seq == len(log)
    assert loaded == conference and loaded.next_deadline() == conference.next_deadline()
    empty, seq = await load_conference(events, "nothing")
    assert seq == 0 and empty == Conference("nothing")
