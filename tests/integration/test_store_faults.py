"""The event store misbehaving under a running meeting: frozen, emptied, moved on.

Real redis-server processes, frozen with SIGSTOP or killed and restarted
without their data, under a node with real clients.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from client import ClientError, PalabraClient
from cluster.redis_store import RedisEventStore, connect
from rooms import Conference, GrantFloor, Settings
from rooms.events import FloorRequested
from signaling import MonitorAlert, RoomUpdate

from .conftest import RunningServer, demo_plan, running_server
from .media_tracks import ToneTrack
from .redis_server import RedisServer, running_redis

MEETING = Settings(lobby_enabled=False, grace_period=0.0)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    (tmp_path / "redis").mkdir()
    with running_redis(tmp_path / "redis", appendonly=True) as server:
        yield server


@pytest.fixture
async def node(redis_server: RedisServer, tmp_path: Path) -> AsyncIterator[RunningServer]:
    async with running_server(
        [demo_plan(MEETING)],
        redis_url=redis_server.url,
        node_id="alpha",
        node_ttl=1.5,
        recordings=tmp_path / "recordings",
    ) as server:
        yield server


@pytest.fixture
async def clients(node: RunningServer) -> AsyncIterator[list[PalabraClient]]:
    joined: list[PalabraClient] = []
    yield joined
    for client in joined:
        await client.close()


async def join(
    node: RunningServer,
    clients: list[PalabraClient],
    name: str,
    delegation: str | None,
    role: str = "head",
) -> PalabraClient:
    client = PalabraClient(
        node.ws_url,
        node.token(role, name, delegation, participant=name),
        media_addresses=["127.0.0.1"],
        decode=False,
    )
    clients.append(client)
    await client.join()
    return client


async def stored_types(redis_server: RedisServer) -> list[str]:
    store = RedisEventStore(connect(redis_server.url))
    try:
        return [s.event.type for s in await store.read("demo")]
    finally:
        await store.client.aclose()


async def ready(http: aiohttp.ClientSession) -> bool:
    async with http.get("/readyz") as response:
        return response.status == 200


async def wait_ready(http: aiohttp.ClientSession, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not await ready(http):
        assert time.monotonic() < deadline, "not ready again"
        await asyncio.sleep(0.1)


async def retried(client: PalabraClient, kind: str, **fields: object) -> RoomUpdate:
    """A command retried while refused `unavailable`, as a client does."""
    deadline = time.monotonic() + 5
    while True:
        try:
            return await client.command(kind, **fields)
        except ClientError as refused:
            if refused.error.code != "unavailable" or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


def holders(client: PalabraClient) -> list[str]:
    return [h["delegation_id"] for h in client.room.get("holders", [])]


async def test_a_grant_refused_while_redis_is_frozen_is_never_applied(
    node: RunningServer, redis_server: RedisServer, clients: list[PalabraClient]
) -> None:
    chair = await join(node, clients, "Presidencia", None, "chair")
    speaker = await join(node, clients, "Canciller", "gt")
    update = await speaker.command("floor.request", delegation_id="gt")
    [request] = [e for e in update.events if e["type"] == "floor.requested"]
    http = aiohttp.ClientSession(f"http://127.0.0.1:{node.port}")
    try:
        redis_server.freeze()
        try:
            started = time.monotonic()
            with pytest.raises(ClientError) as refused:
                await chair.command("floor.grant", request_id=request["request_id"])
            assert refused.value.error.code == "unavailable"
            refused_after = time.monotonic() - started
            # A second command does not queue behind the first for the store's timeout.
            started = time.monotonic()
            with pytest.raises(ClientError) as again:
                await speaker.command("floor.cancel", request_id=request["request_id"])
            assert again.value.error.code == "unavailable"
            again_after = time.monotonic() - started
            started = time.monotonic()
            assert not await ready(http)
            ready_after = time.monotonic() - started
            await asyncio.sleep(1.5)  # Redis stays frozen past the append's deadline
        finally:
            redis_server.thaw()
        assert refused_after < 3.0 and again_after < 1.5 and ready_after < 1.0
        await wait_ready(http)
        # "Nothing changed" was true: Redis, woken up, refused the late batch.
        assert "floor.granted" not in await stored_types(redis_server)
        assert holders(chair) == []
        granted = await retried(chair, "floor.grant", request_id=request["request_id"])
        assert [e["type"] for e in granted.events] == ["floor.granted"]
        await chair.wait_for(lambda: holders(chair) == ["gt"])
        assert (await stored_types(redis_server)).count("floor.granted") == 1
    finally:
        await http.close()


async def test_events_another_writer_appended_are_carried_out(
    node: RunningServer, redis_server: RedisServer, clients: list[PalabraClient]
) -> None:
    chair = await join(node, clients, "Presidencia", None, "chair")
    speaker = await join(node, clients, "Canciller", "gt")
    listener = await join(node, clients, "Escucha", "sv")
    await speaker.publish(audio=ToneTrack())
    await speaker.command("floor.request", delegation_id="gt")
    [stream] = await listener.wait_for_streams(1, kind="audio", timeout=15, frames=0)
    # Another writer (a node that believed it owned the conference) grants
    # the floor in the log behind this node's back.
    store = RedisEventStore(connect(redis_server.url))
    try:
        stored = await store.read("demo")
        state = Conference.replay("demo", (s.event for s in stored))
        [requested] = [s.event for s in stored if isinstance(s.event, FloorRequested)]
        grant = GrantFloor(requested.request_id, time_limit=3)
        events = state.decide(grant, "Presidencia", time.time())
        await store.append("demo", events, expected_seq=stored[-1].seq)
    finally:
        await store.client.aclose()
    # Everyone is told, the microphone opens, and the deadline is armed.
    await chair.wait_for(lambda: holders(chair) == ["gt"], timeout=5)
    packets = stream.packets
    await listener.wait_for(lambda: stream.packets > packets + 20, timeout=5)

    def revoked() -> bool:
        return any(e["type"] == "floor.revoked" for e in chair.room_events)

    await chair.wait_for(revoked, timeout=10)
    assert holders(listener) == []


async def test_redis_restarted_empty_gets_the_log_back_and_the_meeting_goes_on(
    node: RunningServer, redis_server: RedisServer, clients: list[PalabraClient]
) -> None:
    chair = await join(node, clients, "Presidencia", None, "chair")
    speaker = await join(node, clients, "Canciller", "gt")
    listener = await join(node, clients, "Escucha", "sv")
    await speaker.publish(audio=ToneTrack())
    update = await speaker.command("floor.request", delegation_id="gt")
    [request] = [e for e in update.events if e["type"] == "floor.requested"]
    await chair.command("floor.grant", request_id=request["request_id"], unlimited=True)
    [stream] = await listener.wait_for_streams(1, kind="audio", timeout=15, frames=0)
    await listener.wait_for(lambda: stream.packets > 20, timeout=5)
    before = await stored_types(redis_server)

    redis_server.kill()
    redis_server.appendonly = False  # it comes back with nothing
    redis_server.start()
    http = aiohttp.ClientSession(f"http://127.0.0.1:{node.port}")
    try:
        deadline = time.monotonic() + 10
        while await stored_types(redis_server) != before:
            assert time.monotonic() < deadline, "the log was not written back"
            await asyncio.sleep(0.1)
        await wait_ready(http)
        registry = node.palabra.registry
        assert registry is not None
        deadline = time.monotonic() + 5
        while await registry.owner("demo") != "alpha":
            assert time.monotonic() < deadline, "placement not claimed again"
            await asyncio.sleep(0.1)
    finally:
        await http.close()
    # The meeting went on: nobody was sent away, the floor and the media held.
    assert all(c.close_code is None for c in clients)
    assert holders(listener) == ["gt"]
    packets = stream.packets
    await listener.wait_for(lambda: stream.packets > packets + 20, timeout=5)
    alerts = [m for m in chair.messages if isinstance(m, MonitorAlert)]
    assert [(a.alert["kind"], a.state) for a in alerts if a.alert["kind"] == "log_lost"] == [
        ("log_lost", "raised"),
        ("log_lost", "cleared"),
    ]
    released = await retried(speaker, "floor.release", request_id=request["request_id"])
    assert [e["type"] for e in released.events] == ["floor.released"]
    assert await stored_types(redis_server) == [*before, "floor.released"]


async def test_the_floor_ends_on_time_in_the_media_while_redis_is_frozen(
    node: RunningServer, redis_server: RedisServer, clients: list[PalabraClient]
) -> None:
    chair = await join(node, clients, "Presidencia", None, "chair")
    speaker = await join(node, clients, "Canciller", "gt")
    listener = await join(node, clients, "Escucha", "sv")
    await speaker.publish(audio=ToneTrack())
    update = await speaker.command("floor.request", delegation_id="gt")
    [request] = [e for e in update.events if e["type"] == "floor.requested"]
    granted = await chair.command("floor.grant", request_id=request["request_id"], time_limit=3)
    [grant] = [e for e in granted.events if e["type"] == "floor.granted"]
    revoke_at = float(grant["revoke_at"])  # type: ignore[arg-type]
    [stream] = await listener.wait_for_streams(1, kind="audio", timeout=15, frames=0)
    await listener.wait_for(lambda: stream.packets > 20, timeout=5)
    last_heard = time.time()
    redis_server.freeze()
    try:
        packets = stream.packets
        while time.time() < revoke_at + 3.0:  # the deadline passes while Redis is frozen
            if stream.packets != packets:
                packets, last_heard = stream.packets, time.time()
            await asyncio.sleep(0.02)
        assert holders(chair) == ["gt"]  # not recorded yet: nothing told
    finally:
        redis_server.thaw()
    # The microphone closed at the deadline, not when Redis came back.
    assert last_heard < revoke_at + 0.5, last_heard - revoke_at

    def revoked() -> bool:
        return any(e["type"] == "floor.revoked" for e in chair.room_events)

    await chair.wait_for(revoked, timeout=10)
    event = next(e for e in chair.room_events if e["type"] == "floor.revoked")
    assert event["reason"] == "time_limit"
    assert event["at"] == pytest.approx(revoke_at, abs=0.01)  # dated truthfully
    assert (await stored_types(redis_server)).count("floor.revoked") == 1
