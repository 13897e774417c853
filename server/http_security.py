"""What every HTTP answer carries, and who may open the signaling socket.

- Security headers on every response: a Content-Security-Policy that allows
  only the client's own ES modules and stylesheet (no inline script, style or
  handler), no framing, no MIME sniffing, no Referer (the page URL holds the
  join token), and no caching of anything that carries a token or minutes.
- No server version in the ``Server`` header.
- ``/ws`` refuses a browser page from another origin (cross-site WebSocket
  hijacking): the ``Origin`` must be the public URL's, one of the allowed
  origins (the other nodes of a cluster, whose pages are redirected here),
  or, when no public URL is configured, the host the request was sent to.
  A request with no ``Origin`` is not from a browser page and is let through.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .config import ServerConfig
from .palabra import palabra_of

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob: mediastream:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Server": "Palabra",
}
# Conference pages (the token is in the URL), minutes, recordings, the admin API.
NO_STORE_PREFIXES = ("/c/", "/api/")


async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in HEADERS.items():
        response.headers[name] = value
    if request.path.startswith(NO_STORE_PREFIXES):
        response.headers["Cache-Control"] = "no-store"


def origin_allowed(request: web.Request) -> bool:
    return origin_permitted(request, palabra_of(request.app).config)


def origin_permitted(request: web.Request, config: ServerConfig) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    origin = origin.lower()
    if origin in config.origins:
        return True
    scheme = "https" if request.secure else "http"
    return not config.public_url and origin == f"{scheme}://{request.host.lower()}"


@web.middleware
async def origin_guard(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.path == "/ws" and not origin_allowed(request):
        return forbidden_origin()
    response: web.StreamResponse = await handler(request)
    return response


def forbidden_origin() -> web.Response:
    return web.json_response(
        {"error": {"code": "forbidden_origin", "message": "this origin may not connect"}},
        status=403,
    )


def setup(app: web.Application) -> None:
    app.middlewares.append(origin_guard)
    app.on_response_prepare.append(add_headers)
