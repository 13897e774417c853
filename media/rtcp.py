"""Lean RTCP: parse the feedback an SFU acts on, build the reports it sends (pure).

aiortc's RTCP objects and per-sender tasks cost a third of the forwarding
server's time in measurements here; this module reads only SR, RR, NACK,
PLI, FIR and REMB, ignores the rest, and writes compound packets in one go.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from typing import NamedTuple

SR, RR, SDES, BYE, RTPFB, PSFB = 200, 201, 202, 203, 205, 206
FMT_NACK = 1
FMT_PLI, FMT_FIR, FMT_APP = 1, 4, 15

_HEADER = struct.Struct("!BBH")
_SENDER_INFO = struct.Struct("!IQIII")  # SSRC, NTP, RTP timestamp, packets, octets
_BLOCK = struct.Struct("!IB3sIIII")  # SSRC, fraction, cumulative (24), highest, jitter, LSR, DLSR
_II = struct.Struct("!II")
_HH = struct.Struct("!HH")


class ReportBlock(NamedTuple):
    ssrc: int  # the media source reported on
    fraction_lost: int  # /256, since the previous report
    cumulative_lost: int
    highest_sequence: int  # extended
    jitter: int  # clock units
    lsr: int  # middle 32 bits of the last SR's NTP time, 0 if none
    dlsr: int  # 1/65536 s since that SR


class SenderReport(NamedTuple):
    ssrc: int
    ntp: int
    rtp_timestamp: int
    packets: int
    octets: int
    blocks: tuple[ReportBlock, ...]


class ReceiverReport(NamedTuple):
    ssrc: int
    blocks: tuple[ReportBlock, ...]


class Nack(NamedTuple):
    media_ssrc: int
    sequences: tuple[int, ...]


class KeyframeRequest(NamedTuple):
    media_ssrcs: tuple[int, ...]  # PLI: the one media source; FIR: one per entry


class Remb(NamedTuple):
    bitrate: int  # bits per second
    ssrcs: tuple[int, ...]


Feedback = SenderReport | ReceiverReport | Nack | KeyframeRequest | Remb


def parse(data: bytes) -> list[Feedback]:
    """The packets of a compound RTCP datagram that an SFU acts on.

    Malformed packets end the parse: what came before them is returned.
    """
    out: list[Feedback] = []
    pos, size = 0, len(data)
    while pos + 4 <= size:
        first, ptype, words = _HEADER.unpack_from(data, pos)
        end = pos + 4 + 4 * words
        if first >> 6 != 2 or end > size:
            break
        count = first & 0x1F
        body = pos + 4
        if ptype == SR and end - body >= 24:
            ssrc, ntp, rtp_ts, packets, octets = _SENDER_INFO.unpack_from(data, body)
            blocks = _blocks(data, body + 24, end, count)
            out.append(SenderReport(ssrc, ntp, rtp_ts, packets, octets, blocks))
        elif ptype == RR and end - body >= 4:
            (ssrc,) = struct.unpack_from("!I", data, body)
            out.append(ReceiverReport(ssrc, _blocks(data, body + 4, end, count)))
        elif ptype == RTPFB and count == FMT_NACK and end - body >= 8:
            _, media = _II.unpack_from(data, body)
            sequences: list[int] = []
            for fci in range(body + 8, end - 3, 4):
                pid, blp = _HH.unpack_from(data, fci)
                sequences.append(pid)
                for bit in range(16):
                    if blp & (1 << bit):
                        sequences.append((pid + bit + 1) & 0xFFFF)
            out.append(Nack(media, tuple(sequences)))
        elif ptype == PSFB and end - body >= 8:
            _, media = _II.unpack_from(data, body)
            if count == FMT_PLI:
                out.append(KeyframeRequest((media,)))
            elif count == FMT_FIR:
                fir = tuple(
                    struct.unpack_from("!I", data, fci)[0] for fci in range(body + 8, end - 7, 8)
                )
                out.append(KeyframeRequest(fir))
            elif count == FMT_APP and end - body >= 16 and data[body + 8 : body + 12] == b"REMB":
                n, exp_mantissa, low = struct.unpack_from("!BBH", data, body + 12)
                bitrate = (((exp_mantissa & 0x03) << 16) | low) << (exp_mantissa >> 2)
                ssrcs = tuple(
                    struct.unpack_from("!I", data, body + 16 + 4 * i)[0]
                    for i in range(n)
                    if body + 20 + 4 * i <= end
                )
                out.append(Remb(bitrate, ssrcs))
        pos = end
    return out


def _blocks(data: bytes, pos: int, end: int, count: int) -> tuple[ReportBlock, ...]:
    blocks = []
    for _ in range(count):
        if pos + 24 > end:
            break
        ssrc, fraction, lost, highest, jitter, lsr, dlsr = _BLOCK.unpack_from(data, pos)
        cumulative = int.from_bytes(lost, "big", signed=True)
        blocks.append(ReportBlock(ssrc, fraction, cumulative, highest, jitter, lsr, dlsr))
        pos += 24
    return tuple(blocks)


# --- building -------------------------------------------------------------------


def _header(count: int, ptype: int, body_length: int) -> bytes:
    return _HEADER.pack(0x80 | count, ptype, body_length // 4)


def _pack_blocks(blocks: Sequence[ReportBlock]) -> bytes:
    return b"".join(
        _BLOCK.pack(
            b.ssrc,
            b.fraction_lost,
            max(-0x800000, min(0x7FFFFF, b.cumulative_lost)).to_bytes(3, "big", signed=True),
            b.highest_sequence & 0xFFFFFFFF,
            b.jitter & 0xFFFFFFFF,
            b.lsr,
            b.dlsr,
        )
        for b in blocks
    )


def sender_report(ssrc: int, ntp: int, rtp_timestamp: int, packets: int, octets: int) -> bytes:
    body = _SENDER_INFO.pack(
        ssrc, ntp, rtp_timestamp & 0xFFFFFFFF, packets & 0xFFFFFFFF, octets & 0xFFFFFFFF
    )
    return _header(0, SR, len(body)) + body


def receiver_report(ssrc: int, blocks: Sequence[ReportBlock]) -> bytes:
    body = struct.pack("!I", ssrc) + _pack_blocks(blocks[:31])
    return _header(min(len(blocks), 31), RR, len(body)) + body


def sdes_cname(ssrc: int, cname: str) -> bytes:
    value = cname.encode()[:255]
    chunk = struct.pack("!IBB", ssrc, 1, len(value)) + value + b"\x00"
    chunk += b"\x00" * (-len(chunk) % 4)
    return _header(1, SDES, len(chunk)) + chunk


def pli(sender_ssrc: int, media_ssrc: int) -> bytes:
    return _header(FMT_PLI, PSFB, 8) + _II.pack(sender_ssrc, media_ssrc)


def nack(sender_ssrc: int, media_ssrc: int, sequences: Iterable[int]) -> bytes:
    """A generic NACK, lost sequence numbers packed into (PID, BLP) pairs."""
    fci = b""
    unique = list(dict.fromkeys(s & 0xFFFF for s in sequences))
    if not unique:
        return b""
    # Order across the wrap: by signed distance from any one of them.
    first = unique[0]
    ordered = sorted(unique, key=lambda s: (s - first + 0x8000) & 0xFFFF)
    i = 0
    while i < len(ordered):
        pid, blp = ordered[i], 0
        i += 1
        while i < len(ordered):
            distance = (ordered[i] - pid) & 0xFFFF
            if not 1 <= distance <= 16:
                break
            blp |= 1 << (distance - 1)
            i += 1
        fci += _HH.pack(pid, blp)
    body = _II.pack(sender_ssrc, media_ssrc) + fci
    return _header(FMT_NACK, RTPFB, len(body)) + body


def remb(sender_ssrc: int, bitrate: int, ssrcs: Sequence[int]) -> bytes:
    exponent, mantissa = 0, max(0, int(bitrate))
    while mantissa > 0x3FFFF:
        mantissa >>= 1
        exponent += 1
    body = (
        _II.pack(sender_ssrc, 0)
        + b"REMB"
        + struct.pack("!BBH", len(ssrcs), (exponent << 2) | (mantissa >> 16), mantissa & 0xFFFF)
        + b"".join(struct.pack("!I", s) for s in ssrcs)
    )
    return _header(FMT_APP, PSFB, len(body)) + body
