"""Producer: one incoming track of a publisher, fanned out to its consumers."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiortc import clock
from aiortc.rtp import RtpPacket

from .aiortc_hooks import ReceiverTap
from .keyframes import KeyframeRequests
from .vp8 import is_keyframe_start

if TYPE_CHECKING:
    from aiortc import RTCRtpReceiver

    from .consumer import Consumer

logger = logging.getLogger(__name__)


@dataclass
class ProducerCounters:
    packets: int = 0
    bytes: int = 0
    keyframes: int = 0
    keyframe_requests_sent: int = 0
    last_packet_at: float | None = None


class Producer:
    """An incoming audio or video track, forwarded packet by packet.

    ``owner`` is an opaque tag for the layer above (the participant id); the
    media layer knows nothing of rooms or floors. ``paused`` stops forwarding
    without touching the publisher: that is how the floor is enforced.
    """

    def __init__(self, producer_id: str, owner: str, kind: str, receiver: RTCRtpReceiver) -> None:
        self.id = producer_id
        self.owner = owner
        self.kind = kind
        self.consumers: list[Consumer] = []
        self.counters = ProducerCounters()
        self.media_ssrc: int | None = None
        self.closed = False
        self._paused = False
        self._keyframes = KeyframeRequests()
        self._deferred: asyncio.TimerHandle | None = None
        self._tap = ReceiverTap(receiver, self._on_packet)

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        self._paused = True

    def resume(self) -> None:
        if not self._paused:
            return
        self._paused = False
        for consumer in self.consumers:
            consumer.restart()

    async def _on_packet(self, packet: RtpPacket) -> None:
        now = time.monotonic()
        counters = self.counters
        counters.packets += 1
        counters.bytes += len(packet.payload)
        counters.last_packet_at = now
        self.media_ssrc = packet.ssrc
        keyframe = self.kind == "video" and is_keyframe_start(packet.payload)
        if keyframe:
            counters.keyframes += 1
            self._keyframes.keyframe_seen(now)
        if self._paused or self.closed:
            return
        ntp_time = clock.current_ntp_time()
        for consumer in self.consumers:
            await consumer.forward(packet, keyframe, ntp_time)

    def request_keyframe(self) -> None:
        """Ask the publisher for a keyframe, coalesced with other requests."""
        if self.kind != "video" or self.closed:
            return
        now = time.monotonic()
        when = self._keyframes.request(now)
        if when == now:
            self._send_pli()
        elif when is not None and self._deferred is None:
            loop = asyncio.get_running_loop()
            self._deferred = loop.call_later(max(0.0, when - now), self._deferred_due)

    def _deferred_due(self) -> None:
        self._deferred = None
        if self._keyframes.due(time.monotonic()):
            self._send_pli()

    def _send_pli(self) -> None:
        if self.media_ssrc is None:
            # Nothing received yet: the first packets will include a keyframe
            # soon enough, and consumers ask again when they see media.
            self._keyframes.last_sent = None
            return
        self.counters.keyframe_requests_sent += 1
        task = asyncio.ensure_future(self._tap.request_keyframe(self.media_ssrc))
        task.add_done_callback(_log_failure)

    def close(self) -> None:
        self.closed = True
        if self._deferred is not None:
            self._deferred.cancel()
            self._deferred = None
        self.consumers.clear()

    def loss_statistics(self) -> tuple[int, int, int] | None:
        """(packets received, packets lost, jitter in clock units) seen from the SFU."""
        if self.media_ssrc is None:
            return None
        stats = self._tap.statistics(self.media_ssrc)
        if stats is None:
            return None
        return stats.packets_received, stats.packets_lost, stats.jitter


def _log_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.debug("keyframe request failed: %s", task.exception())
