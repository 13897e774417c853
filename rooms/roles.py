"""Who someone is in a conference."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Role"]


class Role(StrEnum):
    """The values match the join token's `role` claim and the wire protocol."""

    CHAIR = "chair"
    HEAD = "head"  # head of delegation
    DELEGATE = "delegate"  # adviser in a delegation
    OBSERVER = "observer"
    TECHNICIAN = "technician"
    INTERPRETER = "interpreter"  # sits in a booth: see rooms.interpretation

    @property
    def speaks_for_delegation(self) -> bool:
        """Heads and delegates are heard while their delegation holds the floor."""
        return self in (Role.HEAD, Role.DELEGATE)

    @property
    def is_staff(self) -> bool:
        """Staff run the meeting: they skip the lobby and are not stopped by the lock."""
        return self in (Role.CHAIR, Role.TECHNICIAN)

    @property
    def needs_delegation(self) -> bool:
        return self.speaks_for_delegation
