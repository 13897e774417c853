"""How much one connection may ask of the server, and the token bucket that counts it.

Pure arithmetic on timestamps the caller passes in; the I/O shell decides what
to do with a verdict (answer `rate_limited`, close 4029).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

__all__ = ["Limits", "RateLimiter", "Verdict"]


@dataclass(frozen=True)
class Limits:
    """Per-connection and per-seat bounds (docs/protocol.md, "Limits")."""

    # Messages queued towards one connection; past it the connection is closed (4011).
    outbox: int = 512
    # Frames a connection may send: a sustained rate, and a burst above it.
    messages_per_second: float = 50.0
    message_burst: int = 200
    # floor.request and floor.cancel of one seat (toggling floods the room and the minutes).
    floor_toggles_per_minute: float = 20.0
    floor_toggle_burst: int = 10
    # message.send of one seat: a person typing, not a script.
    messages_sent_per_minute: float = 20.0
    message_sent_burst: int = 10
    # Media a participant may publish (camera, microphone, screen share...).
    max_tracks: int = 4

    def messages(self, now: float) -> RateLimiter:
        return RateLimiter(self.messages_per_second, self.message_burst, now)

    def floor_toggles(self, now: float) -> RateLimiter:
        return RateLimiter(self.floor_toggles_per_minute / 60.0, self.floor_toggle_burst, now)

    def messages_sent(self, now: float) -> RateLimiter:
        return RateLimiter(self.messages_sent_per_minute / 60.0, self.message_sent_burst, now)


class Verdict(enum.Enum):
    ALLOW = "allow"
    REFUSE = "refuse"  # over the rate: answer rate_limited, do nothing
    CLOSE = "close"  # kept going after being refused: sustained abuse


@dataclass
class RateLimiter:
    """A token bucket, and a second bucket of refusals that closes on sustained abuse.

    Each refused attempt adds one to a debt that drains ten times slower than
    the rate: a client briefly over the limit is only refused, one that keeps
    going at twice the rate is closed after a few seconds.
    """

    rate: float  # tokens per second
    burst: int
    last: float
    tokens: float = field(init=False)
    debt: float = 0.0

    def __post_init__(self) -> None:
        self.tokens = float(self.burst)

    def take(self, now: float) -> Verdict:
        elapsed = max(0.0, now - self.last)
        self.last = max(self.last, now)
        self.tokens = min(float(self.burst), self.tokens + elapsed * self.rate)
        self.debt = max(0.0, self.debt - elapsed * self.rate / 10)
        if self.tokens >= 1:
            self.tokens -= 1
            return Verdict.ALLOW
        self.debt += 1
        return Verdict.CLOSE if self.debt > self.burst else Verdict.REFUSE
