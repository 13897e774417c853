"""Everything one server process (one node) holds, reachable from the aiohttp app.

With Redis, several nodes share the conferences: each conference is placed
on one node (``cluster.registry``), a node loads it from the event log when it
claims it, and a client that reaches another node is redirected to the owner.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from aiohttp import web

from cluster.redis_store import StoreUnavailable
from cluster.registry import NodeRegistry
from conference.live import ConferenceOptions, LiveConference
from conference.member import JoinRefused
from conference.monitor import Totals
from conference.plans import ConferencePlan
from media import fastpath
from media.router import Router
from media.udp_mux import UdpMux
from rooms import EventStore, MemoryEventStore
from signaling import CloseCode

from .config import ServerConfig
from .options import ConfigError
from .turn import TurnPolicy

if TYPE_CHECKING:
    from .connection import WebSocketConnection

logger = logging.getLogger(__name__)

READY_TIMEOUT = 0.8  # seconds: a frozen store makes /readyz answer 503, not hang


class PlacedElsewhere(Exception):
    """The conference lives on another node: reconnect to ``url``."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


class Palabra:
    def __init__(
        self,
        config: ServerConfig,
        store: EventStore | None = None,
        registry: NodeRegistry | None = None,
        reload: Sequence[str] = (),
    ) -> None:
        self.config = config
        # A worker's conferences placed here by its front before a restart.
        self._reload = tuple(reload)
        self.store: EventStore = store if store is not None else MemoryEventStore()
        self.registry = registry
        self.conferences: dict[str, LiveConference] = {}
        self.connections: set[WebSocketConnection] = set()
        self.turn = TurnPolicy(config.turn_urls, config.turn_secret, config.turn_ttl)
        # The latest connectivity check of each seat, by (conference, participant).
        self.check_reports: dict[tuple[str, str], dict[str, object]] = {}
        self.totals = Totals()  # process-wide figures for /metrics
        # One-port mode: the shared media socket, bound at start.
        self.udp_mux = UdpMux(config.media_port) if config.media_port is not None else None
        self._options = ConferenceOptions(
            totals=self.totals,
            recordings=config.recordings,
            resume_grace=config.resume_grace,
            media_timeout=config.media_timeout,
            last_n=config.last_n,
        )
        self.ready = False  # set once the start-up conferences are open
        self._heartbeat: asyncio.Task[None] | None = None
        self._placing = asyncio.Lock()

    @property
    def node_id(self) -> str:
        return self.registry.node_id if self.registry is not None else "local"

    async def start(self, plans: list[ConferencePlan]) -> None:
        """Join the cluster, open the start-up conferences and this node's others."""
        if self.udp_mux is not None:
            try:
                await self.udp_mux.open()
            except OSError as exc:
                raise ConfigError(
                    f"media_port: cannot bind UDP port {self.udp_mux.port}: {exc.strerror}"
                ) from None
        logger.info("forwarding path: %s", fastpath.implementation())
        if self.udp_mux is not None:
            logger.info("all media on UDP port %d", self.udp_mux.port)
        try:
            if self.registry is not None:
                await self.registry.heartbeat(self._load())
            for plan in plans:
                await self.open_conference(plan)
            for conference_id in self._reload:
                await self._reload_conference(conference_id)
            if self.registry is not None:
                # After a restart: take back this node's conferences, and orphans.
                for conference_id in await self.store.conferences():
                    with contextlib.suppress(PlacedElsewhere, JoinRefused):
                        await self.conference_for(conference_id)
        except StoreUnavailable:
            # Serve anyway: /readyz says why, and conferences load on first use.
            logger.warning("Redis unavailable at start-up; conferences load when it returns")
        if self.registry is not None:
            self._heartbeat = asyncio.ensure_future(self._beat())
        self.ready = True

    async def open_conference(self, plan: ConferencePlan) -> LiveConference:
        """Create the conference (or load it, when the store already has it)."""
        async with self._placing:
            if plan.id in self.conferences:
                return self.conferences[plan.id]
            await self._claim(plan.id)
            conference = await LiveConference.open(
                plan, self.store, Router(udp_mux=self.udp_mux), self._options
            )
            self.conferences[plan.id] = conference
            return conference

    async def conference_for(self, conference_id: str) -> LiveConference | None:
        """The conference, loaded here if this node may own it; None if unknown.

        Raises :class:`PlacedElsewhere` when another live node owns it.
        """
        async with self._placing:
            conference = self.conferences.get(conference_id)
            if conference is not None or self.registry is None:
                return conference
            if await self.store.last_seq(conference_id) == 0:
                return None
            await self._claim(conference_id)
            conference = await LiveConference.load(
                conference_id, self.store, Router(udp_mux=self.udp_mux), self._options
            )
            self.conferences[conference_id] = conference
            logger.info(
                "conference %s placed here", conference_id, extra={"conference": conference_id}
            )
            return conference

    async def _reload_conference(self, conference_id: str) -> None:
        """Rebuild a conference its front placed here, from its log (after a crash)."""
        async with self._placing:
            if conference_id in self.conferences:
                return
            if await self.store.last_seq(conference_id) == 0:
                logger.warning("conference %s placed here has no log", conference_id)
                return
            self.conferences[conference_id] = await LiveConference.load(
                conference_id, self.store, Router(udp_mux=self.udp_mux), self._options
            )
            logger.info(
                "conference %s reloaded from its log",
                conference_id,
                extra={"conference": conference_id},
            )

    async def _claim(self, conference_id: str) -> None:
        if self.registry is None:
            return
        owner = await self.registry.claim(conference_id)
        if owner != self.registry.node_id:
            nodes = await self.registry.live_nodes()
            url = nodes[owner].url if owner in nodes else ""
            raise PlacedElsewhere(url)

    def _load(self) -> dict[str, int]:
        return {
            "conferences": len(self.conferences),
            "connections": len(self.connections),
        }

    async def _beat(self) -> None:
        """Heartbeat; after a lapse, give up conferences another node took over."""
        assert self.registry is not None
        while True:
            await asyncio.sleep(self.registry.ttl / 3)
            try:
                continuous = await self.registry.heartbeat(self._load())
                if not continuous:
                    await self._check_placement()
            except StoreUnavailable:
                logger.warning("cannot heartbeat: Redis unavailable")

    async def _check_placement(self) -> None:
        assert self.registry is not None
        for conference_id, conference in list(self.conferences.items()):
            owner = await self.registry.owner(conference_id)
            if owner is None:
                # Unplaced (Redis lost its keys, or ours expired and nobody
                # took it): still ours to run; say so again.
                owner = await self.registry.claim(conference_id)
            if owner != self.registry.node_id:
                logger.warning(
                    "conference %s moved to another node",
                    conference_id,
                    extra={"conference": conference_id},
                )
                del self.conferences[conference_id]
                await conference.close(CloseCode.GOING_AWAY, "conference moved to another node")

    async def readiness(self) -> str | None:
        """None when ready; otherwise what is missing."""
        if not self.ready:
            return "starting"
        try:
            await asyncio.wait_for(self.store.conferences(), READY_TIMEOUT)
        except Exception as exc:  # any store failure means not ready
            return f"event store unavailable ({type(exc).__name__})"
        failing = [c.id for c in self.conferences.values() if c.store_failing]
        if failing:
            return f"event store failed just now for {', '.join(failing)}"
        restoring = [c.id for c in self.conferences.values() if c.restoring]
        if restoring:
            return f"event log being restored: {', '.join(restoring)}"
        return None

    async def shutdown(self) -> None:
        """Close every connection and conference with 1001, reason given.

        Participants keep their seats in the log: after a restart (or on the
        node that takes over) they resume within the grace period.
        """
        self.ready = False
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        reason = "server shutting down"
        await asyncio.gather(*(c.close(CloseCode.GOING_AWAY, reason) for c in self.connections))
        await asyncio.gather(
            *(c.close(CloseCode.GOING_AWAY, reason) for c in self.conferences.values())
        )
        if self.registry is not None:
            with contextlib.suppress(StoreUnavailable):
                for conference_id in self.conferences:
                    await self.registry.release(conference_id)
                await self.registry.leave()
        if self.udp_mux is not None:
            self.udp_mux.close()


PALABRA: web.AppKey[Palabra] = web.AppKey("palabra", Palabra)


def palabra_of(app: web.Application) -> Palabra:
    return app[PALABRA]
