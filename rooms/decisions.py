"""The rules: what each command leads to, given who asks and the current state.

`decide` works on a Draft, a copy of the conference: each event it emits is
applied to the copy at once, so a command that causes several events (a
departure that ends the delegation's request, a close that ends every floor)
reasons about each step's result. The checks run in a fixed order, which fixes
the error a client sees: conference open, actor and role (forbidden), targets
exist (not_found), scope (forbidden), state (invalid_state and the rest).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from . import agenda_rules, interpretation_rules, messages, voting_rules
from . import commands as c
from .errors import ErrorCode, RoomError
from .events import (
    ConferenceClosed,
    ConferenceCreated,
    DelegatesMayRequestChanged,
    DelegationAdded,
    DevicesChecked,
    Event,
    ParticipantAdmitted,
    ParticipantJoined,
    ParticipantLeft,
    ParticipantMuted,
    ParticipantPresenceChanged,
    ParticipantRejected,
    ParticipantRemoved,
    ParticipantUnbanned,
    ParticipantUnmuted,
    ParticipantWaiting,
    RecordingStarted,
    RecordingStopped,
    RoomLocked,
    RoomUnlocked,
    SettingsChanged,
    SystemReason,
)
from .participant import Participant
from .permissions import SYSTEM, Scope, scope_of
from .roles import Role

if TYPE_CHECKING:
    from .conference import Conference

__all__ = ["Draft", "decide"]


class Draft:
    def __init__(self, state: Conference, now: float) -> None:
        self.state = state
        self.now = now
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.state.apply(event)
        self.events.append(event)

    def emit_all(self, events: Iterable[Event]) -> None:
        for event in events:
            self.emit(event)


def _forbidden(message: str) -> RoomError:
    return RoomError(ErrorCode.FORBIDDEN, message)


def decide(d: Draft, command: c.Command, actor: str) -> None:
    state = d.state
    if isinstance(command, c.CreateConference):
        if actor != SYSTEM:
            raise _forbidden("only the service creates conferences")
        if state.created:
            raise RoomError(ErrorCode.ALREADY_EXISTS, f"{state.conference_id} already exists")
        reason = command.reason
        d.emit(
            ConferenceCreated(command.title, command.settings, at=d.now, actor=actor, reason=reason)
        )
        return
    if not state.created:
        raise RoomError(ErrorCode.INVALID_STATE, f"conference {state.conference_id} is not created")
    if state.closed:
        raise RoomError(ErrorCode.INVALID_STATE, f"conference {state.conference_id} is closed")
    match command:
        case c.CloseConference():
            _close(d, command, actor)
        case c.StartRecording() | c.StopRecording():
            _record(d, command, actor)
        case c.LockRoom() | c.UnlockRoom():
            _lock(d, command, actor)
        case c.SetDefaultTimeLimit():
            _set_default_time_limit(d, command, actor)
        case c.SetMaxHolders():
            _set_max_holders(d, command, actor)
        case c.SetOpenFloor():
            _set_open_floor(d, command, actor)
        case c.SetPublicChat():
            _authorise(d, actor, command.kind)
            _change_settings(d, command, actor, public_chat=command.enabled)
        case c.SendMessage():
            messages.decide(d, command, actor)
        case c.AddDelegation():
            _add_delegation(d, command, actor)
        case c.SetDelegatesMayRequest():
            _set_delegates_may_request(d, command, actor)
        case c.JoinConference():
            _join(d, command, actor)
        case c.LeaveConference():
            _check_self(actor, command.participant_id)
            _depart(d, command.participant_id, ParticipantLeft, actor, command.reason)
        case c.RemoveParticipant():
            _remove(d, command, actor)
        case c.SetPresence():
            _set_presence(d, command, actor)
        case c.DeclareReady():
            _declare_ready(d, command, actor)
        case c.UnbanParticipant():
            _unban(d, command, actor)
        case c.AdmitFromLobby() | c.RejectFromLobby():
            _lobby_decision(d, command, actor)
        case c.MuteParticipant() | c.UnmuteParticipant():
            _mute(d, command, actor)
        case c.RequestFloor():
            _request(d, command, actor)
        case c.CancelRequest() | c.ReleaseFloor():
            _cancel_or_release(d, command, actor)
        case c.AcceptRequest() | c.DenyRequest() | c.RevokeFloor():
            _chair_on_request(d, command, actor)
        case c.ReorderRequest():
            _reorder(d, command, actor)
        case c.GrantFloor():
            _grant(d, command, actor)
        case c.SetSpeakingTime():
            _set_speaking_time(d, command, actor)
        case _ if isinstance(command, interpretation_rules.INTERPRETATION_COMMANDS):
            interpretation_rules.decide(d, command, actor)
        case _ if isinstance(command, agenda_rules.AGENDA_COMMANDS):
            agenda_rules.decide(d, command, actor)
        case _ if isinstance(command, voting_rules.VOTING_COMMANDS):
            voting_rules.decide(d, command, actor)
        case _:
            raise TypeError(f"unknown command {command!r}")


# Authorisation -----------------------------------------------------------------


def _authorise(d: Draft, actor: str, kind: str) -> tuple[Participant | None, Scope]:
    """The acting participant (None for SYSTEM) and the scope its role allows."""
    if actor == SYSTEM:
        return None, Scope.ANY
    participant = d.state.participants.get(actor)
    if participant is None:
        where = "waits in the lobby" if actor in d.state.lobby else "is not in the room"
        raise _forbidden(f"{actor} {where}")
    scope = scope_of(participant.role, kind)
    if scope is None:
        raise _forbidden(f"a {participant.role.value} may not {kind}")
    return participant, scope


def _check_for_delegation(
    d: Draft, participant: Participant | None, scope: Scope, delegation_id: str
) -> None:
    if participant is None or scope is Scope.ANY:
        return
    if participant.delegation_id != delegation_id:
        raise _forbidden(f"{participant.participant_id} may act only for its own delegation")
    allowed = d.state.delegations[delegation_id].delegates_may_request
    if scope is Scope.OWN_DELEGATION_IF_ALLOWED and not allowed:
        raise _forbidden(f"delegation {delegation_id} has not allowed its delegates to act for it")


def _check_self(actor: str, participant_id: str) -> None:
    if actor not in (participant_id, SYSTEM):
        raise _forbidden("participants join and leave only for themselves")


# Conference --------------------------------------------------------------------


def _close(d: Draft, command: c.CloseConference, actor: str) -> None:
    _authorise(d, actor, command.kind)
    floor = d.state.floor
    for request in [r for r in floor.requests.values() if r.status.is_open]:
        d.emit(floor.end(request, at=d.now, reason=SystemReason.CONFERENCE_CLOSED))
    interpretation_rules.on_closing(d)
    agenda_rules.on_closing(d)
    voting_rules.on_closing(d)
    d.emit(ConferenceClosed(at=d.now, actor=actor, reason=command.reason))


def _lock(d: Draft, command: c.LockRoom | c.UnlockRoom, actor: str) -> None:
    _authorise(d, actor, command.kind)
    lock = isinstance(command, c.LockRoom)
    if d.state.locked == lock:
        raise RoomError(
            ErrorCode.INVALID_STATE, f"the room is already {'locked' if lock else 'unlocked'}"
        )
    event = RoomLocked if lock else RoomUnlocked
    d.emit(event(at=d.now, actor=actor, reason=command.reason))


def _record(d: Draft, command: c.StartRecording | c.StopRecording, actor: str) -> None:
    _authorise(d, actor, command.kind)
    start = isinstance(command, c.StartRecording)
    if d.state.recording == start:
        raise RoomError(ErrorCode.INVALID_STATE, f"recording is already {'on' if start else 'off'}")
    event = RecordingStarted if start else RecordingStopped
    d.emit(event(at=d.now, actor=actor, reason=command.reason))


def _change_settings(d: Draft, command: c.Command, actor: str, **changes: Any) -> None:
    current = d.state.settings
    changed = tuple(name for name, value in changes.items() if getattr(current, name) != value)
    if not changed:
        raise RoomError(ErrorCode.INVALID_STATE, f"{', '.join(changes)} already so")
    settings = dataclasses.replace(current, **changes)
    d.emit(SettingsChanged(settings, changed, at=d.now, actor=actor, reason=command.reason))


def _set_default_time_limit(d: Draft, command: c.SetDefaultTimeLimit, actor: str) -> None:
    _authorise(d, actor, command.kind)
    _change_settings(d, command, actor, default_time_limit=command.time_limit)


def _set_max_holders(d: Draft, command: c.SetMaxHolders, actor: str) -> None:
    _authorise(d, actor, command.kind)
    holders = len(d.state.floor.holders())
    if command.count < holders:
        raise RoomError(ErrorCode.INVALID_STATE, f"{holders} hold the floor now; revoke first")
    _change_settings(d, command, actor, max_holders=command.count)


def _set_open_floor(d: Draft, command: c.SetOpenFloor, actor: str) -> None:
    _authorise(d, actor, command.kind)
    _change_settings(d, command, actor, open_floor=command.enabled)


# Delegations -------------------------------------------------------------------


def _add_delegation(d: Draft, command: c.AddDelegation, actor: str) -> None:
    _authorise(d, actor, command.kind)
    for delegation in d.state.delegations.values():
        if command.delegation_id == delegation.delegation_id:
            raise RoomError(ErrorCode.ALREADY_EXISTS, f"delegation {command.delegation_id} exists")
        if command.country_code == delegation.country_code:
            raise RoomError(
                ErrorCode.ALREADY_EXISTS,
                f"{command.country_code} is already delegation {delegation.delegation_id}",
            )
    d.emit(
        DelegationAdded(
            command.delegation_id,
            command.name,
            command.country_code,
            observer=command.observer,
            at=d.now,
            actor=actor,
            reason=command.reason,
        )
    )


def _require_delegation(d: Draft, delegation_id: str) -> None:
    if delegation_id not in d.state.delegations:
        raise RoomError(ErrorCode.NOT_FOUND, f"no delegation {delegation_id!r}")


def _set_delegates_may_request(d: Draft, command: c.SetDelegatesMayRequest, actor: str) -> None:
    participant, scope = _authorise(d, actor, command.kind)
    _require_delegation(d, command.delegation_id)
    _check_for_delegation(d, participant, scope, command.delegation_id)
    if d.state.delegations[command.delegation_id].delegates_may_request == command.allowed:
        raise RoomError(ErrorCode.INVALID_STATE, "the delegation's policy is already so")
    d.emit(
        DelegatesMayRequestChanged(
            command.delegation_id, command.allowed, at=d.now, actor=actor, reason=command.reason
        )
    )


# Participants and lobby --------------------------------------------------------


def _join(d: Draft, command: c.JoinConference, actor: str) -> None:
    _check_self(actor, command.participant_id)
    state, pid = d.state, command.participant_id
    if pid == SYSTEM:
        raise RoomError(ErrorCode.INVALID_ARGUMENT, f"{SYSTEM!r} is reserved")
    if pid in state.participants or pid in state.lobby:
        raise RoomError(ErrorCode.ALREADY_EXISTS, f"{pid} is already here")
    if pid in state.banned:
        raise _forbidden("removed by the chair; only the chair can readmit this seat")
    if command.delegation_id is not None:
        _require_delegation(d, command.delegation_id)
    staff = command.role.is_staff
    if state.locked and not staff:
        raise RoomError(ErrorCode.ROOM_LOCKED, "the room is locked")
    event = ParticipantWaiting if state.settings.lobby_enabled and not staff else ParticipantJoined
    d.emit(
        event(
            pid,
            command.name,
            command.role,
            command.delegation_id,
            at=d.now,
            actor=actor,
            reason=command.reason,
        )
    )


def _remove(d: Draft, command: c.RemoveParticipant, actor: str) -> None:
    _, scope = _authorise(d, actor, command.kind)
    target = _present_or_waiting(d, command.participant_id)
    _check_target(scope, target)
    _depart(
        d, command.participant_id, ParticipantRemoved, actor, command.reason, banned=command.ban
    )


def _unban(d: Draft, command: c.UnbanParticipant, actor: str) -> None:
    _authorise(d, actor, command.kind)
    if command.participant_id not in d.state.banned:
        raise RoomError(ErrorCode.NOT_FOUND, f"{command.participant_id} is not banned")
    d.emit(
        ParticipantUnbanned(command.participant_id, at=d.now, actor=actor, reason=command.reason)
    )


def _declare_ready(d: Draft, command: c.DeclareReady, actor: str) -> None:
    """Only for oneself, from the lobby too (where the check happens)."""
    pid = command.participant_id or actor
    if actor != SYSTEM:
        participant = d.state.participants.get(actor) or d.state.lobby.get(actor)
        if participant is None:
            raise _forbidden(f"{actor} is not in the conference")
        if scope_of(participant.role, command.kind) is None or pid != actor:
            raise _forbidden("participants say only for themselves that they are ready")
    if pid not in d.state.participants and pid not in d.state.lobby:
        raise RoomError(ErrorCode.NOT_FOUND, f"{pid} is not in the conference")
    if pid in d.state.ready:
        raise RoomError(ErrorCode.INVALID_STATE, f"{pid} is already ready")
    d.emit(DevicesChecked(pid, at=d.now, actor=actor, reason=command.reason))


def _set_presence(d: Draft, command: c.SetPresence, actor: str) -> None:
    if actor != SYSTEM:
        raise _forbidden("only the service says who is connected")
    pid = command.participant_id
    _present(d, pid)
    if d.state.presence(pid) is command.presence:
        raise RoomError(ErrorCode.INVALID_STATE, f"{pid} is already {command.presence.value}")
    d.emit(
        ParticipantPresenceChanged(
            pid, command.presence, at=d.now, actor=actor, reason=command.reason
        )
    )


def _present_or_waiting(d: Draft, participant_id: str) -> Participant:
    participant = d.state.participants.get(participant_id) or d.state.lobby.get(participant_id)
    if participant is None:
        raise RoomError(ErrorCode.NOT_FOUND, f"{participant_id} is not here")
    return participant


def _present(d: Draft, participant_id: str) -> Participant:
    participant = d.state.participants.get(participant_id)
    if participant is None:
        raise RoomError(ErrorCode.NOT_FOUND, f"{participant_id} is not in the room")
    return participant


def _check_target(scope: Scope, target: Participant) -> None:
    if scope is Scope.NOT_CHAIR and target.role is Role.CHAIR:
        raise _forbidden("a technician may not act on a chair")


def _depart(
    d: Draft,
    participant_id: str,
    event: type[ParticipantLeft | ParticipantRemoved],
    actor: str,
    reason: str | None,
    *,
    banned: bool = False,
) -> None:
    participant = _present_or_waiting(d, participant_id)
    was_present = participant_id in d.state.participants
    interpretation_rules.on_departure(d, participant_id)
    if banned:
        d.emit(
            ParticipantRemoved(participant_id, banned=True, at=d.now, actor=actor, reason=reason)
        )
    else:
        d.emit(event(participant_id, at=d.now, actor=actor, reason=reason))
    delegation_id = participant.delegation_id
    if not was_present or delegation_id is None or not participant.role.speaks_for_delegation:
        return
    # A request or floor is the delegation's: it lapses once no one is left to speak.
    if not _speakers_present(d, delegation_id):
        request = d.state.floor.open_request(delegation_id)
        if request is not None:
            reason_code = SystemReason.DELEGATION_ABSENT
            d.emit(d.state.floor.end(request, at=d.now, reason=reason_code))


def _speakers_present(d: Draft, delegation_id: str) -> list[Participant]:
    return [p for p in d.state.members(delegation_id) if p.role.speaks_for_delegation]


def _lobby_decision(d: Draft, command: c.AdmitFromLobby | c.RejectFromLobby, actor: str) -> None:
    _authorise(d, actor, command.kind)
    pid = command.participant_id
    if pid not in d.state.lobby:
        if pid in d.state.participants:
            raise RoomError(ErrorCode.INVALID_STATE, f"{pid} is already in the room")
        raise RoomError(ErrorCode.NOT_FOUND, f"{pid} is not in the lobby")
    event = ParticipantAdmitted if isinstance(command, c.AdmitFromLobby) else ParticipantRejected
    d.emit(event(pid, at=d.now, actor=actor, reason=command.reason))


def _mute(d: Draft, command: c.MuteParticipant | c.UnmuteParticipant, actor: str) -> None:
    _, scope = _authorise(d, actor, command.kind)
    target = _present(d, command.participant_id)
    _check_target(scope, target)
    mute = isinstance(command, c.MuteParticipant)
    if (command.participant_id in d.state.muted) == mute:
        state = "muted" if mute else "not muted"
        raise RoomError(ErrorCode.INVALID_STATE, f"{command.participant_id} is already {state}")
    event = ParticipantMuted if mute else ParticipantUnmuted
    d.emit(event(command.participant_id, at=d.now, actor=actor, reason=command.reason))


# Floor -------------------------------------------------------------------------


def _request(d: Draft, command: c.RequestFloor, actor: str) -> None:
    participant, scope = _authorise(d, actor, command.kind)
    did = command.delegation_id
    _require_delegation(d, did)
    _check_for_delegation(d, participant, scope, did)
    agenda_rules.check_observer_may_request(d, did)
    speakers = _speakers_present(d, did)
    if not speakers:
        raise RoomError(ErrorCode.INVALID_STATE, f"no head or delegate of {did} is in the room")
    speaker_id = command.speaker_id
    on_behalf = participant not in speakers
    if speaker_id is None:
        speaker_id = None if on_behalf else actor
    elif speaker_id not in {p.participant_id for p in speakers}:
        raise RoomError(
            ErrorCode.INVALID_ARGUMENT, f"{speaker_id} is no head or delegate of {did} here"
        )
    floor = d.state.floor
    requested = floor.request(
        did, command.priority, speaker_id, on_behalf, actor=actor, at=d.now, reason=command.reason
    )
    d.emit(requested)
    if on_behalf:  # the chair's own request needs no acceptance
        d.emit(floor.accept(requested.request_id, actor=actor, at=d.now, reason=None))
    elif d.state.settings.auto_accept:
        reason = SystemReason.AUTO_ACCEPT
        d.emit(floor.accept(requested.request_id, actor=SYSTEM, at=d.now, reason=reason))


def _cancel_or_release(d: Draft, command: c.CancelRequest | c.ReleaseFloor, actor: str) -> None:
    participant, scope = _authorise(d, actor, command.kind)
    floor = d.state.floor
    request = floor.get(command.request_id)
    _check_for_delegation(d, participant, scope, request.delegation_id)
    act = floor.cancel if isinstance(command, c.CancelRequest) else floor.release
    d.emit(act(request.request_id, actor=actor, at=d.now, reason=command.reason))


def _chair_on_request(
    d: Draft, command: c.AcceptRequest | c.DenyRequest | c.RevokeFloor, actor: str
) -> None:
    _authorise(d, actor, command.kind)
    floor = d.state.floor
    act = {
        c.AcceptRequest: floor.accept,
        c.DenyRequest: floor.deny,
        c.RevokeFloor: floor.revoke,
    }[type(command)]
    d.emit(act(command.request_id, actor=actor, at=d.now, reason=command.reason))


def _reorder(d: Draft, command: c.ReorderRequest, actor: str) -> None:
    _authorise(d, actor, command.kind)
    d.emit(
        d.state.floor.reorder(
            command.request_id, command.position, actor=actor, at=d.now, reason=command.reason
        )
    )


def _time_limit(d: Draft, command: c.GrantFloor | c.SetSpeakingTime) -> float | None:
    if command.unlimited:
        return None
    if command.time_limit is not None:
        return command.time_limit
    return d.state.settings.default_time_limit


def _grant(d: Draft, command: c.GrantFloor, actor: str) -> None:
    _authorise(d, actor, command.kind)
    state = d.state
    time_limit = _time_limit(d, command)
    time_limit = agenda_rules.within_budget(state, command.request_id, time_limit, granting=True)
    d.emit(
        state.floor.grant(
            command.request_id,
            time_limit,
            state.settings,
            actor=actor,
            at=d.now,
            reason=command.reason,
        )
    )


def _set_speaking_time(d: Draft, command: c.SetSpeakingTime, actor: str) -> None:
    _authorise(d, actor, command.kind)
    state = d.state
    time_limit = _time_limit(d, command)
    time_limit = agenda_rules.within_budget(state, command.request_id, time_limit, granting=False)
    d.emit(
        state.floor.set_time(
            command.request_id,
            time_limit,
            state.settings,
            actor=actor,
            at=d.now,
            reason=command.reason,
        )
    )
