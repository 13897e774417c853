"""PeerTransport: a participant's two peer connections with the SFU.

The client offers on the publisher connection and the server answers; the
server offers on the subscriber connection and renegotiates it as consumers
come and go. One side always offers on each connection: no glare.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpCodecCapability,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCSessionDescription,
)

from .aiortc_hooks import negotiated_codecs, restrict_codecs
from .consumer import Consumer, Slot
from .errors import BAD_SDP, STALE_REVISION, MediaError
from .producer import Producer
from .sdp import FORWARDED_CODECS, check_publish_offer

if TYPE_CHECKING:
    from aiortc import RTCRtpReceiver

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StreamMapping:
    """What one active m-line of a subscriber connection carries."""

    mid: str
    producer_id: str
    owner: str
    kind: str


SubscribeOfferHandler = Callable[[str, int, list[StreamMapping]], Awaitable[None]]
ProducerHandler = Callable[["PeerTransport", Producer], None]


def forwarded_codec_preferences(kind: str) -> list[RTCRtpCodecCapability]:
    """VP8 with its RTX, or Opus: the one codec per kind forwarded on both legs."""
    wanted = {FORWARDED_CODECS[kind].lower(), f"{kind}/rtx"}
    codecs = RTCRtpSender.getCapabilities(kind).codecs
    return [c for c in codecs if c.mimeType.lower() in wanted]


class IdleTrack(MediaStreamTrack):
    """The track of a subscriber-side sender: never yields, so nothing encodes."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._never: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def recv(self) -> object:  # type: ignore[override]
        await self._never
        raise AssertionError("unreachable")


class PeerTransport:
    def __init__(
        self,
        peer_id: str,
        configuration: RTCConfiguration,
        on_subscribe_offer: SubscribeOfferHandler,
        on_producer: ProducerHandler,
    ) -> None:
        self.peer_id = peer_id
        self.publisher = RTCPeerConnection(configuration)
        self.subscriber = RTCPeerConnection(configuration)
        self.producers: dict[str, Producer] = {}
        self.consumers: dict[str, Consumer] = {}  # by producer id
        self.slots: list[Slot] = []
        self.revision = 0
        self.closed = False
        self._on_subscribe_offer = on_subscribe_offer
        self._on_producer = on_producer
        self._pending_revision: int | None = None
        self._pending_consumers: list[Consumer] = []
        self._renegotiate = False
        self._negotiation: asyncio.Task[None] | None = None
        self._publish_lock = asyncio.Lock()
        self.publisher.on("track", self._on_track)

    # --- publisher connection ---------------------------------------------

    async def answer_publish(self, offer_sdp: str) -> str:
        """Apply a client's publisher offer and return the server's answer."""
        check_publish_offer(offer_sdp)
        async with self._publish_lock:
            if self.closed:
                raise MediaError(BAD_SDP, "the connection is closed")
            try:
                await self.publisher.setRemoteDescription(
                    RTCSessionDescription(sdp=offer_sdp, type="offer")
                )
            except (ValueError, KeyError, IndexError) as exc:
                raise MediaError(BAD_SDP, f"the offer was refused: {exc}") from None
            for transceiver in self.publisher.getTransceivers():
                restrict_codecs(transceiver, forwarded_codec_preferences(transceiver.kind))
            answer = await self.publisher.createAnswer()
            await self.publisher.setLocalDescription(answer)
            sdp: str = self.publisher.localDescription.sdp
            return sdp

    def _on_track(self, track: MediaStreamTrack) -> None:
        receiver = self._receiver_of(track)
        if receiver is None:
            return
        producer = Producer(f"p-{secrets.token_hex(6)}", self.peer_id, track.kind, receiver)
        self.producers[producer.id] = producer
        self._on_producer(self, producer)

    def _receiver_of(self, track: MediaStreamTrack) -> RTCRtpReceiver | None:
        for transceiver in self.publisher.getTransceivers():
            if transceiver.receiver.track is track:
                receiver: RTCRtpReceiver = transceiver.receiver
                return receiver
        return None

    # --- subscriber connection --------------------------------------------

    def consume(self, producer: Producer) -> Consumer:
        """Forward ``producer`` to this peer (after the next negotiation)."""
        slot = next((s for s in self.slots if s.kind == producer.kind and s.consumer is None), None)
        if slot is None:
            transceiver = self.subscriber.addTransceiver(IdleTrack(producer.kind), "sendonly")
            transceiver.setCodecPreferences(forwarded_codec_preferences(producer.kind))
            slot = Slot(transceiver, producer.kind)
            self.slots.append(slot)
        else:
            slot.transceiver.direction = "sendonly"
        consumer = Consumer(f"c-{secrets.token_hex(6)}", producer, slot)
        self.consumers[producer.id] = consumer
        producer.consumers.append(consumer)
        self._schedule_negotiation()
        return consumer

    def stop_consuming(self, producer_id: str) -> None:
        consumer = self.consumers.pop(producer_id, None)
        if consumer is None:
            return
        consumer.close()
        consumer.slot.transceiver.direction = "inactive"
        self._schedule_negotiation()

    def _schedule_negotiation(self) -> None:
        if self.closed:
            return
        if self._pending_revision is not None or self._negotiation is not None:
            self._renegotiate = True
            return
        self._negotiation = asyncio.ensure_future(self._negotiate())

    async def _negotiate(self) -> None:
        try:
            # Taken before the offer: a consumer added while it is being made
            # waits for the next revision (``_renegotiate`` is set meanwhile).
            consumers = [s.consumer for s in self.slots if s.consumer is not None]
            offer = await self.subscriber.createOffer()
            await self.subscriber.setLocalDescription(offer)
            self.revision += 1
            self._pending_revision = self.revision
            self._pending_consumers = [c for c in consumers if not c.closed]
            streams = [
                StreamMapping(c.slot.mid or "", c.producer.id, c.producer.owner, c.kind)
                for c in self._pending_consumers
            ]
            sdp: str = self.subscriber.localDescription.sdp
            await self._on_subscribe_offer(sdp, self.revision, streams)
        except Exception:
            if not self.closed:
                logger.exception("subscriber negotiation failed for %s", self.peer_id)
        finally:
            self._negotiation = None

    async def apply_subscribe_answer(self, answer_sdp: str, revision: int) -> None:
        if revision != self._pending_revision:
            raise MediaError(
                STALE_REVISION,
                f"revision {revision} is not the pending offer "
                f"({self._pending_revision if self._pending_revision is not None else 'none'})",
            )
        try:
            await self.subscriber.setRemoteDescription(
                RTCSessionDescription(sdp=answer_sdp, type="answer")
            )
        except (ValueError, KeyError, IndexError) as exc:
            raise MediaError(BAD_SDP, f"the answer was refused: {exc}") from None
        self._pending_revision = None
        for consumer in self._pending_consumers:
            codecs = negotiated_codecs(consumer.slot.transceiver)
            if codecs and not consumer.closed:
                consumer.slot.payload_type = codecs[0].payloadType
                consumer.negotiated = True
        self._pending_consumers = []
        if self._renegotiate:
            self._renegotiate = False
            self._schedule_negotiation()

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._negotiation is not None:
            self._negotiation.cancel()
        for consumer in list(self.consumers.values()):
            consumer.close()
        self.consumers.clear()
        for producer in self.producers.values():
            producer.close()
        await asyncio.gather(self.publisher.close(), self.subscriber.close())

    def transceivers(self) -> list[RTCRtpTransceiver]:
        return [*self.publisher.getTransceivers(), *self.subscriber.getTransceivers()]
