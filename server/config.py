"""Server settings, from the command line, the config file or the environment.

``server.options`` reads and checks them; this is only what they are.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .turn import TurnUrl

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    # Addresses announced as ICE host candidates (public address behind NAT,
    # 127.0.0.1 for tests); empty means the machine's own interfaces.
    media_addresses: list[str] = field(default_factory=list)
    # HMAC secret of join tokens and of the admin API.
    secret: str = field(default_factory=lambda: os.environ.get("PALABRA_SECRET", ""), repr=False)
    # Base of the join links printed and returned (defaults to http://host:port).
    public_url: str = ""
    demo: bool = False
    # Where recordings of the floor are written, one folder per conference.
    recordings: Path = Path("recordings")
    # Seconds a participant whose connection dropped keeps its seat.
    resume_grace: float = 30.0
    # Redis for durable state and several nodes; None keeps state in memory.
    redis_url: str | None = None
    node_id: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    node_ttl: float = 10.0  # a node that misses heartbeats this long is dead
    log_json: bool = False
    log_level: str = "INFO"
    # HTTPS and WSS on `port` when both are set (PEM files).
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # A plain-HTTP listener on this port that redirects to HTTPS.
    redirect_http_port: int | None = None
    hsts_max_age: int = 365 * 24 * 3600  # sent with every answer over TLS; 0: none
    # Reverse proxies whose X-Forwarded-Proto/-Host/-For are believed.
    trusted_proxies: list[IPNetwork] = field(default_factory=list)
    # TURN servers handed to clients, with credentials minted from turn_secret
    # (coturn's static-auth-secret, never sent nor logged).
    turn_urls: list[TurnUrl] = field(default_factory=list)
    turn_secret: str = field(default="", repr=False)
    turn_ttl: float = 12 * 3600.0
    turn_check: bool = True  # allocate on every TURN URL before serving

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None

    def __post_init__(self) -> None:
        if not self.secret:
            # Links then only work until the process stops: fine for a demo.
            self.secret = secrets.token_urlsafe(32)

    @property
    def ws_url(self) -> str:
        """The signaling URL other nodes redirect this node's clients to."""
        base = self.base_url
        return ("wss" + base[5:] if base.startswith("https") else "ws" + base[4:]) + "/ws"

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"
