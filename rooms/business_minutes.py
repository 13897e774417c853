"""The order of business in the minutes: per agenda item, roll calls, decisions.

Read from the same events as the rest of the minutes (rooms.minutes owns one
`BusinessReader` and feeds it every event): for each item, who spoke in what
order and for how long, per delegation against its budget; each roll call with
who was present and whether there was a quorum; each decision with its result
and, for a recorded vote, every delegation's ballot.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .agenda import numbered
from .events import (
    AgendaItemAdded,
    AgendaItemClosed,
    AgendaItemOpened,
    BudgetExtended,
    ConsensusEnded,
    ConsensusProposed,
    Event,
    FloorGranted,
    ObjectionRaised,
    QuorumSet,
    RollCallAnswered,
    RollCallClosed,
    RollCallStarted,
    SpeakerInscribed,
    VoteCast,
    VoteClosed,
    VoteOpened,
    VoterDesignated,
)

if TYPE_CHECKING:
    from .minutes import Intervention

__all__ = [
    "BallotRecord",
    "BusinessReader",
    "DecisionRecord",
    "ItemDelegationTime",
    "ItemRecord",
    "RollCallRecord",
]


@dataclass(frozen=True)
class ItemDelegationTime:
    """A delegation's speaking time on one item, against its budget."""

    delegation_id: str
    delegation: str
    turns: int
    spoken: float
    allowance: float | None  # budget plus extra time; None: the item has no budget
    extra: float
    over: float  # seconds spoken beyond the allowance (the grace periods)


@dataclass(frozen=True)
class ItemRecord:
    number: str  # in agenda order: "1", "2", a sub-item "2.1"
    item_id: str
    title: str  # in the minutes' language when given, else the first title
    planned_duration: float | None
    budget: float | None
    status: str  # "upcoming", "open" or "closed"
    opened_at: float | None
    closed_at: float | None
    duration: float | None  # open to close (or to `now` while open)
    inscribed: tuple[str, ...]  # delegations pre-registered, in the announced order
    interventions: tuple[int, ...]  # numbers of the interventions granted during it, in order
    times: tuple[ItemDelegationTime, ...]
    roll_calls: tuple[str, ...]
    decisions: tuple[str, ...]
    spoken: float = 0.0  # all delegations together
    parent: str | None = None  # the item this is a sub-item of
    observers: bool = False  # open to observer delegations


@dataclass(frozen=True)
class RollCallRecord:
    roll_call_id: str
    item_id: str | None  # the item open when it started
    started_at: float
    closed_at: float | None
    answered: tuple[str, ...]  # delegation names, in the order they answered
    present: tuple[str, ...]  # at the close
    absent: tuple[str, ...]
    required: int | None
    quorum_met: bool | None  # None while open


@dataclass(frozen=True)
class BallotRecord:
    delegation_id: str
    delegation: str
    ballot: str  # "yes", "no", "abstain"
    cast_by: str


@dataclass(frozen=True)
class DecisionRecord:
    decision_id: str
    kind: str  # "consensus" or "vote"
    item_id: str | None
    text: str
    opened_at: float
    closed_at: float | None
    adopted: bool | None  # None while open
    yes: int = 0
    no: int = 0
    abstain: int = 0
    ballots: tuple[BallotRecord, ...] = ()
    objections: tuple[str, ...] = ()  # delegation names


@dataclass
class _Item:
    added: AgendaItemAdded
    inscribed: list[str] = field(default_factory=list)
    opened_at: float | None = None
    closed_at: float | None = None


class BusinessReader:
    """Keeps the agenda, roll calls and decisions as the log tells them."""

    def __init__(
        self,
        language: str,
        words: dict[str, str],
        name: Callable[[str | None], str],
        delegation: Callable[[str], str],
    ) -> None:
        self.language, self.w = language, words
        self.name, self.delegation = name, delegation
        self.items: dict[str, _Item] = {}
        self.current: str | None = None
        self.billed: dict[str, str] = {}  # request id -> item open at its grant
        self.extra: dict[tuple[str, str], float] = {}
        self.roll_calls: dict[str, RollCallRecord] = {}
        self.decisions: dict[str, DecisionRecord] = {}

    def read(self, event: Event) -> None:
        match event:
            case AgendaItemAdded():
                self.items[event.item_id] = _Item(event)
            case SpeakerInscribed():
                self.items[event.item_id].inscribed.insert(event.position - 1, event.delegation_id)
            case AgendaItemOpened():
                self.items[event.item_id].opened_at, self.current = event.at, event.item_id
            case AgendaItemClosed():
                self.items[event.item_id].closed_at, self.current = event.at, None
            case BudgetExtended():
                key = (event.item_id, event.delegation_id)
                self.extra[key] = self.extra.get(key, 0.0) + event.seconds
            case FloorGranted() if self.current is not None:
                self.billed[event.request_id] = self.current
            case _:
                self._read_decisions(event)

    def _read_decisions(self, event: Event) -> None:
        replace = dataclasses.replace
        match event:
            case RollCallStarted():
                self.roll_calls[event.roll_call_id] = RollCallRecord(
                    event.roll_call_id, self.current, event.at, None, (), (), (), None, None
                )
            case RollCallAnswered():
                call = self.roll_calls[event.roll_call_id]
                answered = (*call.answered, self.delegation(event.delegation_id))
                self.roll_calls[event.roll_call_id] = replace(call, answered=answered)
            case RollCallClosed():
                self.roll_calls[event.roll_call_id] = replace(
                    self.roll_calls[event.roll_call_id],
                    closed_at=event.at,
                    present=tuple(self.delegation(d) for d in event.present),
                    absent=tuple(self.delegation(d) for d in event.absent),
                    required=event.required,
                    quorum_met=event.quorum_met,
                )
            case ConsensusProposed() | VoteOpened():
                kind = "consensus" if isinstance(event, ConsensusProposed) else "vote"
                self.decisions[event.decision_id] = DecisionRecord(
                    event.decision_id, kind, event.item_id, event.text, event.at, None, None
                )
            case ObjectionRaised():
                decision = self.decisions[event.decision_id]
                objections = (*decision.objections, self.delegation(event.delegation_id))
                self.decisions[event.decision_id] = replace(decision, objections=objections)
            case VoteCast():
                decision = self.decisions[event.decision_id]
                ballot = BallotRecord(
                    event.delegation_id,
                    self.delegation(event.delegation_id),
                    event.ballot.value,
                    self.name(event.actor),
                )
                self.decisions[event.decision_id] = replace(
                    decision, ballots=(*decision.ballots, ballot)
                )
            case ConsensusEnded():
                self.decisions[event.decision_id] = replace(
                    self.decisions[event.decision_id], closed_at=event.at, adopted=event.adopted
                )
            case VoteClosed():
                self.decisions[event.decision_id] = replace(
                    self.decisions[event.decision_id],
                    closed_at=event.at,
                    adopted=event.adopted,
                    yes=event.yes,
                    no=event.no,
                    abstain=event.abstain,
                )

    # The records -------------------------------------------------------------------

    def records(
        self, interventions: Sequence[Intervention], delegations: Sequence[str], now: float | None
    ) -> tuple[tuple[ItemRecord, ...], tuple[RollCallRecord, ...], tuple[DecisionRecord, ...]]:
        order = numbered((i.added.item_id, i.added.parent) for i in self.items.values())
        items = tuple(
            self._item(number, self.items[item_id], interventions, delegations, now)
            for item_id, number in order
        )
        return items, tuple(self.roll_calls.values()), tuple(self.decisions.values())

    def _item(
        self,
        number: str,
        item: _Item,
        interventions: Sequence[Intervention],
        delegations: Sequence[str],
        now: float | None,
    ) -> ItemRecord:
        added = item.added
        item_id = added.item_id
        own = [i for i in interventions if self.billed.get(i.request_id) == item_id]
        times = []
        for delegation_id in delegations:
            turns = [i for i in own if i.delegation_id == delegation_id]
            extra = self.extra.get((item_id, delegation_id), 0.0)
            if not turns and not extra:
                continue
            spoken = sum(i.duration or 0.0 for i in turns)
            allowance = None if added.budget is None else added.budget + extra
            over = 0.0 if allowance is None else max(0.0, spoken - allowance)
            name = self.delegation(delegation_id)
            times.append(
                ItemDelegationTime(delegation_id, name, len(turns), spoken, allowance, extra, over)
            )
        status = "upcoming" if item.opened_at is None else "open"
        status = "closed" if item.closed_at is not None else status
        end = item.closed_at if item.closed_at is not None else now
        duration = None if item.opened_at is None or end is None else end - item.opened_at
        return ItemRecord(
            number=number,
            item_id=item_id,
            title=_title(added, self.language),
            planned_duration=added.planned_duration,
            budget=added.budget,
            status=status,
            opened_at=item.opened_at,
            closed_at=item.closed_at,
            duration=duration,
            inscribed=tuple(self.delegation(d) for d in item.inscribed),
            interventions=tuple(i.number for i in own),
            times=tuple(times),
            roll_calls=tuple(r for r, call in self.roll_calls.items() if call.item_id == item_id),
            decisions=tuple(d for d, rec in self.decisions.items() if rec.item_id == item_id),
            spoken=sum(t.spoken for t in times),
            parent=added.parent,
            observers=added.observers,
        )

    # The record of proceedings -------------------------------------------------------

    def sentence(self, event: Event, who: str) -> str | None:
        w = self.w
        match event:
            case AgendaItemAdded():
                return w["item_added"].format(who=who, title=_title(event, self.language))
            case SpeakerInscribed():
                return w["inscribed"].format(
                    who=who,
                    delegation=self.delegation(event.delegation_id),
                    title=self._title_of(event.item_id),
                    position=event.position,
                )
            case AgendaItemOpened():
                return w["item_opened"].format(who=who, title=self._title_of(event.item_id))
            case AgendaItemClosed():
                return w["item_closed"].format(who=who, title=self._title_of(event.item_id))
            case BudgetExtended():
                return w["budget_extended"].format(
                    who=who, delegation=self.delegation(event.delegation_id), seconds=event.seconds
                )
            case QuorumSet():
                rule = event.quorum
                if rule.count is not None:
                    quorum = w["quorum.count"].format(count=rule.count)
                else:
                    quorum = w["quorum.fraction"].format(percent=round((rule.fraction or 0) * 100))
                return w["quorum_set"].format(who=who, quorum=quorum)
            case RollCallStarted():
                return w["rollcall_started"].format(who=who)
            case RollCallAnswered():
                delegation = self.delegation(event.delegation_id)
                return w["rollcall_answered"].format(who=who, delegation=delegation)
            case RollCallClosed():
                key = "rollcall_quorum" if event.quorum_met else "rollcall_no_quorum"
                return w[key].format(who=who, present=len(event.present), required=event.required)
        return self._decision_sentence(event, who)

    def _decision_sentence(self, event: Event, who: str) -> str | None:
        w = self.w
        match event:
            case ConsensusProposed():
                return w["consensus_proposed"].format(who=who, text=event.text)
            case ObjectionRaised():
                return w["objection"].format(delegation=self.delegation(event.delegation_id))
            case ConsensusEnded():
                key = "consensus_adopted" if event.adopted else "consensus_not_adopted"
                return w[key].format(text=self.decisions[event.decision_id].text)
            case VoterDesignated():
                delegation = self.delegation(event.delegation_id)
                if event.participant_id is None:
                    return w["voter_withdrawn"].format(who=who, delegation=delegation)
                name = self.name(event.participant_id)
                return w["voter_designated"].format(who=who, name=name, delegation=delegation)
            case VoteOpened():
                return w["vote_opened"].format(who=who, text=event.text)
            case VoteCast():
                return w["vote_cast"].format(
                    delegation=self.delegation(event.delegation_id),
                    ballot=w["ballot." + event.ballot.value],
                )
            case VoteClosed():
                key = "vote_adopted" if event.adopted else "vote_not_adopted"
                return w[key].format(who=who, yes=event.yes, no=event.no, abstain=event.abstain)
        return None

    def _title_of(self, item_id: str) -> str:
        item = self.items.get(item_id)
        return item_id if item is None else _title(item.added, self.language)


def _title(added: AgendaItemAdded, language: str) -> str:
    for title in added.titles:
        if title.language == language:
            return title.text
    return added.titles[0].text
