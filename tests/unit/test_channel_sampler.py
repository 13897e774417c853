"""The technicians' figures of a channel: one stream across handovers."""

from __future__ import annotations

import time
from typing import Any

from conference.monitor import ChannelSampler, ChannelSource
from media.producer import Producer
from media.rtp import HEADER

PAYLOAD = b"\xfc" + bytes(99)  # 100 bytes of Opus payload


def microphone(owner: str) -> Producer:
    receiver: Any = object()
    return Producer(f"p-{owner}", owner, "audio", receiver)


def speak(producer: Producer, count: int, ssrc: int) -> None:
    start = producer.max_seq + 1 if producer.max_seq >= 0 else 0
    for k in range(start, start + count):
        producer.on_rtp(HEADER.pack(0x80, 111, k, k * 960, ssrc) + PAYLOAD, False)


def test_a_channel_counts_what_its_interpreters_on_air_forward() -> None:
    sampler = ChannelSampler()
    en1, en2 = microphone("en1"), microphone("en2")
    everyone = [en1, en2]

    # The producers date packets by time.monotonic(): sample on the same clock.
    base = time.monotonic()
    [idle] = sampler.sample([ChannelSource("en", None, None, 3)], everyone, now=base)
    assert (idle.id, idle.interpreter_id, idle.packets) == ("channel:en", None, 0)
    assert idle.listeners == 3
    assert idle.silent and idle.silent_for is None

    speak(en1, 50, 1)
    speak(en2, 50, 2)  # passive: not the channel's
    [first] = sampler.sample([ChannelSource("en", "en1", en1, 3)], everyone, now=base + 1.0)
    assert (first.packets, first.bytes, first.bitrate_kbps) == (50, 5000, 40.0)
    assert not first.silent and first.producer_id == "p-en1"

    # Handover: from now on the channel's figures are en2's, added to en1's.
    speak(en2, 50, 2)
    [second] = sampler.sample([ChannelSource("en", "en2", en2, 4)], everyone, now=base + 2.0)
    assert (second.interpreter_id, second.packets, second.bitrate_kbps) == ("en2", 100, 40.0)
    assert second.listeners == 4

    # Muted by the chair: nothing forwarded, the channel falls silent.
    en2.pause()
    speak(en2, 50, 2)
    [muted] = sampler.sample([ChannelSource("en", "en2", en2, 4)], everyone, now=base + 3.0)
    assert muted.packets == 100 and muted.bitrate_kbps == 0.0
    assert muted.silent and muted.silent_for is not None and muted.silent_for > 2.0

    # Closed, then opened again: it starts from zero.
    assert sampler.sample([], everyone, now=base + 4.0) == []
    [reopened] = sampler.sample([ChannelSource("en", None, None, 0)], everyone, now=base + 5.0)
    assert reopened.packets == 0 and reopened.silent
