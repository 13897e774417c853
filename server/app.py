"""The aiohttp application: routes, shared state, graceful shutdown."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from media.aiortc_hooks import announce_addresses, check_versions

from .config import ServerConfig
from .connection import websocket_handler
from .palabra import PALABRA, Palabra

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"


def create_app(config: ServerConfig) -> web.Application:
    check_versions()
    announce_addresses(config.media_addresses)
    palabra = Palabra(config)
    app = web.Application()
    app[PALABRA] = palabra
    app.router.add_get("/", _page("index.html"))
    app.router.add_get("/c/{conference}", _page("conference.html"))
    app.router.add_get("/ws", websocket_handler)
    app.router.add_get("/healthz", _healthz)
    app.router.add_static("/web/", WEB_ROOT, append_version=False)

    async def on_shutdown(app: web.Application) -> None:
        await palabra.shutdown()

    app.on_shutdown.append(on_shutdown)
    return app


def _page(name: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    path = WEB_ROOT / name

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(path, headers={"Cache-Control": "no-cache"})

    return handler


async def _healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok\n")
