"""Recording the channels: which packets reach a channel's file, and when it ends.

Real producers fed synthetic Opus RTP (no network): the recorder taps the one
on air, follows handovers, stops with the channel, and lists what it wrote.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import av
import pytest

from client.clip import encode_audio
from conference.recording import ChannelRecorder, RecordingIndex
from media.producer import Producer
from media.rtp import HEADER

OPUS = encode_audio(seconds=1.0).packets


def microphone(owner: str) -> Producer:
    receiver: Any = object()
    return Producer(f"p-{owner}", owner, "audio", receiver)


def speak(producer: Producer, packets: range, ssrc: int) -> None:
    for k in packets:
        data = HEADER.pack(0x80, 111, k & 0xFFFF, (ssrc * 7919 + k * 960) & 0xFFFFFFFF, ssrc)
        producer.on_rtp(data + OPUS[k % len(OPUS)], False)


@pytest.fixture
def recorder(tmp_path: Path) -> ChannelRecorder:
    return ChannelRecorder(RecordingIndex(tmp_path))


async def test_a_channel_follows_its_interpreters_and_ends_with_the_channel(
    recorder: ChannelRecorder, tmp_path: Path
) -> None:
    en1, en2, pt1 = microphone("en1"), microphone("en2"), microphone("pt1")
    recorder.follow({"en": (en1, "EN 1"), "pt": (None, None)})
    speak(en1, range(10), 1)
    speak(en2, range(5), 2)  # passive: not on the channel
    recorder.follow({"en": (en2, "EN 2"), "pt": (pt1, "PT 1")})  # handover; pt on air
    speak(en1, range(10, 15), 1)  # passive now
    speak(en2, range(5, 25), 2)
    en2.pause()  # muted by the chair: not forwarded, not recorded
    speak(en2, range(25, 30), 2)
    en2.resume()
    recorder.follow({"en": (en2, "EN 2")})  # the pt channel closes: its file ends
    assert recorder.recording == frozenset({"en"})
    assert en1.sinks == [] and pt1.sinks == []
    recorder.stop_all()
    assert en2.sinks == []

    entries = json.loads((tmp_path / "index.json").read_text())
    assert [(e["kind"], e["channel"]) for e in entries] == [("channel", "en")]  # pt: silent
    [entry] = entries
    assert entry["interpreters"] == ["EN 1", "EN 2"]
    assert [s["interpreter"] for s in entry["shifts"]] == ["EN 1", "EN 2"]
    assert entry["audio_frames"] == 10 + 20
    with av.open(str(tmp_path / entry["name"])) as container:
        sizes = [p.size for p in container.demux(audio=0) if p.pts is not None]
    assert sizes == [len(OPUS[k % len(OPUS)]) for k in [*range(10), *range(5, 25)]]


async def test_nothing_is_recorded_unless_followed(recorder: ChannelRecorder) -> None:
    en1 = microphone("en1")
    recorder.follow({})
    speak(en1, range(5), 1)
    assert en1.sinks == [] and recorder.recording == frozenset()
    assert recorder.stop("en") is None
