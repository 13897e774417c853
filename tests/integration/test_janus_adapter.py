"""The benchmark's Janus adapter (bench/janus.py) against Debian's real janus.

A publisher and a receive-only participant in a VideoRoom started as
``palabra bench forwarding --against janus`` starts it: the receiver gets
both of the publisher's streams, counted at its socket, in full.
"""

from __future__ import annotations

import asyncio
import os
import socket

import pytest

from bench.janus import LINK, JanusRoom, janus_binary, run_janus
from client.clip import LoopTrack, encode_audio, encode_video

pytestmark = [
    pytest.mark.skipif(janus_binary() is None, reason="Debian's janus is not installed"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the ifb link needs root (in the namespace)"),
]


async def test_a_receiver_gets_a_publishers_streams_through_janus() -> None:
    video, audio = encode_video(seconds=1.0), encode_audio(seconds=0.5)
    with run_janus(None) as janus:
        room = JanusRoom(janus.url)
        try:
            await room.create(publishers=4)
            publisher = await room.connect(0, "head")
            await publisher.publish(video=LoopTrack(video), audio=LoopTrack(audio))
            receiver = await room.connect(1, "delegate")
            await receiver.wait_for_streams(2, timeout=20)
            # A second of the clip keeps flowing (waited for, not timed).
            await receiver.wait_for_streams(2, timeout=20, frames=31)
            streams = sorted(receiver.streams.values(), key=lambda s: s.kind)
            await asyncio.gather(receiver.leave(), publisher.leave())
        finally:
            await room.close()
    # The link Janus gathered on is gone with it: the namespace is as it was.
    assert LINK not in (name for _, name in socket.if_nameindex())
    assert [s.kind for s in streams] == ["audio", "video"]
    assert len({s.participant_id for s in streams}) == 1  # both of the one publisher's feed
    assert publisher.streams == {}  # nobody else published: it receives nothing
    for stream in streams:
        assert stream.frames >= 31 and stream.packets >= stream.frames, stream
        assert stream.lost == 0, stream
