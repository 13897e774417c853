"""Commands: what someone asks the conference to do.

A command is a request, not a fact: `Conference.decide` checks it against the
actor's permissions and the current state, and answers with events or a
`RoomError`. Value checks (blank names, negative times) happen on construction,
so a malformed command never exists. Commands that act on a floor request carry
its id: a command aimed at a request that has moved on is rejected as stale.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ._checks import check_id, check_name, check_reason, check_seconds, invalid
from ._codec import JSON, decode_fields, encode
from .languages import check_language, check_source
from .order_values import (
    Ballot,
    ItemTitle,
    QuorumRule,
    check_duration,
    check_text,
)
from .presence import Presence
from .priority import Priority
from .roles import Role
from .settings import Settings

__all__ = [
    "COMMAND_TYPES",
    "AcceptHandover",
    "AcceptRequest",
    "AddAgendaItem",
    "AddDelegation",
    "AdmitFromLobby",
    "AnswerRollCall",
    "AskSlowDown",
    "AssignInterpreter",
    "CancelRequest",
    "CastVote",
    "CloseChannel",
    "CloseConference",
    "CloseItem",
    "CloseRollCall",
    "CloseVote",
    "Command",
    "CreateConference",
    "DeclareReady",
    "DenyRequest",
    "DesignateVoter",
    "GoOffAir",
    "GoOnAir",
    "GrantExtraTime",
    "GrantFloor",
    "InscribeSpeaker",
    "JoinConference",
    "LeaveConference",
    "LockRoom",
    "MuteParticipant",
    "OpenChannel",
    "OpenItem",
    "OpenVote",
    "ProposeConsensus",
    "RaiseObjection",
    "RejectFromLobby",
    "ReleaseFloor",
    "RemoveParticipant",
    "ReorderRequest",
    "RequestFloor",
    "RequestHandover",
    "RevokeFloor",
    "SendMessage",
    "SetDefaultTimeLimit",
    "SetDelegatesMayRequest",
    "SetInterpretationSource",
    "SetLanguages",
    "SetMaxHolders",
    "SetOpenFloor",
    "SetPresence",
    "SetPublicChat",
    "SetQuorum",
    "SetSpeakingTime",
    "StartRecording",
    "StartRollCall",
    "StopRecording",
    "UnassignInterpreter",
    "UnbanParticipant",
    "UnlockRoom",
    "UnmuteParticipant",
]

_COUNTRY_CODE = re.compile(r"[A-Z]{2,3}")


@dataclass(frozen=True, kw_only=True)
class Command:
    kind: ClassVar[str]
    # Free text kept in the minutes (why the chair denied, revoked, removed...).
    reason: str | None = None

    def __post_init__(self) -> None:
        check_reason(self.reason)
        self._check()

    def _check(self) -> None:
        """Subclasses check their own values here."""

    def to_dict(self) -> dict[str, JSON]:
        encoded = encode(self)
        assert isinstance(encoded, dict)
        return {"kind": self.kind, **encoded}

    @staticmethod
    def from_dict(raw: dict[str, Any]) -> Command:
        kind = raw.get("kind") if isinstance(raw, dict) else None
        cls = COMMAND_TYPES.get(kind) if isinstance(kind, str) else None
        if cls is None:
            raise invalid(f"unknown command kind {kind!r}")
        command: Command = decode_fields(cls, raw, skip=frozenset({"kind"}))
        return command

    @classmethod
    def from_arguments(cls, raw: Mapping[str, Any]) -> Command:
        """This command from a request's fields: only its own arguments are read.

        Anything else in `raw` (a `kind`, an `actor`, fields of another command)
        is ignored, so nothing in it can choose another command.
        """
        names = {f.name for f in dataclasses.fields(cls) if f.init}
        command: Command = decode_fields(cls, {k: v for k, v in raw.items() if k in names})
        return command


# Conference --------------------------------------------------------------------


@dataclass(frozen=True)
class CreateConference(Command):
    kind = "conference.create"
    title: str
    settings: Settings = field(default_factory=Settings)

    def _check(self) -> None:
        check_name(self.title, "title")


@dataclass(frozen=True)
class CloseConference(Command):
    kind = "conference.close"


@dataclass(frozen=True)
class LockRoom(Command):
    kind = "conference.lock"


@dataclass(frozen=True)
class UnlockRoom(Command):
    kind = "conference.unlock"


@dataclass(frozen=True)
class StartRecording(Command):
    """Record the floor from now on: each intervention's audio and video."""

    kind = "recording.start"


@dataclass(frozen=True)
class StopRecording(Command):
    kind = "recording.stop"


@dataclass(frozen=True)
class SetDefaultTimeLimit(Command):
    """Applies to later grants; None means no limit."""

    kind = "settings.default_time_limit"
    time_limit: float | None

    def _check(self) -> None:
        if self.time_limit is not None:
            check_seconds(self.time_limit, "time_limit", positive=True)


@dataclass(frozen=True)
class SetMaxHolders(Command):
    kind = "settings.max_holders"
    count: int

    def _check(self) -> None:
        if self.count < 1:
            raise invalid("count must be at least 1")


@dataclass(frozen=True)
class SetOpenFloor(Command):
    kind = "settings.open_floor"
    enabled: bool


@dataclass(frozen=True)
class SetPublicChat(Command):
    """Open or close the chat to everyone in the room (the private threads stay)."""

    kind = "settings.public_chat"
    enabled: bool


# Delegations -------------------------------------------------------------------


@dataclass(frozen=True)
class AddDelegation(Command):
    kind = "delegation.add"
    delegation_id: str
    name: str
    country_code: str  # ISO 3166-1 alpha-2 (or alpha-3), upper case
    observer: bool = False  # an organisation that speaks on items open to observers, never votes

    def _check(self) -> None:
        check_id(self.delegation_id, "delegation_id")
        check_name(self.name, "name")
        if not _COUNTRY_CODE.fullmatch(self.country_code):
            raise invalid("country_code must be 2 or 3 upper-case letters (ISO 3166-1)")


@dataclass(frozen=True)
class SetDelegatesMayRequest(Command):
    """Whether the delegation's delegates (not only its head) may request the floor."""

    kind = "delegation.delegates_may_request"
    delegation_id: str
    allowed: bool


# Participants and lobby --------------------------------------------------------


@dataclass(frozen=True)
class JoinConference(Command):
    """Issued by the participant itself (or the system) once its token is verified."""

    kind = "participant.join"
    participant_id: str
    name: str
    role: Role
    delegation_id: str | None = None

    def _check(self) -> None:
        check_id(self.participant_id, "participant_id")
        check_name(self.name, "name")
        if self.delegation_id is not None:
            check_id(self.delegation_id, "delegation_id")
        if self.role.needs_delegation and self.delegation_id is None:
            raise invalid(f"a {self.role.value} must belong to a delegation")


@dataclass(frozen=True)
class LeaveConference(Command):
    kind = "participant.leave"
    participant_id: str


@dataclass(frozen=True)
class DeclareReady(Command):
    """The participant's page says its camera and microphone check passed.

    Sent by the participant itself (`participant_id` None: the issuer), in
    the lobby or the room; the chair sees it on the lobby entry.
    """

    kind = "participant.ready"
    participant_id: str | None = None

    def _check(self) -> None:
        if self.participant_id is not None:
            check_id(self.participant_id, "participant_id")


@dataclass(frozen=True)
class SetPresence(Command):
    """Issued by the service only: a seat's connection dropped, was lost, or came back."""

    kind = "participant.set_presence"
    participant_id: str
    presence: Presence


@dataclass(frozen=True)
class AdmitFromLobby(Command):
    kind = "lobby.admit"
    participant_id: str


@dataclass(frozen=True)
class RejectFromLobby(Command):
    kind = "lobby.reject"
    participant_id: str


@dataclass(frozen=True)
class RemoveParticipant(Command):
    """``ban``: the seat may not come back (same link) until the chair lifts it."""

    kind = "participant.remove"
    participant_id: str
    ban: bool = False


@dataclass(frozen=True)
class UnbanParticipant(Command):
    """Lift a ban: the removed seat may join again."""

    kind = "participant.unban"
    participant_id: str


@dataclass(frozen=True)
class MuteParticipant(Command):
    kind = "participant.mute"
    participant_id: str


@dataclass(frozen=True)
class UnmuteParticipant(Command):
    kind = "participant.unmute"
    participant_id: str


# Floor -------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestFloor(Command):
    """Ask for the floor for a delegation; by the chair, it is a request on its behalf.

    `speaker_id` names who will speak (a head or delegate of the delegation);
    by default the requester, when the requester is one.
    """

    kind = "floor.request"
    delegation_id: str
    priority: Priority = Priority.ORDINARY
    speaker_id: str | None = None


@dataclass(frozen=True)
class CancelRequest(Command):
    """The delegation withdraws a request that is not yet granted."""

    kind = "floor.cancel"
    request_id: str


@dataclass(frozen=True)
class AcceptRequest(Command):
    """The chair puts a pending request on the speakers list."""

    kind = "floor.accept"
    request_id: str


@dataclass(frozen=True)
class DenyRequest(Command):
    kind = "floor.deny"
    request_id: str


@dataclass(frozen=True)
class ReorderRequest(Command):
    """Move a queued request to `position` (1 is next) on the speakers list."""

    kind = "floor.reorder"
    request_id: str
    position: int

    def _check(self) -> None:
        if self.position < 1:
            raise invalid("position must be at least 1")


def _check_limit(time_limit: float | None, unlimited: bool) -> None:
    if time_limit is not None:
        check_seconds(time_limit, "time_limit", positive=True)
        if unlimited:
            raise invalid("give either time_limit or unlimited, not both")


@dataclass(frozen=True)
class GrantFloor(Command):
    """Give the floor: time_limit None uses the conference default, unlimited removes it."""

    kind = "floor.grant"
    request_id: str
    time_limit: float | None = None
    unlimited: bool = False

    def _check(self) -> None:
        _check_limit(self.time_limit, self.unlimited)


@dataclass(frozen=True)
class SetSpeakingTime(Command):
    """Change a current holder's limit, counted from the grant (same rules as GrantFloor)."""

    kind = "floor.set_time"
    request_id: str
    time_limit: float | None = None
    unlimited: bool = False

    def _check(self) -> None:
        _check_limit(self.time_limit, self.unlimited)


@dataclass(frozen=True)
class RevokeFloor(Command):
    """The chair takes the floor back."""

    kind = "floor.revoke"
    request_id: str


@dataclass(frozen=True)
class ReleaseFloor(Command):
    """The holding delegation yields the floor."""

    kind = "floor.release"
    request_id: str


# Interpretation ----------------------------------------------------------------
#
# The chair sets the floor languages, opens a channel per target language (its
# booth) and assigns interpreters; an interpreter acts for itself: the commands
# with an optional `participant_id` name the interpreter only when the service
# (SYSTEM) or the chair acts for one (None: the actor itself).


def _check_interpreter(participant_id: str | None) -> None:
    if participant_id is not None:
        check_id(participant_id, "participant_id")


@dataclass(frozen=True)
class SetLanguages(Command):
    """The languages spoken on the floor; channels are opened among them."""

    kind = "interpretation.set_languages"
    languages: tuple[str, ...]

    def _check(self) -> None:
        for language in self.languages:
            check_language(language, "languages")
        if len(set(self.languages)) != len(self.languages):
            raise invalid("languages: each language once")


@dataclass(frozen=True)
class OpenChannel(Command):
    """Open the channel (and booth) of a target language; listeners may choose it."""

    kind = "interpretation.open_channel"
    language: str

    def _check(self) -> None:
        check_language(self.language, "language")


@dataclass(frozen=True)
class CloseChannel(Command):
    """Close a channel: its interpreter goes off air, its listeners hear the floor only."""

    kind = "interpretation.close_channel"
    language: str

    def _check(self) -> None:
        check_language(self.language, "language")


@dataclass(frozen=True)
class AssignInterpreter(Command):
    """Seat an interpreter in the booth of `booth` (a target language)."""

    kind = "interpretation.assign"
    participant_id: str
    booth: str
    working_languages: tuple[str, ...]

    def _check(self) -> None:
        check_id(self.participant_id, "participant_id")
        check_language(self.booth, "booth")
        for language in self.working_languages:
            check_language(language, "working_languages")
        if self.booth not in self.working_languages:
            raise invalid("working_languages must include the booth's language")


@dataclass(frozen=True)
class UnassignInterpreter(Command):
    kind = "interpretation.unassign"
    participant_id: str

    def _check(self) -> None:
        check_id(self.participant_id, "participant_id")


@dataclass(frozen=True)
class SetInterpretationSource(Command):
    """What the interpreter works from: the floor, or another channel (relay)."""

    kind = "interpretation.set_source"
    source: str
    participant_id: str | None = None

    def _check(self) -> None:
        check_source(self.source)
        _check_interpreter(self.participant_id)


@dataclass(frozen=True)
class GoOnAir(Command):
    """Start speaking into the booth's channel (also: take over an idle booth)."""

    kind = "interpretation.on_air"
    participant_id: str | None = None

    def _check(self) -> None:
        _check_interpreter(self.participant_id)


@dataclass(frozen=True)
class GoOffAir(Command):
    """Stop speaking into the channel (the cough button); the partner may take over."""

    kind = "interpretation.off_air"
    participant_id: str | None = None

    def _check(self) -> None:
        _check_interpreter(self.participant_id)


@dataclass(frozen=True)
class RequestHandover(Command):
    """A passive interpreter asks the active partner for the microphone."""

    kind = "interpretation.request_handover"
    participant_id: str | None = None

    def _check(self) -> None:
        _check_interpreter(self.participant_id)


@dataclass(frozen=True)
class AcceptHandover(Command):
    """The active interpreter hands the channel to the partner who asked: no gap."""

    kind = "interpretation.accept_handover"
    participant_id: str | None = None

    def _check(self) -> None:
        _check_interpreter(self.participant_id)


@dataclass(frozen=True)
class AskSlowDown(Command):
    """An interpreter signals the chair that the speaker is too fast."""

    kind = "interpretation.slow_down"
    participant_id: str | None = None

    def _check(self) -> None:
        _check_interpreter(self.participant_id)


# Order of business -------------------------------------------------------------
#
# The agenda (items, pre-registered speakers, per-delegation time budgets), the
# roll call and the decisions on record. Rules: rooms.agenda_rules and
# rooms.voting_rules.

MAX_ITEM_TITLES = 20  # languages per item title


def _check_item(item_id: str) -> None:
    check_id(item_id, "item_id")


@dataclass(frozen=True)
class AddAgendaItem(Command):
    """Append an item to the agenda: its title in the meeting's languages.

    `budget` is each delegation's speaking time on the item (seconds, across
    all its turns); None: no budget, the floor's usual limits only. `observers`:
    observer delegations may be inscribed and request the floor on this item.
    `parent`: the item this one is a sub-item of (one level: 2.1, 2.2).
    """

    kind = "agenda.add_item"
    item_id: str
    titles: tuple[ItemTitle, ...]
    planned_duration: float | None = None
    budget: float | None = None
    observers: bool = False
    parent: str | None = None

    def _check(self) -> None:
        _check_item(self.item_id)
        if self.parent is not None:
            check_id(self.parent, "parent")
            if self.parent == self.item_id:
                raise invalid("parent: an item is not its own sub-item")
        if not 1 <= len(self.titles) <= MAX_ITEM_TITLES:
            raise invalid(f"titles: give 1-{MAX_ITEM_TITLES} titles, one per language")
        languages = [title.language for title in self.titles]
        if len(set(languages)) != len(languages):
            raise invalid("titles: one title per language")
        if self.planned_duration is not None:
            check_duration(self.planned_duration, "planned_duration")
        if self.budget is not None:
            check_duration(self.budget, "budget")


@dataclass(frozen=True)
class InscribeSpeaker(Command):
    """Pre-register a delegation to speak on an upcoming item, after those already listed."""

    kind = "agenda.inscribe"
    item_id: str
    delegation_id: str

    def _check(self) -> None:
        _check_item(self.item_id)
        check_id(self.delegation_id, "delegation_id")


@dataclass(frozen=True)
class OpenItem(Command):
    """Make an upcoming item the current one (no other item may be open)."""

    kind = "agenda.open_item"
    item_id: str

    def _check(self) -> None:
        _check_item(self.item_id)


@dataclass(frozen=True)
class CloseItem(Command):
    """Close the open item; with speakers still listed only when `force` (the chair confirmed).

    Forcing ends the item's remaining requests and floor.
    """

    kind = "agenda.close_item"
    item_id: str
    force: bool = False

    def _check(self) -> None:
        _check_item(self.item_id)


@dataclass(frozen=True)
class GrantExtraTime(Command):
    """Add to a delegation's budget on the open item (and to its floor, if it holds it)."""

    kind = "agenda.extra_time"
    delegation_id: str
    seconds: float

    def _check(self) -> None:
        check_id(self.delegation_id, "delegation_id")
        check_duration(self.seconds, "seconds")


@dataclass(frozen=True)
class SetQuorum(Command):
    """The quorum: a number of delegations, or a fraction of those registered."""

    kind = "rollcall.set_quorum"
    count: int | None = None
    fraction: float | None = None

    def _check(self) -> None:
        QuorumRule(count=self.count, fraction=self.fraction)

    @property
    def rule(self) -> QuorumRule:
        return QuorumRule(count=self.count, fraction=self.fraction)


@dataclass(frozen=True)
class StartRollCall(Command):
    kind = "rollcall.start"


@dataclass(frozen=True)
class AnswerRollCall(Command):
    """Answer "present" for a delegation: its head does, or the chair marks it."""

    kind = "rollcall.answer"
    delegation_id: str

    def _check(self) -> None:
        check_id(self.delegation_id, "delegation_id")


@dataclass(frozen=True)
class CloseRollCall(Command):
    kind = "rollcall.close"


@dataclass(frozen=True)
class ProposeConsensus(Command):
    """The chair proposes `text` for adoption; objections are heard for `window` seconds."""

    kind = "decision.propose"
    text: str
    window: float = 60.0

    def _check(self) -> None:
        check_text(self.text, "text")
        check_duration(self.window, "window")


@dataclass(frozen=True)
class RaiseObjection(Command):
    """The delegation objects to the open consensus proposal (head or designated voter)."""

    kind = "decision.object"
    decision_id: str
    delegation_id: str | None = None  # None: the actor's own

    def _check(self) -> None:
        check_id(self.decision_id, "decision_id")
        if self.delegation_id is not None:
            check_id(self.delegation_id, "delegation_id")


@dataclass(frozen=True)
class DesignateVoter(Command):
    """The head names who else may vote and object for the delegation (None: nobody)."""

    kind = "decision.designate"
    delegation_id: str
    participant_id: str | None = None

    def _check(self) -> None:
        check_id(self.delegation_id, "delegation_id")
        if self.participant_id is not None:
            check_id(self.participant_id, "participant_id")


@dataclass(frozen=True)
class OpenVote(Command):
    """A recorded vote on `text`: yes, no or abstain, one named ballot per delegation."""

    kind = "decision.open_vote"
    text: str

    def _check(self) -> None:
        check_text(self.text, "text")


@dataclass(frozen=True)
class CastVote(Command):
    kind = "decision.vote"
    decision_id: str
    ballot: Ballot
    delegation_id: str | None = None  # None: the actor's own

    def _check(self) -> None:
        check_id(self.decision_id, "decision_id")
        if self.delegation_id is not None:
            check_id(self.delegation_id, "delegation_id")


@dataclass(frozen=True)
class CloseVote(Command):
    """Close the vote and publish the result."""

    kind = "decision.close_vote"
    decision_id: str

    def _check(self) -> None:
        check_id(self.decision_id, "decision_id")


# Messages ----------------------------------------------------------------------

MAX_MESSAGE_TEXT = 2000
_THREAD = re.compile(r"(delegation|seat):(.+)", re.DOTALL)
# Line breaks and tabs are text; other control characters are not.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class SendMessage(Command):
    """Write to a thread: ``delegation:<id>``, ``seat:<participant id>`` or ``everyone``.

    Who may write where is rooms.messages' rule; the writer is the actor.
    """

    kind = "message.send"
    to: str
    text: str

    def _check(self) -> None:
        thread = _THREAD.fullmatch(self.to)
        if self.to != "everyone":
            if thread is None:
                raise invalid("to must be everyone, delegation:<id> or seat:<participant id>")
            check_id(thread.group(2), "to")  # the same ids as delegations and seats
        if not self.text.strip():
            raise invalid("text is empty")
        if len(self.text) > MAX_MESSAGE_TEXT:
            raise invalid(f"text is longer than {MAX_MESSAGE_TEXT} characters")
        if _CONTROL.search(self.text):
            raise invalid("text may not contain control characters")


COMMAND_TYPES: dict[str, type[Command]] = {
    cls.kind: cls
    for cls in (
        CreateConference,
        CloseConference,
        LockRoom,
        UnlockRoom,
        StartRecording,
        StopRecording,
        SetDefaultTimeLimit,
        SetMaxHolders,
        SetOpenFloor,
        AddDelegation,
        SetDelegatesMayRequest,
        JoinConference,
        LeaveConference,
        DeclareReady,
        SetPresence,
        AdmitFromLobby,
        RejectFromLobby,
        RemoveParticipant,
        UnbanParticipant,
        MuteParticipant,
        UnmuteParticipant,
        RequestFloor,
        CancelRequest,
        AcceptRequest,
        DenyRequest,
        ReorderRequest,
        GrantFloor,
        SetSpeakingTime,
        RevokeFloor,
        ReleaseFloor,
        SetLanguages,
        OpenChannel,
        CloseChannel,
        AssignInterpreter,
        UnassignInterpreter,
        SetInterpretationSource,
        GoOnAir,
        GoOffAir,
        RequestHandover,
        AcceptHandover,
        AskSlowDown,
        SetPublicChat,
        SendMessage,
    )
}

# The order of business, registered apart from the rest (see its section above).
COMMAND_TYPES.update(
    {
        cls.kind: cls
        for cls in (
            AddAgendaItem,
            InscribeSpeaker,
            OpenItem,
            CloseItem,
            GrantExtraTime,
            SetQuorum,
            StartRollCall,
            AnswerRollCall,
            CloseRollCall,
            ProposeConsensus,
            RaiseObjection,
            DesignateVoter,
            OpenVote,
            CastVote,
            CloseVote,
        )
    }
)
