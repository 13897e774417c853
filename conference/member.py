"""A connected participant of a live conference, and what it may be refused."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from media.transport import ALL_KINDS, PeerTransport
from signaling import CloseCode, ParticipantInfo, Role, ServerMessage

# Roles that receive the monitoring feed and may act on streams.
MONITORING_ROLES = frozenset({Role.TECHNICIAN, Role.CHAIR})
# Roles whose members may publish camera and microphone.
PUBLISHING_ROLES = frozenset({Role.CHAIR, Role.HEAD, Role.DELEGATE, Role.INTERPRETER})


class Connection(Protocol):
    """What the conference needs of a member's signaling connection."""

    async def send(self, message: ServerMessage) -> None: ...

    async def close(self, code: CloseCode, reason: str) -> None: ...

    async def probe(self, within: float) -> None:
        """Ping the client; close as a heartbeat timeout unless it answers within ``within`` s."""
        ...


class JoinRefused(Exception):
    """A join or media request refused; ``code`` is a protocol error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Member:
    """A connected participant; ``transport`` is None while waiting in the lobby."""

    info: ParticipantInfo
    connection: Connection
    transport: PeerTransport | None = None
    # The kinds of media it is sent (hello.subscribe); none: publish-only.
    receives: frozenset[str] = ALL_KINDS


__all__ = ["MONITORING_ROLES", "PUBLISHING_ROLES", "Connection", "JoinRefused", "Member"]
