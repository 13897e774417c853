"""VP8 temporal layers: a thumbnail at half the frame rate, with no gap and no keyframe.

The publisher is the synthetic simulcast sender marking its frames with
Chromium's three temporal layers (TID 0, 2, 1, 2); its clips are not
encoded with that structure, so the subscriber counts what it receives
(packets, frames, sequence numbers, picture ids) rather than decoding it.
"""

from __future__ import annotations

import asyncio
import itertools

import pytest

from client import RemoteStream
from client.clip import Clip, encode_video
from media.temporal import ALL
from media.vp8 import descriptor_fields, picture_id, rewrite, starts_frame, temporal, tl0picidx
from rooms import Settings

from .conftest import ClientFactory, RunningServer
from .test_simulcast import grant, video_of

pytestmark = pytest.mark.usefixtures("forwarding_path")

FPS = 20
SIZES = (("q", 160, 90), ("h", 320, 180), ("f", 640, 360))


@pytest.fixture
def settings() -> Settings:
    return Settings(lobby_enabled=False)


@pytest.fixture(scope="module")
def layers() -> list[tuple[str, Clip]]:
    return [
        (rid, encode_video(width, height, fps=FPS, seconds=4.0, bitrate=60_000 * (2**i), gop=40))
        for i, (rid, width, height) in enumerate(SIZES)
    ]


Frame = tuple[int, int, int]  # TID, picture id, TL0PICIDX of a frame's first packet


def frames_in(stream: RemoteStream) -> tuple[list[Frame], list[int]]:
    """The frames started and the sequence numbers received, in order of arrival."""
    frames, seqs = [], []
    for _, seq, _, _, payload in list(stream.payloads or []):
        seqs.append(seq)
        if starts_frame(payload):
            fields = descriptor_fields(payload)
            picture, tl0 = picture_id(payload, fields), tl0picidx(payload, fields)
            assert picture is not None and tl0 is not None
            frames.append((temporal(payload)[0], picture, tl0))
    return frames, seqs


def assert_continuous(frames: list[Frame], seqs: list[int]) -> None:
    assert all((b - a) & 0xFFFF == 1 for a, b in itertools.pairwise(seqs))
    pictures = [p for _, p, _ in frames]
    assert all((b - a) & 0x7FFF == 1 for a, b in itertools.pairwise(pictures))


async def test_a_thumbnail_comes_at_half_the_frame_rate_and_the_floor_at_all_of_it(
    server: RunningServer, connect: ClientFactory, layers: list[tuple[str, Clip]]
) -> None:
    chair = await connect(name="Presidencia", delegation=None, role="chair")
    publisher = await connect(name="Canciller", delegation="gt")
    sender = await publisher.publish_simulcast(layers, temporal_layers=3)
    owner = publisher.welcome.you.id  # type: ignore[union-attr]
    subscriber = await connect(name="Asesor", delegation="sv", decode=False)
    stream = await video_of(subscriber, owner)
    conference = server.palabra.conferences["demo"]
    [producer] = [p for p in conference.router.producers.values() if p.kind == "video"]
    peer = conference.router.peers[subscriber.welcome.you.id]  # type: ignore[union-attr]
    consumer = peer.consumers[producer.id]

    # A thumbnail: once the server has seen the three temporal layers, TID <= 1.
    await subscriber.wait_for(lambda: consumer.started and consumer.temporal == 1)
    assert consumer.layer == 0 and consumer.target_temporal == 1
    stream.payloads = []
    sent_before = sender.layers[0].frames
    nacks_before = consumer.counters.nacks_received
    counted_before = consumer.counters.frames
    await subscriber.wait_for(lambda: len(frames_in(stream)[0]) >= 40, timeout=20)
    frames, seqs = frames_in(stream)
    sent = sender.layers[0].frames - sent_before
    assert {tid for tid, _, _ in frames} == {0, 1}
    assert_continuous(frames, seqs)
    # TL0PICIDX goes up by one at each TID 0 frame, as sent.
    base = [t for tid, _, t in frames if tid == 0]
    assert all((b - a) & 0xFF == 1 for a, b in itertools.pairwise(base))
    # Half the frames the publisher sent meanwhile (counted, not timed).
    assert 0.4 < len(frames) / sent < 0.6, (len(frames), sent)
    # The consumer's counters (monitor.stats) count what it was sent, not all.
    assert abs((consumer.counters.frames - counted_before) - len(frames)) <= 3
    # Nothing looked lost to the subscriber: no retransmission asked for.
    assert consumer.counters.nacks_received == nacks_before
    print(f"thumbnail: {len(frames)} frames of {sent} sent")

    # Every frame for a while (asked directly), then the floor's policy again
    # (the allocation re-asks it every second): up at a TID 0 or sync frame,
    # down at a frame start, and the stream goes on with no gap.
    whole = list(stream.payloads or [])
    stream.payloads = whole
    # Asked again until it takes: the allocation may re-ask half before a TID 0 frame.
    for _ in range(100):
        if 2 in {t for t, _, _ in frames_in(stream)[0]}:
            break
        consumer.select_temporal(ALL)
        await asyncio.sleep(0.05)
    assert 2 in {t for t, _, _ in frames_in(stream)[0]}
    await subscriber.wait_for(lambda: consumer.temporal == 1, timeout=5)
    count = len(frames_in(stream)[0])
    await subscriber.wait_for(lambda: len(frames_in(stream)[0]) >= count + 8, timeout=10)
    frames, seqs = frames_in(stream)
    assert_continuous(frames, seqs)
    tids = [t for t, _, _ in frames]
    # One run of every frame (TID 2 included) between runs without TID 2.
    first, last = tids.index(2), len(tids) - 1 - tids[::-1].index(2)
    assert 2 not in tids[last + 1 :] and len(tids[last + 1 :]) >= 8
    assert 2 not in tids[:first] and tids[first - 1 : last + 1].count(2) >= 1

    # A NACK names the renumbered sequence number: each maps back to the very
    # packet sent under it (the cache holds the publisher's bytes).
    # (Those sent since the last change of target: earlier ones went under
    # another numbering and are not answered, as after a switch of layer.)
    first = consumer._first_sequence
    received = [p for p in stream.payloads or [] if (p[1] - first) & 0xFFFF < 0x8000][-30:]
    assert len(received) >= 8
    for _, seq, _, _, payload in received:
        entry, pictures = consumer._thinned_packet(seq)
        assert entry is not None, seq
        cached = entry[4]
        offset = (consumer._picture_offset - pictures) & 0x7FFF
        assert rewrite(cached, descriptor_fields(cached), offset, consumer._tl0_offset) == payload
    answered = consumer.counters.retransmitted
    consumer.on_nack(tuple(seq for _, seq, _, _, _ in received))
    assert consumer.counters.retransmitted == answered + len(received)

    # The floor: the high layer at every frame.
    await grant(chair, publisher, "gt")
    await subscriber.wait_for(lambda: consumer.layer == 2 and consumer.temporal == ALL)
    stream.payloads = []
    await subscriber.wait_for(lambda: len(frames_in(stream)[0]) >= 20, timeout=20)
    frames, seqs = frames_in(stream)
    assert {tid for tid, _, _ in frames} == {0, 1, 2}
    assert_continuous(frames, seqs)
