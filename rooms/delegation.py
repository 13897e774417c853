"""A delegation: one government (or organisation) at the table."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Delegation"]


@dataclass(frozen=True)
class Delegation:
    delegation_id: str
    name: str  # "Honduras", "República Dominicana"
    country_code: str  # ISO 3166-1: "HN", "DO"
    # Set by its head (or the chair): delegates, not only the head, act for it on the floor.
    delegates_may_request: bool = False
    # An observer (an international organisation, civil society) never votes nor
    # counts for the quorum, and speaks only on items the chair opened to observers.
    observer: bool = False
