"""The demo conference comes with a three-item agenda and its rounds of interventions."""

from __future__ import annotations

from rooms import SYSTEM, Conference, ItemStatus
from server.demo import DEMO_CONFERENCE


def test_the_demo_has_a_four_item_agenda_with_pre_registered_speakers() -> None:
    state = Conference(DEMO_CONFERENCE.id)
    for command in DEMO_CONFERENCE.commands():
        state.execute(command, SYSTEM, 1_760_000_000.0)
    items = list(state.agenda.items.values())
    assert [i.status for i in items] == [ItemStatus.UPCOMING] * 4
    assert all({t.language for t in i.titles} == {"es", "en"} for i in items)
    speakers = [("gt", "sv", "cr"), ("cr", "gt", "sv"), ("oea",), ("sv",)]
    assert [i.speakers for i in items] == speakers
    assert [i.budget for i in items] == [300.0, 300.0, 180.0, None]


def test_the_demo_has_the_oas_as_an_observer_on_the_observer_statements_item() -> None:
    state = Conference(DEMO_CONFERENCE.id)
    for command in DEMO_CONFERENCE.commands():
        state.execute(command, SYSTEM, 1_760_000_000.0)
    assert state.delegations["oea"].observer
    assert state.member_delegations() == ["gt", "sv", "cr"]
    assert [i.item_id for i in state.agenda.items.values() if i.observers] == ["observadores"]
