"""Conference membership, lobby, lock, settings, mute, removal, closing, audibility."""

from __future__ import annotations

import json
import math

import pytest
from test_rooms_support import T0, meeting, meeting_and_log, rejects, request, types

from rooms import (
    SYSTEM,
    AddDelegation,
    AdmitFromLobby,
    CloseConference,
    Conference,
    CreateConference,
    ErrorCode,
    Event,
    GrantFloor,
    JoinConference,
    LeaveConference,
    LockRoom,
    MuteParticipant,
    ParticipantJoined,
    RejectFromLobby,
    RemoveParticipant,
    RequestFloor,
    RequestStatus,
    Role,
    RoomError,
    SetDefaultTimeLimit,
    SetMaxHolders,
    SetOpenFloor,
    Settings,
    StartRecording,
    StopRecording,
    SystemReason,
    UnbanParticipant,
    UnlockRoom,
    UnmuteParticipant,
)

# Creation ----------------------------------------------------------------------


def test_create_by_the_system_records_title_and_settings() -> None:
    conference = Conference("c1")
    settings = Settings(default_time_limit=120.0, max_holders=2)
    events = conference.execute(CreateConference("Conversatorio", settings), SYSTEM, T0)
    assert types(events) == ["conference.created"]
    assert conference.created and conference.title == "Conversatorio"
    assert conference.settings == settings
    assert conference.clock == T0


def test_create_twice_is_rejected() -> None:
    rejects(meeting(), CreateConference("Again"), SYSTEM, ErrorCode.ALREADY_EXISTS)


def test_only_the_system_creates() -> None:
    rejects(Conference("c1"), CreateConference("Mine"), "chair", ErrorCode.FORBIDDEN)
    rejects(meeting(), CreateConference("Mine"), "chair", ErrorCode.FORBIDDEN)


def test_commands_before_creation_are_rejected() -> None:
    join = JoinConference("chair", "P", Role.CHAIR)
    rejects(Conference("c1"), join, "chair", ErrorCode.INVALID_STATE)


@pytest.mark.parametrize(
    "build",
    [
        lambda: CreateConference("  "),
        lambda: Settings(default_time_limit=0),
        lambda: Settings(default_time_limit=math.inf),
        lambda: Settings(warning_before=-1),
        lambda: Settings(grace_period=math.nan),
        lambda: Settings(max_holders=0),
        lambda: AddDelegation("hn", "Honduras", "hn"),
        lambda: AddDelegation("hn", "Honduras", "HOND"),
        lambda: AddDelegation("", "Honduras", "HN"),
        lambda: AddDelegation(" hn", "Honduras", "HN"),
        lambda: JoinConference("p", "", Role.OBSERVER),
        lambda: JoinConference("p", "P", Role.HEAD),  # a head needs a delegation
        lambda: JoinConference("p", "P", Role.OBSERVER, reason="x" * 501),
    ],
)
def test_malformed_values_are_rejected_on_construction(build: object) -> None:
    with pytest.raises(RoomError) as caught:
        build()  # type: ignore[operator]
    assert caught.value.code is ErrorCode.INVALID_ARGUMENT


def test_now_must_be_finite() -> None:
    conference = meeting()
    with pytest.raises(RoomError) as caught:
        conference.decide(LockRoom(), "chair", math.nan)
    assert caught.value.code is ErrorCode.INVALID_ARGUMENT
    with pytest.raises(RoomError):
        conference.tick(math.inf)


# Delegations -------------------------------------------------------------------


def test_add_delegation() -> None:
    conference = meeting()
    events = conference.execute(AddDelegation("mx", "México", "MX"), "chair", T0)
    assert types(events) == ["delegation.added"]
    assert conference.delegations["mx"].name == "México"
    assert not conference.delegations["mx"].delegates_may_request


def test_add_delegation_rejects_duplicates() -> None:
    conference = meeting()
    rejects(conference, AddDelegation("hn", "Otra", "MX"), "chair", ErrorCode.ALREADY_EXISTS)
    rejects(conference, AddDelegation("mx", "Otra", "HN"), "chair", ErrorCode.ALREADY_EXISTS)


def test_members_lists_the_delegation_in_the_room() -> None:
    conference = meeting()
    assert [p.participant_id for p in conference.members("hn")] == ["hn_head", "hn_del"]
    assert conference.members("unknown") == []


# Joining and the lobby ---------------------------------------------------------


def test_join_without_lobby_enters_the_room() -> None:
    conference = meeting(lobby_enabled=False)
    join = JoinConference("mx_head", "Canciller de México", Role.HEAD, "hn")
    events = conference.execute(join, "mx_head", T0 + 1)
    assert types(events) == ["participant.joined"]
    assert conference.participants["mx_head"].since == T0 + 1


def test_join_with_lobby_waits_then_admitted() -> None:
    conference = meeting()
    join = JoinConference("late", "Delegada", Role.DELEGATE, "gt")
    assert types(conference.execute(join, "late", T0 + 1)) == ["lobby.waiting"]
    assert "late" in conference.lobby and "late" not in conference.participants
    assert [p.participant_id for p in conference.lobby] == ["late"]
    events = conference.execute(AdmitFromLobby("late"), "chair", T0 + 5)
    assert types(events) == ["lobby.admitted"]
    assert "late" not in conference.lobby
    assert conference.participants["late"].since == T0 + 5


def test_reject_from_lobby() -> None:
    conference = meeting()
    conference.execute(JoinConference("late", "X", Role.OBSERVER), "late", T0)
    events = conference.execute(RejectFromLobby("late", reason="not accredited"), "chair", T0)
    assert types(events) == ["lobby.rejected"]
    assert events[0].reason == "not accredited"
    assert "late" not in conference.lobby and "late" not in conference.participants


@pytest.mark.parametrize("role", [Role.CHAIR, Role.TECHNICIAN])
def test_staff_skip_the_lobby_and_the_lock(role: Role) -> None:
    conference = meeting()
    conference.execute(LockRoom(), "chair", T0)
    events = conference.execute(JoinConference("staff", "S", role), "staff", T0)
    assert types(events) == ["participant.joined"]


@pytest.mark.parametrize("role", [Role.HEAD, Role.DELEGATE, Role.OBSERVER, Role.INTERPRETER])
def test_locked_room_turns_non_staff_away(role: Role) -> None:
    conference = meeting()
    conference.execute(LockRoom(), "chair", T0)
    join = JoinConference("new", "N", role, "gt")
    rejects(conference, join, "new", ErrorCode.ROOM_LOCKED)


def test_chair_may_admit_while_locked() -> None:
    conference = meeting()
    conference.execute(JoinConference("late", "X", Role.OBSERVER), "late", T0)
    conference.execute(LockRoom(), "chair", T0)
    conference.execute(AdmitFromLobby("late"), "chair", T0)
    assert "late" in conference.participants


def test_join_only_for_oneself_unless_system() -> None:
    conference = meeting()
    join = JoinConference("new", "N", Role.OBSERVER)
    rejects(conference, join, "chair", ErrorCode.FORBIDDEN)
    conference.execute(join, SYSTEM, T0)
    assert "new" in conference.lobby


def test_join_rejections() -> None:
    conference = meeting()
    rejects(
        conference,
        JoinConference("hn_head", "X", Role.OBSERVER),
        "hn_head",
        ErrorCode.ALREADY_EXISTS,
    )
    conference.execute(JoinConference("late", "X", Role.OBSERVER), "late", T0)
    rejects(
        conference, JoinConference("late", "X", Role.OBSERVER), "late", ErrorCode.ALREADY_EXISTS
    )
    rejects(conference, JoinConference("p", "X", Role.HEAD, "mx"), "p", ErrorCode.NOT_FOUND)
    rejects(conference, JoinConference(SYSTEM, "X", Role.CHAIR), SYSTEM, ErrorCode.INVALID_ARGUMENT)


def test_lobby_decisions_rejections() -> None:
    conference = meeting()
    rejects(conference, AdmitFromLobby("ghost"), "chair", ErrorCode.NOT_FOUND)
    rejects(conference, AdmitFromLobby("hn_head"), "chair", ErrorCode.INVALID_STATE)
    rejects(conference, RejectFromLobby("ghost"), "chair", ErrorCode.NOT_FOUND)
    conference.execute(JoinConference("late", "X", Role.OBSERVER), "late", T0)
    rejects(conference, AdmitFromLobby("late"), "hn_head", ErrorCode.FORBIDDEN)
    rejects(conference, AdmitFromLobby("late"), "tech", ErrorCode.FORBIDDEN)


def test_someone_in_the_lobby_may_only_leave() -> None:
    conference = meeting()
    conference.execute(JoinConference("late", "X", Role.HEAD, "gt"), "late", T0)
    error = rejects(conference, RequestFloor("gt"), "late", ErrorCode.FORBIDDEN)
    assert "lobby" in error.message
    assert types(conference.execute(LeaveConference("late"), "late", T0)) == ["participant.left"]
    assert "late" not in conference.lobby


def test_unknown_actor_is_forbidden() -> None:
    rejects(meeting(), LockRoom(), "nobody", ErrorCode.FORBIDDEN)


# Leaving and removal -----------------------------------------------------------


def test_leave() -> None:
    conference = meeting()
    events = conference.execute(LeaveConference("obs"), "obs", T0)
    assert types(events) == ["participant.left"]
    assert "obs" not in conference.participants


def test_leave_rejections() -> None:
    conference = meeting()
    rejects(conference, LeaveConference("obs"), "chair", ErrorCode.FORBIDDEN)
    rejects(conference, LeaveConference("ghost"), "ghost", ErrorCode.NOT_FOUND)
    conference.execute(LeaveConference("obs"), SYSTEM, T0)  # the service, on disconnect


def test_last_speaker_leaving_withdraws_the_delegation_request() -> None:
    conference = meeting()
    rid = request(conference, "gt_head", "gt")
    events = conference.execute(LeaveConference("gt_head"), "gt_head", T0 + 1)
    assert types(events) == ["participant.left", "floor.cancelled"]
    assert events[1].actor == SYSTEM and events[1].reason == SystemReason.DELEGATION_ABSENT
    assert conference.floor.requests[rid].status is RequestStatus.CANCELLED
    assert conference.floor.queue() == []


def test_last_speaker_leaving_ends_the_floor() -> None:
    conference = meeting()
    rid = request(conference, "gt_head", "gt")
    conference.execute(GrantFloor(rid), "chair", T0)
    events = conference.execute(RemoveParticipant("gt_head"), "chair", T0 + 1)
    assert types(events) == ["participant.removed", "floor.revoked"]
    assert events[1].reason == SystemReason.DELEGATION_ABSENT
    assert conference.floor.holders() == []


def test_request_survives_while_a_speaker_of_the_delegation_remains() -> None:
    conference = meeting()
    rid = request(conference, "hn_head", "hn")
    assert types(conference.execute(LeaveConference("hn_head"), "hn_head", T0)) == [
        "participant.left"
    ]
    assert conference.floor.requests[rid].status is RequestStatus.ACCEPTED


def test_observer_leaving_touches_no_request() -> None:
    conference = meeting()
    conference.execute(JoinConference("gt_obs", "X", Role.OBSERVER, "gt"), SYSTEM, T0)
    conference.execute(AdmitFromLobby("gt_obs"), "chair", T0)
    request(conference, "gt_head", "gt")
    conference.execute(LeaveConference("gt_head"), "gt_head", T0)  # ends gt's request
    assert types(conference.execute(LeaveConference("gt_obs"), "gt_obs", T0)) == [
        "participant.left"
    ]


def test_remove_by_chair_and_technician() -> None:
    conference = meeting()
    assert types(conference.execute(RemoveParticipant("obs"), "tech", T0)) == [
        "participant.removed"
    ]
    conference.execute(RemoveParticipant("chair2", reason="duplicate"), "chair", T0)
    assert "chair2" not in conference.participants


def test_remove_from_the_lobby() -> None:
    conference = meeting()
    conference.execute(JoinConference("late", "X", Role.OBSERVER), "late", T0)
    conference.execute(RemoveParticipant("late"), "chair", T0)
    assert "late" not in conference.lobby


def test_a_banned_seat_cannot_join_again_until_the_chair_lifts_the_ban() -> None:
    conference = meeting()
    events = conference.execute(RemoveParticipant("obs", ban=True), "chair", T0)
    assert [e.to_dict()["banned"] for e in events] == [True]
    assert conference.banned == {"obs"} and conference.snapshot()["banned"] == ["obs"]
    rejoin = JoinConference("obs", "X", Role.OBSERVER)
    rejects(conference, rejoin, "obs", ErrorCode.FORBIDDEN)
    rejects(conference, UnbanParticipant("obs"), "tech", ErrorCode.FORBIDDEN)
    conference.execute(UnbanParticipant("obs"), "chair", T0 + 1)
    rejects(conference, UnbanParticipant("obs"), "chair", ErrorCode.NOT_FOUND)
    assert types(conference.execute(rejoin, "obs", T0 + 2)) == ["lobby.waiting"]


def test_a_plain_removal_is_not_a_ban() -> None:
    conference = meeting()
    conference.execute(RemoveParticipant("obs"), "chair", T0)
    assert conference.banned == frozenset()
    conference.execute(JoinConference("obs", "X", Role.OBSERVER), "obs", T0 + 1)


def test_bans_are_replayed_from_the_log() -> None:
    conference, log = meeting_and_log()
    log += conference.execute(RemoveParticipant("obs", ban=True), "chair", T0)
    log += conference.execute(RemoveParticipant("gt_head", ban=True), "chair", T0)
    log += conference.execute(UnbanParticipant("gt_head"), "chair", T0)
    replayed = Conference.replay("c1", [Event.from_dict(e.to_dict()) for e in log])
    assert replayed == conference and replayed.banned == {"obs"}


def test_remove_rejections() -> None:
    conference = meeting()
    rejects(conference, RemoveParticipant("chair"), "tech", ErrorCode.FORBIDDEN)
    rejects(conference, RemoveParticipant("obs"), "hn_head", ErrorCode.FORBIDDEN)
    rejects(conference, RemoveParticipant("ghost"), "chair", ErrorCode.NOT_FOUND)


# Mute ----------------------------------------------------------------------------


def test_mute_silences_even_the_floor_holder() -> None:
    conference = meeting()
    conference.execute(GrantFloor(request(conference, "gt_head", "gt")), "chair", T0)
    assert conference.is_audible("gt_head")
    assert types(conference.execute(MuteParticipant("gt_head"), "chair", T0)) == [
        "participant.muted"
    ]
    assert not conference.is_audible("gt_head")
    assert types(conference.execute(UnmuteParticipant("gt_head"), "tech", T0)) == [
        "participant.unmuted"
    ]
    assert conference.is_audible("gt_head")


def test_mute_rejections() -> None:
    conference = meeting()
    rejects(conference, UnmuteParticipant("gt_head"), "chair", ErrorCode.INVALID_STATE)
    conference.execute(MuteParticipant("gt_head"), "chair", T0)
    rejects(conference, MuteParticipant("gt_head"), "chair2", ErrorCode.INVALID_STATE)
    rejects(conference, MuteParticipant("chair"), "tech", ErrorCode.FORBIDDEN)
    rejects(conference, UnmuteParticipant("gt_head"), "gt_head", ErrorCode.FORBIDDEN)
    rejects(conference, MuteParticipant("ghost"), "chair", ErrorCode.NOT_FOUND)


def test_chair_may_mute_a_chair() -> None:
    conference = meeting()
    conference.execute(MuteParticipant("chair2"), "chair", T0)
    assert not conference.is_audible("chair2")


def test_mute_outlives_leaving_and_rejoining() -> None:
    conference = meeting(lobby_enabled=False)
    conference.execute(MuteParticipant("gt_head"), "chair", T0)
    conference.execute(LeaveConference("gt_head"), "gt_head", T0)
    conference.execute(JoinConference("gt_head", "X", Role.HEAD, "gt"), "gt_head", T0)
    assert "gt_head" in conference.muted
    assert conference.snapshot()["participants"][-1]["muted"] is True  # type: ignore[index]


# Lock, recording and settings ----------------------------------------------------


def test_recording_is_switched_by_the_chair_and_shown_to_all() -> None:
    conference = meeting()
    rejects(conference, StartRecording(), "tech", ErrorCode.FORBIDDEN)
    assert types(conference.execute(StartRecording(), "chair", T0)) == ["recording.started"]
    assert conference.recording and conference.snapshot()["recording"] is True
    rejects(conference, StartRecording(), "chair2", ErrorCode.INVALID_STATE)
    assert types(conference.execute(StopRecording(), "chair", T0)) == ["recording.stopped"]
    assert not conference.recording
    rejects(conference, StopRecording(), "chair", ErrorCode.INVALID_STATE)


def test_lock_and_unlock() -> None:
    conference = meeting()
    assert types(conference.execute(LockRoom(), "chair", T0)) == ["conference.locked"]
    assert conference.locked
    rejects(conference, LockRoom(), "chair2", ErrorCode.INVALID_STATE)
    assert types(conference.execute(UnlockRoom(), "chair2", T0)) == ["conference.unlocked"]
    assert not conference.locked
    rejects(conference, UnlockRoom(), "chair", ErrorCode.INVALID_STATE)
    rejects(conference, LockRoom(), "tech", ErrorCode.FORBIDDEN)


def test_set_default_time_limit() -> None:
    conference = meeting()
    events = conference.execute(SetDefaultTimeLimit(300.0), "chair", T0)
    assert types(events) == ["conference.settings_changed"]
    assert events[0].changed == ("default_time_limit",)  # type: ignore[attr-defined]
    assert conference.settings.default_time_limit == 300.0
    conference.execute(SetDefaultTimeLimit(None), "chair", T0)
    assert conference.settings.default_time_limit is None
    rejects(conference, SetDefaultTimeLimit(None), "chair", ErrorCode.INVALID_STATE)
    with pytest.raises(RoomError):
        SetDefaultTimeLimit(-5.0)


def test_set_max_holders() -> None:
    conference = meeting()
    conference.execute(SetMaxHolders(2), "chair", T0)
    conference.execute(GrantFloor(request(conference, "gt_head", "gt")), "chair", T0)
    conference.execute(GrantFloor(request(conference, "cr_head", "cr")), "chair", T0)
    rejects(conference, SetMaxHolders(1), "chair", ErrorCode.INVALID_STATE)
    rejects(conference, SetMaxHolders(2), "chair", ErrorCode.INVALID_STATE)
    with pytest.raises(RoomError):
        SetMaxHolders(0)


def test_open_floor_makes_every_head_and_delegate_audible() -> None:
    conference = meeting()
    assert conference.audible_participants() == {"chair", "chair2"}
    conference.execute(SetOpenFloor(True), "chair", T0)
    assert conference.audible_participants() == {
        "chair",
        "chair2",
        "hn_head",
        "hn_del",
        "gt_head",
        "cr_head",
    }
    rejects(conference, SetOpenFloor(True), "chair", ErrorCode.INVALID_STATE)
    conference.execute(SetOpenFloor(False), "chair", T0)
    assert conference.audible_participants() == {"chair", "chair2"}


def test_holding_delegation_is_heard_and_no_one_else() -> None:
    conference = meeting()
    conference.execute(GrantFloor(request(conference, "hn_head", "hn")), "chair", T0)
    assert conference.audible_participants() == {"chair", "chair2", "hn_head", "hn_del"}
    for silent in ("gt_head", "cr_head", "obs", "tech", "ghost"):
        assert not conference.is_audible(silent)


# Closing -------------------------------------------------------------------------


def test_close_ends_every_floor_and_request() -> None:
    conference = meeting(auto_accept=False)
    held = request(conference, "hn_head", "hn")
    conference.execute(GrantFloor(held), "chair", T0)
    pending = request(conference, "gt_head", "gt")
    events = conference.execute(CloseConference(reason="agenda exhausted"), "chair", T0 + 60)
    assert types(events) == ["floor.revoked", "floor.cancelled", "conference.closed"]
    assert [e.reason for e in events] == [
        SystemReason.CONFERENCE_CLOSED,
        SystemReason.CONFERENCE_CLOSED,
        "agenda exhausted",
    ]
    assert conference.floor.requests[held].status is RequestStatus.REVOKED
    assert conference.floor.requests[pending].status is RequestStatus.CANCELLED
    assert conference.closed and conference.audible_participants() == frozenset()
    assert conference.next_deadline() is None and conference.tick(T0 + 10_000) == []


def test_nothing_is_accepted_after_closing() -> None:
    conference = meeting()
    conference.execute(CloseConference(), SYSTEM, T0)
    rejects(conference, LockRoom(), "chair", ErrorCode.INVALID_STATE)
    rejects(conference, LeaveConference("obs"), "obs", ErrorCode.INVALID_STATE)
    rejects(conference, CloseConference(), "chair", ErrorCode.INVALID_STATE)
    rejects(conference, CloseConference(), "hn_head", ErrorCode.INVALID_STATE)


def test_close_is_for_the_chair() -> None:
    rejects(meeting(), CloseConference(), "tech", ErrorCode.FORBIDDEN)


# Deciding, applying, replaying ---------------------------------------------------


def test_decide_does_not_mutate_and_execute_applies() -> None:
    conference = meeting()
    before = conference.copy()
    events = conference.decide(LockRoom(), "chair", T0 + 1)
    assert conference == before and not conference.locked
    conference.apply_all(events)
    assert conference.locked and conference != before


def test_time_never_runs_backwards() -> None:
    conference = meeting()
    conference.execute(LockRoom(), "chair", T0 + 100)
    events = conference.execute(UnlockRoom(), "chair", T0 + 50)
    assert events[0].at == T0 + 100 and conference.clock == T0 + 100


def test_replay_rebuilds_the_same_state() -> None:
    conference = Conference("c1")
    log = conference.execute(CreateConference("C", Settings(lobby_enabled=False)), SYSTEM, T0)
    log += conference.execute(AddDelegation("hn", "Honduras", "HN"), SYSTEM, T0)
    log += conference.execute(JoinConference("a", "A", Role.HEAD, "hn"), "a", T0)
    log += conference.execute(JoinConference("ch", "Ch", Role.CHAIR), "ch", T0)
    log += conference.execute(RequestFloor("hn"), "a", T0 + 1)
    log += conference.execute(GrantFloor("r1"), "ch", T0 + 2)
    log += conference.execute(MuteParticipant("a"), "ch", T0 + 3)
    replayed = Conference.replay("c1", log)
    assert replayed == conference
    assert replayed.snapshot() == conference.snapshot()
    assert replayed.next_deadline() == conference.next_deadline()


def test_apply_rejects_a_foreign_object() -> None:
    with pytest.raises(TypeError):
        meeting().apply(object())  # type: ignore[arg-type]


def test_equality_is_with_conferences_only() -> None:
    assert meeting() != "a conference"
    assert meeting() == meeting()


# Snapshot ------------------------------------------------------------------------


def test_snapshot_is_json_and_complete() -> None:
    conference = meeting(default_time_limit=60.0, warning_before=10.0, grace_period=5.0)
    conference.execute(JoinConference("late", "X", Role.OBSERVER), "late", T0)
    conference.execute(SetDefaultTimeLimit(60.5), "chair", T0)
    first = request(conference, "hn_head", "hn")
    second = request(conference, "gt_head", "gt")
    conference.execute(GrantFloor(first, time_limit=60.0), "chair", T0 + 1)
    third = request(conference, "cr_head", "cr")
    snapshot = json.loads(json.dumps(conference.snapshot(), allow_nan=False))
    assert snapshot["title"] == "Conversatorio" and snapshot["locked"] is False
    assert [d["delegation_id"] for d in snapshot["delegations"]] == ["hn", "gt", "cr"]
    assert snapshot["delegations"][0]["members"] == ["hn_head", "hn_del"]
    assert [d["holds_floor"] for d in snapshot["delegations"]] == [True, False, False]
    assert [p["participant_id"] for p in snapshot["lobby"]] == ["late"]
    assert [(q["request_id"], q["position"]) for q in snapshot["queue"]] == [
        (second, 1),
        (third, 2),
    ]
    [holder] = snapshot["holders"]
    assert holder["request_id"] == first and holder["status"] == "granted"
    assert holder["turn"]["expires_at"] == T0 + 61 and holder["turn"]["revoke_at"] == T0 + 66
    assert snapshot["next_deadline"] == T0 + 51
    audible = {p["participant_id"] for p in snapshot["participants"] if p["audible"]}
    assert audible == {"chair", "chair2", "hn_head", "hn_del"}
    assert snapshot["settings"]["default_time_limit"] == 60.5


def test_joined_event_carries_the_token_claims() -> None:
    conference = meeting(lobby_enabled=False)
    [event] = conference.execute(JoinConference("x", "X", Role.HEAD, "gt"), "x", T0)
    assert isinstance(event, ParticipantJoined)
    assert (event.participant_id, event.role, event.delegation_id) == ("x", Role.HEAD, "gt")
