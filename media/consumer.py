"""Consumer: one producer forwarded to one subscriber, on a recycled slot."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiortc.rtp import RtpPacket

from .aiortc_hooks import SenderTap

if TYPE_CHECKING:
    from aiortc import RTCRtpTransceiver

    from .producer import Producer


class Slot:
    """A sendonly m-line of a subscriber connection.

    When its consumer closes, the m-line goes inactive and a later consumer of
    the same kind reuses it, so a long meeting does not grow the SDP. The
    outgoing sequence numbers continue across consumers: the subscriber sees
    one stream with no gap to ask retransmissions for.
    """

    def __init__(self, transceiver: RTCRtpTransceiver, kind: str) -> None:
        self.transceiver = transceiver
        self.kind = kind
        self.consumer: Consumer | None = None
        self.tap = SenderTap(transceiver.sender, self._on_keyframe_request)
        self.payload_type: int | None = None
        self.next_sequence = random.randint(0, 0x7FFF)
        self.last_timestamp = random.randint(0, 0xFFFFFFFF)

    @property
    def mid(self) -> str | None:
        mid: str | None = self.transceiver.mid
        return mid

    def _on_keyframe_request(self) -> None:
        if self.consumer is not None:
            self.consumer.counters.keyframe_requests += 1
            self.consumer.producer.request_keyframe()


@dataclass
class ConsumerCounters:
    packets: int = 0
    bytes: int = 0
    keyframe_requests: int = 0
    dropped_before_keyframe: int = 0


class Consumer:
    """Rewrites a producer's packets for one subscriber and sends them.

    Only the RTP header changes (SSRC, payload type, sequence number,
    timestamp, header extensions); the payload is the publisher's bytes.
    Video starts at a keyframe, asked for as soon as the subscriber can
    receive.
    """

    def __init__(self, consumer_id: str, producer: Producer, slot: Slot) -> None:
        self.id = consumer_id
        self.producer = producer
        self.slot = slot
        self.counters = ConsumerCounters()
        self.closed = False
        # Set once the subscriber accepted an offer that maps the slot to us.
        self.negotiated = False
        self._sequence_offset: int | None = None
        self._timestamp_offset: int | None = None
        self._waiting_keyframe = producer.kind == "video"
        self._keyframe_asked = False
        slot.consumer = self

    @property
    def kind(self) -> str:
        return self.producer.kind

    @property
    def started(self) -> bool:
        """True once the subscriber is being sent media."""
        return self._sequence_offset is not None

    def restart(self) -> None:
        """Start again after a pause: continue the numbering, wait for a keyframe."""
        self._sequence_offset = None
        if self.kind == "video":
            self._waiting_keyframe = True
            self._keyframe_asked = False

    async def forward(self, packet: RtpPacket, keyframe: bool, ntp_time: int) -> None:
        slot = self.slot
        if self.closed or not self.negotiated or slot.payload_type is None or not slot.tap.ready:
            return
        if self._waiting_keyframe:
            if not keyframe:
                self.counters.dropped_before_keyframe += 1
                if not self._keyframe_asked:
                    self._keyframe_asked = True
                    self.producer.request_keyframe()
                return
            self._waiting_keyframe = False
        if self._sequence_offset is None:
            self._sequence_offset = (slot.next_sequence - packet.sequence_number) & 0xFFFF
        if self._timestamp_offset is None:
            # A recycled slot keeps a monotonic clock for the subscriber.
            self._timestamp_offset = (slot.last_timestamp + 3000 - packet.timestamp) & 0xFFFFFFFF

        sequence = (packet.sequence_number + self._sequence_offset) & 0xFFFF
        out = RtpPacket(
            payload_type=slot.payload_type,
            marker=packet.marker,
            sequence_number=sequence,
            timestamp=(packet.timestamp + self._timestamp_offset) & 0xFFFFFFFF,
            ssrc=slot.tap.ssrc,
            payload=packet.payload,
        )
        out.extensions.mid = slot.mid
        out.extensions.abs_send_time = (ntp_time >> 14) & 0x00FFFFFF
        out.extensions.audio_level = packet.extensions.audio_level
        if (sequence - slot.next_sequence) & 0xFFFF < 0x8000:
            slot.next_sequence = (sequence + 1) & 0xFFFF
            slot.last_timestamp = out.timestamp
        try:
            await slot.tap.send(out, ntp_time)
        except ConnectionError:
            return
        self.counters.packets += 1
        self.counters.bytes += len(packet.payload)

    def close(self) -> None:
        self.closed = True
        if self.slot.consumer is self:
            self.slot.consumer = None
        if self in self.producer.consumers:
            self.producer.consumers.remove(self)
