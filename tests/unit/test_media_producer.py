"""The producer's packet path without a network: loss, reordering, duplicates, RTX."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from media import rtcp
from media.aiortc_hooks import ReceiverInfo
from media.nack import NackTracker
from media.producer import Producer
from media.rtp import HEADER

VP8_DELTA = b"\x10\x01payload"  # start of partition 0, P bit set: not a keyframe
VP8_KEY = b"\x10\x00keyframe"


def rtp(seq: int, payload: bytes = VP8_DELTA, marker: bool = True, ts: int = 0) -> bytes:
    return HEADER.pack(0x80, 96 | (0x80 if marker else 0), seq, ts or seq * 3000, 1234) + payload


def rtx(osn: int, rtx_seq: int) -> bytes:
    return HEADER.pack(0x80, 97, rtx_seq, osn * 3000, 5678) + osn.to_bytes(2, "big") + VP8_DELTA


@pytest.fixture
def sent() -> list[bytes]:
    return []


@pytest.fixture
async def producer(sent: list[bytes]) -> Producer:
    def send_rtcp(data: bytes) -> bool:
        sent.append(data)
        return True

    receiver: Any = object()
    producer = Producer("p-1", "owner", "video", receiver, send_rtcp)
    producer._info = ReceiverInfo(90000, frozenset({96}), frozenset({97}), 42, None)
    return producer


def nacked(sent: list[bytes]) -> list[int]:
    return [
        seq
        for data in sent
        for p in rtcp.parse(data)
        if isinstance(p, rtcp.Nack)
        for seq in p.sequences
    ]


async def test_in_order_packets_are_counted_and_cached(producer: Producer) -> None:
    for seq in range(65533, 65536):
        producer.on_rtp(rtp(seq), False)
    producer.on_rtp(rtp(0), False)  # wraps
    counters = producer.counters
    assert (counters.packets, counters.frames, counters.duplicates) == (4, 4, 0)
    assert producer.forwarded[0] == 4
    assert producer.cached(0) is not None and producer.cached(65534) is not None
    block = producer.report_block()
    assert block is not None and block.cumulative_lost == 0
    assert block.highest_sequence == 0x10000  # one cycle


async def test_gap_is_nacked_and_filled_by_rtx(producer: Producer, sent: list[bytes]) -> None:
    producer.on_rtp(rtp(10), False)
    producer.on_rtp(rtp(14), False)
    assert nacked(sent) == [11, 12, 13]
    assert producer.counters.nacks_sent == 1
    producer.on_rtp(rtx(12, 500), True)
    producer.on_rtp(rtp(11), False)  # late, reordered
    assert producer.counters.retransmissions_received == 1
    assert producer.cached(12) is not None and producer.cached(11) is not None
    block = producer.report_block()
    assert block is not None and block.cumulative_lost == 1  # 13 still missing
    assert block.fraction_lost == (1 << 8) // 5
    producer.close()


async def test_duplicates_and_padding_are_dropped(producer: Producer) -> None:
    producer.on_rtp(rtp(1), False)
    producer.on_rtp(rtp(1), False)
    producer.on_rtp(rtx(1, 77), True)  # a retransmission of what we have
    producer.on_rtp(HEADER.pack(0x80, 97, 78, 0, 5678), True)  # RTX padding probe
    assert producer.counters.packets == 1
    assert producer.counters.duplicates == 2


async def test_keyframes_are_seen_and_requests_coalesced(
    producer: Producer, sent: list[bytes]
) -> None:
    producer.on_rtp(rtp(1, VP8_KEY), False)
    assert producer.counters.keyframes == 1
    producer.request_keyframe()
    producer.request_keyframe()  # within the interval: deferred, not sent twice
    plis = [p for data in sent for p in rtcp.parse(data) if isinstance(p, rtcp.KeyframeRequest)]
    assert plis == [rtcp.KeyframeRequest((1234,))]
    assert producer.counters.keyframe_requests_sent == 1
    producer.close()


async def test_sender_report_is_kept_for_lip_sync(producer: Producer) -> None:
    producer.on_rtp(rtp(1), False)
    producer.on_sender_report(rtcp.SenderReport(1234, 0x0102030405060708, 9000, 1, 100, ()))
    assert producer.sender_report is not None
    assert producer.sender_report[:2] == (0x0102030405060708, 9000)
    block = producer.report_block()
    assert block is not None and block.lsr == 0x03040506


async def test_csrcs_extensions_and_padding_are_skipped(producer: Producer) -> None:
    extension = b"\xbe\xde\x00\x01\x10\x30\x00\x00"  # one word: a 1-byte MID
    padding = b"\x00\x00\x03"
    header = HEADER.pack(0xB1, 96 | 0x80, 7, 21000, 1234) + b"\x00\x00\x00\x09"  # P, X, CC=1
    producer.on_rtp(header + extension + VP8_DELTA + padding, False)
    entry = producer.cached(7)
    assert entry is not None and entry[4] == VP8_DELTA
    assert producer.counters.bytes == len(VP8_DELTA)


async def test_a_stray_packet_far_from_the_numbering_is_dropped(
    producer: Producer, sent: list[bytes]
) -> None:
    for seq in range(100, 110):
        producer.on_rtp(rtp(seq), False)
    producer.on_rtp(rtp(30000), False)  # far ahead: not this stream's numbering
    producer.on_rtp(rtx(60000, 501), True)  # a repair of nothing we lost
    for seq in range(110, 115):
        producer.on_rtp(rtp(seq), False)
    counters = producer.counters
    assert (counters.strays, counters.renumbered) == (2, 0)
    assert producer.forwarded[0] == 15 and counters.packets == 15
    assert producer.max_seq == 114
    assert nacked(sent) == []  # no gap was invented
    block = producer.report_block()
    assert block is not None and block.cumulative_lost == 0


async def test_a_restarted_numbering_is_followed(producer: Producer, sent: list[bytes]) -> None:
    for seq in range(100, 110):
        producer.on_rtp(rtp(seq), False)
    for seq in range(40000, 40005):  # the publisher renumbered: two in a row confirm it
        producer.on_rtp(rtp(seq), False)
    counters = producer.counters
    assert (counters.strays, counters.renumbered) == (0, 1)
    assert producer.forwarded[0] == 15  # the first of the new numbering was held, then sent
    assert producer.max_seq == 40004
    assert nacked(sent) == []
    block = producer.report_block()
    assert block is not None and block.cumulative_lost == 0
    assert block.highest_sequence == 40004


async def test_a_packet_from_the_cache_horizon_is_still_a_repair(producer: Producer) -> None:
    producer.on_rtp(rtp(1000), False)
    producer.on_rtp(rtp(1400), False)  # a jump of 400: a loss, not a stray
    producer.on_rtp(rtx(1001, 502), True)
    assert producer.counters.strays == 0
    assert producer.forwarded[0] == 3


async def test_a_rebound_producer_starts_its_numbering_afresh(
    producer: Producer, sent: list[bytes]
) -> None:
    for seq in range(100, 110):
        producer.on_rtp(rtp(seq), False)
    # The publisher re-created its connection: a new SSRC and sequence space.
    again: list[bytes] = []

    def send_rtcp(data: bytes) -> bool:
        again.append(data)
        return True

    receiver: Any = object()
    producer.rebind(receiver, send_rtcp)
    producer._info = ReceiverInfo(90000, frozenset({96}), frozenset({97}), 43, None)
    assert producer.receiver is receiver and producer.media_ssrc is None
    fresh = [HEADER.pack(0x80, 0x80 | 96, seq, seq * 3000, 999) + VP8_DELTA for seq in (5, 6, 8)]
    for data in fresh:
        producer.on_rtp(data, False)
    # Not duplicates of the old numbers, and no loss counted across the switch.
    assert producer.counters.packets == 13 and producer.counters.duplicates == 0
    assert producer.media_ssrc == 999
    block = producer.report_block()
    assert block is not None and block.cumulative_lost == 1 and block.ssrc == 999
    # Feedback goes to the new connection only.
    assert nacked(again) == [7] and 7 not in nacked(sent)
    producer.close()


async def test_nacks_are_retried_after_the_round_trip_and_repairs_timed(
    producer: Producer, sent: list[bytes]
) -> None:
    producer.rtt = 0.02
    producer.on_rtp(rtp(100), False)
    producer.on_rtp(rtp(103), False)
    assert nacked(sent) == [101, 102]
    sent.clear()
    await asyncio.sleep(0.1)  # a few round trips: asked again
    assert 101 in nacked(sent) and 102 in nacked(sent)
    assert producer.nacks.retries >= 2
    producer.on_rtp(rtx(101, 600), True)
    assert producer.nacks.repairs == 1
    latency = producer.nacks.latency_percentiles()
    assert latency is not None and latency[0] > 0.02
    producer.close()


async def test_a_packet_never_repaired_is_given_up_for_a_keyframe(
    producer: Producer, sent: list[bytes]
) -> None:
    producer.nacks = NackTracker(max_tries=2, horizon=0.1)
    producer.rtt = 0.02
    producer.on_rtp(rtp(1, VP8_KEY), False)
    producer.on_rtp(rtp(3), False)
    async with asyncio.timeout(5):
        while producer.nacks.given_up == 0:
            await asyncio.sleep(0.01)
    assert nacked(sent) == [2, 2]  # the first NACK and one retry
    assert any(isinstance(p, rtcp.KeyframeRequest) for d in sent for p in rtcp.parse(d))
    assert producer.counters.keyframe_requests_sent == 1
    producer.close()
