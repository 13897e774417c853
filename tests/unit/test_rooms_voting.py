"""Roll call, quorum and decisions on record (consensus, recorded votes) in the pure core."""

from __future__ import annotations

import json

import pytest
from test_rooms_support import T0, meeting, rejects, types

from rooms import (
    SYSTEM,
    AddAgendaItem,
    AnswerRollCall,
    Ballot,
    CastVote,
    CloseConference,
    CloseRollCall,
    CloseVote,
    Conference,
    DesignateVoter,
    ErrorCode,
    Event,
    ItemTitle,
    LeaveConference,
    OpenItem,
    OpenVote,
    Presence,
    ProposeConsensus,
    RaiseObjection,
    RoomError,
    SetPresence,
    SetQuorum,
    StartRollCall,
)


def roll_call_snapshot(conference: Conference) -> dict[str, object]:
    snapshot = conference.snapshot()["roll_call"]
    assert isinstance(snapshot, dict)
    return snapshot


# Roll call and quorum ---------------------------------------------------------------


def test_a_roll_call_records_who_answered_and_the_quorum() -> None:
    conference = meeting()
    conference.execute(SetQuorum(count=2), "chair", T0)
    conference.execute(StartRollCall(), "chair", T0)
    conference.execute(AnswerRollCall("hn"), "hn_head", T0 + 1)
    assert roll_call_snapshot(conference)["quorum_met"] is False
    conference.execute(AnswerRollCall("gt"), "chair", T0 + 2)  # the chair marks it
    snapshot = roll_call_snapshot(conference)
    assert snapshot["present"] == ["hn", "gt"] and snapshot["absent"] == ["cr"]
    assert snapshot["quorum_met"] is True and snapshot["required"] == 2
    [closed] = conference.execute(CloseRollCall(), "chair", T0 + 3)
    assert closed.to_dict() | {"at": 0} == {
        "type": "rollcall.closed",
        "at": 0,
        "actor": "chair",
        "reason": None,
        "roll_call_id": "rc1",
        "present": ["hn", "gt"],
        "absent": ["cr"],
        "required": 2,
        "quorum_met": True,
    }


def test_quorum_follows_a_delegation_that_drops_out_and_comes_back() -> None:
    conference = meeting()
    conference.execute(SetQuorum(fraction=0.6), "chair", T0)  # 2 of 3
    conference.execute(StartRollCall(), "chair", T0)
    conference.execute(AnswerRollCall("gt"), "gt_head", T0)
    conference.execute(AnswerRollCall("cr"), "cr_head", T0)
    conference.execute(CloseRollCall(), "chair", T0)
    assert roll_call_snapshot(conference)["quorum_met"] is True
    conference.execute(SetPresence("gt_head", Presence.RECONNECTING), SYSTEM, T0 + 1)
    assert roll_call_snapshot(conference)["quorum_met"] is True  # a blip is no departure
    conference.execute(SetPresence("gt_head", Presence.DISCONNECTED), SYSTEM, T0 + 2)
    assert roll_call_snapshot(conference)["present"] == ["cr"]
    assert roll_call_snapshot(conference)["quorum_met"] is False
    conference.execute(SetPresence("gt_head", Presence.CONNECTED), SYSTEM, T0 + 3)
    assert roll_call_snapshot(conference)["quorum_met"] is True
    conference.execute(LeaveConference("cr_head"), "cr_head", T0 + 4)
    assert roll_call_snapshot(conference)["quorum_met"] is False


def test_roll_call_answers_are_once_per_delegation_by_its_head_while_open() -> None:
    conference = meeting()
    rejects(conference, AnswerRollCall("hn"), "hn_head", ErrorCode.INVALID_STATE)
    rejects(conference, CloseRollCall(), "chair", ErrorCode.INVALID_STATE)
    conference.execute(StartRollCall(), "chair", T0)
    rejects(conference, StartRollCall(), "chair", ErrorCode.INVALID_STATE)
    rejects(conference, AnswerRollCall("gt"), "hn_head", ErrorCode.FORBIDDEN)
    rejects(conference, AnswerRollCall("hn"), "hn_del", ErrorCode.FORBIDDEN)
    rejects(conference, AnswerRollCall("hn"), "obs", ErrorCode.FORBIDDEN)
    rejects(conference, AnswerRollCall("mx"), "chair", ErrorCode.NOT_FOUND)
    conference.execute(AnswerRollCall("hn"), "hn_head", T0)
    rejects(conference, AnswerRollCall("hn"), "hn_head", ErrorCode.INVALID_STATE)
    conference.execute(LeaveConference("cr_head"), "cr_head", T0)
    rejects(conference, AnswerRollCall("cr"), "chair", ErrorCode.INVALID_STATE)  # nobody here


@pytest.mark.parametrize(
    "fields", [{}, {"count": 0}, {"count": 2, "fraction": 0.5}, {"fraction": 1.5}, {"fraction": 0}]
)
def test_a_malformed_quorum_is_an_invalid_argument(fields: dict[str, object]) -> None:
    with pytest.raises(RoomError) as caught:
        SetQuorum.from_arguments(fields)
    assert caught.value.code is ErrorCode.INVALID_ARGUMENT


def test_the_default_quorum_is_half_the_registered_delegations() -> None:
    conference = meeting()
    assert roll_call_snapshot(conference)["required"] == 2  # of 3
    assert roll_call_snapshot(conference)["quorum_met"] is False  # no roll call yet
    rejects(conference, SetQuorum(fraction=0.5), "chair", ErrorCode.INVALID_STATE)


# Recorded votes ---------------------------------------------------------------------


def open_vote(conference: Conference) -> str:
    conference.execute(AddAgendaItem("i1", (ItemTitle("es", "Declaración"),)), "chair", T0)
    conference.execute(OpenItem("i1"), "chair", T0)
    [opened] = conference.execute(OpenVote("¿Se adopta la declaración?"), "chair", T0)
    assert opened.item_id == "i1"  # type: ignore[attr-defined]
    return opened.decision_id  # type: ignore[attr-defined,no-any-return]


def test_a_recorded_vote_counts_one_named_ballot_per_delegation() -> None:
    conference = meeting()
    vote = open_vote(conference)
    conference.execute(CastVote(vote, Ballot.YES), "hn_head", T0 + 1)
    conference.execute(CastVote(vote, Ballot.NO), "gt_head", T0 + 2)
    conference.execute(CastVote(vote, Ballot.ABSTAIN, "cr"), "cr_head", T0 + 3)
    [closed] = conference.execute(CloseVote(vote), "chair", T0 + 4)
    assert (closed.yes, closed.no, closed.abstain, closed.adopted) == (1, 1, 1, False)  # type: ignore[attr-defined]
    decision = conference.votes.decisions[vote]
    assert decision.ballots == (("hn", Ballot.YES), ("gt", Ballot.NO), ("cr", Ballot.ABSTAIN))
    rejects(conference, CastVote(vote, Ballot.YES), "hn_head", ErrorCode.INVALID_STATE)


def test_ballots_only_inside_an_open_vote_once_and_from_a_delegation() -> None:
    conference = meeting()
    rejects(conference, CastVote("d1", Ballot.YES), "hn_head", ErrorCode.NOT_FOUND)
    vote = open_vote(conference)
    conference.execute(CastVote(vote, Ballot.YES), "hn_head", T0)
    rejects(conference, CastVote(vote, Ballot.NO), "hn_head", ErrorCode.INVALID_STATE)  # twice
    rejects(conference, CastVote(vote, Ballot.NO), "hn_del", ErrorCode.FORBIDDEN)  # not designated
    for outsider in ("chair", "obs", "tech"):
        rejects(conference, CastVote(vote, Ballot.NO, "gt"), outsider, ErrorCode.FORBIDDEN)
    rejects(conference, CastVote(vote, Ballot.NO, "gt"), "cr_head", ErrorCode.FORBIDDEN)
    rejects(conference, CastVote(vote, Ballot.NO), SYSTEM, ErrorCode.INVALID_ARGUMENT)
    rejects(conference, OpenVote("otra"), "chair", ErrorCode.INVALID_STATE)  # one at a time
    conference.execute(CloseVote(vote), "chair", T0)
    rejects(conference, CastVote(vote, Ballot.NO), "gt_head", ErrorCode.INVALID_STATE)
    rejects(conference, CloseVote(vote), "chair", ErrorCode.INVALID_STATE)
    with pytest.raises(RoomError) as caught:
        CastVote.from_arguments({"decision_id": vote, "ballot": "maybe"})
    assert caught.value.code is ErrorCode.INVALID_ARGUMENT


def test_the_head_designates_who_else_votes_for_the_delegation() -> None:
    conference = meeting()
    vote = open_vote(conference)
    rejects(conference, DesignateVoter("hn", "gt_head"), "hn_head", ErrorCode.INVALID_ARGUMENT)
    rejects(conference, DesignateVoter("hn", "ghost"), "hn_head", ErrorCode.NOT_FOUND)
    rejects(conference, DesignateVoter("gt", "hn_del"), "hn_head", ErrorCode.FORBIDDEN)
    rejects(conference, DesignateVoter("hn", "hn_del"), "hn_del", ErrorCode.FORBIDDEN)
    conference.execute(DesignateVoter("hn", "hn_del"), "hn_head", T0)
    conference.execute(CastVote(vote, Ballot.YES), "hn_del", T0 + 1)
    rejects(conference, CastVote(vote, Ballot.NO), "hn_head", ErrorCode.INVALID_STATE)
    conference.execute(DesignateVoter("hn", None), "hn_head", T0 + 2)
    assert "hn" not in conference.votes.designated


# Consensus -----------------------------------------------------------------------


def test_a_proposal_is_adopted_when_the_window_ends_without_objection() -> None:
    conference = meeting()
    [proposed] = conference.execute(ProposeConsensus("Se adopta", 30.0), "chair", T0)
    decision_id = proposed.decision_id  # type: ignore[attr-defined]
    assert conference.next_deadline() == T0 + 30
    assert conference.tick(T0 + 29) == []
    [ended] = conference.tick(T0 + 45)
    assert ended.at == T0 + 30 and ended.actor == SYSTEM  # dated at the window's end
    assert types([ended]) == ["decision.consensus_ended"]
    assert ended.adopted is True  # type: ignore[attr-defined]
    conference.apply(ended)
    assert conference.votes.decisions[decision_id].adopted is True
    assert conference.next_deadline() is None


def test_one_objection_blocks_consensus_and_late_objections_are_refused() -> None:
    conference = meeting()
    [proposed] = conference.execute(ProposeConsensus("Se adopta", 30.0), "chair", T0)
    decision_id = proposed.decision_id  # type: ignore[attr-defined]
    conference.execute(RaiseObjection(decision_id), "cr_head", T0 + 5)
    rejects(conference, RaiseObjection(decision_id), "cr_head", ErrorCode.INVALID_STATE)
    rejects(conference, RaiseObjection(decision_id), "obs", ErrorCode.FORBIDDEN)
    rejects(conference, CastVote(decision_id, Ballot.NO), "hn_head", ErrorCode.INVALID_STATE)
    rejects(conference, CloseVote(decision_id), "chair", ErrorCode.INVALID_STATE)
    # The window ends before a late objection is heard: it meets a closed decision.
    with pytest.raises(RoomError) as caught:
        conference.decide(RaiseObjection(decision_id), "gt_head", T0 + 31)
    assert caught.value.code is ErrorCode.INVALID_STATE
    [ended] = conference.tick(T0 + 31)
    assert ended.adopted is False and ended.objections == ("cr",)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "fields",
    [{"text": " "}, {"text": "x" * 2001}, {"text": "T", "window": 0}, {"text": "T", "window": 1e6}],
)
def test_malformed_proposals_are_invalid_arguments(fields: dict[str, object]) -> None:
    with pytest.raises(RoomError) as caught:
        ProposeConsensus.from_arguments(fields)
    assert caught.value.code is ErrorCode.INVALID_ARGUMENT


def test_the_log_replays_to_the_same_decisions() -> None:
    conference = meeting()
    log: list[Event] = []
    log += conference.execute(StartRollCall(), "chair", T0)
    log += conference.execute(AnswerRollCall("hn"), "hn_head", T0)
    log += conference.execute(CloseRollCall(), "chair", T0)
    log += conference.execute(DesignateVoter("hn", "hn_del"), "hn_head", T0)
    log += conference.execute(OpenVote("Texto"), "chair", T0)
    log += conference.execute(CastVote("d1", Ballot.YES), "hn_del", T0)
    log += conference.execute(CloseVote("d1"), "chair", T0 + 1)
    log += conference.execute(ProposeConsensus("Texto 2", 5.0), "chair", T0 + 2)
    log += conference.tick(T0 + 10)
    for event in log:
        assert Event.from_dict(json.loads(json.dumps(event.to_dict()))) == event
    replayed = meeting()
    replayed.apply_all(log)
    conference.apply_all(log[-1:])
    assert replayed == conference
    assert replayed.snapshot() == conference.snapshot()


# Bounds and the end of the meeting ---------------------------------------------------


def test_roll_calls_and_decisions_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from rooms import voting_rules

    monkeypatch.setattr(voting_rules, "MAX_ROLL_CALLS", 2)
    monkeypatch.setattr(voting_rules, "MAX_DECISIONS", 2)
    conference = meeting()
    for _ in range(2):
        conference.execute(StartRollCall(), "chair", T0)
        conference.execute(CloseRollCall(), "chair", T0)
        [opened] = conference.execute(OpenVote("Texto"), "chair", T0)
        conference.execute(CloseVote(opened.decision_id), "chair", T0)  # type: ignore[attr-defined]
    rejects(conference, StartRollCall(), "chair", ErrorCode.LIMIT_REACHED)
    rejects(conference, OpenVote("Otro"), "chair", ErrorCode.LIMIT_REACHED)
    rejects(conference, ProposeConsensus("Otro"), "chair", ErrorCode.LIMIT_REACHED)


def test_closing_the_conference_closes_the_item_the_roll_call_and_counts_the_vote() -> None:
    conference = meeting()
    conference.execute(AddAgendaItem("i1", (ItemTitle("es", "Punto"),)), "chair", T0)
    conference.execute(OpenItem("i1"), "chair", T0)
    conference.execute(StartRollCall(), "chair", T0)
    conference.execute(AnswerRollCall("hn"), "hn_head", T0)
    [opened] = conference.execute(OpenVote("Texto"), "chair", T0)
    conference.execute(CastVote(opened.decision_id, Ballot.YES), "hn_head", T0)  # type: ignore[attr-defined]
    events = conference.execute(CloseConference(), "chair", T0 + 1)
    assert types(events) == [
        "agenda.item_closed",
        "rollcall.closed",
        "decision.vote_closed",
        "conference.closed",
    ]
    assert all(e.reason == "conference_closed" for e in events[:3])
    assert events[2].adopted is True  # type: ignore[attr-defined]  # the ballots cast count
    assert conference.agenda.current is None and not conference.rollcall.open


def test_closing_the_conference_during_an_objection_window_adopts_nothing() -> None:
    conference = meeting()
    conference.execute(ProposeConsensus("Texto", 60.0), "chair", T0)
    events = conference.execute(CloseConference(), "chair", T0 + 1)
    assert types(events) == ["decision.consensus_ended", "conference.closed"]
    assert events[0].adopted is False  # type: ignore[attr-defined]
    assert conference.next_deadline() is None
