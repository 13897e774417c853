"""Shared builders for the rooms tests (no tests here).

A small meeting: two chairs, a technician, an observer, and three delegations
(Honduras with a head and a delegate, Guatemala and Costa Rica with a head each).
"""

from __future__ import annotations

from typing import Any

import pytest

from rooms import (
    SYSTEM,
    AddDelegation,
    AdmitFromLobby,
    Command,
    Conference,
    CreateConference,
    ErrorCode,
    Event,
    JoinConference,
    RequestFloor,
    Role,
    RoomError,
    Settings,
)

T0 = 1_760_000_000.0  # a fixed unix time; nothing in rooms reads a clock

DELEGATIONS = [("hn", "Honduras", "HN"), ("gt", "Guatemala", "GT"), ("cr", "Costa Rica", "CR")]
PEOPLE = [
    ("chair", "Presidencia", Role.CHAIR, None),
    ("chair2", "Vicepresidencia", Role.CHAIR, None),
    ("tech", "Soporte", Role.TECHNICIAN, None),
    ("obs", "Observadora OEA", Role.OBSERVER, None),
    ("hn_head", "Canciller de Honduras", Role.HEAD, "hn"),
    ("hn_del", "Asesor de Honduras", Role.DELEGATE, "hn"),
    ("gt_head", "Canciller de Guatemala", Role.HEAD, "gt"),
    ("cr_head", "Canciller de Costa Rica", Role.HEAD, "cr"),
]


def meeting(**settings: Any) -> Conference:
    """A created conference with everyone in the room, at time T0."""
    return meeting_and_log(**settings)[0]


def meeting_and_log(**settings: Any) -> tuple[Conference, list[Event]]:
    conference = Conference("c1")
    log = conference.execute(CreateConference("Conversatorio", Settings(**settings)), SYSTEM, T0)
    for delegation_id, name, code in DELEGATIONS:
        log += conference.execute(AddDelegation(delegation_id, name, code), SYSTEM, T0)
    for participant_id, name, role, delegation_id in PEOPLE:
        join = JoinConference(participant_id, name, role, delegation_id)
        log += conference.execute(join, participant_id, T0)
        if participant_id in conference.lobby:
            log += conference.execute(AdmitFromLobby(participant_id), "chair", T0)
    return conference, log


def request(conference: Conference, actor: str, delegation_id: str, now: float = T0) -> str:
    """Request the floor; return the new request id."""
    events = conference.execute(RequestFloor(delegation_id), actor, now)
    return events[0].request_id  # type: ignore[attr-defined,no-any-return]


def rejects(
    conference: Conference, command: Command, actor: str, code: ErrorCode, now: float = T0
) -> RoomError:
    """Assert that the command is rejected with `code` and changes nothing."""
    before = conference.copy()
    with pytest.raises(RoomError) as caught:
        conference.execute(command, actor, now)
    assert caught.value.code is code, caught.value
    assert conference == before
    return caught.value


def types(events: list[Event]) -> list[str]:
    return [event.type for event in events]
