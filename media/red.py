"""RFC 2198 redundant audio (RED) as the forwarder handles it (pure, no I/O).

A RED payload is a list of block headers followed by the blocks' data, the
primary (newest) block last::

    F(1) PT(7) timestamp offset(14) length(10)   one per redundant block
    F=0  PT(7)                                   the primary block: 1 byte
    redundant data..., primary data

The forwarder never decodes: a subscriber that negotiated RED gets the packet
as the publisher sent it, with the block headers' payload types set to the
subscriber's Opus payload type; one that did not gets the primary block alone
(a plain Opus packet). ``media/_fastpath.c`` has the same parser in C; both
fan-outs must agree with this module byte for byte.
"""

from __future__ import annotations

# More redundant blocks than this is not something a browser sends (Chromium
# sends one or two): the packet is refused as malformed.
MAX_REDUNDANT_BLOCKS = 8


def parse(payload: bytes, start: int = 0) -> tuple[int, int] | None:
    """(redundant blocks, offset of the primary block's data) of the RED
    payload at ``payload[start:]``; None when malformed: a truncated header,
    block lengths past the end, no primary data, too many blocks."""
    size = len(payload)
    pos = start
    data = 0
    blocks = 0
    while True:
        if pos >= size:
            return None
        if not payload[pos] & 0x80:
            break
        if pos + 4 > size or blocks == MAX_REDUNDANT_BLOCKS:
            return None
        data += ((payload[pos + 2] & 0x03) << 8) | payload[pos + 3]
        pos += 4
        blocks += 1
    primary = pos + 1 + data
    if primary >= size:
        return None
    return blocks, primary


def primary(payload: bytes) -> bytes | None:
    """The primary block of a RED payload (a plain Opus payload), None if malformed."""
    parsed = parse(payload)
    return None if parsed is None else payload[parsed[1] :]


def redundant_blocks(payload: bytes) -> list[tuple[int, bytes]] | None:
    """The redundant blocks of a RED payload, oldest first, as (timestamp
    offset, data); None if malformed."""
    parsed = parse(payload)
    if parsed is None:
        return None
    blocks: list[tuple[int, bytes]] = []
    pos = 4 * parsed[0] + 1
    for i in range(0, 4 * parsed[0], 4):
        offset = (payload[i + 1] << 6) | (payload[i + 2] >> 2)
        length = ((payload[i + 2] & 0x03) << 8) | payload[i + 3]
        blocks.append((offset, payload[pos : pos + length]))
        pos += length
    return blocks


def retag(data: bytes, start: int, blocks: int, payload_type: int) -> bytes:
    """``data`` with the payload type of every block header of the RED payload
    at ``start`` (``blocks`` redundant ones, then the primary) set to ``payload_type``."""
    out = bytearray(data)
    for i in range(start, start + 4 * blocks, 4):
        out[i] = (out[i] & 0x80) | payload_type
    out[start + 4 * blocks] = payload_type
    return bytes(out)


def encode(blocks: list[tuple[int, int, bytes]], primary_type: int, primary_data: bytes) -> bytes:
    """A RED payload: redundant ``(payload type, timestamp offset, data)`` blocks, then
    the primary block."""
    headers = b""
    body = b""
    for payload_type, offset, data in blocks:
        if len(data) > 0x3FF or not 0 <= offset <= 0x3FFF:
            raise ValueError("a RED block holds at most 1023 bytes, 14 bits of offset")
        headers += bytes(
            (
                0x80 | payload_type,
                (offset >> 6) & 0xFF,
                ((offset & 0x3F) << 2) | (len(data) >> 8),
                len(data) & 0xFF,
            )
        )
        body += data
    return headers + bytes((primary_type,)) + body + primary_data
