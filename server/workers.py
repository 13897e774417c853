"""``palabra serve --workers N``: N forwarding processes on one machine, supervised.

The front process (server/front.py) owns the public HTTP/WebSocket port; each
conference is placed on one worker (``Placement``), whose process runs it
whole: signaling, floor, and media on its own ICE sockets (or its own one-port
UDP mux port, ``media_port + index``), so no media passes the front. A worker
serves plain HTTP on a Unix socket in a private folder (mode 0700) that only
the front reaches. The logs are in Redis with ``redis_url``, else in the
front's store (cluster/shared_store.py).

Supervision: a worker that exits is started again, told which conferences
were placed on it, and rebuilds each from its log as a restarted node does;
its participants reconnect and resume within the grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING, Final

import aiohttp

from cluster.redis_store import RedisEventStore, StoreUnavailable, connect
from cluster.shared_store import StoreServer

if TYPE_CHECKING:
    from conference.plans import ConferencePlan

    from .config import ServerConfig

__all__ = [
    "Placement",
    "Worker",
    "WorkerPool",
    "WorkerSeat",
    "WorkersFailed",
    "running_workers",
    "worker_count",
]

logger = logging.getLogger(__name__)

START_TIMEOUT: Final = 60.0  # seconds a worker may take to answer after its start
STOP_TIMEOUT: Final = 10.0  # seconds for a graceful stop before SIGKILL
# Seconds between restarts of a worker that keeps dying at once (doubling up to the cap).
RESTART_BACKOFF: Final = (0.2, 5.0)
STABLE_AFTER: Final = 30.0  # a worker that lived this long restarts without delay


class WorkersFailed(Exception):
    """A worker could not start: the message says which and how."""


@contextlib.asynccontextmanager
async def running_workers(
    config: ServerConfig, plans: Sequence[ConferencePlan], count: int
) -> AsyncIterator[WorkerPool]:
    """``count`` workers started and supervised, with the store they share; stopped after."""
    with tempfile.TemporaryDirectory(prefix="palabra-") as run_dir:  # mode 0700
        store = StoreServer(Path(run_dir) / "store.sock")
        placement = Placement(count)
        if config.redis_url:
            # Conferences already in Redis are spread over the workers now.
            client = connect(config.redis_url)
            try:
                for conference_id in await RedisEventStore(client).conferences():
                    placement.place(conference_id)
            except StoreUnavailable:
                logger.warning("Redis unavailable at start-up: its conferences are not placed")
            finally:
                await client.aclose()
        else:
            await store.start()
        pool = WorkerPool(config, plans, count, Path(run_dir), placement)
        try:
            try:
                await pool.start()
            except RuntimeError as exc:
                raise WorkersFailed(str(exc)) from None
            pids = ", ".join(str(w.pid) for w in pool.workers)
            logger.info("%d workers serving: pids %s", count, pids)
            yield pool
        finally:
            await pool.stop()
            await store.close()


def worker_count(configured: int) -> int:
    """``workers`` as configured: 0 means one per core."""
    return configured if configured > 0 else max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class WorkerSeat:
    """What a worker process is told by its front."""

    index: int
    socket_path: Path  # where it serves HTTP for the front
    store_path: Path  # the front's event store (unused with redis_url)
    conferences: tuple[str, ...] = ()  # placed here before a restart: reload them


class Placement:
    """Which worker runs which conference: the front's table, in memory.

    Every conference is created through the front (start-up plans, the admin
    API) or, with Redis, listed from it at start, so the table knows them all.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._where: dict[str, int] = {}

    def of(self, conference_id: str) -> int | None:
        return self._where.get(conference_id)

    def least_loaded(self) -> int:
        counts = [0] * self.workers
        for index in self._where.values():
            counts[index] += 1
        return min(range(self.workers), key=lambda i: (counts[i], i))

    def place(self, conference_id: str, index: int | None = None) -> int:
        """Its worker; a new conference goes to ``index``, else the least loaded."""
        where = self._where.get(conference_id)
        if where is None:
            where = self.least_loaded() if index is None else index
            self._where[conference_id] = where
        return where

    def on(self, index: int) -> list[str]:
        return [c for c, i in self._where.items() if i == index]


@dataclass
class Worker:
    """One worker process as the front sees it."""

    seat: WorkerSeat
    process: BaseProcess | None = None
    started_at: float = 0.0
    restarts: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    session: aiohttp.ClientSession | None = None

    @property
    def index(self) -> int:
        return self.seat.index

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def client(self) -> aiohttp.ClientSession:
        """HTTP to this worker over its Unix socket (one connection per request:
        none outlives a restart)."""
        if self.session is None:
            connector = aiohttp.UnixConnector(path=str(self.seat.socket_path), force_close=True)
            self.session = aiohttp.ClientSession(
                connector=connector, auto_decompress=False, timeout=aiohttp.ClientTimeout(None)
            )
        return self.session


class WorkerPool:
    """Starts the workers, restarts those that exit, stops them all."""

    def __init__(
        self,
        config: ServerConfig,
        plans: Sequence[ConferencePlan],
        count: int,
        run_dir: Path,
        placement: Placement,
    ) -> None:
        self.config = config
        self.placement = placement
        self.run_dir = run_dir
        self.workers = [
            Worker(WorkerSeat(i, run_dir / f"worker-{i}.sock", run_dir / "store.sock"))
            for i in range(count)
        ]
        self._plans: dict[int, list[ConferencePlan]] = {i: [] for i in range(count)}
        for plan in plans:
            self._plans[placement.place(plan.id)].append(plan)
        self._context = multiprocessing.get_context("spawn")
        self._supervisors: list[asyncio.Task[None]] = []
        self._stopping = False

    async def start(self) -> None:
        """Every worker started and answering (or RuntimeError)."""
        for worker in self.workers:
            self._spawn(worker, first=True)
        await asyncio.gather(*(self._wait_ready(w) for w in self.workers))
        self._supervisors = [asyncio.ensure_future(self._supervise(w)) for w in self.workers]

    def _spawn(self, worker: Worker, *, first: bool = False) -> None:
        seat = replace(worker.seat, conferences=tuple(self.placement.on(worker.index)))
        media_port = self.config.media_port
        config = replace(
            self.config,
            behind_front=True,
            workers=1,
            # One-port mode: each worker its own UDP port (0 stays "any free port").
            media_port=media_port + worker.index if media_port else media_port,
        )
        plans = self._plans[worker.index] if first else []
        process = self._context.Process(
            target=run_worker,
            args=(seat, config, plans, os.getpid()),
            name=f"palabra-worker-{worker.index}",
        )
        process.start()
        worker.process = process
        worker.started_at = time.monotonic()
        logger.info("worker %d started (pid %d)", worker.index, process.pid)

    async def _wait_ready(self, worker: Worker) -> None:
        """Until the worker answers /healthz on its socket (its conferences are open then)."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert worker.process is not None
            if worker.process.exitcode is not None:
                raise RuntimeError(
                    f"worker {worker.index} exited with status {worker.process.exitcode} "
                    "while starting (its log says why)"
                )
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with worker.client().get("http://worker/healthz") as answer:
                    if answer.status == 200:
                        worker.ready.set()
                        return
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker {worker.index} did not answer in {START_TIMEOUT} s")
            await asyncio.sleep(0.05)

    async def _supervise(self, worker: Worker) -> None:
        backoff = RESTART_BACKOFF[0]
        while not self._stopping:
            assert worker.process is not None
            await _exited(worker.process)
            if self._stopping:
                return
            worker.ready.clear()
            lived = time.monotonic() - worker.started_at
            logger.error(
                "worker %d (pid %s) exited with status %s after %.1f s; restarting it "
                "with its conferences: %s",
                worker.index,
                worker.pid,
                worker.process.exitcode,
                lived,
                ", ".join(self.placement.on(worker.index)) or "none",
            )
            if lived < STABLE_AFTER:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, RESTART_BACKOFF[1])
            else:
                backoff = RESTART_BACKOFF[0]
            worker.restarts += 1
            try:
                self._spawn(worker)
                await self._wait_ready(worker)
            except (RuntimeError, OSError) as exc:
                # Started but not answering: end it; the loop then starts it again.
                logger.error("worker %d: %s", worker.index, exc)
                if worker.process.exitcode is None:
                    worker.process.kill()

    async def stop(self) -> None:
        """SIGTERM every worker (each closes its connections with 1001), then SIGKILL."""
        self._stopping = True
        for task in self._supervisors:
            task.cancel()
        for worker in self.workers:
            worker.ready.clear()
        running = [w.process for w in self.workers if w.process is not None]
        for process in running:
            if process.exitcode is None:
                process.terminate()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(_exited(p) for p in running)), STOP_TIMEOUT)
        for process in running:
            if process.exitcode is None:
                process.kill()
        for worker in self.workers:
            if worker.session is not None:
                await worker.session.close()
                worker.session = None


async def _exited(process: BaseProcess) -> None:
    """Until the process has exited (its sentinel becomes readable)."""
    if process.exitcode is not None:
        return
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    sentinel = process.sentinel

    def exited() -> None:
        if not done.done():
            done.set_result(None)

    loop.add_reader(sentinel, exited)
    try:
        await done
    finally:
        loop.remove_reader(sentinel)
    process.join(0)


# The worker process ---------------------------------------------------------------


def run_worker(
    seat: WorkerSeat, config: ServerConfig, plans: list[ConferencePlan], front_pid: int
) -> None:
    """A worker's main: the usual app on ``seat.socket_path``, until SIGTERM or its front exits."""
    import uvloop

    from media import fastpath

    from . import logs

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the front's to handle
    logs.configure(config.log_level, config.log_json, config.access_log, worker=seat.index)
    fastpath.select(config.forwarding or None)
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.run(_serve_worker(seat, config, plans, front_pid))


async def _serve_worker(
    seat: WorkerSeat, config: ServerConfig, plans: list[ConferencePlan], front_pid: int
) -> None:
    from aiohttp import web

    from .app import create_app

    app = create_app(config, plans, worker=seat)
    runner = web.AppRunner(app, shutdown_timeout=5.0)
    await runner.setup()
    try:
        await web.UnixSite(runner, str(seat.socket_path)).start()
        logger.info("worker %d (pid %d) serving", seat.index, os.getpid())
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
            if os.getppid() != front_pid:
                logger.error("worker %d: the front is gone; stopping", seat.index)
                break
    finally:
        await runner.cleanup()
