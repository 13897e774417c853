"""Server settings, from the command line or the environment."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field


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
    log_json: bool = False

    def __post_init__(self) -> None:
        if not self.secret:
            # Links then only work until the process stops: fine for a demo.
            self.secret = secrets.token_urlsafe(32)

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"
