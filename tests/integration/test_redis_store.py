"""The Redis event store against a real redis-server.

The first half is the EventStore contract, run against the memory store (the
reference), the Redis one and the shared one of `--workers N`
(cluster.shared_store); the rest is what only Redis has: several writers,
retries, restarts, outages.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from cluster.redis_store import AppendTooLate, RedisEventStore, StoreUnavailable, connect
from cluster.shared_store import SharedEventStore, StoreServer
from rooms import (
    SYSTEM,
    AddDelegation,
    AdmitFromLobby,
    CancelRequest,
    Command,
    Conference,
    CreateConference,
    Event,
    EventStore,
    GrantFloor,
    JoinConference,
    LeaveConference,
    MemoryEventStore,
    MuteParticipant,
    ReleaseFloor,
    RequestFloor,
    Role,
    RoomLocked,
    RoomUnlocked,
    Settings,
    StoreConflict,
    load_conference,
)
from tests.integration.redis_server import RedisServer, running_redis

T0 = 1_760_000_000.0
TIMEOUT = 5.0


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with running_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
async def redis_client(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    client = connect(redis_server.url)
    yield client
    await client.aclose()


def fresh_prefix() -> str:
    """Tests share one server; each keeps to its own keys."""
    return f"test-{uuid4().hex[:12]}"


@pytest.fixture(params=["memory", "redis", "shared"])
async def store(
    request: pytest.FixtureRequest, redis_client: aioredis.Redis, tmp_path: Path
) -> AsyncIterator[EventStore]:
    if request.param == "memory":
        yield MemoryEventStore()
    elif request.param == "redis":
        yield RedisEventStore(redis_client, prefix=fresh_prefix())
    else:  # the front's store of `--workers N`, reached over its Unix socket
        server = StoreServer(tmp_path / "store.sock")
        await server.start()
        shared = SharedEventStore(server.path)
        try:
            yield shared
        finally:
            shared.close()
            await server.close()


def locks(count: int, start: float = T0) -> list[Event]:
    return [
        (RoomLocked if i % 2 == 0 else RoomUnlocked)(at=start + i, actor="chair")
        for i in range(count)
    ]


def session() -> tuple[Conference, list[Event]]:
    """A conference run with real commands: lobby, floor requests, grants, time events."""
    conference = Conference("c1")
    log: list[Event] = []

    def run(command: Command, actor: str, now: float) -> list[Event]:
        events = conference.execute(command, actor, now)
        log.extend(events)
        return events

    def request(delegation_id: str, actor: str, now: float) -> str:
        request_id: str = run(RequestFloor(delegation_id), actor, now)[0].request_id  # type: ignore[attr-defined]
        return request_id

    settings = Settings(default_time_limit=60.0, warning_before=10.0, grace_period=5.0)
    run(CreateConference("Consejo Permanente", settings), SYSTEM, T0)
    for delegation_id, name, code in [("hn", "Honduras", "HN"), ("gt", "Guatemala", "GT")]:
        run(AddDelegation(delegation_id, name, code), SYSTEM, T0)
    people = [
        ("chair", "Presidencia", Role.CHAIR, None),
        ("hn_head", "Canciller de Honduras", Role.HEAD, "hn"),
        ("gt_head", "Canciller de Guatemala", Role.HEAD, "gt"),
        ("obs", "Observadora", Role.OBSERVER, None),
    ]
    for participant_id, name, role, member_of in people:
        run(JoinConference(participant_id, name, role, member_of), participant_id, T0 + 1)
        if participant_id in conference.lobby:
            run(AdmitFromLobby(participant_id), "chair", T0 + 2)
    hn, gt = request("hn", "hn_head", T0 + 10), request("gt", "gt_head", T0 + 11)
    run(GrantFloor(hn), "chair", T0 + 12)
    due = conference.tick(T0 + 12 + 55)  # the warning, 10 s before the limit
    conference.apply_all(due)
    log.extend(due)
    run(ReleaseFloor(hn), "hn_head", T0 + 70)
    run(CancelRequest(gt, reason="retira la solicitud"), "gt_head", T0 + 71)
    run(MuteParticipant("gt_head", reason="ruido"), "chair", T0 + 72)
    run(GrantFloor(request("gt", "gt_head", T0 + 73), time_limit=30.0), "chair", T0 + 74)
    run(LeaveConference("obs"), "obs", T0 + 80)
    return conference, log


# The EventStore contract ----------------------------------------------------------


async def test_append_numbers_events_per_conference_from_one(store: EventStore) -> None:
    lock, unlock = locks(2)
    assert await store.append("a", [lock, unlock]) == [1, 2]
    assert await store.append("b", [lock]) == [1]
    assert await store.append("a", [lock]) == [3]
    assert await store.last_seq("a") == 3 and await store.last_seq("b") == 1
    assert await store.last_seq("unknown") == 0


async def test_read_all_or_after_a_seq(store: EventStore) -> None:
    log = locks(5)
    await store.append("a", log)
    stored = await store.read("a")
    assert [s.seq for s in stored] == [1, 2, 3, 4, 5] and [s.event for s in stored] == log
    assert [s.seq for s in await store.read("a", after=3)] == [4, 5]
    assert [s.seq for s in await store.read("a", after=-1)] == [1, 2, 3, 4, 5]
    assert await store.read("a", after=5) == [] and await store.read("a", after=9) == []
    assert await store.read("unknown") == []


async def test_seqs_are_contiguous_across_batches_and_read_pages(store: EventStore) -> None:
    log = locks(2500)
    seqs: list[int] = []
    for start, end in [(0, 1), (1, 8), (8, 1008), (1008, 2500)]:
        seqs += await store.append("a", log[start:end], expected_seq=start)
    assert seqs == list(range(1, 2501))
    stored = await store.read("a")
    assert [s.seq for s in stored] == seqs and [s.event for s in stored] == log
    assert [s.seq for s in await store.read("a", after=999)] == list(range(1000, 2501))
    assert await store.last_seq("a") == 2500


async def test_expected_seq_guards_against_a_second_writer(store: EventStore) -> None:
    lock, unlock = locks(2)
    assert await store.append("a", [lock], expected_seq=0) == [1]
    with pytest.raises(StoreConflict) as caught:
        await store.append("a", [lock, unlock], expected_seq=0)
    assert (caught.value.conference_id, caught.value.expected_seq) == ("a", 0)
    assert caught.value.actual_seq == 1
    for wrong in [2, -1]:  # ahead of the log is wrong too
        with pytest.raises(StoreConflict):
            await store.append("a", [unlock], expected_seq=wrong)
    assert [s.event for s in await store.read("a")] == [lock]  # nothing appended
    assert await store.append("a", [unlock], expected_seq=1) == [2]


async def test_empty_append_changes_nothing(store: EventStore) -> None:
    assert await store.append("a", []) == []
    assert await store.append("a", [], expected_seq=0) == []
    with pytest.raises(StoreConflict):
        await store.append("a", [], expected_seq=3)
    assert await store.conferences() == [] and await store.last_seq("a") == 0


async def test_a_batch_with_an_unencodable_event_appends_nothing(store: EventStore) -> None:
    await store.append("a", locks(1))
    bad = [*locks(3), RoomLocked(at=math.nan, actor="chair")]
    with pytest.raises(ValueError):
        await store.append("a", bad)
    with pytest.raises(ValueError):
        await store.append("b", bad)
    assert await store.last_seq("a") == 1 and await store.conferences() == ["a"]


async def test_snapshot_round_trip(store: EventStore) -> None:
    assert await store.load_snapshot("c1") is None
    conference, log = session()
    await store.save_snapshot("c1", len(log), conference.snapshot())
    saved = await store.load_snapshot("c1")
    assert saved is not None and saved.seq == len(log)
    assert saved.snapshot == conference.snapshot()
    await store.save_snapshot("c1", 3, {"title": "newer"})
    saved = await store.load_snapshot("c1")
    assert saved is not None and (saved.seq, saved.snapshot) == (3, {"title": "newer"})
    assert await store.load_snapshot("other") is None
    with pytest.raises(ValueError):
        await store.save_snapshot("c1", 4, {"x": math.inf})


async def test_conferences_in_order_of_creation(store: EventStore) -> None:
    for conference_id in ["zeta", "alpha", "mid", "alpha", "zeta", "omega"]:
        await store.append(conference_id, locks(1))
    assert await store.conferences() == ["zeta", "alpha", "mid", "omega"]


async def test_ids_that_look_like_keys_stay_apart(store: EventStore) -> None:
    await store.append("a", locks(1))
    await store.append("a:events", locks(2))
    await store.append("a:snapshot", locks(3))
    assert [await store.last_seq(c) for c in ["a", "a:events", "a:snapshot"]] == [1, 2, 3]
    assert await store.conferences() == ["a", "a:events", "a:snapshot"]


async def test_a_conference_session_is_rebuilt_from_its_log(store: EventStore) -> None:
    conference, log = session()
    assert len({type(event) for event in log}) >= 10  # a varied log
    half = len(log) // 2
    await store.append("c1", log[:half], expected_seq=0)
    await store.append("c1", log[half:], expected_seq=half)
    assert [s.event for s in await store.read("c1")] == log
    loaded, seq = await load_conference(store, "c1")
    assert seq == len(log)
    assert loaded == conference and loaded.snapshot() == conference.snapshot()
    assert loaded.next_deadline() == conference.next_deadline()
    empty, seq = await load_conference(store, "nothing")
    assert seq == 0 and empty == Conference("nothing")


# Redis only -----------------------------------------------------------------------


async def test_redis_key_layout_and_encoding(redis_client: aioredis.Redis) -> None:
    """The layout documented in cluster/redis_store.py, with the memory store's JSON."""
    prefix = fresh_prefix()
    store = RedisEventStore(redis_client, prefix=prefix)
    _, log = session()
    await store.append("c1", log[:3])
    await store.append("c2", log[:1])
    await store.save_snapshot("c1", 3, {"title": "Consejo"})
    entries: Any = await redis_client.xrange(f"{prefix}:conf:c1:events")
    assert [entry_id for entry_id, _ in entries] == [b"1-0", b"2-0", b"3-0"]
    for (_, fields), event in zip(entries, log[:3], strict=True):
        assert fields[b"event"].decode() == json.dumps(event.to_dict(), allow_nan=False)
    assert b"batch" in entries[-1][1] and b"batch" not in entries[0][1]
    snapshot: Any = await redis_client.get(f"{prefix}:conf:c1:snapshot")
    assert json.loads(snapshot) == {"seq": 3, "snapshot": {"title": "Consejo"}}
    ranked = await redis_client.zrange(f"{prefix}:conferences", 0, -1, withscores=True)
    assert ranked == [(b"c1", 1.0), (b"c2", 2.0)]
    assert sorted(await redis_client.keys(f"{prefix}:*")) == sorted(
        f"{prefix}:{key}".encode()
        for key in ["conf:c1:events", "conf:c2:events", "conf:c1:snapshot", "conferences"]
    )


async def test_works_with_decoded_responses(redis_server: RedisServer) -> None:
    client = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    try:
        store = RedisEventStore(client, prefix=fresh_prefix())
        conference, log = session()
        await store.append("c1", log)
        await store.save_snapshot("c1", len(log), conference.snapshot())
        assert (await load_conference(store, "c1"))[0] == conference
        assert await store.last_seq("c1") == len(log) and await store.conferences() == ["c1"]
        saved = await store.load_snapshot("c1")
        assert saved is not None and saved.snapshot == conference.snapshot()
    finally:
        await client.aclose()


@pytest.fixture
async def two_nodes(
    redis_server: RedisServer,
) -> AsyncIterator[tuple[RedisEventStore, RedisEventStore]]:
    """Two stores on separate connections, as two nodes would have."""
    prefix = fresh_prefix()
    first, second = connect(redis_server.url), connect(redis_server.url)
    yield RedisEventStore(first, prefix), RedisEventStore(second, prefix)
    await first.aclose()
    await second.aclose()


async def test_two_appenders_with_the_same_expected_seq_exactly_one_wins(
    two_nodes: tuple[RedisEventStore, RedisEventStore],
) -> None:
    a, b = two_nodes
    expected: list[Event] = []
    for round_ in range(30):
        mine = locks(3, start=T0 + 10 * round_)
        theirs = [RoomUnlocked(at=T0 + 10 * round_ + 5, actor="other")]
        seq = len(expected)
        results = await asyncio.gather(
            a.append("c1", mine, expected_seq=seq),
            b.append("c1", theirs, expected_seq=seq),
            return_exceptions=True,
        )
        winners = [r for r in results if isinstance(r, list)]
        losers = [r for r in results if isinstance(r, StoreConflict)]
        assert len(winners) == 1 and len(losers) == 1, results
        winner = mine if results[0] == winners[0] else theirs
        assert winners[0] == list(range(seq + 1, seq + 1 + len(winner)))
        assert losers[0].expected_seq == seq and losers[0].actual_seq == seq + len(winner)
        expected += winner
    assert [s.event for s in await b.read("c1")] == expected


async def test_competing_writers_that_reload_and_retry_never_fork_the_log(
    redis_server: RedisServer,
) -> None:
    prefix, writers, each = fresh_prefix(), 6, 15
    clients = [connect(redis_server.url) for _ in range(writers)]
    try:
        stores = [RedisEventStore(client, prefix) for client in clients]

        async def writer(index: int, store: RedisEventStore) -> int:
            conflicts = 0
            for i in range(each):
                event = RoomLocked(at=T0 + i, actor=f"w{index}")
                while True:
                    seq = await store.last_seq("c1")
                    try:
                        await store.append("c1", [event, event], expected_seq=seq)
                        break
                    except StoreConflict:
                        conflicts += 1
            return conflicts

        await asyncio.gather(*(writer(i, s) for i, s in enumerate(stores)))
        stored = await stores[0].read("c1")
        assert [s.seq for s in stored] == list(range(1, 2 * writers * each + 1))
        pairs = [stored[i : i + 2] for i in range(0, len(stored), 2)]
        assert all(x.event == y.event for x, y in pairs)  # batches never interleave
        by_writer = sorted((p[0].event.actor, p[0].event.at) for p in pairs)
        expected = sorted((f"w{w}", T0 + i) for w in range(writers) for i in range(each))
        assert by_writer == expected  # every batch exactly once
    finally:
        for client in clients:
            await client.aclose()


async def test_a_retried_batch_is_applied_once(redis_client: aioredis.Redis) -> None:
    """What redis-py's automatic resend after a lost reply amounts to."""
    store = RedisEventStore(redis_client, fresh_prefix())
    batch = [json.dumps(e.to_dict(), allow_nan=False) for e in locks(3)]
    first = await store._append_encoded("c1", batch, expected_seq=0, token="t1")
    again = await store._append_encoded("c1", batch, expected_seq=0, token="t1")
    assert first == again == [1, 2, 3] and await store.last_seq("c1") == 3
    with pytest.raises(StoreConflict):  # the same events from another call do conflict
        await store._append_encoded("c1", batch, expected_seq=0, token="t2")
    unguarded = await store._append_encoded("c1", batch[:2], expected_seq=None, token="t3")
    assert unguarded == await store._append_encoded("c1", batch[:2], expected_seq=None, token="t3")
    assert unguarded == [4, 5] and await store.last_seq("c1") == 5
    assert await store._append_encoded("c1", batch[:1], expected_seq=None, token="t4") == [6]


async def test_a_batch_run_past_its_deadline_is_refused(redis_client: aioredis.Redis) -> None:
    """What a Redis frozen past the deadline does with the batch when it wakes."""
    store = RedisEventStore(redis_client, fresh_prefix())
    batch = [json.dumps(e.to_dict(), allow_nan=False) for e in locks(2)]
    with pytest.raises(AppendTooLate):
        await store._append_encoded("c1", batch, expected_seq=0, token="t1", budget=-1.0)
    assert await store.last_seq("c1") == 0 and await store.conferences() == []
    # Within the deadline it goes through; its resend still finds it applied.
    assert await store._append_encoded("c1", batch, expected_seq=0, token="t1") == [1, 2]
    again = await store._append_encoded("c1", batch, expected_seq=0, token="t1", budget=-1.0)
    assert again == [1, 2] and await store.last_seq("c1") == 2


async def test_data_survives_a_redis_restart_with_appendonly(tmp_path: Path) -> None:
    conference, log = session()
    with running_redis(tmp_path, appendonly=True) as server:
        client = connect(server.url)
        try:
            store = RedisEventStore(client)
            await store.append("c1", log[:-1], expected_seq=0)
            await store.append("c2", locks(2))
            await store.append("c1", log[-1:], expected_seq=len(log) - 1)
            await store.save_snapshot("c1", len(log), conference.snapshot())

            server.restart()  # SIGKILL: no shutdown save; the append-only file only

            # The same client reconnects, and reloads the append script Redis forgot.
            loaded, seq = await load_conference(store, "c1")
            assert seq == len(log) and loaded == conference
            assert await store.conferences() == ["c1", "c2"]
            saved = await store.load_snapshot("c1")
            assert saved is not None and saved.seq == len(log)
            assert saved.snapshot == conference.snapshot()
            assert await store.append("c1", locks(1), expected_seq=len(log)) == [len(log) + 1]
            with pytest.raises(StoreConflict):
                await store.append("c1", locks(1), expected_seq=len(log))
        finally:
            await client.aclose()


async def time_it(call: Callable[[], Awaitable[object]]) -> tuple[BaseException, float]:
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(StoreUnavailable) as caught:
        await call()
    return caught.value, loop.time() - started


async def test_redis_down_raises_store_unavailable_and_recovers(tmp_path: Path) -> None:
    with running_redis(tmp_path) as server:
        client = connect(server.url, timeout=1.0)
        try:
            store = RedisEventStore(client)
            await store.append("c1", locks(2))
            server.kill()
            calls: list[Callable[[], Awaitable[object]]] = [
                lambda: store.append("c1", locks(1), expected_seq=2),
                lambda: store.append("c1", []),
                lambda: store.read("c1"),
                lambda: store.last_seq("c1"),
                lambda: store.save_snapshot("c1", 2, {}),
                lambda: store.load_snapshot("c1"),
                lambda: store.conferences(),
            ]
            for call in calls:
                error, took = await time_it(call)
                assert isinstance(error.__cause__, RedisConnectionError)
                assert took < TIMEOUT  # bounded retries: an outage shows within seconds
            server.start()  # back, empty (no persistence in this one)
            assert await store.last_seq("c1") == 0
            assert await store.append("c1", locks(1), expected_seq=0) == [1]
        finally:
            await client.aclose()


async def test_an_unreachable_redis_is_unavailable_from_the_start() -> None:
    from tests.integration.redis_server import free_port

    client = connect(f"redis://127.0.0.1:{free_port()}/0", timeout=0.5)
    try:
        with pytest.raises(StoreUnavailable):
            await RedisEventStore(client).last_seq("c1")
    finally:
        await client.aclose()


# The shared store of `--workers N` (cluster.shared_store) ------------------------


async def test_the_shared_store_outlives_its_writer_and_fails_clearly_without_the_front(
    tmp_path: Path,
) -> None:
    server = StoreServer(tmp_path / "store.sock")
    await server.start()
    writer = SharedEventStore(server.path)
    assert await writer.append("a", locks(3)) == [1, 2, 3]
    # The writer's process dies (its socket cut mid-request): what it was
    # answered stays, a half-sent line changes nothing.
    _, raw = await asyncio.open_unix_connection(server.path)
    raw.write(b'{"id": 1, "op": "append", "conference": "a", "events": [')
    await raw.drain()
    raw.close()
    writer.close()
    successor = SharedEventStore(server.path)
    assert [s.seq for s in await successor.read("a")] == [1, 2, 3]
    assert await successor.append("a", locks(1), expected_seq=3) == [4]
    with pytest.raises(StoreConflict):
        await successor.append("a", locks(1), expected_seq=3)
    await server.close()
    server.path.unlink()
    with pytest.raises(StoreUnavailable):
        await successor.last_seq("a")
    successor.close()


async def test_the_shared_store_refuses_a_bad_request_and_keeps_serving(tmp_path: Path) -> None:
    server = StoreServer(tmp_path / "store.sock")
    await server.start()
    reader, raw = await asyncio.open_unix_connection(server.path)
    for line in (b"not json\n", b'{"id": 7, "op": "drop_all"}\n', b'{"id": 8, "op": "read"}\n'):
        raw.write(line)
        answer = json.loads(await reader.readline())
        assert answer["error"]["kind"] == "bad_request", answer
    raw.write(b'{"id": 9, "op": "conferences"}\n')
    assert json.loads(await reader.readline()) == {"id": 9, "ok": []}
    raw.close()
    await server.close()
