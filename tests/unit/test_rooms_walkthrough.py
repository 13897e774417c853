"""The typical meeting of docs/floor-control.md, step by step, as the core sees it."""

from __future__ import annotations

import pytest

from rooms import (
    SYSTEM,
    AddDelegation,
    AdmitFromLobby,
    CloseConference,
    Conference,
    CreateConference,
    ErrorCode,
    Event,
    GrantFloor,
    JoinConference,
    LockRoom,
    MuteParticipant,
    Priority,
    ReleaseFloor,
    RequestFloor,
    RevokeFloor,
    Role,
    RoomError,
    SetOpenFloor,
    Settings,
    UnmuteParticipant,
    build_minutes,
)

T = 1_760_000_000.0


def test_the_conversatorio() -> None:
    c = Conference("conversatorio")
    log: list[Event] = []

    def do(command: object, actor: str, at: float) -> list[Event]:
        events = c.execute(command, actor, T + at)  # type: ignore[arg-type]
        log.extend(events)
        return events

    # 1. Created: 3 minutes, warning 30 s before, 10 s of grace. Staff go straight in.
    settings = Settings(default_time_limit=180.0, warning_before=30.0, grace_period=10.0)
    do(CreateConference("Conversatorio Regional Migratorio", settings), SYSTEM, 0)
    for code, name in [("GT", "Guatemala"), ("SV", "El Salvador"), ("CR", "Costa Rica")]:
        do(AddDelegation(code.lower(), name, code), SYSTEM, 0)
    do(JoinConference("chair", "Presidencia (Honduras)", Role.CHAIR), "chair", 1)
    do(JoinConference("tech", "Soporte", Role.TECHNICIAN), "tech", 1)
    assert set(c.participants) == {"chair", "tech"}

    # 2. Ministers, advisers and the observer wait in the lobby; admitted; the room locked.
    arrivals = [("oas", Role.OBSERVER, None)]
    for d in ("gt", "sv", "cr"):
        arrivals += [(f"{d}_min", Role.HEAD, d), (f"{d}_adv", Role.DELEGATE, d)]
    for pid, role, delegation in arrivals:
        do(JoinConference(pid, pid, role, delegation), pid, 2)
    assert len(c.lobby) == 7
    for pid, _, _ in arrivals:
        do(AdmitFromLobby(pid), "chair", 3)
    do(LockRoom(), "chair", 4)
    with pytest.raises(RoomError) as refused:
        c.decide(JoinConference("late", "late", Role.HEAD, "gt"), "late", T + 5)
    assert refused.value.code is ErrorCode.ROOM_LOCKED

    # 3. The chair is always heard; nobody else yet.
    assert c.audible_participants() == {"chair"}

    # 4. Guatemala, then El Salvador, ask for the floor.
    do(RequestFloor("gt"), "gt_min", 10)  # r1
    do(RequestFloor("sv"), "sv_min", 11)  # r2
    assert [(r.delegation_id, c.floor.position(r.request_id)) for r in c.floor.queue()] == [
        ("gt", 1),
        ("sv", 2),
    ]

    # 5. "Tiene la palabra el señor Canciller de Guatemala": warned, grace, cut off.
    do(GrantFloor("r1"), "chair", 20)
    assert c.audible_participants() == {"chair", "gt_min", "gt_adv"}
    assert [e.at - T for e in c.tick(T + 1000)] == [20 + 150, 20 + 180, 20 + 190]
    log.extend(ticked := c.tick(T + 210))
    c.apply_all(ticked)
    assert c.audible_participants() == {"chair"}

    # 6. Costa Rica's right of reply goes ahead of El Salvador.
    do(RequestFloor("cr", Priority.RIGHT_OF_REPLY), "cr_min", 220)  # r3
    assert [r.delegation_id for r in c.floor.queue()] == ["cr", "sv"]

    # 7. One minute for Costa Rica; its minister yields after 40 seconds.
    do(GrantFloor("r3", time_limit=60.0), "chair", 230)
    do(ReleaseFloor("r3"), "cr_min", 270)

    # 8. El Salvador: muted for a while by the technician, then given the floor and cut off.
    do(MuteParticipant("sv_min"), "tech", 280)
    do(UnmuteParticipant("sv_min"), "tech", 290)
    do(GrantFloor("r2"), "chair", 300)
    assert c.is_audible("sv_min")
    do(RevokeFloor("r2", reason="fuera de tema"), "chair", 350)

    # 9. An informal exchange: open floor, then closed again.
    do(SetOpenFloor(True), "chair", 400)
    assert c.audible_participants() == {"chair"} | {
        f"{d}_{r}" for d in ("gt", "sv", "cr") for r in ("min", "adv")
    }
    do(SetOpenFloor(False), "chair", 460)

    # 10. Closed; the minutes.
    do(CloseConference(), "chair", 500)
    minutes = build_minutes(log)
    endings = [(i.delegation, i.duration, i.ended, i.end_reason) for i in minutes.interventions]
    assert endings == [
        ("Guatemala", 190.0, "revoked", "time_limit"),
        ("Costa Rica", 40.0, "released", None),
        ("El Salvador", 50.0, "revoked", "fuera de tema"),
    ]
    assert [(t.delegation, t.speaking_time) for t in minutes.totals] == [
        ("Guatemala", 190.0),
        ("El Salvador", 50.0),
        ("Costa Rica", 40.0),
    ]
    assert Conference.replay("conversatorio", log) == c
