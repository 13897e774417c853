"""Floor request priorities: they order the speakers list."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Priority"]


class Priority(StrEnum):
    POINT_OF_ORDER = "point_of_order"
    RIGHT_OF_REPLY = "right_of_reply"
    ORDINARY = "ordinary"

    @property
    def rank(self) -> int:
        """Lower ranks are heard first."""
        return _RANK[self]


_RANK = {Priority.POINT_OF_ORDER: 0, Priority.RIGHT_OF_REPLY: 1, Priority.ORDINARY: 2}
