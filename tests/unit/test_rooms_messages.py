"""Private messages in the pure core: who may write and read each thread, checks, replay."""

from __future__ import annotations

import json

import pytest
from test_rooms_support import T0, meeting, meeting_and_log, rejects

from rooms import (
    EVERYONE,
    SYSTEM,
    AddDelegation,
    AdmitFromLobby,
    Conference,
    ErrorCode,
    Event,
    JoinConference,
    LeaveConference,
    MessageSent,
    Role,
    RoomError,
    SendMessage,
    SetPublicChat,
    build_minutes,
    delegation_thread,
    may_read,
    seat_thread,
)
from rooms import messages as rules
from rooms.commands import MAX_MESSAGE_TEXT

EVERY_SEAT = ["chair", "chair2", "tech", "obs", "hn_head", "hn_del", "gt_head", "cr_head", "interp"]


def room(**settings: object) -> Conference:
    """The shared meeting, plus an interpreter in the room."""
    conference = meeting(**settings)
    conference.execute(JoinConference("interp", "Intérprete", Role.INTERPRETER), "interp", T0)
    conference.execute(AdmitFromLobby("interp"), "chair", T0)
    return conference


# Thread -> who may write to it (and read it) in `room()`; everyone else may not.
WRITERS = {
    delegation_thread("hn"): {"chair", "chair2", "hn_head", "hn_del"},
    delegation_thread("gt"): {"chair", "chair2", "gt_head"},
    seat_thread("hn_head"): {"tech", "hn_head"},
    seat_thread("chair"): {"tech", "chair"},
    seat_thread("interp"): {"tech", "interp"},
    seat_thread("obs"): {"tech", "obs"},
}


@pytest.mark.parametrize("thread", sorted(WRITERS))
@pytest.mark.parametrize("actor", EVERY_SEAT)
def test_who_may_write_to_each_thread(thread: str, actor: str) -> None:
    conference = room()
    command = SendMessage(thread, "Buenos días")
    if actor in WRITERS[thread]:
        [event] = conference.execute(command, actor, T0 + 1)
        assert isinstance(event, MessageSent)
        assert (event.thread, event.actor, event.text) == (thread, actor, "Buenos días")
    else:
        rejects(conference, command, actor, ErrorCode.FORBIDDEN)


@pytest.mark.parametrize("thread", sorted(WRITERS))
def test_who_may_read_each_thread(thread: str) -> None:
    conference = room()
    assert rules.readers(conference, thread) == WRITERS[thread]
    for seat in EVERY_SEAT:
        assert may_read(conference, seat, thread) is (seat in WRITERS[thread])


def test_a_delegation_writes_to_the_secretariat_and_every_chair_reads_it() -> None:
    conference = room()
    [sent] = conference.execute(SendMessage("delegation:hn", "¿Hay quórum?"), "hn_del", T0 + 5)
    assert isinstance(sent, MessageSent)
    assert sent.message_id == "m1" and sent.at == T0 + 5
    assert (sent.sender_name, sent.sender_role, sent.sender_delegation) == (
        "Asesor de Honduras",
        Role.DELEGATE,
        "hn",
    )
    [reply] = conference.execute(SendMessage("delegation:hn", "Sí, hay quórum."), "chair2", T0 + 9)
    assert isinstance(reply, MessageSent) and reply.message_id == "m2"
    for reader in ("chair", "chair2", "hn_head", "hn_del"):
        assert [m.text for m in rules.visible(conference, reader, conference.messages.all())] == [
            "¿Hay quórum?",
            "Sí, hay quórum.",
        ]
    for outsider in ("gt_head", "cr_head", "tech", "obs", "interp"):
        assert rules.visible(conference, outsider, conference.messages.all()) == []


def test_a_technician_writes_to_a_seat_and_the_seat_answers() -> None:
    conference = room()
    text = "No le escuchamos: revise su micrófono"
    conference.execute(SendMessage("seat:cr_head", text), "tech", T0)
    conference.execute(SendMessage("seat:cr_head", "Ya está, gracias"), "cr_head", T0)
    assert [m.sender_id for m in conference.messages.all()] == ["tech", "cr_head"]
    assert rules.readers(conference, "seat:cr_head") == {"tech", "cr_head"}


def test_the_public_chat_is_closed_until_the_chair_opens_it() -> None:
    conference = room()
    assert conference.settings.public_chat is False
    error = rejects(
        conference, SendMessage(EVERYONE, "Hola a todos"), "gt_head", ErrorCode.FORBIDDEN
    )
    assert "public chat" in error.message
    rejects(conference, SetPublicChat(True), "gt_head", ErrorCode.FORBIDDEN)
    rejects(conference, SetPublicChat(True), "tech", ErrorCode.FORBIDDEN)
    conference.execute(SetPublicChat(True), "chair", T0)
    for seat in EVERY_SEAT:
        assert conference.execute(SendMessage(EVERYONE, f"hola de {seat}"), seat, T0)
    assert rules.readers(conference, EVERYONE) == set(EVERY_SEAT)
    conference.execute(SetPublicChat(False), "chair", T0)
    rejects(conference, SendMessage(EVERYONE, "¿sigue abierto?"), "chair", ErrorCode.FORBIDDEN)
    rejects(conference, SetPublicChat(False), "chair", ErrorCode.INVALID_STATE)


@pytest.mark.parametrize(
    ("thread", "actor"),
    [
        ("delegation:mx", "chair"),  # no such delegation
        ("delegation:mx", "hn_head"),
        ("seat:nobody", "tech"),  # no such seat
        ("seat:nobody", "chair"),
    ],
)
def test_an_unknown_recipient_is_not_found(thread: str, actor: str) -> None:
    rejects(room(), SendMessage(thread, "¿Hola?"), actor, ErrorCode.NOT_FOUND)


def test_a_seat_that_left_is_not_found_and_no_longer_reads() -> None:
    conference = room()
    conference.execute(SendMessage("seat:gt_head", "¿Nos escucha?"), "tech", T0)
    conference.execute(SendMessage("delegation:gt", "Le damos la palabra luego"), "chair", T0)
    conference.execute(LeaveConference("gt_head"), "gt_head", T0)
    rejects(conference, SendMessage("seat:gt_head", "¿Sigue ahí?"), "tech", ErrorCode.NOT_FOUND)
    assert not may_read(conference, "gt_head", "delegation:gt")
    # The delegation's thread outlives its members: the secretariat may still write.
    assert conference.execute(SendMessage("delegation:gt", "Cuando vuelva…"), "chair", T0)


def test_the_lobby_and_the_system_may_not_write() -> None:
    conference = room()
    conference.execute(JoinConference("late", "Tarde", Role.HEAD, "cr"), "late", T0)
    assert "late" in conference.lobby
    rejects(conference, SendMessage("delegation:cr", "¿Me admiten?"), "late", ErrorCode.FORBIDDEN)
    assert not may_read(conference, "late", "delegation:cr")
    rejects(conference, SendMessage("delegation:cr", "aviso"), SYSTEM, ErrorCode.FORBIDDEN)


@pytest.mark.parametrize(
    ("to", "text"),
    [
        ("delegation:hn", ""),
        ("delegation:hn", "   \n\t "),
        ("delegation:hn", "x" * (MAX_MESSAGE_TEXT + 1)),
        ("delegation:hn", "bell\x07"),
        ("delegation:hn", "escape\x1b[31m"),
        ("", "hola"),
        ("chair", "hola"),
        ("delegation:", "hola"),
        ("delegation: hn", "hola"),
        ("seat:hn_head\n", "hola"),
        ("seat:" + "x" * 129, "hola"),
        ("Everyone", "hola"),
    ],
)
def test_bad_messages_are_invalid_arguments(to: str, text: str) -> None:
    with pytest.raises(RoomError) as caught:
        SendMessage(to, text)
    assert caught.value.code is ErrorCode.INVALID_ARGUMENT


def test_a_message_of_exactly_the_limit_with_line_breaks_is_accepted() -> None:
    text = ("línea\n\t" * 400)[:MAX_MESSAGE_TEXT]
    conference = room()
    [event] = conference.execute(SendMessage("delegation:hn", text), "hn_head", T0)
    assert isinstance(event, MessageSent) and event.text == text


def test_a_conference_keeps_a_bounded_number_of_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rules, "MAX_MESSAGES", 3)
    conference = room()
    for n in range(3):
        conference.execute(SendMessage("delegation:hn", f"{n}"), "hn_head", T0)
    error = rejects(conference, SendMessage("delegation:hn", "4"), "chair", ErrorCode.LIMIT_REACHED)
    assert "3 messages" in error.message


def test_messages_replay_from_the_log_and_survive_json() -> None:
    conference, log = meeting_and_log()
    log += conference.execute(SendMessage("delegation:cr", "Solicito receso"), "cr_head", T0 + 1)
    log += conference.execute(SendMessage("seat:hn_del", "Su video está congelado"), "tech", T0 + 2)
    log += conference.execute(SetPublicChat(True), "chair", T0 + 3)
    log += conference.execute(SendMessage(EVERYONE, "Receso de 10 minutos"), "chair", T0 + 4)
    stored = [Event.from_dict(json.loads(json.dumps(e.to_dict()))) for e in log]
    replayed = Conference.replay("c1", stored)
    assert replayed == conference
    assert [m.text for m in replayed.messages.all()] == [
        "Solicito receso",
        "Su video está congelado",
        "Receso de 10 minutos",
    ]
    assert [m.message_id for m in replayed.messages.all()] == ["m1", "m2", "m3"]
    # The next message is numbered on from the replayed state.
    [after] = replayed.execute(SendMessage("delegation:cr", "Gracias"), "chair", T0 + 5)
    assert isinstance(after, MessageSent) and after.message_id == "m4"


def test_messages_are_neither_in_the_snapshot_nor_in_the_minutes() -> None:
    conference, log = meeting_and_log()
    secret = "Texto reservado para la Secretaría"
    log += conference.execute(SendMessage("delegation:gt", secret), "gt_head", T0 + 1)
    log += conference.execute(SendMessage("seat:gt_head", secret + " (técnica)"), "tech", T0 + 2)
    assert secret not in json.dumps(conference.snapshot())
    for language in ("es", "en"):
        minutes = build_minutes(log, now=T0 + 10, language=language)
        assert all(entry.type != MessageSent.type for entry in minutes.record)
        assert secret not in minutes.to_markdown()
        assert secret not in json.dumps(minutes.to_dict())


def test_a_rejected_message_changes_nothing_and_numbers_stay_dense() -> None:
    conference = room()
    conference.execute(SendMessage("delegation:hn", "uno"), "hn_head", T0)
    rejects(conference, SendMessage("delegation:gt", "intruso"), "hn_head", ErrorCode.FORBIDDEN)
    [event] = conference.execute(SendMessage("delegation:hn", "dos"), "chair", T0)
    assert isinstance(event, MessageSent) and event.message_id == "m2"


def test_a_thread_names_any_valid_id() -> None:
    conference = room()
    conference.execute(AddDelegation("costa rica", "Costa Rica (2)", "CRI"), SYSTEM, T0)
    [event] = conference.execute(SendMessage("delegation:costa rica", "Hola"), "chair", T0)
    assert isinstance(event, MessageSent) and event.thread == "delegation:costa rica"
