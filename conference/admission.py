"""Who may enter a conference: a verified grant checked against it, and what entering means.

Pure: the conference's state (and the time) in, a participant or the join's
events out, or JoinRefused with a protocol error code.
"""

from __future__ import annotations

from rooms import Conference, JoinConference, RoomError
from rooms import Role as RoomRole
from rooms.events import Event
from server.tokens import JoinGrant
from signaling import DelegationInfo, ParticipantInfo, Role

from .member import JoinRefused


def participant_from(state: Conference, grant: JoinGrant) -> ParticipantInfo:
    """Check a verified grant against the conference; raise JoinRefused."""
    try:
        role = Role(grant.role)
    except ValueError:
        raise JoinRefused("invalid_token", f"unknown role {grant.role!r}") from None
    delegation = None
    if grant.delegation is not None:
        found = state.delegations.get(grant.delegation)
        if found is None:
            raise JoinRefused(
                "invalid_token", f"no delegation {grant.delegation!r} in {state.conference_id!r}"
            )
        delegation = DelegationInfo(found.delegation_id, found.name, found.country_code)
    elif RoomRole(role).needs_delegation:
        raise JoinRefused("invalid_token", f"a {role.value} must belong to a delegation")
    if state.closed:
        raise JoinRefused("invalid_state", "the conference is closed")
    return ParticipantInfo(grant.participant, grant.name, role, delegation)


def join_events(state: Conference, participant: ParticipantInfo, now: float) -> list[Event]:
    """What entering means now (room or lobby); JoinRefused if it may not."""
    pid = participant.id
    if pid in state.participants or pid in state.lobby:
        return []  # a seat that is already here (its connection is being replaced)
    command = JoinConference(
        pid,
        participant.name,
        RoomRole(participant.role.value),
        participant.delegation.id if participant.delegation else None,
    )
    try:
        return state.decide(command, pid, now)
    except RoomError as exc:
        raise JoinRefused(exc.code.value, exc.message) from None


__all__ = ["join_events", "participant_from"]
