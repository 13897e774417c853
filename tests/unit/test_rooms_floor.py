"""Floor control: every request transition, priorities, the speakers list, rejections."""

from __future__ import annotations

import pytest
from test_rooms_support import T0, meeting, rejects, request, types

from rooms import (
    SYSTEM,
    TRANSITIONS,
    AcceptRequest,
    CancelRequest,
    Conference,
    DenyRequest,
    ErrorCode,
    FloorAccepted,
    FloorRequested,
    GrantFloor,
    Priority,
    ReleaseFloor,
    RemoveParticipant,
    ReorderRequest,
    RequestFloor,
    RequestStatus,
    RevokeFloor,
    RoomError,
    SetDelegatesMayRequest,
    SetMaxHolders,
    SpeakersList,
    SystemReason,
)


def queue_ids(conference: Conference) -> list[str]:
    return [r.request_id for r in conference.floor.queue()]


def status(conference: Conference, request_id: str) -> RequestStatus:
    return conference.floor.requests[request_id].status


# Requesting ----------------------------------------------------------------------


def test_head_request_is_accepted_onto_the_speakers_list() -> None:
    conference = meeting()
    events = conference.execute(RequestFloor("hn", reason="on item 2"), "hn_head", T0 + 1)
    assert types(events) == ["floor.requested", "floor.accepted"]
    requested, accepted = events
    assert isinstance(requested, FloorRequested) and isinstance(accepted, FloorAccepted)
    assert requested.request_id == "r1" and requested.actor == "hn_head"
    assert requested.speaker_id == "hn_head" and not requested.on_behalf
    assert requested.reason == "on item 2"
    assert accepted.actor == SYSTEM and accepted.reason == SystemReason.AUTO_ACCEPT
    assert accepted.position == 1
    request_ = conference.floor.requests["r1"]
    assert request_.status is RequestStatus.ACCEPTED and request_.requested_at == T0 + 1
    assert conference.floor.open_request("hn") == request_


def test_without_auto_accept_a_request_waits_for_the_chair() -> None:
    conference = meeting(auto_accept=False)
    assert types(conference.execute(RequestFloor("hn"), "hn_head", T0)) == ["floor.requested"]
    assert status(conference, "r1") is RequestStatus.PENDING
    assert [r.request_id for r in conference.floor.pending()] == ["r1"]
    assert queue_ids(conference) == []
    events = conference.execute(AcceptRequest("r1"), "chair", T0 + 1)
    assert types(events) == ["floor.accepted"] and events[0].actor == "chair"
    assert queue_ids(conference) == ["r1"] and conference.floor.pending() == []
    rejects(conference, AcceptRequest("r1"), "chair2", ErrorCode.INVALID_STATE)
    rejects(conference, AcceptRequest("r1"), "hn_head", ErrorCode.FORBIDDEN)


def test_request_ids_are_sequential() -> None:
    conference = meeting()
    assert [request(conference, h, d) for h, d in [("hn_head", "hn"), ("gt_head", "gt")]] == [
        "r1",
        "r2",
    ]


def test_chair_requests_on_behalf_and_it_is_queued_at_once() -> None:
    conference = meeting(auto_accept=False)
    events = conference.execute(RequestFloor("gt"), "chair", T0)
    assert types(events) == ["floor.requested", "floor.accepted"]
    requested, accepted = events
    assert requested.on_behalf and requested.speaker_id is None  # type: ignore[attr-defined]
    assert accepted.actor == "chair"
    assert conference.floor.requests["r1"].requested_by == "chair"


def test_chair_may_name_the_speaker() -> None:
    conference = meeting()
    events = conference.execute(RequestFloor("hn", speaker_id="hn_del"), "chair", T0)
    assert events[0].speaker_id == "hn_del"  # type: ignore[attr-defined]
    rejects(
        conference,
        RequestFloor("gt", speaker_id="hn_del"),
        "chair",
        ErrorCode.INVALID_ARGUMENT,
    )


def test_request_rejections() -> None:
    conference = meeting()
    rejects(conference, RequestFloor("mx"), "chair", ErrorCode.NOT_FOUND)
    rejects(conference, RequestFloor("gt"), "hn_head", ErrorCode.FORBIDDEN)
    rejects(conference, RequestFloor("hn"), "obs", ErrorCode.FORBIDDEN)
    rejects(conference, RequestFloor("hn"), "tech", ErrorCode.FORBIDDEN)
    rejects(conference, RequestFloor("hn"), "hn_del", ErrorCode.FORBIDDEN)  # not allowed yet


@pytest.mark.parametrize("stage", ["pending", "accepted", "granted"])
def test_one_open_request_per_delegation(stage: str) -> None:
    conference = meeting(auto_accept=stage != "pending")
    rid = request(conference, "hn_head", "hn")
    if stage == "granted":
        conference.execute(GrantFloor(rid), "chair", T0)
    assert status(conference, rid).value == stage
    rejects(conference, RequestFloor("hn"), "hn_head", ErrorCode.ALREADY_REQUESTED)
    rejects(conference, RequestFloor("hn"), "chair", ErrorCode.ALREADY_REQUESTED)


def test_a_delegation_may_ask_again_once_its_request_ended() -> None:
    conference = meeting()
    conference.execute(CancelRequest(request(conference, "hn_head", "hn")), "hn_head", T0)
    assert request(conference, "hn_head", "hn") == "r2"


def test_no_request_for_a_delegation_with_nobody_to_speak() -> None:
    conference = meeting()
    conference.execute(RemoveParticipant("cr_head"), "chair", T0)
    rejects(conference, RequestFloor("cr"), "chair", ErrorCode.INVALID_STATE)


# Delegates act for their delegation only when its head allows ---------------------


def test_head_lets_delegates_request() -> None:
    conference = meeting()
    events = conference.execute(SetDelegatesMayRequest("hn", True), "hn_head", T0)
    assert types(events) == ["delegation.delegates_may_request_changed"]
    rid = request(conference, "hn_del", "hn")
    assert conference.floor.requests[rid].speaker_id == "hn_del"
    conference.execute(GrantFloor(rid), "chair", T0)
    conference.execute(ReleaseFloor(rid), "hn_del", T0)
    conference.execute(SetDelegatesMayRequest("hn", False), "chair", T0)
    rejects(conference, RequestFloor("hn"), "hn_del", ErrorCode.FORBIDDEN)


def test_delegation_policy_rejections() -> None:
    conference = meeting()
    rejects(conference, SetDelegatesMayRequest("hn", True), "hn_del", ErrorCode.FORBIDDEN)
    rejects(conference, SetDelegatesMayRequest("hn", True), "gt_head", ErrorCode.FORBIDDEN)
    rejects(conference, SetDelegatesMayRequest("hn", False), "hn_head", ErrorCode.INVALID_STATE)
    rejects(conference, SetDelegatesMayRequest("mx", True), "chair", ErrorCode.NOT_FOUND)


def test_delegate_may_cancel_only_when_allowed() -> None:
    conference = meeting()
    rid = request(conference, "hn_head", "hn")
    rejects(conference, CancelRequest(rid), "hn_del", ErrorCode.FORBIDDEN)
    conference.execute(SetDelegatesMayRequest("hn", True), "hn_head", T0)
    conference.execute(CancelRequest(rid), "hn_del", T0)
    assert status(conference, rid) is RequestStatus.CANCELLED


# Priorities and the speakers list --------------------------------------------------


def test_priorities_order_the_speakers_list() -> None:
    conference = meeting()
    conference.execute(SetDelegatesMayRequest("hn", True), "chair", T0)
    ordinary = request(conference, "hn_head", "hn", T0 + 1)
    ordinary2 = request(conference, "gt_head", "gt", T0 + 2)
    conference.execute(RequestFloor("cr", Priority.RIGHT_OF_REPLY), "cr_head", T0 + 3)
    assert queue_ids(conference) == ["r3", ordinary, ordinary2]
    conference.execute(CancelRequest(ordinary2), "gt_head", T0 + 4)
    conference.execute(RequestFloor("gt", Priority.POINT_OF_ORDER), "gt_head", T0 + 5)
    assert queue_ids(conference) == ["r4", "r3", ordinary]
    positions = [conference.floor.position(rid) for rid in queue_ids(conference)]
    assert positions == [1, 2, 3]


def test_equal_priorities_keep_their_order_of_arrival() -> None:
    conference = meeting()
    for head, delegation in [("cr_head", "cr"), ("hn_head", "hn"), ("gt_head", "gt")]:
        conference.execute(RequestFloor(delegation, Priority.RIGHT_OF_REPLY), head, T0)
    assert queue_ids(conference) == ["r1", "r2", "r3"]


def test_reorder() -> None:
    conference = meeting()
    first, second, third = (request(conference, f"{d}_head", d) for d in ("hn", "gt", "cr"))
    events = conference.execute(ReorderRequest(third, 1, reason="host country"), "chair", T0)
    assert types(events) == ["floor.reordered"] and events[0].position == 1  # type: ignore[attr-defined]
    assert queue_ids(conference) == [third, first, second]
    conference.execute(ReorderRequest(third, 3), "chair2", T0)
    assert queue_ids(conference) == [first, second, third]


def test_reorder_rejections() -> None:
    conference = meeting()
    first = request(conference, "hn_head", "hn")
    second = request(conference, "gt_head", "gt")
    rejects(conference, ReorderRequest(first, 3), "chair", ErrorCode.INVALID_ARGUMENT)
    rejects(conference, ReorderRequest(first, 1), "chair", ErrorCode.INVALID_STATE)
    rejects(conference, ReorderRequest(second, 1), "hn_head", ErrorCode.FORBIDDEN)
    rejects(conference, ReorderRequest("r9", 1), "chair", ErrorCode.NOT_FOUND)
    conference.execute(GrantFloor(first), "chair", T0)
    rejects(conference, ReorderRequest(first, 1), "chair", ErrorCode.INVALID_STATE)
    with pytest.raises(RoomError):
        ReorderRequest(first, 0)


def test_a_new_request_never_overtakes_an_equal_or_higher_one_after_reordering() -> None:
    conference = meeting()
    conference.execute(RequestFloor("hn", Priority.POINT_OF_ORDER), "hn_head", T0)
    ordinary = request(conference, "gt_head", "gt")
    conference.execute(ReorderRequest(ordinary, 1), "chair", T0)  # [ordinary, point of order]
    conference.execute(RequestFloor("cr", Priority.RIGHT_OF_REPLY), "cr_head", T0)
    assert queue_ids(conference) == [ordinary, "r1", "r3"]


def test_speakers_list_place_for() -> None:
    speakers = SpeakersList()
    priorities = {"a": Priority.ORDINARY, "b": Priority.POINT_OF_ORDER}
    assert speakers.place_for(Priority.ORDINARY, priorities.__getitem__) == 1
    speakers.insert("a", 1)
    assert speakers.place_for(Priority.ORDINARY, priorities.__getitem__) == 2
    assert speakers.place_for(Priority.RIGHT_OF_REPLY, priorities.__getitem__) == 1
    speakers.insert("b", 2)  # the chair's order: [a, b]
    assert speakers.place_for(Priority.RIGHT_OF_REPLY, priorities.__getitem__) == 3
    assert speakers.place_for(Priority.POINT_OF_ORDER, priorities.__getitem__) == 3


# Granting ------------------------------------------------------------------------


def test_grant_from_the_speakers_list() -> None:
    conference = meeting(default_time_limit=120.0)
    first, second = request(conference, "hn_head", "hn"), request(conference, "gt_head", "gt")
    events = conference.execute(GrantFloor(first), "chair", T0 + 10)
    assert types(events) == ["floor.granted"]
    granted = events[0]
    assert granted.actor == "chair" and granted.time_limit == 120.0  # type: ignore[attr-defined]
    assert status(conference, first) is RequestStatus.GRANTED
    assert [r.request_id for r in conference.floor.holders()] == [first]
    assert queue_ids(conference) == [second] and conference.floor.position(second) == 1
    assert conference.floor.holds_floor("hn") and not conference.floor.holds_floor("gt")


def test_grant_out_of_order_and_straight_from_pending() -> None:
    conference = meeting(auto_accept=False)
    pending = request(conference, "hn_head", "hn")
    conference.execute(GrantFloor(pending), "chair", T0)
    assert status(conference, pending) is RequestStatus.GRANTED


def test_grant_time_limit_override_and_unlimited() -> None:
    conference = meeting(default_time_limit=120.0, max_holders=3)
    a, b, c = (request(conference, f"{d}_head", d) for d in ("hn", "gt", "cr"))
    conference.execute(GrantFloor(a, time_limit=45.0), "chair", T0)
    conference.execute(GrantFloor(b, unlimited=True), "chair", T0)
    conference.execute(GrantFloor(c), "chair", T0)
    limits = [r.turn.time_limit for r in conference.floor.holders()]  # type: ignore[union-attr]
    assert limits == [45.0, None, 120.0]
    with pytest.raises(RoomError):
        GrantFloor(a, time_limit=10.0, unlimited=True)


def test_grant_beyond_the_maximum_holders() -> None:
    conference = meeting()
    first, second = request(conference, "hn_head", "hn"), request(conference, "gt_head", "gt")
    conference.execute(GrantFloor(first), "chair", T0)
    rejects(conference, GrantFloor(second), "chair2", ErrorCode.LIMIT_REACHED)
    conference.execute(SetMaxHolders(2), "chair", T0)
    conference.execute(GrantFloor(second), "chair2", T0)
    assert len(conference.floor.holders()) == 2


def test_grant_rejections() -> None:
    conference = meeting()
    rid = request(conference, "hn_head", "hn")
    rejects(conference, GrantFloor(rid), "hn_head", ErrorCode.FORBIDDEN)
    rejects(conference, GrantFloor(rid), "tech", ErrorCode.FORBIDDEN)
    rejects(conference, GrantFloor("r9"), "chair", ErrorCode.NOT_FOUND)
    conference.execute(GrantFloor(rid), "chair", T0)
    rejects(conference, GrantFloor(rid), "chair2", ErrorCode.INVALID_STATE)  # two chairs


# Ending a request ----------------------------------------------------------------


@pytest.mark.parametrize("auto_accept", [False, True])
def test_deny_pending_or_queued(auto_accept: bool) -> None:
    conference = meeting(auto_accept=auto_accept)
    rid = request(conference, "hn_head", "hn")
    events = conference.execute(DenyRequest(rid, reason="out of order"), "chair", T0)
    assert types(events) == ["floor.denied"] and events[0].reason == "out of order"
    assert status(conference, rid) is RequestStatus.DENIED
    assert queue_ids(conference) == [] and conference.floor.pending() == []
    assert conference.floor.open_request("hn") is None


def test_deny_rejections() -> None:
    conference = meeting()
    rid = request(conference, "hn_head", "hn")
    rejects(conference, DenyRequest(rid), "hn_head", ErrorCode.FORBIDDEN)
    conference.execute(GrantFloor(rid), "chair", T0)
    rejects(conference, DenyRequest(rid), "chair", ErrorCode.INVALID_STATE)


@pytest.mark.parametrize("actor", ["hn_head", "chair"])
def test_cancel(actor: str) -> None:
    conference = meeting()
    rid = request(conference, "hn_head", "hn")
    events = conference.execute(CancelRequest(rid), actor, T0)
    assert types(events) == ["floor.cancelled"] and events[0].actor == actor
    assert status(conference, rid) is RequestStatus.CANCELLED and queue_ids(conference) == []


def test_cancel_rejections() -> None:
    conference = meeting()
    rid = request(conference, "hn_head", "hn")
    rejects(conference, CancelRequest(rid), "gt_head", ErrorCode.FORBIDDEN)
    rejects(conference, CancelRequest(rid), "obs", ErrorCode.FORBIDDEN)
    rejects(conference, CancelRequest("r9"), "hn_head", ErrorCode.NOT_FOUND)
    conference.execute(GrantFloor(rid), "chair", T0)
    error = rejects(conference, CancelRequest(rid), "hn_head", ErrorCode.INVALID_STATE)
    assert "granted" in error.message


def test_release() -> None:
    conference = meeting()
    rid = request(conference, "hn_head", "hn")
    conference.execute(GrantFloor(rid), "chair", T0)
    events = conference.execute(ReleaseFloor(rid), "hn_head", T0 + 30)
    assert types(events) == ["floor.released"]
    assert status(conference, rid) is RequestStatus.RELEASED
    assert conference.floor.holders() == [] and conference.next_deadline() is None


def test_release_rejections() -> None:
    conference = meeting()
    rid = request(conference, "hn_head", "hn")
    rejects(conference, ReleaseFloor(rid), "hn_head", ErrorCode.INVALID_STATE)  # not granted yet
    conference.execute(GrantFloor(rid), "chair", T0)
    rejects(conference, ReleaseFloor(rid), "chair", ErrorCode.FORBIDDEN)  # the chair revokes
    rejects(conference, ReleaseFloor(rid), "gt_head", ErrorCode.FORBIDDEN)
    rejects(conference, ReleaseFloor(rid), "hn_del", ErrorCode.FORBIDDEN)
    conference.execute(ReleaseFloor(rid), "hn_head", T0)
    rejects(conference, ReleaseFloor(rid), "hn_head", ErrorCode.INVALID_STATE)


def test_revoke() -> None:
    conference = meeting()
    rid = request(conference, "hn_head", "hn")
    conference.execute(GrantFloor(rid), "chair", T0)
    events = conference.execute(RevokeFloor(rid, reason="off topic"), "chair2", T0 + 5)
    assert types(events) == ["floor.revoked"] and events[0].actor == "chair2"
    assert status(conference, rid) is RequestStatus.REVOKED


def test_revoke_rejections_include_stale_ones() -> None:
    conference = meeting()
    rid = request(conference, "hn_head", "hn")
    rejects(conference, RevokeFloor(rid), "chair", ErrorCode.INVALID_STATE)  # only queued
    conference.execute(GrantFloor(rid), "chair", T0)
    rejects(conference, RevokeFloor(rid), "tech", ErrorCode.FORBIDDEN)
    rejects(conference, RevokeFloor(rid), "hn_head", ErrorCode.FORBIDDEN)
    conference.execute(ReleaseFloor(rid), "hn_head", T0)
    error = rejects(conference, RevokeFloor(rid), "chair", ErrorCode.INVALID_STATE)
    assert "released" in error.message


def test_two_chairs_acting_on_the_same_request_apply_once() -> None:
    conference = meeting()
    rid = request(conference, "hn_head", "hn")
    conference.execute(GrantFloor(rid), "chair", T0)
    conference.execute(RevokeFloor(rid), "chair", T0 + 1)
    rejects(conference, RevokeFloor(rid), "chair2", ErrorCode.INVALID_STATE, T0 + 1)
    revocations = [r for r in conference.floor.requests.values() if r.status.value == "revoked"]
    assert len(revocations) == 1


# The transition table is what the floor enforces ----------------------------------


def test_final_statuses_have_no_way_out() -> None:
    finals = {s for s, targets in TRANSITIONS.items() if not targets}
    assert finals == {
        RequestStatus.DENIED,
        RequestStatus.CANCELLED,
        RequestStatus.RELEASED,
        RequestStatus.REVOKED,
    }
    assert all(not s.is_open for s in finals)
    assert {s for s in RequestStatus if s.is_open} == set(RequestStatus) - finals
