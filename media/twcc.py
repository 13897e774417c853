"""Transport-wide congestion control: the feedback a receiver sends (pure, no I/O).

With the transport-wide-cc header extension (draft-holmer-rmcat-transport-
wide-cc-extensions-01) a sender numbers every packet of a connection; the
receiver reports when each one arrived (RTCP RTPFB, FMT 15), and the sender's
own estimator (Chromium's send-side bandwidth estimation) turns the arrival
pattern into its outgoing bitrate. The SFU is that receiver on a publisher's
connection: :class:`ArrivalRecorder` collects the arrivals and builds the
feedback packets, :func:`parse_feedback` reads one back.

Times are microseconds of any monotonic clock; the caller passes them in.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

URI = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
FMT = 15
RTPFB = 205
DELTA_UNIT_US = 250  # receive deltas count quarter milliseconds
REFERENCE_UNIT_US = 64000  # the reference time counts 64 ms
MAX_STATUSES = 2000  # packets one feedback reports at most (~1 kB of RTCP)
MAX_JUMP = 4 * MAX_STATUSES  # a larger jump ahead is a new numbering, not a loss
MAX_KEPT = 8 * MAX_STATUSES  # arrivals kept at most while no feedback goes out

_NOT_RECEIVED, _SMALL, _LARGE = 0, 1, 2
_FIXED = struct.Struct("!BBHIIHHI")  # header, sender, media, base, count, ref|fb count


@dataclass(frozen=True)
class Feedback:
    """One transport feedback packet, read back."""

    sender_ssrc: int
    media_ssrc: int
    base_sequence: int
    feedback_count: int
    reference_time_us: int
    # One entry per reported sequence number: the arrival time (µs, on the
    # reference time's clock) or None when it was not received.
    arrivals: tuple[tuple[int, int | None], ...]


class ArrivalRecorder:
    """The arrivals of one connection's packets since the last feedback.

    Sequence numbers are unwrapped to 64 bits; a packet older than what was
    already reported is too late to count and is ignored (as libwebrtc does).
    """

    def __init__(self) -> None:
        self._arrivals: dict[int, int] = {}  # extended sequence -> arrival µs
        self._next: int | None = None  # first sequence the next feedback reports
        self._highest: int | None = None
        self._count = 0  # feedback packets sent (8-bit counter on the wire)

    def __len__(self) -> int:
        return len(self._arrivals)

    def on_packet(self, sequence: int, arrival_us: int) -> None:
        highest = self._highest
        if highest is None:
            extended = sequence
        else:
            extended = highest + ((sequence - highest + 0x8000) & 0xFFFF) - 0x8000
            if extended - highest > MAX_JUMP:
                # The sender started a new numbering: no long run of losses to report.
                self._arrivals.clear()
                self._next = highest = None
        if self._next is None:
            self._next = extended
        elif extended < self._next:
            return
        if highest is None or extended > highest:
            self._highest = extended
        self._arrivals.setdefault(extended, arrival_us)
        if extended - self._next >= MAX_KEPT:
            # No feedback could go out for long: forget the oldest arrivals.
            self._next = extended - MAX_KEPT // 2
            self._arrivals = {s: a for s, a in self._arrivals.items() if s >= self._next}

    def feedback(self, sender_ssrc: int, media_ssrc: int) -> list[bytes]:
        """Feedback packets for everything recorded since the last call."""
        if not self._arrivals or self._next is None or self._highest is None:
            return []
        packets = []
        start, last = self._next, self._highest
        while start <= last:
            statuses: list[int] = []
            deltas: list[int] = []
            first_arrival: int | None = None
            previous = 0
            seq = start
            while seq <= last and len(statuses) < MAX_STATUSES:
                arrival = self._arrivals.get(seq)
                if arrival is None:
                    statuses.append(_NOT_RECEIVED)
                    seq += 1
                    continue
                if first_arrival is None:
                    first_arrival = arrival
                    previous = (arrival // REFERENCE_UNIT_US) * REFERENCE_UNIT_US
                delta = _quarter_ms(arrival - previous)
                if not -0x8000 <= delta <= 0x7FFF:
                    break  # too far from the previous arrival: the next packet starts here
                statuses.append(_SMALL if 0 <= delta <= 0xFF else _LARGE)
                deltas.append(delta)
                previous += delta * DELTA_UNIT_US
                seq += 1
            # Trailing losses are not reported yet: they may still arrive.
            while statuses and statuses[-1] == _NOT_RECEIVED:
                statuses.pop()
            if not statuses:
                break
            assert first_arrival is not None
            packets.append(
                build_feedback(
                    sender_ssrc,
                    media_ssrc,
                    start & 0xFFFF,
                    self._count,
                    first_arrival // REFERENCE_UNIT_US,
                    statuses,
                    deltas,
                )
            )
            self._count = (self._count + 1) & 0xFF
            start += len(statuses)
        for seq in [s for s in self._arrivals if s < start]:
            del self._arrivals[seq]
        self._next = start
        return packets


def _quarter_ms(us: int) -> int:
    # Round to the nearest quarter millisecond, towards minus infinity on ties.
    return (us + DELTA_UNIT_US // 2) // DELTA_UNIT_US


def build_feedback(
    sender_ssrc: int,
    media_ssrc: int,
    base_sequence: int,
    feedback_count: int,
    reference_time: int,
    statuses: list[int],
    deltas: list[int],
) -> bytes:
    """One feedback packet: ``statuses`` per sequence from ``base_sequence``
    (0 not received, 1 small delta, 2 large delta), ``deltas`` in 250 µs units
    for the received ones, ``reference_time`` in 64 ms units."""
    chunks = b"".join(struct.pack("!H", c) for c in _chunks(statuses))
    body = b""
    for status, delta in zip((s for s in statuses if s != _NOT_RECEIVED), deltas, strict=True):
        body += struct.pack("!B", delta) if status == _SMALL else struct.pack("!h", delta)
    size = _FIXED.size + len(chunks) + len(body)
    padding = -size % 4
    tail = (b"\x00" * (padding - 1) + bytes([padding])) if padding else b""
    words = (size + padding) // 4 - 1
    header = _FIXED.pack(
        0x80 | (0x20 if padding else 0) | FMT,  # V=2, P, FMT
        RTPFB,
        words,
        sender_ssrc,
        media_ssrc,
        base_sequence,
        len(statuses),
        ((reference_time & 0xFFFFFF) << 8) | (feedback_count & 0xFF),
    )
    return header + chunks + body + tail


def _chunks(statuses: list[int]) -> list[int]:
    """Packet status chunks: a run length where 7+ equal statuses follow, else vectors."""
    chunks = []
    i, n = 0, len(statuses)
    while i < n:
        run = 1
        while i + run < n and statuses[i + run] == statuses[i] and run < 0x1FFF:
            run += 1
        if run >= 7 or i + run == n:
            chunks.append((statuses[i] << 13) | run)
            i += run
            continue
        window = statuses[i : i + 14]
        if len(window) == 14 and _LARGE not in window:
            value = 0x8000  # one-bit vector, 14 statuses
            for k, status in enumerate(window):
                value |= status << (13 - k)
            chunks.append(value)
            i += 14
        else:
            window = statuses[i : i + 7]
            value = 0xC000  # two-bit vector, 7 statuses
            for k, status in enumerate(window):
                value |= status << (12 - 2 * k)
            chunks.append(value)
            i += len(window)
    return chunks


def parse_feedback(data: bytes) -> Feedback:
    """Read one transport feedback packet; ValueError if it is not a valid one."""
    if len(data) < _FIXED.size:
        raise ValueError("transport feedback shorter than its fixed part")
    b0, pt, words, sender, media, base, count, ref = _FIXED.unpack_from(data)
    if b0 >> 6 != 2 or b0 & 0x1F != FMT or pt != RTPFB:
        raise ValueError("not a transport feedback packet")
    end = 4 * (words + 1)
    if end > len(data):
        raise ValueError("transport feedback truncated")
    if b0 & 0x20:
        end -= data[end - 1]
    pos = _FIXED.size
    statuses: list[int] = []
    while len(statuses) < count:
        if pos + 2 > end:
            raise ValueError("transport feedback: missing status chunks")
        (chunk,) = struct.unpack_from("!H", data, pos)
        pos += 2
        if not chunk & 0x8000:
            statuses += [(chunk >> 13) & 3] * (chunk & 0x1FFF)
        elif not chunk & 0x4000:
            statuses += [(chunk >> (13 - k)) & 1 for k in range(14)]
        else:
            statuses += [(chunk >> (12 - 2 * k)) & 3 for k in range(7)]
    statuses = statuses[:count]
    reference_us = (ref >> 8) * REFERENCE_UNIT_US
    now = reference_us
    arrivals: list[tuple[int, int | None]] = []
    for k, status in enumerate(statuses):
        sequence = (base + k) & 0xFFFF
        if status == _NOT_RECEIVED:
            arrivals.append((sequence, None))
            continue
        if status == _SMALL:
            if pos + 1 > end:
                raise ValueError("transport feedback: missing receive deltas")
            delta = data[pos]
            pos += 1
        elif status == _LARGE:
            if pos + 2 > end:
                raise ValueError("transport feedback: missing receive deltas")
            (delta,) = struct.unpack_from("!h", data, pos)
            pos += 2
        else:
            raise ValueError("transport feedback: reserved status symbol")
        now += delta * DELTA_UNIT_US
        arrivals.append((sequence, now))
    return Feedback(sender, media, base, ref & 0xFF, reference_us, tuple(arrivals))


# --- negotiation ------------------------------------------------------------------

_EXTMAP = re.compile(r"^a=extmap:(\d+)(?:/\w+)? " + re.escape(URI) + r"\s*$")


def offered_extension_id(offer_sdp: str) -> int | None:
    """The id an offer gives the transport-wide sequence number (one for the bundle)."""
    for line in offer_sdp.splitlines():
        match = _EXTMAP.match(line)
        if match:
            return int(match.group(1))
    return None


def with_transport_cc(answer_sdp: str, extension_id: int) -> str:
    """The answer with the transport-wide-cc extension and ``transport-cc`` feedback
    on every audio and video section (aiortc answers neither)."""
    lines = answer_sdp.split("\r\n")
    out: list[str] = []
    section: str | None = None
    payload_types: list[str] = []

    def close_section() -> None:
        if section in ("audio", "video") and payload_types:
            out.append(f"a=extmap:{extension_id} {URI}")
            out.extend(f"a=rtcp-fb:{pt} transport-cc" for pt in payload_types)

    for line in lines:
        if line.startswith("m=") or line == "":
            close_section()
            fields = line.split()
            section = fields[0][2:] if line else None
            # A rejected section (port 0) negotiates nothing.
            payload_types = fields[3:] if len(fields) > 3 and fields[1] != "0" else []
        out.append(line)
    return "\r\n".join(out)
