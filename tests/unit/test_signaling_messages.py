"""Codec of the signaling protocol: round trips, every bad input, and properties."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signaling import (
    MAX_INTEGER,
    MAX_MESSAGE_BYTES,
    ROOM_COMMAND_TYPES,
    AlertState,
    CheckReport,
    ClientMessage,
    CloseCode,
    ConferenceInfo,
    DelegationInfo,
    Error,
    ErrorCode,
    Hello,
    InterpretationListen,
    InterpretationListening,
    Leave,
    LeaveReason,
    MediaKind,
    MessageHistory,
    MessageTooBig,
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
    ProtocolError,
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
    check_size,
    encode,
    parse_client_message,
    parse_server_message,
)

SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
SPAIN = DelegationInfo("del-es", "España", "ESP")
CHAIR = ParticipantInfo("p-chair", "Chair", Role.CHAIR, None)
HEAD = ParticipantInfo("p-es-1", "María Pérez", Role.HEAD, SPAIN)
VIDEO = ProducerInfo("pr-1", "p-es-1", MediaKind.VIDEO)

CLIENT_MESSAGES: list[ClientMessage] = [
    Hello(1, "tok.en"),
    Hello(1, "tok.en", "resume-key", id="h1"),
    Hello(2, "", id=0),
    Hello(1, "tok.en", subscribe=Subscription(audio=False, video=False)),
    Hello(1, "tok.en", subscribe=Subscription(video=False)),
    Hello(1, "tok.en", subscribe=Subscription(audio=False)),
    PublishOffer(SDP, id=7),
    PublishOffer(SDP, id=8, restart=True),
    SubscribeAnswer(SDP, 0),
    SubscribeAnswer(SDP, MAX_INTEGER, id="x" * 64),
    Ping(),
    Ping(id=MAX_INTEGER),
    Pong(),
    Pong(id="a", ref=3),
    Leave(id="bye"),
    RoomCommand("floor.grant", {"request_id": "r1", "time_limit": 120}, id=9),
    RoomCommand("conference.lock", {}),
    ProducerKeyframe("p-1", id=40),
    ParticipantDisconnect("p-2"),
    InterpretationListen("en", id=51),
    InterpretationListen(None),
    VideoPin("p-sv-1", id=52),
    VideoPin(None),
    PublishOffer(SDP, "2", id=8),
    ShareStop("p-es-1", id=60),
]

SERVER_MESSAGES: list[ServerMessage] = [
    Welcome(1, ConferenceInfo("c-1", "Plenary"), CHAIR, (), ()),
    Welcome(1, ConferenceInfo("c-1", ""), HEAD, (CHAIR, HEAD), (VIDEO,), ref="h1"),
    ParticipantJoined(HEAD),
    ParticipantLeft("p-es-1", LeaveReason.TIMEOUT),
    ProducerAdded(VIDEO, id=4),
    ProducerRemoved("pr-1"),
    PublishAnswer(SDP, ref=7),
    SubscribeOffer(SDP, 3, ()),
    SubscribeOk(3, ref=12),
    SubscribeStreams(
        3,
        (
            StreamInfo("0", "pr-1", "p-es-1", MediaKind.AUDIO, False),
            StreamInfo("1", "pr-2", "p-es-1", MediaKind.VIDEO),
        ),
    ),
    SubscribeOk(0),
    SubscribeOffer(SDP, 4, (StreamInfo("0", "pr-1", "p-es-1", MediaKind.VIDEO),)),
    SubscribeOffer(SDP, 5, (), restart=True),
    RoomUpdate(4, ({"type": "floor.revoked", "request_id": "r1"},), {"queue": []}, 1.5, ref=9),
    RoomUpdate(5, (), {}, 1764331212.0),
    MonitorStats(1764331250.5, ({"id": "p-1", "bitrate_kbps": 480.5},), ()),
    MonitorAlert({"id": "loss:c-1", "kind": "loss"}, AlertState.CLEARED),
    CheckReport({"participant_id": "p-sv", "steps": {"udp": "amber"}, "at": 1764331250.5}),
    InterpretationListening("en", ref=51),
    InterpretationListening(None),
    VideoPinned("p-sv-1", ref=52),
    VideoPinned(None),
    MessageHistory(
        (
            {
                "message_id": "m1",
                "thread": "delegation:gt",
                "at": 1.5,
                "sender_id": "p-gt",
                "sender_name": "Canciller de Guatemala",
                "sender_role": "head",
                "sender_delegation": "gt",
                "text": "¿Hay quórum?",
            },
        )
    ),
    MessageHistory(()),
    Redirect("wss://node-b.example.org/ws", ref=1),
    Welcome(1, ConferenceInfo("c-1", "Plenary"), CHAIR, (), (), resume_token="r.t.s"),
    Error(ErrorCode.BAD_SDP, "no m-line"),
    Error(ErrorCode.INTERNAL, "", ref="x"),
    Ping(id=1),
    Pong(ref=1),
    ProducerAdded(ProducerInfo("pr-2", "p-es-1", MediaKind.VIDEO, "screen")),
    SubscribeOffer(SDP, 5, (StreamInfo("2", "pr-2", "p-es-1", MediaKind.VIDEO, source="screen"),)),
    ShareStopped("p-es-1", "pr-2", ShareEnd.CHAIR, "p-chair", ref=60),
    ShareStopped("p-es-1", "pr-2", ShareEnd.FLOOR, "system"),
    PublishLayers("1", ("q", "h")),
    PublishLayers("1", ("q",)),
]


def test_publish_layers_is_the_server_s_alone() -> None:
    err = _raises('{"type":"publish.layers","id":3,"mid":"1","active":["q"]}')
    assert err.code is ErrorCode.UNKNOWN_TYPE and err.ref == 3


@pytest.mark.parametrize(
    "fields",
    ['"mid":"1","active":[]', '"mid":"1"', '"active":["q"]', '"mid":"1","active":"q"'],
)
def test_publish_layers_needs_a_mid_and_a_layer(fields: str) -> None:
    err = _raises('{"type":"publish.layers",' + fields + "}", parse_server_message)
    assert err.code is ErrorCode.BAD_MESSAGE


def _raises(data: str | bytes, parse: Any = parse_client_message) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        parse(data)
    return info.value


def _frame(**fields: Any) -> str:
    return json.dumps(fields)


# Round trips and encoding --------------------------------------------------------


@pytest.mark.parametrize("message", CLIENT_MESSAGES, ids=repr)
def test_client_message_round_trip(message: ClientMessage) -> None:
    assert parse_client_message(encode(message)) == message
    assert parse_client_message(encode(message).encode()) == message


@pytest.mark.parametrize("message", SERVER_MESSAGES, ids=repr)
def test_server_message_round_trip(message: ServerMessage) -> None:
    assert parse_server_message(encode(message)) == message


def test_encode_is_compact_with_type_first_and_omits_absent_optionals() -> None:
    assert encode(Ping()) == '{"type":"ping"}'
    assert encode(Hello(1, "t")) == '{"type":"hello","version":1,"token":"t"}'
    assert encode(Pong(id=1, ref="a")) == '{"type":"pong","id":1,"ref":"a"}'
    assert encode(Error(ErrorCode.FORBIDDEN, "no")) == (
        '{"type":"error","code":"forbidden","message":"no"}'
    )


def test_encode_keeps_null_delegation_and_non_ascii_text() -> None:
    wire = json.loads(encode(ParticipantJoined(CHAIR)))
    assert wire["participant"]["delegation"] is None
    assert "España" in encode(ParticipantJoined(HEAD))


def test_parsed_enums_are_the_enum_types() -> None:
    message = parse_server_message(encode(ParticipantJoined(HEAD)))
    assert isinstance(message, ParticipantJoined)
    assert message.participant.role is Role.HEAD
    error = parse_server_message(encode(Error(ErrorCode.BAD_SDP, "x")))
    assert isinstance(error, Error)
    assert error.code is ErrorCode.BAD_SDP


def test_unknown_extra_fields_are_ignored() -> None:
    frame = _frame(type="publish.offer", sdp=SDP, future={"a": [1]}, id=2)
    assert parse_client_message(frame) == PublishOffer(SDP, id=2)
    nested = _frame(
        type="producer.added", producer={"id": "p", "participant_id": "q", "kind": "audio", "x": 1}
    )
    assert parse_server_message(nested) == ProducerAdded(ProducerInfo("p", "q", MediaKind.AUDIO))


def test_null_optionals_mean_absent() -> None:
    frame = _frame(type="hello", version=1, token="t", resume=None, id=None)
    assert parse_client_message(frame) == Hello(1, "t")


def test_hello_subscribe_reads_every_spelling_of_a_choice() -> None:
    def choice(subscribe: object) -> Subscription:
        hello = parse_client_message(
            json.dumps({"type": "hello", "version": 1, "token": "t", "subscribe": subscribe})
        )
        assert isinstance(hello, Hello)
        return hello.subscribe

    everything, nothing = Subscription(), Subscription(audio=False, video=False)
    assert choice(True) == choice(None) == choice({}) == everything
    assert choice(False) == choice({"audio": False, "video": False}) == nothing
    assert choice({"video": False}) == Subscription(audio=True, video=False)
    assert nothing.kinds == frozenset() and everything.kinds == set(MediaKind)
    assert "subscribe" not in encode(Hello(1, "t"))  # receiving everything is the default
    assert json.loads(encode(Hello(1, "t", subscribe=nothing)))["subscribe"] is False


def test_hello_of_another_version_parses_without_reading_further() -> None:
    assert parse_client_message(_frame(type="hello", version=2)) == Hello(2, "")
    assert parse_client_message(_frame(type="hello", version=0, token=5, id=9)) == Hello(
        0, "", id=9
    )
    assert parse_client_message(_frame(type="hello", version=-1, token="t")) == Hello(-1, "t")


def test_direction_matters() -> None:
    assert _raises(encode(PublishAnswer(SDP))).code is ErrorCode.UNKNOWN_TYPE
    err = _raises(encode(PublishOffer(SDP, id=1)), parse_server_message)
    assert (err.code, err.ref) == (ErrorCode.UNKNOWN_TYPE, 1)


# Bad input ------------------------------------------------------------------------

BAD_JSON: list[str | bytes] = [
    b"\xff\xfe",
    b'{"type":"ping","x":"\xc3"}',  # truncated UTF-8 sequence
    "",
    "   ",
    "{",
    '{"type":"ping"} {}',
    "{'type': 'ping'}",
    '{"type":"ping","n":NaN}',
    '{"type":"ping","n":Infinity}',
    '{"type":"ping","n":-Infinity}',
    "\ufeff{}",
    "[" * 100_000,
    '{"type":"ping","n":' + "9" * 5000 + "}",  # over CPython's int digit limit
    "null",
    "1",
    '"ping"',
    '[{"type":"ping"}]',
]


@pytest.mark.parametrize("data", BAD_JSON, ids=lambda d: repr(d)[:40])
def test_bad_json(data: str | bytes) -> None:
    err = _raises(data)
    assert (err.code, err.ref) == (ErrorCode.BAD_JSON, None)


# (frame, ref expected in the error); every one is bad_message.
BAD_CLIENT_MESSAGES: list[tuple[dict[str, Any], str | int | None]] = [
    ({}, None),
    ({"id": 1}, 1),
    ({"type": None, "id": "a"}, "a"),
    ({"type": 1}, None),
    ({"type": ["hello"]}, None),
    # ids that cannot be read, hence no ref
    ({"type": "ping", "id": True}, None),
    ({"type": "ping", "id": -1}, None),
    ({"type": "ping", "id": 1.0}, None),
    ({"type": "ping", "id": 2**53}, None),
    ({"type": "ping", "id": ""}, None),
    ({"type": "ping", "id": "x" * 65}, None),
    ({"type": "ping", "id": ["a"]}, None),
    ({"type": "ping", "id": {"a": 1}}, None),
    ({"type": "ping", "id": "\ud800"}, None),
    # hello
    ({"type": "hello", "id": 1}, 1),
    ({"type": "hello", "token": "t", "id": 1}, 1),
    ({"type": "hello", "version": "1", "token": "t", "id": 1}, 1),
    ({"type": "hello", "version": 1.0, "token": "t", "id": 1}, 1),
    ({"type": "hello", "version": True, "token": "t", "id": 1}, 1),
    ({"type": "hello", "version": None, "token": "t", "id": 1}, 1),
    ({"type": "hello", "version": 1, "id": 1}, 1),
    ({"type": "hello", "version": 1, "token": "", "id": 1}, 1),
    ({"type": "hello", "version": 1, "token": None, "id": 1}, 1),
    ({"type": "hello", "version": 1, "token": 5, "id": 1}, 1),
    ({"type": "hello", "version": 1, "token": ["t"], "id": 1}, 1),
    ({"type": "hello", "version": 1, "token": "\udc00", "id": 1}, 1),
    ({"type": "hello", "version": 1, "token": "t", "resume": 1, "id": 1}, 1),
    ({"type": "hello", "version": 1, "token": "t", "subscribe": "audio", "id": 1}, 1),
    ({"type": "hello", "version": 1, "token": "t", "subscribe": 0, "id": 1}, 1),
    ({"type": "hello", "version": 1, "token": "t", "subscribe": ["audio"], "id": 1}, 1),
    ({"type": "hello", "version": 1, "token": "t", "subscribe": {"audio": "no"}, "id": 1}, 1),
    ({"type": "hello", "version": 1, "token": "t", "subscribe": {"video": None}, "id": 1}, 1),
    ({"type": "hello", "version": 1, "token": "t", "subscribe": {"screen": False}, "id": 1}, 1),
    # publish.offer
    ({"type": "publish.offer", "id": "o"}, "o"),
    ({"type": "publish.offer", "sdp": "", "id": "o"}, "o"),
    ({"type": "publish.offer", "sdp": None, "id": "o"}, "o"),
    ({"type": "publish.offer", "sdp": ["v=0"], "id": "o"}, "o"),
    ({"type": "publish.offer", "sdp": {"sdp": "v=0"}, "id": "o"}, "o"),
    ({"type": "publish.offer", "sdp": SDP, "restart": "yes", "id": "o"}, "o"),
    ({"type": "publish.offer", "sdp": SDP, "restart": 1, "id": "o"}, "o"),
    # subscribe.answer
    ({"type": "subscribe.answer", "sdp": SDP, "id": 2}, 2),
    ({"type": "subscribe.answer", "revision": 1, "id": 2}, 2),
    ({"type": "subscribe.answer", "sdp": "", "revision": 1, "id": 2}, 2),
    ({"type": "subscribe.answer", "sdp": SDP, "revision": -1, "id": 2}, 2),
    ({"type": "subscribe.answer", "sdp": SDP, "revision": True, "id": 2}, 2),
    ({"type": "subscribe.answer", "sdp": SDP, "revision": 1.5, "id": 2}, 2),
    ({"type": "subscribe.answer", "sdp": SDP, "revision": "1", "id": 2}, 2),
    ({"type": "subscribe.answer", "sdp": SDP, "revision": 2**53, "id": 2}, 2),
    # pong's ref is read like an id
    ({"type": "pong", "ref": -5, "id": 3}, 3),
    ({"type": "pong", "ref": False}, None),
]


@pytest.mark.parametrize(("frame", "ref"), BAD_CLIENT_MESSAGES, ids=repr)
def test_bad_client_message(frame: dict[str, Any], ref: str | int | None) -> None:
    err = _raises(json.dumps(frame))
    assert (err.code, err.ref) == (ErrorCode.BAD_MESSAGE, ref)
    assert err.close_code is None
    assert err.message


GOOD_PARTICIPANT = {"id": "p", "name": "N", "role": "delegate", "delegation": None}
GOOD_PRODUCER = {"id": "pr", "participant_id": "p", "kind": "audio"}
GOOD_STREAM = {"mid": "0", "producer_id": "pr", "participant_id": "p", "kind": "video"}
GOOD_WELCOME = {
    "type": "welcome",
    "version": 1,
    "conference": {"id": "c", "title": "T"},
    "you": GOOD_PARTICIPANT,
    "participants": [GOOD_PARTICIPANT],
    "producers": [GOOD_PRODUCER],
}


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {key: value for key, value in {**base, **changes}.items() if value is not ...}


BAD_SERVER_MESSAGES: list[dict[str, Any]] = [
    _with(GOOD_WELCOME, conference=...),
    _with(GOOD_WELCOME, conference="c"),
    _with(GOOD_WELCOME, conference={"id": "c"}),
    _with(GOOD_WELCOME, conference={"id": "", "title": "T"}),
    _with(GOOD_WELCOME, you=None),
    _with(GOOD_WELCOME, you=_with(GOOD_PARTICIPANT, role="king")),
    _with(GOOD_WELCOME, you=_with(GOOD_PARTICIPANT, role=None)),
    _with(GOOD_WELCOME, you=_with(GOOD_PARTICIPANT, delegation=...)),
    _with(GOOD_WELCOME, you=_with(GOOD_PARTICIPANT, delegation="del-es")),
    _with(GOOD_WELCOME, you=_with(GOOD_PARTICIPANT, delegation={"id": "d", "name": "n"})),
    _with(GOOD_WELCOME, participants="p"),
    _with(GOOD_WELCOME, participants=GOOD_PARTICIPANT),
    _with(GOOD_WELCOME, participants=[GOOD_PARTICIPANT, "p"]),
    _with(GOOD_WELCOME, participants=[_with(GOOD_PARTICIPANT, name=3)]),
    _with(GOOD_WELCOME, producers=[_with(GOOD_PRODUCER, kind="screen")]),
    _with(GOOD_WELCOME, producers=[_with(GOOD_PRODUCER, participant_id="")]),
    _with(GOOD_WELCOME, version="1"),
    _with(GOOD_WELCOME, ref=-1),
    {"type": "participant.joined"},
    {"type": "participant.joined", "participant": [GOOD_PARTICIPANT]},
    {"type": "participant.left", "participant_id": "p"},
    {"type": "participant.left", "participant_id": "p", "reason": "kicked"},
    {"type": "participant.left", "participant_id": "", "reason": "left"},
    {"type": "producer.added", "producer": _with(GOOD_PRODUCER, id=...)},
    {"type": "producer.removed", "producer_id": 1},
    {"type": "publish.answer", "sdp": ""},
    {"type": "subscribe.offer", "sdp": SDP, "revision": 1},
    {"type": "subscribe.offer", "sdp": SDP, "revision": -1, "streams": []},
    {"type": "subscribe.offer", "sdp": SDP, "revision": 1, "streams": [_with(GOOD_STREAM, mid="")]},
    {"type": "subscribe.offer", "sdp": SDP, "revision": 1, "streams": [_with(GOOD_STREAM, mid=0)]},
    {
        "type": "subscribe.offer",
        "sdp": SDP,
        "revision": 1,
        "streams": [_with(GOOD_STREAM, audible="yes")],
    },
    {"type": "subscribe.streams", "revision": 1, "streams": [_with(GOOD_STREAM, audible=1)]},
    {"type": "subscribe.streams", "streams": []},
    {"type": "subscribe.ok", "revision": -1},
    {"type": "error", "code": "teapot", "message": "x"},
    {"type": "error", "code": "internal"},
    {"type": "error", "code": "internal", "message": "x", "ref": 1.5},
]


@pytest.mark.parametrize("frame", BAD_SERVER_MESSAGES, ids=repr)
def test_bad_server_message(frame: dict[str, Any]) -> None:
    assert parse_server_message(json.dumps(GOOD_WELCOME))  # the base case is fine
    err = _raises(json.dumps({**frame, "id": "s1"}), parse_server_message)
    assert (err.code, err.ref) == (ErrorCode.BAD_MESSAGE, "s1")


def test_bad_message_names_the_field() -> None:
    frame = _with(GOOD_WELCOME, participants=[GOOD_PARTICIPANT, _with(GOOD_PARTICIPANT, role=1)])
    err = _raises(json.dumps(frame), parse_server_message)
    assert "participants[1].role" in err.message


@pytest.mark.parametrize(
    ("frame", "ref"),
    [
        ({"type": "welcome", "id": 5}, 5),
        ({"type": "floor.steal"}, None),
        ({"type": "", "id": "r"}, "r"),
        ({"type": "Hello"}, None),
        ({"type": "x" * 10_000}, None),
    ],
)
def test_unknown_type(frame: dict[str, Any], ref: str | int | None) -> None:
    err = _raises(json.dumps(frame))
    assert (err.code, err.ref) == (ErrorCode.UNKNOWN_TYPE, ref)
    assert len(err.message) < 100  # a huge type is not echoed back whole


# Size cap ----------------------------------------------------------------------------


def _padded(size: int) -> str:
    head = '{"type":"ping","pad":"'
    return head + "x" * (size - len(head) - 2) + '"}'


def test_size_cap_is_inclusive() -> None:
    check_size(_padded(MAX_MESSAGE_BYTES))
    check_size(b"x" * MAX_MESSAGE_BYTES)
    assert parse_client_message(_padded(MAX_MESSAGE_BYTES)) == Ping()
    with pytest.raises(MessageTooBig) as info:
        parse_client_message(_padded(MAX_MESSAGE_BYTES + 1))
    assert (info.value.size, info.value.limit) == (MAX_MESSAGE_BYTES + 1, MAX_MESSAGE_BYTES)
    with pytest.raises(MessageTooBig):
        check_size(b"x" * (MAX_MESSAGE_BYTES + 1))


def test_size_counts_utf8_bytes_not_characters() -> None:
    text = "é" * (MAX_MESSAGE_BYTES // 2)  # 2 bytes each: exactly at the cap
    check_size(text)
    with pytest.raises(MessageTooBig):
        check_size(text + "é")
    with pytest.raises(MessageTooBig):
        check_size("\U0001f600" * (MAX_MESSAGE_BYTES // 4 + 1))


def test_oversize_is_a_protocol_error_that_closes() -> None:
    err = _raises("x" * (MAX_MESSAGE_BYTES + 1))  # too big wins over bad JSON
    assert isinstance(err, MessageTooBig)
    assert err.close_code is CloseCode.MESSAGE_TOO_BIG


def test_server_messages_are_not_size_capped() -> None:
    big = PublishAnswer("v=0\r\n" + "a=x\r\n" * MAX_MESSAGE_BYTES)
    assert parse_server_message(encode(big)) == big


# The documentation's examples are real messages -------------------------------------

DOCS = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def _doc_examples() -> list[str]:
    return re.findall(r"```json\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.DOTALL)


def test_docs_show_every_message_type() -> None:
    documented = {json.loads(example)["type"] for example in _doc_examples()}
    messages = [*CLIENT_MESSAGES, *SERVER_MESSAGES]
    every = {type(m).TYPE for m in messages if not isinstance(m, RoomCommand)}
    assert documented == every | ROOM_COMMAND_TYPES


@pytest.mark.parametrize("example", _doc_examples())
def test_docs_example_parses_and_encodes_identically(example: str) -> None:
    try:
        message: ClientMessage | ServerMessage = parse_client_message(example)
    except ProtocolError as err:
        assert err.code is ErrorCode.UNKNOWN_TYPE, err.message
        message = parse_server_message(example)
    assert json.loads(encode(message)) == json.loads(example)


def test_docs_exchange_frames_parse_in_their_direction() -> None:
    text = DOCS.read_text(encoding="utf-8")
    frames = re.findall(r"^([→←]) (\{.*\})$", text, re.MULTILINE)
    assert len(frames) >= 15
    for arrow, frame in frames:
        parse = parse_client_message if arrow == "→" else parse_server_message
        message = parse(frame)
        assert json.loads(encode(message)) == json.loads(frame)


# Properties --------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)
TYPES = ["hello", "publish.offer", "subscribe.answer", "ping", "pong", "leave", "welcome", "x"]
FIELDS = ["id", "ref", "version", "token", "resume", "sdp", "revision", "streams"]
message_like = st.fixed_dictionaries(
    {"type": st.sampled_from(TYPES) | json_values},
    optional={name: json_values for name in FIELDS},
)


def _never_crashes(data: str | bytes) -> None:
    try:
        message = parse_client_message(data)
    except ProtocolError as err:
        assert isinstance(err.code, ErrorCode)
    else:
        assert parse_client_message(encode(message)) == message


@given(st.text() | st.binary())
def test_parse_any_frame_returns_or_raises_protocol_error(data: str | bytes) -> None:
    _never_crashes(data)


@given(json_values | message_like)
def test_parse_any_json_returns_or_raises_protocol_error(value: Any) -> None:
    _never_crashes(json.dumps(value))
    _never_crashes(json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass"))


ids = st.none() | st.text(min_size=1, max_size=64) | st.integers(0, MAX_INTEGER)
texts = st.text()
names = st.text(min_size=1)
sdps = st.text(min_size=1)
revisions = st.integers(0, MAX_INTEGER)
kinds = st.sampled_from(MediaKind)
participants = st.builds(
    ParticipantInfo,
    names,
    texts,
    st.sampled_from(Role),
    st.none() | st.builds(DelegationInfo, names, texts, texts),
)
producers = st.builds(ProducerInfo, names, names, kinds)

client_messages: st.SearchStrategy[ClientMessage] = st.one_of(
    st.builds(Hello, st.just(1), names, st.none() | texts, id=ids),
    st.builds(PublishOffer, sdps, id=ids),
    st.builds(SubscribeAnswer, sdps, revisions, id=ids),
    st.builds(Ping, id=ids),
    st.builds(Pong, id=ids, ref=ids),
    st.builds(Leave, id=ids),
)
server_messages: st.SearchStrategy[ServerMessage] = st.one_of(
    st.builds(
        Welcome,
        st.integers(),
        st.builds(ConferenceInfo, names, texts),
        participants,
        st.lists(participants).map(tuple),
        st.lists(producers).map(tuple),
        id=ids,
        ref=ids,
    ),
    st.builds(ParticipantJoined, participants, id=ids),
    st.builds(ParticipantLeft, names, st.sampled_from(LeaveReason), id=ids),
    st.builds(ProducerAdded, producers, id=ids),
    st.builds(ProducerRemoved, names, id=ids),
    st.builds(PublishAnswer, sdps, id=ids, ref=ids),
    st.builds(
        SubscribeOffer,
        sdps,
        revisions,
        st.lists(st.builds(StreamInfo, names, names, names, kinds)).map(tuple),
        id=ids,
    ),
    st.builds(Error, st.sampled_from(ErrorCode), texts, id=ids, ref=ids),
    st.builds(Ping, id=ids),
    st.builds(Pong, id=ids, ref=ids),
)


@given(client_messages)
def test_client_round_trip_property(message: ClientMessage) -> None:
    assert parse_client_message(encode(message)) == message


@given(server_messages)
def test_server_round_trip_property(message: ServerMessage) -> None:
    assert parse_server_message(encode(message)) == message
