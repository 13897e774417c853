"""The conference: membership, lobby, settings and floor, driven by events.

Decide, then apply:

    events = conference.decide(command, actor, now)   # pure; raises RoomError
    ... persist and broadcast events ...
    conference.apply_all(events)                       # the only mutation

`execute` does both at once. `tick(now)` returns the time events that are due
(warning, overtime, automatic revoke) and `next_deadline()` says when to call
it next. Nothing here reads a clock: `now` (unix seconds) is always given, and
within one conference time never runs backwards (an earlier `now` counts as the
time of the last event).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from . import decisions
from ._checks import check_time
from ._codec import JSON, encode
from .agenda import Agenda
from .commands import Command
from .delegation import Delegation
from .events import (
    AgendaEvent,
    ConferenceClosed,
    ConferenceCreated,
    DecisionEvent,
    DelegatesMayRequestChanged,
    DelegationAdded,
    DevicesChecked,
    Event,
    FloorEvent,
    InterpretationEvent,
    MessageSent,
    ParticipantAdmitted,
    ParticipantJoined,
    ParticipantLeft,
    ParticipantMuted,
    ParticipantPresenceChanged,
    ParticipantRejected,
    ParticipantRemoved,
    ParticipantUnbanned,
    ParticipantUnmuted,
    ParticipantWaiting,
    RecordingStarted,
    RecordingStopped,
    RollCallEvent,
    RoomLocked,
    RoomUnlocked,
    SettingsChanged,
    SystemReason,
)
from .floor import FloorControl, FloorRequest
from .interpretation import Interpretation
from .lobby import Lobby
from .messages import Messages
from .participant import Participant
from .permissions import SYSTEM
from .presence import Presence
from .roles import Role
from .rollcall import RollCall
from .settings import Settings
from .votes import Votes

__all__ = ["Conference"]


class Conference:
    def __init__(self, conference_id: str) -> None:
        self.conference_id = conference_id
        self.title: str | None = None  # set by conference.created
        self.settings = Settings()
        self.closed = False
        self.locked = False
        self.recording = False
        self.clock: float | None = None  # time of the last applied event
        self.lobby = Lobby()
        self.floor = FloorControl()
        self.interpretation = Interpretation()
        # The order of business: the agenda, the roll call, decisions on record.
        self.agenda = Agenda()
        self.rollcall = RollCall()
        self.votes = Votes()
        # Private: never in the snapshot; rooms.messages says who may read each.
        self.messages = Messages()
        self._delegations: dict[str, Delegation] = {}
        self._participants: dict[str, Participant] = {}  # in the room (not the lobby)
        # Mutes outlive a departure, so that leaving and rejoining does not undo the chair's.
        # Muted participant -> who muted it: the role of the actor then, or "system".
        self._muted: dict[str, str] = {}
        # Seats in the room without a live connection (absent here: connected).
        self._away: dict[str, Presence] = {}
        # Seats removed with a ban: they may not join again until the chair lifts it.
        self._banned: set[str] = set()
        # Seats whose camera and microphone check passed (lobby or room).
        self._ready: set[str] = set()

    @classmethod
    def replay(cls, conference_id: str, events: Iterable[Event]) -> Conference:
        conference = cls(conference_id)
        conference.apply_all(events)
        return conference

    def copy(self) -> Conference:
        other = Conference(self.conference_id)
        other.title, other.settings = self.title, self.settings
        other.closed, other.locked, other.clock = self.closed, self.locked, self.clock
        other.recording = self.recording
        other.lobby, other.floor = self.lobby.copy(), self.floor.copy()
        other.interpretation = self.interpretation.copy()
        other.agenda, other.rollcall = self.agenda.copy(), self.rollcall.copy()
        other.votes = self.votes.copy()
        other.messages = self.messages.copy()
        other._delegations = dict(self._delegations)
        other._participants = dict(self._participants)
        other._muted = dict(self._muted)
        other._away = dict(self._away)
        other._banned = set(self._banned)
        other._ready = set(self._ready)
        return other

    # Deciding ------------------------------------------------------------------

    def decide(self, command: Command, actor: str, now: float) -> list[Event]:
        """The events `command` by `actor` leads to, or RoomError; never mutates.

        The list starts with any time events already due by `now`, so that the
        command meets the state as it is at `now` (a release after the automatic
        revoke is stale), and ends with any the command itself made due (a
        speaking time shortened below the time already spoken). Afterwards every
        deadline lies after `now`.
        """
        check_time(now)
        now = self._not_before_clock(now)
        draft = decisions.Draft(self.copy(), now)
        draft.emit_all(self._due(now))
        decisions.decide(draft, command, actor)
        draft.emit_all(draft.state._pauses(now))  # a holder gone or back: its clock follows
        draft.emit_all(draft.state._due(now))  # a shortened speaking time may be over already
        return draft.events

    def tick(self, now: float) -> list[Event]:
        """The time events due by `now`; never mutates. Apply them like any other."""
        check_time(now)
        now = self._not_before_clock(now)
        return self._due(now)

    def next_deadline(self) -> float | None:
        """When `tick` will next have something to say; None while no clock runs."""
        deadlines = (self.floor.next_deadline(), self.votes.next_deadline())
        return min((d for d in deadlines if d is not None), default=None)

    def execute(self, command: Command, actor: str, now: float) -> list[Event]:
        """`decide`, then `apply_all`: for callers that persist after applying."""
        events = self.decide(command, actor, now)
        self.apply_all(events)
        return events

    def _not_before_clock(self, now: float) -> float:
        return now if self.clock is None else max(now, self.clock)

    def _due(self, now: float) -> list[Event]:
        clock = now if self.clock is None else self.clock
        due: list[Event] = [*self.floor.due(now, clock), *self.votes.due(now, clock)]
        return sorted(due, key=lambda event: event.at)  # stable: each source in order

    def _pauses(self, now: float) -> list[Event]:
        """Stop the clock of each holder without a live connection; restart it when back."""
        events: list[Event] = []
        for request in self.floor.holders():
            assert request.turn is not None
            paused = request.turn.paused_at is not None
            connected = self.holder_connected(request)
            if connected and paused:
                reason = SystemReason.HOLDER_RECONNECTED
                events.append(self.floor.resume(request.request_id, at=now, reason=reason))
            elif not connected and not paused:
                reason = SystemReason.HOLDER_DISCONNECTED
                events.append(self.floor.pause(request.request_id, at=now, reason=reason))
        return events

    # Applying ------------------------------------------------------------------

    def apply_all(self, events: Iterable[Event]) -> None:
        for event in events:
            self.apply(event)

    def apply(self, event: Event) -> None:
        """Evolve the state by one event. Trusts it: events come from `decide` or the log."""
        match event:
            case FloorEvent():
                self.floor.apply(event)
                self.agenda.observe(event, self.floor.requests[event.request_id])
            case AgendaEvent():
                self.agenda.apply(event)
            case RollCallEvent():
                self.rollcall.apply(event)
            case DecisionEvent():
                self.votes.apply(event)
            case InterpretationEvent():
                self.interpretation.apply(event)
            case MessageSent():
                self.messages.apply(event)
            case ConferenceCreated():
                self.title, self.settings = event.title, event.settings
            case ConferenceClosed():
                self.closed = True
            case RoomLocked() | RoomUnlocked():
                self.locked = isinstance(event, RoomLocked)
            case RecordingStarted() | RecordingStopped():
                self.recording = isinstance(event, RecordingStarted)
            case SettingsChanged():
                self.settings = event.settings
            case DelegationAdded():
                self._delegations[event.delegation_id] = Delegation(
                    event.delegation_id, event.name, event.country_code, observer=event.observer
                )
            case DelegatesMayRequestChanged():
                delegation = self._delegations[event.delegation_id]
                self._delegations[event.delegation_id] = dataclasses.replace(
                    delegation, delegates_may_request=event.allowed
                )
            case ParticipantJoined() | ParticipantWaiting():
                participant = Participant(
                    event.participant_id, event.name, event.role, event.delegation_id, event.at
                )
                if isinstance(event, ParticipantJoined):
                    self._participants[event.participant_id] = participant
                else:
                    self.lobby.add(participant)
            case ParticipantAdmitted():
                admitted = dataclasses.replace(self.lobby.pop(event.participant_id), since=event.at)
                self._participants[event.participant_id] = admitted
            case ParticipantRejected():
                self.lobby.pop(event.participant_id)
                self._ready.discard(event.participant_id)
            case ParticipantLeft() | ParticipantRemoved():
                self.interpretation.departed(event.participant_id)
                self._away.pop(event.participant_id, None)
                self._ready.discard(event.participant_id)
                if self._participants.pop(event.participant_id, None) is None:
                    self.lobby.pop(event.participant_id)
                if isinstance(event, ParticipantRemoved) and event.banned:
                    self._banned.add(event.participant_id)
            case ParticipantUnbanned():
                self._banned.discard(event.participant_id)
            case DevicesChecked():
                self._ready.add(event.participant_id)
            case ParticipantPresenceChanged():
                if event.presence is Presence.CONNECTED:
                    self._away.pop(event.participant_id, None)
                else:
                    self._away[event.participant_id] = event.presence
            case ParticipantMuted():
                actor = self._participants.get(event.actor)
                self._muted[event.participant_id] = actor.role.value if actor else SYSTEM
            case ParticipantUnmuted():
                self._muted.pop(event.participant_id, None)
            case _:
                raise TypeError(f"unknown event {event!r}")
        self.clock = event.at if self.clock is None else max(self.clock, event.at)

    # Queries -------------------------------------------------------------------

    @property
    def created(self) -> bool:
        return self.title is not None

    @property
    def delegations(self) -> Mapping[str, Delegation]:
        return MappingProxyType(self._delegations)

    @property
    def participants(self) -> Mapping[str, Participant]:
        """Participants in the room; those waiting are in `lobby`."""
        return MappingProxyType(self._participants)

    @property
    def muted(self) -> frozenset[str]:
        return frozenset(self._muted)

    def presence(self, participant_id: str) -> Presence:
        return self._away.get(participant_id, Presence.CONNECTED)

    def holder_connected(self, request: FloorRequest) -> bool:
        """Whether whoever speaks for this request may still be speaking.

        Its named speaker if it is in the room, else any head or delegate of
        the delegation in the room; reconnecting counts (a reload, a blip: the
        clock does not stutter), disconnected does not.
        """
        if request.speaker_id is not None and request.speaker_id in self._participants:
            return self.presence(request.speaker_id) is not Presence.DISCONNECTED
        return any(
            self.presence(p.participant_id) is not Presence.DISCONNECTED
            for p in self.members(request.delegation_id)
            if p.role.speaks_for_delegation
        )

    def attending_delegations(self) -> frozenset[str]:
        """Delegations someone can speak for now: a head or delegate here, not disconnected."""
        return frozenset(
            p.delegation_id
            for p in self._participants.values()
            if p.delegation_id is not None
            and p.role.speaks_for_delegation
            and self.presence(p.participant_id) is not Presence.DISCONNECTED
        )

    def member_delegations(self) -> list[str]:
        """Delegations that vote and count for the quorum: all but the observers."""
        return [d.delegation_id for d in self._delegations.values() if not d.observer]

    @property
    def banned(self) -> frozenset[str]:
        return frozenset(self._banned)

    @property
    def ready(self) -> frozenset[str]:
        """Seats whose page said their camera and microphone check passed."""
        return frozenset(self._ready)

    def members(self, delegation_id: str) -> list[Participant]:
        """The delegation's participants in the room, any role."""
        return [p for p in self._participants.values() if p.delegation_id == delegation_id]

    def is_audible(self, participant_id: str) -> bool:
        """Whether the media plane may forward this participant's audio now.

        The chair always; a head or delegate while their delegation holds the
        floor, or during an open floor; nobody who has been muted; no one else.
        """
        participant = self._participants.get(participant_id)
        if participant is None or participant_id in self._muted or self.closed:
            return False
        if participant.role is Role.CHAIR:
            return True
        if not participant.role.speaks_for_delegation or participant.delegation_id is None:
            return False
        did = participant.delegation_id
        if self._delegations[did].observer:  # observers speak only when given the floor
            return self.floor.holds_floor(did)
        return self.settings.open_floor or self.floor.holds_floor(did)

    def audible_participants(self) -> frozenset[str]:
        """Recompute after applying events and reconcile the media plane with it."""
        return frozenset(p for p in self._participants if self.is_audible(p))

    def snapshot(self) -> dict[str, JSON]:
        """The state for clients (JSON-friendly): what a newcomer needs before the events."""
        holders = self.floor.holders()
        return {
            "conference_id": self.conference_id,
            "title": self.title,
            "closed": self.closed,
            "locked": self.locked,
            "recording": self.recording,
            "clock": self.clock,
            "settings": self.settings.to_dict(),
            "delegations": [
                {
                    **_fields(d),
                    "members": [p.participant_id for p in self.members(d.delegation_id)],
                    "holds_floor": any(r.delegation_id == d.delegation_id for r in holders),
                }
                for d in self._delegations.values()
            ],
            "participants": [
                {
                    **_fields(p),
                    "muted": p.participant_id in self._muted,
                    "muted_by": self._muted.get(p.participant_id),
                    "audible": self.is_audible(p.participant_id),
                    "presence": self.presence(p.participant_id).value,
                    "ready": p.participant_id in self._ready,
                }
                for p in self._participants.values()
            ],
            "lobby": [{**_fields(p), "ready": p.participant_id in self._ready} for p in self.lobby],
            "pending": [_fields(r) for r in self.floor.pending()],
            "queue": [
                {**_fields(r), "position": position}
                for position, r in enumerate(self.floor.queue(), start=1)
            ],
            "holders": [_fields(r) for r in holders],
            "banned": [pid for pid in sorted(self._banned)],
            "next_deadline": self.next_deadline(),
            "interpretation": self.interpretation.snapshot(),
            "agenda": self.agenda.snapshot(list(self._delegations)),
            "roll_call": self.rollcall.snapshot(
                self.member_delegations(), self.attending_delegations()
            ),
            **self.votes.snapshot(),
        }

    def __eq__(self, other: object) -> bool:
        """Equal state (the whole of it, closed requests and past mutes included)."""
        if not isinstance(other, Conference):
            return NotImplemented
        return self._state() == other._state()

    def _state(self) -> tuple[Any, ...]:
        return (
            self.conference_id,
            self.title,
            self.settings,
            self.closed,
            self.locked,
            self.recording,
            self.clock,
            list(self.lobby),
            self._delegations,
            self._participants,
            self._muted,
            self._away,
            self._banned,
            self._ready,
            dict(self.floor.requests),
            [r.request_id for r in self.floor.queue()],
            self.interpretation.state(),
            self.agenda.state(),
            self.rollcall.state(),
            self.votes.state(),
            self.messages.state(),
        )


def _fields(value: object) -> dict[str, JSON]:
    encoded = encode(value)
    assert isinstance(encoded, dict)
    return encoded
