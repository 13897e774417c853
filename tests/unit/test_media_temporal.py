"""Temporal layers: routes at a lower frame rate get fewer packets, renumbered with no gap.

Real producers, real libsrtp sessions and UDP sockets on loopback, both
forwarding twins: what each subscriber receives is unprotected and read.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import Any

import pylibsrtp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_media_fastpath import SocketTransport, Subscriber, transmit_context

from media import fastpath
from media.aiortc_hooks import ReceiverInfo
from media.producer import Producer
from media.rtp import HEADER, extension_prefix
from media.temporal import ALL, Thinning, half_rate
from media.vp8 import descriptor_fields, picture_id, starts_frame, temporal, tl0picidx

PROFILE, KEY_LENGTH = pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80, 30


# Chromium's three temporal layers (L1T3): TID 0, 2, 1, 2, 0, 2, 1, 2, ...
L1T3 = (0, 2, 1, 2)


def vp8(picture: int, tl0: int, tid: int, sync: bool, first: bool, body: bytes) -> bytes:
    """A VP8 payload: descriptor with I (15-bit), L and T, then a delta frame's bytes."""
    return (
        bytes(
            [
                0x90 if first else 0x80,  # X, S on a frame's first packet
                0xE0,
                0x80 | (picture >> 8),
                picture & 0xFF,
                tl0,
                (tid << 6) | (0x20 if sync else 0),
            ]
        )
        + b"\x01"  # P bit: not a keyframe
        + body
    )


def frames(tids: list[int], packets: int, seq: int) -> list[tuple[int, int, bytes]]:
    """(sequence, marker, payload) of frames with these TIDs, ``packets`` packets each."""
    out = []
    picture, tl0 = 0x7FF0, 250  # both wrap within the tests
    for number, tid in enumerate(tids):
        if tid == 0:
            tl0 = (tl0 + 1) & 0xFF
        for index in range(packets):
            marker = 0x80 if index == packets - 1 else 0
            body = bytes([number & 0xFF, index]) * 8
            out.append((seq, marker, vp8(picture, tl0, tid, False, index == 0, body)))
            seq = (seq + 1) & 0xFFFF
        picture = (picture + 1) & 0x7FFF
    return out


@pytest.fixture(params=fastpath.available())
def path(request: pytest.FixtureRequest) -> Iterator[str]:
    previous = fastpath.implementation()
    fastpath.select(request.param)
    yield request.param
    fastpath.select(previous)


@pytest.fixture
def sender() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


class Routed:
    """A producer with one subscriber per temporal target (the fan-outs set directly)."""

    def __init__(self, sender: socket.socket, levels: list[int]) -> None:
        receiver: Any = object()
        self.producer = Producer("p-1", "owner", "video", receiver, lambda data: True)
        self.producer._info = ReceiverInfo(90000, frozenset({96}), frozenset({97}), 42, None)
        key = os.urandom(KEY_LENGTH)
        self.subscribers: dict[int, Subscriber] = {}
        self.sessions: list[pylibsrtp.Session] = []
        full: list[fastpath.Route] = []
        thinned: dict[int, fastpath.Fanout] = {}
        for number, level in enumerate(levels):
            subscriber = Subscriber(key, PROFILE)
            destination = fastpath.new_destination()
            destination.connect(SocketTransport(sender), subscriber.addr)
            ssrc = 1000 + number
            session, context = transmit_context(key, PROFILE, ssrc)
            route = (96, 100, 0, ssrc, extension_prefix(None, 4), destination, context, -1, 3, 0)
            if level >= ALL:
                full.append(route)
            else:
                thinned[level] = fastpath.new_fanout([route])
            self.subscribers[level] = subscriber
            self.sessions.append(session)
        self.producer._fanout = fastpath.new_fanout(full)
        self.producer._thinned = thinned
        self.producer._routes = len(levels)

    def send(self, seq: int, marker: int, payload: bytes) -> None:
        data = HEADER.pack(0x80, 96 | marker, seq, 9000 + seq, 1234) + payload
        self.producer.on_rtp(data, False)

    def received(self, level: int) -> list[tuple[bytes, bytes]]:
        subscriber, out = self.subscribers[level], []
        subscriber.sock.setblocking(False)
        while True:
            try:
                data = subscriber.sock.recv(4096)
            except BlockingIOError:
                return out
            out.append((data, subscriber.session.unprotect(data)))

    def close(self) -> None:
        for subscriber in self.subscribers.values():
            subscriber.sock.close()


def read(packet: bytes) -> tuple[int, int, int, int, int]:
    """(sequence, marker, TID, picture id, TL0PICIDX) of a forwarded packet."""
    seq = (packet[2] << 8) | packet[3]
    payload = packet[12 + 4 + 4 :]  # header, extension header, abs-send-time element
    fields = descriptor_fields(payload)
    picture, tl0 = picture_id(payload, fields), tl0picidx(payload, fields)
    assert picture is not None and tl0 is not None
    return seq, packet[1] & 0x80, temporal(payload)[0], picture, tl0


def test_the_descriptor_gives_the_tid_the_sync_bit_and_the_frame_start() -> None:
    payload = vp8(5, 7, 2, True, True, b"x")
    assert temporal(payload) == (2, True) and starts_frame(payload)
    later = vp8(5, 7, 1, False, False, b"x")
    assert temporal(later) == (1, False) and not starts_frame(later)
    assert temporal(b"\x10\x01") == (0, False)  # no descriptor extension: TID 0
    assert temporal(b"\x90\x80\x05") == (0, False)  # I without T
    assert temporal(b"\x90\x20") == (0, False)  # T, truncated
    assert [half_rate(n) for n in (1, 2, 3)] == [ALL, 0, 1]


def test_late_packets_are_numbered_as_on_time() -> None:
    thinning = Thinning(16)
    thinning.mark(10, 0)
    thinning.drop(1, 40)
    thinning.drop(1, 40)  # the same picture: one picture id dropped
    counts = thinning.mark(13, 2)  # 11 and 12 did not come
    assert counts[1:] == (0, 2, 0, 0, 1, 0)
    assert thinning.at(11) == (11, 0, 2, 0, 0, 1, 0)
    assert thinning.at(10) == (10, 0, 0, 0, 0, 0, 0)
    assert thinning.at(14) is None and thinning.skips(ALL) == (0, 0)
    thinning.forget()
    assert thinning.at(13) is None


async def test_a_thumbnail_gets_half_the_frames_with_no_gap(
    sender: socket.socket, path: str
) -> None:
    routed = Routed(sender, [ALL, 1, 0])
    sent = frames([L1T3[i % 4] for i in range(40)], 2, 0xFFF0)
    for seq, marker, payload in sent:
        routed.send(seq, marker, payload)
    full = [read(p) for _, p in routed.received(ALL)]
    assert len(full) == 80 and [f[2] for f in full[::2]] == [L1T3[i % 4] for i in range(40)]
    for level, share in ((1, 2), (0, 4)):
        got = [read(p) for _, p in routed.received(level)]
        assert len(got) == 80 // share
        assert all(tid <= level for _, _, tid, _, _ in got)
        seqs = [s for s, _, _, _, _ in got]
        # Continuous: no gap for the subscriber to ask for, across the wrap.
        assert seqs == [(seqs[0] + i) & 0xFFFF for i in range(len(seqs))]
        assert seqs[0] == (0xFFF0 + 100) & 0xFFFF
        pictures = [p for _, _, _, p, _ in got[::2]]
        assert pictures == [(pictures[0] + i) & 0x7FFF for i in range(len(pictures))]
        assert [m for _, m, _, _, _ in got] == [0, 0x80] * (len(got) // 2)  # whole frames
        tl0s = [t for _, _, tid, _, t in got[::2] if tid == 0]
        assert tl0s == [(tl0s[0] + i) & 0xFF for i in range(len(tl0s))]
        # What the consumers' counters of that target read: packets, bytes, frames.
        packets, octets, frames_sent = routed.producer.thinning.forwarded(level)
        assert (packets, frames_sent) == (len(got), len(got) // 2)
        assert octets == sum(len(p) for s, _, p in sent if temporal(p)[0] <= level)
    routed.producer.close()
    routed.close()


async def test_a_late_packet_keeps_its_place_and_one_dropped_late_leaves_its_gap(
    sender: socket.socket, path: str
) -> None:
    routed = Routed(sender, [ALL, 1])
    sent = frames([0, 2, 1, 2, 0, 2], 1, 500)
    order = [0, 1, 3, 4, 5, 2]  # frame 2 (TID 1) arrives late, after the others
    for index in order:
        routed.send(*sent[index])
    got = [read(p) for _, p in routed.received(1)]
    # Frames 0, 2 (late), 4: numbered as if on time.
    assert sorted((s, p) for s, _, _, p, _ in got) == [
        (600, 0x7FF3),
        (601, 0x7FF4),
        (602, 0x7FF5),
    ]
    assert [s for s, _, _, _, _ in got] == [600, 602, 601]
    routed.producer.close()
    routed.close()

    routed = Routed(sender, [ALL, 1])
    sent = frames([0, 2, 1, 2, 0], 1, 500)
    for index in [0, 2, 3, 4, 1]:  # frame 1 (TID 2) arrives last: numbered as if sent
        routed.send(*sent[index])
    got = [read(p) for _, p in routed.received(1)]
    assert [s for s, _, _, _, _ in got] == [600, 602, 603]  # its one gap
    assert len(routed.received(ALL)) == 5
    routed.producer.close()
    routed.close()


def masked(packet: bytes) -> bytes:
    """The packet without its abs-send-time value (the time it was forwarded)."""
    return packet[:17] + b"\0\0\0" + packet[20:]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    tids=st.lists(st.integers(0, 3), min_size=1, max_size=30),
    packets=st.integers(1, 3),
    start=st.integers(0, 0xFFFF),
    level=st.integers(0, 2),
)
def test_both_twins_thin_to_the_same_bytes(
    sender: socket.socket, tids: list[int], packets: int, start: int, level: int
) -> None:
    seen: dict[str, list[bytes]] = {}
    for name in fastpath.available():
        fastpath.select(name)
        routed = Routed(sender, [level])
        for seq, marker, payload in frames(tids, packets, start):
            routed.send(seq, marker, payload)
        received = [masked(packet) for _, packet in routed.received(level)]
        assert len(received) == packets * sum(1 for t in tids if t <= level)
        seen[name] = received
        routed.producer.close()
        routed.close()
    fastpath.select(None)
    assert len({tuple(v) for v in seen.values()}) == 1
