"""Observer delegations (organisations, civil society): they speak on their items, never vote."""

from __future__ import annotations

import json

import pytest
from test_rooms_support import T0, meeting, meeting_and_log, rejects

from rooms import (
    SYSTEM,
    AddAgendaItem,
    AddDelegation,
    AdmitFromLobby,
    AnswerRollCall,
    Ballot,
    CastVote,
    CloseItem,
    CloseRollCall,
    CloseVote,
    Conference,
    DesignateVoter,
    ErrorCode,
    Event,
    GrantFloor,
    InscribeSpeaker,
    ItemTitle,
    JoinConference,
    OpenItem,
    OpenVote,
    ProposeConsensus,
    RaiseObjection,
    ReleaseFloor,
    RequestFloor,
    Role,
    SetOpenFloor,
    SetQuorum,
    StartRollCall,
    build_minutes,
)

ROUND = (ItemTitle("es", "Ronda de intervenciones"),)
STATEMENTS = (ItemTitle("es", "Declaraciones de observadores"),)


def with_observer() -> tuple[Conference, list[Event]]:
    """The small meeting plus the OAS as an observer (head `oea_head`), and two items:
    i1 for members only, i2 open to observers."""
    conference = meeting()
    log = conference.execute(AddDelegation("oea", "OEA", "OEA", observer=True), SYSTEM, T0)
    log += conference.execute(
        JoinConference("oea_head", "Secretario General", Role.HEAD, "oea"), "oea_head", T0
    )
    if "oea_head" in conference.lobby:
        log += conference.execute(AdmitFromLobby("oea_head"), "chair", T0)
    log += conference.execute(AddAgendaItem("i1", ROUND), "chair", T0)
    log += conference.execute(AddAgendaItem("i2", STATEMENTS, observers=True), "chair", T0)
    return conference, log


def test_an_observer_is_marked_as_such_and_members_are_not() -> None:
    conference, _ = with_observer()
    assert conference.delegations["oea"].observer
    assert not conference.delegations["hn"].observer
    assert conference.member_delegations() == ["hn", "gt", "cr"]
    assert conference.agenda.items["i2"].observers
    assert not conference.agenda.items["i1"].observers
    delegations = conference.snapshot()["delegations"]
    assert isinstance(delegations, list)
    assert [d["observer"] for d in delegations] == [False, False, False, True]  # type: ignore[index,call-overload]


def test_an_observer_requests_the_floor_only_on_an_item_open_to_observers() -> None:
    conference, _ = with_observer()
    rejects(conference, RequestFloor("oea"), "oea_head", ErrorCode.FORBIDDEN)  # no item open
    conference.execute(OpenItem("i1"), "chair", T0 + 1)
    error = rejects(conference, RequestFloor("oea"), "oea_head", ErrorCode.FORBIDDEN, T0 + 2)
    assert "observer" in str(error) and "i1" in str(error)
    # Nor does the chair put it on the list of a members' item.
    rejects(conference, RequestFloor("oea"), "chair", ErrorCode.FORBIDDEN, T0 + 2)
    conference.execute(RequestFloor("hn"), "hn_head", T0 + 2)  # members as always
    conference.execute(CloseItem("i1", force=True), "chair", T0 + 3)
    conference.execute(OpenItem("i2"), "chair", T0 + 4)
    events = conference.execute(RequestFloor("oea"), "oea_head", T0 + 5)
    request_id = events[0].request_id  # type: ignore[attr-defined]
    conference.execute(GrantFloor(request_id), "chair", T0 + 6)
    assert conference.floor.holds_floor("oea")
    assert conference.is_audible("oea_head")


def test_an_observer_is_inscribed_only_on_an_item_open_to_observers() -> None:
    conference, _ = with_observer()
    rejects(conference, InscribeSpeaker("i1", "oea"), "chair", ErrorCode.FORBIDDEN)
    conference.execute(InscribeSpeaker("i2", "oea"), "chair", T0)
    conference.execute(OpenItem("i2"), "chair", T0 + 1)
    assert [r.delegation_id for r in conference.floor.queue()] == ["oea"]


def test_an_open_floor_does_not_make_an_observer_audible() -> None:
    conference, _ = with_observer()
    conference.execute(SetOpenFloor(True), "chair", T0)
    assert conference.is_audible("hn_head")
    assert not conference.is_audible("oea_head")


def test_an_observer_never_votes_objects_or_designates_a_voter() -> None:
    conference, _ = with_observer()
    conference.execute(OpenVote("Se aprueba la declaración"), "chair", T0)
    rejects(conference, CastVote("d1", Ballot.YES), "oea_head", ErrorCode.FORBIDDEN)
    rejects(conference, CastVote("d1", Ballot.YES, "oea"), SYSTEM, ErrorCode.FORBIDDEN)
    rejects(conference, DesignateVoter("oea"), "chair", ErrorCode.FORBIDDEN)
    conference.execute(CastVote("d1", Ballot.YES), "hn_head", T0 + 1)
    closed = conference.execute(CloseVote("d1"), "chair", T0 + 2)[-1]
    assert (closed.yes, closed.no, closed.abstain) == (1, 0, 0)  # type: ignore[attr-defined]
    conference.execute(ProposeConsensus("Se adopta el acta", window=30.0), "chair", T0 + 3)
    rejects(conference, RaiseObjection("d2"), "oea_head", ErrorCode.FORBIDDEN, T0 + 4)


def test_the_quorum_and_the_roll_call_count_members_only() -> None:
    conference, _ = with_observer()
    conference.execute(SetQuorum(fraction=1.0), "chair", T0)
    conference.execute(StartRollCall(), "chair", T0)
    rejects(conference, AnswerRollCall("oea"), "oea_head", ErrorCode.FORBIDDEN)
    rejects(conference, AnswerRollCall("oea"), "chair", ErrorCode.FORBIDDEN)
    for head, did in (("hn_head", "hn"), ("gt_head", "gt"), ("cr_head", "cr")):
        conference.execute(AnswerRollCall(did), head, T0 + 1)
    snapshot = conference.snapshot()["roll_call"]
    assert isinstance(snapshot, dict)
    assert snapshot["required"] == 3 and snapshot["quorum_met"] is True
    assert "oea" not in snapshot["absent"]  # type: ignore[operator]
    closed = conference.execute(CloseRollCall(), "chair", T0 + 2)[-1]
    assert closed.required == 3 and closed.quorum_met  # type: ignore[attr-defined]
    assert "oea" not in closed.absent  # type: ignore[attr-defined]


def test_the_log_replays_to_the_same_observers() -> None:
    conference, log = with_observer()
    log += conference.execute(InscribeSpeaker("i2", "oea"), "chair", T0)
    log += conference.execute(OpenItem("i2"), "chair", T0 + 1)
    log += conference.execute(GrantFloor(conference.floor.queue()[0].request_id), "chair", T0 + 2)
    for event in log:
        assert Event.from_dict(json.loads(json.dumps(event.to_dict()))) == event
    replayed = Conference("c1")
    replayed.apply_all(meeting_and_log()[1] + log)
    assert replayed == conference
    assert replayed.delegations["oea"].observer


def test_events_from_before_observers_still_decode_as_members() -> None:
    raw = {"type": "delegation.added", "at": T0, "actor": SYSTEM, "reason": None}
    raw |= {"delegation_id": "hn", "name": "Honduras", "country_code": "HN"}
    event = Event.from_dict(raw)
    assert event.observer is False  # type: ignore[attr-defined]


def granted_in_turn(conference: Conference, actor: str, did: str, at: float) -> list[Event]:
    """`did` asks for the floor, is given it and yields it 30 s later."""
    log = conference.execute(RequestFloor(did), actor, at)
    request_id = conference.floor.open_request(did).request_id  # type: ignore[union-attr]
    log += conference.execute(GrantFloor(request_id), "chair", at + 1)
    log += conference.execute(ReleaseFloor(request_id), actor, at + 31)
    return log


@pytest.mark.parametrize(
    ("language", "statement", "granted", "attending"),
    [
        ("en", "OEA (OEA), observer statement", "for an observer statement", "(OEA), observer:"),
        (
            "es",
            "OEA (OEA), declaración de observador",
            "para una declaración",
            "(OEA), observador:",
        ),
    ],
)
def test_the_minutes_show_an_observers_statement_as_such(
    language: str, statement: str, granted: str, attending: str
) -> None:
    conference, log = with_observer()
    log = meeting_and_log()[1] + log + conference.execute(OpenItem("i2"), "chair", T0 + 1)
    log += granted_in_turn(conference, "oea_head", "oea", T0 + 2)
    log += granted_in_turn(conference, "hn_head", "hn", T0 + 40)
    minutes = build_minutes(log, language=language)
    oea, hn = minutes.interventions
    assert (oea.observer, hn.observer) == (True, False)
    markdown, html = minutes.to_markdown(), minutes.to_html()
    assert f"| 1 | {statement} |" in markdown
    assert "| 2 | Honduras (HN) |" in markdown
    assert f"<td>{statement}</td>" in html and "<td>Honduras (HN)</td>" in html
    assert attending in html
    assert sum(granted in entry.text for entry in minutes.record) == 1
