"""Frames to typed messages and back.

Parsing turns every bad input into a ProtocolError carrying the error code to
answer with (and the message id as `ref` when it was readable); nothing else
escapes. Unknown extra fields are ignored, as the contract asks.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from collections.abc import Callable, Mapping
from typing import Any, NoReturn, TypeVar

from .errors import ErrorCode, MessageId, MessageTooBig, ProtocolError
from .messages import (
    PROTOCOL_VERSION,
    ROOM_COMMAND_TYPES,
    AlertState,
    CheckReport,
    ClientMessage,
    ConferenceInfo,
    DelegationInfo,
    Error,
    Hello,
    IceServer,
    InterpretationListen,
    InterpretationListening,
    Leave,
    LeaveReason,
    MediaKind,
    Message,
    MessageHistory,
    MonitorAlert,
    MonitorStats,
    ParticipantDisconnect,
    ParticipantInfo,
    ParticipantJoined,
    ParticipantLeft,
    Ping,
    Pong,
    ProducerAdded,
    ProducerInfo,
    ProducerKeyframe,
    ProducerRemoved,
    PublishAnswer,
    PublishLayers,
    PublishOffer,
    Redirect,
    Role,
    RoomCommand,
    RoomUpdate,
    ServerMessage,
    ShareEnd,
    ShareStop,
    ShareStopped,
    StreamInfo,
    SubscribeAnswer,
    SubscribeOffer,
    SubscribeOk,
    SubscribeStreams,
    Subscription,
    VideoPin,
    VideoPinned,
    Welcome,
)

__all__ = [
    "MAX_ID_LENGTH",
    "MAX_INTEGER",
    "MAX_MESSAGE_BYTES",
    "check_size",
    "encode",
    "parse_client_message",
    "parse_server_message",
]

MAX_MESSAGE_BYTES = 262144
"""Largest client frame the server accepts, in UTF-8 bytes; larger ones close with 1009."""

MAX_ID_LENGTH = 64
MAX_INTEGER = 2**53 - 1
"""Ids and revisions must survive a round trip through a JavaScript number."""

_T = TypeVar("_T")
_E = TypeVar("_E", bound=enum.StrEnum)


def check_size(data: str | bytes) -> None:
    """Raise MessageTooBig if `data` is over MAX_MESSAGE_BYTES once UTF-8 encoded."""
    if isinstance(data, bytes):
        size = len(data)
    elif len(data) * 4 <= MAX_MESSAGE_BYTES:
        return  # no code point takes more than 4 bytes: skip the encoding
    else:
        size = len(data.encode("utf-8", "surrogatepass"))
    if size > MAX_MESSAGE_BYTES:
        raise MessageTooBig(size, MAX_MESSAGE_BYTES)


def parse_client_message(data: str | bytes) -> ClientMessage:
    """Parse one client -> server frame. Raises ProtocolError (MessageTooBig if oversize)."""
    check_size(data)
    return _parse(_load(data), _CLIENT_PARSERS)


def parse_server_message(data: str | bytes) -> ServerMessage:
    """Parse one server -> client frame (for Python clients). Raises ProtocolError.

    The size cap is not applied: it bounds what the server accepts, not what it sends.
    """
    return _parse(_load(data), _SERVER_PARSERS)


def encode(message: ClientMessage | ServerMessage) -> str:
    """Compact JSON text for one frame; `id`, `ref` and `resume` are omitted when None."""
    wire = _to_wire(message)
    return json.dumps(wire, ensure_ascii=False, separators=(",", ":"))


# Encoding -----------------------------------------------------------------------

# Optional fields absent from the wire when None (a None elsewhere is a JSON null).
_OMIT_IF_NONE = frozenset(
    {"id", "ref", "resume", "resume_token", "audible", "share", "source", "forwarded"}
)
# Flags absent from the wire when false.
_OMIT_IF_FALSE = frozenset({"keep_media", "media_kept", "restart"})
_OMIT_IF_EMPTY = frozenset({"ice_servers"})  # absent when the server has no TURN
_OMIT_IF_DEFAULT = {"subscribe": Subscription()}  # absent: receive everything


def _to_wire(value: object) -> object:
    if isinstance(value, Subscription):
        # false for nothing, else per kind (everything is absent: see _OMIT_IF_DEFAULT).
        return False if not value.kinds else {"audio": value.audio, "video": value.video}
    if isinstance(value, RoomCommand):
        command: dict[str, object] = {"type": value.kind, **value.fields}
        if value.id is not None:
            command["id"] = value.id
        return command
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, object] = {}
        if isinstance(value, Message):
            out["type"] = value.TYPE
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            if item is None and f.name in _OMIT_IF_NONE:
                continue
            if (
                (item is False and f.name in _OMIT_IF_FALSE)
                or (item == () and f.name in _OMIT_IF_EMPTY)
                or (f.name in _OMIT_IF_DEFAULT and item == _OMIT_IF_DEFAULT[f.name])
            ):
                continue
            out[f.name] = _to_wire(item)
        return out
    if isinstance(value, tuple | list):
        return [_to_wire(item) for item in value]
    if isinstance(value, enum.Enum):
        return value.value
    return value


# Decoding -----------------------------------------------------------------------


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")  # Python's json would accept NaN/Infinity


def _load(data: str | bytes) -> dict[str, object]:
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError(ErrorCode.BAD_JSON, "frame is not valid UTF-8") from None
    try:
        value = json.loads(data, parse_constant=_reject_constant)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        raise ProtocolError(ErrorCode.BAD_JSON, "frame is not valid JSON") from None
    if not isinstance(value, dict):
        raise ProtocolError(ErrorCode.BAD_JSON, "frame is not a JSON object")
    return value


MAX_DEPTH = 32
"""Deepest nesting of arrays and objects accepted in a client frame."""


def _check_values(obj: object, ref: MessageId | None) -> None:
    """Refuse values no field may hold, at any depth: invalid_argument.

    Room commands' fields are passed on untyped, so they are checked here: text
    that UTF-8 cannot carry (a lone surrogate, which could never be sent back
    out), integers beyond 2^53 (seconds, positions) and non-finite numbers.
    """
    pending: list[tuple[object, int]] = [(obj, 0)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            if not _is_wire_text(value):
                raise ProtocolError(
                    ErrorCode.INVALID_ARGUMENT, "text must be valid Unicode (a lone surrogate)", ref
                )
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int):
            if not -MAX_INTEGER <= value <= MAX_INTEGER:
                raise ProtocolError(
                    ErrorCode.INVALID_ARGUMENT, "integers must be within -(2^53-1)..2^53-1", ref
                )
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise ProtocolError(ErrorCode.INVALID_ARGUMENT, "numbers must be finite", ref)
        elif isinstance(value, dict | list):
            if depth >= MAX_DEPTH:
                raise ProtocolError(
                    ErrorCode.BAD_MESSAGE, f"nested deeper than {MAX_DEPTH} levels", ref
                )
            items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
            pending.extend((item, depth + 1) for item in items)


def _is_wire_text(value: str) -> bool:
    # JSON escapes can smuggle lone surrogates in, which could never be sent back out.
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _as_id(value: object) -> MessageId | None:
    """`value` as a message id, or None if it is not one."""
    if type(value) is int and 0 <= value <= MAX_INTEGER:
        return value
    if isinstance(value, str) and 1 <= len(value) <= MAX_ID_LENGTH and _is_wire_text(value):
        return value
    return None


_ID_RULE = f"a string of 1..{MAX_ID_LENGTH} characters or an integer in 0..2^53-1"


class _Fields:
    """Typed reads from one JSON object; a failure raises bad_message naming the field."""

    def __init__(self, obj: dict[str, object], where: str, ref: MessageId | None) -> None:
        self.obj = obj
        self.where = where  # prefix of error texts: "<type>: " then the path, if nested
        self.ref = ref  # the message id: the parsed message's id and every error's ref

    def fail(self, key: str, problem: str) -> NoReturn:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"{self.where}{key} {problem}", self.ref)

    def _get(self, key: str) -> object:
        if key not in self.obj:
            self.fail(key, "is missing")
        return self.obj[key]

    def text(self, key: str, *, required: bool = False) -> str:
        """A string; `required` means it must not be empty."""
        value = self._get(key)
        if not isinstance(value, str) or not _is_wire_text(value):
            self.fail(key, "must be a string")
        if required and not value:
            self.fail(key, "must be a non-empty string")
        return value

    def nullable_text(self, key: str) -> str | None:
        """A string or null, present either way."""
        return None if self._get(key) is None else self.text(key, required=True)

    def optional_text(self, key: str) -> str | None:
        return None if self.obj.get(key) is None else self.text(key)

    def flag(self, key: str) -> bool:
        """A boolean that is false when absent."""
        value = self.obj.get(key, False)
        if not isinstance(value, bool):
            self.fail(key, "must be true or false")
        return value

    def optional_flag(self, key: str) -> bool | None:
        """A boolean, or None when absent or null."""
        value = self.obj.get(key)
        if value is not None and not isinstance(value, bool):
            self.fail(key, "must be true, false or null")
        return value

    def flag_or_true(self, key: str) -> bool:
        """A boolean that is true when absent."""
        value = self.obj.get(key, True)
        if not isinstance(value, bool):
            self.fail(key, "must be true or false")
        return value

    def optional_id(self, key: str) -> MessageId | None:
        value = self.obj.get(key)
        if value is None:
            return None
        parsed = _as_id(value)
        if parsed is None:
            self.fail(key, f"must be {_ID_RULE}")
        return parsed

    def integer(self, key: str) -> int:
        value = self._get(key)
        if type(value) is not int:  # bool is an int subclass, and 1.0 is not an int here
            self.fail(key, "must be an integer")
        return value

    def natural(self, key: str) -> int:
        """A non-negative integer that a JavaScript number holds exactly."""
        value = self.integer(key)
        if not 0 <= value <= MAX_INTEGER:
            self.fail(key, "must be an integer in 0..2^53-1")
        return value

    def choice(self, key: str, kind: type[_E]) -> _E:
        value = self._get(key)
        if isinstance(value, str):
            try:
                return kind(value)
            except ValueError:
                pass
        self.fail(key, "must be one of " + ", ".join(member.value for member in kind))

    def object(self, key: str, parse: Callable[[_Fields], _T]) -> _T:
        value = self._get(key)
        if not isinstance(value, dict):
            self.fail(key, "must be an object")
        return parse(_Fields(value, f"{self.where}{key}.", self.ref))

    def nullable_object(self, key: str, parse: Callable[[_Fields], _T]) -> _T | None:
        return None if self._get(key) is None else self.object(key, parse)

    def number(self, key: str) -> float:
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(key, "must be a number")
        return float(value)

    def json_object(self, key: str) -> dict[str, Any]:
        """A JSON object passed through as it is (its meaning is another layer's)."""
        value = self._get(key)
        if not isinstance(value, dict):
            self.fail(key, "must be an object")
        return value

    def json_objects(self, key: str) -> tuple[dict[str, Any], ...]:
        value = self._get(key)
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.fail(key, "must be an array of objects")
        return tuple(value)

    def texts(self, key: str) -> tuple[str, ...]:
        value = self._get(key)
        if not isinstance(value, list) or not all(
            isinstance(v, str) and _is_wire_text(v) for v in value
        ):
            self.fail(key, "must be an array of strings")
        return tuple(value)

    def array(self, key: str, parse: Callable[[_Fields], _T]) -> tuple[_T, ...]:
        value = self._get(key)
        if not isinstance(value, list):
            self.fail(key, "must be an array")
        items = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                self.fail(f"{key}[{index}]", "must be an object")
            items.append(parse(_Fields(item, f"{self.where}{key}[{index}].", self.ref)))
        return tuple(items)


def _parse(obj: dict[str, object], parsers: Mapping[str, Callable[[_Fields], _T]]) -> _T:
    ref = _as_id(obj.get("id"))
    if ref is None and obj.get("id") is not None:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"id must be {_ID_RULE}")
    kind = obj.get("type")
    if not isinstance(kind, str):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "type must be a string", ref)
    parser = parsers.get(kind)
    if parser is None and kind in ROOM_COMMAND_TYPES and parsers is _CLIENT_PARSERS:
        fields = {k: v for k, v in obj.items() if k not in ("type", "id")}
        _check_values(fields, ref)
        return RoomCommand(kind, fields, id=ref)  # type: ignore[return-value]
    if parser is None:
        shown = kind if len(kind) <= 40 else kind[:40] + "..."
        raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f"unknown message type {shown!r}", ref)
    return parser(_Fields(obj, f"{kind}: ", ref))


# Value types.


def _delegation(f: _Fields) -> DelegationInfo:
    return DelegationInfo(f.text("id", required=True), f.text("name"), f.text("code"))


def _participant(f: _Fields) -> ParticipantInfo:
    return ParticipantInfo(
        f.text("id", required=True),
        f.text("name"),
        f.choice("role", Role),
        f.nullable_object("delegation", _delegation),
    )


def _conference(f: _Fields) -> ConferenceInfo:
    return ConferenceInfo(f.text("id", required=True), f.text("title"))


def _producer(f: _Fields) -> ProducerInfo:
    return ProducerInfo(
        f.text("id", required=True),
        f.text("participant_id", required=True),
        f.choice("kind", MediaKind),
        f.optional_text("source"),
    )


def _stream(f: _Fields) -> StreamInfo:
    return StreamInfo(
        f.text("mid", required=True),
        f.text("producer_id", required=True),
        f.text("participant_id", required=True),
        f.choice("kind", MediaKind),
        f.optional_flag("audible"),
        f.optional_text("source"),
        f.optional_flag("forwarded"),
    )


# Client -> server.


def _hello(f: _Fields) -> Hello:
    version = f.integer("version")
    if version != PROTOCOL_VERSION:
        # Read no further: the session answers unsupported_version, not bad_message.
        token = f.obj.get("token")
        return Hello(version, token if isinstance(token, str) else "", id=f.ref)
    return Hello(
        version,
        f.text("token", required=True),
        f.optional_text("resume"),
        id=f.ref,
        keep_media=f.flag("keep_media"),
        subscribe=_subscription(f),
    )


_KINDS = frozenset(kind.value for kind in MediaKind)


def _subscription(f: _Fields) -> Subscription:
    """``subscribe``: true (the default), false, or a choice per kind of media."""
    value = f.obj.get("subscribe")
    if value is None or value is True:
        return Subscription()
    if value is False:
        return Subscription(audio=False, video=False)
    if not isinstance(value, dict):
        f.fail("subscribe", 'must be true, false or an object such as {"audio":true,"video":false}')
    unknown = sorted(k for k in value if k not in _KINDS)
    if unknown:
        f.fail("subscribe", f"names an unknown kind of media {unknown[0][:40]!r} (audio, video)")
    choice = _Fields(value, f"{f.where}subscribe.", f.ref)
    return Subscription(audio=choice.flag_or_true("audio"), video=choice.flag_or_true("video"))


def _ping(f: _Fields) -> Ping:
    return Ping(id=f.ref)


def _pong(f: _Fields) -> Pong:
    return Pong(id=f.ref, ref=f.optional_id("ref"))


_CLIENT_PARSERS: Mapping[str, Callable[[_Fields], ClientMessage]] = {
    Hello.TYPE: _hello,
    PublishOffer.TYPE: lambda f: PublishOffer(
        f.text("sdp", required=True),
        _optional_mid(f, "share"),
        id=f.ref,
        restart=f.flag("restart"),
    ),
    SubscribeAnswer.TYPE: lambda f: SubscribeAnswer(
        f.text("sdp", required=True), f.natural("revision"), id=f.ref
    ),
    Ping.TYPE: _ping,
    Pong.TYPE: _pong,
    Leave.TYPE: lambda f: Leave(id=f.ref),
    ProducerKeyframe.TYPE: lambda f: ProducerKeyframe(
        f.text("producer_id", required=True), id=f.ref
    ),
    ParticipantDisconnect.TYPE: lambda f: ParticipantDisconnect(
        f.text("participant_id", required=True), id=f.ref
    ),
    InterpretationListen.TYPE: lambda f: InterpretationListen(f.nullable_text("channel"), id=f.ref),
    VideoPin.TYPE: lambda f: VideoPin(f.nullable_text("participant_id"), id=f.ref),
    ShareStop.TYPE: lambda f: ShareStop(f.text("participant_id", required=True), id=f.ref),
}


def _optional_mid(f: _Fields, key: str) -> str | None:
    """An optional mid: absent or null, else a non-empty string (RFC 8843 allows 16 chars;
    browsers use short numbers, aiortc's peers too)."""
    if f.obj.get(key) is None:
        return None
    mid = f.text(key, required=True)
    if len(mid) > 32:
        f.fail(key, "must be at most 32 characters")
    return mid


# Server -> client.


def _welcome(f: _Fields) -> Welcome:
    return Welcome(
        f.integer("version"),
        f.object("conference", _conference),
        f.object("you", _participant),
        f.array("participants", _participant),
        f.array("producers", _producer),
        id=f.ref,
        ref=f.optional_id("ref"),
        resume_token=f.optional_text("resume_token"),
        media_kept=f.flag("media_kept"),
        ice_servers=f.array("ice_servers", _ice_server) if "ice_servers" in f.obj else (),
    )


def _ice_server(f: _Fields) -> IceServer:
    return IceServer(
        f.texts("urls"),
        f.text("username", required=True),
        f.text("credential", required=True),
    )


def _subscribe_offer(f: _Fields) -> SubscribeOffer:
    return SubscribeOffer(
        f.text("sdp", required=True),
        f.natural("revision"),
        f.array("streams", _stream),
        id=f.ref,
        restart=f.flag("restart"),
    )


def _publish_layers(f: _Fields) -> PublishLayers:
    active = f.texts("active")
    if not active:
        f.fail("active", "must name at least one layer")
    return PublishLayers(f.text("mid", required=True), active, id=f.ref)


_SERVER_PARSERS: Mapping[str, Callable[[_Fields], ServerMessage]] = {
    Welcome.TYPE: _welcome,
    ParticipantJoined.TYPE: lambda f: ParticipantJoined(
        f.object("participant", _participant), id=f.ref
    ),
    ParticipantLeft.TYPE: lambda f: ParticipantLeft(
        f.text("participant_id", required=True), f.choice("reason", LeaveReason), id=f.ref
    ),
    ProducerAdded.TYPE: lambda f: ProducerAdded(f.object("producer", _producer), id=f.ref),
    ProducerRemoved.TYPE: lambda f: ProducerRemoved(f.text("producer_id", required=True), id=f.ref),
    PublishAnswer.TYPE: lambda f: PublishAnswer(
        f.text("sdp", required=True), id=f.ref, ref=f.optional_id("ref")
    ),
    PublishLayers.TYPE: _publish_layers,
    SubscribeOffer.TYPE: _subscribe_offer,
    SubscribeStreams.TYPE: lambda f: SubscribeStreams(
        f.natural("revision"), f.array("streams", _stream), id=f.ref
    ),
    SubscribeOk.TYPE: lambda f: SubscribeOk(
        f.natural("revision"), id=f.ref, ref=f.optional_id("ref")
    ),
    RoomUpdate.TYPE: lambda f: RoomUpdate(
        f.natural("seq"),
        f.json_objects("events"),
        f.json_object("state"),
        f.number("server_time"),
        id=f.ref,
        ref=f.optional_id("ref"),
    ),
    MonitorStats.TYPE: lambda f: MonitorStats(
        f.number("at"),
        f.json_objects("streams"),
        f.json_objects("alerts"),
        f.json_objects("channels") if "channels" in f.obj else (),
        id=f.ref,
    ),
    MonitorAlert.TYPE: lambda f: MonitorAlert(
        f.json_object("alert"), f.choice("state", AlertState), id=f.ref
    ),
    CheckReport.TYPE: lambda f: CheckReport(f.json_object("report"), id=f.ref),
    InterpretationListening.TYPE: lambda f: InterpretationListening(
        f.nullable_text("channel"), id=f.ref, ref=f.optional_id("ref")
    ),
    MessageHistory.TYPE: lambda f: MessageHistory(f.json_objects("messages"), id=f.ref),
    VideoPinned.TYPE: lambda f: VideoPinned(
        f.nullable_text("participant_id"), id=f.ref, ref=f.optional_id("ref")
    ),
    Redirect.TYPE: lambda f: Redirect(
        f.text("url", required=True), id=f.ref, ref=f.optional_id("ref")
    ),
    ShareStopped.TYPE: lambda f: ShareStopped(
        f.text("participant_id", required=True),
        f.text("producer_id", required=True),
        f.choice("reason", ShareEnd),
        f.text("actor", required=True),
        id=f.ref,
        ref=f.optional_id("ref"),
    ),
    Error.TYPE: lambda f: Error(
        f.choice("code", ErrorCode), f.text("message"), id=f.ref, ref=f.optional_id("ref")
    ),
    Ping.TYPE: _ping,
    Pong.TYPE: _pong,
}
