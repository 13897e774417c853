"""Header rewriting helpers and lean RTCP, checked against aiortc's own parser."""

from __future__ import annotations

from aiortc.rtp import (
    RtcpPacket,
    RtcpPsfbPacket,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSdesPacket,
    RtcpSenderInfo,
    RtcpSrPacket,
    RtpPacket,
    pack_remb_fci,
    unpack_remb_fci,
)
from hypothesis import given
from hypothesis import strategies as st

from media import rtcp
from media.rtp import HEADER, extension_prefix, find_extension


def test_rewritten_header_parses_with_mid_and_abs_send_time() -> None:
    element = bytes((0x32, 0x12, 0x34, 0x56))  # abs-send-time, id 3
    prefix = extension_prefix("7", 4)
    data = HEADER.pack(0x90, 96 | 0x80, 65535, 123456, 0xCAFE) + prefix + element + b"payload"
    packet = RtpPacket.parse(data)
    assert (packet.payload_type, packet.marker, packet.sequence_number) == (96, 1, 65535)
    assert (packet.timestamp, packet.ssrc, packet.payload) == (123456, 0xCAFE, b"payload")
    assert find_extension(data, 1) == b"7"
    assert find_extension(data, 3) == b"\x12\x34\x56"


def test_parse_reads_what_aiortc_writes() -> None:
    report = RtcpRrPacket(ssrc=1)
    sr = RtcpSrPacket(
        ssrc=2,
        sender_info=RtcpSenderInfo(
            ntp_timestamp=0x1122334455667788, rtp_timestamp=90000, packet_count=0, octet_count=0
        ),
    )
    nack = RtcpRtpfbPacket(fmt=1, ssrc=3, media_ssrc=4)
    nack.lost = [10, 11, 13, 40]
    pli = RtcpPsfbPacket(fmt=1, ssrc=5, media_ssrc=6)
    remb = RtcpPsfbPacket(fmt=15, ssrc=7, media_ssrc=0, fci=pack_remb_fci(750_000, [8, 9]))
    data = b"".join(bytes(p) for p in (sr, report, nack, pli, remb))
    parsed = rtcp.parse(data)
    assert [type(p).__name__ for p in parsed] == [
        "SenderReport",
        "ReceiverReport",
        "Nack",
        "KeyframeRequest",
        "Remb",
    ]
    assert parsed[0] == rtcp.SenderReport(2, 0x1122334455667788, 90000, 0, 0, ())
    assert parsed[2] == rtcp.Nack(4, (10, 11, 13, 40))
    assert parsed[3] == rtcp.KeyframeRequest((6,))
    assert isinstance(parsed[4], rtcp.Remb)
    assert parsed[4].ssrcs == (8, 9)
    assert abs(parsed[4].bitrate - 750_000) <= 750_000 >> 17


def test_what_we_write_aiortc_reads() -> None:
    block = rtcp.ReportBlock(11, 25, 3, 70000, 40, 0xAABBCCDD, 65536)
    data = (
        rtcp.sender_report(1, 0x1122334455667788, 123, 10, 1000)
        + rtcp.receiver_report(2, [block])
        + rtcp.sdes_cname(1, "palabra")
        + rtcp.pli(2, 11)
        + rtcp.nack(2, 11, [65534, 65535, 0, 5, 30])
        + rtcp.remb(2, 1_500_000, [11])
    )
    sr, rr, sdes, pli, nack, remb = RtcpPacket.parse(data)
    assert isinstance(sr, RtcpSrPacket) and sr.sender_info.rtp_timestamp == 123
    assert isinstance(rr, RtcpRrPacket)
    assert (rr.reports[0].ssrc, rr.reports[0].fraction_lost) == (11, 25)
    assert (rr.reports[0].packets_lost, rr.reports[0].lsr) == (3, 0xAABBCCDD)
    assert isinstance(sdes, RtcpSdesPacket) and sdes.chunks[0].items == [(1, b"palabra")]
    assert isinstance(pli, RtcpPsfbPacket) and (pli.fmt, pli.media_ssrc) == (1, 11)
    assert isinstance(nack, RtcpRtpfbPacket)
    # aiortc does not wrap the bitmask entries past 65535.
    assert sorted(s & 0xFFFF for s in nack.lost) == [0, 5, 30, 65534, 65535]
    assert isinstance(remb, RtcpPsfbPacket)
    bitrate, ssrcs = unpack_remb_fci(remb.fci)
    assert ssrcs == [11] and abs(bitrate - 1_500_000) < 1_500_000 >> 16


@given(st.sets(st.integers(0, 300), min_size=1, max_size=60), st.integers(0, 65535))
def test_nack_round_trip(offsets: set[int], base: int) -> None:
    lost = {(base + o) & 0xFFFF for o in offsets}
    [parsed] = rtcp.parse(rtcp.nack(1, 2, lost))
    assert isinstance(parsed, rtcp.Nack)
    assert set(parsed.sequences) == lost


@given(st.binary(max_size=200))
def test_parse_never_raises(data: bytes) -> None:
    rtcp.parse(data)
