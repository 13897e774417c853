"""SignalingSession: handshake, dispatch rules, heartbeat, closing; time is explicit."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signaling import (
    MAX_MESSAGE_BYTES,
    ClientMessage,
    Close,
    CloseCode,
    Dispatch,
    Error,
    ErrorCode,
    Hello,
    Leave,
    Outcome,
    Ping,
    Pong,
    PublishOffer,
    Send,
    SignalingSession,
    State,
    SubscribeAnswer,
    encode,
)

T0 = 1000.0
SDP = "v=0\r\n"
HELLO = encode(Hello(1, "token", id="h"))


def _joined(now: float = T0) -> SignalingSession:
    session = SignalingSession(now)
    assert session.receive(HELLO, now) == [Dispatch(Hello(1, "token", id="h"))]
    session.accept(now)
    assert session.state is State.JOINED
    return session


def _error(code: ErrorCode, outcomes: list[Outcome]) -> Error:
    assert len(outcomes) >= 1
    first = outcomes[0]
    assert isinstance(first, Send)
    assert isinstance(first.message, Error)
    assert first.message.code is code
    return first.message


# Handshake -----------------------------------------------------------------------


def test_a_new_session_awaits_hello() -> None:
    assert SignalingSession(T0).state is State.AWAITING_HELLO


def test_hello_is_dispatched_then_accept_joins() -> None:
    session = SignalingSession(T0)
    assert session.receive(HELLO, T0 + 1) == [Dispatch(Hello(1, "token", id="h"))]
    states = [session.state]
    session.accept(T0 + 1.5)
    states.append(session.state)
    assert states == [State.AUTHENTICATING, State.JOINED]


@pytest.mark.parametrize(
    "message", [Ping(id=1), Pong(id=1), Leave(id=1), PublishOffer(SDP, id=1)], ids=repr
)
def test_anything_but_hello_first_is_handshake_required(message: ClientMessage) -> None:
    session = SignalingSession(T0)
    outcomes = session.receive(encode(message), T0)
    assert _error(ErrorCode.HANDSHAKE_REQUIRED, outcomes).ref == 1
    assert len(outcomes) == 1
    assert session.state is State.AWAITING_HELLO
    assert session.receive(HELLO, T0)[0] == Dispatch(Hello(1, "token", id="h"))


def test_frame_errors_take_precedence_over_handshake_required() -> None:
    session = SignalingSession(T0)
    _error(ErrorCode.BAD_JSON, session.receive("nope", T0))
    _error(ErrorCode.UNKNOWN_TYPE, session.receive('{"type":"floor.steal"}', T0))
    _error(ErrorCode.BAD_MESSAGE, session.receive('{"type":"hello","version":1}', T0))
    assert session.state is State.AWAITING_HELLO


def test_messages_while_authenticating() -> None:
    session = SignalingSession(T0)
    session.receive(HELLO, T0)
    assert _error(ErrorCode.ALREADY_JOINED, session.receive(HELLO, T0)).ref == "h"
    ping = encode(Ping(id=2))
    assert _error(ErrorCode.HANDSHAKE_REQUIRED, session.receive(ping, T0)).ref == 2
    assert session.state is State.AUTHENTICATING


def test_second_hello_once_joined_is_already_joined() -> None:
    session = _joined()
    outcomes = session.receive(HELLO, T0 + 1)
    assert _error(ErrorCode.ALREADY_JOINED, outcomes).ref == "h"
    assert len(outcomes) == 1
    assert session.state is State.JOINED


@pytest.mark.parametrize("version", [0, 2, -1, 2**60])
def test_other_version_is_rejected_and_closes(version: int) -> None:
    session = SignalingSession(T0)
    outcomes = session.receive(f'{{"type":"hello","version":{version},"id":9}}', T0)
    error = _error(ErrorCode.UNSUPPORTED_VERSION, outcomes)
    assert error.ref == 9
    assert outcomes[1] == Close(CloseCode.HANDSHAKE_FAILED, "unsupported version")
    assert len(outcomes) == 2
    assert session.state is State.CLOSED


def test_reject_sends_error_with_hello_ref_then_closes() -> None:
    session = SignalingSession(T0)
    session.receive(HELLO, T0)
    outcomes = session.reject(ErrorCode.TOKEN_EXPIRED, "token expired at 10:00")
    assert outcomes == [
        Send(Error(ErrorCode.TOKEN_EXPIRED, "token expired at 10:00", ref="h")),
        Close(CloseCode.HANDSHAKE_FAILED, "token_expired"),
    ]
    assert session.state is State.CLOSED
    assert session.receive(HELLO, T0) == []


def test_reject_with_explicit_ref() -> None:
    session = SignalingSession(T0)
    session.receive(HELLO, T0)
    error = _error(ErrorCode.INVALID_TOKEN, session.reject(ErrorCode.INVALID_TOKEN, "no", ref=3))
    assert error.ref == 3


def test_accept_and_reject_need_a_pending_hello() -> None:
    session = SignalingSession(T0)
    with pytest.raises(RuntimeError):
        session.accept(T0)
    with pytest.raises(RuntimeError):
        session.reject(ErrorCode.INVALID_TOKEN, "no")
    joined = _joined()
    with pytest.raises(RuntimeError):
        joined.accept(T0)
    with pytest.raises(RuntimeError):
        joined.reject(ErrorCode.INVALID_TOKEN, "no")


def test_accept_and_reject_after_close_are_no_ops() -> None:
    # e.g. the server shut down while the token was being checked
    session = SignalingSession(T0)
    session.receive(HELLO, T0)
    assert session.close(CloseCode.GOING_AWAY, "shutdown") == [
        Close(CloseCode.GOING_AWAY, "shutdown")
    ]
    session.accept(T0)
    assert session.state is State.CLOSED
    assert session.reject(ErrorCode.INVALID_TOKEN, "no") == []


# Joined ------------------------------------------------------------------------------


def test_joined_dispatches_publish_and_subscribe() -> None:
    session = _joined()
    offer = PublishOffer(SDP, id=1)
    answer = SubscribeAnswer(SDP, 4, id="a")
    assert session.receive(encode(offer), T0) == [Dispatch(offer)]
    assert session.receive(encode(answer), T0) == [Dispatch(answer)]


def test_ping_gets_pong_with_ref_and_pong_is_silent() -> None:
    session = _joined()
    assert session.receive(encode(Ping(id=5)), T0) == [Send(Pong(ref=5))]
    assert session.receive(encode(Ping()), T0) == [Send(Pong())]
    assert session.receive(encode(Pong(ref=1)), T0) == []


def test_leave_is_dispatched_then_closes_normally() -> None:
    session = _joined()
    outcomes = session.receive(encode(Leave(id=8)), T0)
    assert outcomes == [Dispatch(Leave(id=8)), Close(CloseCode.NORMAL, "leave")]
    assert session.state is State.CLOSED


def test_bad_messages_do_not_kill_a_joined_session() -> None:
    session = _joined()
    for frame in ["{", "[]", '{"type":"x","id":1}', '{"type":"publish.offer","sdp":""}']:
        outcomes = session.receive(frame, T0)
        assert len(outcomes) == 1
        assert isinstance(outcomes[0], Send)
    assert session.state is State.JOINED
    assert session.receive(encode(Ping()), T0) == [Send(Pong())]


def test_bad_message_error_keeps_ref() -> None:
    session = _joined()
    frame = '{"type":"subscribe.answer","sdp":"v=0","revision":-1,"id":"s3"}'
    assert _error(ErrorCode.BAD_MESSAGE, session.receive(frame, T0)).ref == "s3"


@pytest.mark.parametrize("joined", [False, True])
def test_oversize_closes_with_1009_in_any_state(joined: bool) -> None:
    session = _joined() if joined else SignalingSession(T0)
    frame = '{"type":"ping","pad":"' + "x" * MAX_MESSAGE_BYTES + '"}'
    outcomes = session.receive(frame, T0)
    assert len(outcomes) == 1
    assert isinstance(outcomes[0], Close)
    assert outcomes[0].code is CloseCode.MESSAGE_TOO_BIG
    assert session.state is State.CLOSED


def test_close_is_idempotent_and_silences_the_session() -> None:
    session = _joined()
    assert session.close(CloseCode.REPLACED, "replaced") == [Close(CloseCode.REPLACED, "replaced")]
    assert session.close(CloseCode.GOING_AWAY) == []
    assert session.receive(encode(Ping()), T0) == []
    assert session.tick(T0 + 1000) == []
    assert session.next_deadline() == math.inf


def test_close_reason_is_clipped_to_123_utf8_bytes() -> None:
    session = _joined()
    (outcome,) = session.close(CloseCode.GOING_AWAY, "ñ" * 100)
    assert isinstance(outcome, Close)
    assert outcome.reason == "ñ" * 61  # 122 bytes: half a character is dropped


# Timers ---------------------------------------------------------------------------------


def test_handshake_timeout() -> None:
    session = SignalingSession(T0, hello_timeout=10.0)
    assert session.next_deadline() == T0 + 10
    assert session.tick(T0 + 9.999) == []
    assert session.tick(T0 + 10) == [Close(CloseCode.HANDSHAKE_TIMEOUT, "handshake timeout")]
    assert session.state is State.CLOSED


def test_frames_before_hello_do_not_extend_the_handshake() -> None:
    session = SignalingSession(T0)
    session.receive(encode(Ping()), T0 + 9)
    assert session.next_deadline() == T0 + 10
    assert session.tick(T0 + 10)[0] == Close(CloseCode.HANDSHAKE_TIMEOUT, "handshake timeout")


def test_slow_token_check_times_out_from_the_hello() -> None:
    session = SignalingSession(T0)
    session.receive(HELLO, T0 + 9)
    assert session.next_deadline() == T0 + 19
    assert session.tick(T0 + 18) == []
    assert session.tick(T0 + 19) == [Close(CloseCode.HANDSHAKE_TIMEOUT, "handshake timeout")]


def test_no_heartbeat_before_join() -> None:
    session = SignalingSession(T0, hello_timeout=100.0)
    assert session.tick(T0 + 50) == []


def test_ping_once_per_silence_period_then_drop() -> None:
    session = _joined()
    assert session.next_deadline() == T0 + 20
    assert session.tick(T0 + 19.9) == []
    assert session.tick(T0 + 20) == [Send(Ping())]
    assert session.next_deadline() == T0 + 45
    assert session.tick(T0 + 30) == []
    assert session.tick(T0 + 44.9) == []
    assert session.tick(T0 + 45) == [Close(CloseCode.HEARTBEAT_TIMEOUT, "heartbeat timeout")]
    assert session.state is State.CLOSED


def test_activity_resets_silence_and_allows_another_ping() -> None:
    session = _joined()
    assert session.tick(T0 + 20) == [Send(Ping())]
    assert session.receive(encode(Pong()), T0 + 21) == []
    assert session.next_deadline() == T0 + 41
    assert session.tick(T0 + 40.9) == []  # would have been the drop without the pong
    assert session.tick(T0 + 41) == [Send(Ping())]
    assert session.tick(T0 + 65.9) == []
    assert session.tick(T0 + 66)[0] == Close(CloseCode.HEARTBEAT_TIMEOUT, "heartbeat timeout")


def test_bad_frames_count_as_activity() -> None:
    session = _joined()
    session.receive(b"\xff", T0 + 19)
    assert session.tick(T0 + 20) == []
    assert session.next_deadline() == T0 + 39


def test_a_probe_pings_now_and_closes_unless_answered_in_time() -> None:
    session = _joined()
    assert session.probe(T0 + 5, within=3) == [Send(Ping())]
    assert session.next_deadline() == T0 + 8
    assert session.probe(T0 + 6, within=3) == []  # one probe at a time, its deadline kept
    assert session.tick(T0 + 7.9) == []
    closed = session.tick(T0 + 8)
    assert closed == [Close(CloseCode.HEARTBEAT_TIMEOUT, "no media and no answer to ping")]
    assert session.state is State.CLOSED


def test_any_frame_answers_a_probe() -> None:
    session = _joined()
    session.probe(T0 + 5, within=3)
    assert session.receive(encode(Pong()), T0 + 6) == []
    assert session.tick(T0 + 8) == []
    assert session.next_deadline() == T0 + 26  # the heartbeat as before
    assert session.probe(T0 + 30, within=3) == [Send(Ping())]  # a later probe


def test_no_probe_before_join_or_after_close() -> None:
    session = SignalingSession(T0)
    assert session.probe(T0, within=3) == []
    joined = _joined()
    joined.close(CloseCode.NORMAL, "bye")
    assert joined.probe(T0, within=3) == []


def test_late_tick_drops_without_a_last_ping() -> None:
    session = _joined()
    assert session.tick(T0 + 100) == [Close(CloseCode.HEARTBEAT_TIMEOUT, "heartbeat timeout")]


def test_silence_counts_from_accept_not_from_hello() -> None:
    session = SignalingSession(T0)
    session.receive(HELLO, T0)
    session.accept(T0 + 5)
    assert session.next_deadline() == T0 + 25


def test_custom_timings() -> None:
    session = SignalingSession(T0, hello_timeout=1, ping_after=2, drop_after=3)
    assert session.tick(T0 + 1) == [Close(CloseCode.HANDSHAKE_TIMEOUT, "handshake timeout")]
    session = SignalingSession(T0, hello_timeout=1, ping_after=2, drop_after=3)
    session.receive(HELLO, T0)
    session.accept(T0)
    assert session.tick(T0 + 2) == [Send(Ping())]
    assert session.tick(T0 + 3) == [Close(CloseCode.HEARTBEAT_TIMEOUT, "heartbeat timeout")]


@pytest.mark.parametrize(
    ("hello_timeout", "ping_after", "drop_after"),
    [(0, 20, 45), (10, 0, 45), (10, 45, 45), (10, 50, 45), (-1, 20, 45)],
)
def test_bad_timings_are_refused(
    hello_timeout: float, ping_after: float, drop_after: float
) -> None:
    with pytest.raises(ValueError):
        SignalingSession(
            T0, hello_timeout=hello_timeout, ping_after=ping_after, drop_after=drop_after
        )


# Property: whatever happens, the session never raises and closes exactly once. ----------

FRAMES = [
    HELLO,
    encode(Hello(2, "t")),
    encode(Ping(id=1)),
    encode(Pong()),
    encode(Leave()),
    encode(PublishOffer(SDP)),
    encode(SubscribeAnswer(SDP, 1)),
    "{",
    '{"type":"x"}',
]
steps = st.lists(
    st.tuples(
        st.sampled_from(["receive", "tick", "accept", "close"]),
        st.sampled_from(FRAMES) | st.text(max_size=20),
        st.floats(0, 30),
    ),
    max_size=30,
)


@given(steps)
def test_any_sequence_closes_at_most_once(ops: list[tuple[str, str, float]]) -> None:
    now = T0
    session = SignalingSession(now)
    closes = 0
    for op, frame, dt in ops:
        now += dt
        was_closed = session.state is State.CLOSED
        if op == "receive":
            outcomes = session.receive(frame, now)
        elif op == "tick":
            outcomes = session.tick(now)
        elif op == "close":
            outcomes = session.close(CloseCode.GOING_AWAY)
        else:
            if session.state is State.AUTHENTICATING:
                session.accept(now)
            outcomes = []
        if was_closed:
            assert outcomes == []
        closes += sum(isinstance(outcome, Close) for outcome in outcomes)
        if any(isinstance(outcome, Close) for outcome in outcomes):
            assert isinstance(outcomes[-1], Close)
            assert session.state is State.CLOSED
        if op == "tick" and session.state is not State.CLOSED:
            assert session.next_deadline() > now  # tick left nothing due behind
    assert closes == (1 if session.state is State.CLOSED else 0)
