"""A synthetic simulcast publisher: pre-encoded VP8 layers with RIDs, over real SRTP.

aiortc cannot send simulcast. This sends what a browser with three
``sendEncodings`` sends: one SSRC per layer, each packet carrying the MID
and RID header extensions, VP8 with a 15-bit picture id, TL0PICIDX and TID,
on the publisher connection's own DTLS-SRTP transport
(:class:`media.aiortc_hooks.MediaSocket`). The offer is the aiortc offer
with the simulcast lines a browser adds (:func:`simulcast_offer`). A PLI for
a layer's SSRC makes that layer jump to its clip's next keyframe, as an
encoder asked for one would.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiortc import RTCPeerConnection

from media import rtcp
from media.aiortc_hooks import MediaSocket
from media.simulcast import REPAIRED_RID_URI, RID_URI

from .clip import Clip

RID_ID = 10  # extension ids the synthetic offer uses (aiortc's own are 1-3)
REPAIRED_RID_ID = 11
MID_ID = 1
MAX_PAYLOAD = 1100
_HEADER = struct.Struct("!BBHII")
TEMPORAL_PATTERNS = {1: (0,), 2: (0, 1), 3: (0, 2, 1, 2)}


def simulcast_offer(sdp: str, mid: str, rids: Sequence[str]) -> str:
    """An aiortc offer with the lines a browser adds for simulcast on section ``mid``.

    The section's own SSRC lines go (a browser announces no SSRC for rid
    layers): the layers are told apart by their RID extension only.
    """
    out: list[str] = []
    sections: list[list[str]] = [[]]
    for line in sdp.split("\r\n"):
        if line.startswith("m="):
            sections.append([])
        sections[-1].append(line)
    for section in sections:
        if f"a=mid:{mid}" not in section:
            out.extend(section)
            continue
        while section and section[-1] == "":
            section.pop()
        out.extend(line for line in section if not line.startswith("a=ssrc"))
        out.append(f"a=extmap:{RID_ID} {RID_URI}")
        out.append(f"a=extmap:{REPAIRED_RID_ID} {REPAIRED_RID_URI}")
        out.extend(f"a=rid:{rid} send" for rid in rids)
        out.append("a=simulcast:send " + ";".join(rids))
    if out and out[-1] != "":
        out.append("")
    return "\r\n".join(out)


@dataclass
class SentLayer:
    """One layer's stream: its clip and its RTP state."""

    rid: str
    clip: Clip
    ssrc: int = field(default_factory=lambda: random.randint(1, 0xFFFFFFFF))
    sequence: int = field(default_factory=lambda: random.randint(0, 0xFFFF))
    timestamp: int = field(default_factory=lambda: random.randint(0, 0xFFFFFFFF))
    picture_id: int = field(default_factory=lambda: random.randint(0, 0x7FFF))
    tl0picidx: int = field(default_factory=lambda: random.randint(0, 0xFF))
    position: int = 0  # the clip's next frame
    phase: int = 0  # frames since the last keyframe: where in the temporal pattern
    frames: int = 0
    keyframes: int = 0
    packets_sent: int = 0
    bytes_sent: int = 0  # RTP payload, as an outbound-rtp's bytesSent
    keyframe_requests: int = 0
    paused: bool = False  # sends nothing (a browser that dropped the layer)
    asked_off: bool = False  # the server asked not to send it (publish.layers)
    lose_requests: int = 0  # keyframe requests to ignore, as if lost on the way

    def request_keyframe(self) -> None:
        self.keyframe_requests += 1
        if self.lose_requests > 0:
            self.lose_requests -= 1
            return
        self.next_keyframe()

    def next_keyframe(self) -> None:
        """Go on from the clip's next keyframe (as an encoder restarting a layer)."""
        later = sorted(k for k in self.clip.keyframes if k >= self.position)
        if later:
            self.position = later[0]
        elif self.clip.keyframes:
            self.position = min(self.clip.keyframes)

    @property
    def sending(self) -> bool:
        return not self.paused and not self.asked_off


class SimulcastSender:
    """Sends the layers on a negotiated publisher connection, frame by frame."""

    def __init__(
        self,
        connection: RTCPeerConnection,
        mid: str,
        layers: Sequence[tuple[str, Clip]],
        payload_type: int,
        temporal_layers: int = 1,
    ) -> None:
        self.mid = mid
        self.payload_type = payload_type
        # The TIDs frames are marked with, in turn from each keyframe (TID 0):
        # one layer, two (0, 1) or Chromium's three (0, 2, 1, 2). Only the
        # marking: the clips' frames each reference the one before, so a
        # subscriber sent fewer of them can count them but not decode them.
        self.pattern = TEMPORAL_PATTERNS[temporal_layers]
        self.layers = [SentLayer(rid, clip) for rid, clip in layers]
        self._by_ssrc = {layer.ssrc: layer for layer in self.layers}
        self.socket = MediaSocket(connection, lambda data: None, self._on_rtcp)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.socket.attach()
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def send_only(self, rids: Sequence[str]) -> None:
        """Send the layers named (``publish.layers``) and stop the others.

        Unknown rids are ignored and, as a browser client does, a list that
        names no layer of this sender changes nothing. A layer resumed
        starts at a keyframe, as an encoder restarting an encoding does.
        """
        if not any(layer.rid in rids for layer in self.layers):
            return
        for layer in self.layers:
            off = layer.rid not in rids
            if layer.asked_off and not off:
                layer.next_keyframe()
            layer.asked_off = off

    def _on_rtcp(self, data: bytes) -> None:
        for packet in rtcp.parse(data):
            if isinstance(packet, rtcp.KeyframeRequest):
                for ssrc in packet.media_ssrcs:
                    layer = self._by_ssrc.get(ssrc)
                    if layer is not None:
                        layer.request_keyframe()

    async def _run(self) -> None:
        period = self.layers[0].clip.period
        start = time.monotonic()
        index = 0
        while True:
            delay = start + index * period - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if self.socket.ready:
                for layer in self.layers:
                    if layer.sending:
                        self._send_frame(layer)
            index += 1

    def _send_frame(self, layer: SentLayer) -> None:
        clip = layer.clip
        keyframe = layer.position in clip.keyframes
        frame = clip.packets[layer.position]
        layer.position = (layer.position + 1) % len(clip.packets)
        # I, L, T: 15-bit picture id, TL0PICIDX, TID (with Y: each frame after a
        # keyframe is the first of its TID), from the pattern; a keyframe is TID 0.
        layer.phase = 0 if keyframe else layer.phase + 1
        tid = self.pattern[layer.phase % len(self.pattern)]
        layer.picture_id = (layer.picture_id + 1) & 0x7FFF
        if tid == 0:
            layer.tl0picidx = (layer.tl0picidx + 1) & 0xFF
        sync = 0x20 if tid == 0 or layer.phase < len(self.pattern) else 0
        descriptor = bytes(
            [
                0xE0,
                0x80 | (layer.picture_id >> 8),
                layer.picture_id & 0xFF,
                layer.tl0picidx,
                (tid << 6) | sync,
            ]
        )
        mid, rid = self.mid.encode(), layer.rid.encode()
        elements = bytes([(MID_ID << 4) | (len(mid) - 1)]) + mid
        elements += bytes([(RID_ID << 4) | (len(rid) - 1)]) + rid
        elements += b"\x00" * (-len(elements) % 4)
        extension = b"\xbe\xde" + struct.pack("!H", len(elements) // 4) + elements
        chunks = [frame[i : i + MAX_PAYLOAD] for i in range(0, len(frame), MAX_PAYLOAD)] or [b""]
        layer.timestamp = (layer.timestamp + clip.ticks) & 0xFFFFFFFF
        for number, chunk in enumerate(chunks):
            marker = 0x80 if number == len(chunks) - 1 else 0
            first = 0x90 if number == 0 else 0x80  # X, and S on the frame's first packet
            header = _HEADER.pack(
                0x90, marker | self.payload_type, layer.sequence, layer.timestamp, layer.ssrc
            )
            layer.sequence = (layer.sequence + 1) & 0xFFFF
            self.socket.send_rtp(header + extension + bytes([first]) + descriptor + chunk)
            layer.packets_sent += 1
            layer.bytes_sent += 1 + len(descriptor) + len(chunk)
        layer.frames += 1
        layer.keyframes += keyframe
