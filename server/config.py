"""Server settings, from the command line, the config file or the environment.

``server.options`` reads and checks them; this is only what they are.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from signaling import Limits

from .credentials import check_credential, check_distinct, generate

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
    # One-port mode: every participant's ICE/DTLS/SRTP on this one UDP port
    # (0: any free port); None: each connection gets its own ephemeral ports.
    media_port: int | None = None
    # HMAC key of join and resume tokens (at least 32 bytes).
    secret: str = field(default_factory=lambda: os.environ.get("PALABRA_SECRET", ""), repr=False)
    # Bearer credential of the admin API, and of GET /metrics: each its own.
    admin_token: str = field(
        default_factory=lambda: os.environ.get("PALABRA_ADMIN_TOKEN", ""), repr=False
    )
    metrics_token: str = field(
        default_factory=lambda: os.environ.get("PALABRA_METRICS_TOKEN", ""), repr=False
    )
    # Base of the join links printed and returned (defaults to http://host:port).
    public_url: str = ""
    # Further origins (scheme://host[:port]) whose pages may open the signaling socket.
    allowed_origins: list[str] = field(default_factory=list)
    demo: bool = False
    # A conference (delegations, settings, agenda) opened at start-up: server/plan_file.py.
    conference_file: Path | None = None
    # Where recordings of the floor and the channels are written, one folder per conference.
    recordings: Path = Path("recordings")
    # Seconds a participant whose connection dropped keeps its seat.
    resume_grace: float = 30.0
    # Seconds without RTP or RTCP from a client that sends or receives media
    # before its signaling is probed (a ping it must answer as fast): a client
    # that vanished is dropped then; 0 turns this off.
    media_timeout: float = 10.0
    # Videos forwarded at most to each participant: the floor, the chair and
    # the most recent speakers; the others are shown by name.
    last_n: int = 9
    # Seconds of WebSocket silence before a client counts as gone (a ping
    # goes out at 4/9 of it).
    heartbeat_timeout: float = 45.0
    # Redis for durable state and several nodes; None keeps state in memory.
    redis_url: str | None = None
    node_id: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    node_ttl: float = 10.0  # a node that misses heartbeats this long is dead
    # Forwarding processes behind one front (server/workers.py); 1: this
    # process serves alone; 0: one per core.
    workers: int = 1
    # Set in a worker process: its requests come from the front over a private
    # Unix socket, so the front's X-Forwarded-* are believed.
    behind_front: bool = False
    log_json: bool = False
    log_level: str = "INFO"
    # Log every HTTP request at INFO (otherwise only at DEBUG).
    access_log: bool = False
    # Packet forwarding path, "native" or "python"; empty: $PALABRA_FASTPATH, else native.
    forwarding: str = ""
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

    # Queue, rate and quota bounds of every connection (docs/protocol.md, "Limits").
    limits: Limits = field(default_factory=Limits)

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None

    def __post_init__(self) -> None:
        # A credential not given is made up for this process alone: links then
        # only work until it stops, and nobody can call the admin API or scrape
        # metrics (the command line keeps them in files instead).
        self.secret = check_credential(self.secret or generate(), "token secret")
        self.admin_token = check_credential(self.admin_token or generate(), "admin token")
        self.metrics_token = check_credential(self.metrics_token or generate(), "metrics token")
        check_distinct(
            token_secret=self.secret,
            admin_token=self.admin_token,
            metrics_token=self.metrics_token,
        )

    @property
    def origins(self) -> frozenset[str]:
        """The browser origins allowed to open /ws (besides the request's own host
        when no public URL is configured)."""
        found = {_origin(url) for url in [self.public_url, *self.allowed_origins] if url}
        return frozenset(found)

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


def _origin(url: str) -> str:
    """``scheme://host[:port]`` of a URL, lower case, as browsers send in ``Origin``."""
    scheme, _, rest = url.strip().partition("://")
    host = rest.split("/", 1)[0]
    return f"{scheme.lower()}://{host.lower()}"
