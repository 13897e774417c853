"""The permission matrix: which role may issue which command, and over what.

This is the one place that says who may do what. `Conference.decide` looks the
actor's role up here, then checks the scope against the state (whose delegation
the request is for, whom the mute is aimed at). SYSTEM, the service acting for
itself (admin API, disconnect handling), may issue every command.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

from . import commands as c
from .roles import Role

__all__ = ["MATRIX", "SYSTEM", "Scope", "scope_of"]

# The actor id of the service itself, and of every automatic consequence.
SYSTEM: Final = "system"


class Scope(StrEnum):
    ANY = "any"  # anywhere in the conference
    SELF = "self"  # only for oneself (joining, leaving)
    OWN_DELEGATION = "own_delegation"  # only for one's own delegation
    # Delegates act for their delegation only while it allows them (its head decides).
    OWN_DELEGATION_IF_ALLOWED = "own_delegation_if_allowed"
    NOT_CHAIR = "not_chair"  # any participant but a chair
    # Only to the threads one may read (rooms.messages says which).
    OWN_THREADS = "own_threads"


_EVERYONE_SELF = {
    c.JoinConference.kind: Scope.SELF,
    c.LeaveConference.kind: Scope.SELF,
    c.SendMessage.kind: Scope.OWN_THREADS,
    c.DeclareReady.kind: Scope.SELF,
}

_CHAIR_ONLY = (
    c.CloseConference,
    c.LockRoom,
    c.UnlockRoom,
    c.StartRecording,
    c.StopRecording,
    c.SetDefaultTimeLimit,
    c.SetMaxHolders,
    c.SetOpenFloor,
    c.SetPublicChat,
    c.AddDelegation,
    c.AdmitFromLobby,
    c.RejectFromLobby,
    c.UnbanParticipant,
    c.AcceptRequest,
    c.DenyRequest,
    c.ReorderRequest,
    c.GrantFloor,
    c.SetSpeakingTime,
    c.RevokeFloor,
    c.SetLanguages,
    c.OpenChannel,
    c.CloseChannel,
    c.AssignInterpreter,
    c.UnassignInterpreter,
)

# An interpreter acts in its own booth only (the seat the chair assigned it).
_INTERPRETER_SELF = {
    cls.kind: Scope.SELF
    for cls in (
        c.SetInterpretationSource,
        c.GoOnAir,
        c.GoOffAir,
        c.RequestHandover,
        c.AcceptHandover,
        c.AskSlowDown,
    )
}

# The order of business: the chair runs the agenda, the roll call and decisions.
_CHAIR_RUNS_BUSINESS = (
    c.AddAgendaItem,
    c.InscribeSpeaker,
    c.OpenItem,
    c.CloseItem,
    c.GrantExtraTime,
    c.SetQuorum,
    c.StartRollCall,
    c.AnswerRollCall,  # marking a delegation present
    c.CloseRollCall,
    c.ProposeConsensus,
    c.OpenVote,
    c.CloseVote,
)
# A delegation answers for itself: its head, or (ballots, objections) its designated voter.
_HEAD_ANSWERS = (c.AnswerRollCall, c.RaiseObjection, c.DesignateVoter, c.CastVote)
_DESIGNEE_ANSWERS = (c.RaiseObjection, c.CastVote)

MATRIX: Final[Mapping[Role, Mapping[str, Scope]]] = {
    Role.CHAIR: {
        **_EVERYONE_SELF,
        **{cls.kind: Scope.ANY for cls in _CHAIR_ONLY},
        c.SetDelegatesMayRequest.kind: Scope.ANY,
        c.RemoveParticipant.kind: Scope.ANY,
        c.MuteParticipant.kind: Scope.ANY,
        c.UnmuteParticipant.kind: Scope.ANY,
        c.RequestFloor.kind: Scope.ANY,  # on a delegation's behalf
        c.CancelRequest.kind: Scope.ANY,
        c.GoOffAir.kind: Scope.ANY,  # an interpreter's microphone left open
        # No ReleaseFloor: the chair revokes, so the minutes tell yielding from being cut off.
        **{cls.kind: Scope.ANY for cls in _CHAIR_RUNS_BUSINESS},
    },
    Role.HEAD: {
        **_EVERYONE_SELF,
        c.SetDelegatesMayRequest.kind: Scope.OWN_DELEGATION,
        c.RequestFloor.kind: Scope.OWN_DELEGATION,
        c.CancelRequest.kind: Scope.OWN_DELEGATION,
        c.ReleaseFloor.kind: Scope.OWN_DELEGATION,
        **{cls.kind: Scope.OWN_DELEGATION for cls in _HEAD_ANSWERS},
    },
    Role.DELEGATE: {
        **_EVERYONE_SELF,
        c.RequestFloor.kind: Scope.OWN_DELEGATION_IF_ALLOWED,
        c.CancelRequest.kind: Scope.OWN_DELEGATION_IF_ALLOWED,
        c.ReleaseFloor.kind: Scope.OWN_DELEGATION_IF_ALLOWED,
        **{cls.kind: Scope.OWN_DELEGATION for cls in _DESIGNEE_ANSWERS},
    },
    Role.TECHNICIAN: {
        **_EVERYONE_SELF,
        c.RemoveParticipant.kind: Scope.NOT_CHAIR,
        c.MuteParticipant.kind: Scope.NOT_CHAIR,
        c.UnmuteParticipant.kind: Scope.NOT_CHAIR,
    },
    Role.OBSERVER: dict(_EVERYONE_SELF),
    Role.INTERPRETER: {**_EVERYONE_SELF, **_INTERPRETER_SELF},
}


def scope_of(role: Role, kind: str) -> Scope | None:
    """The scope in which `role` may issue commands of `kind`, or None if never."""
    return MATRIX[role].get(kind)
