"""The roll call and the quorum.

The chair starts a roll call; each delegation answers "present" (its head, or
the chair marking it) until the chair closes it. A delegation counts as present
while it answered the latest roll call and someone can speak for it (a head or
delegate in the room, not disconnected): the quorum follows departures without
a new roll call. The rule is a number of delegations or a fraction of those
registered. Observer delegations are not called: they never count for the quorum.

State only, evolved by `RollCallEvent`s; the rules are in :mod:`rooms.voting_rules`.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from ._codec import JSON, encode
from .events import QuorumSet, RollCallAnswered, RollCallClosed, RollCallEvent, RollCallStarted
from .order_values import QuorumRule

__all__ = ["RollCall"]


class RollCall:
    def __init__(self) -> None:
        self.quorum = QuorumRule()
        self.roll_call_id: str | None = None  # the latest roll call
        self.open = False
        self.answered: tuple[str, ...] = ()  # delegations, in the order they answered
        self.started_at: float | None = None
        self.count = 0  # roll calls so far
        self.result: RollCallClosed | None = None  # the latest roll call's close

    def copy(self) -> RollCall:
        other = RollCall()
        other.__dict__.update(self.__dict__)
        return other

    def next_id(self) -> str:
        return f"rc{self.count + 1}"

    def present(self, attending: Collection[str]) -> list[str]:
        """Delegations that answered and are still attending, in answer order.

        `attending` may include observers; they never answered, so never count.
        """
        return [d for d in self.answered if d in attending]

    def apply(self, event: RollCallEvent) -> None:
        match event:
            case QuorumSet():
                self.quorum = event.quorum
            case RollCallStarted():
                self.roll_call_id, self.open, self.answered = event.roll_call_id, True, ()
                self.started_at, self.count = event.at, self.count + 1
            case RollCallAnswered():
                self.answered = (*self.answered, event.delegation_id)
            case RollCallClosed():
                self.open, self.result = False, event
            case _:
                raise TypeError(f"unknown roll call event {event!r}")

    def snapshot(self, registered: list[str], attending: Collection[str]) -> dict[str, JSON]:
        present = self.present(attending)
        required = self.quorum.required(len(registered))
        return {
            "quorum": encode(self.quorum),
            "roll_call_id": self.roll_call_id,
            "open": self.open,
            "answered": list(self.answered),
            "present": list(present),
            "absent": [d for d in registered if d not in present],
            "required": required,
            "quorum_met": self.roll_call_id is not None and len(present) >= required,
        }

    def state(self) -> tuple[Any, ...]:
        return (
            self.quorum,
            self.roll_call_id,
            self.open,
            self.answered,
            self.started_at,
            self.count,
            self.result,
        )
