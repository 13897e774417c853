"""The "ready" marker: a seat's page says its camera and microphone check passed.

Said from the lobby (where the check happens) or the room, only for oneself,
once; shown on the lobby entry and the participant, kept through admission,
gone with the seat.
"""

from __future__ import annotations

from test_rooms_support import T0, meeting, rejects

from rooms import (
    SYSTEM,
    AdmitFromLobby,
    Conference,
    DeclareReady,
    DevicesChecked,
    ErrorCode,
    JoinConference,
    LeaveConference,
    RejectFromLobby,
    Role,
)


def lobby_entry(conference: Conference, pid: str) -> dict[str, object]:
    lobby = conference.snapshot()["lobby"]
    assert isinstance(lobby, list)
    [entry] = [e for e in lobby if isinstance(e, dict) and e["participant_id"] == pid]
    return entry


def participant(conference: Conference, pid: str) -> dict[str, object]:
    people = conference.snapshot()["participants"]
    assert isinstance(people, list)
    [entry] = [p for p in people if isinstance(p, dict) and p["participant_id"] == pid]
    return entry


def waiting_head() -> Conference:
    """A meeting with the lobby on, and a second Guatemalan waiting in it."""
    conference = meeting(lobby_enabled=True)
    conference.execute(JoinConference("gt_del", "Asesora", Role.DELEGATE, "gt"), "gt_del", T0)
    assert "gt_del" in conference.lobby
    return conference


def test_a_waiting_participant_says_it_is_ready_and_the_lobby_entry_shows_it() -> None:
    conference = waiting_head()
    assert lobby_entry(conference, "gt_del")["ready"] is False
    [event] = conference.execute(DeclareReady(), "gt_del", T0 + 1)
    assert event == DevicesChecked("gt_del", at=T0 + 1, actor="gt_del")
    assert lobby_entry(conference, "gt_del")["ready"] is True
    # Admitted, it stays ready.
    conference.execute(AdmitFromLobby("gt_del"), "chair", T0 + 2)
    assert participant(conference, "gt_del")["ready"] is True
    assert participant(conference, "gt_head")["ready"] is False


def test_only_for_oneself_and_only_once() -> None:
    conference = waiting_head()
    rejects(conference, DeclareReady("gt_head"), "gt_del", ErrorCode.FORBIDDEN)
    rejects(conference, DeclareReady("gt_del"), "chair", ErrorCode.FORBIDDEN)
    rejects(conference, DeclareReady(), "nobody", ErrorCode.FORBIDDEN)
    conference.execute(DeclareReady("gt_del"), "gt_del", T0)
    rejects(conference, DeclareReady(), "gt_del", ErrorCode.INVALID_STATE)
    # The service may say it for a seat (a resumed session); not for a stranger.
    conference.execute(DeclareReady("cr_head"), SYSTEM, T0)
    rejects(conference, DeclareReady("ghost"), SYSTEM, ErrorCode.NOT_FOUND)


def test_the_marker_goes_with_the_seat() -> None:
    conference = waiting_head()
    conference.execute(DeclareReady(), "gt_del", T0)
    conference.execute(RejectFromLobby("gt_del"), "chair", T0)
    assert "gt_del" not in conference.ready
    conference.execute(DeclareReady(), "hn_head", T0)
    conference.execute(LeaveConference("hn_head"), "hn_head", T0)
    conference.execute(JoinConference("hn_head", "Canciller", Role.HEAD, "hn"), "hn_head", T0)
    assert "hn_head" not in conference.ready


def test_replay_gives_the_same_readiness() -> None:
    conference = waiting_head()
    log = conference.execute(DeclareReady(), "gt_del", T0)
    replayed = conference.copy()
    assert replayed == conference
    other = waiting_head()
    other.apply_all(log)
    assert other == conference and other.ready == {"gt_del"}
