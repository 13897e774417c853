"""The rules of interpretation: what each interpretation command leads to.

Like :mod:`rooms.decisions` (which calls `decide` here), the checks run in a
fixed order: actor and role (forbidden), targets exist (not_found), scope
(forbidden), state (invalid_state) and values (invalid_argument).

The booth's guarantees come from the events allowed: a shift starts only in
an idle booth (`ShiftStarted`), passes to a partner in one event
(`HandedOver`, no gap), and ends only when its interpreter chooses (off air),
the chair forces it, the channel closes, or the interpreter leaves or drops.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import commands as c
from .errors import ErrorCode, RoomError
from .events import (
    ChannelClosed,
    ChannelOpened,
    HandedOver,
    HandoverRequested,
    InterpreterAssigned,
    InterpreterUnassigned,
    LanguagesSet,
    ShiftEnded,
    ShiftStarted,
    SlowDownAsked,
    SourceChanged,
    SystemReason,
)
from .interpretation import InterpreterSeat
from .languages import FLOOR
from .participant import Participant
from .permissions import SYSTEM, Scope, scope_of
from .roles import Role

if TYPE_CHECKING:
    from .decisions import Draft

__all__ = ["INTERPRETATION_COMMANDS", "decide", "on_closing", "on_departure"]

INTERPRETATION_COMMANDS = (
    c.SetLanguages,
    c.OpenChannel,
    c.CloseChannel,
    c.AssignInterpreter,
    c.UnassignInterpreter,
    c.SetInterpretationSource,
    c.GoOnAir,
    c.GoOffAir,
    c.RequestHandover,
    c.AcceptHandover,
    c.AskSlowDown,
)

# Commands an interpreter issues for itself (naming another is for SYSTEM and the chair).
InterpreterCommand = (
    c.SetInterpretationSource
    | c.GoOnAir
    | c.GoOffAir
    | c.RequestHandover
    | c.AcceptHandover
    | c.AskSlowDown
)


def _state_error(message: str) -> RoomError:
    return RoomError(ErrorCode.INVALID_STATE, message)


def _invalid(message: str) -> RoomError:
    return RoomError(ErrorCode.INVALID_ARGUMENT, message)


def _authorise(d: Draft, actor: str, kind: str) -> tuple[Participant | None, Scope]:
    if actor == SYSTEM:
        return None, Scope.ANY
    participant = d.state.participants.get(actor)
    if participant is None:
        raise RoomError(ErrorCode.FORBIDDEN, f"{actor} is not in the room")
    scope = scope_of(participant.role, kind)
    if scope is None:
        raise RoomError(ErrorCode.FORBIDDEN, f"a {participant.role.value} may not {kind}")
    return participant, scope


def decide(d: Draft, command: c.Command, actor: str) -> None:
    match command:
        case c.SetLanguages():
            _set_languages(d, command, actor)
        case c.OpenChannel() | c.CloseChannel():
            _open_or_close(d, command, actor)
        case c.AssignInterpreter():
            _assign(d, command, actor)
        case c.UnassignInterpreter():
            _unassign(d, command, actor)
        case c.SetInterpretationSource():
            _set_source(d, command, actor)
        case c.GoOnAir():
            _on_air(d, command, actor)
        case c.GoOffAir():
            _off_air(d, command, actor)
        case c.RequestHandover():
            _request_handover(d, command, actor)
        case c.AcceptHandover():
            _accept_handover(d, command, actor)
        case c.AskSlowDown():
            _slow_down(d, command, actor)
        case _:
            raise TypeError(f"not an interpretation command: {command!r}")


# The chair ------------------------------------------------------------------------


def _set_languages(d: Draft, command: c.SetLanguages, actor: str) -> None:
    _authorise(d, actor, command.kind)
    interpretation = d.state.interpretation
    if command.languages == interpretation.languages:
        raise _state_error("the floor languages are already so")
    kept = set(command.languages)
    for booth in interpretation.booths.values():
        if booth.open and booth.language not in kept:
            raise _state_error(f"the {booth.language} channel is open; close it first")
    d.emit(LanguagesSet(command.languages, at=d.now, actor=actor, reason=command.reason))


def _open_or_close(d: Draft, command: c.OpenChannel | c.CloseChannel, actor: str) -> None:
    _authorise(d, actor, command.kind)
    interpretation, language = d.state.interpretation, command.language
    if isinstance(command, c.OpenChannel):
        if language not in interpretation.languages:
            raise _invalid(f"{language} is not one of the floor languages")
        if interpretation.is_open(language):
            raise _state_error(f"the {language} channel is already open")
        d.emit(ChannelOpened(language, at=d.now, actor=actor, reason=command.reason))
        return
    booth = interpretation.booths.get(language)
    if booth is None:
        raise RoomError(ErrorCode.NOT_FOUND, f"no {language} channel")
    if not booth.open:
        raise _state_error(f"the {language} channel is closed")
    reason = SystemReason.CHANNEL_CLOSED
    if booth.active is not None:
        d.emit(ShiftEnded(booth.active, language, at=d.now, actor=actor, reason=reason))
    for seat in list(interpretation.seats.values()):
        if seat.source == language:  # relaying from it: back to the original
            d.emit(
                SourceChanged(
                    seat.participant_id, seat.booth, FLOOR, at=d.now, actor=actor, reason=reason
                )
            )
    d.emit(ChannelClosed(language, at=d.now, actor=actor, reason=command.reason))


def _assign(d: Draft, command: c.AssignInterpreter, actor: str) -> None:
    _authorise(d, actor, command.kind)
    interpretation, pid = d.state.interpretation, command.participant_id
    present = d.state.participants.get(pid) or d.state.lobby.get(pid)
    if present is not None and present.role is not Role.INTERPRETER:
        raise _invalid(f"{pid} is a {present.role.value}, not an interpreter")
    if command.booth not in interpretation.languages:
        raise _invalid(f"{command.booth} is not one of the floor languages")
    seat = interpretation.seats.get(pid)
    if seat is not None:
        raise _state_error(f"{pid} already sits in the {seat.booth} booth; unassign first")
    d.emit(
        InterpreterAssigned(
            pid,
            command.booth,
            command.working_languages,
            at=d.now,
            actor=actor,
            reason=command.reason,
        )
    )


def _unassign(d: Draft, command: c.UnassignInterpreter, actor: str) -> None:
    _authorise(d, actor, command.kind)
    seat = d.state.interpretation.seats.get(command.participant_id)
    if seat is None:
        raise RoomError(ErrorCode.NOT_FOUND, f"{command.participant_id} has no booth")
    _end_shift_of(d, seat.participant_id, actor, SystemReason.INTERPRETER_LEFT)
    d.emit(
        InterpreterUnassigned(
            seat.participant_id, seat.booth, at=d.now, actor=actor, reason=command.reason
        )
    )


# The interpreters -----------------------------------------------------------------


def _subject(d: Draft, command: InterpreterCommand, actor: str) -> InterpreterSeat:
    """The seat the command is for: the actor's own, or the one SYSTEM or the chair names."""
    _, scope = _authorise(d, actor, command.kind)
    pid = command.participant_id
    if pid is None:
        if actor == SYSTEM:
            raise _invalid("participant_id: name the interpreter")
        pid = actor
    elif pid != actor and scope is not Scope.ANY:
        raise RoomError(ErrorCode.FORBIDDEN, "interpreters act only for themselves")
    seat = d.state.interpretation.seats.get(pid)
    if seat is None:
        raise RoomError(ErrorCode.FORBIDDEN, f"{pid} is not assigned to a booth")
    return seat


def _set_source(d: Draft, command: c.SetInterpretationSource, actor: str) -> None:
    seat = _subject(d, command, actor)
    interpretation, source = d.state.interpretation, command.source
    if source == seat.booth:
        raise _invalid(f"the {seat.booth} booth cannot work from its own channel")
    if source != FLOOR:
        if source not in seat.working_languages:
            raise _invalid(f"{source} is not one of {seat.participant_id}'s working languages")
        if not interpretation.is_open(source):
            raise _state_error(f"the {source} channel is closed")
    if source == seat.source:
        raise _state_error(f"{seat.participant_id} already works from {source}")
    d.emit(
        SourceChanged(
            seat.participant_id, seat.booth, source, at=d.now, actor=actor, reason=command.reason
        )
    )


def _open_booth(d: Draft, seat: InterpreterSeat) -> None:
    if not d.state.interpretation.is_open(seat.booth):
        raise _state_error(f"the {seat.booth} channel is closed")


def _on_air(d: Draft, command: c.GoOnAir, actor: str) -> None:
    seat = _subject(d, command, actor)
    _open_booth(d, seat)
    if seat.participant_id not in d.state.participants:
        raise _state_error(f"{seat.participant_id} is not in the room")
    active = d.state.interpretation.active_in(seat.booth)
    if active == seat.participant_id:
        raise _state_error(f"{seat.participant_id} is already on air")
    if active is not None:
        raise _state_error(f"{active} is on air in the {seat.booth} booth; request a handover")
    d.emit(
        ShiftStarted(seat.participant_id, seat.booth, at=d.now, actor=actor, reason=command.reason)
    )


def _off_air(d: Draft, command: c.GoOffAir, actor: str) -> None:
    seat = _subject(d, command, actor)
    if not d.state.interpretation.is_active(seat.participant_id):
        raise _state_error(f"{seat.participant_id} is not on air")
    _end_shift_of(d, seat.participant_id, actor, command.reason)


def _request_handover(d: Draft, command: c.RequestHandover, actor: str) -> None:
    seat = _subject(d, command, actor)
    _open_booth(d, seat)
    booth = d.state.interpretation.booths[seat.booth]
    if booth.active is None:
        raise _state_error(f"nobody is on air in the {seat.booth} booth; go on air")
    if booth.active == seat.participant_id:
        raise _state_error(f"{seat.participant_id} is the one on air")
    if booth.handover_to is not None:
        raise _state_error(f"{booth.handover_to} has already asked for the handover")
    d.emit(
        HandoverRequested(
            seat.participant_id, seat.booth, at=d.now, actor=actor, reason=command.reason
        )
    )


def _accept_handover(d: Draft, command: c.AcceptHandover, actor: str) -> None:
    seat = _subject(d, command, actor)
    booth = d.state.interpretation.booths[seat.booth]
    if booth.active != seat.participant_id:
        raise _state_error(f"{seat.participant_id} is not on air")
    if booth.handover_to is None:
        raise _state_error("nobody has asked for the handover")
    d.emit(
        HandedOver(
            seat.booth,
            seat.participant_id,
            booth.handover_to,
            at=d.now,
            actor=actor,
            reason=command.reason,
        )
    )


def _slow_down(d: Draft, command: c.AskSlowDown, actor: str) -> None:
    seat = _subject(d, command, actor)
    d.emit(
        SlowDownAsked(seat.participant_id, seat.booth, at=d.now, actor=actor, reason=command.reason)
    )


# Consequences of other commands --------------------------------------------------


def _end_shift_of(d: Draft, participant_id: str, actor: str, reason: str | None) -> None:
    seat = d.state.interpretation.seats.get(participant_id)
    if seat is not None and d.state.interpretation.is_active(participant_id):
        d.emit(ShiftEnded(participant_id, seat.booth, at=d.now, actor=actor, reason=reason))


def on_departure(d: Draft, participant_id: str) -> None:
    """An interpreter leaves the room: their shift ends (their seat is kept)."""
    _end_shift_of(d, participant_id, SYSTEM, SystemReason.INTERPRETER_LEFT)


def on_closing(d: Draft) -> None:
    """The conference closes: every shift ends."""
    for language, pid in d.state.interpretation.active_interpreters().items():
        reason = SystemReason.CONFERENCE_CLOSED
        d.emit(ShiftEnded(pid, language, at=d.now, actor=SYSTEM, reason=reason))
