"""Who muted: the snapshot says it, so that no page blames the chair for a technician."""

from __future__ import annotations

from test_rooms_support import T0, meeting

from rooms import SYSTEM, MuteParticipant, UnmuteParticipant


def muted_by(snapshot: dict[str, object], pid: str) -> object:
    rows = snapshot["participants"]
    assert isinstance(rows, list)
    return next(p["muted_by"] for p in rows if p["participant_id"] == pid)


def test_the_snapshot_names_the_role_that_muted() -> None:
    conference = meeting()
    assert muted_by(conference.snapshot(), "gt_head") is None
    conference.execute(MuteParticipant("gt_head"), "tech", T0)
    assert muted_by(conference.snapshot(), "gt_head") == "technician"
    conference.execute(UnmuteParticipant("gt_head"), "chair", T0)
    conference.execute(MuteParticipant("gt_head"), "chair", T0)
    assert muted_by(conference.snapshot(), "gt_head") == "chair"
    conference.execute(MuteParticipant("cr_head"), SYSTEM, T0)
    assert muted_by(conference.snapshot(), "cr_head") == "system"
