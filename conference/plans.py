"""What opens a conference: its title, delegations, settings and set-up commands."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from rooms import AddDelegation, Command, CreateConference, Settings


@dataclass(frozen=True)
class DelegationPlan:
    id: str
    name: str
    code: str  # ISO 3166-1 alpha-2
    observer: bool = False  # an organisation: speaks on items open to observers, never votes

    def command(self) -> AddDelegation:
        return AddDelegation(self.id, self.name, self.code, observer=self.observer)


@dataclass(frozen=True)
class ConferencePlan:
    """What is needed to open a conference: the commands that create it."""

    id: str
    title: str
    delegations: Sequence[DelegationPlan] = ()
    settings: Settings = field(default_factory=Settings)
    # Further set-up, issued by the service (e.g. interpretation booths).
    setup: Sequence[Command] = ()

    def commands(self) -> list[Command]:
        return [
            CreateConference(self.title, self.settings),
            *(d.command() for d in self.delegations),
            *self.setup,
        ]


__all__ = ["ConferencePlan", "DelegationPlan"]
