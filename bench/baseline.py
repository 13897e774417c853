"""The baseline Palabra is measured against: aiortc's MediaRelay.

:class:`RelayRouter` has the Router API the conference service uses, but
forwards the way aiortc supports out of the box: every published track is
decoded by its receiver, ``MediaRelay`` shares the decoded frames, and every
subscriber's sender encodes them again (VP8 and Opus). Only the benchmark
server uses it (``python -m bench.server --baseline``).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Sequence
from typing import Any

from aiortc import MediaStreamTrack, RTCConfiguration, RTCIceServer, RTCPeerConnection
from aiortc import RTCSessionDescription as SessionDescription
from aiortc.contrib.media import MediaRelay

from media.router import Router, rtc_configuration
from media.sdp import check_publish_offer
from media.transport import ALL_KINDS, ProducerHandler, StreamMapping, SubscribeOfferHandler
from media.transport import forwarded_codec_preferences as preferences

logger = logging.getLogger(__name__)


class RelayProducer:
    def __init__(self, producer_id: str, owner: str, kind: str, track: MediaStreamTrack) -> None:
        self.id = producer_id
        self.owner = owner
        self.kind = kind
        self.track = track
        self.relay = MediaRelay()
        self.consumers: list[RelayConsumer] = []
        self.paused = False
        self.closed = False

    def pause(self) -> None:
        self.paused = True  # the baseline measures cost, not floor control

    def resume(self) -> None:
        self.paused = False

    def request_keyframe(self) -> None:
        pass  # aiortc's receiver asks by itself when its decoder needs one

    def close(self) -> None:
        self.closed = True


class RelayConsumer:
    def __init__(self, producer: RelayProducer, transceiver: Any) -> None:
        self.id = f"c-{secrets.token_hex(6)}"
        self.producer = producer
        self.transceiver = transceiver
        self.closed = False

    @property
    def kind(self) -> str:
        return self.producer.kind


class RelayTransport:
    """A participant's two connections, aiortc's standard media pipeline on both."""

    receives = ALL_KINDS  # the baseline subscribes everyone to everything

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
        self.producers: dict[str, RelayProducer] = {}
        self.consumers: dict[str, RelayConsumer] = {}
        self.revision = 0
        self.closed = False
        self._on_subscribe_offer = on_subscribe_offer
        self._on_producer: Any = on_producer
        self._pending: int | None = None
        self._again = False
        self._negotiation: asyncio.Task[None] | None = None
        self.publisher.on("track", self._on_track)

    async def answer_publish(self, offer_sdp: str) -> str:
        check_publish_offer(offer_sdp)
        await self.publisher.setRemoteDescription(SessionDescription(offer_sdp, "offer"))
        for transceiver in self.publisher.getTransceivers():
            transceiver.setCodecPreferences(preferences(transceiver.kind))
        await self.publisher.setLocalDescription(await self.publisher.createAnswer())
        sdp: str = self.publisher.localDescription.sdp
        return sdp

    def _on_track(self, track: MediaStreamTrack) -> None:
        producer = RelayProducer(f"p-{secrets.token_hex(6)}", self.peer_id, track.kind, track)
        self.producers[producer.id] = producer
        self._on_producer(self, producer)

    def consume(self, producer: Any) -> RelayConsumer:
        track = producer.relay.subscribe(producer.track, buffered=False)
        transceiver = self.subscriber.addTransceiver(track, "sendonly")
        transceiver.setCodecPreferences(preferences(producer.kind))
        consumer = RelayConsumer(producer, transceiver)
        self.consumers[producer.id] = consumer
        producer.consumers.append(consumer)
        self._negotiate_soon()
        return consumer

    def stop_consuming(self, producer_id: str) -> None:
        consumer = self.consumers.pop(producer_id, None)
        if consumer is not None:
            consumer.closed = True
            consumer.transceiver.direction = "inactive"
            self._negotiate_soon()

    def _negotiate_soon(self) -> None:
        if self.closed:
            return
        if self._pending is not None or self._negotiation is not None:
            self._again = True
            return
        self._negotiation = asyncio.ensure_future(self._negotiate())

    async def _negotiate(self) -> None:
        try:
            await self.subscriber.setLocalDescription(await self.subscriber.createOffer())
            self.revision += 1
            self._pending = self.revision
            streams = [
                StreamMapping(c.transceiver.mid or "", c.producer.id, c.producer.owner, c.kind)
                for c in self.consumers.values()
            ]
            await self._on_subscribe_offer(
                self.subscriber.localDescription.sdp, self.revision, streams, False
            )
        except Exception:
            if not self.closed:
                logger.exception("baseline negotiation failed")
        finally:
            self._negotiation = None

    async def apply_subscribe_answer(self, answer_sdp: str, revision: int) -> None:
        if revision != self._pending:
            return
        await self.subscriber.setRemoteDescription(SessionDescription(answer_sdp, "answer"))
        self._pending = None
        if self._again:
            self._again = False
            self._negotiate_soon()

    async def close(self) -> None:
        self.closed = True
        await asyncio.gather(self.publisher.close(), self.subscriber.close())

    def transceivers(self) -> list[Any]:
        return [*self.publisher.getTransceivers(), *self.subscriber.getTransceivers()]


class RelayRouter(Router):
    """:class:`media.router.Router` with MediaRelay transports instead of forwarding."""

    def __init__(self, ice_servers: Sequence[RTCIceServer] = (), udp_mux: Any = None) -> None:
        # The baseline keeps aiortc's own sockets (no one-port mode).
        super().__init__(ice_servers)

    def create_transport(
        self,
        peer_id: str,
        on_subscribe_offer: SubscribeOfferHandler,
        receives: frozenset[str] = ALL_KINDS,
    ) -> Any:
        if peer_id in self.peers:
            raise ValueError(f"peer {peer_id} already has a transport")
        transport = RelayTransport(
            peer_id, rtc_configuration(), on_subscribe_offer, self._producer_added
        )
        self.peers[peer_id] = transport  # type: ignore[assignment]
        for producer in self.producers.values():
            transport.consume(producer)
        return transport
