"""Checks made before serving: every one either passes or stops the start.

The certificate and key are loaded, the ports bound and every TURN server
asked for an allocation with a minted credential, so that a wrong path, a
port in use, a TURN server that does not answer or a shared secret that
differs from coturn's is reported at start, naming the setting to fix.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import ssl
import time

import aioice.stun
import aioice.turn

from .config import ServerConfig
from .options import ConfigError
from .turn import TurnUrl, seat_credentials

TURN_CHECK_TIMEOUT = 5.0  # seconds per TURN URL


def tls_context(config: ServerConfig) -> ssl.SSLContext | None:
    if config.tls_cert is None or config.tls_key is None:
        return None
    for key, path in (("tls_cert", config.tls_cert), ("tls_key", config.tls_key)):
        try:
            path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"{key}: cannot read {path}: {exc.strerror}") from None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(config.tls_cert, config.tls_key)
    except ssl.SSLError as exc:
        raise ConfigError(
            f"tls_cert {config.tls_cert} and tls_key {config.tls_key} are not a PEM "
            f"certificate chain and its private key ({exc.reason or exc})"
        ) from None
    return context


def listen(host: str, port: int, key: str) -> socket.socket:
    """A bound, listening TCP socket; ConfigError names ``key`` if it cannot be."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"host {host!r} cannot be listened on: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(511)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"{key} {port}: the port is in use on {host} (stop the other server or "
                f"choose another {key})"
            ) from None
        if exc.errno == errno.EACCES:
            raise ConfigError(
                f"{key} {port}: not permitted on {host} (ports below 1024 need "
                "CAP_NET_BIND_SERVICE, see docs/deployment.md)"
            ) from None
        raise ConfigError(f"{key} {port} on {host}: {exc.strerror}") from None
    sock.setblocking(False)
    return sock


async def check_turn(config: ServerConfig) -> None:
    """Allocate a relay on every TURN URL with a credential minted as for a seat."""
    for url in config.turn_urls:
        await _allocate(url, config.turn_secret)


async def _allocate(url: TurnUrl, secret: str) -> None:
    username, password = seat_credentials(secret, "palabra-start-check", time.time() + 60)
    context: ssl.SSLContext | None = None
    if url.tls:
        context = ssl.create_default_context()
    try:
        transport, _ = await asyncio.wait_for(
            aioice.turn.create_turn_endpoint(
                asyncio.DatagramProtocol,
                (url.host, url.port),
                username,
                password,
                ssl=context,
                transport=url.transport,
                lifetime=60,
            ),
            TURN_CHECK_TIMEOUT,
        )
    except (TimeoutError, aioice.stun.TransactionTimeout):
        raise ConfigError(
            f"turn_url {url}: no answer within {TURN_CHECK_TIMEOUT:.0f} s (is coturn running, "
            "and the port open?)"
        ) from None
    except aioice.stun.TransactionFailed as exc:
        code = exc.response.attributes.get("ERROR-CODE", (0, ""))
        hint = (
            ": turn_secret_file differs from coturn's static-auth-secret "
            "(coturn needs use-auth-secret)"
            if code[0] == 401
            else ""
        )
        raise ConfigError(
            f"turn_url {url}: allocation refused ({code[0]} {code[1]}){hint}"
        ) from None
    except ssl.SSLError as exc:
        raise ConfigError(
            f"turn_url {url}: TLS failed ({exc.reason or exc}); coturn's certificate must be "
            "valid for the host name, from a CA the clients trust"
        ) from None
    except OSError as exc:
        raise ConfigError(f"turn_url {url}: cannot reach it ({exc.strerror or exc})") from None
    with contextlib.suppress(Exception):
        transport.close()
        await asyncio.sleep(0)
