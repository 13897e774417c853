"""Per-conference settings: set when the conference is created, a few changed by the chair."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._checks import check_seconds, invalid
from ._codec import JSON, decode_fields, encode

__all__ = ["Settings"]


@dataclass(frozen=True)
class Settings:
    # Speaking time of a grant when the chair names none; None means no limit.
    default_time_limit: float | None = 180.0
    # The speaker is warned this long before the limit (0: no warning).
    warning_before: float = 30.0
    # After the limit the speaker may finish for this long; then the floor is revoked.
    grace_period: float = 10.0
    # How many delegations may hold the floor at once (a panel may want 2 or more).
    max_holders: int = 1
    # Non-staff arrivals wait in the lobby until the chair admits them.
    lobby_enabled: bool = True
    # New requests go straight onto the speakers list; otherwise they wait for the chair.
    auto_accept: bool = True
    # Informal segment: every head and delegate is heard, floor or not.
    open_floor: bool = False
    # A chat to everyone in the room, besides the private threads (the chair opens it).
    public_chat: bool = False

    def __post_init__(self) -> None:
        if self.default_time_limit is not None:
            check_seconds(self.default_time_limit, "default_time_limit", positive=True)
        check_seconds(self.warning_before, "warning_before", positive=False)
        check_seconds(self.grace_period, "grace_period", positive=False)
        if self.max_holders < 1:
            raise invalid("max_holders must be at least 1")

    def to_dict(self) -> dict[str, JSON]:
        encoded = encode(self)
        assert isinstance(encoded, dict)
        return encoded

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Settings:
        settings: Settings = decode_fields(cls, raw)
        return settings
