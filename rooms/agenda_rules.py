"""The rules of the agenda: items, pre-registration, budgets.

Like :mod:`rooms.decisions` (which calls `decide` here), the checks run in a
fixed order: actor and role (forbidden), targets exist (not_found), scope
(forbidden), state (invalid_state and the rest). `within_budget` is how the
floor's grants and speaking times stay inside a delegation's budget on the
open item: the floor timer then warns, runs the grace period and revokes as
for any limit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import commands as c
from .errors import ErrorCode, RoomError
from .events import (
    AgendaItemAdded,
    AgendaItemClosed,
    AgendaItemOpened,
    BudgetExtended,
    SpeakerInscribed,
    SystemReason,
)
from .floor import RequestStatus
from .order_values import ItemStatus
from .participant import Participant
from .permissions import SYSTEM, Scope, scope_of
from .priority import Priority

if TYPE_CHECKING:
    from .agenda import AgendaItem
    from .conference import Conference
    from .decisions import Draft

__all__ = [
    "AGENDA_COMMANDS",
    "MAX_ITEMS",
    "check_observer_may_request",
    "decide",
    "on_closing",
    "within_budget",
]

AGENDA_COMMANDS = (c.AddAgendaItem, c.InscribeSpeaker, c.OpenItem, c.CloseItem, c.GrantExtraTime)

MAX_ITEMS = 100  # items on one agenda


def authorise(d: Draft, actor: str, kind: str) -> tuple[Participant | None, Scope]:
    """The acting participant (None for SYSTEM) and the scope its role allows."""
    if actor == SYSTEM:
        return None, Scope.ANY
    participant = d.state.participants.get(actor)
    if participant is None:
        raise RoomError(ErrorCode.FORBIDDEN, f"{actor} is not in the room")
    scope = scope_of(participant.role, kind)
    if scope is None:
        raise RoomError(ErrorCode.FORBIDDEN, f"a {participant.role.value} may not {kind}")
    return participant, scope


def require_delegation(d: Draft, delegation_id: str) -> None:
    if delegation_id not in d.state.delegations:
        raise RoomError(ErrorCode.NOT_FOUND, f"no delegation {delegation_id!r}")


def _state_error(message: str) -> RoomError:
    return RoomError(ErrorCode.INVALID_STATE, message)


def _item(d: Draft, item_id: str) -> AgendaItem:
    item = d.state.agenda.items.get(item_id)
    if item is None:
        raise RoomError(ErrorCode.NOT_FOUND, f"no agenda item {item_id!r}")
    return item


def decide(d: Draft, command: c.Command, actor: str) -> None:
    match command:
        case c.AddAgendaItem():
            _add_item(d, command, actor)
        case c.InscribeSpeaker():
            _inscribe(d, command, actor)
        case c.OpenItem():
            _open_item(d, command, actor)
        case c.CloseItem():
            _close_item(d, command, actor)
        case c.GrantExtraTime():
            _extra_time(d, command, actor)
        case _:
            raise TypeError(f"not an agenda command: {command!r}")


def _add_item(d: Draft, command: c.AddAgendaItem, actor: str) -> None:
    authorise(d, actor, command.kind)
    agenda = d.state.agenda
    if command.item_id in agenda.items:
        raise RoomError(ErrorCode.ALREADY_EXISTS, f"agenda item {command.item_id} exists")
    if len(agenda.items) >= MAX_ITEMS:
        raise RoomError(ErrorCode.LIMIT_REACHED, f"the agenda has {MAX_ITEMS} items already")
    if command.parent is not None:
        parent = _item(d, command.parent)
        if parent.parent is not None:
            raise RoomError(
                ErrorCode.INVALID_ARGUMENT,
                f"parent: {parent.item_id} is a sub-item itself (one level of sub-items)",
            )
        if parent.status is ItemStatus.CLOSED:
            raise _state_error(f"item {parent.item_id} is closed: no new sub-items")
    languages = d.state.interpretation.languages
    unknown = [t.language for t in command.titles if languages and t.language not in languages]
    if unknown:
        raise RoomError(
            ErrorCode.INVALID_ARGUMENT,
            f"titles: {', '.join(unknown)} is not a language of the meeting "
            f"({', '.join(languages)})",
        )
    d.emit(
        AgendaItemAdded(
            command.item_id,
            command.titles,
            command.planned_duration,
            command.budget,
            observers=command.observers,
            parent=command.parent,
            at=d.now,
            actor=actor,
            reason=command.reason,
        )
    )


def _inscribe(d: Draft, command: c.InscribeSpeaker, actor: str) -> None:
    authorise(d, actor, command.kind)
    item = _item(d, command.item_id)
    require_delegation(d, command.delegation_id)
    if item.status is not ItemStatus.UPCOMING:
        raise _state_error(
            f"item {item.item_id} is {item.status.value}: inscribe before it opens "
            "(during the item, request the floor for the delegation)"
        )
    if d.state.delegations[command.delegation_id].observer and not item.observers:
        raise RoomError(
            ErrorCode.FORBIDDEN,
            f"{command.delegation_id} is an observer and item {item.item_id} "
            "is not open to observers",
        )
    if command.delegation_id in item.speakers:
        raise RoomError(
            ErrorCode.ALREADY_EXISTS,
            f"{command.delegation_id} is already inscribed on item {item.item_id}",
        )
    d.emit(
        SpeakerInscribed(
            item.item_id,
            command.delegation_id,
            len(item.speakers) + 1,
            at=d.now,
            actor=actor,
            reason=command.reason,
        )
    )


def _open_item(d: Draft, command: c.OpenItem, actor: str) -> None:
    authorise(d, actor, command.kind)
    item = _item(d, command.item_id)
    current = d.state.agenda.current
    if current is not None:
        raise _state_error(f"item {current.item_id} is open; close it first")
    if item.status is not ItemStatus.UPCOMING:
        raise _state_error(f"item {item.item_id} is {item.status.value}")
    d.emit(AgendaItemOpened(item.item_id, at=d.now, actor=actor, reason=command.reason))
    # The round of interventions, in the announced order: each inscribed delegation
    # present and not already listed joins the speakers list as an ordinary request,
    # so that requests made during the item come after it (or before, by priority).
    floor = d.state.floor
    for delegation_id in item.speakers:
        if floor.open_request(delegation_id) is not None:
            continue
        if not any(p.role.speaks_for_delegation for p in d.state.members(delegation_id)):
            continue  # nobody here to speak for it: the chair may request later
        reason = SystemReason.PRE_REGISTERED
        requested = floor.request(
            delegation_id, Priority.ORDINARY, None, True, actor=actor, at=d.now, reason=reason
        )
        d.emit(requested)
        d.emit(floor.accept(requested.request_id, actor=actor, at=d.now, reason=reason))


def _close_item(d: Draft, command: c.CloseItem, actor: str) -> None:
    authorise(d, actor, command.kind)
    item = _item(d, command.item_id)
    if item.status is not ItemStatus.OPEN:
        raise _state_error(f"item {item.item_id} is {item.status.value}, not open")
    floor = d.state.floor
    listed = [r for r in floor.requests.values() if r.status.is_open]
    if listed and not command.force:
        raise _state_error(
            f"{len(listed)} delegation(s) still listed or speaking on item {item.item_id}; "
            "close with force to end their requests"
        )
    for request in listed:
        d.emit(floor.end(request, at=d.now, reason=SystemReason.ITEM_CLOSED))
    d.emit(AgendaItemClosed(item.item_id, at=d.now, actor=actor, reason=command.reason))


def _extra_time(d: Draft, command: c.GrantExtraTime, actor: str) -> None:
    authorise(d, actor, command.kind)
    require_delegation(d, command.delegation_id)
    item = d.state.agenda.current
    if item is None:
        raise _state_error("no agenda item is open")
    if item.budget is None:
        raise _state_error(f"item {item.item_id} has no time budget; set the speaking time")
    did = command.delegation_id
    d.emit(
        BudgetExtended(
            item.item_id, did, command.seconds, at=d.now, actor=actor, reason=command.reason
        )
    )
    # Speaking now: the extra time lengthens this turn too.
    floor = d.state.floor
    for request in floor.holders():
        turn = request.turn
        billed = d.state.agenda.billed_to(request.request_id) == item.item_id
        if request.delegation_id == did and billed and turn and turn.time_limit is not None:
            d.emit(
                floor.set_time(
                    request.request_id,
                    turn.time_limit + command.seconds,
                    d.state.settings,
                    actor=actor,
                    at=d.now,
                    reason=command.reason,
                )
            )


def check_observer_may_request(d: Draft, delegation_id: str) -> None:
    """An observer requests the floor only while an item open to observers is current."""
    if not d.state.delegations[delegation_id].observer:
        return
    item = d.state.agenda.current
    if item is None or not item.observers:
        now = "no agenda item is open" if item is None else f"item {item.item_id} is not"
        raise RoomError(
            ErrorCode.FORBIDDEN,
            f"{delegation_id} is an observer: it speaks only on items open to observers ({now})",
        )


def on_closing(d: Draft) -> None:
    """The conference closes: the open item closes with it (its floor has ended already)."""
    item = d.state.agenda.current
    if item is not None:
        reason = SystemReason.CONFERENCE_CLOSED
        d.emit(AgendaItemClosed(item.item_id, at=d.now, actor=SYSTEM, reason=reason))


def within_budget(
    state: Conference, request_id: str, time_limit: float | None, *, granting: bool
) -> float | None:
    """`time_limit`, shortened to what is left of the delegation's budget on its item.

    A grant counts against the open item; a change of speaking time against the
    item the turn is billed to. No budget: the limit as given. Nothing left:
    limit_reached (the chair may grant extra time).
    """
    request = state.floor.requests.get(request_id)
    if request is None:
        return time_limit  # the floor says not_found
    if granting:
        if request.status not in (RequestStatus.PENDING, RequestStatus.ACCEPTED):
            return time_limit  # the floor says it is stale
        current = state.agenda.current
        item_id = None if current is None else current.item_id
    else:
        item_id = state.agenda.billed_to(request_id)
    if item_id is None:
        return time_limit
    left = state.agenda.remaining(item_id, request.delegation_id)
    if left is None:
        return time_limit
    if left <= 0:
        raise RoomError(
            ErrorCode.LIMIT_REACHED,
            f"{request.delegation_id} has used its time on item {item_id}; give extra time first",
        )
    return left if time_limit is None or time_limit > left else time_limit
