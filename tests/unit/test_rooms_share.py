"""Who may share a screen: the chair always, a delegation only while it holds the floor."""

from __future__ import annotations

from test_rooms_support import T0, meeting, request

from rooms import (
    CloseConference,
    GrantFloor,
    LeaveConference,
    ReleaseFloor,
    RevokeFloor,
    SetMaxHolders,
    SetOpenFloor,
)
from rooms.share import may_share, may_stop_share, share_refusal

EVERYONE = ["chair", "chair2", "tech", "obs", "hn_head", "hn_del", "gt_head", "cr_head"]


def test_without_a_floor_only_the_chairs_may_share() -> None:
    conference = meeting()
    assert [p for p in EVERYONE if may_share(conference, p)] == ["chair", "chair2"]
    refusal = share_refusal(conference, "hn_head")
    assert refusal is not None and "floor" in refusal


def test_the_holding_delegation_may_share_head_and_delegate() -> None:
    conference = meeting()
    rid = request(conference, "hn_head", "hn")
    conference.execute(GrantFloor(rid, unlimited=True), "chair", T0 + 1)
    sharers = [p for p in EVERYONE if may_share(conference, p)]
    assert sharers == ["chair", "chair2", "hn_head", "hn_del"]


def test_the_right_ends_with_the_floor() -> None:
    conference = meeting(max_holders=2)
    first = request(conference, "hn_head", "hn")
    second = request(conference, "gt_head", "gt")
    conference.execute(GrantFloor(first, unlimited=True), "chair", T0 + 1)
    conference.execute(GrantFloor(second, unlimited=True), "chair", T0 + 1)
    assert may_share(conference, "hn_head") and may_share(conference, "gt_head")
    conference.execute(RevokeFloor(first), "chair", T0 + 2)
    assert not may_share(conference, "hn_head") and may_share(conference, "gt_head")
    conference.execute(ReleaseFloor(second), "gt_head", T0 + 3)
    assert not may_share(conference, "gt_head")


def test_the_automatic_revoke_ends_it_too() -> None:
    conference = meeting(default_time_limit=60.0, warning_before=10.0, grace_period=5.0)
    rid = request(conference, "hn_head", "hn")
    conference.execute(GrantFloor(rid), "chair", T0)
    assert may_share(conference, "hn_del")
    conference.apply_all(conference.tick(T0 + 66))  # warning, overtime, revoke
    assert conference.floor.holders() == []
    assert not may_share(conference, "hn_del")


def test_an_open_floor_is_not_the_floor() -> None:
    conference = meeting()
    conference.execute(SetOpenFloor(True), "chair", T0)
    assert not may_share(conference, "hn_head")


def test_no_one_shares_in_a_closed_conference_or_after_leaving() -> None:
    conference = meeting(max_holders=2)
    rid = request(conference, "hn_head", "hn")
    conference.execute(GrantFloor(rid, unlimited=True), "chair", T0)
    conference.execute(LeaveConference("hn_del"), "hn_del", T0 + 1)
    assert not may_share(conference, "hn_del")
    conference.execute(SetMaxHolders(1), "chair", T0 + 1)
    conference.execute(CloseConference(), "chair", T0 + 2)
    assert not may_share(conference, "chair") and not may_share(conference, "hn_head")


def test_stopping_a_share_is_the_sharers_or_a_chairs() -> None:
    conference = meeting()
    assert may_stop_share(conference, "hn_head", "hn_head")
    assert may_stop_share(conference, "chair2", "hn_head")
    assert not may_stop_share(conference, "hn_del", "hn_head")
    assert not may_stop_share(conference, "tech", "hn_head")
    assert not may_stop_share(conference, "nobody", "hn_head")
