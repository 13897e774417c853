"""A recording of a simulcast camera follows the highest layer arriving.

Real producers (one per layer, as the SFU receives them) fed pre-encoded VP8
without a network; the file is decoded at the end. Keyframes come every
GOP frames of each layer's clip, so a switch waits for the next one.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path
from typing import Any

import av
import pytest

from client.clip import Clip, encode_video
from media import recorder as recorder_module
from media import rtcp
from media.aiortc_hooks import ReceiverInfo
from media.keyframes import MIN_INTERVAL
from media.producer import Producer
from media.recorder import LayerFollower, Recording
from media.rtp import HEADER

GOP = 10
SIZES = ((160, 90), (320, 180), (640, 360))


@pytest.fixture(scope="module")
def clips() -> list[Clip]:
    return [encode_video(w, h, fps=30, seconds=1.6, gop=GOP) for w, h in SIZES]  # 48 frames


class Publisher:
    """Sends each layer's clip frame by frame to a simulcast producer's layers."""

    def __init__(self, clips: list[Clip]) -> None:
        self.clips = clips
        self.sent: list[bytes] = []  # RTCP the producer sent the publisher

        def send_rtcp(data: bytes) -> bool:
            self.sent.append(data)
            return True

        receiver: Any = object()
        self.producer = Producer("p-1", "owner", "video", receiver, send_rtcp)
        self.producer.simulcast(["q", "h", "f"])
        for layer in self.producer.layer_streams:
            layer._info = ReceiverInfo(90000, frozenset({96}), frozenset({97}), 42, None)
        self.sequence = [100, 20000, 40000]
        self.frame = 3  # mid-GOP

    def send(self, frames: int, layers: tuple[int, ...] = (0, 1, 2)) -> None:
        for _ in range(frames):
            for spatial in layers:
                data = self.clips[spatial].packets[self.frame % len(self.clips[spatial].packets)]
                chunks = [data[i : i + 1000] for i in range(0, len(data), 1000)]
                for n, chunk in enumerate(chunks):
                    marker = 0x80 if n == len(chunks) - 1 else 0
                    header = HEADER.pack(
                        0x80,
                        96 | marker,
                        self.sequence[spatial],
                        (spatial * 1_000_000 + self.frame * 3000) & 0xFFFFFFFF,
                        1000 + spatial,
                    )
                    self.sequence[spatial] = (self.sequence[spatial] + 1) & 0xFFFF
                    descriptor = b"\x10" if n == 0 else b"\x00"
                    self.producer.layer_streams[spatial].on_rtp(header + descriptor + chunk, False)
            self.frame += 1

    def keyframe_requests(self) -> list[int]:
        """The layers asked for a keyframe, by the SSRC each one sends."""
        return [
            ssrc - 1000
            for data in self.sent
            for packet in rtcp.parse(data)
            if isinstance(packet, rtcp.KeyframeRequest)
            for ssrc in packet.media_ssrcs
        ]


def silence(publisher: Publisher, spatial: int) -> None:
    """As if the layer's last packet came long ago: it no longer counts as sent."""
    layer = publisher.producer.layer_streams[spatial]
    layer.counters.last_packet_at = time.monotonic() - 10


async def test_the_recording_moves_down_and_up_at_keyframes(
    clips: list[Clip], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recorder_module, "LAYER_CHECK", 0.0)  # look at every packet
    publisher = Publisher(clips)
    publisher.send(2)  # every layer arrives when the recording starts (frames 3, 4)
    path = tmp_path / "intervention.mkv"
    follower = LayerFollower(Recording(path, {}, audio=False), publisher.producer)
    follower.attach()

    publisher.send(3)
    assert follower.current is None and follower.target == 2
    assert publisher.keyframe_requests() == [2]  # asked of the top layer alone
    publisher.send(GOP)  # frame 10 is a keyframe
    assert follower.current == 2

    publisher.send(3, layers=(0, 1))  # the publisher drops its top layer
    silence(publisher, 2)
    publisher.send(1, layers=(0, 1))
    assert follower.current == 2 and follower.target == 1
    assert publisher.keyframe_requests()[-1] == 1
    publisher.send(GOP, layers=(0, 1))
    assert follower.current == 1

    publisher.send(3)  # the top layer returns
    assert follower.target == 2
    # Coalesced with the request at the start: deferred to the end of its interval.
    await asyncio.sleep(MIN_INTERVAL + 0.1)
    assert publisher.keyframe_requests()[-1] == 2
    publisher.send(GOP)
    assert follower.current == 2 and follower.switches == 3
    follower.detach()
    assert all(not layer.sinks for layer in publisher.producer.layer_streams)
    recorded = follower.recording.close()

    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == recorded.video_frames
    # The top layer from frame 10 to 17; nothing while it no longer arrives
    # and the middle one's keyframe (frame 30) has not come; the middle layer
    # up to the top layer's next keyframe (frame 40), included; the top layer.
    widths = [f.width for f in frames]
    assert widths == [640] * 8 + [320] * 11 + [640] * 5
    assert all(b.pts > a.pts for a, b in itertools.pairwise(frames))
