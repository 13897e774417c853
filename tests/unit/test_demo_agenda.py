"""The demo conference comes with a three-item agenda and its rounds of interventions."""

from __future__ import annotations

from rooms import SYSTEM, Conference, ItemStatus
from server.demo import DEMO_CONFERENCE


def test_the_demo_has_a_three_item_agenda_with_pre_registered_speakers() -> None:
    state = Conference(DEMO_CONFERENCE.id)
    for command in DEMO_CONFERENCE.commands():
        state.execute(command, SYSTEM, 1_760_000_000.0)
    items = list(state.agenda.items.values())
    assert [i.status for i in items] == [ItemStatus.UPCOMING] * 3
    assert all({t.language for t in i.titles} == {"es", "en"} for i in items)
    assert [i.speakers for i in items] == [("gt", "sv", "cr"), ("cr", "gt", "sv"), ("sv",)]
    assert [i.budget for i in items] == [300.0, 300.0, None]
