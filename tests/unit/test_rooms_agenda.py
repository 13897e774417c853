"""The order of business in the pure core: agenda items, pre-registered speakers, budgets."""

from __future__ import annotations

import json

import pytest
from test_rooms_support import T0, meeting, rejects, types

from rooms import (
    SYSTEM,
    AddAgendaItem,
    CloseItem,
    Conference,
    ErrorCode,
    Event,
    GrantExtraTime,
    GrantFloor,
    InscribeSpeaker,
    ItemStatus,
    ItemTitle,
    LeaveConference,
    OpenItem,
    Priority,
    ReleaseFloor,
    RequestFloor,
    RoomError,
    SetLanguages,
    SetSpeakingTime,
)

TITLES = (ItemTitle("es", "Gobernanza migratoria"), ItemTitle("en", "Migration governance"))


def agenda(budget: float | None = 60.0) -> Conference:
    """The small meeting (warning 5 s, grace 2 s) with two items; gt then hn inscribed on i1."""
    conference = meeting(warning_before=5.0, grace_period=2.0)
    conference.execute(AddAgendaItem("i1", TITLES, 1800.0, budget), "chair", T0)
    conference.execute(AddAgendaItem("i2", (ItemTitle("es", "Clausura"),)), "chair", T0)
    conference.execute(InscribeSpeaker("i1", "gt"), "chair", T0)
    conference.execute(InscribeSpeaker("i1", "hn"), "chair", T0)
    return conference


def queue(conference: Conference) -> list[str]:
    return [r.delegation_id for r in conference.floor.queue()]


def first_in_queue(conference: Conference) -> str:
    return conference.floor.queue()[0].request_id


# Items ---------------------------------------------------------------------------


def test_items_keep_their_order_titles_and_state() -> None:
    conference = agenda()
    items = conference.agenda.items
    assert list(items) == ["i1", "i2"]
    assert items["i1"].title("en") == "Migration governance"
    assert items["i1"].title("fr") == "Gobernanza migratoria"  # the first one given
    assert items["i1"].speakers == ("gt", "hn")
    assert conference.agenda.current is None
    assert conference.agenda.next_item() == items["i1"]
    snapshot = conference.snapshot()["agenda"]
    assert snapshot["current"] is None and snapshot["next"] == "i1"  # type: ignore[index,call-overload]


def test_opening_an_item_lists_its_inscribed_speakers_in_the_announced_order() -> None:
    conference = agenda()
    events = conference.execute(OpenItem("i1"), "chair", T0 + 1)
    assert types(events) == ["agenda.item_opened", *["floor.requested", "floor.accepted"] * 2]
    assert all(getattr(e, "reason", None) == "pre_registered" for e in events[1:])
    assert queue(conference) == ["gt", "hn"]
    assert conference.agenda.current is not None
    assert conference.agenda.current.item_id == "i1"
    assert conference.agenda.items["i1"].status is ItemStatus.OPEN
    # A request during the item joins the list by priority, as always.
    conference.execute(RequestFloor("cr"), "cr_head", T0 + 2)
    assert queue(conference) == ["gt", "hn", "cr"]


def test_a_point_of_order_during_the_item_goes_ahead_of_the_round() -> None:
    conference = agenda()
    conference.execute(OpenItem("i1"), "chair", T0 + 1)
    conference.execute(RequestFloor("cr", Priority.POINT_OF_ORDER), "cr_head", T0 + 2)
    assert queue(conference) == ["cr", "gt", "hn"]


def test_an_inscribed_delegation_that_is_absent_or_already_listed_is_not_listed_twice() -> None:
    conference = agenda()
    conference.execute(RequestFloor("hn"), "hn_head", T0)
    conference.execute(LeaveConference("gt_head"), "gt_head", T0)
    conference.execute(OpenItem("i1"), "chair", T0 + 1)
    assert queue(conference) == ["hn"]


def test_one_item_is_open_at_a_time_and_never_reopens() -> None:
    conference = agenda(budget=None)
    conference.execute(OpenItem("i2"), "chair", T0 + 1)
    rejects(conference, OpenItem("i1"), "chair", ErrorCode.INVALID_STATE)
    conference.execute(CloseItem("i2"), "chair", T0 + 2)
    rejects(conference, OpenItem("i2"), "chair", ErrorCode.INVALID_STATE)
    rejects(conference, CloseItem("i2"), "chair", ErrorCode.INVALID_STATE)
    rejects(conference, CloseItem("i1"), "chair", ErrorCode.INVALID_STATE)  # upcoming
    rejects(conference, OpenItem("i9"), "chair", ErrorCode.NOT_FOUND)
    conference.execute(OpenItem("i1"), "chair", T0 + 3)
    assert [i.status for i in conference.agenda.items.values()] == [
        ItemStatus.OPEN,
        ItemStatus.CLOSED,
    ]


def test_closing_with_speakers_listed_asks_the_chair_then_ends_their_requests() -> None:
    conference = agenda()
    conference.execute(OpenItem("i1"), "chair", T0 + 1)
    conference.execute(GrantFloor(first_in_queue(conference)), "chair", T0 + 2)
    error = rejects(conference, CloseItem("i1"), "chair", ErrorCode.INVALID_STATE)
    assert "force" in error.message
    events = conference.execute(CloseItem("i1", force=True), "chair", T0 + 3)
    assert types(events) == ["floor.revoked", "floor.cancelled", "agenda.item_closed"]
    assert all(getattr(e, "reason", None) == "item_closed" for e in events[:2])
    assert conference.floor.holders() == [] and queue(conference) == []
    assert conference.agenda.current is None


def test_inscribing_happens_before_the_item_opens_once_per_delegation() -> None:
    conference = agenda()
    rejects(conference, InscribeSpeaker("i1", "gt"), "chair", ErrorCode.ALREADY_EXISTS)
    rejects(conference, InscribeSpeaker("i1", "mx"), "chair", ErrorCode.NOT_FOUND)
    rejects(conference, InscribeSpeaker("i9", "gt"), "chair", ErrorCode.NOT_FOUND)
    conference.execute(OpenItem("i1"), "chair", T0 + 1)
    rejects(conference, InscribeSpeaker("i1", "cr"), "chair", ErrorCode.INVALID_STATE)


# Bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"item_id": "x", "titles": []},
        {"item_id": "x", "titles": [{"language": "es", "text": "  "}]},
        {"item_id": "x", "titles": [{"language": "xx", "text": "T"}]},
        {
            "item_id": "x",
            "titles": [{"language": "es", "text": "A"}, {"language": "es", "text": "B"}],
        },
        {"item_id": "x", "titles": [{"language": "es", "text": "T"}], "budget": -5},
        {"item_id": "x", "titles": [{"language": "es", "text": "T"}], "budget": 0},
        {"item_id": "x", "titles": [{"language": "es", "text": "T"}], "budget": 86401},
        {"item_id": "x", "titles": [{"language": "es", "text": "T"}], "planned_duration": 1e9},
        {"item_id": "", "titles": [{"language": "es", "text": "T"}]},
        {"item_id": "x", "titles": "Apertura"},
    ],
)
def test_malformed_items_are_invalid_arguments(fields: dict[str, object]) -> None:
    with pytest.raises(RoomError) as caught:
        AddAgendaItem.from_arguments(fields)
    assert caught.value.code is ErrorCode.INVALID_ARGUMENT


@pytest.mark.parametrize("seconds", [-1.0, 0.0, 86_401.0, float("inf"), float("nan")])
def test_absurd_extra_time_is_an_invalid_argument(seconds: float) -> None:
    with pytest.raises(RoomError) as caught:
        GrantExtraTime("gt", seconds)
    assert caught.value.code is ErrorCode.INVALID_ARGUMENT


def test_titles_must_be_in_the_meetings_languages_once_they_are_set() -> None:
    conference = agenda()
    conference.execute(SetLanguages(("es", "en")), SYSTEM, T0)
    french = AddAgendaItem("i3", (ItemTitle("fr", "Clôture"),))
    rejects(conference, french, "chair", ErrorCode.INVALID_ARGUMENT)
    rejects(conference, AddAgendaItem("i1", TITLES), "chair", ErrorCode.ALREADY_EXISTS)


# Budgets ---------------------------------------------------------------------------


def test_a_budget_caps_each_turn_and_is_drawn_across_turns() -> None:
    conference = agenda(budget=60.0)
    conference.execute(OpenItem("i1"), "chair", T0)
    gt = first_in_queue(conference)
    granted = conference.execute(GrantFloor(gt, 300.0), "chair", T0 + 1)[-1]
    assert granted.time_limit == 60.0  # type: ignore[attr-defined]
    conference.execute(ReleaseFloor(gt), "gt_head", T0 + 41)  # spoke 40 s
    assert conference.agenda.spent("i1", "gt") == 40.0
    assert conference.agenda.remaining("i1", "gt") == 20.0
    again = conference.execute(RequestFloor("gt"), "gt_head", T0 + 42)[0].request_id  # type: ignore[attr-defined]
    conference.execute(GrantFloor(first_in_queue(conference)), "chair", T0 + 43)  # hn first
    conference.execute(ReleaseFloor(conference.floor.holders()[0].request_id), "hn_head", T0 + 44)
    granted = conference.execute(GrantFloor(again), "chair", T0 + 45)[-1]
    assert granted.time_limit == 20.0  # type: ignore[attr-defined]
    # The floor timer does the rest: warning, overtime, then revoke after the grace period.
    due = conference.tick(T0 + 45 + 20 + 2)
    assert types(due) == ["floor.warning", "floor.overtime", "floor.revoked"]
    assert [e.at - T0 for e in due] == [60.0, 65.0, 67.0]
    conference.apply_all(due)
    assert conference.agenda.remaining("i1", "gt") == 0.0  # never negative
    assert conference.agenda.spent("i1", "gt") == 62.0  # the grace period is spoken too
    third = conference.execute(RequestFloor("gt"), "gt_head", T0 + 70)[0].request_id  # type: ignore[attr-defined]
    rejects(conference, GrantFloor(third), "chair", ErrorCode.LIMIT_REACHED, T0 + 71)


def test_extra_time_is_recorded_and_lengthens_the_turn_being_spoken() -> None:
    conference = agenda(budget=60.0)
    conference.execute(OpenItem("i1"), "chair", T0)
    gt = first_in_queue(conference)
    conference.execute(GrantFloor(gt), "chair", T0)
    events = conference.execute(GrantExtraTime("gt", 30.0, reason="cortesía"), "chair", T0 + 10)
    assert types(events) == ["agenda.budget_extended", "floor.time_changed"]
    assert events[1].time_limit == 90.0  # type: ignore[attr-defined]
    assert conference.agenda.allowance("i1", "gt") == 90.0
    assert conference.agenda.extra("i1", "gt") == 30.0
    # A shorter speaking time is the chair's; a longer one stays within the allowance.
    shorter = conference.execute(SetSpeakingTime(gt, 50.0), "chair", T0 + 11)[-1]
    assert shorter.time_limit == 50.0  # type: ignore[attr-defined]
    capped = conference.execute(SetSpeakingTime(gt, 500.0), "chair", T0 + 12)[-1]
    assert capped.time_limit == 90.0  # type: ignore[attr-defined]


def test_extra_time_needs_an_open_item_with_a_budget() -> None:
    conference = agenda(budget=None)
    rejects(conference, GrantExtraTime("gt", 30.0), "chair", ErrorCode.INVALID_STATE)
    conference.execute(OpenItem("i1"), "chair", T0)
    rejects(conference, GrantExtraTime("gt", 30.0), "chair", ErrorCode.INVALID_STATE)
    rejects(conference, GrantExtraTime("mx", 30.0), "chair", ErrorCode.NOT_FOUND)


def test_without_a_budget_the_floor_limits_apply_as_before() -> None:
    conference = agenda(budget=None)
    conference.execute(OpenItem("i1"), "chair", T0)
    granted = conference.execute(GrantFloor(first_in_queue(conference), 300.0), "chair", T0)[-1]
    assert granted.time_limit == 300.0  # type: ignore[attr-defined]


def test_a_turn_granted_before_the_item_is_not_billed_to_it() -> None:
    conference = agenda(budget=60.0)
    rid = conference.execute(RequestFloor("cr"), "cr_head", T0)[0].request_id  # type: ignore[attr-defined]
    conference.execute(GrantFloor(rid, 100.0), "chair", T0)
    conference.execute(OpenItem("i1"), "chair", T0 + 1)
    conference.execute(ReleaseFloor(rid), "cr_head", T0 + 50)
    assert conference.agenda.spent("i1", "cr") == 0.0


def test_the_log_replays_to_the_same_agenda() -> None:
    conference = agenda(budget=60.0)
    log: list[Event] = []
    log += conference.execute(OpenItem("i1"), "chair", T0)
    log += conference.execute(GrantFloor(first_in_queue(conference)), "chair", T0)
    log += conference.execute(GrantExtraTime("gt", 15.0), "chair", T0 + 5)
    log += conference.execute(CloseItem("i1", force=True), "chair", T0 + 30)
    for event in log:
        assert Event.from_dict(json.loads(json.dumps(event.to_dict()))) == event
    replayed = agenda(budget=60.0)
    replayed.apply_all(log)
    assert replayed == conference
    assert replayed.agenda.spent("i1", "gt") == 30.0
