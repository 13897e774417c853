"""Property-based tests: random command sequences, checked against the invariants.

Whatever is asked, by whomever, in whatever order, a conference keeps these:
never more holders than allowed; one open request per delegation; a speakers
list with contiguous positions, ordered by priority then arrival unless the
chair reordered it; every granted floor ends exactly once; only legal status
transitions; time never runs backwards; a rejected command changes nothing and
`decide` never mutates; events survive JSON; replaying the log gives the same
state.

Three generators: `any_step` sends every kind of command from anyone (mostly
rejected: that is the point), `floor_step` sends floor commands from the
people entitled to them, so that sessions reach deep floor states, and
`business_step` runs the order of business (agenda items, budgets, roll calls,
votes and consensus) among floor steps, from anyone now and then.

The order of business adds: at most one agenda item open, and it is the current
one; a delegation's remaining budget is never negative and a budgeted turn never
has more than what was left; one ballot and one objection per delegation; a
closed vote's result is the count of its recorded ballots. Observer delegations
(here the OAS, `oea`) never have a ballot or an objection, never count for the
quorum, and are listed or heard only while an item open to observers is current.
Sub-items are one level deep and every item has one number (1, 2, 2.1).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_rooms_support import T0, meeting_and_log

from rooms import (
    SYSTEM,
    TRANSITIONS,
    AcceptRequest,
    AddAgendaItem,
    AddDelegation,
    AdmitFromLobby,
    AnswerRollCall,
    Ballot,
    CancelRequest,
    CastVote,
    CloseConference,
    CloseItem,
    CloseRollCall,
    CloseVote,
    Command,
    Conference,
    DenyRequest,
    DesignateVoter,
    Event,
    FloorAccepted,
    FloorEvent,
    FloorGranted,
    FloorReleased,
    FloorRequested,
    FloorRevoked,
    GrantExtraTime,
    GrantFloor,
    InscribeSpeaker,
    ItemStatus,
    ItemTitle,
    JoinConference,
    LeaveConference,
    LockRoom,
    MessageSent,
    MuteParticipant,
    OpenItem,
    OpenVote,
    Presence,
    Priority,
    ProposeConsensus,
    RaiseObjection,
    RejectFromLobby,
    ReleaseFloor,
    RemoveParticipant,
    ReorderRequest,
    RequestFloor,
    RequestStatus,
    RevokeFloor,
    Role,
    RoomError,
    SendMessage,
    SetDelegatesMayRequest,
    SetMaxHolders,
    SetOpenFloor,
    SetPresence,
    SetPublicChat,
    SetQuorum,
    SetSpeakingTime,
    StartRollCall,
    UnlockRoom,
    UnmuteParticipant,
    VoteClosed,
    build_minutes,
    may_read,
)

PEOPLE = ["chair", "chair2", "tech", "obs", "hn_head", "hn_del", "gt_head", "cr_head"]
PEOPLE += ["oea_head"]  # the head of an observer delegation
NEWCOMERS = {
    "x_head": (Role.HEAD, "cr"),
    "x_del": (Role.DELEGATE, "gt"),
    "x_obs": (Role.OBSERVER, None),
    "x_chair": (Role.CHAIR, None),
}
EVERYONE = [*PEOPLE, *NEWCOMERS]
ACTORS = [*EVERYONE, SYSTEM, "ghost"]
CHAIRS = ["chair", "chair2", "x_chair"]
HEADS = {"hn": "hn_head", "gt": "gt_head", "cr": "cr_head", "oea": "oea_head"}  # oea observes
DELEGATIONS = [*HEADS, "mx"]  # mx does not exist
LIMITS = [None, 5.0, 30.0, 90.0]
ELAPSED = [0.0, 1.0, 1.0, 4.0, 4.0, 20.0, 75.0]


class Tick:
    """The service's timer fires."""


Step = tuple[Command, str] | Tick


class Picker:
    """Draws targets from the current state: mostly ones a command fits, sometimes stale."""

    def __init__(self, data: st.DataObject, conference: Conference) -> None:
        self.data, self.conference = data, conference
        floor = conference.floor
        self.waiting = [r.request_id for r in [*floor.pending(), *floor.queue()]]
        self.queued = [r.request_id for r in floor.queue()]
        self.holders = [r.request_id for r in floor.holders()]

    def one(self, options: list[str]) -> str:
        return self.data.draw(st.sampled_from(options))

    def mostly(self, likely: list[str], anything: list[str]) -> str:
        """One of `likely` four times in five (when there is one), else one of `anything`."""
        usual = likely and self.data.draw(st.integers(0, 4)) > 0
        return self.one(likely if usual else anything)

    def request(self, fitting: list[str]) -> str:
        return self.mostly(fitting, [*self.conference.floor.requests, "r99"])

    def delegation_of(self, request_id: str) -> str:
        request = self.conference.floor.requests.get(request_id)
        return request.delegation_id if request else self.one(DELEGATIONS)

    def priority(self) -> Priority:
        return self.data.draw(st.sampled_from(Priority))

    def limit(self) -> float | None:
        return self.data.draw(st.sampled_from(LIMITS))

    def position(self) -> int:
        return self.data.draw(st.integers(1, max(len(self.queued), 1)))

    def grant(self, request_id: str) -> GrantFloor:
        limit = self.limit()
        return GrantFloor(
            request_id, limit, unlimited=limit is None and self.data.draw(st.booleans())
        )


def floor_step(data: st.DataObject, conference: Conference) -> Step:
    """Floor commands from those entitled to them (and the timer)."""
    pick = Picker(data, conference)
    # Lean towards what the state makes possible, so that sessions go somewhere.
    likely = ["request", "tick", *["grant"] * bool(pick.waiting)]
    likely += ["reorder", "reorder"] * (len(pick.queued) > 1)
    likely += ["release", "release", "set_time", "revoke"] * bool(pick.holders)
    kind = pick.one([*likely * 3, "accept", "deny", "cancel", "max_holders", "presence"])
    if kind == "tick":
        return Tick()
    if kind == "presence":  # a connection drops, is lost, comes back
        return SetPresence(pick.one(PEOPLE), pick.one(list(Presence))), SYSTEM
    chair = pick.one(["chair", "chair2"])
    match kind:
        case "request":
            delegation = pick.one(list(HEADS))
            actor = pick.one([HEADS[delegation], HEADS[delegation], chair])
            return RequestFloor(delegation, pick.priority()), actor
        case "release" | "cancel":
            request_id = pick.request(pick.holders if kind == "release" else pick.waiting)
            command = ReleaseFloor if kind == "release" else CancelRequest
            return command(request_id), HEADS.get(pick.delegation_of(request_id), "hn_head")
        case "max_holders":
            return SetMaxHolders(data.draw(st.integers(1, 3))), chair
    build: dict[str, Callable[[], Command]] = {
        "grant": lambda: pick.grant(pick.request(pick.waiting)),
        "accept": lambda: AcceptRequest(pick.request(pick.waiting)),
        "deny": lambda: DenyRequest(pick.request(pick.waiting)),
        "reorder": lambda: ReorderRequest(pick.request(pick.queued), pick.position()),
        "revoke": lambda: RevokeFloor(pick.request(pick.holders)),
        "set_time": lambda: SetSpeakingTime(pick.request(pick.holders), pick.limit()),
    }
    return build[kind](), chair


def any_step(data: st.DataObject, conference: Conference) -> Step:
    """Any command from anyone: the room, the lobby, the floor, settings."""
    pick = Picker(data, conference)
    kind = pick.one(
        [
            *["floor"] * 6,
            *["join", "admit"] * 2,
            *["leave", "remove", "reject", "mute", "unmute", "lock", "unlock"],
            *["open_floor", "delegates_may_request", "presence"],
            *["message"] * 2,
            "public_chat",
        ]
    )
    if kind == "floor":
        step = floor_step(data, conference)
        if isinstance(step, Tick):
            return step
        return step[0], pick.mostly([step[1]], ACTORS)  # sometimes a usurper
    chairs = [p for p in CHAIRS if p in conference.participants] or CHAIRS
    chair = pick.mostly(chairs, ACTORS)
    if kind in ("lock", "unlock"):
        return (LockRoom() if kind == "lock" else UnlockRoom()), chair
    person = pick.one(EVERYONE)
    match kind:
        case "join":
            role, delegation = NEWCOMERS.get(person, (Role.OBSERVER, None))
            return JoinConference(person, person.upper(), role, delegation), person
        case "leave":
            return LeaveConference(person), pick.mostly([person], ACTORS)
        case "delegates_may_request":
            delegation = pick.one(DELEGATIONS)
            allowed = data.draw(st.booleans())
            actor = pick.mostly([HEADS.get(delegation, "hn_head"), chair], ACTORS)
            return SetDelegatesMayRequest(delegation, allowed), actor
        case "open_floor":
            return SetOpenFloor(data.draw(st.booleans())), chair
        case "public_chat":
            return SetPublicChat(data.draw(st.booleans())), chair
        case "message":
            to = pick.one(["everyone", f"seat:{person}", *(f"delegation:{d}" for d in DELEGATIONS)])
            return SendMessage(to, "texto"), pick.mostly([person, chair, "tech"], ACTORS)
        case "presence":
            return SetPresence(person, pick.one(list(Presence))), pick.mostly([SYSTEM], ACTORS)
    by_chair: dict[str, Command] = {
        "admit": AdmitFromLobby(person),
        "reject": RejectFromLobby(person),
        "remove": RemoveParticipant(person),
        "mute": MuteParticipant(person),
        "unmute": UnmuteParticipant(person),
    }
    return by_chair[kind], chair


ITEMS = ["i1", "i2", "i3", "i9"]  # i9 is never added
BUDGETS = [None, 10.0, 40.0]


def business_step(data: st.DataObject, conference: Conference) -> Step:
    """The order of business among floor steps; now and then from anyone."""
    pick = Picker(data, conference)
    kind = pick.one(
        [
            *["floor"] * 6,
            *["add", "inscribe", "open", "close", "extra"] * 2,
            *["quorum", "roll_call", "answer", "close_roll_call"],
            *["propose", "object", "designate", "open_vote", "vote", "vote", "close_vote"],
        ]
    )
    if kind == "floor":
        return floor_step(data, conference)
    chair = pick.one(["chair", "chair2"])
    delegation = pick.mostly(list(HEADS), DELEGATIONS)
    decisions = [*conference.votes.decisions, "d99"]
    current = conference.votes.open_decision()
    decision = pick.mostly([current.decision_id] if current else [], decisions)
    items = conference.agenda.items.values()
    upcoming = [i.item_id for i in items if i.status is ItemStatus.UPCOMING]
    item = pick.mostly(upcoming if kind in ("open", "inscribe") else [], ITEMS)
    if kind == "close" and conference.agenda.current is not None:
        item = pick.mostly([conference.agenda.current.item_id], ITEMS)
    voter = pick.one([HEADS.get(delegation, "hn_head"), "hn_del", chair])
    step: tuple[Command, str]
    match kind:
        case "add":
            budget = data.draw(st.sampled_from(BUDGETS))
            observers = data.draw(st.booleans())
            parent = data.draw(st.sampled_from([None, None, *ITEMS]))
            if parent == item:
                parent = None
            titles = (ItemTitle("es", item),)
            add = AddAgendaItem(item, titles, budget=budget, observers=observers, parent=parent)
            step = add, chair
        case "inscribe":
            step = InscribeSpeaker(item, delegation), chair
        case "open":
            step = OpenItem(item), chair
        case "close":
            step = CloseItem(item, force=data.draw(st.booleans())), chair
        case "extra":
            step = GrantExtraTime(delegation, data.draw(st.sampled_from([5.0, 20.0]))), chair
        case "quorum":
            step = SetQuorum(count=data.draw(st.integers(1, 3)), fraction=None), chair
        case "roll_call":
            step = StartRollCall(), chair
        case "answer":
            step = AnswerRollCall(delegation), pick.one([HEADS.get(delegation, "hn_head"), chair])
        case "close_roll_call":
            step = CloseRollCall(), chair
        case "propose":
            step = ProposeConsensus("Se adopta", data.draw(st.sampled_from([5.0, 30.0]))), chair
        case "open_vote":
            step = OpenVote("¿Se adopta?"), chair
        case "object":
            step = RaiseObjection(decision), voter
        case "designate":
            step = DesignateVoter("hn", pick.one(["hn_del", "hn_head", "ghost"])), "hn_head"
        case "vote":
            ballot = data.draw(st.sampled_from(Ballot))
            step = CastVote(decision, ballot), voter
        case _:
            step = CloseVote(decision), chair
    return step[0], pick.mostly([step[1]], ACTORS)  # sometimes a usurper


conference_settings = st.fixed_dictionaries(
    {
        "default_time_limit": st.sampled_from([None, 20.0, 60.0]),
        "warning_before": st.sampled_from([0.0, 5.0]),
        "grace_period": st.sampled_from([0.0, 3.0]),
        "max_holders": st.integers(1, 3),
        "lobby_enabled": st.booleans(),
        "auto_accept": st.booleans(),
    }
)


class Session:
    """A conference, its log, and what the invariants need to remember about it."""

    def __init__(self, config: dict[str, object]) -> None:
        self.conference, self.log = meeting_and_log(**config)
        self.log += self.conference.execute(
            AddDelegation("oea", "OEA", "OEA", observer=True), SYSTEM, T0
        )
        join = JoinConference("oea_head", "Secretario General", Role.HEAD, "oea")
        self.log += self.conference.execute(join, "oea_head", T0)
        if "oea_head" in self.conference.lobby:
            self.log += self.conference.execute(AdmitFromLobby("oea_head"), "chair", T0)
        self.now = T0
        self.reordered = False
        self.arrival: dict[str, int] = {}  # request id -> order of acceptance
        self.ends: dict[str, int] = {}  # granted request id -> how many times it ended
        self.results: list[VoteClosed] = []

    def step(self, step: Step) -> None:
        conference = self.conference
        if isinstance(step, Tick):
            events = conference.tick(self.now)
        else:
            command, actor = step
            before = conference.copy()
            try:
                events = conference.decide(command, actor, self.now)
            except RoomError:
                assert conference == before, "a rejected command changed the state"
                return
            assert conference == before, "decide mutated the state"
            self.reordered |= isinstance(command, ReorderRequest) and bool(events)
            for event in events:
                if isinstance(event, MessageSent):
                    assert may_read(before, actor, event.thread), "wrote where it may not read"
                    assert event.thread != "everyone" or before.settings.public_chat
        conference.apply_all(events)
        self.record(events)
        self.check()

    def record(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, FloorAccepted):
                self.arrival[event.request_id] = len(self.arrival)
            elif isinstance(event, FloorGranted):
                self.ends[event.request_id] = 0
            elif isinstance(event, FloorReleased | FloorRevoked):
                self.ends[event.request_id] += 1
            elif isinstance(event, VoteClosed):
                self.results.append(event)
        self.log += events

    def check(self) -> None:
        conference, floor = self.conference, self.conference.floor
        assert len(floor.holders()) <= conference.settings.max_holders

        open_delegations = [r.delegation_id for r in floor.requests.values() if r.status.is_open]
        assert len(open_delegations) == len(set(open_delegations)), "two open requests"

        queue = conference.snapshot()["queue"]
        assert isinstance(queue, list)
        positions = [entry["position"] for entry in queue]  # type: ignore[index]
        assert positions == list(range(1, len(queue) + 1)), "positions not contiguous"
        accepted = [r for r in floor.requests.values() if r.status is RequestStatus.ACCEPTED]
        assert {r.request_id for r in floor.queue()} == {r.request_id for r in accepted}
        if not self.reordered:
            keys = [(r.priority.rank, self.arrival[r.request_id]) for r in floor.queue()]
            assert keys == sorted(keys), "not ordered by priority, then arrival"

        for request in floor.requests.values():
            assert (request.turn is not None) == (request.request_id in self.ends)
        assert all(n <= 1 for n in self.ends.values()), "a floor ended twice"
        ended = {r.request_id for r in floor.requests.values() if r.status.is_open is False}
        assert all(self.ends[rid] == (rid in ended) for rid in self.ends)

        for pid in conference.audible_participants():
            participant = conference.participants[pid]
            assert pid not in conference.muted
            if participant.role is not Role.CHAIR:
                assert participant.role.speaks_for_delegation and participant.delegation_id
                heard = floor.holds_floor(participant.delegation_id)
                assert conference.settings.open_floor or heard
                assert heard or not conference.delegations[participant.delegation_id].observer

        for request in floor.holders():
            assert request.turn is not None
            paused = request.turn.paused_at is not None
            assert paused == (not conference.holder_connected(request)), "clock runs while away"

        self.check_business()

        deadline = conference.next_deadline()
        if deadline is not None:
            assert conference.clock is not None and deadline > conference.clock
            assert conference.tick((conference.clock + deadline) / 2) == []
            assert conference.tick(deadline) != []

    def check_business(self) -> None:
        conference, agenda = self.conference, self.conference.agenda
        open_items = [i for i in agenda.items.values() if i.status is ItemStatus.OPEN]
        assert len(open_items) <= 1, "two agenda items open"
        assert agenda.current == (open_items[0] if open_items else None)
        for item_id in agenda.items:
            for delegation_id in conference.delegations:
                remaining = agenda.remaining(item_id, delegation_id)
                assert remaining is None or remaining >= 0, "a negative budget"
                assert agenda.spent(item_id, delegation_id) >= 0
        for request in conference.floor.holders():
            item_id = agenda.billed_to(request.request_id)
            assert request.turn is not None
            allowance = (
                None if item_id is None else agenda.allowance(item_id, request.delegation_id)
            )
            if allowance is not None and item_id is not None:
                left = allowance - agenda.spent(item_id, request.delegation_id)
                assert request.turn.time_limit is not None, "an unlimited turn on a budget"
                assert request.turn.time_limit <= left + 1e-6, "a turn longer than the budget"
        numbers = [number for number, _ in agenda.in_order()]
        assert sorted(i.item_id for _, i in agenda.in_order()) == sorted(agenda.items)
        assert len(numbers) == len(set(numbers)), "two items with one number"
        for item in agenda.items.values():
            if item.parent is not None:  # one level of sub-items
                assert agenda.items[item.parent].parent is None, "a sub-item of a sub-item"
        observers = {d for d, delegation in conference.delegations.items() if delegation.observer}
        listed = {r.delegation_id for r in conference.floor.requests.values() if r.status.is_open}
        if listed & observers:
            assert agenda.current is not None and agenda.current.observers, "observer off its item"
        roll_call = conference.snapshot()["roll_call"]
        assert isinstance(roll_call, dict)
        members = len(conference.delegations) - len(observers)
        assert roll_call["required"] == conference.rollcall.quorum.required(members)
        assert not observers & {*roll_call["present"], *roll_call["absent"]}  # type: ignore[misc]
        assert not observers & set(conference.rollcall.answered), "an observer answered"
        for decision in conference.votes.decisions.values():
            assert not observers & {d for d, _ in decision.ballots}, "an observer's ballot"
            assert not observers & set(decision.objections), "an observer's objection"
            voters = [delegation_id for delegation_id, _ in decision.ballots]
            assert len(voters) == len(set(voters)), "two ballots from one delegation"
            assert len(decision.objections) == len(set(decision.objections))
        assert sum(d.open for d in conference.votes.decisions.values()) <= 1
        for result in self.results:
            decision = conference.votes.decisions[result.decision_id]
            counts = tuple(decision.count(b) for b in (Ballot.YES, Ballot.NO, Ballot.ABSTAIN))
            assert counts == (result.yes, result.no, result.abstain), "result is not the ballots"
            assert result.adopted == (result.yes > result.no) == decision.adopted

    def close_and_check_log(self) -> None:
        self.record(self.conference.execute(CloseConference(), SYSTEM, self.now + 1))
        assert all(n == 1 for n in self.ends.values()), "a granted floor never ended"
        assert not any(r.status.is_open for r in self.conference.floor.requests.values())
        replayed = Conference(self.conference.conference_id)
        for event in self.log:
            assert replayed.clock is None or event.at >= replayed.clock, "time ran backwards"
            assert Event.from_dict(json.loads(json.dumps(event.to_dict()))) == event
            if isinstance(event, FloorEvent) and not isinstance(event, FloorRequested):
                before = replayed.floor.requests[event.request_id].status
                replayed.apply(event)
                after = replayed.floor.requests[event.request_id].status
                assert after == before or after in TRANSITIONS[before], (before, after)
            else:
                replayed.apply(event)
        assert replayed == self.conference
        assert replayed.snapshot() == self.conference.snapshot()
        assert all(e.type != MessageSent.type for e in build_minutes(self.log).record)
        for i in build_minutes(self.log).interventions:
            # Billed: the floor's length less the time without a connection.
            assert i.end is not None and i.duration is not None
            assert i.duration == max(0.0, i.end - i.start - i.disconnected)
            assert 0.0 <= i.disconnected <= i.end - i.start


def run(config: dict[str, object], data: st.DataObject, draw: Callable[..., Step]) -> Session:
    session = Session(config)
    for _ in range(data.draw(st.integers(5, 50), label="steps")):
        session.now += data.draw(st.sampled_from(ELAPSED), label="elapsed")
        session.step(draw(data, session.conference))
    session.close_and_check_log()
    return session


PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(conference_settings, st.data())
def test_floor_sessions_keep_every_invariant(
    config: dict[str, object], data: st.DataObject
) -> None:
    run(config, data, floor_step)


@PROPERTY
@given(conference_settings, st.data())
def test_anything_from_anyone_keeps_every_invariant(
    config: dict[str, object], data: st.DataObject
) -> None:
    run(config, data, any_step)


@PROPERTY
@given(conference_settings, st.data())
def test_the_order_of_business_keeps_every_invariant(
    config: dict[str, object], data: st.DataObject
) -> None:
    run(config, data, business_step)
