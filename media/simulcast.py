"""Simulcast offers (RFC 8853, RFC 8851) and the RID header extensions (pure).

A browser publishing with several ``sendEncodings`` offers ``a=rid:<rid>
send`` lines, ``a=simulcast:send <rid>;<rid>;...`` and the RID and
repaired-RID RTP header extensions, then sends one SSRC per encoding, each
packet naming its rid until the SSRC is known. aiortc ignores all of it, so
the publisher's offer is read here and the server's answer gets the matching
``recv`` lines and extension ids: without them the browser sends one layer.

Anything the SFU cannot use as up to three layers of one video section
(more encodings, alternatives, no RID extension, rids that are not declared)
is answered as a single layer: the browser then sends its first encoding
only, and nothing else changes (:attr:`SimulcastSection.degraded` says why).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .rtp import find_extension

RID_URI = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
REPAIRED_RID_URI = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"
MAX_LAYERS = 3
# The browser client's rids, lowest to highest; other rids are taken lowest
# first in the order of the offer's a=simulcast line.
KNOWN_ORDER = ("q", "h", "f")
# Where a browser's bandwidth estimate starts for a layered camera, kbit/s
# (Chromium's x-google-start-bitrate): from its default 300 it would send the
# lowest layer only, and without transport-wide feedback it would not probe
# its way up to the others. Its own loss-based estimate lowers it on a weak link.
START_BITRATE_KBPS = 2000
_RID = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
_VP8 = re.compile(r"a=rtpmap:(\d+) VP8/90000", re.IGNORECASE)
_FMTP = re.compile(r"a=fmtp:(\d+) ")


@dataclass(frozen=True)
class LayerInfo:
    """One simulcast layer of a producer, as the technicians and the allocator see it."""

    spatial: int  # 0: lowest
    rid: str
    bitrate_bps: int  # measured over the last second
    # Packets arrived recently (Producer.offered_layers: or would at once if asked).
    active: bool
    paused: bool = False  # the publisher was asked to stop sending it (dynacast)


@dataclass(frozen=True)
class SimulcastSection:
    """What one video section of a publisher offer asks for."""

    mid: str
    rids: tuple[str, ...]  # lowest layer first; empty: a single layer
    rid_id: int | None  # header extension ids in the offer
    repaired_rid_id: int | None
    degraded: str | None = None  # why simulcast was refused, when it was asked for

    @property
    def layered(self) -> bool:
        return len(self.rids) > 1


def read_offer(text: str) -> dict[str, SimulcastSection]:
    """The video sections of an offer that ask for simulcast, by mid."""
    sections: dict[str, SimulcastSection] = {}
    for kind, lines in _sections(text):
        if kind != "video":
            continue
        section = _read_section(lines)
        if section is not None:
            sections[section.mid] = section
    return sections


def _read_section(lines: list[str]) -> SimulcastSection | None:
    mid = ""
    rid_id = repaired_id = None
    declared: list[str] = []
    simulcast: str | None = None
    for line in lines:
        if line.startswith("a=mid:"):
            mid = line[6:].strip()
        elif line.startswith("a=extmap:"):
            ident, _, rest = line[9:].partition(" ")
            uri = rest.split(" ")[0].strip()
            number = _int(ident.split("/")[0])
            if uri == RID_URI:
                rid_id = number
            elif uri == REPAIRED_RID_URI:
                repaired_id = number
        elif line.startswith("a=rid:"):
            fields = line[6:].split()
            if len(fields) >= 2 and fields[1] == "send":
                declared.append(fields[0])
        elif line.startswith("a=simulcast:"):
            simulcast = line[12:].strip()
    if simulcast is None and not declared:
        return None

    def single(reason: str) -> SimulcastSection:
        return SimulcastSection(mid, (), rid_id, repaired_id, reason)

    if simulcast is None:
        return single("a=rid without a=simulcast")
    parts = simulcast.split()
    if len(parts) != 2 or parts[0] != "send":
        return single("a=simulcast does not send")
    if "," in parts[1]:
        return single("simulcast alternatives are not supported")
    listed = [r.lstrip("~") for r in parts[1].split(";") if r]
    if rid_id is None or not 1 <= rid_id <= 14:
        return single("no RID header extension")
    if len(listed) > MAX_LAYERS:
        return single(f"{len(listed)} encodings (at most {MAX_LAYERS})")
    if len(set(listed)) != len(listed):
        return single("a rid is listed twice")
    unknown = [r for r in listed if r not in declared or not _RID.match(r)]
    if unknown:
        return single(f"undeclared or invalid rids {unknown}")
    if len(listed) < 2:
        return single("one encoding")
    if set(listed) <= set(KNOWN_ORDER):
        listed.sort(key=KNOWN_ORDER.index)
    if repaired_id is not None and not 1 <= repaired_id <= 14:
        repaired_id = None
    return SimulcastSection(mid, tuple(listed), rid_id, repaired_id)


def answer(text: str, sections: dict[str, SimulcastSection]) -> str:
    """The server's answer with simulcast accepted on the layered sections.

    An answer keeps the offer's extension ids (RFC 8285); the rids are
    received in the order the offer listed them.
    """
    layered = {mid: s for mid, s in sections.items() if s.layered}
    if not layered:
        return text
    out: list[str] = []
    current: SimulcastSection | None = None
    start = len(out)
    for line in text.split("\r\n"):
        if line.startswith("m="):
            _close(out, current, start)
            current, start = None, len(out)
        elif line.startswith("a=mid:"):
            current = layered.get(line[6:].strip())
        out.append(line)
    _close(out, current, start)
    return "\r\n".join(out)


def _close(out: list[str], section: SimulcastSection | None, start: int) -> None:
    """Append the section's simulcast lines (it began at ``out[start]``)."""
    if section is None:
        return
    vp8 = {m.group(1) for line in out[start:] if (m := _VP8.match(line))}
    parameter = f"x-google-start-bitrate={START_BITRATE_KBPS}"
    for index in range(start, len(out)):
        fmtp = _FMTP.match(out[index])
        if fmtp and fmtp.group(1) in vp8:
            out[index] += f";{parameter}"
            vp8.discard(fmtp.group(1))
    tail = 0
    while out and out[-1] == "":
        out.pop()
        tail += 1
    out.append(f"a=extmap:{section.rid_id} {RID_URI}")
    if section.repaired_rid_id is not None:
        out.append(f"a=extmap:{section.repaired_rid_id} {REPAIRED_RID_URI}")
    out.extend(f"a=fmtp:{payload_type} {parameter}" for payload_type in sorted(vp8))
    out.extend(f"a=rid:{rid} recv" for rid in section.rids)
    out.append("a=simulcast:recv " + ";".join(section.rids))
    out.extend([""] * tail)


def _sections(text: str) -> list[tuple[str, list[str]]]:
    sections: list[tuple[str, list[str]]] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.startswith("m="):
            sections.append((line[2:].split(" ")[0], []))
        elif sections:
            sections[-1][1].append(line.strip())
    return sections


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) < 4 else None


def find_rid(data: bytes, extension_id: int) -> str | None:
    """The RID (or repaired RID) a packet names in its one-byte header extension."""
    value = find_extension(data, extension_id)
    if not value:
        return None
    try:
        rid = value.decode("ascii")
    except UnicodeDecodeError:
        return None
    return rid if _RID.match(rid) else None
