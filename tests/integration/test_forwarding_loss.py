"""Forwarding stays correct when the network drops and reorders packets.

Loss is put on one leg at a time, at the client's sockets: the SFU must
repair it (NACK to the publisher, RTX from its own cache to the subscriber,
a keyframe when nothing else helps) so that the subscriber keeps decoding
the right picture.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from media.aiortc_hooks import impair
from media.nack import DEFAULT_RTT, MIN_RETRY
from media.rtp import HEADER

from .conftest import ClientFactory, RunningServer
from .media_tracks import ColourTrack, ToneTrack, dominant_colour

# Both forwarding implementations, so that they never drift.
pytestmark = pytest.mark.usefixtures("forwarding_path")


def is_rtp(data: bytes) -> bool:
    return len(data) > 12 and 127 < data[0] < 192 and not 191 < data[1] < 224


async def poll_until(predicate: Callable[[], bool], timeout: float) -> None:
    """The counting subscriber does not notify per packet: poll its counters."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.05)


class LossyLink:
    """Drops every ``drop_every``-th RTP datagram and swaps every ``swap_every``-th pair."""

    def __init__(self, drop_every: int, swap_every: int) -> None:
        self.drop_every = drop_every
        self.swap_every = swap_every
        self.seen = self.dropped = self.swapped = 0
        self._held: tuple[bytes, Callable[[bytes], None]] | None = None

    def __call__(self, data: bytes, deliver: Callable[[bytes], None]) -> None:
        if not is_rtp(data):
            deliver(data)
            return
        self.seen += 1
        if self.seen % self.drop_every == 0:
            self.dropped += 1
            return
        if self._held is not None:
            deliver(data)
            held, deliver_held = self._held
            self._held = None
            deliver_held(held)  # arrives after the packet sent after it
            return
        if self.seen % self.swap_every == 0:
            self.swapped += 1
            self._held = (data, deliver)
            return
        deliver(data)


async def test_loss_and_reordering_towards_the_subscriber(
    server: RunningServer, connect: ClientFactory
) -> None:
    publisher = await connect(name="Canciller", delegation="gt")
    await publisher.publish(video=ColourTrack("blue"), audio=ToneTrack())
    subscriber = await connect(name="Asesor", delegation="sv")
    [stream] = await subscriber.wait_for_streams(1, kind="video", frames=5, timeout=15)

    link = LossyLink(drop_every=9, swap_every=7)
    impair(subscriber.subscriber, incoming=link)
    before = stream.frames
    await subscriber.wait_for(lambda: stream.frames > before + 60, timeout=30)

    assert link.dropped > 5 and link.swapped > 5
    assert dominant_colour(stream.last_frame) == "blue"
    conference = server.palabra.conferences["demo"]
    [producer] = [p for p in conference.router.producers.values() if p.kind == "video"]
    [consumer] = producer.consumers
    assert consumer.counters.nacks_received > 0
    assert consumer.counters.retransmitted > 0
    assert conference.router.codec_activity() == (0, 0)


async def test_loss_and_reordering_from_the_publisher(
    server: RunningServer, connect: ClientFactory
) -> None:
    publisher = await connect(name="Canciller", delegation="gt")
    await publisher.publish(video=ColourTrack("green"), audio=ToneTrack())
    subscriber = await connect(name="Asesor", delegation="sv")
    [stream] = await subscriber.wait_for_streams(1, kind="video", frames=5, timeout=15)

    link = LossyLink(drop_every=6, swap_every=5)
    impair(publisher.publisher, outgoing=link)
    before = stream.frames
    await subscriber.wait_for(lambda: stream.frames > before + 60, timeout=30)

    assert link.dropped > 5 and link.swapped > 5
    assert dominant_colour(stream.last_frame) == "green"
    conference = server.palabra.conferences["demo"]
    [producer] = [p for p in conference.router.producers.values() if p.kind == "video"]
    counters = producer.counters
    assert counters.nacks_sent > 0
    assert counters.retransmissions_received > 0


async def test_counting_subscriber_reports_and_sees_repaired_loss(
    server: RunningServer, connect: ClientFactory
) -> None:
    """The cheap (decode=False) subscriber of the benchmark: loss is repaired by RTX."""
    publisher = await connect(name="Canciller", delegation="gt")
    await publisher.publish(video=ColourTrack("red"), audio=ToneTrack())
    counter = await connect(name="Sala", delegation="sv", decode=False)
    streams = await counter.wait_for_streams(2, frames=5, timeout=15)
    [video] = [s for s in streams if s.kind == "video"]

    link = LossyLink(drop_every=10, swap_every=1000)
    impair(counter.subscriber, incoming=link)
    before = video.packets
    await poll_until(lambda: video.packets > before + 150, timeout=30)
    await poll_until(lambda: video.retransmitted > 5, timeout=10)

    conference = server.palabra.conferences["demo"]
    consumers = [c for p in conference.router.producers.values() for c in p.consumers]
    # Receiver reports from the counting subscriber reach every consumer.
    await poll_until(lambda: all(c.counters.report_at is not None for c in consumers), 10)


async def test_stray_numbering_from_the_publisher_does_not_silence_the_subscriber(
    server: RunningServer, connect: ClientFactory
) -> None:
    """A packet far outside the stream's numbering (a bug or a hostile client)
    must not move the subscriber's SRTP index: forwarded as it was, it made
    libsrtp refuse every later packet as old, and the picture froze for good."""
    publisher = await connect(name="Canciller", delegation="gt")
    await publisher.publish(video=ColourTrack("blue"), audio=ToneTrack())
    subscriber = await connect(name="Asesor", delegation="sv")
    [stream] = await subscriber.wait_for_streams(1, kind="video", frames=5, timeout=15)
    conference = server.palabra.conferences["demo"]
    [producer] = [p for p in conference.router.producers.values() if p.kind == "video"]

    def copies(*offsets: int) -> list[bytes]:
        """The publisher's latest packet again, as plain RTP, renumbered by each offset."""
        seq = producer.max_seq
        entry = producer.cached(seq)
        assert entry is not None and producer.media_ssrc is not None
        _, timestamp, marker, _, payload = entry
        b1 = 96 | marker  # the payload type is not looked at by the producer
        return [
            HEADER.pack(0x80, b1, (seq + n) & 0xFFFF, timestamp, producer.media_ssrc) + payload
            for n in offsets
        ]

    # One stray packet, as the socket would hand it over after SRTP.
    [stray] = copies(20000)
    producer.on_rtp(stray, False)
    before = stream.frames
    await subscriber.wait_for(lambda: stream.frames > before + 30, timeout=20)
    assert producer.counters.strays == 1

    # Two in a row: the publisher renumbered; its real stream is then the
    # stray one, renumbered back. Every subscriber's numbering runs on.
    for packet in copies(20000, 20001):
        producer.on_rtp(packet, False)
    assert producer.counters.renumbered == 1
    before = stream.frames
    await subscriber.wait_for(lambda: stream.frames > before + 30, timeout=20)
    assert producer.counters.renumbered == 2
    assert dominant_colour(stream.last_frame) == "blue"
    [consumer] = producer.consumers
    assert consumer.counters.packets > 0


class LostRetransmissions:
    """Drops every ``drop_every``-th video packet and the first retransmission after it.

    Only a receiver that asks again gets those packets back.
    """

    def __init__(self, media_ssrc: int, rtx_ssrc: int, drop_every: int) -> None:
        self.media_ssrc, self.rtx_ssrc = media_ssrc, rtx_ssrc
        self.drop_every = drop_every
        self.seen = self.dropped = self.dropped_rtx = 0
        self._owed = 0  # retransmissions still to drop

    def __call__(self, data: bytes, deliver: Callable[[bytes], None]) -> None:
        if is_rtp(data):
            ssrc = HEADER.unpack_from(data)[4]
            if ssrc == self.media_ssrc:
                self.seen += 1
                if self.seen % self.drop_every == 0:
                    self.dropped += 1
                    self._owed += 1
                    return
            elif ssrc == self.rtx_ssrc and self._owed:
                self._owed -= 1
                self.dropped_rtx += 1
                return
        deliver(data)


async def test_counting_subscriber_asks_again_for_a_lost_retransmission(
    server: RunningServer, connect: ClientFactory
) -> None:
    publisher = await connect(name="Canciller", delegation="gt")
    await publisher.publish(video=ColourTrack("red"), audio=ToneTrack())
    counter = await connect(name="Sala", delegation="sv", decode=False)
    streams = await counter.wait_for_streams(2, frames=5, timeout=15)
    [video] = [s for s in streams if s.kind == "video"]
    conference = server.palabra.conferences["demo"]
    [producer] = [p for p in conference.router.producers.values() if p.kind == "video"]
    [consumer] = producer.consumers
    info = consumer.slot.info
    assert info is not None and info.rtx_ssrc is not None

    link = LostRetransmissions(consumer.slot.ssrc, info.rtx_ssrc, drop_every=15)
    impair(counter.subscriber, incoming=link)
    before = (video.packets, video.lost, video.retransmitted)
    await poll_until(lambda: link.dropped_rtx >= 10, timeout=30)
    await poll_until(lambda: video.lost == before[1], timeout=5)  # every gap repaired

    assert video.retransmitted - before[2] >= link.dropped
    # Each sequence number asked for once, and again where the retransmission was lost.
    assert consumer.counters.nacks_received >= link.dropped + link.dropped_rtx


async def test_nack_retries_towards_a_publisher_are_paced_by_its_round_trip(
    server: RunningServer, connect: ClientFactory
) -> None:
    """The publisher sends no receiver reports, but as a subscriber it does:
    that round trip, measured on its subscriber connection, paces the retries."""
    first = await connect(name="Canciller", delegation="gt")
    await first.publish(video=ColourTrack("blue"), audio=ToneTrack())
    second = await connect(name="Asesor", delegation="sv")
    await second.publish(video=ColourTrack("green"))
    await first.wait_for_streams(1, kind="video", frames=5, timeout=15)
    await second.wait_for_streams(1, kind="video", frames=5, timeout=15)
    conference = server.palabra.conferences["demo"]
    first_id = first.welcome.you.id  # type: ignore[union-attr]
    producers = conference.router.producers_of(first_id)
    transport = conference.router.peers[first_id]

    await poll_until(lambda: all(p.rtt is not None for p in producers), timeout=15)
    rtt = transport.round_trip()
    assert rtt is not None and rtt > 0
    # The retry interval follows it, not the default (never below the floor
    # against floods).
    [video] = [p for p in producers if p.kind == "video"]
    assert video.rtt is not None and video.rtt > 0
    assert video.nacks.retry_interval(video.rtt) == max(MIN_RETRY, video.rtt)
    assert video.nacks.retry_interval(None) == DEFAULT_RTT
