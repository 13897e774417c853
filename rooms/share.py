"""Screen sharing: who may put a presentation on everyone's screen.

A share is shown large to the whole room, so it follows the floor: the chair
may always share; a head or delegate only while its delegation holds the
floor. The moment that stops being true (the floor released, revoked, expired,
the seat gone) the share must end. Stopping someone else's share is the
chair's. Pure: the service asks these questions after every change.
"""

from __future__ import annotations

from .conference import Conference
from .roles import Role

__all__ = ["may_share", "may_stop_share", "share_refusal"]


def share_refusal(state: Conference, participant_id: str) -> str | None:
    """Why ``participant_id`` may not share now, or None if it may."""
    participant = state.participants.get(participant_id)
    if participant is None:
        return "only a participant in the room may share a screen"
    if state.closed:
        return "the conference is closed"
    if participant.role is Role.CHAIR:
        return None
    if not participant.role.speaks_for_delegation or participant.delegation_id is None:
        return f"a {participant.role.value} does not share a screen"
    if not state.floor.holds_floor(participant.delegation_id):
        return "only the delegation holding the floor (or the chair) may share a screen"
    return None


def may_share(state: Conference, participant_id: str) -> bool:
    return share_refusal(state, participant_id) is None


def may_stop_share(state: Conference, actor: str, sharer: str) -> bool:
    """The sharer stops its own share; the chair stops anyone's."""
    if actor == sharer:
        return True
    participant = state.participants.get(actor)
    return participant is not None and participant.role is Role.CHAIR
