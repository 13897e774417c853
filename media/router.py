"""Router: the media of one conference, who publishes and who receives what.

Every peer consumes every other peer's producers of the kinds it receives (a
publish-only peer receives none), except those the layer above keeps for
feeds (``direct``: an interpreter's microphone reaches listeners only as a
channel, see ``PeerTransport.feed``); whether a producer is heard is decided
above (``Producer.pause``/``resume``), not by renegotiating.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from aiortc import RTCBundlePolicy, RTCConfiguration, RTCIceServer

from .aiortc_hooks import decoder_running, encoder_created, use_udp_mux
from .producer import Producer
from .transport import ALL_KINDS, PeerTransport, SubscribeOfferHandler
from .udp_mux import UdpMux

ProducerListener = Callable[[Producer], None]
ProducerFilter = Callable[[Producer], bool]


def rtc_configuration(ice_servers: Sequence[RTCIceServer] = ()) -> RTCConfiguration:
    """No public STUN server unless configured; one bundled transport per connection."""
    return RTCConfiguration(iceServers=list(ice_servers), bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


class Router:
    def __init__(
        self, ice_servers: Sequence[RTCIceServer] = (), udp_mux: UdpMux | None = None
    ) -> None:
        self._configuration_servers = list(ice_servers)
        # One-port mode: every connection's media on this shared socket.
        self.udp_mux = udp_mux
        self.peers: dict[str, PeerTransport] = {}
        self.producers: dict[str, Producer] = {}
        self.on_producer_added: ProducerListener | None = None
        self.on_producer_removed: ProducerListener | None = None
        # Whether a producer goes to every other peer; the others only reach feeds.
        self.direct: ProducerFilter = lambda producer: True

    def create_transport(
        self,
        peer_id: str,
        on_subscribe_offer: SubscribeOfferHandler,
        receives: frozenset[str] = ALL_KINDS,
    ) -> PeerTransport:
        """A peer's connections; it is sent the producers of the kinds it ``receives``."""
        if peer_id in self.peers:
            raise ValueError(f"peer {peer_id} already has a transport")
        transport = PeerTransport(
            peer_id,
            rtc_configuration(self._configuration_servers),
            on_subscribe_offer,
            self._producer_added,
            receives,
            self._producer_gone,
        )
        if self.udp_mux is not None:
            # Before any negotiation creates the connections' ICE transports.
            for connection in (transport.publisher, transport.subscriber):
                if connection is not None:
                    use_udp_mux(connection, self.udp_mux)
        self.peers[peer_id] = transport
        for producer in self.producers.values():
            if self.direct(producer) and producer.kind in receives:
                transport.consume(producer)
        return transport

    def _producer_added(self, owner: PeerTransport, producer: Producer) -> None:
        self.producers[producer.id] = producer
        if self.direct(producer):
            for peer in self.peers.values():
                if peer is not owner and producer.kind in peer.receives:
                    peer.consume(producer)
        if self.on_producer_added is not None:
            self.on_producer_added(producer)

    def _producer_gone(self, owner: PeerTransport, producer: Producer) -> None:
        """A producer ended while its owner stays (not continued on a new connection)."""
        self.producers.pop(producer.id, None)
        for peer in self.peers.values():
            if peer is not owner:
                peer.stop_consuming(producer.id)
        if self.on_producer_removed is not None:
            self.on_producer_removed(producer)

    def withdraw(self, producer: Producer) -> None:
        """Stop forwarding ``producer`` to anyone; its publisher may go on sending.

        The producer stays its publisher's (its m-line is still negotiated),
        paused, outside the conference until :meth:`restore`.
        """
        if self.producers.pop(producer.id, None) is None:
            return
        producer.pause()
        for peer in self.peers.values():
            peer.stop_consuming(producer.id)
        if self.on_producer_removed is not None:
            self.on_producer_removed(producer)

    def restore(self, producer: Producer) -> None:
        """Forward a withdrawn producer again, as if just published."""
        owner = self.peers.get(producer.owner)
        if owner is None or owner.closed or producer.id in self.producers:
            return
        producer.resume()
        self._producer_added(owner, producer)

    async def close_transport(self, peer_id: str) -> None:
        transport = self.peers.pop(peer_id, None)
        if transport is None:
            return
        for producer in transport.producers.values():
            if self.producers.pop(producer.id, None) is None:
                continue  # withdrawn: already gone for everyone
            for peer in self.peers.values():
                peer.stop_consuming(producer.id)
            if self.on_producer_removed is not None:
                self.on_producer_removed(producer)
        await transport.close()

    async def close(self) -> None:
        await asyncio.gather(*(self.close_transport(p) for p in list(self.peers)))

    def producers_of(self, owner: str) -> list[Producer]:
        return [p for p in self.producers.values() if p.owner == owner]

    def codec_activity(self) -> tuple[int, int]:
        """(decoder threads running, encoders created) among the server's own
        receivers and senders: both stay 0, the SFU forwards without transcoding."""
        decoders = encoders = 0
        for peer in self.peers.values():
            for transceiver in peer.transceivers():
                decoders += decoder_running(transceiver.receiver)
                encoders += encoder_created(transceiver.sender)
        return decoders, encoders
