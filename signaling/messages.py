"""Typed messages of the signaling protocol, version 1.

One frozen dataclass per message type. Field names are the JSON field names;
`TYPE` is the wire `type`. Every message may carry a client-chosen `id`; replies
(welcome, publish.answer, pong, error) carry the id of what they answer as `ref`.
Lists are tuples so that messages stay immutable and hashable.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, TypeAlias

from .errors import ErrorCode, MessageId

__all__ = [
    "MAX_HISTORY",
    "PROTOCOL_VERSION",
    "ROOM_COMMAND_TYPES",
    "AlertState",
    "CheckReport",
    "ClientMessage",
    "ConferenceInfo",
    "DelegationInfo",
    "Error",
    "Hello",
    "IceServer",
    "InterpretationListen",
    "InterpretationListening",
    "Leave",
    "LeaveReason",
    "MediaKind",
    "Message",
    "MessageHistory",
    "MonitorAlert",
    "MonitorStats",
    "ParticipantDisconnect",
    "ParticipantInfo",
    "ParticipantJoined",
    "ParticipantLeft",
    "Ping",
    "Pong",
    "ProducerAdded",
    "ProducerInfo",
    "ProducerKeyframe",
    "ProducerRemoved",
    "PublishAnswer",
    "PublishLayers",
    "PublishOffer",
    "Redirect",
    "Role",
    "RoomCommand",
    "RoomUpdate",
    "ServerMessage",
    "ShareEnd",
    "ShareStop",
    "ShareStopped",
    "StreamInfo",
    "SubscribeAnswer",
    "SubscribeOffer",
    "SubscribeOk",
    "SubscribeStreams",
    "Subscription",
    "VideoPin",
    "VideoPinned",
    "Welcome",
]

PROTOCOL_VERSION = 1


class Role(enum.StrEnum):
    CHAIR = "chair"
    HEAD = "head"
    DELEGATE = "delegate"
    OBSERVER = "observer"
    TECHNICIAN = "technician"
    INTERPRETER = "interpreter"  # sits in an interpretation booth


class MediaKind(enum.StrEnum):
    AUDIO = "audio"
    VIDEO = "video"


class ShareEnd(enum.StrEnum):
    """Why a screen share stopped."""

    FLOOR = "floor"  # the sharer's floor ended (released, revoked, expired)
    CHAIR = "chair"  # the chair stopped it
    SHARER = "sharer"  # the sharer stopped it
    LEFT = "left"  # the sharer left the conference


class LeaveReason(enum.StrEnum):
    LEFT = "left"
    DISCONNECTED = "disconnected"
    REMOVED = "removed"
    TIMEOUT = "timeout"


# Nested value types ------------------------------------------------------------


@dataclass(frozen=True)
class DelegationInfo:
    id: str
    name: str
    code: str


@dataclass(frozen=True)
class ParticipantInfo:
    id: str
    name: str
    role: Role
    delegation: DelegationInfo | None  # always on the wire, null when none


@dataclass(frozen=True)
class IceServer:
    """A TURN server for the client's peer connections (an RTCIceServer)."""

    urls: tuple[str, ...]
    username: str
    credential: str


@dataclass(frozen=True)
class ConferenceInfo:
    id: str
    title: str


@dataclass(frozen=True)
class ProducerInfo:
    id: str
    participant_id: str
    kind: MediaKind
    source: str | None = None  # "screen" for a screen share; absent for camera and microphone


@dataclass(frozen=True)
class StreamInfo:
    """What one active m-line (`mid`) of a subscriber offer carries.

    `audible`, on a producer's audio: whether the server forwards it now (the
    floor, a mute); None on video and on feeds, which the floor never gates.
    `forwarded`, on a video: whether the server sends it to this subscriber now
    (False: left out for its downlink or beyond the last N videos).
    """

    mid: str
    producer_id: str
    participant_id: str
    kind: MediaKind
    audible: bool | None = None
    source: str | None = None  # "screen" for a screen share
    forwarded: bool | None = None


@dataclass(frozen=True)
class Subscription:
    """Which kinds of media a participant receives (``hello.subscribe``).

    Receiving nothing makes a publish-only participant (a bot, a recorder):
    no subscriber connection, no ``subscribe.offer``.
    """

    audio: bool = True
    video: bool = True

    @property
    def kinds(self) -> frozenset[MediaKind]:
        return frozenset(k for k in MediaKind if getattr(self, k.value))


# Messages -----------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """Base of every message; `id` is keyword-only so subclasses keep positional fields."""

    TYPE: ClassVar[str]
    id: MessageId | None = field(default=None, kw_only=True)


# Both directions.


@dataclass(frozen=True)
class Ping(Message):
    TYPE: ClassVar[str] = "ping"


@dataclass(frozen=True)
class Pong(Message):
    TYPE: ClassVar[str] = "pong"
    ref: MessageId | None = field(default=None, kw_only=True)


# Client -> server.


@dataclass(frozen=True)
class Hello(Message):
    """First message of a connection.

    When `version` is not PROTOCOL_VERSION the other fields are not validated
    (another version may shape them differently): `token` is "" unless it was a
    string, `resume` is None. The session then answers unsupported_version.
    """

    TYPE: ClassVar[str] = "hello"
    version: int
    token: str
    resume: str | None = None  # the last welcome's resume_token: come back to the seat
    # The client still has its peer connections from before the drop and
    # would like to go on with them (a resume of signaling only).
    keep_media: bool = field(default=False, kw_only=True)
    # What the participant receives; everything unless it says otherwise.
    subscribe: Subscription = field(default=Subscription(), kw_only=True)


@dataclass(frozen=True)
class PublishOffer(Message):
    TYPE: ClassVar[str] = "publish.offer"
    sdp: str
    share: str | None = None  # the mid of the section carrying a screen share
    # The offer comes from a new publisher connection that replaces one whose
    # ICE failed: its tracks go on as the same producers.
    restart: bool = field(default=False, kw_only=True)


@dataclass(frozen=True)
class SubscribeAnswer(Message):
    TYPE: ClassVar[str] = "subscribe.answer"
    sdp: str
    revision: int


@dataclass(frozen=True)
class Leave(Message):
    TYPE: ClassVar[str] = "leave"


# Server -> client.


@dataclass(frozen=True)
class Welcome(Message):
    """Reply to an accepted hello: the snapshot the client starts from.

    `participants` are the others already in the conference (`you` is not
    repeated); `producers` are the producers currently published.
    """

    TYPE: ClassVar[str] = "welcome"
    version: int
    conference: ConferenceInfo
    you: ParticipantInfo
    participants: tuple[ParticipantInfo, ...]
    producers: tuple[ProducerInfo, ...]
    ref: MessageId | None = field(default=None, kw_only=True)
    # Present in `hello.resume` to come back after a dropped connection, even
    # once the join link has expired (within the resume grace period).
    resume_token: str | None = field(default=None, kw_only=True)
    # The server kept the client's peer connections (hello.keep_media within
    # the resume grace): nothing to renegotiate, media never stopped.
    media_kept: bool = field(default=False, kw_only=True)
    # TURN servers with this seat's short-lived credential; fresh in every welcome.
    ice_servers: tuple[IceServer, ...] = field(default=(), kw_only=True)


@dataclass(frozen=True)
class ParticipantJoined(Message):
    TYPE: ClassVar[str] = "participant.joined"
    participant: ParticipantInfo


@dataclass(frozen=True)
class ParticipantLeft(Message):
    TYPE: ClassVar[str] = "participant.left"
    participant_id: str
    reason: LeaveReason


@dataclass(frozen=True)
class ProducerAdded(Message):
    TYPE: ClassVar[str] = "producer.added"
    producer: ProducerInfo


@dataclass(frozen=True)
class ProducerRemoved(Message):
    TYPE: ClassVar[str] = "producer.removed"
    producer_id: str


@dataclass(frozen=True)
class PublishAnswer(Message):
    TYPE: ClassVar[str] = "publish.answer"
    sdp: str
    ref: MessageId | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class PublishLayers(Message):
    """The simulcast layers (rids) the publisher should send of its camera on `mid`.

    The others nobody watches: the client deactivates their encodings. The
    lowest layer is always listed; sent on a change, and again on a new connection.
    """

    TYPE: ClassVar[str] = "publish.layers"
    mid: str
    active: tuple[str, ...]


@dataclass(frozen=True)
class SubscribeOffer(Message):
    """Server offer on the subscriber connection; m-lines not in `streams` are inactive."""

    TYPE: ClassVar[str] = "subscribe.offer"
    sdp: str
    revision: int
    streams: tuple[StreamInfo, ...]
    # The server replaced the subscriber connection (the old one's ICE
    # failed): answer on a new peer connection.
    restart: bool = field(default=False, kw_only=True)


@dataclass(frozen=True)
class SubscribeOk(Message):
    """The `subscribe.answer` of this revision is applied: its streams are set up."""

    TYPE: ClassVar[str] = "subscribe.ok"
    revision: int
    ref: MessageId | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class SubscribeStreams(Message):
    """The streams of the latest `subscribe.offer` as they are now (no renegotiation).

    Sent when whether one of them is forwarded changes (`audible`: the floor, a mute;
    `forwarded`: the subscriber's downlink, last-N).
    """

    TYPE: ClassVar[str] = "subscribe.streams"
    revision: int
    streams: tuple[StreamInfo, ...]


@dataclass(frozen=True)
class Redirect(Message):
    """The conference is served by another node: connect to `url` and say hello there.

    The server closes the connection with 4010 after it.
    """

    TYPE: ClassVar[str] = "redirect"
    url: str
    ref: MessageId | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class Error(Message):
    TYPE: ClassVar[str] = "error"
    code: ErrorCode
    message: str  # for humans; clients branch on `code`
    ref: MessageId | None = field(default=None, kw_only=True)


# Room commands a client may send: floor control and moderation. Their fields
# are checked by the domain core (rooms), which owns their meaning; here they
# are only routed. Each is documented in docs/protocol.md.
ROOM_COMMAND_TYPES = frozenset(
    {
        "conference.lock",
        "conference.unlock",
        "conference.close",
        "recording.start",
        "recording.stop",
        "settings.default_time_limit",
        "settings.max_holders",
        "settings.open_floor",
        "delegation.delegates_may_request",
        "lobby.admit",
        "lobby.reject",
        "participant.remove",
        "participant.unban",
        "participant.mute",
        "participant.unmute",
        "participant.ready",
        "floor.request",
        "floor.cancel",
        "floor.accept",
        "floor.deny",
        "floor.reorder",
        "floor.grant",
        "floor.set_time",
        "floor.revoke",
        "floor.release",
        "interpretation.set_languages",
        "interpretation.open_channel",
        "interpretation.close_channel",
        "interpretation.assign",
        "interpretation.unassign",
        "interpretation.set_source",
        "interpretation.on_air",
        "interpretation.off_air",
        "interpretation.request_handover",
        "interpretation.accept_handover",
        "interpretation.slow_down",
        # The order of business: agenda, budgets, roll call, decisions.
        "agenda.add_item",
        "agenda.inscribe",
        "agenda.open_item",
        "agenda.close_item",
        "agenda.extra_time",
        "rollcall.set_quorum",
        "rollcall.start",
        "rollcall.answer",
        "rollcall.close",
        "decision.propose",
        "decision.object",
        "decision.designate",
        "decision.open_vote",
        "decision.vote",
        "decision.close_vote",
        "settings.public_chat",
        "message.send",
    }
)


@dataclass(frozen=True)
class RoomCommand(Message):
    """A floor-control or moderation command; on the wire its `type` is `kind`."""

    TYPE: ClassVar[str] = "room.command"  # never on the wire
    kind: str
    fields: Mapping[str, object]


@dataclass(frozen=True)
class RoomUpdate(Message):
    """What changed in the room (domain events, in order) and the state after it.

    Sent right after `welcome` (no events) and after every change. `seq` is the
    sequence number of the last event applied; clients render `state`. Deadlines
    in it are absolute server times: a client corrects them with `server_time`.
    """

    TYPE: ClassVar[str] = "room.update"
    seq: int
    events: tuple[Mapping[str, object], ...]
    state: Mapping[str, object]
    server_time: float  # the server's clock (unix seconds), for countdowns
    # The id of the room command that caused it, in the copy sent to its issuer.
    ref: MessageId | None = field(default=None, kw_only=True)


# Monitoring (technicians) ---------------------------------------------------------


class AlertState(enum.StrEnum):
    RAISED = "raised"
    CLEARED = "cleared"


@dataclass(frozen=True)
class MonitorStats(Message):
    """Every stream's figures over the last second, and the alerts standing.

    Sent about once a second to technicians; the fields of a stream and of an
    alert are listed in docs/protocol.md.
    """

    TYPE: ClassVar[str] = "monitor.stats"
    at: float
    streams: tuple[Mapping[str, object], ...]
    alerts: tuple[Mapping[str, object], ...]
    # One entry per open language channel (the stream its listeners receive).
    channels: tuple[Mapping[str, object], ...] = ()


@dataclass(frozen=True)
class MonitorAlert(Message):
    """An alert was raised or cleared (sent to technicians when it happens)."""

    TYPE: ClassVar[str] = "monitor.alert"
    alert: Mapping[str, object]
    state: AlertState


@dataclass(frozen=True)
class CheckReport(Message):
    """A seat sent its connectivity check results (to technicians, as they arrive).

    ``report`` is what ``/check/reports`` lists for that seat; its fields are in
    docs/protocol.md.
    """

    TYPE: ClassVar[str] = "check.report"
    report: Mapping[str, object]


@dataclass(frozen=True)
class ProducerKeyframe(Message):
    """Technician: ask a publisher for a keyframe of this video producer."""

    TYPE: ClassVar[str] = "producer.keyframe"
    producer_id: str


@dataclass(frozen=True)
class ParticipantDisconnect(Message):
    """Technician: close a participant's connection (4004); it may rejoin."""

    TYPE: ClassVar[str] = "participant.disconnect"
    participant_id: str


@dataclass(frozen=True)
class InterpretationListen(Message):
    """A listener chooses the channel it hears besides the floor (null: the floor only)."""

    TYPE: ClassVar[str] = "interpretation.listen"
    channel: str | None


@dataclass(frozen=True)
class InterpretationListening(Message):
    """The channel now forwarded on the listener's `feed:listen` stream."""

    TYPE: ClassVar[str] = "interpretation.listening"
    channel: str | None
    ref: MessageId | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class VideoPin(Message):
    """A subscriber pins one participant's video tile (null: none), sent in the middle layer."""

    TYPE: ClassVar[str] = "video.pin"
    participant_id: str | None


@dataclass(frozen=True)
class VideoPinned(Message):
    """The participant whose video this subscriber now has pinned (null: none)."""

    TYPE: ClassVar[str] = "video.pinned"
    participant_id: str | None
    ref: MessageId | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class MessageHistory(Message):
    """The messages this seat may read (its threads), oldest first, when it enters the room.

    Sent after the first `room.update` of a connection (and on admission from
    the lobby); later messages arrive as `message.sent` events in `room.update`.
    Only the last MAX_HISTORY are sent.
    """

    TYPE: ClassVar[str] = "message.history"
    messages: tuple[Mapping[str, object], ...]


# Messages a seat is sent on entering the room (older ones stay in the log).
MAX_HISTORY = 500


@dataclass(frozen=True)
class ShareStop(Message):
    """Stop a screen share: the chair anyone's, a sharer its own."""

    TYPE: ClassVar[str] = "share.stop"
    participant_id: str


@dataclass(frozen=True)
class ShareStopped(Message):
    """A screen share ended: its stream is no longer forwarded to anyone."""

    TYPE: ClassVar[str] = "share.stopped"
    participant_id: str
    producer_id: str
    reason: ShareEnd
    actor: str  # who stopped it: a participant id, or "system"
    ref: MessageId | None = field(default=None, kw_only=True)  # the issuer's share.stop


ClientMessage: TypeAlias = (
    Hello
    | PublishOffer
    | SubscribeAnswer
    | Ping
    | Pong
    | Leave
    | RoomCommand
    | ProducerKeyframe
    | ParticipantDisconnect
    | InterpretationListen
    | VideoPin
    | ShareStop
)
ServerMessage: TypeAlias = (
    Welcome
    | ParticipantJoined
    | ParticipantLeft
    | ProducerAdded
    | ProducerRemoved
    | PublishAnswer
    | PublishLayers
    | SubscribeOffer
    | SubscribeOk
    | SubscribeStreams
    | RoomUpdate
    | MonitorStats
    | MonitorAlert
    | CheckReport
    | InterpretationListening
    | VideoPinned
    | MessageHistory
    | ShareStopped
    | Redirect
    | Error
    | Ping
    | Pong
)
