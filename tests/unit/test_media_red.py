"""RFC 2198 (RED) in the forwarding path: the parser, and both fan-outs per packet.

Real libsrtp sessions and loopback sockets, as in test_media_fastpath: what
each subscriber receives is unprotected and compared byte for byte.
"""

from __future__ import annotations

import os
import random
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_media_fastpath import PROFILES, SocketTransport, Subscriber, transmit_context

from media import fastpath, red
from media.aiortc_hooks import ReceiverInfo
from media.producer import Producer
from media.rtp import HEADER, extension_prefix

OPUS = b"\x78primary-opus-frame"
OLDER = b"\x78older-frame"
# Chromium's payload types: Opus 111, RED 63; the block headers name 111.
PAYLOAD = red.encode([(111, 960, OLDER)], 111, OPUS)
ELEMENT = b"\x20\x7f\x00\x00"  # an audio-level extension element, 4 bytes


@pytest.fixture
def sender() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


# --- the parser ---------------------------------------------------------------------


def test_a_red_payload_parses_into_its_blocks() -> None:
    assert PAYLOAD[:5] == bytes((0x80 | 111, 960 >> 6, ((960 & 0x3F) << 2), len(OLDER), 111))
    assert red.parse(PAYLOAD) == (1, 5 + len(OLDER))
    assert red.primary(PAYLOAD) == OPUS
    # No redundancy yet (the first packet of a stream): one 1-byte header.
    assert red.primary(red.encode([], 111, OPUS)) == OPUS
    assert red.parse(red.encode([], 111, OPUS)) == (0, 1)
    two = red.encode([(111, 1920, b"a" * 300), (111, 960, b"b" * 700)], 111, OPUS)
    assert red.primary(two) == OPUS
    # The parser starts where the payload starts in a longer buffer.
    assert red.parse(ELEMENT + PAYLOAD, 4) == (1, 4 + 5 + len(OLDER))


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\xef",  # a redundant header with nothing after it
        b"\xef\x0f\x00",  # truncated 4-byte header
        PAYLOAD[:4],  # no primary header
        PAYLOAD[:5],  # headers only
        PAYLOAD[: 5 + len(OLDER)],  # no primary data
        bytes((0xEF, 0, 3, 0xFF, 111)) + b"x" * 100,  # block length past the end
        red.encode([(111, 960, b"x")] * (red.MAX_REDUNDANT_BLOCKS + 1), 111, OPUS),
    ],
)
def test_malformed_red_is_refused(payload: bytes) -> None:
    assert red.parse(payload) is None
    assert red.primary(payload) is None


def test_as_many_blocks_as_allowed_still_parse() -> None:
    payload = red.encode([(111, 960, b"x")] * red.MAX_REDUNDANT_BLOCKS, 111, OPUS)
    assert red.primary(payload) == OPUS


def test_retag_sets_every_block_header_payload_type() -> None:
    tagged = red.retag(ELEMENT + PAYLOAD, 4, 1, 96)
    assert tagged[:4] == ELEMENT
    assert tagged[4] == 0x80 | 96 and tagged[8] == 96
    assert tagged[5:8] == PAYLOAD[1:4] and tagged[9:] == PAYLOAD[5:]
    assert red.primary(tagged[4:]) == OPUS


@given(st.binary(max_size=64), st.integers(0, 8))
def test_the_parser_never_reads_past_the_end(payload: bytes, start: int) -> None:
    parsed = red.parse(payload, start)
    if parsed is not None:
        blocks, primary = parsed
        assert start + 4 * blocks + 1 <= primary < len(payload)


# --- both fan-outs ------------------------------------------------------------------


def _routes(
    sender: socket.socket, key: bytes, profile: int, wanted: list[tuple[int, int]]
) -> tuple[list[Subscriber], list[Any], list[Any]]:
    """One route per (Opus payload type, RED payload type or -1)."""
    subscribers, routes, sessions = [], [], []
    for i, (opus_type, red_type) in enumerate(wanted):
        subscriber = Subscriber(key, profile)
        destination = fastpath.new_destination()
        destination.connect(SocketTransport(sender), subscriber.addr)
        session, context = transmit_context(key, profile, 1000 + i)
        prefix = extension_prefix(str(i), 4)
        routes.append((opus_type, 7, 70, 1000 + i, prefix, destination, context, red_type))
        subscribers.append(subscriber)
        sessions.append(session)
    return subscribers, routes, sessions


@pytest.mark.parametrize("path", fastpath.available())
def test_red_goes_as_sent_or_as_its_primary_block(sender: socket.socket, path: str) -> None:
    profile, key_length = PROFILES["aes-gcm"]
    key = os.urandom(key_length)
    previous = fastpath.implementation()
    fastpath.select(path)
    try:
        # Chromium-like (111/63), aiortc-offered (96/63), and two without RED.
        wanted = [(111, 63), (96, 63), (96, -1), (111, -1)]
        subscribers, routes, _sessions = _routes(sender, key, profile, wanted)
        fanout = fastpath.new_fanout(routes)
        assert fanout.forward(0x80, 10, 4800, ELEMENT + PAYLOAD, 4) == 4
        for subscriber, route in zip(subscribers, routes, strict=True):
            _, packet = subscriber.receive()
            opus_type, _, _, ssrc, prefix = route[:5]
            red_type = route[7]
            payload_type = red_type if red_type >= 0 else opus_type
            header = HEADER.pack(0x90, 0x80 | payload_type, 17, 4870, ssrc)
            assert packet[:12] == header
            body = packet[12 + len(prefix) :]
            assert body[:4] == ELEMENT
            if red_type >= 0:
                assert body[4:] == red.retag(PAYLOAD, 0, 1, opus_type)
            else:
                assert body[4:] == OPUS
        # A plain packet (Chromium switched to Opus alone) goes to all as Opus.
        assert fanout.forward(0, 11, 5760, ELEMENT + OPUS) == 4
        for subscriber, route in zip(subscribers, routes, strict=True):
            _, packet = subscriber.receive()
            assert packet[1] == route[0] and packet.endswith(ELEMENT + OPUS)
        assert fanout.malformed == 0
    finally:
        fastpath.select(previous)


@pytest.mark.parametrize("path", fastpath.available())
def test_malformed_red_goes_to_nobody_and_is_counted(sender: socket.socket, path: str) -> None:
    profile, key_length = PROFILES["aes-gcm"]
    key = os.urandom(key_length)
    previous = fastpath.implementation()
    fastpath.select(path)
    try:
        subscribers, routes, _sessions = _routes(sender, key, profile, [(111, 63), (96, -1)])
        fanout = fastpath.new_fanout(routes)
        for bad in (b"", b"\xef\x0f", PAYLOAD[:5], bytes((0xEF, 0, 3, 0xFF, 111, 1))):
            assert fanout.forward(0, 1, 960, ELEMENT + bad, 4) == 0
        # The offset itself may point past the tail.
        assert fanout.forward(0, 1, 960, ELEMENT, 9) == 0
        assert fanout.malformed == 5
        assert not any(s.pending() for s in subscribers)
        with pytest.raises(ValueError):
            fanout.forward(0, 1, 960, ELEMENT + PAYLOAD, -2)
        with pytest.raises(ValueError):
            fastpath.new_fanout([(*routes[0][:7], 128)])
    finally:
        fastpath.select(previous)


red_routes = st.lists(
    st.tuples(st.integers(0, 0x7F), st.sampled_from([-1, 63, 127])), min_size=1, max_size=4
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    wanted=red_routes,
    tail=st.one_of(
        st.binary(min_size=4, max_size=300),
        st.builds(
            lambda blocks, primary: ELEMENT + red.encode(blocks, 111, primary),
            st.lists(
                st.tuples(st.just(111), st.integers(0, 0x3FFF), st.binary(max_size=200)),
                max_size=10,
            ),
            st.binary(min_size=1, max_size=200),
        ),
    ),
    # The producer's tails start with a 4-byte extension element (the routes'
    # extension prefix counts it): the RED payload starts at 4, or none.
    offset=st.sampled_from([-1, 4]),
)
def test_both_paths_agree_on_red(
    sender: socket.socket, wanted: list[tuple[int, int]], tail: bytes, offset: int
) -> None:
    profile, key_length = PROFILES["aes-gcm"]
    key = os.urandom(key_length)
    outcomes: dict[str, tuple[int, int, list[bytes]]] = {}
    previous = fastpath.implementation()
    try:
        for name in fastpath.available():
            fastpath.select(name)
            subscribers, routes, _sessions = _routes(sender, key, profile, wanted)
            fanout = fastpath.new_fanout(routes)
            sent = fanout.forward(0x80, 5, 960, tail, offset)
            packets = []
            for subscriber in subscribers:
                if sent:
                    packets.append(subscriber.receive()[1])
                subscriber.sock.close()
            outcomes[name] = (sent, fanout.malformed, packets)
    finally:
        fastpath.select(previous)
    assert len({repr(o) for o in outcomes.values()}) == 1, outcomes
    sent, malformed, _ = outcomes["python"]
    parsed = offset < 0 or red.parse(tail, offset) is not None
    assert (sent, malformed) == ((len(wanted), 0) if parsed else (0, 1))


def test_redundant_blocks_come_out_oldest_first_with_their_offsets() -> None:
    two = red.encode([(111, 1920, b"a" * 300), (111, 960, b"b" * 700)], 111, OPUS)
    assert red.redundant_blocks(two) == [(1920, b"a" * 300), (960, b"b" * 700)]
    assert red.redundant_blocks(PAYLOAD) == [(960, OLDER)]
    assert red.redundant_blocks(red.encode([], 111, OPUS)) == []
    assert red.redundant_blocks(PAYLOAD[:5]) is None
    # The largest offset and length the headers can say.
    assert red.redundant_blocks(red.encode([(111, 0x3FFF, b"c" * 1023)], 111, OPUS)) == [
        (0x3FFF, b"c" * 1023)
    ]


# --- the producer's hot path with RED audio, both fan-outs --------------------------


def audio_packet(rng: random.Random, seq: int) -> bytes:
    """Chromium-like RED (PT 63) or plain Opus (PT 111), sometimes mangled."""
    frame = rng.randbytes(rng.randint(1, 120))
    if rng.random() < 0.8:
        older = [(111, 960 * k, rng.randbytes(rng.randint(0, 120))) for k in (2, 1)]
        payload, payload_type = red.encode(older[rng.randint(0, 2) :], 111, frame), 63
    else:
        payload, payload_type = frame, 111
    if rng.random() < 0.1:
        payload = payload[: rng.randint(0, len(payload))]  # truncated: malformed RED
    return HEADER.pack(0x80, payload_type, seq, seq * 960 & 0xFFFFFFFF, 4321) + payload


def run_red_audio(sender: socket.socket, seed: int) -> tuple[object, ...]:
    """2000 audio packets (5 % lost) through a producer with a RED and a plain route."""
    profile, key_length = PROFILES["aes-gcm"]
    key = bytes(range(key_length))
    wanted = [(96, 63), (111, -1)]
    subscribers, routes, sessions = _routes(sender, key, profile, wanted)
    receiver: Any = object()
    producer = Producer("p-1", "owner", "audio", receiver, lambda data: True)
    producer._info = ReceiverInfo(48000, frozenset({111, 63}), frozenset(), 42, None, 63)
    producer._fanout = fastpath.new_fanout(routes)
    recorded: list[bytes] = []
    producer.sinks.append(lambda seq, ts, marker, payload: recorded.append(payload))
    rng = random.Random(seed)
    received: list[list[bytes]] = [[] for _ in subscribers]
    for subscriber in subscribers:
        subscriber.sock.setblocking(False)

    def drain() -> None:
        for subscriber, packets in zip(subscribers, received, strict=True):
            while True:
                try:
                    packets.append(subscriber.session.unprotect(subscriber.sock.recv(4096)))
                except BlockingIOError:
                    break

    for seq in range(2000):
        packet = audio_packet(rng, seq)
        if rng.random() >= 0.05:
            producer.on_rtp(packet, False)
        if seq % 20 == 0:
            drain()
    drain()
    producer.close()
    for subscriber in subscribers:
        subscriber.sock.close()
    del sessions
    counters = producer.counters.as_dict() | {"last_packet_at": None}
    return (counters, producer.forwarded, received, recorded)


@pytest.mark.parametrize("seed", [3, 4])
async def test_red_audio_through_the_producer_is_the_same_on_both_paths(
    sender: socket.socket, seed: int
) -> None:
    outcomes = {}
    previous = fastpath.implementation()
    try:
        for name in fastpath.available():
            fastpath.select(name)
            outcomes[name] = run_red_audio(sender, seed)
    finally:
        fastpath.select(previous)
    counters, forwarded, received, recorded = outcomes["python"]
    assert isinstance(counters, dict) and isinstance(received, list)
    assert counters["red_packets"] > 1000 and counters["red_malformed"] > 20
    assert counters["red_recovered"] > 20  # most single losses before a RED packet
    red_route, plain_route = received
    assert len(red_route) == len(plain_route) == forwarded[0]  # type: ignore[index]
    assert {p[1] & 0x7F for p in plain_route} == {111}
    assert {p[1] & 0x7F for p in red_route} == {96, 63}
    # A recording gets what a subscriber without RED gets: plain Opus.
    assert isinstance(recorded, list) and len(recorded) == len(plain_route)
    assert all(p.endswith(r) for p, r in zip(plain_route, recorded, strict=True))
    # Same counters, same packets, same recording, whichever path forwards.
    for outcome in outcomes.values():
        assert outcome == outcomes["python"]
