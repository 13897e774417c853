"""The permission matrix, checked exhaustively against what `decide` really does.

For every role and every command kind, the command is issued in a state where
it would succeed: it must succeed exactly when the matrix allows it, and be
rejected as forbidden, changing nothing, otherwise.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from test_rooms_support import T0, meeting, rejects

from rooms import (
    COMMAND_TYPES,
    MATRIX,
    SYSTEM,
    AcceptHandover,
    AcceptRequest,
    AddAgendaItem,
    AddDelegation,
    AdmitFromLobby,
    AnswerRollCall,
    AskSlowDown,
    AssignInterpreter,
    Ballot,
    CancelRequest,
    CastVote,
    CloseChannel,
    CloseConference,
    CloseItem,
    CloseRollCall,
    CloseVote,
    Command,
    Conference,
    CreateConference,
    DeclareReady,
    DenyRequest,
    DesignateVoter,
    ErrorCode,
    GoOffAir,
    GoOnAir,
    GrantExtraTime,
    GrantFloor,
    InscribeSpeaker,
    ItemTitle,
    JoinConference,
    LeaveConference,
    LockRoom,
    MuteParticipant,
    OpenChannel,
    OpenItem,
    OpenVote,
    Presence,
    ProposeConsensus,
    RaiseObjection,
    RejectFromLobby,
    ReleaseFloor,
    RemoveParticipant,
    ReorderRequest,
    RequestFloor,
    RequestHandover,
    RevokeFloor,
    Role,
    Scope,
    SendMessage,
    SetDefaultTimeLimit,
    SetDelegatesMayRequest,
    SetInterpretationSource,
    SetLanguages,
    SetMaxHolders,
    SetOpenFloor,
    SetPresence,
    SetPublicChat,
    SetQuorum,
    SetSpeakingTime,
    StartRecording,
    StartRollCall,
    StopRecording,
    UnassignInterpreter,
    UnbanParticipant,
    UnlockRoom,
    UnmuteParticipant,
    scope_of,
)

# One actor per role; heads and delegates belong to Honduras ("hn").
ACTORS = {
    Role.CHAIR: "chair",
    Role.HEAD: "hn_head",
    Role.DELEGATE: "hn_del",
    Role.TECHNICIAN: "tech",
    Role.OBSERVER: "obs",
    Role.INTERPRETER: "interp",
}


def world() -> Conference:
    """Pending requests (no auto-accept); Honduras lets its delegates act; an interpreter.

    Interpretation: floor in es, en, pt; en and pt channels open; "interp" sits in
    the en booth, "partner" (absent) too.
    """
    conference = meeting(auto_accept=False)
    conference.execute(JoinConference("interp", "I", Role.INTERPRETER), "interp", T0)
    conference.execute(AdmitFromLobby("interp"), "chair", T0)
    conference.execute(SetLanguages(("es", "en", "pt")), SYSTEM, T0)
    conference.execute(OpenChannel("en"), SYSTEM, T0)
    conference.execute(OpenChannel("pt"), SYSTEM, T0)
    conference.execute(AssignInterpreter("interp", "en", ("en", "es", "pt")), SYSTEM, T0)
    conference.execute(SetDelegatesMayRequest("hn", True), "hn_head", T0)
    conference.execute(JoinConference("waiting", "W", Role.OBSERVER), "waiting", T0)
    return conference


def hn_request(conference: Conference, *, accepted: bool = False, granted: bool = False) -> str:
    [event] = conference.execute(RequestFloor("hn"), "hn_head", T0)[:1]
    rid: str = event.request_id  # type: ignore[attr-defined]
    if accepted:
        conference.execute(AcceptRequest(rid), SYSTEM, T0)
    if granted:
        conference.execute(GrantFloor(rid), SYSTEM, T0)
    return rid


def reorder(conference: Conference) -> Command:
    conference.execute(RequestFloor("gt"), SYSTEM, T0)
    return ReorderRequest(hn_request(conference, accepted=True), 1)


def unlock(conference: Conference) -> Command:
    conference.execute(LockRoom(), SYSTEM, T0)
    return UnlockRoom()


def stop_recording(conference: Conference) -> Command:
    conference.execute(StartRecording(), SYSTEM, T0)
    return StopRecording()


def unban(conference: Conference) -> Command:
    conference.execute(RemoveParticipant("gt_head", ban=True), SYSTEM, T0)
    return UnbanParticipant("gt_head")


def unmute(conference: Conference) -> Command:
    conference.execute(MuteParticipant("gt_head"), SYSTEM, T0)
    return UnmuteParticipant("gt_head")


def on_air(conference: Conference, actor: str) -> str:
    """The interpreter on air; the actor speaks for it (None) if it is the interpreter."""
    conference.execute(GoOnAir("interp"), SYSTEM, T0)
    return "interp"


def partner(conference: Conference) -> None:
    conference.execute(JoinConference("partner", "P", Role.INTERPRETER), "partner", T0)
    conference.execute(AdmitFromLobby("partner"), "chair", T0)
    conference.execute(AssignInterpreter("partner", "en", ("en", "es")), SYSTEM, T0)


def partner_on_air(conference: Conference) -> None:
    partner(conference)
    conference.execute(GoOnAir("partner"), SYSTEM, T0)


def handover(conference: Conference, actor: str) -> Command:
    """ "interp" is on air and "partner" asks for the handover."""
    partner(conference)
    conference.execute(GoOnAir("interp"), SYSTEM, T0)
    conference.execute(RequestHandover("partner"), SYSTEM, T0)
    return AcceptHandover(for_interp(actor))


def for_interp(actor: str) -> str | None:
    """Interpreters name nobody (themselves); SYSTEM and the chair name the interpreter."""
    return None if actor == "interp" else "interp"


def item(conference: Conference, *, open_: bool = False) -> str:
    """An agenda item with a budget (opened, if asked); its id."""
    title = (ItemTitle("es", "Punto"),)
    conference.execute(AddAgendaItem("i1", title, budget=300.0), SYSTEM, T0)
    if open_:
        conference.execute(OpenItem("i1"), SYSTEM, T0)
    return "i1"


def roll_call(conference: Conference) -> None:
    conference.execute(StartRollCall(), SYSTEM, T0)


def decision(conference: Conference, command: Command) -> str:
    """The decision opened by `command`; Honduras has designated its delegate as voter."""
    conference.execute(DesignateVoter("hn", "hn_del"), SYSTEM, T0)
    [opened] = conference.execute(command, SYSTEM, T0)
    return opened.decision_id  # type: ignore[attr-defined,no-any-return]


# kind -> (the actor) -> a command that would succeed in `world()` once set up.
SCENARIOS: dict[str, Callable[[Conference, str], Command]] = {
    CloseConference.kind: lambda c, a: CloseConference(),
    LockRoom.kind: lambda c, a: LockRoom(),
    UnlockRoom.kind: lambda c, a: unlock(c),
    StartRecording.kind: lambda c, a: StartRecording(),
    StopRecording.kind: lambda c, a: stop_recording(c),
    SetDefaultTimeLimit.kind: lambda c, a: SetDefaultTimeLimit(99.0),
    SetMaxHolders.kind: lambda c, a: SetMaxHolders(2),
    SetOpenFloor.kind: lambda c, a: SetOpenFloor(True),
    SetPublicChat.kind: lambda c, a: SetPublicChat(True),
    # Everyone may write to its own seat's thread with the technicians.
    SendMessage.kind: lambda c, a: SendMessage(f"seat:{a}", "¿Me escuchan?"),
    AddDelegation.kind: lambda c, a: AddDelegation("mx", "México", "MX"),
    SetDelegatesMayRequest.kind: lambda c, a: SetDelegatesMayRequest("hn", False),
    LeaveConference.kind: lambda c, a: LeaveConference(a),
    SetPresence.kind: lambda c, a: SetPresence("gt_head", Presence.DISCONNECTED),
    DeclareReady.kind: lambda c, a: DeclareReady(a if a != SYSTEM else "gt_head"),
    AdmitFromLobby.kind: lambda c, a: AdmitFromLobby("waiting"),
    RejectFromLobby.kind: lambda c, a: RejectFromLobby("waiting"),
    RemoveParticipant.kind: lambda c, a: RemoveParticipant("gt_head"),
    UnbanParticipant.kind: lambda c, a: unban(c),
    MuteParticipant.kind: lambda c, a: MuteParticipant("gt_head"),
    UnmuteParticipant.kind: lambda c, a: unmute(c),
    RequestFloor.kind: lambda c, a: RequestFloor("hn"),
    CancelRequest.kind: lambda c, a: CancelRequest(hn_request(c)),
    AcceptRequest.kind: lambda c, a: AcceptRequest(hn_request(c)),
    DenyRequest.kind: lambda c, a: DenyRequest(hn_request(c)),
    ReorderRequest.kind: lambda c, a: reorder(c),
    GrantFloor.kind: lambda c, a: GrantFloor(hn_request(c)),
    SetSpeakingTime.kind: lambda c, a: SetSpeakingTime(hn_request(c, granted=True), 30.0),
    RevokeFloor.kind: lambda c, a: RevokeFloor(hn_request(c, granted=True)),
    ReleaseFloor.kind: lambda c, a: ReleaseFloor(hn_request(c, granted=True)),
    SetLanguages.kind: lambda c, a: SetLanguages(("es", "en", "pt", "fr")),
    OpenChannel.kind: lambda c, a: OpenChannel("es"),
    CloseChannel.kind: lambda c, a: CloseChannel("pt"),
    AssignInterpreter.kind: lambda c, a: AssignInterpreter("someone", "pt", ("pt", "es")),
    UnassignInterpreter.kind: lambda c, a: UnassignInterpreter("interp"),
    SetInterpretationSource.kind: lambda c, a: SetInterpretationSource("pt", for_interp(a)),
    GoOnAir.kind: lambda c, a: GoOnAir(for_interp(a)),
    GoOffAir.kind: lambda c, a: GoOffAir(for_interp(on_air(c, a) and a)),
    RequestHandover.kind: lambda c, a: (partner_on_air(c), RequestHandover(for_interp(a)))[1],
    AcceptHandover.kind: lambda c, a: handover(c, a),
    AskSlowDown.kind: lambda c, a: AskSlowDown(for_interp(a)),
    AddAgendaItem.kind: lambda c, a: AddAgendaItem("i9", (ItemTitle("es", "Clausura"),)),
    InscribeSpeaker.kind: lambda c, a: InscribeSpeaker(item(c), "gt"),
    OpenItem.kind: lambda c, a: OpenItem(item(c)),
    CloseItem.kind: lambda c, a: CloseItem(item(c, open_=True)),
    GrantExtraTime.kind: lambda c, a: (item(c, open_=True), GrantExtraTime("gt", 30.0))[1],
    SetQuorum.kind: lambda c, a: SetQuorum(count=2),
    StartRollCall.kind: lambda c, a: StartRollCall(),
    AnswerRollCall.kind: lambda c, a: (roll_call(c), AnswerRollCall("hn"))[1],
    CloseRollCall.kind: lambda c, a: (roll_call(c), CloseRollCall())[1],
    ProposeConsensus.kind: lambda c, a: ProposeConsensus("Se adopta la declaración"),
    RaiseObjection.kind: lambda c, a: RaiseObjection(decision(c, ProposeConsensus("T")), "hn"),
    DesignateVoter.kind: lambda c, a: DesignateVoter("hn", "hn_del"),
    OpenVote.kind: lambda c, a: OpenVote("¿Se adopta la declaración?"),
    CastVote.kind: lambda c, a: CastVote(decision(c, OpenVote("T")), Ballot.YES, "hn"),
    CloseVote.kind: lambda c, a: CloseVote(decision(c, OpenVote("T"))),
}
# Joining is checked apart: the actor of a join is not in the room yet.
SPECIAL = {CreateConference.kind, JoinConference.kind}


def test_every_command_kind_has_a_scenario() -> None:
    assert set(SCENARIOS) | SPECIAL == set(COMMAND_TYPES)


@pytest.mark.parametrize("kind", sorted(SCENARIOS))
@pytest.mark.parametrize("role", list(Role))
def test_matrix_is_what_decide_enforces(role: Role, kind: str) -> None:
    conference = world()
    actor = ACTORS[role]
    command = SCENARIOS[kind](conference, actor)
    if scope_of(role, kind) is None:
        rejects(conference, command, actor, ErrorCode.FORBIDDEN)
    else:
        assert conference.execute(command, actor, T0 + 1)


@pytest.mark.parametrize("kind", sorted(SCENARIOS))
def test_the_system_may_do_everything(kind: str) -> None:
    conference = world()
    command = SCENARIOS[kind](conference, SYSTEM)
    if isinstance(command, LeaveConference):
        command = LeaveConference("obs")
    if isinstance(command, SendMessage):
        # Messages are people's words: the service never writes one.
        rejects(conference, SendMessage("everyone", "x"), SYSTEM, ErrorCode.FORBIDDEN)
        return
    assert conference.execute(command, SYSTEM, T0 + 1)


@pytest.mark.parametrize("role", list(Role))
def test_everyone_joins_for_themselves_only(role: Role) -> None:
    conference = meeting()
    delegation = "gt" if role.needs_delegation else None
    assert scope_of(role, JoinConference.kind) is Scope.SELF
    assert conference.execute(JoinConference("me", "Me", role, delegation), "me", T0)
    rejects(conference, JoinConference("you", "You", role, delegation), "me", ErrorCode.FORBIDDEN)
    rejects(conference, LeaveConference("gt_head"), ACTORS[role], ErrorCode.FORBIDDEN)


def test_only_the_system_creates_a_conference() -> None:
    assert all(CreateConference.kind not in kinds for kinds in MATRIX.values())


def test_the_chair_may_do_all_but_release_interpret_and_answer_for_a_delegation() -> None:
    chair = set(MATRIX[Role.CHAIR])
    interpreting = {
        SetInterpretationSource.kind,
        GoOnAir.kind,
        RequestHandover.kind,
        AcceptHandover.kind,
        AskSlowDown.kind,
    }
    service_only = {CreateConference.kind, ReleaseFloor.kind, SetPresence.kind}
    # A delegation's ballot, objection and voter are its own (the chair marks roll calls only).
    delegations_own = {CastVote.kind, RaiseObjection.kind, DesignateVoter.kind}
    assert chair == set(COMMAND_TYPES) - service_only - interpreting - delegations_own


# Scopes --------------------------------------------------------------------------


def test_heads_act_for_their_own_delegation_only() -> None:
    conference = world()
    gt = conference.execute(RequestFloor("gt"), "gt_head", T0)[0].request_id  # type: ignore[attr-defined]
    rejects(conference, CancelRequest(gt), "hn_head", ErrorCode.FORBIDDEN)
    rejects(conference, RequestFloor("cr"), "hn_head", ErrorCode.FORBIDDEN)
    rejects(conference, SetDelegatesMayRequest("gt", True), "hn_head", ErrorCode.FORBIDDEN)
    conference.execute(GrantFloor(gt), "chair", T0)
    rejects(conference, ReleaseFloor(gt), "hn_head", ErrorCode.FORBIDDEN)


def test_delegates_act_only_while_their_head_allows() -> None:
    conference = world()
    rid = hn_request(conference, granted=True)
    conference.execute(SetDelegatesMayRequest("hn", False), "hn_head", T0)
    rejects(conference, ReleaseFloor(rid), "hn_del", ErrorCode.FORBIDDEN)
    conference.execute(SetDelegatesMayRequest("hn", True), "hn_head", T0)
    conference.execute(ReleaseFloor(rid), "hn_del", T0)


def test_technicians_may_not_act_on_a_chair() -> None:
    conference = world()
    for command in (MuteParticipant("chair"), RemoveParticipant("chair2")):
        rejects(conference, command, "tech", ErrorCode.FORBIDDEN)
    conference.execute(MuteParticipant("chair"), "chair2", T0)
    rejects(conference, UnmuteParticipant("chair"), "tech", ErrorCode.FORBIDDEN)


def test_forbidden_comes_before_not_found() -> None:
    """An actor without the right learns nothing about what exists."""
    conference = world()
    rejects(conference, GrantFloor("r99"), "hn_head", ErrorCode.FORBIDDEN)
    rejects(conference, MuteParticipant("ghost"), "obs", ErrorCode.FORBIDDEN)
