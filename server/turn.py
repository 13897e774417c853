"""Short-lived TURN credentials per seat (the TURN REST API scheme).

coturn's ``use-auth-secret`` accepts a username ``<expiry>:<seat>`` whose
password is base64(HMAC-SHA1(shared secret, username)) until ``expiry``
(Unix seconds). Palabra mints one per seat in every ``welcome``, so the shared
secret itself never leaves the server. Pure: no I/O, time passed in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from signaling import IceServer

Transport = Literal["udp", "tcp"]

_URL = re.compile(
    r"^(?P<scheme>turns?):(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)"
    r"(?::(?P<port>\d{1,5}))?(?:\?transport=(?P<transport>udp|tcp))?$"
)


@dataclass(frozen=True)
class TurnUrl:
    scheme: Literal["turn", "turns"]
    host: str  # IPv6 without brackets
    port: int
    transport: Transport

    @property
    def tls(self) -> bool:
        return self.scheme == "turns"

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}:{host}:{self.port}?transport={self.transport}"


def parse_turn_url(text: str) -> TurnUrl:
    """``turn:host[:port][?transport=udp|tcp]`` or ``turns:...`` (RFC 7065)."""
    match = _URL.match(text.strip())
    if match is None:
        raise ValueError(
            f"{text!r} is not a TURN URL like turn:turn.example.org:3478?transport=udp "
            "or turns:turn.example.org:443?transport=tcp"
        )
    scheme: Literal["turn", "turns"] = "turns" if match["scheme"] == "turns" else "turn"
    port = int(match["port"]) if match["port"] else (5349 if scheme == "turns" else 3478)
    if not 0 < port < 65536:
        raise ValueError(f"{text!r}: port {port} is out of range")
    transport: Transport = "tcp" if scheme == "turns" else (match["transport"] or "udp")  # type: ignore[assignment]
    if scheme == "turns" and match["transport"] == "udp":
        raise ValueError(f"{text!r}: TURN over TLS runs on TCP (DTLS is not supported)")
    return TurnUrl(scheme, match["host"].strip("[]"), port, transport)


def credential(secret: str, username: str) -> str:
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def seat_credentials(secret: str, seat: str, expiry: float) -> tuple[str, str]:
    """(username, password) valid until ``expiry`` (Unix seconds) for ``seat``."""
    username = f"{int(expiry)}:{seat}"
    return username, credential(secret, username)


@dataclass(frozen=True)
class TurnPolicy:
    """What every seat's iceServers are made of."""

    urls: Sequence[TurnUrl]
    secret: str
    ttl: float

    def ice_servers(
        self, seat: str, now: float, seat_expiry: float | None
    ) -> tuple[IceServer, ...]:
        """One entry with every URL; the credential lapses with the seat's token."""
        if not self.urls:
            return ()
        expiry = now + self.ttl
        if seat_expiry is not None:
            expiry = min(expiry, seat_expiry)
        username, password = seat_credentials(self.secret, seat, expiry)
        return (IceServer(tuple(str(u) for u in self.urls), username, password),)

    def __repr__(self) -> str:  # the secret stays out of logs and tracebacks
        return f"TurnPolicy(urls={[str(u) for u in self.urls]}, ttl={self.ttl})"
