"""VP8 RTP payload inspection (RFC 7741), enough to find keyframes."""

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
