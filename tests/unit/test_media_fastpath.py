"""The fan-out's two implementations: same datagrams, same counts, no crash on bad input.

Real libsrtp sessions (pylibsrtp's) and real UDP sockets on loopback: what
the subscriber receives is unprotected and compared byte for byte.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pylibsrtp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from media import fastpath
from media.aiortc_hooks import ReceiverInfo
from media.producer import Producer
from media.rtp import HEADER, extension_prefix

PROFILES = {
    "aes-gcm": (pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM, 28),
    "aes-cm": (pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80, 30),
}


class SocketTransport:
    """The two things a destination reads of an event-loop transport."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def get_extra_info(self, name: str) -> Any:
        return self._sock if name == "socket" else None

    def sendto(self, data: bytes, addr: Any) -> None:
        self._sock.sendto(data, addr)


class Subscriber:
    """A receiving socket with the subscriber's SRTP session."""

    def __init__(self, key: bytes, profile: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(1.0)
        self.addr: tuple[str, int] = self.sock.getsockname()
        policy = pylibsrtp.Policy(
            key=key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND, srtp_profile=profile
        )
        self.session = pylibsrtp.Session(policy)

    def receive(self) -> tuple[bytes, bytes]:
        """(the datagram as sent, the RTP packet inside it)."""
        data = self.sock.recv(4096)
        return data, self.session.unprotect(data)

    def pending(self) -> bool:
        self.sock.setblocking(False)
        try:
            self.sock.recv(4096)
            return True
        except BlockingIOError:
            return False
        finally:
            self.sock.settimeout(1.0)


@pytest.fixture
def sender() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


def transmit_context(key: bytes, profile: int, ssrc: int) -> tuple[pylibsrtp.Session, Any]:
    policy = pylibsrtp.Policy(
        key=key, ssrc_type=pylibsrtp.Policy.SSRC_SPECIFIC, ssrc_value=ssrc, srtp_profile=profile
    )
    policy.allow_repeat_tx = True
    session = pylibsrtp.Session(policy)
    return session, session._srtp[0]


@pytest.fixture(params=fastpath.available())
def path(request: pytest.FixtureRequest) -> Iterator[str]:
    previous = fastpath.implementation()
    fastpath.select(request.param)
    yield request.param
    fastpath.select(previous)


def test_the_native_path_is_built_here() -> None:
    # The supported platform has a compiler and Python's headers (scripts/setup).
    assert "native" in fastpath.available()


def test_forcing_the_python_path_and_rejecting_unknown_names() -> None:
    previous = fastpath.implementation()
    try:
        assert fastpath.select("python") == "python"
        assert isinstance(fastpath.new_fanout(()), fastpath.PythonFanout)
        with pytest.raises(ValueError, match="unknown forwarding path"):
            fastpath.select("turbo")
        assert fastpath.implementation() == "python"
    finally:
        fastpath.select(previous)


route_fields = st.tuples(
    st.integers(0, 0x7F),  # payload type
    st.integers(0, 0xFFFF),  # sequence offset
    st.integers(0, 0xFFFFFFFF),  # timestamp offset
    st.integers(0, 0xFFFFFFFF),  # SSRC
    st.sampled_from([None, "0", "1", "video-7", "a" * 15]),  # MID
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    profile_name=st.sampled_from(sorted(PROFILES)),
    fields=st.lists(route_fields, min_size=1, max_size=4, unique_by=lambda f: f[3]),
    marker=st.sampled_from([0, 0x80]),
    seq=st.integers(0, 0xFFFF),
    timestamp=st.integers(0, 0xFFFFFFFF),
    tail=st.binary(min_size=4, max_size=1400),
)
def test_both_paths_send_the_same_datagrams(
    sender: socket.socket,
    profile_name: str,
    fields: list[tuple[int, int, int, int, str | None]],
    marker: int,
    seq: int,
    timestamp: int,
    tail: bytes,
) -> None:
    profile, key_length = PROFILES[profile_name]
    key = os.urandom(key_length)
    datagrams: dict[str, list[bytes]] = {}
    for name in fastpath.available():
        fastpath.select(name)
        subscribers, routes, sessions = [], [], []
        for b1, seq_offset, ts_offset, ssrc, mid in fields:
            subscriber = Subscriber(key, profile)
            destination = fastpath.new_destination()
            destination.connect(SocketTransport(sender), subscriber.addr)
            session, context = transmit_context(key, profile, ssrc)
            prefix = extension_prefix(mid, 4)
            routes.append((b1, seq_offset, ts_offset, ssrc, prefix, destination, context))
            subscribers.append(subscriber)
            sessions.append(session)
        fanout = fastpath.new_fanout(routes)
        assert len(fanout) == len(routes)
        assert fanout.forward(marker, seq, timestamp, tail) == len(routes)
        datagrams[name] = []
        for subscriber, route in zip(subscribers, routes, strict=True):
            data, packet = subscriber.receive()
            b1, seq_offset, ts_offset, ssrc, prefix = route[:5]
            header = HEADER.pack(
                0x90,
                b1 | marker,
                (seq + seq_offset) & 0xFFFF,
                (timestamp + ts_offset) & 0xFFFFFFFF,
                ssrc,
            )
            assert packet == header + prefix + tail
            datagrams[name].append(data)
            subscriber.sock.close()
    fastpath.select(None)
    # Same key, same SSRC and index: the ciphertexts are identical too.
    assert len(set(map(tuple, datagrams.values()))) == 1


def test_a_disconnected_destination_is_skipped(sender: socket.socket, path: str) -> None:
    profile, key_length = PROFILES["aes-gcm"]
    key = os.urandom(key_length)
    first, second = Subscriber(key, profile), Subscriber(key, profile)
    routes, sessions = [], []
    for ssrc, subscriber in ((1, first), (2, second)):
        destination = fastpath.new_destination()
        assert not destination.ready
        destination.connect(SocketTransport(sender), subscriber.addr)
        assert destination.ready
        session, context = transmit_context(key, profile, ssrc)
        sessions.append(session)
        routes.append((96, 0, 0, ssrc, extension_prefix("0", 4), destination, context))
    fanout = fastpath.new_fanout(routes)
    routes[0][5].disconnect()
    assert fanout.forward(0x80, 1, 3000, b"\x00" * 4 + b"frame") == 1
    assert second.receive()[1].endswith(b"frame")
    assert not first.pending()
    # Larger than any MTU: dropped by both, as the Python forwarder always did.
    assert fanout.forward(0, 2, 3000, b"\x00" * 2000) == 0


def test_the_native_path_refuses_malformed_routes_and_arguments(sender: socket.socket) -> None:
    if "native" not in fastpath.available():
        pytest.skip("native path not built")
    fastpath.select("native")
    try:
        destination = fastpath.new_destination()
        destination.connect(SocketTransport(sender), ("127.0.0.1", 9))
        _session, context = transmit_context(os.urandom(28), PROFILES["aes-gcm"][0], 5)
        good = (96, 0, 0, 5, b"", destination, context)
        address = fastpath._address(context)
        native_type: Any = fastpath._native.Fanout  # type: ignore[union-attr]
        bad_routes: list[Any] = [
            [(96, 0, 0, 5, b"", fastpath.PythonDestination(), address)],
            [(96, 0, 0, 5, b"x" * 65, destination, address)],
            [(200, 0, 0, 5, b"", destination, address)],
            [(96, 0x10000, 0, 5, b"", destination, address)],
            [(96, 0, 0, 5, "text", destination, address)],
            [(96, 0, 0, 5, b"", destination, 0)],
            [(96, 0, 0, 5, b"", destination, None)],
            [(96, 0, 0, 5)],
            [None],
            [b"abc"],
            None,
            5,
        ]
        for routes in bad_routes:
            with pytest.raises((TypeError, ValueError, OverflowError)):
                native_type(routes)
        fanout = fastpath.new_fanout([good])
        native: Any = fanout
        for args in [
            (0x40, 1, 1, b"x"),
            (0, 0x10000, 1, b"x"),
            (0, 1, 1 << 32, b"x"),
            (0, -1, 1, b"x"),
            (0, 1, 1, "x"),
            (0, 1, 1),
            (None, 1, 1, b"x"),
        ]:
            with pytest.raises((TypeError, ValueError, OverflowError)):
                native.forward(*args)
        with pytest.raises(ValueError):
            destination.connect(SocketTransport(sender), ("not-an-address", 9))
    finally:
        fastpath.select(None)


# --- random and truncated packets through the whole producer hot path -------------


def packet_from(rng: random.Random, seq: int) -> bytes:
    """A valid VP8-ish RTP packet, then mangled one way or another."""
    extension = b""
    b0 = 0x80
    if rng.random() < 0.5:
        b0 |= 0x10
        words = rng.randint(0, 3)
        extension = b"\xbe\xde" + words.to_bytes(2, "big") + rng.randbytes(4 * words)
    if rng.random() < 0.2:
        b0 |= rng.randint(1, 15)  # CSRCs, perhaps missing
    if rng.random() < 0.2:
        b0 |= 0x20  # padding, perhaps bogus
    header = HEADER.pack(b0, 96 | rng.choice([0, 0x80]), seq, seq * 3000, 1234)
    payload = rng.choice([b"\x10\x00key", b"\x10\x01delta", b""]) + rng.randbytes(
        rng.randint(0, 1300)
    )
    data = header + extension + payload
    roll = rng.random()
    if roll < 0.3:
        data = data[: rng.randint(0, len(data))]  # truncated
    elif roll < 0.4:
        data = rng.randbytes(rng.randint(0, 64))  # garbage
    return data


def run_hot_path(sender: socket.socket, seed: int) -> tuple[object, ...]:
    """3000 mangled packets through a producer with one route; what came out."""
    profile, key_length = PROFILES["aes-gcm"]
    key = bytes(range(key_length))
    subscriber = Subscriber(key, profile)
    destination = fastpath.new_destination()
    destination.connect(SocketTransport(sender), subscriber.addr)
    session, context = transmit_context(key, profile, 77)  # the session owns the context
    receiver: Any = object()
    producer = Producer("p-1", "owner", "video", receiver, lambda data: True)
    producer._info = ReceiverInfo(90000, frozenset({96}), frozenset({97}), 42, None)
    producer._fanout = fastpath.new_fanout(
        [(96, 0, 0, 77, extension_prefix("0", 4), destination, context)]
    )
    rng = random.Random(seed)
    received: list[bytes] = []
    subscriber.sock.setblocking(False)

    def drain() -> None:
        while True:
            try:
                packet = subscriber.session.unprotect(subscriber.sock.recv(4096))
                # Bytes 21-23 are the abs-send-time of the moment: not compared.
                received.append(packet[:21] + packet[24:])
            except BlockingIOError:
                return

    for seq in range(3000):
        producer.on_rtp(packet_from(rng, seq & 0xFFFF), rng.random() < 0.05)
        if seq % 20 == 0:
            drain()
    drain()
    producer.close()
    subscriber.sock.close()
    del session
    return (producer.counters.as_dict() | {"last_packet_at": None}, producer.forwarded, received)


@pytest.mark.parametrize("seed", [15, 16])
async def test_random_and_truncated_packets_never_break_the_hot_path(
    sender: socket.socket, seed: int
) -> None:
    outcomes = {}
    previous = fastpath.implementation()
    try:
        for name in fastpath.available():
            fastpath.select(name)
            outcomes[name] = run_hot_path(sender, seed)
    finally:
        fastpath.select(previous)
    python = outcomes["python"]
    assert python[1][0] > 100 and len(python[2]) > 100  # type: ignore[arg-type, index]
    # Same counters, same packets out, whichever path forwards.
    for outcome in outcomes.values():
        assert outcome == python


def _implementation_in_child(code: str, **env: str) -> str:
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=True,
        timeout=60,
    )
    return run.stdout.strip()


def test_the_environment_forces_the_python_path() -> None:
    code = "from media import fastpath; print(fastpath.implementation())"
    assert _implementation_in_child(code, PALABRA_FASTPATH="python") == "python"
    assert _implementation_in_child(code, PALABRA_FASTPATH="native") == "native"


def test_without_the_extension_the_python_twin_runs() -> None:
    code = (
        "import sys; sys.modules['media._fastpath'] = None\n"
        "from media import fastpath\n"
        "print(fastpath.implementation(), fastpath.available())"
    )
    assert _implementation_in_child(code) == "python ('python',)"


@pytest.mark.parametrize(
    ("descriptor", "picture_id", "tl0"),
    [
        (bytes([0x90, 0xC0, 0x80 | 0x7F, 0xFE, 0x21]), 0x7FFE, 0x21),  # 15-bit id, TL0PICIDX
        (bytes([0x90, 0x80, 0x05]), 0x05, None),  # 7-bit id only
        (bytes([0x90, 0x40, 0xFF]), None, 0xFF),  # TL0PICIDX only
    ],
)
def test_each_route_moves_the_vp8_picture_id_and_tl0picidx_by_its_offsets(
    sender: socket.socket, path: str, descriptor: bytes, picture_id: int | None, tl0: int | None
) -> None:
    from media.vp8 import descriptor_fields
    from media.vp8 import picture_id as read_picture_id
    from media.vp8 import tl0picidx as read_tl0

    profile, key_length = PROFILES["aes-gcm"]
    key = os.urandom(key_length)
    payload = descriptor + b"\x00frame"
    fields = descriptor_fields(payload)
    element = b"\x00" * 4
    # Positions in the tail: the per-packet element comes first.
    shifted = (
        ((fields & 0xFF) + 4 if fields & 0xFF else 0)
        | (fields & 0x100)
        | (((fields >> 9) + 4) << 9 if fields >> 9 else 0)
    )
    offsets = [(0, 0), (3, 1), (0x7FFF, 0xFF)]
    subscribers, routes, sessions = [], [], []
    for ssrc, (pid_offset, tl0_offset) in enumerate(offsets, start=1):
        subscriber = Subscriber(key, profile)
        destination = fastpath.new_destination()
        destination.connect(SocketTransport(sender), subscriber.addr)
        session, context = transmit_context(key, profile, ssrc)
        sessions.append(session)
        subscribers.append(subscriber)
        prefix = extension_prefix("0", 4)
        routes.append(
            (96, 0, 0, ssrc, prefix, destination, context, fastpath.NO_RED, pid_offset, tl0_offset)
        )
    # A route without offsets (the common case) is accepted as before.
    fanout = fastpath.new_fanout(routes)
    assert fanout.forward(0x80, 7, 3000, element + payload, fastpath.NO_RED, shifted) == 3
    for subscriber, (pid_offset, tl0_offset) in zip(subscribers, offsets, strict=True):
        packet = subscriber.receive()[1]
        received = packet[12 + len(extension_prefix("0", 4)) + 4 :]
        assert received[-6:] == b"\x00frame"
        assert len(received) == len(payload)
        if picture_id is not None:
            mask = 0x7FFF if fields & 0x100 else 0x7F
            assert read_picture_id(received, fields) == (picture_id + pid_offset) & mask
        if tl0 is not None:
            assert read_tl0(received, fields) == (tl0 + tl0_offset) & 0xFF
        subscriber.sock.close()


def test_vp8_positions_past_the_packet_rewrite_nothing(sender: socket.socket, path: str) -> None:
    profile, key_length = PROFILES["aes-gcm"]
    key = os.urandom(key_length)
    subscriber = Subscriber(key, profile)
    destination = fastpath.new_destination()
    destination.connect(SocketTransport(sender), subscriber.addr)
    _session, context = transmit_context(key, profile, 5)
    routes = [(96, 0, 0, 5, extension_prefix("0", 4), destination, context, fastpath.NO_RED, 9, 9)]
    fanout = fastpath.new_fanout(routes)
    tail = b"\x00" * 4 + bytes([0x90, 0xC0, 0x81])
    # A 15-bit picture id whose second byte is missing, a TL0PICIDX beyond the end.
    assert fanout.forward(0, 1, 1, tail, fastpath.NO_RED, 6 | 0x100 | (40 << 9)) == 1
    assert subscriber.receive()[1].endswith(tail)
    with pytest.raises(ValueError, match="out of range"):
        fanout.forward(0, 1, 1, tail, fastpath.NO_RED, 1 << 20)
    subscriber.sock.close()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    offsets=st.lists(
        st.tuples(st.integers(0, 0x7FFF), st.integers(0, 0xFF)), min_size=1, max_size=3
    ),
    vp8=st.integers(0, 0x1FFFF),
    payload=st.binary(min_size=0, max_size=64),
)
def test_both_paths_rewrite_vp8_fields_alike(
    sender: socket.socket, offsets: list[tuple[int, int]], vp8: int, payload: bytes
) -> None:
    tail = b"\x00" * 4 + payload  # the per-packet extension element comes first
    profile, key_length = PROFILES["aes-gcm"]
    key = os.urandom(key_length)
    received: dict[str, list[bytes]] = {}
    for name in fastpath.available():
        fastpath.select(name)
        subscribers, routes, sessions = [], [], []
        for ssrc, (picture, tl0) in enumerate(offsets, start=1):
            subscriber = Subscriber(key, profile)
            destination = fastpath.new_destination()
            destination.connect(SocketTransport(sender), subscriber.addr)
            session, context = transmit_context(key, profile, ssrc)
            sessions.append(session)
            subscribers.append(subscriber)
            prefix = extension_prefix("0", 4)
            routes.append(
                (96, 0, 0, ssrc, prefix, destination, context, fastpath.NO_RED, picture, tl0)
            )
        assert fastpath.new_fanout(routes).forward(0, 1, 2, tail, fastpath.NO_RED, vp8) == len(
            routes
        )
        received[name] = [s.receive()[1] for s in subscribers]
        for subscriber in subscribers:
            subscriber.sock.close()
    fastpath.select(None)
    assert len({tuple(packets) for packets in received.values()}) == 1
