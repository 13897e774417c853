"""RTP header reading and writing for the forwarding path (pure, no I/O).

The forwarder never builds packet objects: it reads the fixed header with one
``struct`` call, keeps the publisher's payload bytes as they are, and writes a
new 12-byte header plus a header-extension block per subscriber.
"""

from __future__ import annotations

import struct
import time

HEADER = struct.Struct("!BBHII")  # V/P/X/CC, M/PT, sequence, timestamp, SSRC
EXTENSION_PREAMBLE = struct.Struct("!HH")  # profile, length in 32-bit words
ONE_BYTE_PROFILE = 0xBEDE
VERSION_WITH_EXTENSION = 0x90  # V=2, no padding, X=1, CC=0

# Header extension ids the server's own offers use (aiortc's defaults); an
# answer must keep the offered ids (RFC 8285), so every subscriber has these.
MID_ID = 1
AUDIO_LEVEL_ID = 2
ABS_SEND_TIME_ID = 3


def find_extension(data: bytes, wanted_id: int) -> bytes | None:
    """The value of one-byte header extension ``wanted_id``, if present."""
    if not data[0] & 0x10:
        return None
    pos = 12 + 4 * (data[0] & 0x0F)
    if len(data) < pos + 4 or data[pos] != 0xBE or data[pos + 1] != 0xDE:
        return None
    end = pos + 4 + 4 * ((data[pos + 2] << 8) | data[pos + 3])
    pos += 4
    while pos < end and pos < len(data):
        byte = data[pos]
        if byte == 0:  # padding
            pos += 1
            continue
        ext_id, size = byte >> 4, (byte & 0x0F) + 1
        if ext_id == 15:
            return None
        if ext_id == wanted_id:
            return bytes(data[pos + 1 : pos + 1 + size])
        pos += 1 + size
    return None


def extension_prefix(mid: str | None, per_packet_bytes: int) -> bytes:
    """Header-extension preamble and MID element of one subscriber stream.

    The MID element is padded to a word boundary so that the per-packet part
    (``per_packet_bytes``, a multiple of 4) can follow it unchanged for every
    subscriber.
    """
    element = b""
    if mid:
        value = mid.encode()
        element = bytes([(MID_ID << 4) | (len(value) - 1)]) + value
        element += b"\x00" * (-len(element) % 4)
    words = (len(element) + per_packet_bytes) // 4
    return EXTENSION_PREAMBLE.pack(ONE_BYTE_PROFILE, words) + element


def abs_send_time_element(now: float | None = None) -> bytes:
    """abs-send-time (6.18 fixed-point seconds) as a 4-byte extension element."""
    t = time.time() if now is None else now
    value = int(t * 262144) & 0xFFFFFF
    return bytes(((ABS_SEND_TIME_ID << 4) | 2, value >> 16, (value >> 8) & 0xFF, value & 0xFF))


def audio_level_element(level: bytes | None) -> bytes:
    """ssrc-audio-level as a 4-byte element (with padding), or 4 padding bytes."""
    if level is None or len(level) != 1:
        return b"\x00\x00\x00\x00"
    return bytes(((AUDIO_LEVEL_ID << 4), level[0], 0, 0))
