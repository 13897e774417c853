"""RTCP both ways: the SFU's reports reach both ends, their feedback reaches the counters."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from .conftest import ClientFactory, RunningServer
from .media_tracks import ColourTrack, ToneTrack

# Both forwarding implementations, so that they never drift.
pytestmark = pytest.mark.usefixtures("forwarding_path")


async def poll_until(predicate: Callable[[], bool], timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.05)


async def test_reports_and_feedback_flow(server: RunningServer, connect: ClientFactory) -> None:
    publisher = await connect(name="Canciller", delegation="gt")
    await publisher.publish(video=ColourTrack("red"), audio=ToneTrack())
    subscriber = await connect(name="Asesor", delegation="sv")
    await subscriber.wait_for_streams(2, frames=5, timeout=15)
    conference = server.palabra.conferences["demo"]
    [video] = [p for p in conference.router.producers.values() if p.kind == "video"]
    [consumer] = video.consumers

    # The subscriber's receiver reports answer our sender reports (RTT) and
    # its bandwidth estimate arrives as REMB.
    counters = consumer.counters
    await poll_until(lambda: counters.rtt is not None and counters.remb is not None, 15)
    assert counters.report_at is not None and counters.packets > 0 and counters.frames > 0
    assert video.counters.frames > 0 and video.counters.keyframes > 0
    assert video.sender_report is not None  # the publisher's SR, kept for lip sync

    # Our sender reports reach the subscriber's receivers (lip sync there).
    async def remote_outbound() -> int:
        count = 0
        for receiver in subscriber.subscriber.getReceivers():
            stats = await receiver.getStats()
            count += sum(1 for s in stats.values() if s.type == "remote-outbound-rtp")
        return count

    async with asyncio.timeout(10):
        while await remote_outbound() < 2:
            await asyncio.sleep(0.1)

    # Our receiver reports reach the publisher's senders.
    async def remote_inbound() -> int:
        count = 0
        for sender in publisher.publisher.getSenders():
            stats = await sender.getStats()
            count += sum(1 for s in stats.values() if s.type == "remote-inbound-rtp")
        return count

    async with asyncio.timeout(10):
        while await remote_inbound() < 2:
            await asyncio.sleep(0.1)
    # The subscriber's REMB is passed upstream as the producer's bitrate.
    assert video.subscriber_bitrate() == counters.remb
    # Unless the video is held for that subscriber: its REMB is then about the
    # other streams it receives, and must not lower everyone's video.
    consumer.hold(True)
    assert video.subscriber_bitrate() is None
    consumer.hold(False)
    assert video.subscriber_bitrate() == counters.remb
