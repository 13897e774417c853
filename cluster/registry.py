"""Several nodes sharing one Redis: who is alive, and which node runs which conference.

One process is one node (ARCHITECTURE.md, decision 5). Each node heartbeats
into Redis; each conference is placed on exactly one live node, which appends
to its log and runs its media. No aiohttp here: the service calls these.

Keys (`prefix` defaults to "palabra", the same as the event store's):

    {prefix}:node:{node}:alive   STRING  this process's instance token, with a PX
                                         expiry of `ttl`: the node is alive while
                                         the key exists
    {prefix}:node:{node}:info    HASH    node_id, url, load (JSON), started_at,
                                         heartbeat_at (unix seconds, the node's
                                         clock: for display); same expiry
    {prefix}:nodes               SET     node ids that have heartbeated; dead ones
                                         are pruned by `live_nodes`
    {prefix}:placement:{conf}    STRING  the owning node's id; no expiry: an
                                         owner holds a conference while it is
                                         alive, or until it releases it

Liveness is judged by Redis's clock only (key expiry), so the nodes' clocks
do not matter. Heartbeat every ttl/3 or so; `heartbeat` is one MULTI.

Placement: `claim` takes an unowned conference (SET NX semantics), returns the
live owner's id if another node has it, and takes over a conference whose
owner's alive key has expired. The check-and-set runs as one Lua script that
also verifies the owner is still the one the caller looked at, so of several
concurrent claimers exactly one wins and the others get its id. A node must be
heartbeating to claim (`NodeNotAlive` otherwise): a claim by a node that
others already consider dead would be taken over at once.

Failure model:

- A node that stops heartbeating (crash, freeze, partition from Redis) is
  dead after `ttl`. Its conferences stay placed on it until another node
  claims them; that node rebuilds each from its log (`rooms.load_conference`)
  and carries on. Nothing is lost that was appended.
- A node that was only slow or partitioned may come back still believing it
  owns its conferences. `heartbeat` returns False when the node's previous
  heartbeat had expired (or on the first one): the node must then check
  `owner()` for each conference it runs and drop those it lost. Until it
  notices, the log is protected by `EventStore.append(expected_seq=...)`: the
  two writers cannot both append after the same seq, so the log never forks;
  the loser gets StoreConflict and reloads.
- A graceful shutdown calls `leave()`: the node is dead at once, so its
  conferences move without waiting for `ttl`.
- Redis unavailable: every method raises `cluster.redis_store.StoreUnavailable`.
- Node ids must be unique among running processes. A restarted process may
  reuse its id: it then finds its old placements its own and replays them.

Standalone Redis (or Sentinel), Redis >= 6.2 (SET ... GET); not Redis Cluster.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import redis.asyncio as aioredis
from redis.typing import EncodableT, FieldT

from rooms._codec import JSON

from .redis_store import StoreUnavailable, translate_errors

__all__ = ["NodeInfo", "NodeNotAlive", "NodeRegistry", "StoreUnavailable"]

_NODE_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")

# KEYS: placement, alive key of the owner the caller saw (its own when none),
#       the caller's alive key.
# ARGV: caller's node id, the owner the caller saw ('' for none).
# Returns {status, owner}: status 1 = `owner` holds it (maybe the caller),
# 0 = the placement changed since the caller looked (look again),
# -1 = the caller is not alive.
_CLAIM: Final = """
local placement, owner_alive, my_alive = KEYS[1], KEYS[2], KEYS[3]
local me, seen = ARGV[1], ARGV[2]
local owner = redis.call('GET', placement)
if owner == false then
  owner = ''
end
if owner ~= seen then
  return {0, owner}
end
if owner ~= '' and owner ~= me and redis.call('EXISTS', owner_alive) == 1 then
  return {1, owner}
end
if redis.call('EXISTS', my_alive) == 0 then
  return {-1, owner}
end
if owner ~= me then
  redis.call('SET', placement, me)
end
return {1, me}
"""

# KEYS: placement. ARGV: caller's node id. Deletes only the caller's own placement.
_RELEASE: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# KEYS: nodes set, the node's alive key. ARGV: node id. Prunes a dead node.
_PRUNE: Final = """
if redis.call('EXISTS', KEYS[2]) == 0 then
  return redis.call('SREM', KEYS[1], ARGV[1])
end
return 0
"""


class NodeNotAlive(Exception):
    """This node's heartbeat has expired (or never happened): it may not claim."""


@dataclass(frozen=True)
class NodeInfo:
    node_id: str
    url: str
    load: dict[str, JSON]
    started_at: float  # unix seconds, the node's clock
    heartbeat_at: float


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class NodeRegistry:
    """One node's view of the cluster: its heartbeat, the others, placement."""

    def __init__(
        self,
        client: aioredis.Redis,
        prefix: str,
        node_id: str,
        ttl: float = 10.0,
        *,
        url: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not prefix:
            raise ValueError("prefix must not be empty")
        if not _NODE_ID.fullmatch(node_id):
            raise ValueError(f"node id {node_id!r}: 1-128 of A-Z a-z 0-9 . _ : @ -")
        if not ttl > 0:
            raise ValueError(f"ttl must be positive, not {ttl}")
        self.client = client
        self.prefix = prefix
        self.node_id = node_id
        self.ttl = ttl
        self.url = url
        self._clock = clock
        self.started_at = clock()
        # Tells this process's heartbeats from an earlier process with the same id.
        self._instance = secrets.token_hex(8)
        self._claim = client.register_script(_CLAIM)
        self._release = client.register_script(_RELEASE)
        self._prune = client.register_script(_PRUNE)

    @property
    def ttl_ms(self) -> int:
        return max(1, round(self.ttl * 1000))

    # Keys ---------------------------------------------------------------------

    def alive_key(self, node_id: str) -> str:
        return f"{self.prefix}:node:{node_id}:alive"

    def info_key(self, node_id: str) -> str:
        return f"{self.prefix}:node:{node_id}:info"

    @property
    def nodes_key(self) -> str:
        return f"{self.prefix}:nodes"

    def placement_key(self, conference_id: str) -> str:
        return f"{self.prefix}:placement:{conference_id}"

    # Heartbeats ---------------------------------------------------------------

    async def heartbeat(self, load: Mapping[str, JSON] | None = None) -> bool:
        """Renew this node's liveness for `ttl` and publish its url and load.

        True if the node was still alive from its previous heartbeat; False on
        the first one, or after a lapse (others may have taken its conferences).
        """
        info: dict[FieldT, EncodableT] = {
            "node_id": self.node_id,
            "url": self.url,
            "load": json.dumps(dict(load or {}), allow_nan=False),
            "started_at": repr(self.started_at),
            "heartbeat_at": repr(self._clock()),
        }
        info_key = self.info_key(self.node_id)
        with translate_errors():
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.set(self.alive_key(self.node_id), self._instance, px=self.ttl_ms, get=True)
                pipe.delete(info_key)
                pipe.hset(info_key, mapping=info)
                pipe.pexpire(info_key, self.ttl_ms)
                pipe.sadd(self.nodes_key, self.node_id)
                replies: list[Any] = await pipe.execute()
        previous = replies[0]
        return previous is not None and _text(previous) == self._instance

    async def leave(self) -> None:
        """Stop being alive now (graceful shutdown): others may claim at once."""
        with translate_errors():
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.delete(self.alive_key(self.node_id), self.info_key(self.node_id))
                pipe.srem(self.nodes_key, self.node_id)
                await pipe.execute()

    async def is_alive(self, node_id: str) -> bool:
        with translate_errors():
            return bool(await self.client.exists(self.alive_key(node_id)))

    async def live_nodes(self) -> dict[str, NodeInfo]:
        """Every node whose heartbeat has not expired, by id."""
        with translate_errors():
            members = await self.client.smembers(self.nodes_key)
            node_ids = sorted(_text(m) for m in members)
            async with self.client.pipeline(transaction=False) as pipe:
                for node_id in node_ids:
                    pipe.exists(self.alive_key(node_id))
                    pipe.hgetall(self.info_key(node_id))
                replies: list[Any] = await pipe.execute()
            live: dict[str, NodeInfo] = {}
            for index, node_id in enumerate(node_ids):
                alive, raw = replies[2 * index], replies[2 * index + 1]
                info = _parse_info(node_id, raw) if alive else None
                if info is not None:
                    live[node_id] = info
                elif not alive:
                    keys = [self.nodes_key, self.alive_key(node_id)]
                    await self._prune(keys=keys, args=[node_id])
        return live

    # Placement ----------------------------------------------------------------

    async def claim(self, conference_id: str, *, attempts: int = 8) -> str:
        """Place the conference on this node unless a live node has it; return its owner.

        The owner is this node's id when the conference was unplaced, already
        ours, or its owner's heartbeat had expired (then the caller must rebuild
        it from the log). Raises NodeNotAlive if this node is not heartbeating.
        """
        placement = self.placement_key(conference_id)
        with translate_errors():
            seen = await self.client.get(placement)
            for _ in range(attempts):
                owner = "" if seen is None else _text(seen)
                keys = [
                    placement,
                    self.alive_key(owner or self.node_id),
                    self.alive_key(self.node_id),
                ]
                reply: Any = await self._claim(keys=keys, args=[self.node_id, owner])
                status, current = int(reply[0]), _text(reply[1])
                if status == 1:
                    return current
                if status == -1:
                    raise NodeNotAlive(f"{self.node_id} is not heartbeating: cannot claim")
                seen = current or None
        raise RuntimeError(f"{conference_id}: placement kept changing; gave up claiming")

    async def owner(self, conference_id: str) -> str | None:
        """The node running the conference, or None if unplaced or its owner is dead."""
        with translate_errors():
            owner = await self.client.get(self.placement_key(conference_id))
            if owner is None:
                return None
            node_id = _text(owner)
            return node_id if await self.client.exists(self.alive_key(node_id)) else None

    async def release(self, conference_id: str) -> bool:
        """Give the conference up (closed, or shutting down); False if it was not ours."""
        with translate_errors():
            reply: Any = await self._release(
                keys=[self.placement_key(conference_id)], args=[self.node_id]
            )
        return bool(reply)


def _parse_info(node_id: str, raw: Mapping[bytes | str, bytes | str]) -> NodeInfo | None:
    fields = {_text(k): _text(v) for k, v in raw.items()}
    try:
        load = json.loads(fields["load"])
        return NodeInfo(
            node_id=node_id,
            url=fields["url"],
            load=load if isinstance(load, dict) else {},
            started_at=float(fields["started_at"]),
            heartbeat_at=float(fields["heartbeat_at"]),
        )
    except (KeyError, ValueError):
        return None  # expired between the two reads, or written by another version
