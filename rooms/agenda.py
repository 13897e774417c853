"""The agenda: ordered items, the current one, pre-registered speakers, time budgets.

An item moves upcoming -> open -> closed; at most one is open, and it is the
current item. An item may have sub-items (one level: its `parent` is a
top-level item); they are items like the others, opened and closed one at a
time, and come right after their parent, numbered 2.1, 2.2 (see `numbered`).
A delegation's turns on an item are billed to it: each turn granted while the
item is open draws on the delegation's budget for the item (plus any extra
time the chair gave), across as many turns as it takes.

State only, evolved by `AgendaEvent`s and by the floor's grants and ends (see
`observe`); the rules that produce the events are in :mod:`rooms.agenda_rules`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ._codec import JSON, encode
from .events import (
    AgendaEvent,
    AgendaItemAdded,
    AgendaItemClosed,
    AgendaItemOpened,
    BudgetExtended,
    FloorEvent,
    FloorGranted,
    FloorReleased,
    FloorRevoked,
    SpeakerInscribed,
)
from .floor import FloorRequest
from .order_values import ItemStatus, ItemTitle

__all__ = ["Agenda", "AgendaItem", "numbered"]


@dataclass(frozen=True)
class AgendaItem:
    item_id: str
    titles: tuple[ItemTitle, ...]
    planned_duration: float | None  # seconds
    budget: float | None  # seconds per delegation, across its turns; None: no budget
    status: ItemStatus = ItemStatus.UPCOMING
    speakers: tuple[str, ...] = ()  # pre-registered delegations, in the announced order
    opened_at: float | None = None
    closed_at: float | None = None
    observers: bool = False  # observer delegations may be inscribed and request the floor
    parent: str | None = None  # the top-level item this is a sub-item of

    def title(self, language: str) -> str:
        """The title in `language`, else the first one given."""
        for title in self.titles:
            if title.language == language:
                return title.text
        return self.titles[0].text


def numbered(items: Iterable[tuple[str, str | None]]) -> list[tuple[str, str]]:
    """(item id, number) in agenda order, from (item id, parent) in order of addition.

    Top-level items are numbered 1, 2, 3; each is followed by its sub-items,
    numbered 2.1, 2.2 in the order they were added.
    """
    pairs = list(items)
    children: dict[str, list[str]] = {}
    for item_id, parent in pairs:
        if parent is not None:
            children.setdefault(parent, []).append(item_id)
    ordered: list[tuple[str, str]] = []
    top = [item_id for item_id, parent in pairs if parent is None]
    for number, item_id in enumerate(top, start=1):
        ordered.append((item_id, str(number)))
        for sub, child in enumerate(children.get(item_id, ()), start=1):
            ordered.append((child, f"{number}.{sub}"))
    return ordered


class Agenda:
    def __init__(self) -> None:
        self._items: dict[str, AgendaItem] = {}  # in agenda order
        self._billed_to: dict[str, str] = {}  # request id -> item open at its grant
        self._spent: dict[tuple[str, str], float] = {}  # (item, delegation) -> seconds
        self._extra: dict[tuple[str, str], float] = {}  # (item, delegation) -> seconds

    def copy(self) -> Agenda:
        other = Agenda()
        other._items = dict(self._items)
        other._billed_to = dict(self._billed_to)
        other._spent = dict(self._spent)
        other._extra = dict(self._extra)
        return other

    # Queries ---------------------------------------------------------------------

    @property
    def items(self) -> Mapping[str, AgendaItem]:
        return MappingProxyType(self._items)

    @property
    def current(self) -> AgendaItem | None:
        """The open item, if any."""
        for item in self._items.values():
            if item.status is ItemStatus.OPEN:
                return item
        return None

    def in_order(self) -> list[tuple[str, AgendaItem]]:
        """(number, item) in agenda order: each item followed by its sub-items."""
        pairs = ((i.item_id, i.parent) for i in self._items.values())
        return [(number, self._items[item_id]) for item_id, number in numbered(pairs)]

    def next_item(self) -> AgendaItem | None:
        """The first upcoming item, in agenda order."""
        for _, item in self.in_order():
            if item.status is ItemStatus.UPCOMING:
                return item
        return None

    def billed_to(self, request_id: str) -> str | None:
        """The item a granted request's speaking time counts against."""
        return self._billed_to.get(request_id)

    def spent(self, item_id: str, delegation_id: str) -> float:
        """Seconds the delegation spoke on the item, in turns that have ended."""
        return self._spent.get((item_id, delegation_id), 0.0)

    def extra(self, item_id: str, delegation_id: str) -> float:
        return self._extra.get((item_id, delegation_id), 0.0)

    def allowance(self, item_id: str, delegation_id: str) -> float | None:
        """The delegation's whole time on the item: budget plus extra; None: no budget."""
        budget = self._items[item_id].budget
        return None if budget is None else budget + self.extra(item_id, delegation_id)

    def remaining(self, item_id: str, delegation_id: str) -> float | None:
        """What is left of the allowance after the ended turns; never negative."""
        allowance = self.allowance(item_id, delegation_id)
        if allowance is None:
            return None
        return max(0.0, allowance - self.spent(item_id, delegation_id))

    # Evolution -------------------------------------------------------------------

    def apply(self, event: AgendaEvent) -> None:
        match event:
            case AgendaItemAdded():
                self._items[event.item_id] = AgendaItem(
                    event.item_id,
                    event.titles,
                    event.planned_duration,
                    event.budget,
                    observers=event.observers,
                    parent=event.parent,
                )
            case SpeakerInscribed():
                item = self._items[event.item_id]
                speakers = list(item.speakers)
                speakers.insert(event.position - 1, event.delegation_id)
                self._items[event.item_id] = dataclasses.replace(item, speakers=tuple(speakers))
            case AgendaItemOpened():
                self._items[event.item_id] = dataclasses.replace(
                    self._items[event.item_id], status=ItemStatus.OPEN, opened_at=event.at
                )
            case AgendaItemClosed():
                self._items[event.item_id] = dataclasses.replace(
                    self._items[event.item_id], status=ItemStatus.CLOSED, closed_at=event.at
                )
            case BudgetExtended():
                key = (event.item_id, event.delegation_id)
                self._extra[key] = self._extra.get(key, 0.0) + event.seconds
            case _:
                raise TypeError(f"unknown agenda event {event!r}")

    def observe(self, event: FloorEvent, request: FloorRequest) -> None:
        """Bill turns: a grant counts against the open item, its end adds the time spoken.

        `request` is the floor's request after the event was applied to it.
        """
        if isinstance(event, FloorGranted):
            current = self.current
            if current is not None:
                self._billed_to[event.request_id] = current.item_id
        elif isinstance(event, FloorReleased | FloorRevoked):
            item_id = self._billed_to.get(event.request_id)
            if item_id is not None and request.turn is not None:
                key = (item_id, event.delegation_id)
                self._spent[key] = self._spent.get(key, 0.0) + request.turn.spoken(event.at)

    # Views -----------------------------------------------------------------------

    def snapshot(self, delegation_ids: list[str]) -> dict[str, JSON]:
        current = self.current
        budgets: list[JSON] = []
        if current is not None and current.budget is not None:
            for delegation_id in delegation_ids:
                budgets.append(
                    {
                        "delegation_id": delegation_id,
                        "allowance": self.allowance(current.item_id, delegation_id),
                        "extra": self.extra(current.item_id, delegation_id),
                        "spent": self.spent(current.item_id, delegation_id),
                        "remaining": self.remaining(current.item_id, delegation_id),
                    }
                )
        upcoming = self.next_item()
        items: list[JSON] = []
        for number, item in self.in_order():
            encoded = encode(item)
            assert isinstance(encoded, dict)
            items.append({**encoded, "number": number})
        return {
            "items": items,
            "current": None if current is None else current.item_id,
            "next": None if upcoming is None else upcoming.item_id,
            "budgets": budgets,
        }

    def state(self) -> tuple[Any, ...]:
        return (self._items, self._billed_to, self._spent, self._extra)
