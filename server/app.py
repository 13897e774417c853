"""The aiohttp application: routes, shared state, graceful shutdown."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from aiohttp import web

from cluster.redis_store import RedisEventStore, connect
from cluster.registry import NodeRegistry
from cluster.shared_store import SharedEventStore
from conference.plans import ConferencePlan
from media.aiortc_hooks import announce_addresses, check_versions
from rooms import EventStore

from . import http_security
from .admin import add_routes
from .check import add_routes as add_check_routes
from .config import ServerConfig
from .connection import websocket_handler
from .https import forwarded_middleware
from .metrics import add_routes as add_metrics_routes
from .palabra import PALABRA, Palabra, palabra_of
from .workers import WorkerSeat

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"


def create_app(
    config: ServerConfig,
    plans: Sequence[ConferencePlan] = (),
    worker: WorkerSeat | None = None,
) -> web.Application:
    """The application; ``plans`` are conferences opened at start-up.

    ``worker``: this process is one of a front's workers (server/workers.py):
    its front places the conferences, and keeps the logs unless Redis does.
    """
    check_versions()
    announce_addresses(config.media_addresses)
    if worker is not None:
        store: EventStore = (
            RedisEventStore(connect(config.redis_url))
            if config.redis_url
            else SharedEventStore(worker.store_path)
        )
        palabra = Palabra(config, store, reload=worker.conferences)
    elif config.redis_url:
        client = connect(config.redis_url)
        registry = NodeRegistry(
            client, "palabra", config.node_id, config.node_ttl, url=config.ws_url
        )
        palabra = Palabra(config, RedisEventStore(client), registry)
    else:
        palabra = Palabra(config)
    app = web.Application(middlewares=[forwarded_middleware(config)])
    app[PALABRA] = palabra
    http_security.setup(app)
    app.router.add_get("/", _page("index.html"))
    app.router.add_get("/c/{conference}", _page("conference.html"))
    app.router.add_get("/check", _page("check.html"))
    add_check_routes(app)
    app.router.add_get("/ws", websocket_handler)
    app.router.add_get("/healthz", _healthz)
    app.router.add_static("/web/", WEB_ROOT, append_version=False)
    add_routes(app)
    add_metrics_routes(app)
    app.router.add_get("/readyz", _readyz)

    async def on_startup(app: web.Application) -> None:
        await palabra.start(list(plans))

    async def on_shutdown(app: web.Application) -> None:
        await palabra.shutdown()

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    return app


def _page(name: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    path = WEB_ROOT / name

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(path, headers={"Cache-Control": "no-cache"})

    return handler


async def _healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


async def _readyz(request: web.Request) -> web.Response:
    """Ready once the conferences are open and the store answers."""
    problem = await palabra_of(request.app).readiness()
    if problem is not None:
        return web.Response(status=503, text=f"not ready: {problem}\n")
    return web.Response(text="ready\n")
