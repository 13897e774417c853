"""VP8 RTP payload descriptor (RFC 7741): keyframes, picture ids, temporal layers."""

from __future__ import annotations


def is_keyframe_start(payload: bytes) -> bool:
    """True when this RTP payload starts a VP8 keyframe.

    A new consumer must start at a keyframe: this is how the forwarder knows
    where one begins without depacketizing the frame.
    """
    if not payload:
        return False
    first = payload[0]
    extended, start, partition = first & 0x80, first & 0x10, first & 0x07
    if not start or partition != 0:
        return False
    pos = 1
    if extended:
        if len(payload) < 2:
            return False
        flags = payload[1]
        pos = 2
        if flags & 0x80:  # I: picture id, one or two bytes (M bit)
            if len(payload) <= pos:
                return False
            pos += 2 if payload[pos] & 0x80 else 1
        if flags & 0x40:  # L: TL0PICIDX
            pos += 1
        if flags & 0x30:  # T or K: TID/Y/KEYIDX byte
            pos += 1
    if len(payload) <= pos:
        return False
    # VP8 payload header: the P bit (inverse keyframe flag) is bit 0.
    return payload[pos] & 0x01 == 0


# Where the rewritable fields of a VP8 payload descriptor are, packed in one
# int for the forwarding path: bits 0-7 the picture id's offset in the payload
# (0: none), bit 8 set for a 15-bit picture id, bits 9-16 TL0PICIDX's offset
# (0: none). Offsets are never 0 when present: the first byte is the descriptor's.
PICTURE_ID_LONG = 0x100


def descriptor_fields(payload: bytes) -> int:
    """The packed positions of the picture id and TL0PICIDX (0: neither)."""
    if len(payload) < 2 or not payload[0] & 0x80:
        return 0
    flags = payload[1]
    pos = 2
    fields = 0
    if flags & 0x80:  # I: picture id
        if len(payload) <= pos:
            return 0
        if payload[pos] & 0x80:
            if len(payload) <= pos + 1:
                return 0
            fields = pos | PICTURE_ID_LONG
            pos += 2
        else:
            fields = pos
            pos += 1
    if flags & 0x40:  # L: TL0PICIDX
        if len(payload) <= pos:
            return 0
        fields |= pos << 9
    return fields


def temporal_id(payload: bytes) -> int:
    """The temporal layer (TID) of a VP8 payload; 0 when it says none."""
    if len(payload) < 2 or not payload[0] & 0x80:
        return 0
    flags = payload[1]
    if not flags & 0x20:  # T: no TID byte
        return 0
    pos = 2
    if flags & 0x80:
        if len(payload) <= pos:
            return 0
        pos += 2 if payload[pos] & 0x80 else 1
    if flags & 0x40:
        pos += 1
    if len(payload) <= pos:
        return 0
    return payload[pos] >> 6


def picture_id(payload: bytes, fields: int) -> int | None:
    """The picture id at the packed position (see :func:`descriptor_fields`)."""
    pos = fields & 0xFF
    if not pos:
        return None
    if fields & PICTURE_ID_LONG:
        return ((payload[pos] & 0x7F) << 8) | payload[pos + 1]
    return payload[pos] & 0x7F


def tl0picidx(payload: bytes, fields: int) -> int | None:
    pos = (fields >> 9) & 0xFF
    return payload[pos] if pos else None


def rewrite(payload: bytes, fields: int, picture_offset: int, tl0_offset: int) -> bytes:
    """The payload with its picture id and TL0PICIDX moved by the offsets.

    What the forwarding path does per subscriber (media/fastpath.py), for the
    packets sent outside it (retransmissions, the first after a switch).
    """
    if not fields or not (picture_offset or tl0_offset):
        return payload
    pos, tl0 = fields & 0xFF, (fields >> 9) & 0xFF
    if pos >= len(payload) - (1 if fields & PICTURE_ID_LONG else 0) or tl0 >= len(payload):
        return payload  # positions past the end: nothing rewritten (as natively)
    data = bytearray(payload)
    if pos:
        if fields & PICTURE_ID_LONG:
            value = (((data[pos] & 0x7F) << 8 | data[pos + 1]) + picture_offset) & 0x7FFF
            data[pos], data[pos + 1] = 0x80 | (value >> 8), value & 0xFF
        else:
            data[pos] = (data[pos] + picture_offset) & 0x7F
    if tl0:
        data[tl0] = (data[tl0] + tl0_offset) & 0xFF
    return bytes(data)


def temporal(payload: bytes) -> tuple[int, bool]:
    """The temporal layer (TID) of a VP8 payload and its layer sync (Y) bit.

    (0, False) when the descriptor carries no TID: such a packet is never
    dropped by a route that thins the frame rate (:mod:`media.temporal`).
    """
    if len(payload) < 2 or not payload[0] & 0x80:
        return 0, False
    flags = payload[1]
    if not flags & 0x20:  # T: no TID byte
        return 0, False
    pos = 2
    if flags & 0x80:
        if len(payload) <= pos:
            return 0, False
        pos += 2 if payload[pos] & 0x80 else 1
    if flags & 0x40:
        pos += 1
    if len(payload) <= pos:
        return 0, False
    byte = payload[pos]
    return byte >> 6, bool(byte & 0x20)


def starts_frame(payload: bytes) -> bool:
    """The first packet of a frame: S bit set, partition index 0."""
    return bool(payload) and payload[0] & 0x17 == 0x10
