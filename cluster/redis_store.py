"""The Redis EventStore: conference logs that outlive a process and span nodes.

Implements `rooms.store.EventStore` with the same behaviour as
`rooms.memory_store.MemoryEventStore` (the reference), on one Redis server
(standalone or Sentinel-managed; not Redis Cluster: the append script touches a
conference's stream and the global conference index together). Redis >= 5.

Keys (`prefix` defaults to "palabra"):

    {prefix}:conf:{id}:events    STREAM  the log. Entry id `{seq}-0`: the id *is*
                                         the seq (1, 2, 3... gap-free), so reads
                                         are plain XRANGEs and no field repeats
                                         it. Fields: `event` = the JSON text of
                                         `Event.to_dict()` (the memory store's
                                         encoding exactly); the last entry of
                                         each batch also has `batch` = a random
                                         token (see "retries" below).
    {prefix}:conf:{id}:snapshot  STRING  JSON `{"seq": n, "snapshot": {...}}`
    {prefix}:conferences         ZSET    conference ids, scored 1, 2, 3... in
                                         order of their first event

Atomicity: `append` is one Lua script (EVALSHA via `register_script`). Redis
runs a script with nothing interleaved, so reading the last seq, checking
`expected_seq`, XADDing every event of the batch and indexing a new conference
happen as one step: of two nodes appending with the same `expected_seq`,
exactly one succeeds and the other gets `StoreConflict`. The script checks
everything before its first write and nothing after it can fail, so a batch is
all or nothing (Redis also refuses a script over `maxmemory` only before its
first write).

Retries: redis-py resends a command after a dropped connection (the default
client retries 10 times), so a batch that was applied but whose reply was lost
would be sent twice. Each call carries a fresh token, kept on the batch's last
entry; the script recognises its own batch and answers with the original seqs
instead of appending again or reporting a conflict.

Decidable appends: a frozen Redis (SIGSTOP, a stalled disk) keeps the script
call in its socket buffer and runs it when it wakes, long after the caller
gave up. So each append first reads Redis's clock (TIME) and passes a deadline
`APPEND_BUDGET` after the moment the call started; the script refuses a batch
it runs later than that (Redis's clock, so the nodes' clocks do not matter).
The caller waits `timeout` (more than the budget) and then knows: a batch that
timed out was either applied before the deadline, which a read shows, or
never will be. Every other call is bounded by `timeout` too, so an outage
surfaces within 1.5 s instead of redis-py's retries (~6 s).

Failure: when Redis cannot be reached or cannot take writes (connection
refused or lost, timeout, still loading its data after a restart, a read-only
replica after a failover, out of memory), every method raises
`StoreUnavailable` (the redis-py exception is its `__cause__`). The service
reports not-ready and retries later. An `append` that raised StoreUnavailable
was applied only if Redis ran it within its deadline: re-read the log
(`read(after=last known)`) before deciding again; with `expected_seq` a retry
can never apply it twice, and past the deadline it can never be applied.
Other Redis errors (a key of the wrong type, say) are bugs and propagate.

Durability is Redis's: run it with `appendonly yes` (docs/operations.md).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Awaitable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import (
    ConnectionError as RedisConnectionError,
)
from redis.exceptions import (
    MasterDownError,
    OutOfMemoryError,
    ReadOnlyError,
)
from redis.exceptions import (
    TimeoutError as RedisTimeoutError,
)

from rooms._codec import JSON
from rooms.events import Event
from rooms.store import EventStore, StoreConflict, StoredEvent, StoredSnapshot

__all__ = [
    "AppendTooLate",
    "RedisEventStore",
    "StoreUnavailable",
    "connect",
    "translate_errors",
]

_T = TypeVar("_T")

# How many stream entries one XRANGE fetches while reading a log.
READ_PAGE: Final = 1000

# Seconds after an append started past which Redis refuses to run it, and
# seconds a caller waits for any store call (more than the budget, so that a
# call given up on can no longer be applied).
APPEND_BUDGET: Final = 1.0
STORE_TIMEOUT: Final = 1.5

# KEYS: events stream, conference index.
# ARGV: expected seq ('' for none), batch token, conference id,
#       deadline (Redis clock, ms since the epoch; '' for none), event JSON...
# Returns {1, first seq} on success, {0, actual last seq} on a conflict,
# {-1, actual last seq} when run after the deadline (nothing appended).
_APPEND: Final = """
local stream, index = KEYS[1], KEYS[2]
local expected, token, conference, deadline = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local n = #ARGV - 4
if redis.replicate_commands then
  redis.replicate_commands() -- Redis < 7: allows TIME before writes
end

local last = 0
local top = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)
if #top > 0 then
  last = tonumber(string.match(top[1][1], '^%d+'))
end

-- Is the entry with this seq the last one of the batch carrying our token?
-- (true when this call is a client retry of a batch that was applied)
local function ours(seq)
  if n == 0 or seq < 1 then
    return false
  end
  local entry = redis.call('XRANGE', stream, seq .. '-0', seq .. '-0')
  if #entry == 0 then
    return false
  end
  local fields = entry[1][2]
  for i = 1, #fields, 2 do
    if fields[i] == 'batch' then
      return fields[i + 1] == token
    end
  end
  return false
end

if expected ~= '' then
  local wanted = tonumber(expected)
  if wanted ~= last then
    if ours(wanted + n) then
      return {1, wanted + 1}
    end
    return {0, last}
  end
elseif ours(last) then
  return {1, last - n + 1}
end

-- Too late: the caller has given up on this batch and said so.
if deadline ~= '' then
  local now = redis.call('TIME')
  local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
  if ms > tonumber(deadline) then
    return {-1, last}
  end
end

if n == 0 then
  return {1, last + 1}
end
for i = 1, n do
  local id = (last + i) .. '-0'
  if i == n then
    redis.call('XADD', stream, id, 'event', ARGV[4 + i], 'batch', token)
  else
    redis.call('XADD', stream, id, 'event', ARGV[4 + i])
  end
end
if last == 0 and redis.call('ZSCORE', index, conference) == false then
  local highest = redis.call('ZREVRANGE', index, 0, 0, 'WITHSCORES')
  local score = 1
  if #highest > 0 then
    score = tonumber(highest[2]) + 1
  end
  redis.call('ZADD', index, score, conference)
end
return {1, last + 1}
"""

# What "Redis cannot serve us right now" looks like through redis-py.
# BusyLoadingError (LOADING after a restart) and AuthenticationError are
# ConnectionErrors; TimeoutError also covers asyncio's own timeouts.
_UNAVAILABLE: Final = (
    RedisConnectionError,
    RedisTimeoutError,
    TimeoutError,
    ReadOnlyError,
    OutOfMemoryError,
    MasterDownError,
)


class StoreUnavailable(Exception):
    """Redis cannot be reached or cannot take writes now; try again later."""


@contextmanager
def translate_errors() -> Iterator[None]:
    """Raise StoreUnavailable (from the redis-py error) for an unavailable Redis."""
    try:
        yield
    except _UNAVAILABLE as error:
        raise StoreUnavailable(f"redis unavailable: {error}") from error


def connect(url: str, *, timeout: float = 2.0, retries: int = 2) -> aioredis.Redis:
    """A client with bounded timeouts and retries, so an outage surfaces in seconds.

    redis-py's defaults retry 10 times with backoff and never time out a read;
    a readiness check wants an answer quickly. The store works with any client
    (decode_responses on or off).
    """
    return aioredis.Redis.from_url(
        url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries),
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _seq_of(entry_id: bytes | str) -> int:
    return int(_text(entry_id).partition("-")[0])


class AppendTooLate(StoreUnavailable):
    """Redis ran the append after its deadline and refused it: nothing was appended."""


class RedisEventStore:
    """EventStore on Redis Streams; see the module docstring for the layout."""

    def __init__(
        self, client: aioredis.Redis, prefix: str = "palabra", *, timeout: float = STORE_TIMEOUT
    ) -> None:
        if not prefix:
            raise ValueError("prefix must not be empty")
        if not timeout > APPEND_BUDGET:
            raise ValueError(f"timeout must exceed the append budget ({APPEND_BUDGET} s)")
        self.client = client
        self.prefix = prefix
        self.timeout = timeout
        self._append = client.register_script(_APPEND)

    # Keys ---------------------------------------------------------------------

    def events_key(self, conference_id: str) -> str:
        return f"{self.prefix}:conf:{conference_id}:events"

    def snapshot_key(self, conference_id: str) -> str:
        return f"{self.prefix}:conf:{conference_id}:snapshot"

    @property
    def conferences_key(self) -> str:
        return f"{self.prefix}:conferences"

    async def _bounded(self, call: Awaitable[_T]) -> _T:
        """One store call, StoreUnavailable if Redis does not answer within `timeout`."""
        with translate_errors():
            return await asyncio.wait_for(call, self.timeout)

    # EventStore ---------------------------------------------------------------

    async def append(
        self, conference_id: str, events: Sequence[Event], *, expected_seq: int | None = None
    ) -> list[int]:
        encoded = [json.dumps(event.to_dict(), allow_nan=False) for event in events]
        return await self._append_encoded(
            conference_id, encoded, expected_seq=expected_seq, token=secrets.token_hex(16)
        )

    async def _append_encoded(
        self,
        conference_id: str,
        encoded: Sequence[str],
        *,
        expected_seq: int | None,
        token: str,
        budget: float = APPEND_BUDGET,
    ) -> list[int]:
        """The script call; `token` identifies the batch (tests pass their own)."""
        return await self._bounded(
            self._append_in_time(conference_id, encoded, expected_seq, token, budget)
        )

    async def _append_in_time(
        self,
        conference_id: str,
        encoded: Sequence[str],
        expected_seq: int | None,
        token: str,
        budget: float,
    ) -> list[int]:
        started = time.monotonic()
        seconds, micros = await self.client.time()
        # Redis's clock when this call started, at the latest: the budget
        # runs from there, whatever the TIME round trip took.
        began_ms = seconds * 1000 + micros // 1000 - round((time.monotonic() - started) * 1000)
        keys = [self.events_key(conference_id), self.conferences_key]
        args = [
            "" if expected_seq is None else str(expected_seq),
            token,
            conference_id,
            str(began_ms + round(budget * 1000)),
            *encoded,
        ]
        reply: Any = await self._append(keys=keys, args=args)
        applied, seq = int(reply[0]), int(reply[1])
        if applied == -1:
            raise AppendTooLate(f"{conference_id}: Redis ran the append past its deadline")
        if not applied:
            assert expected_seq is not None
            raise StoreConflict(conference_id, expected_seq, seq)
        return list(range(seq, seq + len(encoded)))

    async def read(self, conference_id: str, after: int = 0) -> list[StoredEvent]:
        key = self.events_key(conference_id)
        stored: list[StoredEvent] = []
        start = max(after, 0) + 1
        while True:
            page = await self._bounded(
                self.client.xrange(key, min=f"{start}-0", max="+", count=READ_PAGE)
            )
            for entry_id, fields in page or []:
                assert entry_id is not None and fields is not None
                text = fields.get(b"event", fields.get("event"))
                assert text is not None, f"{key} {entry_id!r} has no event"
                stored.append(StoredEvent(_seq_of(entry_id), Event.from_dict(json.loads(text))))
            if not page or len(page) < READ_PAGE:
                return stored
            start = stored[-1].seq + 1

    async def last_seq(self, conference_id: str) -> int:
        top = await self._bounded(
            self.client.xrevrange(self.events_key(conference_id), max="+", min="-", count=1)
        )
        entry_id = top[0][0] if top else None
        return 0 if entry_id is None else _seq_of(entry_id)

    async def save_snapshot(self, conference_id: str, seq: int, snapshot: dict[str, JSON]) -> None:
        text = json.dumps({"seq": seq, "snapshot": snapshot}, allow_nan=False)
        await self._bounded(self.client.set(self.snapshot_key(conference_id), text))

    async def load_snapshot(self, conference_id: str) -> StoredSnapshot | None:
        text: bytes | str | None = await self._bounded(
            self.client.get(self.snapshot_key(conference_id))
        )
        if text is None:
            return None
        saved = json.loads(text)
        seq: int = saved["seq"]
        snapshot: dict[str, JSON] = saved["snapshot"]
        return StoredSnapshot(seq, snapshot)

    async def conferences(self) -> list[str]:
        ids = await self._bounded(self.client.zrange(self.conferences_key, 0, -1))
        return [
            _text(conference_id) for conference_id in ids if isinstance(conference_id, bytes | str)
        ]


if TYPE_CHECKING:  # mypy checks that the Redis store satisfies the interface
    _store: EventStore = RedisEventStore(aioredis.Redis())
