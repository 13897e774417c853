"""Node registry and conference placement against a real redis-server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from uuid import uuid4

import pytest
import redis.asyncio as aioredis

from cluster.redis_store import StoreUnavailable, connect
from cluster.registry import NodeNotAlive, NodeRegistry
from tests.integration.redis_server import RedisServer, free_port, running_redis

TIMEOUT = 5.0  # for what must happen within a short ttl
SHORT_TTL = 0.5


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with running_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


NodeFactory = Callable[..., NodeRegistry]


@pytest.fixture
async def node(redis_server: RedisServer) -> AsyncIterator[NodeFactory]:
    """Make nodes, each with its own connection, in a key space of the test's own."""
    prefix = f"test-{uuid4().hex[:12]}"
    clients: list[aioredis.Redis] = []

    def factory(node_id: str, ttl: float = 10.0, url: str = "") -> NodeRegistry:
        client = connect(redis_server.url)
        clients.append(client)
        return NodeRegistry(client, prefix, node_id, ttl, url=url)

    yield factory
    for client in clients:
        await client.aclose()


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll until `check` holds; fail after TIMEOUT."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while not await check():
        if loop.time() > deadline:
            pytest.fail(f"not within {TIMEOUT} s: {what}")
        await asyncio.sleep(0.05)


# Heartbeats -----------------------------------------------------------------------


async def test_heartbeat_publishes_the_node_and_its_load(node: NodeFactory) -> None:
    a = node("node-a", url="https://a.palabra.test")
    b = node("node-b", url="https://b.palabra.test")
    assert await a.live_nodes() == {}
    assert await a.heartbeat({"conferences": 2, "participants": 40}) is False  # the first
    assert await a.heartbeat({"conferences": 3, "participants": 41}) is True
    await b.heartbeat()
    live = await b.live_nodes()
    assert sorted(live) == ["node-a", "node-b"]
    info = live["node-a"]
    assert (info.node_id, info.url) == ("node-a", "https://a.palabra.test")
    assert info.load == {"conferences": 3, "participants": 41}
    assert info.started_at == a.started_at and info.heartbeat_at >= info.started_at
    assert live["node-b"].load == {}
    assert await a.is_alive("node-b") and not await a.is_alive("node-c")


async def test_a_node_that_stops_heartbeating_disappears(node: NodeFactory) -> None:
    a, b = node("node-a", ttl=SHORT_TTL), node("node-b")
    await a.heartbeat()
    await b.heartbeat()

    async def a_gone() -> bool:
        return "node-a" not in await b.live_nodes()

    await eventually(a_gone, "node-a's heartbeat expires")
    assert list(await b.live_nodes()) == ["node-b"]
    assert not await b.client.sismember(b.nodes_key, "node-a")  # pruned
    assert await a.heartbeat() is False  # it can tell it lapsed
    assert sorted(await b.live_nodes()) == ["node-a", "node-b"]


async def test_leave_ends_liveness_at_once(node: NodeFactory) -> None:
    a, b = node("node-a"), node("node-b")
    await a.heartbeat()
    await b.heartbeat()
    await a.claim("c1")
    await a.leave()
    assert list(await b.live_nodes()) == ["node-b"]
    assert await b.owner("c1") is None
    assert await b.claim("c1") == "node-b"


async def test_a_restarted_process_with_the_same_id_starts_afresh(node: NodeFactory) -> None:
    first = node("node-a")
    await first.heartbeat()
    await first.claim("c1")
    second = node("node-a")  # same id, new process
    assert await second.heartbeat() is False  # not its own earlier heartbeat
    assert await second.claim("c1") == "node-a"  # its old placement: replay the log


# Placement ------------------------------------------------------------------------


async def test_a_claim_is_seen_by_the_other_nodes(node: NodeFactory) -> None:
    a, b = node("node-a"), node("node-b")
    await a.heartbeat()
    await b.heartbeat()
    assert await a.owner("c1") is None
    assert await a.claim("c1") == "node-a"
    assert await b.claim("c1") == "node-a"  # b is told where it lives
    assert await b.owner("c1") == "node-a" and await a.owner("c1") == "node-a"
    assert await a.claim("c1") == "node-a"  # idempotent for the owner
    assert await b.claim("c2") == "node-b"
    assert await b.client.get(b.placement_key("c1")) == b"node-a"


async def test_claiming_needs_a_live_heartbeat(node: NodeFactory) -> None:
    a = node("node-a")
    with pytest.raises(NodeNotAlive):
        await a.claim("c1")
    assert await a.owner("c1") is None
    await a.heartbeat()
    assert await a.claim("c1") == "node-a"


async def test_a_dead_owners_conference_is_taken_over(node: NodeFactory) -> None:
    a, b = node("node-a", ttl=SHORT_TTL), node("node-b")
    await a.heartbeat()
    await b.heartbeat()
    assert await a.claim("c1") == "node-a"
    assert await b.claim("c1") == "node-a"
    # a stops heartbeating; b keeps asking, and gets it once a's key has expired.

    async def b_owns() -> bool:
        return await b.claim("c1") == "node-b"

    await eventually(b_owns, "node-b takes c1 over")
    assert await b.owner("c1") == "node-b"
    # a comes back: its heartbeat says it lapsed, and the conference is b's now.
    assert await a.heartbeat() is False
    assert await a.owner("c1") == "node-b" and await a.claim("c1") == "node-b"
    assert await a.release("c1") is False
    assert await b.owner("c1") == "node-b"


async def test_owner_is_none_once_the_owner_is_dead(node: NodeFactory) -> None:
    a = node("node-a", ttl=SHORT_TTL)
    await a.heartbeat()
    await a.claim("c1")
    assert await a.owner("c1") == "node-a"

    async def orphaned() -> bool:
        return await a.owner("c1") is None

    await eventually(orphaned, "c1 is orphaned")


async def test_only_one_of_many_concurrent_claimers_wins(node: NodeFactory) -> None:
    nodes = [node(f"node-{i}") for i in range(8)]
    await asyncio.gather(*(n.heartbeat() for n in nodes))
    for conference_id in ["c1", "c2", "c3"]:
        owners = await asyncio.gather(*(n.claim(conference_id) for n in nodes))
        assert len(set(owners)) == 1, owners
        assert await nodes[0].owner(conference_id) == owners[0]


async def test_only_one_of_many_concurrent_claimers_takes_over(node: NodeFactory) -> None:
    ghost = node("ghost", ttl=SHORT_TTL)
    await ghost.heartbeat()
    assert await ghost.claim("c1") == "ghost"
    nodes = [node(f"node-{i}") for i in range(8)]
    await asyncio.gather(*(n.heartbeat() for n in nodes))

    async def ghost_dead() -> bool:
        return not await nodes[0].is_alive("ghost")

    await eventually(ghost_dead, "the ghost's heartbeat expires")
    owners = await asyncio.gather(*(n.claim("c1") for n in nodes))
    assert len(set(owners)) == 1 and owners[0] != "ghost", owners
    assert await nodes[0].owner("c1") == owners[0]


async def test_release_gives_the_conference_up_only_for_its_owner(node: NodeFactory) -> None:
    a, b = node("node-a"), node("node-b")
    await a.heartbeat()
    await b.heartbeat()
    await a.claim("c1")
    assert await b.release("c1") is False and await b.owner("c1") == "node-a"
    assert await a.release("c1") is True and await a.owner("c1") is None
    assert await a.release("c1") is False
    assert await b.claim("c1") == "node-b"


# Arguments and outages ------------------------------------------------------------


async def test_bad_arguments_are_refused() -> None:
    client = connect("redis://127.0.0.1:1/0")
    try:
        for node_id in ["", " a", "a b", "x" * 129, "a\n"]:
            with pytest.raises(ValueError):
                NodeRegistry(client, "palabra", node_id)
        with pytest.raises(ValueError):
            NodeRegistry(client, "palabra", "a", ttl=0)
        with pytest.raises(ValueError):
            NodeRegistry(client, "", "a")
    finally:
        await client.aclose()


async def test_an_unreachable_redis_is_store_unavailable() -> None:
    client = connect(f"redis://127.0.0.1:{free_port()}/0", timeout=0.5, retries=0)
    registry = NodeRegistry(client, "palabra", "node-a")
    try:
        calls: list[Callable[[], Awaitable[object]]] = [
            registry.heartbeat,
            registry.live_nodes,
            lambda: registry.claim("c1"),
            lambda: registry.owner("c1"),
            lambda: registry.release("c1"),
            registry.leave,
        ]
        for call in calls:
            with pytest.raises(StoreUnavailable):
                await call()
    finally:
        await client.aclose()
