"""Three publishers, each receiving the others' media, forwarded without transcoding."""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from .conftest import ClientFactory, RunningServer
from .media_tracks import ColourTrack, ToneTrack, dominant_colour

# Both forwarding implementations, so that they never drift.
pytestmark = pytest.mark.usefixtures("forwarding_path")


async def test_each_participant_receives_the_others(
    server: RunningServer, connect: ClientFactory
) -> None:
    colours = {"gt": "red", "sv": "green", "cr": "blue"}
    clients = {}
    for delegation, colour in colours.items():
        client = await connect(name=f"Jefe {delegation}", delegation=delegation)
        await client.publish(video=ColourTrack(colour), audio=ToneTrack())
        clients[delegation] = client

    by_participant = {c.welcome.you.id: d for d, c in clients.items()}  # type: ignore[union-attr]
    for delegation, client in clients.items():
        videos = await client.wait_for_streams(2, kind="video", frames=5, timeout=15)
        await client.wait_for_streams(2, kind="audio", frames=5, timeout=15)
        seen = {by_participant[s.participant_id]: dominant_colour(s.last_frame) for s in videos}
        expected = {d: c for d, c in colours.items() if d != delegation}
        assert seen == expected

    conference = server.palabra.conferences["demo"]
    assert conference.router.codec_activity() == (0, 0)
    forwarded = sum(
        c.counters.packets for p in conference.router.producers.values() for c in p.consumers
    )
    assert forwarded > 0


async def test_late_joiner_gets_a_keyframe_quickly(
    server: RunningServer, connect: ClientFactory
) -> None:
    publisher = await connect(name="Canciller", delegation="gt")
    await publisher.publish(video=ColourTrack("yellow"), audio=ToneTrack())
    early = await connect(name="Asesor", delegation="sv")
    await early.wait_for_streams(1, kind="video", frames=10, timeout=15)

    # aiortc's encoder sends keyframes only on request: the SFU must ask.
    late = await connect(name="Tarde", delegation="cr")
    joined = time.monotonic()
    [stream] = await late.wait_for_streams(1, kind="video", frames=1, timeout=10)
    assert stream.first_frame_at is not None
    assert dominant_colour(stream.last_frame) == "yellow"
    # Generous bound: without a keyframe request the wait is unbounded.
    assert stream.first_frame_at - joined < 5.0


async def test_leaving_participant_streams_disappear(
    server: RunningServer, connect: ClientFactory
) -> None:
    staying = await connect(name="Queda", delegation="gt")
    leaving = await connect(name="Sale", delegation="sv")
    await leaving.publish(video=ColourTrack("green"), audio=ToneTrack())
    await staying.wait_for_streams(2, frames=2, timeout=15)
    leaving_id = leaving.welcome.you.id  # type: ignore[union-attr]

    await leaving.leave()
    await staying.wait_for(lambda: not staying.streams and leaving_id not in staying.participants)
    assert staying.producers == {}
    conference = server.palabra.conferences["demo"]
    await asyncio.sleep(0)
    assert leaving_id not in conference.members
    assert conference.router.producers == {}
    # The slots stay for reuse, inactive.
    transceivers = staying.subscriber.getTransceivers()
    assert transceivers and all(t.currentDirection == "inactive" for t in transceivers)


def opus_fmtp(sdp: str) -> list[str]:
    """The fmtp parameters of every Opus payload type in an SDP."""
    payload_types = re.findall(r"a=rtpmap:(\d+) opus/48000", sdp)
    return [m for pt in payload_types for m in re.findall(rf"a=fmtp:{pt} ([^\r\n]*)", sdp)]


async def test_opus_in_band_fec_is_asked_for_on_both_legs(connect: ClientFactory) -> None:
    """The publisher's encoder adds FEC only when the answer asks for it; the
    subscriber's offer says the forwarded Opus may carry it."""
    publisher = await connect(name="Canciller", delegation="gt")
    await publisher.publish(audio=ToneTrack())
    subscriber = await connect(name="Asesor", delegation="sv")
    await subscriber.wait_for_streams(1, kind="audio", frames=5, timeout=15)
    answer = publisher.publisher.remoteDescription.sdp
    offer = subscriber.subscriber.remoteDescription.sdp
    for fmtp in (opus_fmtp(answer), opus_fmtp(offer)):
        assert fmtp and all("useinbandfec=1" in line.split(";") for line in fmtp)
