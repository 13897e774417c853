"""Decisions on record: adoption by consensus, and recorded (named) votes.

Consensus: the chair proposes a text and asks for objections; when the window
is over the text is adopted if no delegation objected (a time event, like the
floor's). Recorded vote: one named ballot per delegation (yes, no, abstain),
final once cast, by its head or the voter the head designated; the chair closes
the vote and the result is counted from the ballots. One decision is open at a
time.

State only, evolved by `DecisionEvent`s; the rules are in :mod:`rooms.voting_rules`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from ._codec import JSON
from .events import (
    ConsensusEnded,
    ConsensusProposed,
    DecisionEvent,
    ObjectionRaised,
    SystemReason,
    VoteCast,
    VoteClosed,
    VoteOpened,
    VoterDesignated,
)
from .order_values import Ballot
from .permissions import SYSTEM

__all__ = ["Decision", "DecisionKind", "Votes"]


class DecisionKind(StrEnum):
    CONSENSUS = "consensus"
    VOTE = "vote"


@dataclass(frozen=True)
class Decision:
    decision_id: str
    kind: DecisionKind
    item_id: str | None  # the agenda item open when it was proposed
    text: str
    opened_at: float
    closes_at: float | None = None  # consensus: end of the objection window
    open: bool = True
    # Named: (delegation, ballot) in the order cast; consensus: objecting delegations.
    ballots: tuple[tuple[str, Ballot], ...] = ()
    objections: tuple[str, ...] = ()
    adopted: bool | None = None  # once closed
    closed_at: float | None = None

    def count(self, ballot: Ballot) -> int:
        return sum(1 for _, cast in self.ballots if cast is ballot)

    def voted(self, delegation_id: str) -> bool:
        return any(d == delegation_id for d, _ in self.ballots)


class Votes:
    def __init__(self) -> None:
        self._decisions: dict[str, Decision] = {}
        self._designated: dict[str, str] = {}  # delegation -> its designated voter

    def copy(self) -> Votes:
        other = Votes()
        other._decisions = dict(self._decisions)
        other._designated = dict(self._designated)
        return other

    # Queries ---------------------------------------------------------------------

    @property
    def decisions(self) -> Mapping[str, Decision]:
        return MappingProxyType(self._decisions)

    @property
    def designated(self) -> Mapping[str, str]:
        return MappingProxyType(self._designated)

    def open_decision(self) -> Decision | None:
        for decision in self._decisions.values():
            if decision.open:
                return decision
        return None

    def next_id(self) -> str:
        return f"d{len(self._decisions) + 1}"

    def next_deadline(self) -> float | None:
        decision = self.open_decision()
        return None if decision is None else decision.closes_at

    def due(self, now: float, clock: float) -> list[ConsensusEnded]:
        """The end of an objection window, if it is over by `now` (dated at the window's end)."""
        decision = self.open_decision()
        if decision is None or decision.closes_at is None or decision.closes_at > now:
            return []
        return [
            ConsensusEnded(
                decision.decision_id,
                not decision.objections,
                decision.objections,
                at=max(decision.closes_at, clock),
                actor=SYSTEM,
                reason=SystemReason.OBJECTION_WINDOW_OVER,
            )
        ]

    # Evolution -------------------------------------------------------------------

    def apply(self, event: DecisionEvent) -> None:
        match event:
            case ConsensusProposed():
                self._decisions[event.decision_id] = Decision(
                    event.decision_id,
                    DecisionKind.CONSENSUS,
                    event.item_id,
                    event.text,
                    event.at,
                    closes_at=event.closes_at,
                )
            case VoteOpened():
                self._decisions[event.decision_id] = Decision(
                    event.decision_id, DecisionKind.VOTE, event.item_id, event.text, event.at
                )
            case ObjectionRaised():
                decision = self._decisions[event.decision_id]
                self._decisions[event.decision_id] = dataclasses.replace(
                    decision, objections=(*decision.objections, event.delegation_id)
                )
            case VoteCast():
                decision = self._decisions[event.decision_id]
                ballot = (event.delegation_id, event.ballot)
                self._decisions[event.decision_id] = dataclasses.replace(
                    decision, ballots=(*decision.ballots, ballot)
                )
            case ConsensusEnded() | VoteClosed():
                self._decisions[event.decision_id] = dataclasses.replace(
                    self._decisions[event.decision_id],
                    open=False,
                    adopted=event.adopted,
                    closed_at=event.at,
                )
            case VoterDesignated():
                if event.participant_id is None:
                    self._designated.pop(event.delegation_id, None)
                else:
                    self._designated[event.delegation_id] = event.participant_id
            case _:
                raise TypeError(f"unknown decision event {event!r}")

    # Views -----------------------------------------------------------------------

    def snapshot(self) -> dict[str, JSON]:
        decisions: list[JSON] = []
        for decision in self._decisions.values():
            decisions.append(
                {
                    "decision_id": decision.decision_id,
                    "kind": decision.kind.value,
                    "item_id": decision.item_id,
                    "text": decision.text,
                    "opened_at": decision.opened_at,
                    "closes_at": decision.closes_at,
                    "open": decision.open,
                    "ballots": [
                        {"delegation_id": d, "ballot": b.value} for d, b in decision.ballots
                    ],
                    "objections": list(decision.objections),
                    "yes": decision.count(Ballot.YES),
                    "no": decision.count(Ballot.NO),
                    "abstain": decision.count(Ballot.ABSTAIN),
                    "adopted": decision.adopted,
                    "closed_at": decision.closed_at,
                }
            )
        designated: dict[str, JSON] = dict(self._designated)
        return {"decisions": decisions, "designated_voters": designated}

    def state(self) -> tuple[Any, ...]:
        return (self._decisions, self._designated)
