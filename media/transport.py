"""PeerTransport: a participant's two peer connections with the SFU.

The client offers on the publisher connection and the server answers; the
server offers on the subscriber connection and renegotiates it as consumers
come and go. One side always offers on each connection: no glare.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import struct
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

from . import rtcp
from .aiortc_hooks import (
    MediaSocket,
    negotiated_codecs,
    quiet_rtcp,
    receiver_rtx_ssrcs,
    restrict_codecs,
    route_unknown_ssrc,
    skip_decoder,
)
from .consumer import Consumer, Slot
from .errors import BAD_SDP, INVALID_ARGUMENT, LIMIT_REACHED, STALE_REVISION, MediaError
from .producer import SCREEN, Producer
from .sdp import FORWARDED_CODECS, check_publish_offer, with_opus_parameters

if TYPE_CHECKING:
    from aiortc import RTCRtpReceiver
    from aiortc.sdp import MediaDescription

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StreamMapping:
    """What one active m-line of a subscriber connection carries."""

    mid: str
    producer_id: str
    owner: str
    kind: str
    source: str | None = None  # SCREEN for a screen share


SubscribeOfferHandler = Callable[[str, int, list[StreamMapping]], Awaitable[None]]
ProducerHandler = Callable[["PeerTransport", Producer], None]
# A publisher's incoming SSRC: the producer's packet handler and whether it is RTX.
Route = tuple[Callable[[bytes, bool], None], bool, Producer]

MAX_TRACKS = 4  # media sections one publisher connection may hold (camera, mic, screen...)
RTCP_INTERVAL = 1.0  # seconds, randomised by +-25 %
MAX_RTCP_DATAGRAM = 1100  # bytes of plain RTCP per compound packet
_SSRC = struct.Struct("!I")


def forwarded_codec_preferences(kind: str) -> list[RTCRtpCodecCapability]:
    """VP8 with its RTX, or Opus: the one codec per kind forwarded on both legs."""
    wanted = {FORWARDED_CODECS[kind].lower(), f"{kind}/rtx"}
    codecs = RTCRtpSender.getCapabilities(kind).codecs
    return [c for c in codecs if c.mimeType.lower() in wanted]


def _mapping(consumer: Consumer) -> StreamMapping:
    producer = consumer.producer
    return StreamMapping(
        consumer.slot.mid or "", producer.id, producer.owner, consumer.kind, producer.source
    )


def _reason(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


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
        self.feeds: dict[str, Slot] = {}  # by feed name
        # Opus parameters asked of this publisher in the server's answers.
        self.opus_parameters: dict[str, str] = {}
        self.revision = 0
        self.closed = False
        self._on_subscribe_offer = on_subscribe_offer
        self._on_producer = on_producer
        self._pending_revision: int | None = None
        self._pending_consumers: list[Consumer] = []
        self._renegotiate = False
        self._negotiation: asyncio.Task[None] | None = None
        self._publish_lock = asyncio.Lock()
        self._published_mids: set[str] = set()
        self._share_mids: set[str] = set()  # mids ever named as a screen share
        self._max_tracks = MAX_TRACKS
        self.publisher.on("track", self._on_track)
        # Media bypasses aiortc's RTP stack: see MediaSocket.
        self.publisher_socket = MediaSocket(
            self.publisher, self._on_publisher_rtp, self._on_publisher_rtcp
        )
        self.subscriber_socket = MediaSocket(
            self.subscriber, self._on_subscriber_rtp, self._on_subscriber_rtcp
        )
        self._routes: dict[int, Route] = {}
        self._unroutable: set[int] = set()
        self._slot_by_ssrc: dict[int, Slot] = {}
        self._rtcp_task = asyncio.ensure_future(self._rtcp_loop())

    # --- publisher connection ---------------------------------------------

    async def answer_publish(
        self, offer_sdp: str, max_tracks: int = MAX_TRACKS, share: str | None = None
    ) -> str:
        """Apply a client's publisher offer and return the server's answer.

        At most ``max_tracks`` mids are ever published on it, counting those of
        earlier offers: offers with fresh mids cannot pile up producers.
        ``share`` names the mid of a screen share: its producer is a SCREEN,
        for good (a mid published as a camera never becomes a share, nor the
        reverse).
        """
        description = check_publish_offer(offer_sdp)
        async with self._publish_lock:
            if self.closed:
                raise MediaError(BAD_SDP, "the connection is closed")
            offered = {m.rtp.muxId: m for m in description.media}
            if share is not None:
                self._check_share(share, offered)
            mids = self._published_mids | set(offered)
            if len(mids) > max_tracks:
                raise MediaError(
                    LIMIT_REACHED,
                    f"at most {max_tracks} media sections may be published "
                    f"({len(mids)} with this offer)",
                )
            self._max_tracks = max_tracks
            if share is not None:
                self._share_mids.add(share)
            try:
                await self.publisher.setRemoteDescription(
                    RTCSessionDescription(sdp=offer_sdp, type="offer")
                )
                for transceiver in self.publisher.getTransceivers():
                    restrict_codecs(transceiver, forwarded_codec_preferences(transceiver.kind))
                answer = await self.publisher.createAnswer()
                await self.publisher.setLocalDescription(answer)
            except Exception as exc:  # aiortc raises whatever the offer triggers
                raise MediaError(BAD_SDP, f"the offer was refused: {_reason(exc)}") from None
            self._published_mids = mids
            self.publisher_socket.attach()
            self._unroutable.clear()
            sdp: str = self.publisher.localDescription.sdp
            return with_opus_parameters(sdp, self.opus_parameters)

    def _check_share(self, mid: str, offered: dict[str, MediaDescription]) -> None:
        section = offered.get(mid)
        if section is None or section.kind != "video":
            raise MediaError(INVALID_ARGUMENT, f"share {mid!r} is not a video section of the offer")
        if section.direction not in ("sendonly", "sendrecv"):
            raise MediaError(INVALID_ARGUMENT, f"the share section {mid!r} sends nothing")
        if mid in self._published_mids and mid not in self._share_mids:
            raise MediaError(INVALID_ARGUMENT, f"mid {mid!r} is published as a camera already")

    def producer_of_mid(self, mid: str) -> Producer | None:
        """The producer published on the section ``mid``, if any."""
        for transceiver in self.publisher.getTransceivers():
            if transceiver.mid == mid:
                track = transceiver.receiver.track
                return next((p for p in self.producers.values() if p.receiver.track is track), None)
        return None

    def _on_track(self, track: MediaStreamTrack) -> None:
        receiver = self._receiver_of(track)
        if receiver is None or len(self.producers) >= self._max_tracks:
            return  # the quota holds whatever the WebRTC stack makes of an offer
        # Before aiortc starts the receiver: no RTCP task, no decoder work.
        quiet_rtcp(receiver)
        skip_decoder(receiver)
        producer = Producer(
            f"p-{secrets.token_hex(6)}",
            self.peer_id,
            track.kind,
            receiver,
            self.publisher_socket.send_rtcp,
        )
        if self._mid_of(receiver) in self._share_mids:
            producer.source = SCREEN
        self.producers[producer.id] = producer
        self._on_producer(self, producer)

    def _mid_of(self, receiver: RTCRtpReceiver) -> str | None:
        for transceiver in self.publisher.getTransceivers():
            if transceiver.receiver is receiver:
                mid: str | None = transceiver.mid
                return mid
        return None

    def _receiver_of(self, track: MediaStreamTrack) -> RTCRtpReceiver | None:
        for transceiver in self.publisher.getTransceivers():
            if transceiver.receiver.track is track:
                receiver: RTCRtpReceiver = transceiver.receiver
                return receiver
        return None

    # --- subscriber connection --------------------------------------------

    def consume(self, producer: Producer) -> Consumer:
        """Forward ``producer`` to this peer (after the next negotiation)."""
        slot = self._free_slot(producer.kind)
        consumer = Consumer(f"c-{secrets.token_hex(6)}", producer, slot)
        self.consumers[producer.id] = consumer
        producer.consumers.append(consumer)
        self._schedule_negotiation()
        return consumer

    def _free_slot(self, kind: str) -> Slot:
        """An inactive m-line of this kind made sendonly again, or a new one."""
        slot = next(
            (s for s in self.slots if s.kind == kind and s.consumer is None and s.feed is None),
            None,
        )
        if slot is None:
            transceiver = self.subscriber.addTransceiver(IdleTrack(kind), "sendonly")
            transceiver.setCodecPreferences(forwarded_codec_preferences(kind))
            slot = Slot(transceiver, kind, self.subscriber_socket)
            self.slots.append(slot)
            self._slot_by_ssrc[slot.ssrc] = slot
        else:
            slot.transceiver.direction = "sendonly"
        return slot

    # --- feeds: one outgoing audio stream whose source changes --------------------

    def open_feed(self, name: str) -> Slot:
        """A named audio m-line (negotiated once) that :meth:`feed` points at a producer."""
        slot = self.feeds.get(name)
        if slot is None:
            slot = self._free_slot("audio")
            slot.feed = name
            self.feeds[name] = slot
            self._schedule_negotiation()
        return slot

    def feed(self, name: str, producer: Producer | None) -> None:
        """Forward ``producer`` on the feed from its next packet (None: silence).

        No renegotiation: the m-line, its SSRC and SRTP stream stay; sequence
        numbers continue and the timestamp advances by the time the switch
        took (:class:`Slot`), so the subscriber hears one continuous stream.
        """
        slot = self.open_feed(name)
        current = slot.consumer
        if current is not None and current.producer is producer:
            return
        if current is not None:
            current.close()
        if producer is None or producer.closed:
            return
        consumer = Consumer(f"c-{secrets.token_hex(6)}", producer, slot)
        consumer.negotiated = True  # the slot's own negotiation is checked when it starts
        producer.consumers.append(consumer)
        producer.reroute()

    def feed_source(self, name: str) -> Producer | None:
        slot = self.feeds.get(name)
        return slot.consumer.producer if slot is not None and slot.consumer else None

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
            self.subscriber_socket.attach()
            self.revision += 1
            self._pending_revision = self.revision
            self._pending_consumers = [c for c in consumers if not c.closed]
            sdp: str = self.subscriber.localDescription.sdp
            await self._on_subscribe_offer(sdp, self.revision, self._pending_streams())
        except Exception:
            if not self.closed:
                logger.exception("subscriber negotiation failed for %s", self.peer_id)
        finally:
            self._negotiation = None

    async def resend_pending_offer(self) -> None:
        """Offer again what is waiting for an answer (the offer went to a dropped socket)."""
        description = self.subscriber.localDescription
        if self._pending_revision is None or self._negotiation is not None or description is None:
            return
        await self._on_subscribe_offer(
            description.sdp, self._pending_revision, self._pending_streams()
        )

    def _pending_streams(self) -> list[StreamMapping]:
        """What the offer waiting for an answer carries: consumers, then feeds."""
        streams = [_mapping(c) for c in self._pending_consumers if c.slot.feed is None]
        streams += [
            StreamMapping(slot.mid or "", f"feed:{name}", "interpretation", "audio")
            for name, slot in self.feeds.items()
        ]
        return streams

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
        except Exception as exc:  # aiortc raises whatever the answer triggers
            raise MediaError(BAD_SDP, f"the answer was refused: {_reason(exc)}") from None
        self._pending_revision = None
        self.subscriber_socket.attach()
        for consumer in self._pending_consumers:
            codecs = negotiated_codecs(consumer.slot.transceiver)
            if codecs and not consumer.closed:
                consumer.slot.negotiated(codecs[0].payloadType)
                consumer.negotiated = True
        self._pending_consumers = []
        for slot in self.feeds.values():
            if slot.payload_type is None and slot.mid is not None:
                codecs = negotiated_codecs(slot.transceiver)
                if codecs:
                    slot.negotiated(codecs[0].payloadType)
        if self._renegotiate:
            self._renegotiate = False
            self._schedule_negotiation()

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._rtcp_task.cancel()
        self.publisher_socket.ready = self.subscriber_socket.ready = False
        if self._negotiation is not None:
            self._negotiation.cancel()
        for consumer in list(self.consumers.values()):
            consumer.close()
        self.consumers.clear()
        for slot in self.feeds.values():
            if slot.consumer is not None:
                slot.consumer.close()
        for producer in self.producers.values():
            producer.close()
        await asyncio.gather(self.publisher.close(), self.subscriber.close())

    # --- media -----------------------------------------------------------------

    def _on_publisher_rtp(self, data: bytes) -> None:
        route = self._routes.get(_SSRC.unpack_from(data, 8)[0])
        if route is None:
            route = self._route(data)
            if route is None:
                return
        route[0](data, route[1])

    def _route(self, data: bytes) -> Route | None:
        """Find the producer of a new SSRC (slow path, once per SSRC)."""
        ssrc = _SSRC.unpack_from(data, 8)[0]
        if ssrc in self._unroutable:
            return None
        route: Route | None = None
        for candidate in self.producers.values():
            if ssrc in receiver_rtx_ssrcs(candidate.receiver):
                route = (candidate.on_rtp, True, candidate)
                break
        if route is None:
            receiver = route_unknown_ssrc(self.publisher_socket, data)
            producer = next((p for p in self.producers.values() if p.receiver is receiver), None)
            info = producer.info() if producer is not None else None
            if producer is not None and info is not None:
                payload_type = data[1] & 0x7F
                if payload_type in info.rtx_payload_types:
                    route = (producer.on_rtp, True, producer)
                elif payload_type in info.media_payload_types:
                    route = (producer.on_rtp, False, producer)
        if route is None:
            if len(self._unroutable) < 64:
                self._unroutable.add(ssrc)
            return None
        self._routes[ssrc] = route
        return route

    def _on_publisher_rtcp(self, data: bytes) -> None:
        for packet in rtcp.parse(data):
            if isinstance(packet, rtcp.SenderReport):
                route = self._routes.get(packet.ssrc)
                if route is not None and not route[1]:
                    route[2].on_sender_report(packet)

    def _on_subscriber_rtp(self, data: bytes) -> None:
        pass  # the subscriber connection is sendonly

    def _on_subscriber_rtcp(self, data: bytes) -> None:
        slots = self._slot_by_ssrc
        for packet in rtcp.parse(data):
            if isinstance(packet, rtcp.ReceiverReport | rtcp.SenderReport):
                for block in packet.blocks:
                    slot = slots.get(block.ssrc)
                    if slot is not None and slot.consumer is not None:
                        slot.consumer.on_report(block)
            elif isinstance(packet, rtcp.Nack):
                slot = slots.get(packet.media_ssrc)
                if slot is not None and slot.consumer is not None:
                    slot.consumer.on_nack(packet.sequences)
            elif isinstance(packet, rtcp.KeyframeRequest):
                for ssrc in packet.media_ssrcs:
                    slot = slots.get(ssrc)
                    if slot is not None and slot.consumer is not None:
                        slot.consumer.on_keyframe_request()
            elif isinstance(packet, rtcp.Remb):
                for ssrc in packet.ssrcs:
                    slot = slots.get(ssrc)
                    if slot is not None and slot.consumer is not None:
                        slot.consumer.on_remb(packet.bitrate)

    async def _rtcp_loop(self) -> None:
        """Batched reports: one compound packet per connection and interval."""
        while not self.closed:
            await asyncio.sleep(RTCP_INTERVAL * (0.75 + 0.5 * random.random()))
            try:
                self.send_reports()
            except Exception:
                logger.exception("RTCP reports failed for %s", self.peer_id)

    def send_reports(self) -> None:
        """Sender reports to the subscriber; receiver reports and REMB to the publisher."""
        if self.subscriber_socket.ready:
            reports: list[bytes] = []
            cname_of: tuple[int, str] | None = None
            for slot in self.slots:
                consumer = slot.consumer
                report = consumer.sender_report() if consumer is not None else None
                if report is not None:
                    reports.append(report)
                    if cname_of is None and slot.info is not None and slot.info.cname:
                        cname_of = (slot.ssrc, slot.info.cname)
            sdes = rtcp.sdes_cname(*cname_of) if cname_of is not None else b""
            batch = b""
            for report in reports:
                if len(batch) + len(report) + len(sdes) > MAX_RTCP_DATAGRAM:
                    self.subscriber_socket.send_rtcp(batch + sdes)
                    batch = b""
                batch += report
            if batch:
                self.subscriber_socket.send_rtcp(batch + sdes)
        if self.publisher_socket.ready and self.producers:
            producers = list(self.producers.values())
            infos = [p.info() for p in producers]
            sender = next((i.rtcp_ssrc for i in infos if i is not None and i.rtcp_ssrc), None)
            if sender is None:
                return
            blocks = [b for b in (p.report_block() for p in producers) if b is not None]
            data = rtcp.receiver_report(sender, blocks)
            for producer in producers:
                bitrate = producer.subscriber_bitrate() if producer.kind == "video" else None
                if bitrate is not None and producer.media_ssrc is not None:
                    data += rtcp.remb(sender, bitrate, [producer.media_ssrc])
            self.publisher_socket.send_rtcp(data)

    def transceivers(self) -> list[RTCRtpTransceiver]:
        return [*self.publisher.getTransceivers(), *self.subscriber.getTransceivers()]
