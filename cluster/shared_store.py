"""The event store of one machine's workers when no Redis is given.

``palabra serve --workers N`` without ``--redis-url``: the front process keeps
every conference's log (a ``MemoryEventStore``) and serves it on a Unix socket;
each worker reaches it through ``SharedEventStore``. An append is answered only
once the front holds it, so what a worker acknowledged survives that worker's
crash, and the worker restarted in its place rebuilds the conference from it.
The logs live as long as the front: stopping or losing the front loses them,
as stopping a single ``palabra serve`` without Redis does (docs/operations.md).

Wire: one JSON object per line each way. A request ``{"id", "op", ...}``; its
answer ``{"id", "ok": result}`` or ``{"id", "error": {"kind", "message", ...}}``.
Answers come in request order (one connection per worker, handled in order).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from cluster.redis_store import StoreUnavailable
from rooms import Event, EventStore, MemoryEventStore, StoreConflict, StoredEvent, StoredSnapshot
from rooms._codec import JSON

__all__ = ["SharedEventStore", "StoreServer"]

logger = logging.getLogger(__name__)

# A line may hold a whole conference's log (a read); generous but bounded.
MAX_LINE: Final = 64 * 1024 * 1024
OPS: Final = frozenset(
    {"append", "read", "last_seq", "save_snapshot", "load_snapshot", "conferences"}
)


class StoreServer:
    """The front's side: the logs, served to the workers on ``path``."""

    def __init__(self, path: Path, store: MemoryEventStore | None = None) -> None:
        self.path = path
        self.store = store if store is not None else MemoryEventStore()
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_unix_server(self._serve, self.path, limit=MAX_LINE)
        self.path.chmod(0o600)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._clients):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._clients, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        try:
            while line := await reader.readline():
                answer = await self._answer(line)
                writer.write(json.dumps(answer, allow_nan=False).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass  # a worker that died mid-line; what it had been answered stays
        finally:
            self._clients.discard(task)
            writer.close()

    async def _answer(self, line: bytes) -> dict[str, Any]:
        request_id: Any = None
        try:
            request = json.loads(line)
            request_id = request["id"]
            result = await self._call(request)
        except StoreConflict as conflict:
            return {
                "id": request_id,
                "error": {
                    "kind": "conflict",
                    "message": str(conflict),
                    "expected": conflict.expected_seq,
                    "actual": conflict.actual_seq,
                },
            }
        except Exception as exc:  # a malformed request: answered, never fatal
            return {"id": request_id, "error": {"kind": "bad_request", "message": str(exc)}}
        return {"id": request_id, "ok": result}

    async def _call(self, request: dict[str, Any]) -> JSON:
        op = request["op"]
        if op not in OPS:
            raise ValueError(f"unknown operation {op!r}")
        store = self.store
        if op == "conferences":
            return list(await store.conferences())
        conference = request["conference"]
        if not isinstance(conference, str):
            raise ValueError("conference must be a string")
        if op == "append":
            events = [Event.from_dict(raw) for raw in request["events"]]
            seqs = await store.append(conference, events, expected_seq=request.get("expected"))
            return list(seqs)
        if op == "read":
            return [
                {"seq": s.seq, "event": s.event.to_dict()}
                for s in await store.read(conference, int(request.get("after", 0)))
            ]
        if op == "last_seq":
            return await store.last_seq(conference)
        if op == "save_snapshot":
            await store.save_snapshot(conference, int(request["seq"]), request["snapshot"])
            return None
        saved = await store.load_snapshot(conference)
        return None if saved is None else {"seq": saved.seq, "snapshot": saved.snapshot}


class SharedEventStore:
    """A worker's side: ``EventStore`` over the front's Unix socket.

    One request at a time on one connection (the answer is matched by id); a
    lost connection is ``StoreUnavailable``, and the next call reconnects.
    """

    def __init__(self, path: Path, *, timeout: float = 5.0) -> None:
        self.path = path
        self.timeout = timeout
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._lock = asyncio.Lock()
        self._next_id = 0

    async def _request(self, op: str, **fields: JSON) -> Any:
        async with self._lock:
            self._next_id += 1
            request = {"id": self._next_id, "op": op, **fields}
            # Unencodable values (NaN) fail here, before anything is sent.
            line = json.dumps(request, allow_nan=False).encode() + b"\n"
            try:
                answer = await asyncio.wait_for(self._exchange(line), self.timeout)
            except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
                self._drop()
                raise StoreUnavailable(f"the front's event store: {exc!r}") from exc
        if answer.get("id") != request["id"]:
            self._drop()
            raise StoreUnavailable("the front's event store answered out of order")
        error = answer.get("error")
        if error is None:
            return answer.get("ok")
        if error.get("kind") == "conflict":
            raise StoreConflict(str(fields["conference"]), error["expected"], error["actual"])
        raise ValueError(f"the front's event store refused {op}: {error.get('message')}")

    async def _exchange(self, line: bytes) -> dict[str, Any]:
        if self._streams is None:
            self._streams = await asyncio.open_unix_connection(self.path, limit=MAX_LINE)
        reader, writer = self._streams
        writer.write(line)
        await writer.drain()
        line = await reader.readline()
        if not line:
            raise ConnectionResetError("the front closed the store connection")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def _drop(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None

    async def append(
        self, conference_id: str, events: Sequence[Event], *, expected_seq: int | None = None
    ) -> list[int]:
        seqs: list[int] = await self._request(
            "append",
            conference=conference_id,
            events=[event.to_dict() for event in events],
            expected=expected_seq,
        )
        return seqs

    async def read(self, conference_id: str, after: int = 0) -> list[StoredEvent]:
        raw = await self._request("read", conference=conference_id, after=after)
        return [StoredEvent(r["seq"], Event.from_dict(r["event"])) for r in raw]

    async def last_seq(self, conference_id: str) -> int:
        seq: int = await self._request("last_seq", conference=conference_id)
        return seq

    async def save_snapshot(self, conference_id: str, seq: int, snapshot: dict[str, JSON]) -> None:
        await self._request("save_snapshot", conference=conference_id, seq=seq, snapshot=snapshot)

    async def load_snapshot(self, conference_id: str) -> StoredSnapshot | None:
        saved = await self._request("load_snapshot", conference=conference_id)
        return None if saved is None else StoredSnapshot(saved["seq"], saved["snapshot"])

    async def conferences(self) -> list[str]:
        ids: list[str] = await self._request("conferences")
        return ids

    def close(self) -> None:
        self._drop()


if TYPE_CHECKING:  # mypy checks that the shared store satisfies the interface
    _store: EventStore = SharedEventStore(Path("store.sock"))
