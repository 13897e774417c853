"""Error codes, WebSocket close codes and the exceptions raised by the codec."""

from __future__ import annotations

import enum
from typing import TypeAlias

__all__ = ["CloseCode", "ErrorCode", "MessageId", "MessageTooBig", "ProtocolError"]

MessageId: TypeAlias = str | int
"""A client-chosen message id: a string of 1..64 characters or a non-negative integer."""


class ErrorCode(enum.StrEnum):
    """The `code` of an `error` message (stable across protocol versions)."""

    BAD_JSON = "bad_json"
    BAD_MESSAGE = "bad_message"
    UNKNOWN_TYPE = "unknown_type"
    HANDSHAKE_REQUIRED = "handshake_required"
    ALREADY_JOINED = "already_joined"
    UNSUPPORTED_VERSION = "unsupported_version"
    INVALID_TOKEN = "invalid_token"
    TOKEN_EXPIRED = "token_expired"
    WRONG_CONFERENCE = "wrong_conference"
    BAD_SDP = "bad_sdp"
    UNSUPPORTED_CODEC = "unsupported_codec"
    STALE_REVISION = "stale_revision"
    FORBIDDEN = "forbidden"
    # Room commands (floor control, moderation): the codes of the domain core.
    NOT_FOUND = "not_found"
    INVALID_STATE = "invalid_state"
    INVALID_ARGUMENT = "invalid_argument"
    ALREADY_EXISTS = "already_exists"
    ALREADY_REQUESTED = "already_requested"
    ROOM_LOCKED = "room_locked"
    LIMIT_REACHED = "limit_reached"
    IN_LOBBY = "in_lobby"
    RATE_LIMITED = "rate_limited"  # too many messages: this one was not acted on
    UNAVAILABLE = "unavailable"  # the event store is down: nothing was changed, retry later
    INTERNAL = "internal"


class CloseCode(enum.IntEnum):
    """WebSocket close codes used by the server."""

    NORMAL = 1000
    GOING_AWAY = 1001
    MESSAGE_TOO_BIG = 1009
    HANDSHAKE_FAILED = 4001
    REMOVED = 4003  # removed by the chair, or refused admission from the lobby
    DISCONNECTED = 4004  # disconnected by a technician; the participant may rejoin
    HANDSHAKE_TIMEOUT = 4002
    HEARTBEAT_TIMEOUT = 4008
    REPLACED = 4009
    REDIRECT = 4010  # the conference is on another node; a `redirect` message says where
    SLOW_CONSUMER = 4011  # the client did not read: its outgoing queue overflowed
    RATE_LIMITED = 4029  # the client kept sending over its rate after rate_limited errors


class ProtocolError(Exception):
    """A frame the codec could not accept.

    `ref` is the offending message's `id` when it could be read, so that the
    `error` reply can point at it. When `close_code` is set the peer must not get
    an `error` message: the connection is closed with that code instead.
    """

    close_code: CloseCode | None = None

    def __init__(self, code: ErrorCode, message: str, ref: MessageId | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code.value!r}, {self.message!r}, ref={self.ref!r})"


class MessageTooBig(ProtocolError):
    """A frame over the size cap: answered by closing with 1009, never by an `error`.

    It subclasses ProtocolError so that "parsing raises ProtocolError" stays the
    whole contract; `code` is bad_message only to keep that attribute total.
    """

    close_code = CloseCode.MESSAGE_TOO_BIG

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(ErrorCode.BAD_MESSAGE, f"frame of {size} bytes exceeds {limit} bytes")
        self.size = size
        self.limit = limit
