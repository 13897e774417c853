"""One signaling connection as a state machine, without I/O.

The I/O shell feeds it received frames and the current time, calls `tick` when
`next_deadline()` is reached, and carries out the returned outcomes in order:
`Dispatch` (the server acts on a validated client message), `Send` (encode and
send a server message), `Close` (close the WebSocket with that code).

    AWAITING_HELLO --hello v1--> AUTHENTICATING --accept()--> JOINED
    any state --> CLOSED on: handshake timeout (4002), hello of another version or
    reject() (4001), leave (1000), heartbeat timeout (4008), oversize frame (1009),
    close() (server-initiated: 1001 shutdown, 4009 replaced, ...)
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import TypeAlias

from .codec import parse_client_message
from .errors import CloseCode, ErrorCode, MessageId, ProtocolError
from .messages import (
    PROTOCOL_VERSION,
    ClientMessage,
    Error,
    Hello,
    Leave,
    Ping,
    Pong,
    ServerMessage,
)

__all__ = ["Close", "Dispatch", "Outcome", "Send", "SignalingSession", "State"]

_MAX_REASON_BYTES = 123  # the WebSocket limit for a close reason


class State(enum.Enum):
    AWAITING_HELLO = "awaiting_hello"
    AUTHENTICATING = "authenticating"  # hello dispatched; the server checks the token
    JOINED = "joined"
    CLOSED = "closed"


@dataclass(frozen=True)
class Dispatch:
    """A validated client message the server must act on."""

    message: ClientMessage


@dataclass(frozen=True)
class Send:
    """A server message to encode and send."""

    message: ServerMessage


@dataclass(frozen=True)
class Close:
    """Close the WebSocket; the session is closed and ignores everything after."""

    code: CloseCode
    reason: str = ""


Outcome: TypeAlias = Dispatch | Send | Close


class SignalingSession:
    """Handshake, dispatch rules and heartbeat of one connection.

    Bad frames are answered with an `error` and the connection stays usable,
    except an oversize frame (close 1009) and a hello of another protocol version
    (error unsupported_version, then close 4001). Every received frame, even a bad
    one, counts as activity for the heartbeat.
    """

    def __init__(
        self,
        now: float,
        *,
        hello_timeout: float = 10.0,
        ping_after: float = 20.0,
        drop_after: float = 45.0,
    ) -> None:
        if not (hello_timeout > 0 and 0 < ping_after < drop_after):
            raise ValueError("need hello_timeout > 0 and 0 < ping_after < drop_after")
        self._hello_timeout = hello_timeout
        self._ping_after = ping_after
        self._drop_after = drop_after
        self._state = State.AWAITING_HELLO
        self._handshake_deadline = now + hello_timeout
        self._last_activity = now
        self._pinged = False  # a ping went out in the current silence period
        # A probe's deadline: a frame must arrive before it (see probe()).
        self._probe_deadline: float | None = None
        self._hello_id: MessageId | None = None

    @property
    def state(self) -> State:
        return self._state

    def receive(self, data: str | bytes, now: float) -> list[Outcome]:
        """Handle one received frame.

        Awaiting hello: a hello of version 1 is dispatched (state AUTHENTICATING,
        answer with accept() or reject()); a hello of another version gets
        unsupported_version, then close 4001; anything else gets handshake_required.
        Authenticating: hello gets already_joined, anything else handshake_required.
        Joined: publish.offer and subscribe.answer are dispatched; ping is answered
        with pong; pong only counts as activity; leave is dispatched, then the
        session closes with 1000; hello gets already_joined.
        Malformed frames get bad_json, bad_message or unknown_type in any state;
        an oversize frame closes with 1009.
        """
        if self._state is State.CLOSED:
            return []
        self._last_activity = now
        self._pinged = False
        self._probe_deadline = None
        try:
            message = parse_client_message(data)
        except ProtocolError as exc:
            if exc.close_code is not None:
                return self.close(exc.close_code, exc.message)
            return [Send(Error(exc.code, exc.message, ref=exc.ref))]
        if self._state is State.JOINED:
            return self._receive_joined(message)
        return self._receive_handshake(message, now)

    def accept(self, now: float) -> None:
        """The hello's token is valid: the session is joined.

        Send the welcome next, with `ref` set to the hello's id.

        A no-op if the session was closed meanwhile (e.g. the server is shutting
        down while it checked the token): check `state` before sending the welcome.
        """
        if self._state is State.CLOSED:
            return
        if self._state is not State.AUTHENTICATING:
            raise RuntimeError(f"accept() needs a pending hello, state is {self._state.value}")
        self._state = State.JOINED
        self._last_activity = now  # the token check is not client silence
        self._pinged = False

    def reject(self, code: ErrorCode, message: str, ref: MessageId | None = None) -> list[Outcome]:
        """The hello is refused (invalid_token, token_expired, ...): error, then close 4001.

        `ref` defaults to the hello's id. Returns [] if the session was closed meanwhile.
        """
        if self._state is State.CLOSED:
            return []
        if self._state is not State.AUTHENTICATING:
            raise RuntimeError(f"reject() needs a pending hello, state is {self._state.value}")
        error = Error(code, message, ref=self._hello_id if ref is None else ref)
        return [Send(error), *self.close(CloseCode.HANDSHAKE_FAILED, code.value)]

    def close(self, code: CloseCode, reason: str = "") -> list[Outcome]:
        """Close from the server side (1001 shutdown, 4009 replaced, ...); idempotent."""
        if self._state is State.CLOSED:
            return []
        self._state = State.CLOSED
        return [Close(code, _clip_reason(reason))]

    def next_deadline(self) -> float:
        """When tick() next has something to do (math.inf once closed)."""
        match self._state:
            case State.AWAITING_HELLO | State.AUTHENTICATING:
                return self._handshake_deadline
            case State.JOINED:
                silence_limit = self._drop_after if self._pinged else self._ping_after
                deadline = self._last_activity + silence_limit
                if self._probe_deadline is not None:
                    deadline = min(deadline, self._probe_deadline)
                return deadline
            case State.CLOSED:
                return math.inf

    def tick(self, now: float) -> list[Outcome]:
        """Apply the timers: handshake timeout (4002), ping after silence, drop (4008)."""
        if self._state is State.CLOSED:
            return []
        if self._state is not State.JOINED:
            if now >= self._handshake_deadline:
                return self.close(CloseCode.HANDSHAKE_TIMEOUT, "handshake timeout")
            return []
        silence = now - self._last_activity
        if silence >= self._drop_after:
            return self.close(CloseCode.HEARTBEAT_TIMEOUT, "heartbeat timeout")
        if self._probe_deadline is not None and now >= self._probe_deadline:
            return self.close(CloseCode.HEARTBEAT_TIMEOUT, "no media and no answer to ping")
        if silence >= self._ping_after and not self._pinged:
            self._pinged = True
            return [Send(Ping())]
        return []

    def probe(self, now: float, within: float) -> list[Outcome]:
        """Ask a joined client that looks gone (its media fell silent) to answer.

        A ping goes out now; unless a frame arrives within ``within`` seconds,
        tick() closes with 4008 as for a heartbeat timeout. A probe already
        running keeps its deadline.
        """
        if self._state is not State.JOINED or self._probe_deadline is not None:
            return []
        self._probe_deadline = now + within
        self._pinged = True
        return [Send(Ping())]

    def _receive_handshake(self, message: ClientMessage, now: float) -> list[Outcome]:
        if not isinstance(message, Hello):
            return _error(ErrorCode.HANDSHAKE_REQUIRED, "send hello and wait for welcome", message)
        if self._state is State.AUTHENTICATING:
            return _error(ErrorCode.ALREADY_JOINED, "hello was already received", message)
        if message.version != PROTOCOL_VERSION:
            error = _error(
                ErrorCode.UNSUPPORTED_VERSION,
                f"protocol version {message.version} is not supported, use {PROTOCOL_VERSION}",
                message,
            )
            return [*error, *self.close(CloseCode.HANDSHAKE_FAILED, "unsupported version")]
        self._state = State.AUTHENTICATING
        self._hello_id = message.id
        # The server gets as long to check the token as the client had to send hello.
        self._handshake_deadline = now + self._hello_timeout
        return [Dispatch(message)]

    def _receive_joined(self, message: ClientMessage) -> list[Outcome]:
        match message:
            case Hello():
                return _error(ErrorCode.ALREADY_JOINED, "already joined", message)
            case Ping():
                return [Send(Pong(ref=message.id))]
            case Pong():
                return []
            case Leave():
                return [Dispatch(message), *self.close(CloseCode.NORMAL, "leave")]
            case _:
                return [Dispatch(message)]


def _error(code: ErrorCode, text: str, cause: ClientMessage) -> list[Outcome]:
    return [Send(Error(code, text, ref=cause.id))]


def _clip_reason(reason: str) -> str:
    # "ignore" drops a multi-byte character cut in half at the limit.
    return reason.encode("utf-8", "replace")[:_MAX_REASON_BYTES].decode("utf-8", "ignore")
