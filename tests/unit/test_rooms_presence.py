"""Presence: seats without a live connection, and a holder's clock that stands still."""

from __future__ import annotations

from test_rooms_support import T0, meeting, meeting_and_log, rejects, request, types

from rooms import (
    SYSTEM,
    Conference,
    ErrorCode,
    FloorResumed,
    GrantFloor,
    LeaveConference,
    Presence,
    RequestFloor,
    SetPresence,
    SetSpeakingTime,
    SystemReason,
    build_minutes,
)


def holding(conference: Conference, log: list) -> str:  # type: ignore[type-arg]
    events = conference.execute(RequestFloor("gt"), "gt_head", T0)
    rid: str = events[0].request_id  # type: ignore[attr-defined]
    log += events
    log += conference.execute(GrantFloor(rid), "chair", T0)
    return rid


def presence(conference: Conference, pid: str, value: Presence, at: float) -> list:  # type: ignore[type-arg]
    return conference.execute(SetPresence(pid, value), SYSTEM, at)


def test_the_snapshot_says_who_is_connected() -> None:
    conference = meeting()
    presence(conference, "gt_head", Presence.RECONNECTING, T0 + 1)
    rows = {p["participant_id"]: p["presence"] for p in conference.snapshot()["participants"]}  # type: ignore[index,union-attr]
    assert rows["gt_head"] == "reconnecting" and rows["hn_head"] == "connected"
    presence(conference, "gt_head", Presence.DISCONNECTED, T0 + 3)
    assert conference.presence("gt_head") is Presence.DISCONNECTED
    presence(conference, "gt_head", Presence.CONNECTED, T0 + 4)
    assert conference.presence("gt_head") is Presence.CONNECTED


def test_only_the_service_says_who_is_connected() -> None:
    conference = meeting()
    for actor in ("chair", "tech", "gt_head"):
        rejects(
            conference, SetPresence("gt_head", Presence.DISCONNECTED), actor, ErrorCode.FORBIDDEN
        )
    rejects(conference, SetPresence("nobody", Presence.DISCONNECTED), SYSTEM, ErrorCode.NOT_FOUND)
    rejects(conference, SetPresence("gt_head", Presence.CONNECTED), SYSTEM, ErrorCode.INVALID_STATE)


def test_a_disconnected_holder_is_not_billed_and_its_deadlines_move() -> None:
    conference, log = meeting_and_log(
        default_time_limit=60.0, warning_before=10.0, grace_period=5.0
    )
    rid = holding(conference, log)
    # Reconnecting (a reload, a blip) does not stop the clock...
    dropped = presence(conference, "gt_head", Presence.RECONNECTING, T0 + 18)
    assert types(dropped) == ["participant.presence"]
    log += dropped
    # ...being judged disconnected does.
    paused = presence(conference, "gt_head", Presence.DISCONNECTED, T0 + 20)
    assert types(paused) == ["participant.presence", "floor.paused"]
    assert paused[1].reason == SystemReason.HOLDER_DISCONNECTED
    log += paused
    # The clock stands still: nothing is due, however long the absence.
    assert conference.next_deadline() is None
    assert conference.tick(T0 + 500) == []
    back = presence(conference, "gt_head", Presence.CONNECTED, T0 + 50)
    assert types(back) == ["participant.presence", "floor.resumed"]
    resumed = back[1]
    assert isinstance(resumed, FloorResumed)
    # 30 s disconnected: every deadline 30 s later.
    assert (resumed.warn_at, resumed.expires_at, resumed.revoke_at) == (T0 + 80, T0 + 90, T0 + 95)
    log += back
    turn = conference.floor.requests[rid].turn
    assert turn is not None and turn.paused_for == 30.0 and turn.spoken(T0 + 60) == 30.0
    assert conference.next_deadline() == T0 + 80
    revoked = conference.tick(T0 + 95)
    assert types(revoked) == ["floor.warning", "floor.overtime", "floor.revoked"]
    log += revoked
    conference.apply_all(revoked)

    [intervention] = build_minutes(log).interventions
    assert intervention.duration == 65.0  # 95 s of floor, 30 of them disconnected
    assert intervention.disconnected == 30.0
    [gt] = [t for t in build_minutes(log).totals if t.delegation_id == "gt"]
    assert gt.speaking_time == 65.0
    assert Conference.replay("c1", log) == conference


def test_a_running_intervention_is_not_billed_while_its_holder_is_away() -> None:
    conference, log = meeting_and_log()
    holding(conference, log)
    log += presence(conference, "gt_head", Presence.DISCONNECTED, T0 + 10)
    [intervention] = build_minutes(log, now=T0 + 100).interventions
    assert intervention.duration == 10.0 and intervention.disconnected_since == T0 + 10


def test_a_grant_to_a_disconnected_delegation_starts_paused() -> None:
    conference = meeting(default_time_limit=60.0)
    presence(conference, "gt_head", Presence.DISCONNECTED, T0)
    rid = request(conference, "chair", "gt", T0 + 1)
    events = conference.execute(GrantFloor(rid), "chair", T0 + 2)
    assert types(events) == ["floor.granted", "floor.paused"]
    assert conference.next_deadline() is None
    back = presence(conference, "gt_head", Presence.CONNECTED, T0 + 12)
    assert back[1].expires_at == T0 + 72  # type: ignore[attr-defined]


def test_the_delegation_holds_on_while_one_of_its_speakers_is_connected() -> None:
    conference = meeting()
    rid = request(conference, "chair", "hn", T0)  # on its behalf: no named speaker
    conference.execute(GrantFloor(rid), "chair", T0)
    assert types(presence(conference, "hn_head", Presence.DISCONNECTED, T0 + 1)) == [
        "participant.presence"
    ]
    assert types(presence(conference, "hn_del", Presence.DISCONNECTED, T0 + 2)) == [
        "participant.presence",
        "floor.paused",
    ]


def test_a_new_limit_while_paused_counts_from_the_grant_without_the_pauses() -> None:
    conference, log = meeting_and_log(default_time_limit=60.0, warning_before=0.0)
    rid = holding(conference, log)
    presence(conference, "gt_head", Presence.DISCONNECTED, T0 + 10)
    presence(conference, "gt_head", Presence.CONNECTED, T0 + 20)  # 10 s paused
    changed = conference.execute(SetSpeakingTime(rid, 120.0), "chair", T0 + 30)
    assert changed[0].expires_at == T0 + 10 + 120  # type: ignore[attr-defined]


def test_leaving_forgets_the_presence() -> None:
    conference = meeting()
    presence(conference, "obs", Presence.DISCONNECTED, T0)
    conference.execute(LeaveConference("obs"), SYSTEM, T0 + 30)
    assert conference.presence("obs") is Presence.CONNECTED
