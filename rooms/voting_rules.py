"""The rules of the roll call, the quorum and the decisions on record.

Like :mod:`rooms.decisions` (which calls `decide` here), the checks run in a
fixed order: actor and role (forbidden), targets exist (not_found), who may
answer for the delegation (forbidden), state (invalid_state and the rest).
Ballots and objections are a delegation's: cast by its head, or by the voter
the head designated, never by anyone outside it, once per decision.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import commands as c
from .agenda_rules import authorise, require_delegation
from .errors import ErrorCode, RoomError
from .events import (
    ConsensusEnded,
    ConsensusProposed,
    ObjectionRaised,
    QuorumSet,
    RollCallAnswered,
    RollCallClosed,
    RollCallStarted,
    SystemReason,
    VoteCast,
    VoteClosed,
    VoteOpened,
    VoterDesignated,
)
from .order_values import Ballot
from .participant import Participant
from .permissions import SYSTEM, Scope
from .roles import Role
from .votes import Decision, DecisionKind

if TYPE_CHECKING:
    from .decisions import Draft

__all__ = ["MAX_DECISIONS", "MAX_ROLL_CALLS", "VOTING_COMMANDS", "decide", "on_closing"]

# Per conference: far above any real meeting's, low enough to bound its state.
MAX_ROLL_CALLS = 200
MAX_DECISIONS = 500

VOTING_COMMANDS = (
    c.SetQuorum,
    c.StartRollCall,
    c.AnswerRollCall,
    c.CloseRollCall,
    c.ProposeConsensus,
    c.RaiseObjection,
    c.DesignateVoter,
    c.OpenVote,
    c.CastVote,
    c.CloseVote,
)


def _state_error(message: str) -> RoomError:
    return RoomError(ErrorCode.INVALID_STATE, message)


def _forbidden(message: str) -> RoomError:
    return RoomError(ErrorCode.FORBIDDEN, message)


def decide(d: Draft, command: c.Command, actor: str) -> None:
    match command:
        case c.SetQuorum():
            _set_quorum(d, command, actor)
        case c.StartRollCall():
            _start_roll_call(d, command, actor)
        case c.AnswerRollCall():
            _answer(d, command, actor)
        case c.CloseRollCall():
            _close_roll_call(d, command, actor)
        case c.ProposeConsensus() | c.OpenVote():
            _open_decision(d, command, actor)
        case c.RaiseObjection():
            _object(d, command, actor)
        case c.DesignateVoter():
            _designate(d, command, actor)
        case c.CastVote():
            _cast(d, command, actor)
        case c.CloseVote():
            _close_vote(d, command, actor)
        case _:
            raise TypeError(f"not a voting command: {command!r}")


# Roll call -----------------------------------------------------------------------


def _set_quorum(d: Draft, command: c.SetQuorum, actor: str) -> None:
    authorise(d, actor, command.kind)
    if command.rule == d.state.rollcall.quorum:
        raise _state_error("the quorum is already so")
    d.emit(QuorumSet(command.rule, at=d.now, actor=actor, reason=command.reason))


def _start_roll_call(d: Draft, command: c.StartRollCall, actor: str) -> None:
    authorise(d, actor, command.kind)
    rollcall = d.state.rollcall
    if rollcall.open:
        raise _state_error(f"roll call {rollcall.roll_call_id} is open; close it first")
    if rollcall.count >= MAX_ROLL_CALLS:
        raise RoomError(ErrorCode.LIMIT_REACHED, f"{MAX_ROLL_CALLS} roll calls already")
    d.emit(RollCallStarted(rollcall.next_id(), at=d.now, actor=actor, reason=command.reason))


def _answer(d: Draft, command: c.AnswerRollCall, actor: str) -> None:
    participant, scope = authorise(d, actor, command.kind)
    did = command.delegation_id
    require_delegation(d, did)
    if participant is not None and scope is not Scope.ANY and participant.delegation_id != did:
        raise _forbidden(f"{actor} answers only for its own delegation")
    _not_observer(d, did, "is not called in the roll call")
    rollcall = d.state.rollcall
    if not rollcall.open or rollcall.roll_call_id is None:
        raise _state_error("no roll call is open")
    if did in rollcall.answered:
        raise _state_error(f"{did} has already answered")
    if did not in d.state.attending_delegations():
        raise _state_error(f"nobody of {did} is here to answer")
    d.emit(
        RollCallAnswered(rollcall.roll_call_id, did, at=d.now, actor=actor, reason=command.reason)
    )


def _close_roll_call(d: Draft, command: c.CloseRollCall, actor: str) -> None:
    authorise(d, actor, command.kind)
    if not d.state.rollcall.open:
        raise _state_error("no roll call is open")
    _record_roll_call(d, actor, command.reason)


def _record_roll_call(d: Draft, actor: str, reason: str | None) -> None:
    rollcall = d.state.rollcall
    assert rollcall.roll_call_id is not None
    registered = d.state.member_delegations()
    present = rollcall.present(d.state.attending_delegations())
    required = rollcall.quorum.required(len(registered))
    d.emit(
        RollCallClosed(
            rollcall.roll_call_id,
            tuple(present),
            tuple(did for did in registered if did not in present),
            required,
            len(present) >= required,
            at=d.now,
            actor=actor,
            reason=reason,
        )
    )


# Decisions -----------------------------------------------------------------------


def _open_decision(d: Draft, command: c.ProposeConsensus | c.OpenVote, actor: str) -> None:
    authorise(d, actor, command.kind)
    votes = d.state.votes
    current = votes.open_decision()
    if current is not None:
        raise _state_error(f"decision {current.decision_id} is open; close it first")
    if len(votes.decisions) >= MAX_DECISIONS:
        raise RoomError(ErrorCode.LIMIT_REACHED, f"{MAX_DECISIONS} decisions already")
    item = d.state.agenda.current
    item_id = None if item is None else item.item_id
    if isinstance(command, c.ProposeConsensus):
        closes_at = d.now + command.window
        d.emit(
            ConsensusProposed(
                votes.next_id(),
                item_id,
                command.text,
                closes_at,
                at=d.now,
                actor=actor,
                reason=command.reason,
            )
        )
    else:
        d.emit(
            VoteOpened(
                votes.next_id(), item_id, command.text, at=d.now, actor=actor, reason=command.reason
            )
        )


def _decision(d: Draft, decision_id: str) -> Decision:
    decision = d.state.votes.decisions.get(decision_id)
    if decision is None:
        raise RoomError(ErrorCode.NOT_FOUND, f"no decision {decision_id!r}")
    return decision


def _not_observer(d: Draft, delegation_id: str, what: str) -> None:
    """Observers speak on the items open to them, and nothing more: no ballot, no quorum."""
    if d.state.delegations[delegation_id].observer:
        raise _forbidden(f"{delegation_id} is an observer and {what}")


def _voting_delegation(d: Draft, participant: Participant | None, named: str | None) -> str:
    """The delegation the actor answers for: its own, as its head or designated voter."""
    if participant is None:  # the service acts for a named delegation
        if named is None:
            raise RoomError(ErrorCode.INVALID_ARGUMENT, "delegation_id: name the delegation")
        require_delegation(d, named)
        _not_observer(d, named, "does not vote")
        return named
    did = participant.delegation_id
    if did is None:
        raise _forbidden(f"{participant.participant_id} belongs to no delegation")
    if named is not None and named != did:
        raise _forbidden(f"{participant.participant_id} votes only for its own delegation")
    designated = d.state.votes.designated.get(did)
    if participant.role is not Role.HEAD and participant.participant_id != designated:
        raise _forbidden(f"only the head of {did} or the voter it designated answers for it")
    _not_observer(d, did, "does not vote")
    return did


def _object(d: Draft, command: c.RaiseObjection, actor: str) -> None:
    participant, _ = authorise(d, actor, command.kind)
    decision = _decision(d, command.decision_id)
    did = _voting_delegation(d, participant, command.delegation_id)
    if decision.kind is not DecisionKind.CONSENSUS:
        raise _state_error(f"{decision.decision_id} is a recorded vote: cast a ballot")
    if not decision.open:
        raise _state_error(f"the objection window of {decision.decision_id} is over")
    if did in decision.objections:
        raise _state_error(f"{did} has already objected")
    d.emit(ObjectionRaised(decision.decision_id, did, at=d.now, actor=actor, reason=command.reason))


def _designate(d: Draft, command: c.DesignateVoter, actor: str) -> None:
    participant, scope = authorise(d, actor, command.kind)
    did = command.delegation_id
    require_delegation(d, did)
    if participant is not None and scope is not Scope.ANY and participant.delegation_id != did:
        raise _forbidden(f"{actor} designates only for its own delegation")
    _not_observer(d, did, "does not vote")
    pid = command.participant_id
    if pid is not None:
        voter = d.state.participants.get(pid)
        if voter is None:
            raise RoomError(ErrorCode.NOT_FOUND, f"{pid} is not in the room")
        if voter.delegation_id != did or voter.role is not Role.DELEGATE:
            raise RoomError(ErrorCode.INVALID_ARGUMENT, f"{pid} is no delegate of {did}")
    if d.state.votes.designated.get(did) == pid:
        raise _state_error(f"the designated voter of {did} is already so")
    d.emit(VoterDesignated(did, pid, at=d.now, actor=actor, reason=command.reason))


def _cast(d: Draft, command: c.CastVote, actor: str) -> None:
    participant, _ = authorise(d, actor, command.kind)
    decision = _decision(d, command.decision_id)
    did = _voting_delegation(d, participant, command.delegation_id)
    if decision.kind is not DecisionKind.VOTE:
        raise _state_error(f"{decision.decision_id} is a consensus proposal: raise an objection")
    if not decision.open:
        raise _state_error(f"the vote {decision.decision_id} is closed")
    if decision.voted(did):
        raise _state_error(f"{did} has already voted on {decision.decision_id}")
    d.emit(
        VoteCast(
            decision.decision_id, did, command.ballot, at=d.now, actor=actor, reason=command.reason
        )
    )


def _close_vote(d: Draft, command: c.CloseVote, actor: str) -> None:
    authorise(d, actor, command.kind)
    decision = _decision(d, command.decision_id)
    if decision.kind is not DecisionKind.VOTE:
        raise _state_error(f"{decision.decision_id} ends when its objection window does")
    if not decision.open:
        raise _state_error(f"the vote {decision.decision_id} is already closed")
    _count(d, decision, actor, command.reason)


def _count(d: Draft, decision: Decision, actor: str, reason: str | None) -> None:
    """Close a vote with the result of the ballots cast."""
    yes, no = decision.count(Ballot.YES), decision.count(Ballot.NO)
    d.emit(
        VoteClosed(
            decision.decision_id,
            yes,
            no,
            decision.count(Ballot.ABSTAIN),
            yes > no,
            at=d.now,
            actor=actor,
            reason=reason,
        )
    )


def on_closing(d: Draft) -> None:
    """The conference closes: an open roll call closes with who is here, an open vote is
    counted, and a consensus whose objection window has not run out is not adopted."""
    reason = SystemReason.CONFERENCE_CLOSED
    if d.state.rollcall.open:
        _record_roll_call(d, SYSTEM, reason)
    decision = d.state.votes.open_decision()
    if decision is None:
        return
    if decision.kind is DecisionKind.VOTE:
        _count(d, decision, SYSTEM, reason)
    else:
        d.emit(
            ConsensusEnded(
                decision.decision_id,
                False,
                decision.objections,
                at=d.now,
                actor=SYSTEM,
                reason=reason,
            )
        )
