"""Speaking time: deadlines, warning, overtime, automatic revoke, ticks, retiming."""

from __future__ import annotations

from test_rooms_support import T0, meeting, meeting_and_log, rejects, request, types

from rooms import (
    SYSTEM,
    Conference,
    ErrorCode,
    FloorGranted,
    GrantFloor,
    JoinConference,
    LockRoom,
    ReleaseFloor,
    RequestFloor,
    RequestStatus,
    RevokeFloor,
    Role,
    SetMaxHolders,
    SetSpeakingTime,
    SystemReason,
)


def granted(conference: Conference, time_limit: float | None = None, at: float = T0) -> str:
    rid = request(conference, "hn_head", "hn", at)
    conference.execute(GrantFloor(rid, time_limit=time_limit), "chair", at)
    return rid


def timed(**settings: float) -> Conference:
    """Limit 60 s, warning 10 s before the end, 5 s of grace."""
    values = {"default_time_limit": 60.0, "warning_before": 10.0, "grace_period": 5.0}
    return meeting(**{**values, **settings})


def test_grant_carries_absolute_deadlines() -> None:
    conference = timed()
    rid = request(conference, "hn_head", "hn")
    [event] = conference.execute(GrantFloor(rid), "chair", T0 + 100)
    assert isinstance(event, FloorGranted)
    assert (event.warn_at, event.expires_at, event.revoke_at) == (T0 + 150, T0 + 160, T0 + 165)
    turn = conference.floor.requests[rid].turn
    assert turn is not None and turn.granted_at == T0 + 100


def test_warning_then_overtime_then_automatic_revoke() -> None:
    conference = timed()
    rid = granted(conference)
    assert conference.next_deadline() == T0 + 50
    assert conference.tick(T0 + 49.9) == []

    warning = conference.tick(T0 + 50)
    assert types(warning) == ["floor.warning"] and warning[0].actor == SYSTEM
    assert warning[0].expires_at == T0 + 60  # type: ignore[attr-defined]
    conference.apply_all(warning)
    assert conference.tick(T0 + 55) == []  # warned once only
    assert conference.next_deadline() == T0 + 60

    overtime = conference.tick(T0 + 60)
    assert types(overtime) == ["floor.overtime"]
    assert overtime[0].revoke_at == T0 + 65  # type: ignore[attr-defined]
    conference.apply_all(overtime)
    assert conference.floor.requests[rid].turn.overtime  # type: ignore[union-attr]
    assert conference.is_audible("hn_head")  # grace: still heard
    assert conference.next_deadline() == T0 + 65

    revoked = conference.tick(T0 + 65)
    assert types(revoked) == ["floor.revoked"]
    assert revoked[0].actor == SYSTEM and revoked[0].reason == SystemReason.TIME_LIMIT
    conference.apply_all(revoked)
    assert conference.floor.requests[rid].status is RequestStatus.REVOKED
    assert not conference.is_audible("hn_head")
    assert conference.next_deadline() is None and conference.tick(T0 + 1000) == []


def test_a_late_tick_dates_each_event_at_its_deadline() -> None:
    conference = timed()
    granted(conference)
    events = conference.tick(T0 + 500)
    assert types(events) == ["floor.warning", "floor.overtime", "floor.revoked"]
    assert [e.at for e in events] == [T0 + 50, T0 + 60, T0 + 65]


def test_time_events_are_never_dated_before_the_last_event() -> None:
    conference = timed()
    granted(conference)
    conference.execute(LockRoom(), "chair", T0 + 62)  # settles warning and overtime first
    events = conference.tick(T0 + 500)
    assert types(events) == ["floor.revoked"] and events[0].at == T0 + 65
    conference.apply_all(events)
    assert conference.clock == T0 + 65


def test_decide_settles_due_time_events_before_the_command() -> None:
    conference = timed()
    granted(conference)
    join = JoinConference("late", "X", Role.OBSERVER)
    events = conference.decide(join, "late", T0 + 70)
    assert types(events) == ["floor.warning", "floor.overtime", "floor.revoked", "lobby.waiting"]
    assert conference.floor.holders() != []  # decide did not apply


def test_a_release_after_the_automatic_revoke_is_stale() -> None:
    conference = timed()
    rid = granted(conference)
    rejects(conference, ReleaseFloor(rid), "hn_head", ErrorCode.INVALID_STATE, T0 + 66)
    rejects(conference, RevokeFloor(rid), "chair", ErrorCode.INVALID_STATE, T0 + 66)
    conference.execute(ReleaseFloor(rid), "hn_head", T0 + 64)  # within grace: still holds


def test_no_warning_when_disabled_or_when_the_limit_is_too_short() -> None:
    conference = timed(warning_before=0.0)
    granted(conference)
    assert types(conference.tick(T0 + 1000)) == ["floor.overtime", "floor.revoked"]
    conference = timed()
    rid = granted(conference, time_limit=10.0)  # not longer than the 10 s warning lead
    assert conference.floor.requests[rid].turn.warn_at is None  # type: ignore[union-attr]
    assert conference.next_deadline() == T0 + 10


def test_without_grace_overtime_and_revoke_coincide() -> None:
    conference = timed(grace_period=0.0)
    granted(conference)
    events = conference.tick(T0 + 60)
    assert types(events) == ["floor.warning", "floor.overtime", "floor.revoked"]
    assert [e.at for e in events] == [T0 + 50, T0 + 60, T0 + 60]


def test_unlimited_floor_has_no_deadline() -> None:
    conference = meeting(default_time_limit=None)
    granted(conference)
    assert conference.next_deadline() is None and conference.tick(T0 + 86_400) == []


def test_deadlines_of_several_holders_come_in_time_order() -> None:
    conference = timed(warning_before=0.0, grace_period=0.0)
    conference.execute(SetMaxHolders(2), "chair", T0)
    long = request(conference, "hn_head", "hn")
    short = request(conference, "gt_head", "gt")
    conference.execute(GrantFloor(long, time_limit=90.0), "chair", T0)
    conference.execute(GrantFloor(short, time_limit=30.0), "chair", T0)
    assert conference.next_deadline() == T0 + 30
    events = conference.tick(T0 + 100)
    assert [(e.type, e.request_id, e.at) for e in events] == [  # type: ignore[attr-defined]
        ("floor.overtime", short, T0 + 30),
        ("floor.revoked", short, T0 + 30),
        ("floor.overtime", long, T0 + 90),
        ("floor.revoked", long, T0 + 90),
    ]


def test_releasing_stops_the_clock() -> None:
    conference = timed()
    rid = granted(conference)
    conference.execute(ReleaseFloor(rid), "hn_head", T0 + 20)
    assert conference.next_deadline() is None and conference.tick(T0 + 1000) == []


# Changing a holder's speaking time -------------------------------------------------


def test_extending_after_the_warning_warns_again_later() -> None:
    conference = timed()
    rid = granted(conference)
    conference.apply_all(conference.tick(T0 + 50))
    events = conference.execute(SetSpeakingTime(rid, time_limit=120.0), "chair", T0 + 52)
    assert types(events) == ["floor.time_changed"]
    turn = conference.floor.requests[rid].turn
    assert turn is not None and not turn.warned
    assert (turn.warn_at, turn.expires_at, turn.revoke_at) == (T0 + 110, T0 + 120, T0 + 125)
    assert conference.next_deadline() == T0 + 110
    assert types(conference.tick(T0 + 110)) == ["floor.warning"]


def test_extending_during_grace_ends_the_overtime() -> None:
    conference = timed()
    rid = granted(conference)
    conference.apply_all(conference.tick(T0 + 62))
    conference.execute(SetSpeakingTime(rid, time_limit=90.0), "chair", T0 + 63)
    turn = conference.floor.requests[rid].turn
    assert turn is not None and not turn.overtime and not turn.warned
    assert conference.tick(T0 + 66) == []


def test_shortening_below_the_elapsed_time_expires_at_once() -> None:
    conference = timed()
    rid = granted(conference)
    conference.apply_all(conference.tick(T0 + 50))  # warned
    events = conference.execute(SetSpeakingTime(rid, time_limit=30.0), "chair", T0 + 52)
    assert types(events) == ["floor.time_changed", "floor.overtime", "floor.revoked"]
    assert [e.at for e in events] == [T0 + 52] * 3
    assert conference.floor.requests[rid].status is RequestStatus.REVOKED


def test_shortening_into_the_grace_period_starts_the_overtime_at_once() -> None:
    conference = timed(grace_period=30.0)
    rid = granted(conference)
    conference.apply_all(conference.tick(T0 + 50))  # warned
    events = conference.execute(SetSpeakingTime(rid, time_limit=40.0), "chair", T0 + 52)
    assert types(events) == ["floor.time_changed", "floor.overtime"]
    turn = conference.floor.requests[rid].turn
    assert turn is not None and turn.warned  # its new warning time has passed too
    assert conference.next_deadline() == T0 + 70


def test_speaking_time_back_to_default_and_unlimited() -> None:
    conference = timed()
    rid = granted(conference, time_limit=30.0)
    conference.execute(SetSpeakingTime(rid), "chair", T0 + 1)  # the default: 60 s
    assert conference.floor.requests[rid].turn.time_limit == 60.0  # type: ignore[union-attr]
    conference.execute(SetSpeakingTime(rid, unlimited=True), "chair", T0 + 2)
    assert conference.next_deadline() is None


def test_set_speaking_time_rejections() -> None:
    conference = timed()
    rid = request(conference, "hn_head", "hn")
    rejects(conference, SetSpeakingTime(rid, 30.0), "chair", ErrorCode.INVALID_STATE)
    conference.execute(GrantFloor(rid), "chair", T0)
    rejects(conference, SetSpeakingTime(rid, 60.0), "chair", ErrorCode.INVALID_STATE)
    rejects(conference, SetSpeakingTime(rid, 90.0), "hn_head", ErrorCode.FORBIDDEN)
    rejects(conference, SetSpeakingTime("r9", 90.0), "chair", ErrorCode.NOT_FOUND)


def test_a_restarted_process_resumes_the_deadlines() -> None:
    conference, log = meeting_and_log(
        default_time_limit=60.0, warning_before=10.0, grace_period=5.0
    )
    log += conference.execute(RequestFloor("hn"), "hn_head", T0)
    log += conference.execute(GrantFloor("r1"), "chair", T0 + 1)
    log += conference.execute(SetSpeakingTime("r1", 100.0), "chair", T0 + 2)
    due = conference.tick(T0 + 91)
    assert types(due) == ["floor.warning"]
    log += due
    conference.apply_all(due)
    restarted = Conference.replay("c1", log)
    assert restarted == conference
    assert restarted.next_deadline() == conference.next_deadline() == T0 + 101
    assert restarted.tick(T0 + 200) == conference.tick(T0 + 200)
