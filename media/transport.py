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
import time
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

from . import rtcp, simulcast
from .aiortc_hooks import (
    MediaSocket,
    negotiated_codecs,
    primary_payload_type,
    quiet_rtcp,
    receiver_rtx_ssrcs,
    red_payload_type,
    restrict_codecs,
    route_unknown_ssrc,
    skip_decoder,
)
from .consumer import Consumer, Slot
from .errors import BAD_SDP, INVALID_ARGUMENT, LIMIT_REACHED, STALE_REVISION, MediaError
from .producer import SCREEN, Producer
from .sdp import (
    FORWARDED_CODECS,
    OPUS_FEC,
    RED,
    check_publish_offer,
    offers_red,
    with_opus_parameters,
    with_red_parameters,
)
from .transport_cc import PublisherFeedback

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
    # A producer's audio: forwarded now (not paused); None for video and feeds.
    audible: bool | None = None
    source: str | None = None  # SCREEN for a screen share
    # A video: sent to this subscriber now (not held for its downlink or last-N).
    forwarded: bool | None = None


# (sdp, revision, streams, restart): ``restart`` is true for the first offer
# of a re-created subscriber connection.
SubscribeOfferHandler = Callable[[str, int, list[StreamMapping], bool], Awaitable[None]]
ProducerHandler = Callable[["PeerTransport", Producer], None]
# A publisher's incoming SSRC: the producer's packet handler and whether it is RTX.
Route = tuple[Callable[[bytes, bool], None], bool, Producer]

ALL_KINDS = frozenset({"audio", "video"})
MAX_TRACKS = 4  # media sections one publisher connection may hold (camera, mic, screen...)
RTCP_INTERVAL = 1.0  # seconds, randomised by +-25 %
MAX_RTCP_DATAGRAM = 1100  # bytes of plain RTCP per compound packet
# Seconds a re-created subscriber connection may take to connect once answered
# before it is re-created again: while the network is still down, each try
# ends here (aioice would retransmit its checks for a minute, ever more
# slowly); once it is back, the next try connects at once.
ATTEMPT_TIMEOUT = 4.0
_SSRC = struct.Struct("!I")


def forwarded_codec_preferences(kind: str, red: bool = False) -> list[RTCRtpCodecCapability]:
    """VP8 with its RTX, or Opus: the one codec per kind forwarded on both legs.

    ``red``: RED (RFC 2198) around Opus too, listed first: a browser sends
    RED only when the answer it gets puts it before Opus.
    """
    wanted = {FORWARDED_CODECS[kind].lower(), f"{kind}/rtx"}
    codecs = RTCRtpSender.getCapabilities(kind).codecs
    chosen = [c for c in codecs if c.mimeType.lower() in wanted]
    if red and kind == "audio":
        chosen = [c for c in codecs if c.mimeType.lower() == RED] + chosen
    return chosen


def _mapping(consumer: Consumer) -> StreamMapping:
    producer = consumer.producer
    return StreamMapping(
        consumer.slot.mid or "",
        producer.id,
        producer.owner,
        consumer.kind,
        audible=not producer.paused if consumer.kind == "audio" else None,
        source=producer.source,
        forwarded=not consumer.held if consumer.kind == "video" else None,
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


def connection_bitrate(bitrates: list[int | None]) -> int | None:
    """The REMB to send a publisher for all its videos, from each one's
    (``Producer.subscriber_bitrate``; None: nothing limits it).

    A browser applies a REMB to its whole connection, whatever SSRCs it
    lists: one REMB per video would cap the camera and a screen share
    together at whichever came last. So one REMB, the sum, and none as soon
    as one video is not limited (a simulcast camera, a video nobody receives).
    """
    if not bitrates or any(b is None for b in bitrates):
        return None
    return sum(b for b in bitrates if b is not None)


class PeerTransport:
    def __init__(
        self,
        peer_id: str,
        configuration: RTCConfiguration,
        on_subscribe_offer: SubscribeOfferHandler,
        on_producer: ProducerHandler,
        receives: frozenset[str] = ALL_KINDS,
        on_producer_gone: ProducerHandler | None = None,
    ) -> None:
        self.peer_id = peer_id
        # The kinds of media this peer is sent; none: publish-only, and no
        # subscriber connection at all.
        self.receives = receives
        self._configuration = configuration
        self.publisher = RTCPeerConnection(configuration)
        self.subscriber = RTCPeerConnection(configuration) if receives else None
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
        self._on_producer_gone = on_producer_gone
        self._pending_revision: int | None = None
        self._pending_consumers: list[Consumer] = []
        self._offered: list[Consumer] = []  # the consumers of the latest offer
        self._renegotiate = False
        self._negotiation: asyncio.Task[None] | None = None
        # The scheduled negotiation has taken its snapshot of the slots: a
        # later change needs another offer. Before that, it is in this one.
        self._offer_taken = False
        self._publish_lock = asyncio.Lock()
        self._published_mids: set[str] = set()
        self._share_mids: set[str] = set()  # mids ever named as a screen share
        self._max_tracks = MAX_TRACKS
        # Media bypasses aiortc's RTP stack: see MediaSocket.
        self.publisher_socket = self._attach_publisher(self.publisher)
        # Arrival times back to the publisher's estimator (transport-cc).
        self.publisher_feedback = PublisherFeedback(
            peer_id, self.publisher_socket.send_rtcp, self._feedback_ssrcs
        )
        self.subscriber_socket = (
            self._attach_subscriber(self.subscriber) if self.subscriber is not None else None
        )
        # Connections whose ICE failed and that are being re-created
        # ("publisher": by the client, "subscriber": by us).
        self.reconnecting: set[str] = set()
        # Connections re-created so far, each side (figures, monitoring).
        self.restarts = {"publisher": 0, "subscriber": 0}
        # When the client's RTCP last arrived on either connection (monotonic).
        self.heard_at: float | None = None
        self._restarting = False  # the next subscriber offer is for a new connection
        self._pending_restart = False  # the offer waiting for an answer is one
        self._attempt: asyncio.TimerHandle | None = None
        # Producers of a replaced publisher connection, waiting for their new track.
        self._orphans: list[Producer] = []
        self._mids: dict[str, str] = {}  # producer id -> its mid on the publisher connection
        self._retired: set[asyncio.Task[None]] = set()  # old connections closing
        self._routes: dict[int, Route] = {}
        # What the publisher's offers asked for each video mid (simulcast or not).
        self.simulcast: dict[str, simulcast.SimulcastSection] = {}
        self._unroutable: set[int] = set()
        self._slot_by_ssrc: dict[int, Slot] = {}
        self._rtcp_task = asyncio.ensure_future(self._rtcp_loop())

    # --- publisher connection ---------------------------------------------

    def _attach_publisher(self, connection: RTCPeerConnection) -> MediaSocket:
        connection.on("track", self._on_track)

        @connection.on("connectionstatechange")
        def changed() -> None:
            if connection is not self.publisher or self.closed:
                return
            if connection.connectionState == "connected":
                self.reconnecting.discard("publisher")
            elif connection.connectionState in ("failed", "closed"):
                # The client re-creates its publisher connection (publish.offer restart).
                self.reconnecting.add("publisher")

        return MediaSocket(connection, self._on_publisher_rtp, self._on_publisher_rtcp)

    def _replace_publisher(self) -> None:
        """A new publisher connection; the producers wait for its tracks (rebind)."""
        old = self.publisher
        self.publisher_socket.ready = False
        self.publisher = RTCPeerConnection(self._configuration)
        self.publisher_socket = self._attach_publisher(self.publisher)
        self.publisher_feedback.restart(self.publisher_socket.send_rtcp)
        self._orphans = [p for p in self.producers.values() if not p.closed]
        self._published_mids = set()
        self._routes.clear()
        self._unroutable.clear()
        self.restarts["publisher"] += 1
        self.reconnecting.add("publisher")
        self._retire(old)

    def _retire(self, connection: RTCPeerConnection) -> None:
        task = asyncio.ensure_future(connection.close())
        self._retired.add(task)
        task.add_done_callback(self._retired.discard)

    async def answer_publish(
        self,
        offer_sdp: str,
        max_tracks: int = MAX_TRACKS,
        share: str | None = None,
        restart: bool = False,
    ) -> str:
        """Apply a client's publisher offer and return the server's answer.

        At most ``max_tracks`` mids are ever published on it, counting those of
        earlier offers: offers with fresh mids cannot pile up producers.
        ``share`` names the mid of a screen share: its producer is a SCREEN,
        for good (a mid published as a camera never becomes a share, nor the
        reverse).

        ``restart``: the offer comes from a new connection that replaces a
        failed one (aiortc has no ICE restart): the server's side is
        re-created too, and the new tracks go on as the same producers, so
        subscribers keep their streams.
        """
        description = check_publish_offer(offer_sdp)
        async with self._publish_lock:
            if self.closed:
                raise MediaError(BAD_SDP, "the connection is closed")
            if restart and self.publisher.remoteDescription is not None:
                self._replace_publisher()
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
            # Before aiortc creates the producers of new sections (on_track).
            sections = simulcast.read_offer(offer_sdp)
            for mid, section in sections.items():
                known = self.simulcast.get(mid)
                producer = self.producer_of_mid(mid)
                if known is not None and producer is not None and known.rids != section.rids:
                    # A producer's layers are fixed when it is created: the
                    # section goes on as it was answered first.
                    section = known
                self.simulcast[mid] = section
            for mid in offered:
                if mid not in sections:
                    self.simulcast.pop(mid, None)
            try:
                await self.publisher.setRemoteDescription(
                    RTCSessionDescription(sdp=offer_sdp, type="offer")
                )
                for transceiver in self.publisher.getTransceivers():
                    media = offered.get(transceiver.mid or "")
                    red = media is not None and offers_red(media)
                    restrict_codecs(transceiver, forwarded_codec_preferences(transceiver.kind, red))
                answer = await self.publisher.createAnswer()
                await self.publisher.setLocalDescription(answer)
            except Exception as exc:  # aiortc raises whatever the offer triggers
                raise MediaError(BAD_SDP, f"the offer was refused: {_reason(exc)}") from None
            self._published_mids = mids
            self._drop_orphans()
            self.publisher_socket.attach()
            self._unroutable.clear()
            sdp: str = self.publisher.localDescription.sdp
            sdp = simulcast.answer(sdp, {m: self.simulcast[m] for m in sections})
            sdp = self.publisher_feedback.negotiate(offer_sdp, sdp)
            sdp = with_opus_parameters(sdp, {**OPUS_FEC, **self.opus_parameters})
            return with_red_parameters(sdp)

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
        found = self._receiver_of(track)
        if found is None:
            return
        receiver, mid = found
        orphan = self._orphan_for(track.kind, mid)
        if orphan is None and len(self.producers) >= self._max_tracks:
            return  # the quota holds whatever the WebRTC stack makes of an offer
        # Before aiortc starts the receiver: no RTCP task, no decoder work.
        quiet_rtcp(receiver)
        skip_decoder(receiver)
        if orphan is not None:
            orphan.rebind(receiver, self.publisher_socket.send_rtcp)
            self._mids[orphan.id] = mid
            return
        producer = Producer(
            f"p-{secrets.token_hex(6)}",
            self.peer_id,
            track.kind,
            receiver,
            self.publisher_socket.send_rtcp,
        )
        if mid in self._share_mids:
            producer.source = SCREEN
        section = self.simulcast.get(mid)
        if section is not None and section.layered:
            producer.simulcast(section.rids)
        self.producers[producer.id] = producer
        self._mids[producer.id] = mid
        self._on_producer(self, producer)

    def _drop_orphans(self) -> None:
        """Producers the new publisher connection did not continue end here."""
        orphans, self._orphans = self._orphans, []
        for producer in orphans:
            self.producers.pop(producer.id, None)
            self._mids.pop(producer.id, None)
            producer.close()
            if self._on_producer_gone is not None:
                self._on_producer_gone(self, producer)

    def _orphan_for(self, kind: str, mid: str) -> Producer | None:
        """The producer a re-created connection's track continues: same mid, else same kind."""
        candidates = [p for p in self._orphans if p.kind == kind]
        chosen = next((p for p in candidates if self._mids.get(p.id) == mid), None)
        chosen = chosen or next(iter(candidates), None)
        if chosen is not None:
            self._orphans.remove(chosen)
        return chosen

    def _receiver_of(self, track: MediaStreamTrack) -> tuple[RTCRtpReceiver, str] | None:
        for transceiver in self.publisher.getTransceivers():
            if transceiver.receiver.track is track:
                receiver: RTCRtpReceiver = transceiver.receiver
                return receiver, transceiver.mid or ""
        return None

    # --- subscriber connection --------------------------------------------

    def _subscribing(self) -> tuple[RTCPeerConnection, MediaSocket]:
        """The subscriber connection and its socket (a publish-only peer has none)."""
        if self.subscriber is None or self.subscriber_socket is None:
            raise ValueError(f"peer {self.peer_id} receives no media")
        return self.subscriber, self.subscriber_socket

    def _attach_subscriber(self, connection: RTCPeerConnection) -> MediaSocket:
        @connection.on("connectionstatechange")
        def changed() -> None:
            if connection is not self.subscriber or self.closed:
                return
            if connection.connectionState == "connected":
                self._cancel_attempt()
                self.reconnecting.discard("subscriber")
            elif connection.connectionState in ("failed", "closed"):
                self.restart_subscriber()

        return MediaSocket(connection, self._on_subscriber_rtp, self._on_subscriber_rtcp)

    def restart_subscriber(self) -> None:
        """Re-create the subscriber connection and offer it afresh (aiortc has no ICE restart).

        Every stream is offered again on new m-lines, feeds keep their
        sources; the offer says ``restart`` so that the client answers on a
        new peer connection too.
        """
        if self.closed or self.subscriber is None or self.subscriber_socket is None:
            return  # a publish-only peer has no subscriber connection
        self._cancel_attempt()
        producers = [c.producer for c in self.consumers.values()]
        # The layer chosen for each simulcast stream goes on in the new one.
        chosen = {c.producer.id: c.preferred_layer for c in self.consumers.values()}
        sources = {name: self.feed_source(name) for name in self.feeds}
        for consumer in [*self.consumers.values(), *(s.consumer for s in self.feeds.values())]:
            if consumer is not None:
                consumer.close()
        if self._negotiation is not None:
            self._negotiation.cancel()
            self._negotiation = None
        self.consumers, self.slots, self.feeds, self._slot_by_ssrc = {}, [], {}, {}
        self._pending_revision, self._pending_consumers = None, []
        self._renegotiate = False
        old = self.subscriber
        self.subscriber_socket.ready = False
        self.subscriber = RTCPeerConnection(self._configuration)
        self.subscriber_socket = self._attach_subscriber(self.subscriber)
        self.restarts["subscriber"] += 1
        self._restarting = True
        self._retire(old)
        for producer in producers:
            if not producer.closed:
                self.consume(producer).select_layer(chosen.get(producer.id, 0))
        for name, source in sources.items():
            self.open_feed(name)
            self.feed(name, source)
        # One offer carries them all (the first negotiation has not started yet).
        self._renegotiate = False
        if self.slots:
            self.reconnecting.add("subscriber")

    def _cancel_attempt(self) -> None:
        if self._attempt is not None:
            self._attempt.cancel()
            self._attempt = None

    def _attempt_expired(self, connection: RTCPeerConnection) -> None:
        """A re-created subscriber connection did not connect in time: try again."""
        self._attempt = None
        if connection is not self.subscriber or self.closed:
            return
        if connection.connectionState == "connected":
            return
        if connection.iceConnectionState == "completed":
            # ICE is through, DTLS still shaking hands: let it finish.
            self._attempt = asyncio.get_running_loop().call_later(
                ATTEMPT_TIMEOUT, self._attempt_expired, connection
            )
            return
        self.restart_subscriber()

    def consume(self, producer: Producer) -> Consumer:
        """Forward ``producer`` to this peer (after the next negotiation)."""
        if producer.kind not in self.receives:
            raise ValueError(f"peer {self.peer_id} receives no {producer.kind}")
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
            subscriber, socket = self._subscribing()
            transceiver = subscriber.addTransceiver(IdleTrack(kind), "sendonly")
            transceiver.setCodecPreferences(forwarded_codec_preferences(kind, red=True))
            slot = Slot(transceiver, kind, socket)
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

    @property
    def negotiating(self) -> bool:
        """An offer is being made, awaits its answer, or another one is due."""
        return self._negotiation is not None or self._pending_revision is not None

    def _schedule_negotiation(self) -> None:
        if self.closed:
            return
        if self._negotiation is not None and not self._offer_taken:
            return  # the offer about to be made includes this change: one offer per burst
        if self._pending_revision is not None or self._negotiation is not None:
            self._renegotiate = True
            return
        self._negotiation = asyncio.ensure_future(self._negotiate())

    async def _negotiate(self) -> None:
        try:
            # Taken before the offer: a consumer added while it is being made
            # waits for the next revision (``_renegotiate`` is set meanwhile).
            consumers = [s.consumer for s in self.slots if s.consumer is not None]
            self._offer_taken = True
            restart = self._restarting
            subscriber, socket = self._subscribing()
            offer = await subscriber.createOffer()
            await subscriber.setLocalDescription(offer)
            socket.attach()
            self.revision += 1
            self._pending_revision = self.revision
            self._pending_restart, self._restarting = restart, False
            self._pending_consumers = [c for c in consumers if not c.closed]
            self._offered = [c for c in self._pending_consumers if c.slot.feed is None]
            sdp = with_red_parameters(
                with_opus_parameters(subscriber.localDescription.sdp, OPUS_FEC)
            )
            await self._on_subscribe_offer(sdp, self.revision, self.streams(), restart)
        except Exception:
            if not self.closed:
                logger.exception("subscriber negotiation failed for %s", self.peer_id)
        finally:
            if self._negotiation is asyncio.current_task():  # not one a restart began since
                self._negotiation = None
            self._offer_taken = False

    async def resend_pending_offer(self) -> None:
        """Offer again what is waiting for an answer (the offer went to a dropped socket)."""
        if self.subscriber is None:
            return
        description = self.subscriber.localDescription
        if self._pending_revision is None or self._negotiation is not None or description is None:
            return
        await self._on_subscribe_offer(
            with_red_parameters(with_opus_parameters(description.sdp, OPUS_FEC)),
            self._pending_revision,
            self.streams(),
            self._pending_restart,
        )

    def streams(self) -> list[StreamMapping]:
        """What the m-lines of the latest offer carry, as they are now."""
        streams = [_mapping(c) for c in self._offered if not c.closed]
        streams += [
            StreamMapping(slot.mid, f"feed:{name}", "interpretation", "audio")
            for name, slot in self.feeds.items()
            if slot.mid is not None  # not offered yet
        ]
        return streams

    async def apply_subscribe_answer(self, answer_sdp: str, revision: int) -> None:
        if revision != self._pending_revision:
            raise MediaError(
                STALE_REVISION,
                f"revision {revision} is not the pending offer "
                f"({self._pending_revision if self._pending_revision is not None else 'none'})",
            )
        subscriber, socket = self._subscribing()
        try:
            await subscriber.setRemoteDescription(
                RTCSessionDescription(sdp=answer_sdp, type="answer")
            )
        except Exception as exc:  # aiortc raises whatever the answer triggers
            raise MediaError(BAD_SDP, f"the answer was refused: {_reason(exc)}") from None
        self._pending_revision = None
        if self._pending_restart:
            self._pending_restart = False
            self._cancel_attempt()
            self._attempt = asyncio.get_running_loop().call_later(
                ATTEMPT_TIMEOUT, self._attempt_expired, subscriber
            )
        socket.attach()
        for consumer in self._pending_consumers:
            codecs = negotiated_codecs(consumer.slot.transceiver)
            primary = primary_payload_type(codecs)
            if primary is not None and not consumer.closed:
                consumer.slot.negotiated(primary, red_payload_type(codecs))
                consumer.negotiated = True
        self._pending_consumers = []
        for slot in self.feeds.values():
            if slot.payload_type is None and slot.mid is not None:
                codecs = negotiated_codecs(slot.transceiver)
                primary = primary_payload_type(codecs)
                if primary is not None:
                    slot.negotiated(primary, red_payload_type(codecs))
        if self._renegotiate:
            self._renegotiate = False
            self._schedule_negotiation()

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._rtcp_task.cancel()
        self.publisher_feedback.close()
        self._cancel_attempt()
        self.publisher_socket.ready = False
        if self.subscriber_socket is not None:
            self.subscriber_socket.ready = False
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
        await asyncio.gather(
            *(c.close() for c in (self.publisher, self.subscriber) if c is not None),
            *self._retired,
        )

    # --- media -----------------------------------------------------------------

    def _on_publisher_rtp(self, data: bytes) -> None:
        self.publisher_feedback.on_rtp(data)
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
        route: Route | None = self._route_by_rid(data)
        for candidate in self.producers.values():
            if route is not None:
                break
            if ssrc in receiver_rtx_ssrcs(candidate.receiver):
                route = (candidate.on_rtp, True, candidate)
        if route is None:
            receiver = route_unknown_ssrc(self.publisher_socket, data)
            producer = next((p for p in self.producers.values() if p.receiver is receiver), None)
            if producer is not None and producer.layer_streams:
                producer = None  # a layer's packet without a known RID: not routable
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

    def _route_by_rid(self, data: bytes) -> Route | None:
        """The simulcast layer a packet's RID (or repaired RID, for RTX) names."""
        for producer in self.producers.values():
            if not producer.layer_streams or producer.closed:
                continue
            section = self.simulcast.get(self._mids.get(producer.id, ""))
            if section is None or section.rid_id is None:
                continue
            info = producer.info()
            if info is None:
                continue
            payload_type = data[1] & 0x7F
            if payload_type in info.media_payload_types:
                rid, rtx = simulcast.find_rid(data, section.rid_id), False
            elif payload_type in info.rtx_payload_types and section.repaired_rid_id:
                rid, rtx = simulcast.find_rid(data, section.repaired_rid_id), True
            else:
                continue
            for layer in producer.layer_streams:
                if rid is not None and layer.rid == rid:
                    return (layer.on_rtp, rtx, layer)
        return None

    def _on_publisher_rtcp(self, data: bytes) -> None:
        self.heard_at = time.monotonic()
        for packet in rtcp.parse(data):
            if isinstance(packet, rtcp.SenderReport):
                route = self._routes.get(packet.ssrc)
                if route is not None and not route[1]:
                    route[2].on_sender_report(packet)

    def _on_subscriber_rtp(self, data: bytes) -> None:
        pass  # the subscriber connection is sendonly

    def _on_subscriber_rtcp(self, data: bytes) -> None:
        self.heard_at = time.monotonic()
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
        """Sender reports to the subscriber; receiver reports and REMB to the publisher.

        Also, as often: each simulcast consumer re-aims at the best layer sent now.
        """
        for layered in self.consumers.values():
            if layered.producer.layer_streams:
                layered.refresh_layer()
        if self.subscriber_socket is not None and self.subscriber_socket.ready:
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
            producers = [s for p in self.producers.values() for s in p.streams()]
            # The publisher sends no receiver reports to time, but it is the
            # same client at the same address as this subscriber connection:
            # its round trip paces the NACK retries towards the publisher.
            rtt = self.round_trip()
            for producer in producers:
                producer.rtt = rtt
            infos = [p.info() for p in producers]
            sender = next((i.rtcp_ssrc for i in infos if i is not None and i.rtcp_ssrc), None)
            if sender is None:
                return
            blocks = [b for b in (p.report_block() for p in producers) if b is not None]
            data = rtcp.receiver_report(sender, blocks)
            videos = [p for p in self.producers.values() if p.kind == "video"]
            bitrate = connection_bitrate([p.subscriber_bitrate() for p in videos])
            ssrcs = [s.media_ssrc for p in videos for s in p.streams() if s.media_ssrc is not None]
            if bitrate is not None and ssrcs:
                data += rtcp.remb(sender, bitrate, ssrcs)
            self.publisher_socket.send_rtcp(data)

    def _feedback_ssrcs(self) -> tuple[int, int] | None:
        """Our RTCP SSRC on the publisher connection and one of its media SSRCs."""
        for producer in self.producers.values():
            info = producer.info()
            if info is not None and info.rtcp_ssrc and producer.media_ssrc is not None:
                return info.rtcp_ssrc, producer.media_ssrc
        return None

    def round_trip(self) -> float | None:
        """The client's round trip in seconds, from its subscriber receiver reports."""
        rtts = sorted(
            s.consumer.counters.rtt
            for s in self.slots
            if s.consumer is not None and s.consumer.counters.rtt is not None
        )
        return rtts[len(rtts) // 2] if rtts else None

    def transceivers(self) -> list[RTCRtpTransceiver]:
        subscribed = self.subscriber.getTransceivers() if self.subscriber is not None else []
        return [*self.publisher.getTransceivers(), *subscribed]
