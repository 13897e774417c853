"""A participant: one person's presence, in the room or in the lobby."""

from __future__ import annotations

from dataclasses import dataclass

from .roles import Role

__all__ = ["Participant"]


@dataclass(frozen=True)
class Participant:
    participant_id: str
    name: str
    role: Role
    delegation_id: str | None
    since: float  # arrival in the lobby, or entry into the room once admitted
