"""Value types of the order of business: an item's title, a ballot, a quorum rule.

Shared by commands, events and state (rooms.agenda, rooms.rollcall, rooms.votes);
each checks its own values on construction, so a malformed one never exists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from ._checks import check_name, check_seconds, invalid
from .languages import check_language

__all__ = [
    "MAX_DURATION",
    "MAX_TEXT",
    "Ballot",
    "ItemStatus",
    "ItemTitle",
    "QuorumRule",
    "check_duration",
    "check_text",
]

# Planned durations, budgets, extra time and objection windows: a day at most.
MAX_DURATION = 24 * 3600.0
# A proposal's text (a decision read out by the chair).
MAX_TEXT = 2000


def check_duration(value: float, field: str) -> None:
    """A positive number of seconds, at most a day: anything longer is a typo."""
    check_seconds(value, field, positive=True)
    if value > MAX_DURATION:
        raise invalid(f"{field} must be at most {MAX_DURATION:.0f} seconds (24 h)")


def check_text(value: str, field: str) -> None:
    if not value.strip() or len(value) > MAX_TEXT:
        raise invalid(f"{field} must be 1-{MAX_TEXT} characters, not blank")


class ItemStatus(StrEnum):
    """An agenda item moves upcoming -> open -> closed, never back."""

    UPCOMING = "upcoming"
    OPEN = "open"
    CLOSED = "closed"


class Ballot(StrEnum):
    """A delegation's answer in a recorded vote."""

    YES = "yes"
    NO = "no"
    ABSTAIN = "abstain"


@dataclass(frozen=True)
class ItemTitle:
    """An agenda item's title in one language (ISO 639-1)."""

    language: str
    text: str

    def __post_init__(self) -> None:
        check_language(self.language, "titles.language")
        check_name(self.text, "titles.text")


@dataclass(frozen=True)
class QuorumRule:
    """How many registered delegations must be present: a number, or a fraction of them."""

    count: int | None = None
    fraction: float | None = 0.5

    def __post_init__(self) -> None:
        if (self.count is None) == (self.fraction is None):
            raise invalid("quorum: give either count or fraction")
        if self.count is not None and not 1 <= self.count <= 1000:
            raise invalid("quorum count must be 1-1000 delegations")
        if self.fraction is not None and not (
            math.isfinite(self.fraction) and 0 < self.fraction <= 1
        ):
            raise invalid("quorum fraction must be > 0 and <= 1")

    def required(self, registered: int) -> int:
        """Delegations needed present, out of `registered`; never less than one."""
        if self.count is not None:
            return self.count
        assert self.fraction is not None
        return max(1, math.ceil(self.fraction * registered - 1e-9))
