"""Server settings, from the command line or the environment."""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    # Addresses announced as ICE host candidates (public address behind NAT,
    # 127.0.0.1 for tests); empty means the machine's own interfaces.
    media_addresses: list[str] = field(default_factory=list)
    # HMAC secret of join tokens and of the admin API.
    secret: str = field(default_factory=lambda: os.environ.get("PALABRA_SECRET", ""))
    # Base of the join links printed and returned (defaults to http://host:port).
    public_url: str = ""
    demo: bool = False
    # Where recordings of the floor are written, one folder per conference.
    recordings: Path = Path("recordings")
    # Seconds a participant whose connection dropped keeps its seat.
    resume_grace: float = 30.0
    # Seconds without RTCP from a client's peer connections (which send
    # reports every second or so) before it counts as vanished; 0: never.
    media_timeout: float = 10.0
    # Seconds of WebSocket silence before a client counts as gone (a ping is
    # sent at half of it).
    heartbeat_timeout: float = 45.0
    # Redis for durable state and several nodes; None keeps state in memory.
    redis_url: str | None = None
    node_id: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    node_ttl: float = 10.0  # a node that misses heartbeats this long is dead
    log_json: bool = False

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
        return f"http://{host}:{self.port}"
