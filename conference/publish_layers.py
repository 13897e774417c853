"""Tells each simulcast publisher which layers of its camera to send (dynacast).

The I/O shell around :mod:`media.layer_demand`: after every bandwidth
allocation (at once when the floor moves, and once a second) it reads what
the consumers of each simulcast camera ask for, updates that camera's
demand, records it on the producer (:meth:`media.producer.Producer.ask_layers`:
a layer paused this way stays a choice for the allocator, and a consumer
that aims at it has it resumed) and gives the ``publish.layers`` messages to
send: on a change, and again on a new signaling or publisher connection
(whose encodings start all active, or whose last message may have been
lost) or a new offer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from media.layer_demand import HOLD_DOWN, LayerDemand
from media.producer import Producer
from media.transport import PeerTransport
from signaling import PublishLayers

logger = logging.getLogger(__name__)


def recorded(producer: Producer) -> bool:
    """Whether a recording takes this camera: a recorder taps it through
    ``Producer.sinks``, the camera's or its layers' (conference/recording.py)."""
    return bool(producer.sinks) or any(layer.sinks for layer in producer.layer_streams)


def wanted_layers(
    producer: Producer, recording: Callable[[Producer], bool] = recorded, now: float | None = None
) -> set[int]:
    """The layers some consumer of the camera asks for or is still sent, and
    the top one while it is recorded; a consumer held for its subscriber alone
    (downlink, last-N) wants none.

    A layer asked for that does not arrive (not started yet, or left out by
    the publisher's own bandwidth estimate) is kept: stopping it would save
    nothing, and it is stopped like any other once it has arrived unwanted
    for the hold-down.
    """
    at = time.monotonic() if now is None else now
    wanted = {
        spatial
        for spatial, layer in enumerate(producer.layer_streams)
        if layer.requested and not layer.arriving(at)
    }
    if not producer.paused:
        for consumer in producer.consumers:
            if not consumer.closed and not consumer.held:
                wanted.update((consumer.preferred_layer, consumer.target_layer, consumer.layer))
    if recording(producer):
        # The top layer, and the one a recorder that follows the highest layer
        # sent would take while the top one does not come (media/recorder.py).
        layers = producer.layer_streams
        wanted.add(len(layers) - 1)
        wanted.add(max((i for i, layer in enumerate(layers) if layer.sending(at)), default=0))
    return wanted


@dataclass
class _Camera:
    demand: LayerDemand
    told: tuple[bool, ...] | None = None  # what the publisher was last told
    # The signaling connection, receiver and offered section it was told on:
    # a new one is told again.
    link: tuple[object, object, object] | None = None


class LayerRequests:
    """Every simulcast camera's demand, by producer id."""

    def __init__(
        self, hold_down: float = HOLD_DOWN, recording: Callable[[Producer], bool] = recorded
    ) -> None:
        self.hold_down = hold_down
        self._recording = recording
        self._cameras: dict[str, _Camera] = {}

    def update(
        self,
        transports: Mapping[str, PeerTransport],
        links: Mapping[str, object],
        now: float | None = None,
    ) -> list[tuple[str, PublishLayers]]:
        """The ``publish.layers`` to send, as (publisher's participant id, message).

        ``links``: each participant's signaling connection (any object that
        changes when the client reconnects). Never raises: this must not be
        in the way of the floor."""
        at = time.monotonic() if now is None else now
        try:
            return self._update(transports, links, at)
        except Exception:
            logger.exception("asking publishers for their layers failed")
            return []

    def _update(
        self, transports: Mapping[str, PeerTransport], links: Mapping[str, object], at: float
    ) -> list[tuple[str, PublishLayers]]:
        messages: list[tuple[str, PublishLayers]] = []
        seen: set[str] = set()
        for pid, transport in transports.items():
            for mid, section in list(transport.simulcast.items()):
                if not section.layered:
                    continue
                producer = transport.producer_of_mid(mid)
                if producer is None or producer.closed or not producer.layer_streams:
                    continue
                seen.add(producer.id)
                message = self._camera(
                    producer, mid, (links.get(pid), producer.receiver, section), at
                )
                if message is not None:
                    messages.append((pid, message))
        for gone in set(self._cameras) - seen:
            del self._cameras[gone]
        return messages

    def _camera(
        self, producer: Producer, mid: str, link: tuple[object, object, object], now: float
    ) -> PublishLayers | None:
        layers = producer.layer_streams
        camera = self._cameras.get(producer.id)
        if camera is None:
            camera = self._cameras[producer.id] = _Camera(LayerDemand(len(layers), self.hold_down))
        camera.demand.update(wanted_layers(producer, self._recording, now), now)
        sent = camera.demand.sent
        producer.ask_layers(sent, now)
        before, camera.link = camera.link, link
        if before is None:
            camera.told = (True,) * len(layers)  # a new encoder sends every layer
        elif before[0] is not link[0] or before[1] is not link[1]:
            camera.told = None  # a new connection: what the client sends is not known
        elif before[2] is not link[2] and camera.told is not None and not all(camera.told):
            camera.told = None  # a new offer (its section): tell it again what to leave off
        if sent == camera.told:
            return None
        camera.told = sent
        active = tuple(layer.rid or "" for layer, on in zip(layers, sent, strict=True) if on)
        logger.info(
            "%s asked to send layers %s of its camera",
            producer.owner,
            ",".join(active),
            extra={"participant": producer.owner},
        )
        return PublishLayers(mid, active)
