"""Interpretation: channels, booths, shifts, handover and relay, with their invariants.

A meeting with the floor in es, en, pt; an en booth with two interpreters
(ana, ben) and a pt booth with one (caro), all present.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_rooms_support import T0, meeting_and_log, rejects

from rooms import (
    SYSTEM,
    AcceptHandover,
    AdmitFromLobby,
    AskSlowDown,
    AssignInterpreter,
    CloseChannel,
    CloseConference,
    Command,
    Conference,
    ErrorCode,
    Event,
    GoOffAir,
    GoOnAir,
    HandedOver,
    JoinConference,
    LeaveConference,
    OpenChannel,
    RequestHandover,
    Role,
    RoomError,
    SetInterpretationSource,
    SetLanguages,
    ShiftEnded,
    ShiftStarted,
    SystemReason,
    UnassignInterpreter,
    build_minutes,
)

INTERPRETERS = [
    ("ana", "en", ("en", "es")),
    ("ben", "en", ("en", "es")),
    ("caro", "pt", ("pt", "en")),
]


def booths() -> tuple[Conference, list[Event]]:
    conference, log = meeting_and_log()
    for pid, _, _ in INTERPRETERS:
        log += conference.execute(JoinConference(pid, pid.title(), Role.INTERPRETER), pid, T0)
        log += conference.execute(AdmitFromLobby(pid), "chair", T0)
    log += conference.execute(SetLanguages(("es", "en", "pt")), "chair", T0)
    for language in ("en", "pt"):
        log += conference.execute(OpenChannel(language), "chair", T0)
    for pid, booth, languages in INTERPRETERS:
        log += conference.execute(AssignInterpreter(pid, booth, languages), "chair", T0)
    return conference, log


def test_going_on_air_makes_the_interpreter_the_channel() -> None:
    conference, _ = booths()
    [event] = conference.execute(GoOnAir(), "ana", T0 + 1)
    assert isinstance(event, ShiftStarted) and event.booth == "en"
    assert conference.interpretation.active_interpreters() == {"en": "ana"}
    # ben is passive: he hears ana's channel; ana never hears herself.
    assert conference.interpretation.hears("ben") == (None, "en")
    assert conference.interpretation.hears("ana") == (None, None)


def test_a_second_interpreter_cannot_go_on_air_over_the_first() -> None:
    conference, _ = booths()
    conference.execute(GoOnAir(), "ana", T0)
    rejects(conference, GoOnAir(), "ben", ErrorCode.INVALID_STATE)


def test_handover_passes_the_channel_in_one_event() -> None:
    conference, _ = booths()
    conference.execute(GoOnAir(), "ana", T0)
    conference.execute(RequestHandover(), "ben", T0 + 60)
    assert conference.interpretation.booths["en"].handover_to == "ben"
    [event] = conference.execute(AcceptHandover(), "ana", T0 + 61)
    assert event == HandedOver("en", "ana", "ben", at=T0 + 61, actor="ana")
    assert conference.interpretation.active_in("en") == "ben"
    assert conference.interpretation.booths["en"].handover_to is None
    assert conference.interpretation.hears("ana") == (None, "en")


def test_take_over_after_the_active_went_off_air() -> None:
    conference, _ = booths()
    conference.execute(GoOnAir(), "ana", T0)
    conference.execute(GoOffAir(), "ana", T0 + 5)
    conference.execute(GoOnAir(), "ben", T0 + 6)
    assert conference.interpretation.active_in("en") == "ben"


def test_a_dropped_interpreter_goes_off_air_and_the_partner_takes_over() -> None:
    conference, _ = booths()
    conference.execute(GoOnAir(), "ana", T0)
    reason = SystemReason.INTERPRETER_DROPPED
    [ended] = conference.execute(GoOffAir("ana", reason=reason), SYSTEM, T0 + 3)
    assert isinstance(ended, ShiftEnded) and ended.reason == reason
    conference.execute(GoOnAir(), "ben", T0 + 4)
    assert conference.interpretation.seats["ana"].booth == "en"  # the seat is kept


def test_leaving_ends_the_shift_and_a_pending_request() -> None:
    conference, _ = booths()
    conference.execute(GoOnAir(), "ana", T0)
    conference.execute(RequestHandover(), "ben", T0)
    conference.execute(LeaveConference("ben"), "ben", T0 + 1)
    assert conference.interpretation.booths["en"].handover_to is None
    events = conference.execute(LeaveConference("ana"), "ana", T0 + 2)
    assert isinstance(events[0], ShiftEnded) and events[0].reason == SystemReason.INTERPRETER_LEFT
    assert conference.interpretation.active_in("en") is None


def test_relay_from_another_channel() -> None:
    conference, _ = booths()
    conference.execute(GoOnAir(), "ana", T0)
    conference.execute(SetInterpretationSource("en"), "caro", T0)
    conference.execute(GoOnAir(), "caro", T0)
    assert conference.interpretation.hears("caro") == ("en", None)
    # Closing the pivot channel sends its relay listeners back to the floor.
    events = conference.execute(CloseChannel("en"), "chair", T0 + 1)
    assert [e.type for e in events] == [
        "interpretation.shift_ended",
        "interpretation.source_changed",
        "interpretation.channel_closed",
    ]
    assert conference.interpretation.seats["caro"].source == "floor"
    assert conference.interpretation.active_interpreters() == {"pt": "caro"}


@pytest.mark.parametrize(
    ("command", "actor", "code"),
    [
        (SetInterpretationSource("pt"), "caro", ErrorCode.INVALID_ARGUMENT),  # own booth
        (SetInterpretationSource("pt"), "ana", ErrorCode.INVALID_ARGUMENT),  # not a working one
        (SetInterpretationSource("es"), "ana", ErrorCode.INVALID_STATE),  # no es channel
        (RequestHandover(), "ben", ErrorCode.INVALID_STATE),  # nobody on air
        (AcceptHandover(), "ana", ErrorCode.INVALID_STATE),  # not on air
        (GoOffAir(), "ana", ErrorCode.INVALID_STATE),
        (GoOnAir("caro"), "ana", ErrorCode.FORBIDDEN),  # another booth
        (GoOnAir(), "hn_head", ErrorCode.FORBIDDEN),  # not an interpreter
        (GoOnAir(), "chair", ErrorCode.FORBIDDEN),
        (AskSlowDown(), "obs", ErrorCode.FORBIDDEN),
        (OpenChannel("en"), "chair", ErrorCode.INVALID_STATE),  # already open
        (OpenChannel("fr"), "chair", ErrorCode.INVALID_ARGUMENT),  # not a floor language
        (OpenChannel("en"), "ana", ErrorCode.FORBIDDEN),
        (AssignInterpreter("ana", "pt", ("pt", "en")), "chair", ErrorCode.INVALID_STATE),
        (AssignInterpreter("hn_head", "pt", ("pt",)), "chair", ErrorCode.INVALID_ARGUMENT),
        (AssignInterpreter("zoe", "pt", ("pt",)), "ana", ErrorCode.FORBIDDEN),
        (UnassignInterpreter("zoe"), "chair", ErrorCode.NOT_FOUND),
        (CloseChannel("es"), "chair", ErrorCode.NOT_FOUND),
        (SetLanguages(("es",)), "chair", ErrorCode.INVALID_STATE),  # en, pt are open
    ],
)
def test_bad_input_is_a_typed_error_and_changes_nothing(
    command: Command, actor: str, code: ErrorCode
) -> None:
    conference, _ = booths()
    rejects(conference, command, actor, code)


@pytest.mark.parametrize(
    "build",
    [
        lambda: OpenChannel("xx"),
        lambda: SetLanguages(("en", "en")),
        lambda: SetLanguages(("EN",)),
        lambda: AssignInterpreter("zoe", "en", ("es",)),  # must work into the booth
        lambda: SetInterpretationSource("klingon"),
    ],
)
def test_malformed_languages_never_make_a_command(build: object) -> None:
    with pytest.raises(RoomError) as raised:
        build()  # type: ignore[operator]
    assert raised.value.code is ErrorCode.INVALID_ARGUMENT


def test_a_closed_channel_refuses_its_interpreters() -> None:
    conference, _ = booths()
    conference.execute(CloseChannel("pt"), "chair", T0)
    rejects(conference, GoOnAir(), "caro", ErrorCode.INVALID_STATE)


def test_closing_the_conference_ends_every_shift() -> None:
    conference, _ = booths()
    conference.execute(GoOnAir(), "ana", T0)
    conference.execute(GoOnAir(), "caro", T0)
    events = conference.execute(CloseConference(), "chair", T0 + 9)
    assert sum(isinstance(e, ShiftEnded) for e in events) == 2


def test_shifts_in_the_minutes() -> None:
    conference, log = booths()
    log += conference.execute(GoOnAir(), "ana", T0 + 10)
    log += conference.execute(RequestHandover(), "ben", T0 + 600)
    log += conference.execute(AcceptHandover(), "ana", T0 + 610)
    log += conference.execute(GoOffAir(), "ben", T0 + 1000)
    minutes = build_minutes(log)
    assert [(s.interpreter, s.booth, s.duration, s.ended) for s in minutes.shifts] == [
        ("Ana", "en", 600.0, "handed_over"),
        ("Ben", "en", 390.0, "off_air"),
    ]
    text = minutes.to_markdown()
    assert "## Interpretation shifts" in text and "Ana handed en over to Ben" in text


# Invariants --------------------------------------------------------------------------

ACTORS = ["ana", "ben", "caro", "chair", "hn_head", SYSTEM]
PEOPLE = ["ana", "ben", "caro"]
LANGUAGES = st.sampled_from(["floor", "es", "en", "pt"])


def _commands() -> st.SearchStrategy[Command]:
    who = st.sampled_from([None, *PEOPLE])
    booth = st.sampled_from(["en", "pt"])
    return st.one_of(
        st.builds(GoOnAir, participant_id=who),
        st.builds(GoOffAir, participant_id=who),
        st.builds(RequestHandover, participant_id=who),
        st.builds(AcceptHandover, participant_id=who),
        st.builds(SetInterpretationSource, LANGUAGES, participant_id=who),
        st.builds(OpenChannel, booth),
        st.builds(CloseChannel, booth),
        st.builds(UnassignInterpreter, st.sampled_from(PEOPLE)),
        st.builds(
            AssignInterpreter, st.sampled_from(PEOPLE), st.just("en"), st.just(("en", "es", "pt"))
        ),
        st.builds(LeaveConference, st.sampled_from(PEOPLE)),
    )


STEPS = st.lists(st.tuples(_commands(), st.sampled_from(ACTORS)), max_size=40)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(STEPS)
def test_never_two_active_and_no_gap_nobody_chose(steps: list[tuple[Command, str]]) -> None:
    conference, log = booths()
    now = T0
    for command, actor in steps:
        now += 1
        before = conference.copy()
        active_before = before.interpretation.active_interpreters()
        try:
            events = conference.execute(command, actor, now)
        except RoomError:
            assert conference == before  # refused: nothing changed
            continue
        log += events
        interpretation = conference.interpretation
        # One active at most per booth, each active in its own booth, present and assigned.
        actives = [b.active for b in interpretation.booths.values() if b.active is not None]
        assert len(actives) == len(set(actives))
        for booth in interpretation.booths.values():
            if booth.active is not None:
                assert booth.open
                assert interpretation.seats[booth.active].booth == booth.language
                assert booth.active in conference.participants
        # A booth falls silent only by a ShiftEnded: its interpreter's choice, the chair's,
        # the channel closing, or the interpreter leaving; a handover never does.
        for language, pid in active_before.items():
            if interpretation.active_in(language) is None:
                [ended] = [e for e in events if isinstance(e, ShiftEnded) and e.booth == language]
                assert ended.participant_id == pid
                assert ended.actor in (pid, "chair", SYSTEM) or ended.reason in (
                    SystemReason.CHANNEL_CLOSED,
                    SystemReason.INTERPRETER_LEFT,
                )
        for event in events:
            if isinstance(event, HandedOver):
                assert not any(isinstance(e, ShiftEnded) and e.booth == event.booth for e in events)
    # The log replays to the same state, through JSON.
    replayed = Conference.replay(
        "c1", [Event.from_dict(json.loads(json.dumps(e.to_dict()))) for e in log]
    )
    assert replayed == conference
