"""Sub-items: one level below an item, opened and closed like items, numbered 2.1, 2.2."""

from __future__ import annotations

import json

import pytest
from test_rooms_support import T0, meeting_and_log, rejects

from rooms import (
    AddAgendaItem,
    CloseItem,
    Conference,
    ErrorCode,
    Event,
    GrantFloor,
    InscribeSpeaker,
    ItemTitle,
    OpenItem,
    ReleaseFloor,
    RequestFloor,
    RoomError,
    build_minutes,
)
from rooms.agenda import numbered


def title(text: str) -> tuple[ItemTitle, ...]:
    return (ItemTitle("es", text),)


def with_sub_items() -> tuple[Conference, list[Event]]:
    """1 apertura; 2 migracion with 2.1 laboral and 2.2 retorno (added after item 3); 3 clausura."""
    conference, log = meeting_and_log()
    for command in (
        AddAgendaItem("apertura", title("Apertura")),
        AddAgendaItem("migracion", title("Migración")),
        AddAgendaItem("laboral", title("Movilidad laboral"), parent="migracion"),
        AddAgendaItem("clausura", title("Clausura")),
        AddAgendaItem("retorno", title("Retorno"), parent="migracion", budget=60.0),
    ):
        log += conference.execute(command, "chair", T0)
    return conference, log


def test_numbering_puts_sub_items_after_their_parent() -> None:
    pairs = [("a", None), ("b", None), ("b1", "b"), ("c", None), ("b2", "b")]
    assert numbered(pairs) == [("a", "1"), ("b", "2"), ("b1", "2.1"), ("b2", "2.2"), ("c", "3")]


def test_sub_items_come_after_their_parent_numbered_in_the_snapshot() -> None:
    conference, _ = with_sub_items()
    order = [(n, i.item_id) for n, i in conference.agenda.in_order()]
    assert order == [
        ("1", "apertura"),
        ("2", "migracion"),
        ("2.1", "laboral"),
        ("2.2", "retorno"),
        ("3", "clausura"),
    ]
    items = conference.snapshot()["agenda"]["items"]  # type: ignore[index,call-overload]
    assert [(i["number"], i["parent"]) for i in items] == [
        ("1", None),
        ("2", None),
        ("2.1", "migracion"),
        ("2.2", "migracion"),
        ("3", None),
    ]


def test_sub_items_open_and_close_one_at_a_time_like_items() -> None:
    conference, _ = with_sub_items()
    conference.execute(InscribeSpeaker("laboral", "gt"), "chair", T0)
    conference.execute(OpenItem("laboral"), "chair", T0 + 1)
    assert conference.agenda.current is not None
    assert conference.agenda.current.item_id == "laboral"
    assert [r.delegation_id for r in conference.floor.queue()] == ["gt"]  # its own round
    rejects(conference, OpenItem("migracion"), "chair", ErrorCode.INVALID_STATE, T0 + 2)
    rejects(conference, OpenItem("retorno"), "chair", ErrorCode.INVALID_STATE, T0 + 2)
    conference.execute(CloseItem("laboral", force=True), "chair", T0 + 3)
    conference.execute(OpenItem("retorno"), "chair", T0 + 4)
    conference.execute(CloseItem("retorno"), "chair", T0 + 5)
    assert conference.agenda.next_item() is not None
    assert conference.agenda.next_item().item_id == "apertura"  # type: ignore[union-attr]


def test_a_sub_item_needs_a_top_level_parent_that_is_not_closed() -> None:
    conference, _ = with_sub_items()
    orphan = AddAgendaItem("x", title("X"), parent="nada")
    rejects(conference, orphan, "chair", ErrorCode.NOT_FOUND)
    deeper = AddAgendaItem("x", title("X"), parent="laboral")
    error = rejects(conference, deeper, "chair", ErrorCode.INVALID_ARGUMENT)
    assert "laboral" in str(error) and "one level" in str(error)
    conference.execute(OpenItem("apertura"), "chair", T0 + 1)
    conference.execute(CloseItem("apertura"), "chair", T0 + 2)
    late = AddAgendaItem("x", title("X"), parent="apertura")
    rejects(conference, late, "chair", ErrorCode.INVALID_STATE, T0 + 3)
    # Non-chairs cannot add sub-items any more than items.
    rejects(
        conference,
        AddAgendaItem("x", title("X"), parent="migracion"),
        "gt_head",
        ErrorCode.FORBIDDEN,
    )


def test_an_item_is_not_its_own_parent() -> None:
    with pytest.raises(RoomError) as caught:
        AddAgendaItem.from_arguments(
            {"item_id": "x", "titles": [{"language": "es", "text": "T"}], "parent": "x"}
        )
    assert caught.value.code is ErrorCode.INVALID_ARGUMENT


def test_the_minutes_number_sub_items_and_the_log_replays() -> None:
    conference, log = with_sub_items()
    log += conference.execute(OpenItem("retorno"), "chair", T0 + 1)
    log += conference.execute(InscribeSpeaker("clausura", "hn"), "chair", T0 + 1)
    request = conference.execute(RequestFloor("gt"), "gt_head", T0 + 2)
    log += request
    request_id = request[0].request_id  # type: ignore[attr-defined]
    log += conference.execute(GrantFloor(request_id), "chair", T0 + 3)
    log += conference.execute(ReleaseFloor(request_id), "gt_head", T0 + 33)
    log += conference.execute(CloseItem("retorno"), "chair", T0 + 40)
    for event in log:
        assert Event.from_dict(json.loads(json.dumps(event.to_dict()))) == event
    replayed = Conference("c1")
    replayed.apply_all(log)
    assert replayed == conference
    for language in ("es", "en"):
        minutes = build_minutes(log, language=language)
        numbers = [(i.number, i.item_id, i.parent) for i in minutes.items]
        assert numbers == [
            ("1", "apertura", None),
            ("2", "migracion", None),
            ("2.1", "laboral", "migracion"),
            ("2.2", "retorno", "migracion"),
            ("3", "clausura", None),
        ]
        retorno = minutes.items[3]
        assert retorno.times[0].delegation_id == "gt" and retorno.times[0].spoken == 30.0
        assert "### 2.2. Retorno" in minutes.to_markdown()
        assert '<section class="item sub-item"><h3>2.2. Retorno</h3>' in minutes.to_html()
