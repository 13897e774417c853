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
from pathlib import Path

import av
import pytest
from aiortc import RTCRtpSender

from client import ClientError, PalabraClient, RemoteStream
from client.clip import Clip, encode_video
from client.simulcast import SentLayer
from media.transport import IdleTrack
from rooms import Settings
from signaling import MonitorStats, PublishAnswer, PublishOffer

from .conftest import ClientFactory, RunningServer, download_recordings
from .media_tracks import ToneTrack
from .vp8_stream import decode

pytestmark = pytest.mark.usefixtures("forwarding_path")

FPS = 15
GOP = 45  # a natural keyframe every 3 s: a prompt switch needs the server's request
SIZES = (("q", 160, 90), ("h", 320, 180), ("f", 640, 360))


@pytest.fixture
def settings() -> Settings:
    return Settings(lobby_enabled=False)  # the floor is given, not open


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
    stream: RemoteStream, width: int, count: int, after: float = 0.0, timeout: float = 15.0
) -> float:
    """Wait for ``count`` frames ``width`` wide arriving after ``after``; the first's arrival."""
    deadline = time.monotonic() + timeout
    while True:
        assert stream.payloads is not None
        decoded = decode(list(stream.payloads))
        matching = [f for f in decoded.frames if f.width == width and f.arrival > after]
        if len(matching) >= count:
            return matching[0].arrival
        recent = [f.width for f in decoded.frames][-5:]
        assert time.monotonic() < deadline, f"no {width}-wide frames: {recent}"
        await asyncio.sleep(0.2)


async def test_each_subscriber_gets_one_layer_and_switches_at_a_keyframe_seamlessly(
    server: RunningServer,
    connect: ClientFactory,
    layers: list[tuple[str, Clip]],
) -> None:
    chair = await connect(name="Presidencia", delegation=None, role="chair")
    publisher = await connect(name="Canciller", delegation="gt")
    sender = await publisher.publish_simulcast(layers)
    owner = publisher.welcome.you.id  # type: ignore[union-attr]
    subscriber = await connect(name="Asesor", delegation="sv", decode=False)
    stream = await video_of(subscriber, owner)

    conference = server.palabra.conferences["demo"]
    [producer] = [p for p in conference.router.producers.values() if p.kind == "video"]
    assert [layer.rid for layer in producer.layers] == ["q", "h", "f"]
    consumer = conference.router.peers[subscriber.welcome.you.id].consumers[producer.id]  # type: ignore[union-attr]

    # An ordinary delegation without the floor: the thumbnail.
    await frames_of_width(stream, 160, 10)
    assert consumer.layer == consumer.target_layer == 0
    await subscriber.wait_for(lambda: all(layer.active for layer in producer.layers))

    asked = time.monotonic()
    requests = sender.layers[2].keyframe_requests
    request_id = await grant(chair, publisher, "gt")  # the floor holder: the high layer
    await subscriber.wait_for(lambda: consumer.target_layer == 2)
    switched = await frames_of_width(stream, 640, 10, after=asked)
    assert consumer.layer == 2
    assert sender.layers[2].keyframe_requests > requests
    print(
        f"switch to the high layer: first frame {1000 * (switched - asked):.0f} ms after the choice"
    )

    await subscriber.pin(owner)  # no change while it holds the floor
    assert consumer.target_layer == 2
    asked_down = time.monotonic()
    await chair.command("floor.revoke", request_id=request_id)  # pinned: the middle layer
    down = await frames_of_width(stream, 320, 10, after=asked_down)
    print(f"switch to the middle layer: {1000 * (down - asked_down):.0f} ms")

    decoded = decode(list(stream.payloads or []))
    assert decoded.skipped == 0  # kept from the start: a keyframe first
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


def continuous(stream: RemoteStream) -> list[int]:
    """The widths of the frames decoded; fails on any break in the stream."""
    decoded = decode(list(stream.payloads or []))
    assert decoded.sequence_gaps == 0
    pictures = [f.picture_id or 0 for f in decoded.frames]
    assert all((b - a) & 0x7FFF == 1 for a, b in itertools.pairwise(pictures))
    return [f.width for f in decoded.frames]


async def grant(chair: PalabraClient, speaker: PalabraClient, delegation: str) -> str:
    update = await speaker.command("floor.request", delegation_id=delegation)
    [request] = [e for e in update.events if e["type"] == "floor.requested"]
    request_id = str(request["request_id"])
    await chair.command("floor.grant", request_id=request_id, unlimited=True)
    return request_id


async def test_the_floor_holder_is_seen_in_the_high_layer_and_the_others_as_thumbnails(
    server: RunningServer, connect: ClientFactory, layers: list[tuple[str, Clip]]
) -> None:
    chair = await connect(name="Presidencia", delegation=None, role="chair")
    guatemala = await connect(name="Canciller de Guatemala", delegation="gt")
    costa_rica = await connect(name="Canciller de Costa Rica", delegation="cr")
    await guatemala.publish_simulcast(layers)
    await costa_rica.publish_simulcast(layers)
    listener = await connect(name="Canciller de El Salvador", delegation="sv", decode=False)
    gt, cr = (c.welcome.you.id for c in (guatemala, costa_rica))  # type: ignore[union-attr]
    gt_video, cr_video = await video_of(listener, gt), await video_of(listener, cr)
    await frames_of_width(gt_video, 160, 5)
    await frames_of_width(cr_video, 160, 5)

    granted = time.monotonic()
    request_id = await grant(chair, guatemala, "gt")
    first = await frames_of_width(gt_video, 640, 5, after=granted)
    print(f"floor granted: the holder's high layer {1000 * (first - granted):.0f} ms later")
    # The other delegation stays a thumbnail while the floor is held.
    cr_video.payloads = []
    await frames_of_width(cr_video, 160, 10)
    assert set(continuous(cr_video)) == {160}

    # The floor moves: the former holder goes back to a thumbnail, the new one up.
    await chair.command("floor.revoke", request_id=request_id)
    moved = time.monotonic()
    await grant(chair, costa_rica, "cr")
    up = await frames_of_width(cr_video, 640, 5, after=moved)
    down = await frames_of_width(gt_video, 160, 5, after=moved)
    print(
        f"floor moved: new holder high after {1000 * (up - moved):.0f} ms, "
        f"former holder thumbnail after {1000 * (down - moved):.0f} ms"
    )
    widths = continuous(gt_video)
    assert [w for i, w in enumerate(widths) if i == 0 or widths[i - 1] != w] == [160, 640, 160]
    widths = continuous(cr_video)
    assert [w for i, w in enumerate(widths) if i == 0 or widths[i - 1] != w] == [160, 640]
    # Within one keyframe interval: fewer frames of the old layer than a GOP.
    late = [f for f in decode(list(cr_video.payloads or [])).frames if f.arrival > moved]
    assert [f.width for f in late[: GOP // 2]].count(640) > 0


async def test_a_pinned_tile_comes_in_the_middle_layer(
    server: RunningServer, connect: ClientFactory, layers: list[tuple[str, Clip]]
) -> None:
    guatemala = await connect(name="Canciller de Guatemala", delegation="gt")
    await guatemala.publish_simulcast(layers)
    gt = guatemala.welcome.you.id  # type: ignore[union-attr]
    pinning = await connect(name="Canciller de El Salvador", delegation="sv", decode=False)
    other = await connect(name="Canciller de Costa Rica", delegation="cr", decode=False)
    pinned_video, other_video = await video_of(pinning, gt), await video_of(other, gt)
    await frames_of_width(pinned_video, 160, 5)

    reply = await pinning.pin(gt)
    assert reply.participant_id == gt
    await frames_of_width(pinned_video, 320, 5, after=time.monotonic())
    # Only for who pinned it.
    other_video.payloads = []
    await frames_of_width(other_video, 160, 10)
    assert set(continuous(other_video)) == {160}

    # The technicians see each subscriber's layer and target, and the publisher's layers.
    technician = await connect(name="Técnica", delegation=None, role="technician")
    sid = pinning.welcome.you.id  # type: ignore[union-attr]

    def stats() -> list[dict[str, object]]:
        feeds = [m for m in technician.messages if isinstance(m, MonitorStats)]
        return [dict(s) for s in feeds[-1].streams] if feeds else []

    def shown() -> bool:
        out = [s for s in stats() if s["subscriber_id"] == sid and s["kind"] == "video"]
        video_in = [s for s in stats() if s["direction"] == "in" and s["kind"] == "video"]
        return bool(out and out[0]["layer"] == out[0]["target_layer"] == 1 and video_in)

    await technician.wait_for(shown, timeout=10)
    [video_in] = [s for s in stats() if s["direction"] == "in" and s["kind"] == "video"]
    layers = video_in["layers"]
    assert isinstance(layers, list)
    assert [(x["spatial"], x["rid"]) for x in layers] == [(0, "q"), (1, "h"), (2, "f")]
    # The pinned layer and the thumbnails' arrive; the top one, which nobody
    # receives, may have been turned off by now (publish.layers).
    assert layers[0]["active"] and layers[1]["active"]

    # Refused pins change nothing.
    for target, code in (("nobody", "not_found"), (pinning.welcome.you.id, "invalid_argument")):  # type: ignore[union-attr]
        with pytest.raises(ClientError) as refused:
            await pinning.pin(target)
        assert refused.value.error.code == code
    await pinning.send_raw('{"type":"video.pin","id":"x","participant_id":["a","b"]}')
    await pinning.wait_for(lambda: any(getattr(m, "ref", None) == "x" for m in pinning.messages))
    conference = server.palabra.conferences["demo"]
    assert conference.media.pinned[pinning.welcome.you.id] == gt  # type: ignore[union-attr]

    unpinned = time.monotonic()
    assert (await pinning.pin(None)).participant_id is None
    await frames_of_width(pinned_video, 160, 5, after=unpinned)
    widths = continuous(pinned_video)
    assert [w for i, w in enumerate(widths) if i == 0 or widths[i - 1] != w] == [160, 320, 160]


def munged(sdp: str, mid: str, lines: list[str]) -> str:
    """The offer with ``lines`` at the end of section ``mid`` (its SSRC lines dropped)."""
    out, current = [], None
    for line in sdp.split("\r\n"):
        if line.startswith("m="):
            if current == mid:
                out.extend(lines)
            current = None
        if line.startswith("a=mid:"):
            current = line[6:]
        if line and not (current == mid and line.startswith("a=ssrc")):
            out.append(line)
    if current == mid:
        out.extend(lines)
    return "\r\n".join([*out, ""])


RID_LINES = [
    "a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
    "a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
]


@pytest.mark.parametrize(
    ("lines", "codec"),
    [
        # Four encodings: more than the server forwards.
        ([*RID_LINES, *(f"a=rid:{r} send" for r in "abcd"), "a=simulcast:send a;b;c;d"], "VP8"),
        # A rid no a=rid line declares.
        ([*RID_LINES, "a=rid:q send", "a=rid:h send", "a=simulcast:send q;h;x"], "VP8"),
        # No RID header extension: the layers could not be told apart.
        (["a=rid:q send", "a=rid:h send", "a=rid:f send", "a=simulcast:send q;h;f"], "VP8"),
        # H.264 only: refused, simulcast or not.
        ([*RID_LINES, "a=rid:q send", "a=rid:f send", "a=simulcast:send q;f"], "H264"),
    ],
)
async def test_simulcast_offers_the_server_cannot_layer_harm_nobody(
    server: RunningServer,
    connect: ClientFactory,
    layers: list[tuple[str, Clip]],
    lines: list[str],
    codec: str,
) -> None:
    witness = await connect(name="Canciller de Guatemala", delegation="gt")
    sender = await witness.publish_simulcast(layers)
    watcher = await connect(name="Canciller de El Salvador", delegation="sv", decode=False)
    video = await video_of(watcher, witness.welcome.you.id)  # type: ignore[union-attr]
    await frames_of_width(video, 160, 5)

    bad = await connect(name="Canciller de Costa Rica", delegation="cr")
    transceiver = bad.publisher.addTransceiver(IdleTrack("video"), direction="sendonly")
    wanted = [
        c
        for c in RTCRtpSender.getCapabilities("video").codecs
        if c.mimeType in (f"video/{codec}", "video/rtx")
    ]
    transceiver.setCodecPreferences(wanted)
    await bad.publisher.setLocalDescription(await bad.publisher.createOffer())
    offer = munged(bad.publisher.localDescription.sdp, transceiver.mid or "", lines)
    conference = server.palabra.conferences["demo"]
    if codec == "H264":
        with pytest.raises(ClientError) as refused:
            await bad.request(PublishOffer(sdp=offer, id=bad.next_id()))
        assert refused.value.error.code == "unsupported_codec"
    else:
        answer = await bad.request(PublishOffer(sdp=offer, id=bad.next_id()))
        assert isinstance(answer, PublishAnswer)
        # Answered as one layer: the browser sends its first encoding only.
        assert "a=simulcast" not in answer.sdp and "a=rid" not in answer.sdp
        bad_id = bad.welcome.you.id  # type: ignore[union-attr]
        await bad.wait_for(lambda: bool(conference.router.producers_of(bad_id)))
        [producer] = conference.router.producers_of(bad_id)
        assert producer.layers == []
        section = conference.router.peers[bad_id].simulcast[transceiver.mid or ""]
        assert section.degraded

    # Packets naming a rid the offer did not declare are dropped; the layers go on.
    stray = SentLayer("zz", layers[0][1])
    sender.layers.append(stray)
    await watcher.wait_for(lambda: stray.frames > 10)
    before = len(decode(list(video.payloads or [])).frames)
    await watcher.wait_for(lambda: len(decode(list(video.payloads or [])).frames) > before + 10)
    assert set(continuous(video)) == {160}
    [producer] = [p for p in conference.router.producers_of(witness.welcome.you.id)]  # type: ignore[union-attr]
    assert [x.rid for x in producer.layers] == ["q", "h", "f"]
    assert witness.close_code is None and bad.close_code is None and watcher.close_code is None


async def test_a_layer_the_publisher_stops_sending_is_replaced_by_the_next_one_down(
    server: RunningServer, connect: ClientFactory, layers: list[tuple[str, Clip]]
) -> None:
    chair = await connect(name="Presidencia", delegation=None, role="chair")
    guatemala = await connect(name="Canciller de Guatemala", delegation="gt")
    sender = await guatemala.publish_simulcast(layers)
    listener = await connect(name="Canciller de El Salvador", delegation="sv", decode=False)
    video = await video_of(listener, guatemala.welcome.you.id)  # type: ignore[union-attr]
    await frames_of_width(video, 160, 5)
    await grant(chair, guatemala, "gt")
    await frames_of_width(video, 640, 5)

    # A browser turns its high layer off (its bandwidth estimate fell): the
    # holder's video goes on in the middle layer, then back up when it returns.
    stopped = time.monotonic()
    sender.layers[2].paused = True
    down = await frames_of_width(video, 320, 5, after=stopped)
    print(f"high layer stopped: middle layer {1000 * (down - stopped):.0f} ms later")
    back = time.monotonic()
    sender.layers[2].paused = False
    await frames_of_width(video, 640, 5, after=back)
    widths = continuous(video)
    assert [w for i, w in enumerate(widths) if i == 0 or widths[i - 1] != w] == [
        160,
        640,
        320,
        640,
    ]


async def test_a_recreated_subscriber_connection_keeps_the_layers_chosen(
    server: RunningServer, connect: ClientFactory, layers: list[tuple[str, Clip]]
) -> None:
    chair = await connect(name="Presidencia", delegation=None, role="chair")
    guatemala = await connect(name="Canciller de Guatemala", delegation="gt")
    await guatemala.publish_simulcast(layers)
    listener = await connect(name="Canciller de El Salvador", delegation="sv", decode=False)
    gt = guatemala.welcome.you.id  # type: ignore[union-attr]
    video = await video_of(listener, gt)
    await grant(chair, guatemala, "gt")
    await frames_of_width(video, 640, 5)

    # The server re-creates the listener's connection (as after an ICE failure).
    conference = server.palabra.conferences["demo"]
    transport = conference.router.peers[listener.welcome.you.id]  # type: ignore[union-attr]
    restarts = listener.restarts["subscriber"]
    transport.restart_subscriber()
    await listener.wait_for(lambda: listener.restarts["subscriber"] > restarts)
    again = await video_of(listener, gt)
    # Straight back in the high layer: no thumbnail first.
    await frames_of_width(again, 640, 5)
    assert set(continuous(again)) == {640}


async def test_a_lost_keyframe_request_for_a_switch_is_asked_again(
    server: RunningServer, connect: ClientFactory, layers: list[tuple[str, Clip]]
) -> None:
    chair = await connect(name="Presidencia", delegation=None, role="chair")
    guatemala = await connect(name="Canciller de Guatemala", delegation="gt")
    sender = await guatemala.publish_simulcast(layers)
    listener = await connect(name="Canciller de El Salvador", delegation="sv", decode=False)
    video = await video_of(listener, guatemala.welcome.you.id)  # type: ignore[union-attr]
    await frames_of_width(video, 160, 5)

    high = sender.layers[2]
    # Just past a natural keyframe: the next one is a GOP away.
    later = sorted(k for k in high.clip.keyframes if k >= high.position)
    high.position = (later[0] if later else min(high.clip.keyframes)) + 1
    # The request and the one coalesced after it are lost on the way.
    high.lose_requests = 2
    requests = high.keyframe_requests
    granted = time.monotonic()
    await grant(chair, guatemala, "gt")
    switched = await frames_of_width(video, 640, 3, after=granted)
    print(f"requests lost: high layer {1000 * (switched - granted):.0f} ms after the grant")
    assert high.keyframe_requests >= requests + 3  # asked again
    thumbnails = [
        f for f in decode(list(video.payloads or [])).frames if granted < f.arrival < switched
    ]
    assert len(thumbnails) < GOP - 1  # before the natural keyframe


async def test_a_recorded_intervention_keeps_the_high_layer(
    server: RunningServer,
    connect: ClientFactory,
    layers: list[tuple[str, Clip]],
    tmp_path: Path,
) -> None:
    chair = await connect(name="Presidencia", delegation=None, role="chair")
    guatemala = await connect(name="Canciller de Guatemala", delegation="gt")
    await guatemala.publish_simulcast(layers, audio=ToneTrack())
    await chair.wait_for(lambda: len(chair.producers) == 2)
    conference = server.palabra.conferences["demo"]
    [producer] = [p for p in conference.router.producers.values() if p.kind == "video"]
    # Every layer arrives (a recording that starts earlier starts in the first one to).
    await chair.wait_for(lambda: all(layer.active for layer in producer.layers))
    await chair.command("recording.start")
    request_id = await grant(chair, guatemala, "gt")
    await asyncio.sleep(2.0)
    await guatemala.command("floor.release", request_id=request_id)
    await chair.command("recording.stop")

    [entry] = await download_recordings(server, tmp_path)
    path = tmp_path / str(entry["name"])
    with av.open(str(path)) as container:
        video = list(container.decode(video=0))
    assert len(video) > 10
    assert {(f.width, f.height) for f in video} == {(640, 360)}


async def test_a_recording_follows_the_highest_layer_arriving(
    server: RunningServer,
    connect: ClientFactory,
    layers: list[tuple[str, Clip]],
    tmp_path: Path,
) -> None:
    chair = await connect(name="Presidencia", delegation=None, role="chair")
    guatemala = await connect(name="Canciller de Guatemala", delegation="gt")
    sender = await guatemala.publish_simulcast(layers, audio=ToneTrack())
    await chair.wait_for(lambda: len(chair.producers) == 2)
    conference = server.palabra.conferences["demo"]
    [producer] = [p for p in conference.router.producers.values() if p.kind == "video"]
    await chair.wait_for(lambda: all(layer.active for layer in producer.layers))
    await chair.command("recording.start")
    request_id = await grant(chair, guatemala, "gt")
    [follower] = conference.recorder.followers(request_id)
    recording = follower.recording

    async def recorded(layer: int, frames: int) -> float:
        """Wait until the file follows ``layer`` and holds ``frames`` more frames of it;
        the time it took to follow it."""
        asked = time.monotonic()
        await chair.wait_for(lambda: follower.current == layer, timeout=15.0)
        took = time.monotonic() - asked
        start = recording.video_frames
        await chair.wait_for(lambda: recording.video_frames >= start + frames, timeout=15.0)
        return took

    await recorded(2, 10)
    # The publisher's uplink weakens: its browser stops sending the top layer.
    sender.layers[2].paused = True
    down = await recorded(1, 10)
    requests = sender.layers[2].keyframe_requests
    sender.layers[2].paused = False  # and resumes it
    up = await recorded(2, 10)
    print(f"recording: middle layer {1000 * down:.0f} ms, high layer {1000 * up:.0f} ms later")
    assert sender.layers[2].keyframe_requests > requests  # the switch up was asked for
    await guatemala.command("floor.release", request_id=request_id)
    await chair.command("recording.stop")

    [entry] = await download_recordings(server, tmp_path)
    path = tmp_path / str(entry["name"])
    with av.open(str(path)) as container:
        packets = [p for p in container.demux(video=0) if p.size]
    # Every frame decodes, from the first to the last (a frame that referenced
    # another layer's picture would raise here).
    with av.open(str(path)) as container:
        video = list(container.decode(video=0))
    assert len(video) == len(packets) == entry["video_frames"]
    widths = [f.width for f in video]
    assert [w for i, w in enumerate(widths) if i == 0 or widths[i - 1] != w] == [640, 320, 640]
    for switch in (i for i in range(1, len(widths)) if widths[i] != widths[i - 1]):
        assert video[switch].key_frame
    # One track whose time runs on across the switches.
    times = [f.pts for f in video]
    assert all(b > a for a, b in itertools.pairwise(times))
