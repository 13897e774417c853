"""HTTPS around the app: HSTS, a reverse proxy's X-Forwarded-*, the HTTP redirect.

A request's public scheme and host come from X-Forwarded-Proto and
X-Forwarded-Host only when it arrives from a configured trusted proxy;
anyone else's headers are ignored, so a client cannot make the server print
links or redirects to a host of its choosing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from .config import ServerConfig

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _first(value: str) -> str:
    return value.split(",")[0].strip()


def from_trusted_proxy(request: web.Request, config: ServerConfig) -> bool:
    if config.behind_front:
        return True  # a worker: only its front can reach its socket (server/workers.py)
    if not config.trusted_proxies or request.transport is None:
        return False
    peer = request.transport.get_extra_info("peername")
    if not peer:
        return False
    try:
        address = ipaddress.ip_address(peer[0])
    except ValueError:
        return False
    return any(address in network for network in config.trusted_proxies)


def forwarded_middleware(config: ServerConfig) -> Middleware:
    """Believe X-Forwarded-* from trusted proxies; add HSTS to answers over HTTPS."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if from_trusted_proxy(request, config):
            changes: dict[str, str] = {}
            proto = _first(request.headers.get("X-Forwarded-Proto", ""))
            if proto in ("http", "https"):
                changes["scheme"] = proto
            host = _first(request.headers.get("X-Forwarded-Host", ""))
            if host:
                changes["host"] = host
            remote = _first(request.headers.get("X-Forwarded-For", ""))
            if remote:
                changes["remote"] = remote
            if changes:
                request = request.clone(**changes)  # type: ignore[arg-type]
        response = await handler(request)
        if request.scheme == "https" and config.hsts_max_age > 0:
            response.headers.setdefault(
                "Strict-Transport-Security", f"max-age={config.hsts_max_age}"
            )
        return response

    return middleware


def public_base(request: web.Request, config: ServerConfig) -> str:
    """The base of links printed in answers: public_url, else how the client reached us."""
    if config.public_url:
        return config.public_url.rstrip("/")
    return f"{request.scheme}://{request.host}"


def redirect_app(config: ServerConfig) -> web.Application:
    """Plain HTTP: every request is sent to the same path over HTTPS (308)."""

    async def redirect(request: web.Request) -> web.StreamResponse:
        if config.public_url.startswith("https://"):
            base = config.public_url.rstrip("/")
        else:
            host = request.url.host or config.host
            if ":" in host:
                host = f"[{host}]"
            base = f"https://{host}" + ("" if config.port == 443 else f":{config.port}")
        raise web.HTTPPermanentRedirect(base + request.rel_url.path_qs)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", redirect)
    return app
