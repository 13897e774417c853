"""Who is seen first: the floor, the chair, then the most recent speakers."""

from __future__ import annotations

from conference.bandwidth import Priorities
from media.allocation import last_n


def test_floor_then_chair_then_recent_speakers_then_the_rest() -> None:
    priorities = Priorities(
        floor=frozenset({"p-gt-1", "p-gt-2"}),
        chair=frozenset({"p-chair"}),
        recent=("p-sv", "p-cr", "p-pa"),
    )
    assert priorities.rank("p-gt-2") == 1
    assert priorities.rank("p-chair") == 2
    assert priorities.rank("p-sv") < priorities.rank("p-cr") < priorities.rank("p-pa")
    assert priorities.rank("p-unknown") > priorities.rank("p-pa")
    owners = ["p-pa", "p-cr", "p-chair", "p-gt-2", "p-sv", "p-gt-1"]
    ranked = priorities.ranked(owners)
    assert ranked == ["p-gt-1", "p-gt-2", "p-chair", "p-sv", "p-cr", "p-pa"]
    # Last-N of 4: the floor's two cameras, the chair, the latest speaker.
    assert last_n(ranked, 4) == {"p-gt-1", "p-gt-2", "p-chair", "p-sv"}
