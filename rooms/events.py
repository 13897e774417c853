"""Domain events: the facts of a conference, in order.

Every change to a conference is one of these; the state is whatever replaying
them gives, and the minutes are these events, read. Each carries when (`at`,
unix seconds), who (`actor`: a participant id, or SYSTEM for automatic
consequences) and why (`reason`: the chair's words, or a `SystemReason` code).
Events are self-contained: a floor event names its delegation too, so a log
reader needs no join. `to_dict()` / `Event.from_dict()` give plain JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from ._checks import invalid
from ._codec import JSON, decode_fields, encode
from .order_values import Ballot, ItemTitle, QuorumRule
from .presence import Presence
from .priority import Priority
from .roles import Role
from .settings import Settings

__all__ = [
    "EVENT_TYPES",
    "AgendaEvent",
    "AgendaItemAdded",
    "AgendaItemClosed",
    "AgendaItemOpened",
    "BudgetExtended",
    "ChannelClosed",
    "ChannelOpened",
    "ConferenceClosed",
    "ConferenceCreated",
    "ConsensusEnded",
    "ConsensusProposed",
    "DecisionEvent",
    "DelegatesMayRequestChanged",
    "DelegationAdded",
    "DevicesChecked",
    "Event",
    "FloorAccepted",
    "FloorCancelled",
    "FloorDenied",
    "FloorEvent",
    "FloorGranted",
    "FloorOvertime",
    "FloorPaused",
    "FloorReleased",
    "FloorReordered",
    "FloorRequested",
    "FloorResumed",
    "FloorRevoked",
    "FloorTimeChanged",
    "FloorWarning",
    "HandedOver",
    "HandoverRequested",
    "InterpretationEvent",
    "InterpreterAssigned",
    "InterpreterUnassigned",
    "LanguagesSet",
    "MessageSent",
    "ObjectionRaised",
    "ParticipantAdmitted",
    "ParticipantJoined",
    "ParticipantLeft",
    "ParticipantMuted",
    "ParticipantPresenceChanged",
    "ParticipantRejected",
    "ParticipantRemoved",
    "ParticipantUnbanned",
    "ParticipantUnmuted",
    "ParticipantWaiting",
    "QuorumSet",
    "RecordingStarted",
    "RecordingStopped",
    "RollCallAnswered",
    "RollCallClosed",
    "RollCallEvent",
    "RollCallStarted",
    "RoomLocked",
    "RoomUnlocked",
    "SettingsChanged",
    "ShiftEnded",
    "ShiftStarted",
    "SlowDownAsked",
    "SourceChanged",
    "SpeakerInscribed",
    "SystemReason",
    "VoteCast",
    "VoteClosed",
    "VoteOpened",
    "VoterDesignated",
]


class SystemReason(StrEnum):
    """`reason` of the events the core produces by itself (actor SYSTEM)."""

    AUTO_ACCEPT = "auto_accept"  # requests go straight onto the speakers list
    TIME_LIMIT = "time_limit"  # limit and grace period are over
    DELEGATION_ABSENT = "delegation_absent"  # its last head or delegate left
    CONFERENCE_CLOSED = "conference_closed"
    CHANNEL_CLOSED = "channel_closed"  # an interpreter's channel or relay source closed
    INTERPRETER_DROPPED = "interpreter_dropped"  # connection lost while on air
    INTERPRETER_LEFT = "interpreter_left"  # left, was removed or was unassigned
    HOLDER_DISCONNECTED = "holder_disconnected"  # the speaking clock stops meanwhile
    HOLDER_RECONNECTED = "holder_reconnected"
    PRE_REGISTERED = "pre_registered"  # inscribed before the agenda item opened
    ITEM_CLOSED = "item_closed"  # the chair closed the agenda item with speakers listed
    OBJECTION_WINDOW_OVER = "objection_window_over"  # a consensus proposal's time is up


@dataclass(frozen=True, kw_only=True)
class Event:
    type: ClassVar[str]
    at: float
    actor: str
    reason: str | None = None

    def to_dict(self) -> dict[str, JSON]:
        encoded = encode(self)
        assert isinstance(encoded, dict)
        return {"type": self.type, **encoded}

    @staticmethod
    def from_dict(raw: dict[str, Any]) -> Event:
        kind = raw.get("type") if isinstance(raw, dict) else None
        cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
        if cls is None:
            raise invalid(f"unknown event type {kind!r}")
        event: Event = decode_fields(cls, raw, skip=frozenset({"type"}))
        return event


# Conference --------------------------------------------------------------------


@dataclass(frozen=True)
class ConferenceCreated(Event):
    type = "conference.created"
    title: str
    settings: Settings


@dataclass(frozen=True)
class ConferenceClosed(Event):
    type = "conference.closed"


@dataclass(frozen=True)
class RoomLocked(Event):
    type = "conference.locked"


@dataclass(frozen=True)
class RoomUnlocked(Event):
    type = "conference.unlocked"


@dataclass(frozen=True)
class RecordingStarted(Event):
    type = "recording.started"


@dataclass(frozen=True)
class RecordingStopped(Event):
    type = "recording.stopped"


@dataclass(frozen=True)
class SettingsChanged(Event):
    """Carries the whole new settings; `changed` names what differs."""

    type = "conference.settings_changed"
    settings: Settings
    changed: tuple[str, ...]


# Delegations -------------------------------------------------------------------


@dataclass(frozen=True)
class DelegationAdded(Event):
    type = "delegation.added"
    delegation_id: str
    name: str
    country_code: str
    observer: bool = False


@dataclass(frozen=True)
class DelegatesMayRequestChanged(Event):
    type = "delegation.delegates_may_request_changed"
    delegation_id: str
    allowed: bool


# Participants and lobby --------------------------------------------------------


@dataclass(frozen=True)
class ParticipantJoined(Event):
    """Entered the room directly (staff, or no lobby)."""

    type = "participant.joined"
    participant_id: str
    name: str
    role: Role
    delegation_id: str | None


@dataclass(frozen=True)
class ParticipantWaiting(Event):
    """Arrived and waits in the lobby."""

    type = "lobby.waiting"
    participant_id: str
    name: str
    role: Role
    delegation_id: str | None


@dataclass(frozen=True)
class ParticipantAdmitted(Event):
    type = "lobby.admitted"
    participant_id: str


@dataclass(frozen=True)
class ParticipantRejected(Event):
    type = "lobby.rejected"
    participant_id: str


@dataclass(frozen=True)
class ParticipantLeft(Event):
    type = "participant.left"
    participant_id: str


@dataclass(frozen=True)
class ParticipantRemoved(Event):
    type = "participant.removed"
    participant_id: str
    banned: bool = False  # may not join again until participant.unbanned


@dataclass(frozen=True)
class ParticipantUnbanned(Event):
    type = "participant.unbanned"
    participant_id: str


@dataclass(frozen=True)
class ParticipantPresenceChanged(Event):
    """A seat's connection dropped, was judged lost, or came back (actor SYSTEM)."""

    type = "participant.presence"
    participant_id: str
    presence: Presence


@dataclass(frozen=True)
class DevicesChecked(Event):
    """The participant's camera and microphone check passed (its page said so)."""

    type = "participant.devices_checked"
    participant_id: str


@dataclass(frozen=True)
class ParticipantMuted(Event):
    type = "participant.muted"
    participant_id: str


@dataclass(frozen=True)
class ParticipantUnmuted(Event):
    type = "participant.unmuted"
    participant_id: str


# Floor -------------------------------------------------------------------------


@dataclass(frozen=True)
class FloorEvent(Event):
    """A transition of one floor request."""

    request_id: str
    delegation_id: str


@dataclass(frozen=True)
class FloorRequested(FloorEvent):
    """A new request, status Pending. `on_behalf`: made by someone outside the delegation."""

    type = "floor.requested"
    priority: Priority
    speaker_id: str | None
    on_behalf: bool


@dataclass(frozen=True)
class FloorAccepted(FloorEvent):
    """Put on the speakers list at `position` (1 is next)."""

    type = "floor.accepted"
    position: int


@dataclass(frozen=True)
class FloorReordered(FloorEvent):
    type = "floor.reordered"
    position: int


@dataclass(frozen=True)
class FloorGranted(FloorEvent):
    """The delegation holds the floor. Deadlines are absolute; None when unlimited."""

    type = "floor.granted"
    time_limit: float | None
    warn_at: float | None
    expires_at: float | None
    revoke_at: float | None


@dataclass(frozen=True)
class FloorTimeChanged(FloorEvent):
    """A holder's limit changed; the deadlines are recomputed from the grant time."""

    type = "floor.time_changed"
    time_limit: float | None
    warn_at: float | None
    expires_at: float | None
    revoke_at: float | None


@dataclass(frozen=True)
class FloorWarning(FloorEvent):
    """The limit is near."""

    type = "floor.warning"
    expires_at: float


@dataclass(frozen=True)
class FloorOvertime(FloorEvent):
    """The limit is reached: the grace period runs until `revoke_at`."""

    type = "floor.overtime"
    revoke_at: float


@dataclass(frozen=True)
class FloorPaused(FloorEvent):
    """The holder has no live connection: its speaking time stops until it is back."""

    type = "floor.paused"


@dataclass(frozen=True)
class FloorResumed(FloorEvent):
    """The holder is back: its clock runs again, the deadlines moved by the pause."""

    type = "floor.resumed"
    warn_at: float | None
    expires_at: float | None
    revoke_at: float | None


@dataclass(frozen=True)
class FloorDenied(FloorEvent):
    type = "floor.denied"


@dataclass(frozen=True)
class FloorCancelled(FloorEvent):
    type = "floor.cancelled"


@dataclass(frozen=True)
class FloorReleased(FloorEvent):
    """The holder yielded the floor."""

    type = "floor.released"


@dataclass(frozen=True)
class FloorRevoked(FloorEvent):
    """The floor was taken back: by the chair, or by SYSTEM (see `reason`)."""

    type = "floor.revoked"


# Interpretation ----------------------------------------------------------------


@dataclass(frozen=True)
class InterpretationEvent(Event):
    """Base of the interpretation events (languages, channels, booths, shifts)."""


@dataclass(frozen=True)
class LanguagesSet(InterpretationEvent):
    type = "interpretation.languages_set"
    languages: tuple[str, ...]


@dataclass(frozen=True)
class ChannelOpened(InterpretationEvent):
    type = "interpretation.channel_opened"
    language: str


@dataclass(frozen=True)
class ChannelClosed(InterpretationEvent):
    type = "interpretation.channel_closed"
    language: str


@dataclass(frozen=True)
class InterpreterAssigned(InterpretationEvent):
    type = "interpretation.interpreter_assigned"
    participant_id: str
    booth: str
    working_languages: tuple[str, ...]


@dataclass(frozen=True)
class InterpreterUnassigned(InterpretationEvent):
    type = "interpretation.interpreter_unassigned"
    participant_id: str
    booth: str


@dataclass(frozen=True)
class SourceChanged(InterpretationEvent):
    """What an interpreter hears and works from: "floor" or a channel's language."""

    type = "interpretation.source_changed"
    participant_id: str
    booth: str
    source: str


@dataclass(frozen=True)
class ShiftStarted(InterpretationEvent):
    """The interpreter is on air: their audio is the booth's channel."""

    type = "interpretation.shift_started"
    participant_id: str
    booth: str


@dataclass(frozen=True)
class ShiftEnded(InterpretationEvent):
    """The interpreter went off air (by choice, or see `reason`); the channel is silent."""

    type = "interpretation.shift_ended"
    participant_id: str
    booth: str


@dataclass(frozen=True)
class HandoverRequested(InterpretationEvent):
    type = "interpretation.handover_requested"
    participant_id: str
    booth: str


@dataclass(frozen=True)
class HandedOver(InterpretationEvent):
    """One shift ends and the next starts at the same instant: the channel never pauses."""

    type = "interpretation.handed_over"
    booth: str
    from_id: str
    to_id: str


@dataclass(frozen=True)
class SlowDownAsked(InterpretationEvent):
    type = "interpretation.slow_down_asked"
    participant_id: str
    booth: str


# Order of business -------------------------------------------------------------
#
# The agenda, the roll call and the decisions on record; their state lives in
# rooms.agenda, rooms.rollcall and rooms.votes, their rules in rooms.agenda_rules
# and rooms.voting_rules.


@dataclass(frozen=True)
class AgendaEvent(Event):
    """Base of the agenda's events (items, pre-registration, budgets)."""


@dataclass(frozen=True)
class AgendaItemAdded(AgendaEvent):
    """An item at the end of the agenda; `budget`: seconds per delegation, None for none."""

    type = "agenda.item_added"
    item_id: str
    titles: tuple[ItemTitle, ...]
    planned_duration: float | None
    budget: float | None
    observers: bool = False  # observer delegations may speak on it
    parent: str | None = None  # a sub-item of that item


@dataclass(frozen=True)
class SpeakerInscribed(AgendaEvent):
    """The delegation is pre-registered to speak on the item, at `position` (1 first)."""

    type = "agenda.speaker_inscribed"
    item_id: str
    delegation_id: str
    position: int


@dataclass(frozen=True)
class AgendaItemOpened(AgendaEvent):
    """The item is current; its pre-registered speakers follow as floor requests."""

    type = "agenda.item_opened"
    item_id: str


@dataclass(frozen=True)
class AgendaItemClosed(AgendaEvent):
    type = "agenda.item_closed"
    item_id: str


@dataclass(frozen=True)
class BudgetExtended(AgendaEvent):
    """Extra time the chair gave a delegation on an item, on top of its budget."""

    type = "agenda.budget_extended"
    item_id: str
    delegation_id: str
    seconds: float


@dataclass(frozen=True)
class RollCallEvent(Event):
    """Base of the roll call's events (and the quorum rule)."""


@dataclass(frozen=True)
class QuorumSet(RollCallEvent):
    type = "rollcall.quorum_set"
    quorum: QuorumRule


@dataclass(frozen=True)
class RollCallStarted(RollCallEvent):
    type = "rollcall.started"
    roll_call_id: str


@dataclass(frozen=True)
class RollCallAnswered(RollCallEvent):
    """The delegation is present: its head answered, or the chair marked it."""

    type = "rollcall.answered"
    roll_call_id: str
    delegation_id: str


@dataclass(frozen=True)
class RollCallClosed(RollCallEvent):
    """The result at the close: present and absent delegations, quorum met or not."""

    type = "rollcall.closed"
    roll_call_id: str
    present: tuple[str, ...]
    absent: tuple[str, ...]
    required: int
    quorum_met: bool


@dataclass(frozen=True)
class DecisionEvent(Event):
    """Base of the decisions' events (consensus and recorded votes)."""


@dataclass(frozen=True)
class ConsensusProposed(DecisionEvent):
    """The chair reads `text` and asks for objections until `closes_at`."""

    type = "decision.consensus_proposed"
    decision_id: str
    item_id: str | None
    text: str
    closes_at: float


@dataclass(frozen=True)
class ObjectionRaised(DecisionEvent):
    type = "decision.objection_raised"
    decision_id: str
    delegation_id: str


@dataclass(frozen=True)
class ConsensusEnded(DecisionEvent):
    """The objection window is over: adopted if, and only if, nobody objected."""

    type = "decision.consensus_ended"
    decision_id: str
    adopted: bool
    objections: tuple[str, ...]


@dataclass(frozen=True)
class VoterDesignated(DecisionEvent):
    """Who, besides its head, casts the delegation's vote; None: the head alone."""

    type = "decision.voter_designated"
    delegation_id: str
    participant_id: str | None


@dataclass(frozen=True)
class VoteOpened(DecisionEvent):
    type = "decision.vote_opened"
    decision_id: str
    item_id: str | None
    text: str


@dataclass(frozen=True)
class VoteCast(DecisionEvent):
    """A named ballot: one per delegation, final once cast."""

    type = "decision.vote_cast"
    decision_id: str
    delegation_id: str
    ballot: Ballot


@dataclass(frozen=True)
class VoteClosed(DecisionEvent):
    """The result, counted from the ballots cast: adopted if more yes than no."""

    type = "decision.vote_closed"
    decision_id: str
    yes: int
    no: int
    abstain: int
    adopted: bool


# Messages ----------------------------------------------------------------------


@dataclass(frozen=True)
class MessageSent(Event):
    """A message to a thread (see rooms.messages); the actor wrote it.

    Kept in the log like every event, but private: only the thread's readers
    are ever told, and the public minutes leave it out.
    """

    type = "message.sent"
    message_id: str
    thread: str
    sender_name: str
    sender_role: Role
    sender_delegation: str | None
    text: str


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls
    for cls in (
        ConferenceCreated,
        ConferenceClosed,
        RoomLocked,
        RoomUnlocked,
        RecordingStarted,
        RecordingStopped,
        SettingsChanged,
        DelegationAdded,
        DelegatesMayRequestChanged,
        ParticipantJoined,
        ParticipantWaiting,
        ParticipantAdmitted,
        ParticipantRejected,
        ParticipantLeft,
        ParticipantRemoved,
        ParticipantUnbanned,
        ParticipantMuted,
        ParticipantUnmuted,
        ParticipantPresenceChanged,
        DevicesChecked,
        FloorRequested,
        FloorAccepted,
        FloorReordered,
        FloorGranted,
        FloorTimeChanged,
        FloorWarning,
        FloorOvertime,
        FloorPaused,
        FloorResumed,
        FloorDenied,
        FloorCancelled,
        FloorReleased,
        FloorRevoked,
        LanguagesSet,
        ChannelOpened,
        ChannelClosed,
        InterpreterAssigned,
        InterpreterUnassigned,
        SourceChanged,
        ShiftStarted,
        ShiftEnded,
        HandoverRequested,
        HandedOver,
        SlowDownAsked,
        MessageSent,
    )
}

# The order of business, registered apart from the rest (see its section above).
EVENT_TYPES.update(
    {
        cls.type: cls
        for cls in (
            AgendaItemAdded,
            SpeakerInscribed,
            AgendaItemOpened,
            AgendaItemClosed,
            BudgetExtended,
            QuorumSet,
            RollCallStarted,
            RollCallAnswered,
            RollCallClosed,
            ConsensusProposed,
            ObjectionRaised,
            ConsensusEnded,
            VoterDesignated,
            VoteOpened,
            VoteCast,
            VoteClosed,
        )
    }
)
