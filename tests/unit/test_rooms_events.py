"""Events and commands as JSON: every type round-trips; decoding is strict."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rooms import (
    COMMAND_TYPES,
    EVENT_TYPES,
    SYSTEM,
    AcceptHandover,
    AcceptRequest,
    AddAgendaItem,
    AddDelegation,
    AdmitFromLobby,
    AgendaItemAdded,
    AgendaItemClosed,
    AgendaItemOpened,
    AnswerRollCall,
    AskSlowDown,
    AssignInterpreter,
    Ballot,
    BudgetExtended,
    CancelRequest,
    CastVote,
    ChannelClosed,
    ChannelOpened,
    CloseChannel,
    CloseConference,
    CloseItem,
    CloseRollCall,
    CloseVote,
    Command,
    ConferenceClosed,
    ConferenceCreated,
    ConsensusEnded,
    ConsensusProposed,
    CreateConference,
    DeclareReady,
    DelegatesMayRequestChanged,
    DelegationAdded,
    DenyRequest,
    DesignateVoter,
    DevicesChecked,
    ErrorCode,
    Event,
    FloorAccepted,
    FloorCancelled,
    FloorDenied,
    FloorGranted,
    FloorOvertime,
    FloorPaused,
    FloorReleased,
    FloorReordered,
    FloorRequested,
    FloorResumed,
    FloorRevoked,
    FloorTimeChanged,
    FloorWarning,
    GoOffAir,
    GoOnAir,
    GrantExtraTime,
    GrantFloor,
    HandedOver,
    HandoverRequested,
    InscribeSpeaker,
    InterpreterAssigned,
    InterpreterUnassigned,
    ItemTitle,
    JoinConference,
    LanguagesSet,
    LeaveConference,
    LockRoom,
    MessageSent,
    MuteParticipant,
    ObjectionRaised,
    OpenChannel,
    OpenItem,
    OpenVote,
    ParticipantAdmitted,
    ParticipantJoined,
    ParticipantLeft,
    ParticipantMuted,
    ParticipantPresenceChanged,
    ParticipantRejected,
    ParticipantRemoved,
    ParticipantUnbanned,
    ParticipantUnmuted,
    ParticipantWaiting,
    Presence,
    Priority,
    ProposeConsensus,
    QuorumRule,
    QuorumSet,
    RaiseObjection,
    RecordingStarted,
    RecordingStopped,
    RejectFromLobby,
    ReleaseFloor,
    RemoveParticipant,
    ReorderRequest,
    RequestFloor,
    RequestHandover,
    RevokeFloor,
    Role,
    RollCallAnswered,
    RollCallClosed,
    RollCallStarted,
    RoomError,
    RoomLocked,
    RoomUnlocked,
    SendMessage,
    SetDefaultTimeLimit,
    SetDelegatesMayRequest,
    SetInterpretationSource,
    SetLanguages,
    SetMaxHolders,
    SetOpenFloor,
    SetPresence,
    SetPublicChat,
    SetQuorum,
    SetSpeakingTime,
    Settings,
    SettingsChanged,
    ShiftEnded,
    ShiftStarted,
    SlowDownAsked,
    SourceChanged,
    SpeakerInscribed,
    StartRecording,
    StartRollCall,
    StopRecording,
    SystemReason,
    UnassignInterpreter,
    UnbanParticipant,
    UnlockRoom,
    UnmuteParticipant,
    VoteCast,
    VoteClosed,
    VoteOpened,
    VoterDesignated,
)

AT = {"at": 1_760_000_000.5, "actor": "chair"}
SETTINGS = Settings(default_time_limit=None, max_holders=2, open_floor=True)

EVENTS: list[Event] = [
    ConferenceCreated("Conversatorio", SETTINGS, **AT),
    ConferenceClosed(**AT, reason="agenda exhausted"),
    RoomLocked(**AT),
    RoomUnlocked(**AT),
    RecordingStarted(**AT),
    RecordingStopped(**AT, reason="session suspended"),
    SettingsChanged(SETTINGS, ("max_holders", "open_floor"), **AT),
    DelegationAdded("hn", "Honduras", "HN", **AT),
    DelegatesMayRequestChanged("hn", True, **AT),
    ParticipantJoined("p1", "Ana", Role.HEAD, "hn", **AT),
    ParticipantWaiting("p2", "Obs", Role.OBSERVER, None, **AT),
    ParticipantAdmitted("p2", **AT),
    ParticipantRejected("p2", **AT),
    ParticipantLeft("p1", **AT),
    ParticipantRemoved("p1", **AT, reason="disruptive"),
    ParticipantRemoved("p2", True, **AT),
    ParticipantUnbanned("p2", **AT),
    ParticipantMuted("p1", **AT),
    ParticipantUnmuted("p1", **AT),
    ParticipantPresenceChanged("p1", Presence.RECONNECTING, at=1.0, actor=SYSTEM),
    DevicesChecked("p2", **AT),
    FloorRequested("r1", "hn", Priority.RIGHT_OF_REPLY, "p1", False, **AT),
    FloorRequested("r2", "gt", Priority.ORDINARY, None, True, **AT),
    FloorAccepted("r1", "hn", 3, at=1.0, actor=SYSTEM, reason=SystemReason.AUTO_ACCEPT),
    FloorReordered("r1", "hn", 1, **AT),
    FloorGranted("r1", "hn", 60.0, 110.0, 120.0, 125.0, **AT),
    FloorGranted("r1", "hn", None, None, None, None, **AT),
    FloorTimeChanged("r1", "hn", 90.0, None, 150.0, 155.0, **AT),
    FloorWarning("r1", "hn", 120.0, at=110.0, actor=SYSTEM),
    FloorOvertime("r1", "hn", 125.0, at=120.0, actor=SYSTEM),
    FloorPaused("r1", "hn", at=112.0, actor=SYSTEM, reason=SystemReason.HOLDER_DISCONNECTED),
    FloorResumed("r1", "hn", None, 130.0, 135.0, at=122.0, actor=SYSTEM),
    FloorDenied("r1", "hn", **AT),
    FloorCancelled("r1", "hn", **AT),
    FloorReleased("r1", "hn", **AT),
    FloorRevoked("r1", "hn", at=125.0, actor=SYSTEM, reason=SystemReason.TIME_LIMIT),
    LanguagesSet(("es", "en"), **AT),
    ChannelOpened("en", **AT),
    ChannelClosed("en", **AT),
    InterpreterAssigned("i1", "en", ("en", "es"), **AT),
    InterpreterUnassigned("i1", "en", **AT),
    SourceChanged("i1", "en", "pt", **AT),
    ShiftStarted("i1", "en", **AT),
    ShiftEnded("i1", "en", at=1.0, actor=SYSTEM, reason=SystemReason.INTERPRETER_DROPPED),
    HandoverRequested("i2", "en", **AT),
    HandedOver("en", "i1", "i2", **AT),
    SlowDownAsked("i1", "en", **AT),
    AgendaItemAdded(
        "i1", (ItemTitle("es", "Apertura"), ItemTitle("en", "Opening")), 600.0, None, **AT
    ),
    SpeakerInscribed("i1", "hn", 1, **AT),
    AgendaItemOpened("i1", **AT),
    AgendaItemClosed("i1", **AT),
    BudgetExtended("i1", "hn", 30.0, **AT),
    QuorumSet(QuorumRule(count=2, fraction=None), **AT),
    RollCallStarted("rc1", **AT),
    RollCallAnswered("rc1", "hn", **AT),
    RollCallClosed("rc1", ("hn",), ("gt",), 1, True, **AT),
    ConsensusProposed("d1", "i1", "Se adopta", 160.0, **AT),
    ObjectionRaised("d1", "gt", **AT),
    ConsensusEnded("d1", False, ("gt",), at=160.0, actor=SYSTEM, reason="objection_window_over"),
    VoterDesignated("hn", "p2", **AT),
    VoteOpened("d2", None, "¿Se adopta?", **AT),
    VoteCast("d2", "hn", Ballot.ABSTAIN, **AT),
    VoteClosed("d2", 2, 1, 1, True, **AT),
    MessageSent("m1", "delegation:hn", "Ana", Role.HEAD, "hn", "¿Hay quórum?\nGracias", **AT),
]

COMMANDS: list[Command] = [
    CreateConference("Conversatorio", SETTINGS),
    CloseConference(reason="done"),
    LockRoom(),
    UnlockRoom(),
    StartRecording(),
    StopRecording(reason="break"),
    SetDefaultTimeLimit(None),
    SetDefaultTimeLimit(240.0),
    SetMaxHolders(2),
    SetOpenFloor(True),
    SetPublicChat(True),
    SendMessage("seat:p1", "No le escuchamos: revise su micrófono"),
    AddDelegation("hn", "Honduras", "HN"),
    SetDelegatesMayRequest("hn", True),
    JoinConference("p1", "Ana", Role.HEAD, "hn"),
    JoinConference("p2", "Obs", Role.OBSERVER),
    LeaveConference("p1"),
    SetPresence("p1", Presence.DISCONNECTED),
    DeclareReady(),
    DeclareReady("p1"),
    AdmitFromLobby("p1"),
    RejectFromLobby("p1", reason="unknown"),
    RemoveParticipant("p1"),
    RemoveParticipant("p1", ban=True),
    UnbanParticipant("p1"),
    MuteParticipant("p1"),
    UnmuteParticipant("p1"),
    RequestFloor("hn"),
    RequestFloor("hn", Priority.POINT_OF_ORDER, speaker_id="p1"),
    CancelRequest("r1"),
    AcceptRequest("r1"),
    DenyRequest("r1"),
    ReorderRequest("r1", 2),
    GrantFloor("r1"),
    GrantFloor("r1", time_limit=45.0),
    GrantFloor("r1", unlimited=True),
    SetSpeakingTime("r1", 30.0),
    RevokeFloor("r1"),
    ReleaseFloor("r1"),
    SetLanguages(("es", "en", "pt")),
    OpenChannel("en"),
    CloseChannel("en"),
    AssignInterpreter("i1", "en", ("en", "es")),
    UnassignInterpreter("i1"),
    SetInterpretationSource("floor"),
    SetInterpretationSource("pt", "i1"),
    GoOnAir(),
    GoOffAir("i1"),
    RequestHandover(),
    AcceptHandover(),
    AskSlowDown(),
    AddAgendaItem("i1", (ItemTitle("es", "Apertura"),), planned_duration=600.0, budget=300.0),
    InscribeSpeaker("i1", "hn"),
    OpenItem("i1"),
    CloseItem("i1", force=True),
    GrantExtraTime("hn", 60.0),
    SetQuorum(fraction=0.5),
    StartRollCall(),
    AnswerRollCall("hn"),
    CloseRollCall(),
    ProposeConsensus("Se adopta", 30.0),
    RaiseObjection("d1"),
    DesignateVoter("hn", None),
    OpenVote("¿Se adopta?"),
    CastVote("d2", Ballot.NO, "hn"),
    CloseVote("d2"),
]


def through_json(value: dict[str, Any]) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(json.dumps(value, allow_nan=False))
    return decoded


def test_samples_cover_every_type() -> None:
    assert {type(e) for e in EVENTS} == set(EVENT_TYPES.values())
    assert {type(c) for c in COMMANDS} == set(COMMAND_TYPES.values())


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.type)
def test_event_round_trip(event: Event) -> None:
    encoded = through_json(event.to_dict())
    assert encoded["type"] == event.type
    decoded = Event.from_dict(encoded)
    assert decoded == event and type(decoded) is type(event)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.kind)
def test_command_round_trip(command: Command) -> None:
    encoded = through_json(command.to_dict())
    assert encoded["kind"] == command.kind
    assert Command.from_dict(encoded) == command


def test_event_dict_is_flat_and_readable() -> None:
    event = FloorGranted("r1", "hn", 60.0, 110.0, 120.0, 125.0, at=50.0, actor="chair")
    assert event.to_dict() == {
        "type": "floor.granted",
        "request_id": "r1",
        "delegation_id": "hn",
        "time_limit": 60.0,
        "warn_at": 110.0,
        "expires_at": 120.0,
        "revoke_at": 125.0,
        "at": 50.0,
        "actor": "chair",
        "reason": None,
    }


def test_optional_fields_may_be_omitted_and_ints_stand_for_floats() -> None:
    command = Command.from_dict({"kind": "floor.grant", "request_id": "r1", "time_limit": 45})
    assert command == GrantFloor("r1", time_limit=45.0)
    event = Event.from_dict({"type": "conference.locked", "at": 7, "actor": "chair"})
    assert event == RoomLocked(at=7.0, actor="chair") and isinstance(event.at, float)


@pytest.mark.parametrize(
    "raw",
    [
        {"type": "floor.exploded", "at": 1.0, "actor": "x"},
        {"at": 1.0, "actor": "x"},
        {"type": "conference.locked", "actor": "x"},  # missing at
        {"type": "conference.locked", "at": 1.0, "actor": "x", "extra": 1},
        {"type": "conference.locked", "at": "noon", "actor": "x"},
        {"type": "conference.locked", "at": True, "actor": "x"},
        {"type": "conference.locked", "at": 1.0, "actor": 7},
        {"type": "floor.accepted", "request_id": "r1", "delegation_id": "hn", "position": 1.5,
         "at": 1.0, "actor": "x"},
        {"type": "floor.accepted", "request_id": "r1", "delegation_id": "hn", "position": True,
         "at": 1.0, "actor": "x"},
        {"type": "participant.joined", "participant_id": "p", "name": "P", "role": "king",
         "delegation_id": None, "at": 1.0, "actor": "p"},
        {"type": "conference.settings_changed", "settings": {}, "changed": "max_holders",
         "at": 1.0, "actor": "x"},
        {"type": "conference.settings_changed", "settings": [], "changed": [],
         "at": 1.0, "actor": "x"},
        {"type": "participant.left", "participant_id": None, "at": 1.0, "actor": "x"},
    ],
)  # fmt: skip
def test_malformed_events_are_rejected(raw: dict[str, Any]) -> None:
    with pytest.raises(RoomError) as caught:
        Event.from_dict(raw)
    assert caught.value.code is ErrorCode.INVALID_ARGUMENT


@pytest.mark.parametrize(
    "raw",
    [
        {"kind": "floor.grant", "request_id": "r1", "time_limit": -5},
        {"kind": "floor.grant", "request_id": "r1", "time_limit": 5, "unlimited": True},
        {"kind": "floor.reorder", "request_id": "r1", "position": 0},
        {"kind": "floor.request", "delegation_id": "hn", "priority": "urgent"},
        {"kind": "participant.join", "participant_id": "p", "name": "P", "role": "head"},
        {"kind": "conference.create", "title": "T", "settings": {"max_holders": 0}},
        {"kind": "delegation.add", "delegation_id": "hn", "name": "H", "country_code": "hn"},
        {"kind": "floor.seize", "request_id": "r1"},
        "not an object",
    ],
)
def test_malformed_commands_are_rejected(raw: Any) -> None:
    with pytest.raises(RoomError) as caught:
        Command.from_dict(raw)
    assert caught.value.code is ErrorCode.INVALID_ARGUMENT


def test_error_as_dict() -> None:
    error = RoomError(ErrorCode.ROOM_LOCKED, "the room is locked")
    assert error.to_dict() == {"code": "room_locked", "message": "the room is locked"}
    assert str(error) == "room_locked: the room is locked"


def test_settings_round_trip() -> None:
    assert Settings.from_dict(through_json(SETTINGS.to_dict())) == SETTINGS
    assert Settings.from_dict({}) == Settings()
