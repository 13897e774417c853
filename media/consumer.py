"""Consumer: one producer forwarded to one subscriber, on a recycled slot."""

from __future__ import annotations

import random
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from . import red, rtcp
from .aiortc_hooks import MediaSocket, SenderInfo, quiet_rtcp, sender_info, sender_started
from .fastpath import NO_RED, Route
from .rtp import HEADER, MID_ID, extension_prefix
from .temporal import ALL, half_rate
from .vp8 import descriptor_fields, rewrite, temporal

if TYPE_CHECKING:
    from aiortc import RTCRtpTransceiver

    from .producer import CachedPacket, Producer

_pack = HEADER.pack
# Seconds a consumer waiting for a keyframe waits before asking again.
KEYFRAME_ASK_AGAIN = 1.0
# Sequence numbers a consumer remembers having been NACKed (the latest ones):
# a receiver asks again for a resend that was lost too, for a few hundred ms.
NACK_MEMORY = 1024
# One packet is resent at most RESEND_LIMIT times, RESEND_INTERVAL (or the
# round trip, if longer) apart. A receiver asks again every ~20 ms (Chromium,
# up to 10 times; aiortc on every packet, without end): answering each ask
# on a link that drops a third of its packets fills it with resends, and the
# floor's own packets are dropped for them (libwebrtc's sender waits a round
# trip between two resends of one packet, for the same reason).
RESEND_INTERVAL = 0.05
RESEND_LIMIT = 3
# A NACK older than this is forgotten: the sequence number, 16 bits, comes
# round again (minutes later) for another packet.
NACK_HORIZON = 5.0


class Slot:
    """A sendonly m-line of a subscriber connection.

    When its consumer closes, the m-line goes inactive and a later consumer of
    the same kind reuses it, so a long meeting does not grow the SDP. The
    outgoing sequence numbers continue across consumers: the subscriber sees
    one stream with no gap to ask retransmissions for.
    """

    def __init__(self, transceiver: RTCRtpTransceiver, kind: str, socket: MediaSocket) -> None:
        self.transceiver = transceiver
        self.kind = kind
        self.socket = socket
        self.consumer: Consumer | None = None
        self.payload_type: int | None = None  # Opus or VP8
        self.red_payload_type: int | None = None  # RED (RFC 2198), if the subscriber has it
        self.info: SenderInfo | None = None
        self.prefix = b""  # header extensions before the per-packet element
        self.rtx_sequence = random.randint(0, 0x7FFF)
        self.next_sequence = random.randint(0, 0x7FFF)
        self.last_timestamp = random.randint(0, 0xFFFFFFFF)
        # VP8: the picture id and TL0PICIDX the next source continues from
        # (None until a source ran: the first one keeps its own).
        self.next_picture_id: int | None = None
        self.next_tl0picidx: int | None = None
        self.ssrc: int = transceiver.sender._ssrc
        # A named feed (e.g. an interpretation channel): its source producer changes
        # without renegotiation, inside one outgoing stream.
        self.feed: str | None = None
        self.suspended_at: float | None = None  # time.monotonic() of the last switch away
        # The source changed inside this stream (a publisher reconnected): the
        # clock advances by the time that passed, as for a feed's switch.
        self.continued = False
        # The SFU writes the reports of this sender itself, batched.
        quiet_rtcp(transceiver.sender)

    @property
    def mid(self) -> str | None:
        mid: str | None = self.transceiver.mid
        return mid

    @property
    def started(self) -> bool:
        return sender_started(self.transceiver.sender)

    def negotiated(self, payload_type: int, red_payload_type: int | None = None) -> None:
        """The subscriber accepted an offer that maps this slot."""
        self.payload_type = payload_type
        self.red_payload_type = red_payload_type
        self.info = None

    def prepare(self) -> None:
        """Read what the started sender negotiated and build the extension prefix.

        The server offers and an answer keeps the offered extension ids (RFC
        8285), so every subscriber has the ids of :mod:`media.rtp`; a receiver
        that did not accept one ignores that element.
        """
        info = self.info = sender_info(self.transceiver.sender)
        self.ssrc = info.ssrc
        mid_id = info.extension_ids[0]
        self.prefix = extension_prefix(self.mid if mid_id == MID_ID else None, 4)


def _step(slot: Slot) -> int:
    """How far the subscriber's clock moves between two sources of one slot.

    A feed's switch (an interpreters' handover) or a publisher's new
    connection advances it by the time that passed, at least one 20 ms Opus
    frame: the subscriber's jitter buffer sees a continuous stream, not a
    jump. Other slots keep their fixed step.
    """
    if (slot.feed is None and not slot.continued) or slot.suspended_at is None:
        return 3000
    rate = 48000 if slot.kind == "audio" else 90000
    elapsed = time.monotonic() - slot.suspended_at
    return max(960, min(int(elapsed * rate), 0x7FFFFFFF))


class ConsumerCounters:
    """Plain counters kept by the forwarder and the subscriber's RTCP; read only.

    - sent: ``packets``, ``bytes`` (payload), ``frames`` (video: marker bits;
      audio: packets), ``dropped_before_keyframe``. The first three are derived
      from the producer's forwarded totals while the consumer runs (a running
      consumer is sent every packet; at a lower temporal target, every packet
      of its target: media/temporal.py), so the hot path adds nothing per
      subscriber;
    - feedback: ``nacks_received`` (sequence numbers asked for),
      ``nacked_first`` (distinct sequence numbers asked for the first time:
      packets lost on the way, however often their resends are asked for
      again), ``retransmitted`` (answered from the SFU's cache), ``retransmit_misses``
      (no longer cached), ``keyframe_requests`` (PLI/FIR received);
    - from the subscriber's receiver reports: ``fraction_lost`` (/256),
      ``cumulative_lost``, ``jitter`` (clock units), ``rtt`` (seconds, from
      LSR/DLSR against our sender reports), ``remb`` (bits per second) and
      ``remb_at`` (``time.monotonic()``), ``report_at``.
    """

    __slots__ = (
        "_asked",
        "_asked_order",
        "_base",
        "_mark",
        "_producer",
        "cumulative_lost",
        "dropped_before_keyframe",
        "fraction_lost",
        "jitter",
        "keyframe_requests",
        "nacked_first",
        "nacks_received",
        "red",
        "remb",
        "remb_at",
        "report_at",
        "resends_declined",
        "retransmit_misses",
        "retransmitted",
        "rtt",
        "temporal",
    )

    FIELDS = (
        "packets",
        "bytes",
        "frames",
        "dropped_before_keyframe",
        "nacks_received",
        "retransmitted",
        "retransmit_misses",
        "keyframe_requests",
        "fraction_lost",
        "cumulative_lost",
        "jitter",
        "rtt",
        "remb",
        "remb_at",
        "report_at",
    )

    def __init__(self, producer: Producer) -> None:
        self._producer = producer
        self._base = (0, 0, 0)  # packets, bytes, frames of earlier runs
        self._mark: tuple[int, int, int] | None = None  # producer totals at start
        # The subscriber takes RED: sent the RED packets' bytes, not only their primary block.
        self.red = False
        # The route's temporal target: at a lower one it is sent fewer packets.
        self.temporal = ALL
        self.dropped_before_keyframe = 0
        self.nacks_received = 0
        self.nacked_first = 0
        # The sequence numbers NACKed lately (set on the first NACK: most
        # consumers never see one): when last resent and how often; oldest
        # first in the deque.
        self._asked: dict[int, tuple[float, int]] | None = None
        self._asked_order: deque[int] = deque()
        self.resends_declined = 0  # asks not answered: a resend was on its way, or enough
        self.retransmitted = 0
        self.retransmit_misses = 0
        self.keyframe_requests = 0
        self.fraction_lost = 0
        self.cumulative_lost = 0
        self.jitter = 0
        self.rtt: float | None = None
        self.remb: int | None = None
        self.remb_at = 0.0
        self.report_at: float | None = None

    def _totals(self) -> tuple[int, int, int]:
        producer = self._producer
        if self.temporal < ALL:
            return producer.thinning.forwarded(self.temporal)
        packets, octets, frames = producer.forwarded
        return packets, octets if self.red else producer.plain_bytes, frames

    def _sent(self) -> tuple[int, int, int]:
        mark = self._mark
        if mark is None:
            return self._base
        now = self._totals()
        return (
            self._base[0] + now[0] - mark[0],
            self._base[1] + now[1] - mark[1],
            self._base[2] + now[2] - mark[2],
        )

    def at_temporal(self, level: int) -> None:
        """Accrue from now on what routes of temporal target ``level`` are sent."""
        if level != self.temporal:
            running = self._mark is not None
            self.running(False)
            self.temporal = level
            self.running(running)

    def follow(self, producer: Producer) -> None:
        """Accrue from now on what ``producer`` (another simulcast layer) forwards."""
        self.running(False)
        self._producer = producer

    def running(self, running: bool) -> None:
        """Start or stop accruing the producer's forwarded totals."""
        if running and self._mark is None:
            self._mark = self._totals()
        elif not running and self._mark is not None:
            self._base = self._sent()
            self._mark = None

    @property
    def packets(self) -> int:
        return self._sent()[0]

    @property
    def bytes(self) -> int:
        return self._sent()[1]

    @property
    def frames(self) -> int:
        return self._sent()[2]

    def nacked(self, sequences: tuple[int, ...], now: float) -> list[int]:
        """The subscriber asked for ``sequences`` (once per NACK, not per
        packet): those to resend now (see ``RESEND_INTERVAL``)."""
        self.nacks_received += len(sequences)
        asked = self._asked
        if asked is None:
            asked = self._asked = {}
        order = self._asked_order
        interval = max(RESEND_INTERVAL, self.rtt or 0.0)
        resend = []
        for seq in sequences:
            before = asked.get(seq)
            if before is not None and now - before[0] > NACK_HORIZON:
                before = None  # another packet under the same number (still in order)
                self.nacked_first += 1
            elif before is None:
                self.nacked_first += 1
                order.append(seq)
                if len(order) > NACK_MEMORY:
                    asked.pop(order.popleft(), None)
            elif now - before[0] < interval or before[1] >= RESEND_LIMIT:
                # Asked again while its resend is on its way, or resent enough.
                self.resends_declined += 1
                continue
            asked[seq] = (now, 1 if before is None else before[1] + 1)
            resend.append(seq)
        return resend

    def as_dict(self) -> dict[str, float | int | None]:
        return {name: getattr(self, name) for name in self.FIELDS}


class Consumer:
    """Rewrites a producer's packets for one subscriber and sends them.

    Only the RTP header changes (SSRC, payload type, sequence number,
    timestamp, header extensions) and, after a switch of source, the VP8
    picture id and TL0PICIDX; the payload is otherwise the publisher's bytes,
    protected with the subscriber connection's SRTP session and written to
    its socket. Video starts at a keyframe, asked for as soon as the
    subscriber can receive. NACKs are answered from the producer's cache (as
    RTX when negotiated), PLI/FIR go to the producer's coalesced requests,
    receiver reports and REMB land in ``counters`` (:class:`ConsumerCounters`).

    Of a simulcast producer it reads one layer (``source``), the lowest
    until :meth:`select_layer` says otherwise; a switch happens at a
    keyframe of the target layer, asked for, and the subscriber sees one
    continuous stream (sequence numbers, timestamps, picture ids).
    """

    def __init__(self, consumer_id: str, producer: Producer, slot: Slot) -> None:
        self.id = consumer_id
        self.producer = producer
        # The producer, or the simulcast layer it reads now.
        self.source = producer.layer_streams[0] if producer.layer_streams else producer
        if self.source is not producer:
            self.source.consumers.append(self)
        self._target = 0
        self._preferred = 0  # the layer asked for; _target: the best one being sent
        # Temporal layers (media/temporal.py): the highest TID the route is sent
        # now, the one asked for, and whether at half the frame rate.
        self._temporal = ALL
        self._temporal_wanted = ALL
        self._half_rate = False
        self.slot = slot
        self.counters = ConsumerCounters(self.source)
        self.closed = False
        # Set once the subscriber accepted an offer that maps the slot to us.
        self.negotiated = False
        self._running = False  # offsets known and media flowing
        self._socket = slot.socket
        self._sequence_offset = 0
        self._timestamp_offset: int | None = None
        self._picture_offset = 0
        self._tl0_offset = 0
        self._first_sequence = 0  # the first sequence number sent from this source
        self._audio = producer.kind == "audio"
        self._waiting_keyframe = not self._audio
        # When this consumer last asked for a keyframe (monotonic); None: not yet.
        self._keyframe_asked: float | None = None
        self._b1 = 0  # payload type; the marker bit is or-ed in per packet
        self._red_b1 = NO_RED  # RED's, NO_RED: RED packets go as their primary block
        self._ssrc = 0
        self._prefix = b""
        self._context: Any = None
        self._lsr = 0
        self._sr_sent_at = 0.0
        # Left out for this subscriber alone (its downlink, last-N): not sent
        # while set, whether the producer is paused or not.
        self.held = False
        slot.consumer = self

    @property
    def kind(self) -> str:
        return self.producer.kind

    @property
    def started(self) -> bool:
        """True once the subscriber is being sent media."""
        return self._running

    @property
    def layer(self) -> int:
        """The simulcast layer forwarded now (0: the lowest; 0 without simulcast)."""
        layers = self.producer.layer_streams
        return layers.index(self.source) if self.source in layers else 0

    @property
    def preferred_layer(self) -> int:
        """The layer :meth:`select_layer` asked for."""
        return self._preferred

    @property
    def target_layer(self) -> int:
        """The layer being switched to (:attr:`layer` once there)."""
        return self._target

    def select_layer(self, spatial: int) -> None:
        """Forward simulcast layer ``spatial`` (clamped to the producer's layers).

        The target is the highest layer at most ``spatial`` that the publisher
        sends now (a browser turns its upper layers off when its bandwidth
        estimate is low), re-checked by :meth:`refresh_layer`. A running
        consumer switches at the target layer's next keyframe (asked for,
        coalesced); one not yet running starts on it. No-op for a
        single-layer producer.
        """
        layers = self.producer.layer_streams
        if not layers or self.closed:
            return
        self._preferred = max(0, min(int(spatial), len(layers) - 1))
        self.refresh_layer()

    def refresh_layer(self) -> None:
        """Aim at the chosen layer, or the highest one below it being sent (about 1 Hz)."""
        layers = self.producer.layer_streams
        if not layers or self.closed:
            return
        now = time.monotonic()
        target = self._preferred
        while target > 0 and not layers[target].sending(now):
            target -= 1
        if target == self._target and (self.source is layers[target] or self._switching()):
            return
        self._target = target
        wanted = layers[target]
        for layer in layers:
            if self in layer.switching and layer is not wanted:
                layer.switching.remove(self)
        if wanted is self.source:
            return
        if not self._running:
            self._move_to(wanted)
            return
        if self not in wanted.switching:
            wanted.switching.append(self)
            self._keyframe_asked = time.monotonic()
            wanted.request_keyframe()

    @property
    def temporal(self) -> int:
        """The highest TID forwarded now (media.temporal.ALL: every frame)."""
        return self._temporal

    @property
    def target_temporal(self) -> int:
        """The highest TID asked for (:attr:`temporal` once there)."""
        return self._temporal_wanted

    def select_temporal(self, tid: int) -> None:
        """Forward only the packets of TID at most ``tid`` (ALL: every one).

        A running consumer changes at the next frame that allows it (down at
        once, up at a TID 0 or layer sync frame: see Producer._switch_temporal);
        the subscriber's numbering goes on with no gap.
        """
        if self.closed or self.kind != "video":
            return
        self._temporal_wanted = max(0, min(int(tid), ALL))
        waiting = self.source.temporal_switching
        if not self._running:
            self._temporal = self._temporal_wanted
            self.counters.at_temporal(self._temporal)
            if self in waiting:
                waiting.remove(self)
        elif self._temporal_wanted == self._temporal:
            if self in waiting:
                waiting.remove(self)
        elif self not in waiting:
            waiting.append(self)

    def reduce_frame_rate(self, half: bool) -> None:
        """At half the frame rate (a thumbnail), or all of it.

        Half is the highest TID below the publisher's top one, as far as
        seen (:func:`media.temporal.half_rate`): re-asked as the layers appear.
        """
        self._half_rate = half
        self.select_temporal(half_rate(self.source.thinning.layers) if half else ALL)

    @property
    def half_rate(self) -> bool:
        return self._half_rate

    def change_temporal(self, level: int) -> None:
        """Move to target ``level`` now, at a frame start: the numbering goes on."""
        thinning = self.source.thinning
        old_packets, old_pictures = thinning.skips(self._temporal)
        packets, pictures = thinning.skips(level)
        self._sequence_offset = (self._sequence_offset - old_packets + packets) & 0xFFFF
        self._picture_offset = (self._picture_offset - old_pictures + pictures) & 0x7FFF
        self._temporal = level
        self.counters.at_temporal(level)
        # What was sent before maps to the cache under the other numbering.
        self._first_sequence = (self.source.max_seq - packets + self._sequence_offset) & 0xFFFF

    def _effective(self) -> tuple[int, int]:
        """Sequence and picture id offsets from the source's numbers now."""
        packets, pictures = self.source.thinning.skips(self._temporal)
        return (
            (self._sequence_offset - packets) & 0xFFFF,
            (self._picture_offset - pictures) & 0x7FFF,
        )

    def _switching(self) -> bool:
        return any(self in layer.switching for layer in self.producer.layer_streams)

    def _move_to(self, layer: Producer) -> None:
        old = self.source
        if self in old.consumers:
            old.consumers.remove(self)
        if self in old.temporal_switching:
            old.temporal_switching.remove(self)
        old.reroute()
        self.source = layer
        layer.consumers.append(self)
        self.counters.follow(layer)

    def switch_to(
        self, layer: Producer, seq: int, timestamp: int, marker: int, tail: bytes, vp8: int
    ) -> None:
        """A keyframe of ``layer`` starts: continue the subscriber's stream from it."""
        if self in layer.switching:
            layer.switching.remove(self)
        if self.closed or layer is self.source:
            return
        self.suspend()
        self._move_to(layer)
        self.slot.continued = True  # the clock advances by the time the switch took
        self._timestamp_offset = None
        self._waiting_keyframe = False
        if self.try_start(seq, timestamp, True):
            self.send_now(seq, timestamp, marker, tail, vp8=vp8)
        else:
            self._waiting_keyframe = self.kind == "video"

    def waiting_switch(self, now: float) -> None:
        """The target layer sent no keyframe yet: ask again now and then."""
        asked = self._keyframe_asked
        if asked is None or now - asked >= KEYFRAME_ASK_AGAIN:
            self._keyframe_asked = now
            layers = self.producer.layer_streams
            if self._target < len(layers):
                layers[self._target].request_keyframe()

    def suspend(self) -> None:
        """Forwarding stops (pause or close): remember where the numbering is."""
        self.counters.running(False)
        if self._running:
            source, slot = self.source, self.slot
            sequence_offset, picture_offset = self._effective()
            slot.next_sequence = (source.max_seq + sequence_offset + 1) & 0xFFFF
            if self._timestamp_offset is not None:
                slot.last_timestamp = (source.max_timestamp + self._timestamp_offset) & 0xFFFFFFFF
            if source.picture_id is not None:
                slot.next_picture_id = (source.picture_id + picture_offset + 1) & 0x7FFF
            if source.tl0picidx is not None:
                slot.next_tl0picidx = (source.tl0picidx + self._tl0_offset + 1) & 0xFF
            slot.suspended_at = time.monotonic()
        self._running = False
        if self in self.source.temporal_switching:
            self.source.temporal_switching.remove(self)
        self._temporal = self._temporal_wanted  # the next start is at a keyframe
        self.counters.at_temporal(self._temporal)
        self.source.reroute()

    def hold(self, held: bool) -> None:
        """Stop (True) or resume (False) forwarding to this subscriber alone.

        Resuming continues the numbering and waits for a keyframe, as after a pause.
        """
        if held == self.held:
            return
        self.held = held
        if held:
            self.suspend()
        else:
            self.restart()

    def renumbered(self, previous: int, now: int) -> None:
        """The producer's numbering jumped from ``previous`` to ``now``: ours must not."""
        if self._running:
            self._sequence_offset = (self._sequence_offset + previous - now) & 0xFFFF

    def restart(self) -> None:
        """Start again after a pause: continue the numbering, wait for a keyframe."""
        self.counters.running(False)
        self._running = False
        self.source.reroute()
        if self.kind == "video":
            self._waiting_keyframe = True
            self._keyframe_asked = None

    def source_changed(self) -> None:
        """The producer's packets now come from a new source (its publisher reconnected).

        The subscriber's sequence numbers go on from where they stopped and
        its clock advances by the time that passed; video waits for a keyframe.
        """
        self.suspend()
        slot, last = self.slot, self.source.counters.last_packet_at
        if slot.suspended_at is not None and last is not None:
            slot.suspended_at = min(slot.suspended_at, last)  # media stopped then
        slot.continued = True
        self._timestamp_offset = None
        if self.kind == "video":
            self._waiting_keyframe = True
            self._keyframe_asked = None

    def route(self) -> Route:
        """What the producer's loop needs to rewrite and send for this consumer."""
        return (
            self._b1,
            self._sequence_offset,
            self._timestamp_offset or 0,
            self._ssrc,
            self._prefix,
            self._socket.destination,
            self._context,
            self._red_b1,
            self._picture_offset,
            self._tl0_offset,
        )

    def try_start(self, seq: int, timestamp: int, keyframe: bool) -> bool:
        """Called by the producer while this consumer does not run yet."""
        if not self._start(seq, timestamp, keyframe):
            return False
        self.counters.running(True)
        self.source.reroute()
        return True

    def _start(self, seq: int, timestamp: int, keyframe: bool) -> bool:
        slot = self.slot
        if self.closed or self.held or not self.negotiated or slot.payload_type is None:
            return False
        if not self._socket.ready or not slot.started:
            return False
        if self._waiting_keyframe:
            if not keyframe:
                self.counters.dropped_before_keyframe += 1
                # Ask again while none comes: a request can be lost, or answered
                # by a keyframe that went by before this consumer could start.
                now = time.monotonic()
                asked = self._keyframe_asked
                if asked is None or now - asked >= KEYFRAME_ASK_AGAIN:
                    self._keyframe_asked = now
                    self.source.request_keyframe()
                return False
            self._waiting_keyframe = False
        if slot.info is None:
            slot.prepare()
        self._b1 = slot.payload_type
        self._red_b1 = NO_RED if slot.red_payload_type is None else slot.red_payload_type
        self.counters.red = slot.red_payload_type is not None
        self._ssrc = slot.ssrc
        self._prefix = slot.prefix
        # The slot's SSRC keeps one SRTP stream across consumers (its ROC).
        self._context = self._socket.stream_context(slot.ssrc)
        source = self.source
        # Started at a keyframe (TID 0): at the target asked for, at once.
        if self in source.temporal_switching:
            source.temporal_switching.remove(self)
        self._temporal = self._temporal_wanted
        self.counters.at_temporal(self._temporal)
        packets, pictures = source.thinning.skips(self._temporal)
        self._sequence_offset = (slot.next_sequence - seq + packets) & 0xFFFF
        self._first_sequence = slot.next_sequence
        self._picture_offset = self._tl0_offset = 0
        if slot.next_picture_id is not None and source.picture_id is not None:
            self._picture_offset = (slot.next_picture_id - source.picture_id + pictures) & 0x7FFF
        if slot.next_tl0picidx is not None and source.tl0picidx is not None:
            self._tl0_offset = (slot.next_tl0picidx - source.tl0picidx) & 0xFF
        if self._timestamp_offset is None:
            # A recycled slot keeps a monotonic clock for the subscriber.
            self._timestamp_offset = (slot.last_timestamp + _step(slot) - timestamp) & 0xFFFFFFFF
            slot.continued = False
        self._running = True
        return True

    def send_now(
        self,
        seq: int,
        timestamp: int,
        marker: int,
        tail: bytes,
        *,
        red_at: int = NO_RED,
        vp8: int = 0,
    ) -> None:
        """Send one packet outside the producer's loop (the one that started us),
        as the fan-out would (``red_at``, ``vp8``: see :meth:`media.fastpath.Fanout.forward`)."""
        if not self._socket.ready:
            return
        b1 = self._b1
        if red_at != NO_RED:
            parsed = red.parse(tail, red_at)
            if parsed is None:
                return
            blocks, primary = parsed
            if self._red_b1 == NO_RED:
                tail = tail[:red_at] + tail[primary:]
            else:
                tail = red.retag(tail, red_at, blocks, b1)
                b1 = self._red_b1
        sequence_offset, picture_offset = self._effective()
        if red_at == NO_RED and vp8:
            tail = rewrite(tail, vp8, picture_offset, self._tl0_offset)
        data = self._header(b1 | marker, (seq + sequence_offset) & 0xFFFF, timestamp) + tail
        self._socket.send_rtp(data, self._context)

    def _header(self, b1: int, out_seq: int, timestamp: int) -> bytes:
        return (
            _pack(
                0x90,
                b1,
                out_seq,
                (timestamp + (self._timestamp_offset or 0)) & 0xFFFFFFFF,
                self._ssrc,
            )
            + self._prefix
        )

    # --- feedback from the subscriber ---------------------------------------------------

    def on_nack(self, sequences: tuple[int, ...]) -> None:
        """Retransmit what the subscriber lost, from the producer's cache."""
        counters = self.counters
        sequences = tuple(counters.nacked(sequences, time.monotonic()))
        if not self._running or not self._socket.ready:
            return
        slot, source = self.slot, self.source
        info = slot.info
        offset, first = self._sequence_offset, self._first_sequence
        for out_seq in sequences:
            # Sent before a switch of source: the cache holds other packets there.
            before = (out_seq - first) & 0xFFFF >= 0x8000
            pictures = 0
            if before:
                entry = None
            elif self._temporal < ALL:
                entry, pictures = self._thinned_packet(out_seq)
            else:
                entry = source.cached((out_seq - offset) & 0xFFFF)
            if entry is None:
                counters.retransmit_misses += 1
                continue
            _, timestamp, marker, element, payload = entry
            picture_offset = (self._picture_offset - pictures) & 0x7FFF
            if picture_offset or self._tl0_offset:
                fields = descriptor_fields(payload)
                payload = rewrite(payload, fields, picture_offset, self._tl0_offset)
            out_ts = (timestamp + self._timestamp_offset) & 0xFFFFFFFF  # type: ignore[operator]
            if info is not None and info.rtx_payload_type is not None:
                header = _pack(
                    0x90, info.rtx_payload_type | marker, slot.rtx_sequence, out_ts, info.rtx_ssrc
                )
                slot.rtx_sequence = (slot.rtx_sequence + 1) & 0xFFFF
                body = element + out_seq.to_bytes(2, "big") + payload
                self._socket.send_rtp(header + self._prefix + body)
            else:
                header = _pack(0x90, self._b1 | marker, out_seq, out_ts, self._ssrc)
                body = element + payload
                self._socket.send_rtp(header + self._prefix + body, self._context)
            counters.retransmitted += 1

    def _thinned_packet(self, out_seq: int) -> tuple[CachedPacket | None, int]:
        """The cached packet sent as ``out_seq`` at a lower frame rate, and the
        picture ids dropped before it.

        Its source number is ``out_seq`` moved back by the offset and on by
        the packets dropped before it: at most those dropped since, so the
        search goes down from there (bounded by the cache).
        """
        source, level = self.source, self._temporal
        thinning = source.thinning
        seq = (out_seq - self._sequence_offset + thinning.skipped[level]) & 0xFFFF
        for _ in range(thinning.size):
            counts = thinning.at(seq)
            if counts is None:
                return None, 0
            sent_as = (seq - counts[1 + level] + self._sequence_offset) & 0xFFFF
            if sent_as == out_seq:
                entry = source.cached(seq)
                if entry is None or temporal(entry[4])[0] > level:
                    return None, 0  # lost on the way in, or dropped: never sent
                return entry, counts[4 + level]
            if (sent_as - out_seq) & 0xFFFF >= 0x8000:
                return None, 0  # below it already: none was sent as out_seq
            seq = (seq - 1) & 0xFFFF
        return None, 0

    def on_keyframe_request(self) -> None:
        self.counters.keyframe_requests += 1
        self.source.request_keyframe()

    def on_report(self, block: rtcp.ReportBlock) -> None:
        counters = self.counters
        counters.fraction_lost = block.fraction_lost
        counters.cumulative_lost = block.cumulative_lost
        counters.jitter = block.jitter
        now = time.monotonic()
        counters.report_at = now
        if block.lsr and block.lsr == self._lsr:
            rtt = now - self._sr_sent_at - block.dlsr / 65536
            if rtt >= 0:
                counters.rtt = rtt if counters.rtt is None else 0.85 * counters.rtt + 0.15 * rtt

    def on_remb(self, bitrate: int) -> None:
        self.counters.remb = bitrate
        self.counters.remb_at = time.monotonic()

    def sender_report(self) -> bytes | None:
        """An SR mapping our timestamps to the publisher's NTP clock, for lip sync.

        The publisher's last SR is extrapolated to now with its clock rate: the
        audio and video of one publisher stay on one time line, and every SR
        has a fresh NTP time for the subscriber's LSR/DLSR.
        """
        report = self.source.sender_report
        if not self._running or report is None or self._timestamp_offset is None:
            return None
        ntp, rtp_ts, at = report
        elapsed = time.time() - at
        ntp_now = ntp + int(elapsed * 4294967296.0)
        rtp_now = rtp_ts + int(elapsed * self.source.clock_rate) + self._timestamp_offset
        self._lsr = (ntp_now >> 16) & 0xFFFFFFFF
        self._sr_sent_at = time.monotonic()
        counters = self.counters
        return rtcp.sender_report(self._ssrc, ntp_now, rtp_now, counters.packets, counters.bytes)

    def close(self) -> None:
        self.suspend()
        self.closed = True
        if self.slot.consumer is self:
            self.slot.consumer = None
        if self in self.producer.consumers:
            self.producer.consumers.remove(self)
        for layer in [self.producer, *self.producer.layer_streams]:
            if self in layer.consumers:
                layer.consumers.remove(self)
            if self in layer.switching:
                layer.switching.remove(self)
            if self in layer.temporal_switching:
                layer.temporal_switching.remove(self)
        self.producer.reroute()
        self.source.reroute()
