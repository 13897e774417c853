"""What a subscriber's VP8 stream holds: frames decoded, numbering checked.

Fed with the packets a ``decode=False`` client kept (``RemoteStream.payloads``):
frames are rebuilt from the RTP payloads (RFC 7741) and decoded with libvpx,
so a broken stream shows as a decoder error or a gap in the numbering.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import av

from media.vp8 import descriptor_fields, picture_id, tl0picidx


@dataclass
class DecodedFrame:
    arrival: float
    width: int
    height: int
    timestamp: int
    picture_id: int | None
    tl0picidx: int | None
    keyframe: bool


@dataclass
class DecodedStream:
    frames: list[DecodedFrame] = field(default_factory=list)
    sequence_gaps: int = 0
    incomplete: int = 0  # frames whose last packet never came (dropped, as a receiver does)
    skipped: int = 0  # frames before the first keyframe (kept from inside a stream)


def _descriptor_length(payload: bytes) -> int:
    pos = 1
    if payload[0] & 0x80:
        flags = payload[1]
        pos = 2
        if flags & 0x80:
            pos += 2 if payload[pos] & 0x80 else 1
        if flags & 0x40:
            pos += 1
        if flags & 0x30:
            pos += 1
    return pos


def decode(packets: list[tuple[float, int, int, bool, bytes]]) -> DecodedStream:
    """Rebuild and decode every frame; raises av's error if the decoder refuses one."""
    codec = av.CodecContext.create("libvpx", "r")
    stream = DecodedStream()
    previous_seq: int | None = None
    frame = b""
    first: tuple[float, int, bytes] | None = None  # arrival, timestamp, first payload
    for arrival, seq, timestamp, marker, payload in packets:
        if previous_seq is not None and seq != (previous_seq + 1) & 0xFFFF:
            stream.sequence_gaps += 1
        previous_seq = seq
        start = payload[0] & 0x10 and payload[0] & 0x07 == 0
        if start:
            if first is not None:
                stream.incomplete += 1
            first, frame = (arrival, timestamp, payload), b""
        if first is None:
            continue  # joined inside a frame
        frame += payload[_descriptor_length(payload) :]
        if not marker:
            continue
        at, ts, head = first
        first = None
        fields = descriptor_fields(head)
        keyframe = not frame[0] & 0x01
        if not keyframe and not stream.frames:
            stream.skipped += 1
            continue
        for decoded in codec.decode(av.Packet(frame)):
            stream.frames.append(
                DecodedFrame(
                    at,
                    decoded.width,
                    decoded.height,
                    ts,
                    picture_id(head, fields),
                    tl0picidx(head, fields),
                    keyframe,
                )
            )
    return stream
