"""Simulcast: three VP8 layers with RIDs over real SRTP, one layer per subscriber.

The publisher is the Python client's synthetic simulcast sender (three
pre-encoded clips, one SSRC each, the RID header extension, the offer a
browser makes); subscribers keep the raw packets they receive and decode
them afterwards (tests/integration/vp8_stream.py), so a broken switch shows
as a decoder error or a gap in the sequence numbers or picture ids.
"""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from bench.clip import Clip, encode_video
from client import PalabraClient, RemoteStream

from .conftest import ClientFactory, RunningServer
from .vp8_stream import decode

pytestmark = pytest.mark.usefixtures("forwarding_path")

FPS = 15
GOP = 45  # a natural keyframe every 3 s: a prompt switch needs the server's request
SIZES = (("q", 160, 90), ("h", 320, 180), ("f", 640, 360))


@pytest.fixture(scope="module")
def layers() -> list[tuple[str, Clip]]:
    return [
        (rid, encode_video(width, height, fps=FPS, seconds=6.0, bitrate=60_000 * (2**i), gop=GOP))
        for i, (rid, width, height) in enumerate(SIZES)
    ]


async def video_of(client: PalabraClient, owner: str) -> RemoteStream:
    await client.wait_for(
        lambda: any(
            s.kind == "video" and s.participant_id == owner for s in client.streams.values()
        )
    )
    stream = next(
        s for s in client.streams.values() if s.kind == "video" and s.participant_id == owner
    )
    stream.payloads = []
    return stream


async def frames_of_width(
    stream: RemoteStream, width: int, count: int, timeout: float = 15.0
) -> float:
    """Wait for ``count`` frames ``width`` wide; the arrival of the first."""
    deadline = time.monotonic() + timeout
    while True:
        assert stream.payloads is not None
        decoded = decode(list(stream.payloads))
        matching = [f for f in decoded.frames if f.width == width]
        if len(matching) >= count:
            return matching[0].arrival
        assert time.monotonic() < deadline, (
            f"no {width}-wide frames: {[f.width for f in decoded.frames][-5:]}"
        )
        await asyncio.sleep(0.2)


async def test_each_subscriber_gets_one_layer_and_switches_at_a_keyframe_seamlessly(
    server: RunningServer, connect: ClientFactory, layers: list[tuple[str, Clip]]
) -> None:
    publisher = await connect(name="Canciller", delegation="gt")
    sender = await publisher.publish_simulcast(layers)
    owner = publisher.welcome.you.id  # type: ignore[union-attr]
    subscriber = await connect(name="Asesor", delegation="sv", decode=False)
    stream = await video_of(subscriber, owner)

    conference = server.palabra.conferences["demo"]
    [producer] = [p for p in conference.router.producers.values() if p.kind == "video"]
    assert [layer.rid for layer in producer.layers] == ["q", "h", "f"]
    consumer = conference.router.peers[subscriber.welcome.you.id].consumers[producer.id]  # type: ignore[union-attr]

    # Nobody chose a layer for this subscriber yet: the thumbnail.
    await frames_of_width(stream, 160, 10)
    assert consumer.layer == consumer.target_layer == 0
    await subscriber.wait_for(lambda: all(layer.active for layer in producer.layers))

    asked = time.monotonic()
    requests = sender.layers[2].keyframe_requests
    consumer.select_layer(7)  # clamped to the highest
    assert consumer.target_layer == 2
    switched = await frames_of_width(stream, 640, 10)
    assert consumer.layer == 2
    assert sender.layers[2].keyframe_requests > requests
    print(
        f"switch to the high layer: first frame {1000 * (switched - asked):.0f} ms after the choice"
    )

    asked_down = time.monotonic()
    consumer.select_layer(1)
    await frames_of_width(stream, 320, 10)
    down = next(f for f in decode(list(stream.payloads or [])).frames if f.width == 320)
    print(f"switch to the middle layer: {1000 * (down.arrival - asked_down):.0f} ms")

    decoded = decode(list(stream.payloads or []))
    widths = [f.width for f in decoded.frames]
    # Each layer in one run, in the order chosen, and no frame of another in between.
    runs = [w for i, w in enumerate(widths) if i == 0 or widths[i - 1] != w]
    assert runs == [160, 640, 320]
    # The switch came at the first keyframe the server asked for, not the next
    # natural one: fewer thumbnail frames after the choice than a GOP.
    late = [f for f in decoded.frames if f.arrival > asked and f.width == 160]
    assert len(late) < GOP // 2
    # One continuous stream for the subscriber's decoder.
    assert decoded.sequence_gaps == 0
    pictures = [f.picture_id or 0 for f in decoded.frames]
    assert all(f.picture_id is not None for f in decoded.frames)
    assert all((b - a) & 0x7FFF == 1 for a, b in itertools.pairwise(pictures))
    tl0 = [f.tl0picidx or 0 for f in decoded.frames]
    assert all((b - a) & 0xFF == 1 for a, b in itertools.pairwise(tl0))
    stamps = [f.timestamp for f in decoded.frames]
    assert all(0 < (b - a) & 0xFFFFFFFF < 0x80000000 for a, b in itertools.pairwise(stamps))
    for switch in (i for i in range(1, len(widths)) if widths[i] != widths[i - 1]):
        assert decoded.frames[switch].keyframe
