"""Producer: one incoming track of a publisher, fanned out to its consumers."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from . import fastpath, red, rtcp
from .aiortc_hooks import ReceiverInfo, receiver_info
from .fastpath import NO_RED
from .keyframes import KeyframeRequests
from .nack import NackTracker
from .rtp import HEADER, abs_send_time_element, audio_level_element, find_extension
from .simulcast import LayerInfo
from .temporal import ALL, Thinning
from .vp8 import (
    descriptor_fields,
    is_keyframe_start,
    picture_id,
    rewrite,
    starts_frame,
    temporal,
    tl0picidx,
)

if TYPE_CHECKING:
    from aiortc import RTCRtpReceiver

    from .consumer import Consumer

logger = logging.getLogger(__name__)

CACHE_SIZE = 512  # video packets kept for retransmission: ~5 s at 500 kbit/s
MAX_GAP = 300  # a larger jump is a restart of the stream, not a loss
# RFC 3550 A.1: a packet further ahead than MAX_DROPOUT, or further behind than
# MAX_MISORDER (here: as far back as a repair can come), is not part of the
# stream's numbering. Forwarded as it is, one such stray packet would move
# every subscriber's SRTP index, and libsrtp would refuse what follows as old.
# The second packet in a row at the new numbering means the publisher restarted it.
MAX_DROPOUT = 3000
MAX_MISORDER = CACHE_SIZE
SCREEN = "screen"  # Producer.source of a screen share
REMB_FRESH = 5.0  # seconds a subscriber's REMB counts for the upstream REMB
LAYER_ACTIVE = 1.0  # seconds since its last packet a simulcast layer counts as sent
# Seconds a layer asked to resume counts as sent before its first packet: the
# request's way to the publisher and its encoder's restart (media/layer_demand.py).
RESUME_GRACE = 2.0
# The VP8 descriptor fields' positions move by the per-packet extension element.
_ELEMENT = 4

# One cached packet: sequence, timestamp, marker (0x80/0), extension element, payload.
CachedPacket = tuple[int, int, int, bytes, bytes]
# Gets every forwarded packet: (sequence, timestamp, marker, payload); e.g. a
# recorder. The payload of a RED packet is its primary block: plain Opus.
PacketSink = Callable[[int, int, bool, bytes], None]


class ProducerCounters:
    """Plain counters kept by the hot path; read them, never write them.

    - ``packets``, ``bytes`` (payload), ``frames`` (video: marker bits; audio:
      packets), ``keyframes`` (packets that start a VP8 keyframe);
    - ``nacks_sent`` (NACK packets sent to the publisher),
      ``keyframe_requests_sent`` (PLIs sent to the publisher);
    - ``retransmissions_received`` (RTX packets that filled a gap),
      ``duplicates`` (dropped), ``strays`` (dropped: far outside the numbering),
      ``renumbered`` (the publisher restarted its numbering),
      ``last_packet_at`` (``time.monotonic()``);
    - audio: ``red_packets`` (RED, RFC 2198, received), ``red_malformed``
      (RED that did not parse: dropped), ``red_recovered`` (lost packets
      rebuilt from the next packet's redundancy);
    - as seen by the SFU: ``packets_lost`` (cumulative, RFC 3550), ``jitter``
      (clock units), ``fraction_lost`` (/256, over the last report interval).
    """

    __slots__ = (
        "bytes",
        "duplicates",
        "fraction_lost",
        "frames",
        "jitter",
        "keyframe_requests_sent",
        "keyframes",
        "last_packet_at",
        "nacks_sent",
        "packets",
        "packets_lost",
        "red_malformed",
        "red_packets",
        "red_recovered",
        "renumbered",
        "retransmissions_received",
        "strays",
    )

    def __init__(self) -> None:
        self.packets = 0
        self.bytes = 0
        self.frames = 0
        self.keyframes = 0
        self.nacks_sent = 0
        self.keyframe_requests_sent = 0
        self.retransmissions_received = 0
        self.duplicates = 0
        self.strays = 0
        self.renumbered = 0
        self.red_packets = 0
        self.red_malformed = 0
        self.red_recovered = 0
        self.last_packet_at: float | None = None
        self.packets_lost = 0
        self.jitter = 0
        self.fraction_lost = 0

    def as_dict(self) -> dict[str, float | int | None]:
        return {name: getattr(self, name) for name in self.__slots__}


class Producer:
    """An incoming audio or video track, forwarded packet by packet.

    ``owner`` is an opaque tag for the layer above (the participant id); the
    media layer knows nothing of rooms or floors. ``paused`` stops forwarding
    without touching the publisher: that is how the floor is enforced.

    The hot path (:meth:`on_rtp`, called synchronously from the socket) reads
    the RTP header, drops duplicates, keeps reception statistics (RFC 3550),
    asks the publisher for lost packets (NACK, retried, then a keyframe),
    caches video packets for the subscribers' NACKs, and for every running
    consumer rewrites the header (SSRC, payload type, sequence number,
    timestamp, MID and abs-send-time extensions), protects and sends it, all
    inlined. ``counters`` (:class:`ProducerCounters`) and ``forwarded``
    (packets, payload bytes, frames sent to each running consumer) are
    updated as it goes; ``sinks`` (e.g. a recorder) get every forwarded packet.

    A simulcast video producer (:meth:`simulcast`) receives nothing itself:
    each layer is a producer of its own (``layer_streams``, lowest first,
    with its own SSRC, numbering, cache and keyframe requests) and each
    consumer reads one layer at a time (:meth:`Consumer.select_layer`). Its
    ``counters`` are the lowest layer's (always sent, for the freeze alert);
    its ``sinks`` are the highest layer's, and a recording taps every layer
    to follow the highest arriving (:class:`media.recorder.LayerFollower`).
    """

    def __init__(
        self,
        producer_id: str,
        owner: str,
        kind: str,
        receiver: RTCRtpReceiver,
        send_rtcp: Callable[[bytes], bool] | None = None,
    ) -> None:
        self.id = producer_id
        self.owner = owner
        self.kind = kind
        self.receiver = receiver
        # What the track shows: SCREEN for a screen share, None for a camera or microphone.
        self.source: str | None = None
        self.consumers: list[Consumer] = []
        # Called with every forwarded packet, synchronously: keep them cheap.
        self.sinks: list[PacketSink] = []
        self.counters = ProducerCounters()
        # Totals of what was forwarded: packets, payload bytes, frames.
        self.forwarded = (0, 0, 0)
        # Payload bytes forwarded as plain Opus or VP8: RED packets count
        # their primary block, what a subscriber without RED is sent.
        self.plain_bytes = 0
        self._fanout = fastpath.new_fanout(())
        # Routes at a lower frame rate, by temporal target (media/temporal.py).
        self._thinned: dict[int, fastpath.Fanout] = {}
        self._routes = 0  # running consumers, over every fan-out
        self.thinning = Thinning(CACHE_SIZE)
        # Consumers that change temporal target at the next frame that allows it.
        self.temporal_switching: list[Consumer] = []
        self.media_ssrc: int | None = None
        self.closed = False
        self._send_rtcp = send_rtcp or (lambda data: False)
        self._video = kind == "video"
        self._info: ReceiverInfo | None = None
        self._paused = False
        self._keyframes = KeyframeRequests()
        self._deferred: asyncio.TimerHandle | None = None
        # Reception state (RFC 3550 A.1, A.8).
        self.max_seq = -1
        self.max_timestamp = 0
        self._cycles = 0
        self._base_seq = 0
        self._received = 0
        self._expected_prior = 0
        self._received_prior = 0
        self._transit: float | None = None
        self._jitter = 0.0
        self._clock_rate = 90000 if self._video else 48000
        # A packet far outside the numbering, held until the next one says
        # whether it was a stray (dropped) or the first of a renumbering.
        self._held: bytes | None = None
        self._probation = -1  # the sequence number that would confirm a renumbering
        self._seen = [-1] * CACHE_SIZE  # sequence numbers received, for duplicates
        self._cache: list[CachedPacket | None] = [None] * (CACHE_SIZE if self._video else 0)
        # Lost packets asked of the publisher: retried after about one round
        # trip, given up at its history's horizon (then a keyframe).
        self.nacks = NackTracker()
        # Round trip to the publisher, seconds, set by the layer that measures it.
        self.rtt: float | None = None
        self._nack_timer: asyncio.TimerHandle | None = None
        # The publisher's last sender report: NTP, RTP timestamp, when (time.time()).
        self.sender_report: tuple[int, int, float] | None = None
        self._lsr = 0
        self._lsr_at = 0.0
        # Simulcast: the layers (lowest first), or the layered producer of a layer.
        self.layer_streams: list[Producer] = []
        self.parent: Producer | None = None
        self.rid: str | None = None
        # Consumers that switch to this layer at its next keyframe.
        self.switching: list[Consumer] = []
        # The newest packet's VP8 payload and descriptor fields: where a switch
        # of source continues from (read only then, see picture_id).
        self._newest: tuple[bytes, int] | None = None
        self._rate_mark: tuple[float, int] = (time.monotonic(), 0)
        self._bitrate = 0
        # A simulcast layer: whether the publisher is asked to send it (dynacast,
        # media/layer_demand.py), when it was last asked to resume, and the rate
        # it had when paused (what it costs again once resumed).
        self.requested = True
        self._resumed_at: float | None = None
        self._paused_rate = 0

    def simulcast(self, rids: list[str] | tuple[str, ...]) -> None:
        """Receive this video track as layers, one per rid, lowest first."""
        if self.kind != "video" or self.layer_streams or len(rids) < 2:
            return
        for spatial, rid in enumerate(rids):
            layer = Producer(f"{self.id}~{spatial}", self.owner, self.kind, self.receiver)
            layer._send_rtcp = self._send_rtcp
            layer.parent, layer.rid, layer.source = self, rid, self.source
            layer._paused = self._paused
            self.layer_streams.append(layer)
        self.counters = self.layer_streams[0].counters
        self.nacks = self.layer_streams[0].nacks
        self.layer_streams[-1].sinks = self.sinks

    @property
    def layers(self) -> list[LayerInfo]:
        """The simulcast layers as they arrive, with their measured bitrate (empty:
        a single layer); ``paused``: the publisher was asked not to send it."""
        now = time.monotonic()
        return [
            LayerInfo(
                spatial, layer.rid or "", layer._rate(now), layer.arriving(now), not layer.requested
            )
            for spatial, layer in enumerate(self.layer_streams)
        ]

    @property
    def offered_layers(self) -> list[LayerInfo]:
        """The layers a subscriber may be given: as :attr:`layers`, but one the
        publisher was asked to stop (dynacast) counts as active at the rate it
        had, since asking for it brings it back (the allocator's view)."""
        now = time.monotonic()
        infos = []
        for spatial, layer in enumerate(self.layer_streams):
            rate = layer._rate(now)
            paused = not layer.requested
            if paused and not layer.arriving(now):
                rate = layer._paused_rate
            infos.append(LayerInfo(spatial, layer.rid or "", rate, layer.sending(now), paused))
        return infos

    def _rate(self, now: float) -> int:
        """This layer's bitrate, measured over at least a second."""
        at, octets = self._rate_mark
        if now - at >= 1.0:
            self._bitrate = int((self.counters.bytes - octets) * 8 / (now - at))
            self._rate_mark = (now, self.counters.bytes)
        return self._bitrate

    def ask_layers(self, sent: Sequence[bool], now: float) -> None:
        """Record which layers (lowest first) the publisher is asked to send now."""
        for layer, on in zip(self.layer_streams, sent, strict=False):
            if on == layer.requested:
                continue
            layer.requested = on
            if on:
                layer._resumed_at = now
            else:
                layer._paused_rate, layer._resumed_at = layer._bitrate, None

    @property
    def picture_id(self) -> int | None:
        """The VP8 picture id of the newest packet (None: none seen, or no picture id)."""
        return picture_id(*self._newest) if self._newest is not None else None

    @property
    def tl0picidx(self) -> int | None:
        """The VP8 TL0PICIDX of the newest packet (None: none seen, or none in it)."""
        return tl0picidx(*self._newest) if self._newest is not None else None

    def arriving(self, now: float) -> bool:
        """Whether packets arrived within the last LAYER_ACTIVE seconds."""
        last = self.counters.last_packet_at
        return last is not None and now - last < LAYER_ACTIVE

    def sending(self, now: float) -> bool:
        """Whether this layer is sent, or would be at once if asked for.

        A layer paused at the server's request (dynacast: only ever one that
        arrived) counts: a consumer that wants it aims at it, which has it
        resumed; its first packets bring a keyframe to switch at. One asked
        to resume counts for RESUME_GRACE before its first packet.
        """
        if self.arriving(now) or not self.requested:
            return True
        resumed = self._resumed_at
        return resumed is not None and now - resumed < RESUME_GRACE

    def forwarded_totals(self) -> tuple[int, int, int]:
        """Packets, payload bytes and frames forwarded, over every layer."""
        if not self.layer_streams:
            return self.forwarded
        packets = octets = frames = 0
        for layer in self.layer_streams:
            p, o, f = layer.forwarded
            packets, octets, frames = packets + p, octets + o, frames + f
        return packets, octets, frames

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def clock_rate(self) -> int:
        return self._clock_rate

    def pause(self) -> None:
        if self._paused:
            return
        self._paused = True
        for layer in self.layer_streams:
            layer._paused = True
        for consumer in self.consumers:
            consumer.suspend()

    def resume(self) -> None:
        if not self._paused:
            return
        self._paused = False
        for layer in self.layer_streams:
            layer._paused = False
        for consumer in self.consumers:
            consumer.restart()

    # --- the hot path -----------------------------------------------------------

    def on_rtp(self, data: bytes, rtx: bool) -> None:
        """One plain RTP packet from the publisher (``rtx``: an RFC 4588 retransmission)."""
        size = len(data)
        if size < 12:
            return  # truncated: no fixed header
        b0 = data[0]
        start = 12 + 4 * (b0 & 0x0F)
        if b0 & 0x10:
            if size < start + 4:
                return  # truncated: no extension header
            start += 4 + 4 * ((data[start + 2] << 8) | data[start + 3])
        end = size - data[-1] if b0 & 0x20 else size
        _, b1, seq, timestamp, ssrc = HEADER.unpack_from(data)
        if rtx:
            if end - start < 2:
                return  # bandwidth probe
            seq = (data[start] << 8) | data[start + 1]
            start += 2
        if start >= end:
            return  # padding only
        now = time.monotonic()
        counters = self.counters
        max_seq = self.max_seq
        delta = (seq - max_seq) & 0xFFFF
        if max_seq >= 0 and MAX_DROPOUT <= delta <= 0x10000 - MAX_MISORDER:
            held = self._held
            if rtx or held is None or seq != self._probation:
                self._probation = (seq + 1) & 0xFFFF
                self._held = None if rtx else bytes(data)
                counters.strays += 1
                return
            # Renumbered: the held packet (often a keyframe's first) goes first.
            counters.strays -= 1
            self._renumber(seq)
            self.on_rtp(held, False)
            max_seq = self.max_seq
            delta = (seq - max_seq) & 0xFFFF
        index = seq % CACHE_SIZE
        if self._seen[index] == seq:
            counters.duplicates += 1
            return
        self._seen[index] = seq
        payload = data[start:end]
        missing = 0  # packets just before this one that never arrived

        if max_seq < 0:
            self.media_ssrc = ssrc
            self._base_seq = seq
            self.max_seq, self.max_timestamp = seq, timestamp
        elif delta < 0x8000:  # newer
            if seq < max_seq:
                self._cycles += 0x10000
            if delta > 1:
                if delta > MAX_GAP:
                    self.nacks.clear()
                elif self._video:
                    self._lost(max_seq, seq, now)
                else:
                    missing = delta - 1
            self.max_seq, self.max_timestamp = seq, timestamp
            if not rtx:
                # Jitter from in-order packets only (RFC 3550 A.8).
                transit = now * self._clock_rate - timestamp
                if self._transit is not None:
                    self._jitter += (abs(transit - self._transit) - self._jitter) / 16
                self._transit = transit
        elif self.nacks and self.nacks.arrived(seq, now, rtx) and rtx:
            counters.retransmissions_received += 1
        self._received += 1
        counters.packets += 1
        counters.bytes += end - start
        counters.last_packet_at = now
        marker = b1 & 0x80
        red_at = NO_RED  # where a RED payload starts in the tail
        vp8 = 0
        tid = 0
        thinned = self._thinned
        newer = max_seq < 0 or delta < 0x8000
        if self._video:
            element = abs_send_time_element()
            keyframe = is_keyframe_start(payload)
            if keyframe:
                counters.keyframes += 1
                self._keyframes.keyframe_seen(now)
            vp8 = descriptor_fields(payload)
            if vp8 and (max_seq < 0 or delta < 0x8000):
                self._newest = (payload, vp8)
            if thinned or self.temporal_switching or marker:
                tid, sync = temporal(payload)
                if tid >= self.thinning.layers:
                    self.thinning.layers = tid + 1
                if self.temporal_switching and newer and starts_frame(payload):
                    self._switch_temporal(tid, sync)
                    thinned = self._thinned
            if marker:
                counters.frames += 1
            self._cache[index] = (seq, timestamp, marker, element, payload)
        else:
            keyframe = False
            counters.frames += 1
            info = self._info
            level_id = info.audio_level_id if info is not None else None
            element = audio_level_element(find_extension(data, level_id) if level_id else None)
            if info is not None and b1 & 0x7F == info.red_payload_type:
                counters.red_packets += 1
                red_at = len(element)
        if self._paused or self.closed:
            return
        tail = element + payload
        # For every running consumer: header (and picture id) rewrite, SRTP protect, send.
        fanout = self._fanout
        if missing and red_at != NO_RED:
            self._recover(seq, timestamp, missing, payload, element)
        if red_at != NO_RED:
            malformed = fanout.malformed
            fanout.forward(marker, seq, timestamp, tail, red_at)
            if fanout.malformed != malformed:
                counters.red_malformed += 1
                return  # sent to nobody
        elif vp8:
            vp8 = _shifted(vp8)
            fanout.forward(marker, seq, timestamp, tail, NO_RED, vp8)
        else:
            fanout.forward(marker, seq, timestamp, tail)
        if thinned:
            gap = (delta - 1) & 0xFFFF if max_seq >= 0 and newer else 0
            self._forward_thinned(marker, seq, timestamp, tail, vp8, tid, newer, gap, payload)
        if self.switching:
            if keyframe:
                # Consumers moving to this layer: from its keyframe, continuing their stream.
                for consumer in list(self.switching):
                    consumer.switch_to(self, seq, timestamp, marker, tail, vp8)
            else:
                # None yet: the request may have been lost; ask again now and then.
                for consumer in self.switching:
                    consumer.waiting_switch(now)
        if self._routes != len(self.consumers):
            # Consumers not running yet: negotiating, waiting for a keyframe.
            for consumer in self.consumers:
                if not consumer.started and consumer.try_start(seq, timestamp, keyframe):
                    consumer.send_now(seq, timestamp, marker, tail, red_at=red_at, vp8=vp8)
        packets, octets, frames = self.forwarded
        self.forwarded = (
            packets + 1,
            octets + end - start,
            frames + (not self._video or marker > 0),
        )
        if red_at != NO_RED:
            payload = red.primary(payload) or b""  # parsed by the fan-out already
        self.plain_bytes += len(payload)
        if self.sinks:
            for sink in self.sinks:
                try:
                    sink(seq, timestamp, bool(marker), payload)
                except Exception:
                    logger.exception("packet sink failed")

    def _forward_thinned(
        self,
        marker: int,
        seq: int,
        timestamp: int,
        tail: bytes,
        vp8: int,
        tid: int,
        newer: bool,
        missing: int,
        payload: bytes,
    ) -> None:
        """The routes at a lower frame rate: the packets of their TIDs, renumbered."""
        thinning = self.thinning
        if newer:
            counts = thinning.mark(seq, missing if missing <= MAX_GAP else 0)
        else:
            late = thinning.at(seq)
            if late is None:
                return  # its numbering is unknown: sent to the routes at full rate only
            counts = late
        for level, fanout in self._thinned.items():
            if tid > level:
                if newer:
                    fields = descriptor_fields(payload)
                    thinning.drop(level, picture_id(payload, fields) if fields else None)
                continue  # a late packet above the target leaves its one gap
            pictures = counts[4 + level]
            body = rewrite(tail, vp8, -pictures & 0x7FFF, 0) if vp8 and pictures else tail
            out = (seq - counts[1 + level]) & 0xFFFF
            fanout.forward(marker, out, timestamp, body, NO_RED, vp8)
            thinning.sent(level, len(payload), marker)

    def _switch_temporal(self, tid: int, sync: bool) -> None:
        """A frame starts: consumers change temporal target where the frame allows.

        Down at once; up at a TID 0 frame, or a layer sync (Y) frame of a TID
        within the new target: the frames after it reference nothing dropped.
        """
        moved = False
        for consumer in list(self.temporal_switching):
            wanted = consumer.target_temporal
            if wanted < consumer.temporal or tid == 0 or (sync and tid <= wanted):
                self.temporal_switching.remove(consumer)
                consumer.change_temporal(wanted)
                moved = True
        if moved:
            self.reroute()

    def _recover(
        self, seq: int, timestamp: int, missing: int, payload: bytes, element: bytes
    ) -> None:
        """Rebuild lost audio packets from the redundancy of the RED packet after them.

        A browser's RED block ``i`` from the end is the packet ``i`` before
        (one Opus frame per packet): each lost one goes out under its own
        sequence number and timestamp, as plain Opus, before the RED packet
        that carried it. Subscribers without RED, and recordings, then miss
        only what was lost twice in a row; a RED subscriber gets no gap.
        """
        blocks = red.redundant_blocks(payload)
        if not blocks:
            return
        rebuilt = []
        for back in range(1, min(missing, len(blocks)) + 1):
            offset, block = blocks[-back]
            lost = (seq - back) & 0xFFFF
            index = lost % CACHE_SIZE
            if not block or self._seen[index] == lost:
                continue
            self._seen[index] = lost  # the original, if late, is a duplicate now
            rebuilt.append((lost, (timestamp - offset) & 0xFFFFFFFF, block))
        counters = self.counters
        for lost, when, block in reversed(rebuilt):  # oldest first
            self._fanout.forward(0, lost, when, element + block)
            counters.red_recovered += 1
            packets, octets, frames = self.forwarded
            self.forwarded = (packets + 1, octets + len(block), frames + 1)
            self.plain_bytes += len(block)
            for sink in self.sinks:
                try:
                    sink(lost, when, False, block)
                except Exception:
                    logger.exception("packet sink failed")

    def _renumber(self, seq: int) -> None:
        """The publisher restarted its numbering at ``seq - 1``: follow it.

        Each running consumer shifts its offset so that what it sends goes on
        from the last number it sent; the reception statistics start afresh.
        """
        for consumer in self.consumers:
            consumer.renumbered(self.max_seq, (seq - 1) & 0xFFFF)
        self.reroute()
        self._numbering_afresh()
        self.counters.renumbered += 1

    def _numbering_afresh(self) -> None:
        """Forget the source's numbering: the next packet starts it again."""
        self.max_seq, self.max_timestamp = -1, 0
        self._held, self._probation = None, -1
        self._cycles = self._base_seq = self._received = 0
        self._expected_prior = self._received_prior = 0
        self._transit, self._jitter = None, 0.0
        self._seen = [-1] * CACHE_SIZE
        self._cache = [None] * (CACHE_SIZE if self._video else 0)
        self.nacks.clear()
        self._newest = None
        self.thinning.forget()

    def reroute(self) -> None:
        """Rebuild the list of running consumers the hot path iterates."""
        if self.layer_streams:
            return  # the layers receive and forward, each to its own consumers
        routes: list[fastpath.Route] = []
        thinned: dict[int, list[fastpath.Route]] = {}
        for consumer in self.consumers:
            if consumer.started and not consumer.closed:
                level = consumer.temporal
                (routes if level >= ALL else thinned.setdefault(level, [])).append(consumer.route())
        self._fanout = fastpath.new_fanout(routes)
        if thinned and not self._thinned:
            # Counts kept before a pause of thinning are stale: never number with them.
            self.thinning.forget()
        self._thinned = {level: fastpath.new_fanout(r) for level, r in sorted(thinned.items())}
        self._routes = len(routes) + sum(len(r) for r in thinned.values())

    def cached(self, seq: int) -> CachedPacket | None:
        """A recent video packet, by the publisher's sequence number."""
        if not self._cache:
            return None
        entry = self._cache[seq % CACHE_SIZE]
        if entry is None or entry[0] != seq:
            return None
        return entry

    # --- loss recovery towards the publisher -------------------------------------

    def _lost(self, last: int, seq: int, now: float) -> None:
        gap = [(last + i) & 0xFFFF for i in range(1, (seq - last) & 0xFFFF)]
        self.nacks.lost(gap, now)
        self._send_nack(gap)
        self._schedule_nacks(now)

    def _schedule_nacks(self, now: float) -> None:
        if self._nack_timer is not None or self.closed:
            return
        wait = self.nacks.next_check(now, self.rtt)
        if wait is not None:
            loop = asyncio.get_running_loop()
            self._nack_timer = loop.call_later(wait, self._retry_nacks)

    def _retry_nacks(self) -> None:
        self._nack_timer = None
        if self.closed:
            return
        now = time.monotonic()
        again, expired = self.nacks.due(now, self.rtt)
        if expired:
            # The publisher no longer has them: a keyframe repairs every subscriber.
            self.request_keyframe()
        self._send_nack(again)
        self._schedule_nacks(now)

    def _send_nack(self, sequences: list[int]) -> None:
        info = self.info()
        if info is None or info.rtcp_ssrc is None or self.media_ssrc is None or not sequences:
            return
        if self._send_rtcp(rtcp.nack(info.rtcp_ssrc, self.media_ssrc, sequences)):
            self.counters.nacks_sent += 1

    def info(self) -> ReceiverInfo | None:
        """What the receiver negotiated (read once it has started)."""
        if self._info is None:
            self._info = receiver_info(self.receiver)
            if self._info is not None:
                self._clock_rate = self._info.clock_rate
        return self._info

    # --- RTCP from and to the publisher ----------------------------------------------

    def on_sender_report(self, report: rtcp.SenderReport) -> None:
        self.sender_report = (report.ntp, report.rtp_timestamp, time.time())
        self._lsr = (report.ntp >> 16) & 0xFFFFFFFF
        self._lsr_at = time.monotonic()

    def report_block(self) -> rtcp.ReportBlock | None:
        """This stream's block for the receiver report the SFU sends the publisher."""
        if self.media_ssrc is None or self.max_seq < 0:
            return None
        extended = self._cycles + self.max_seq
        expected = extended - self._base_seq + 1
        lost = expected - self._received
        expected_interval = expected - self._expected_prior
        received_interval = self._received - self._received_prior
        self._expected_prior, self._received_prior = expected, self._received
        lost_interval = expected_interval - received_interval
        fraction = 0
        if expected_interval > 0 and lost_interval > 0:
            fraction = min(255, (lost_interval << 8) // expected_interval)
        counters = self.counters
        counters.packets_lost, counters.jitter = lost, int(self._jitter)
        counters.fraction_lost = fraction
        dlsr = 0
        if self._lsr:
            dlsr = min(0xFFFFFFFF, int((time.monotonic() - self._lsr_at) * 65536))
        return rtcp.ReportBlock(
            self.media_ssrc, fraction, lost, extended, int(self._jitter), self._lsr, dlsr
        )

    def subscriber_bitrate(self) -> int | None:
        """The lowest recent REMB of this producer's subscribers, bits per second.

        Without simulcast the publisher can only send one rate: the weakest
        subscriber's estimate is passed upstream (as Janus and mediasoup do).
        With simulcast, none: a subscriber's estimate only measures the layer
        it receives (a thumbnail's REMB would turn the publisher's upper
        layers off), and a weak subscriber takes a lower layer instead.
        Nor does a subscriber this video is held for (its downlink, last-N):
        its REMB describes the other streams it receives.
        """
        if self.layer_streams:
            return None
        now = time.monotonic()
        rates = [
            c.counters.remb
            for c in self.consumers
            if not c.held and c.counters.remb is not None and now - c.counters.remb_at < REMB_FRESH
        ]
        return min(rates) if rates else None

    # --- keyframes ------------------------------------------------------------------

    def request_keyframe(self) -> None:
        """Ask the publisher for a keyframe, coalesced with other requests."""
        if self.kind != "video" or self.closed:
            return
        if self.layer_streams:
            for layer in self.layer_streams:
                layer.request_keyframe()
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
        info = self.info()
        if self.media_ssrc is None or info is None or info.rtcp_ssrc is None:
            # Nothing received yet: the first packets will include a keyframe
            # soon enough, and consumers ask again when they see media.
            self._keyframes.last_sent = None
            return
        if self._send_rtcp(rtcp.pli(info.rtcp_ssrc, self.media_ssrc)):
            self.counters.keyframe_requests_sent += 1
        else:
            self._keyframes.last_sent = None

    def rebind(self, receiver: RTCRtpReceiver, send_rtcp: Callable[[bytes], bool]) -> None:
        """Go on with a new receiver: the publisher re-created its connection.

        The producer keeps its id and its consumers, so subscribers keep their
        m-lines and SSRCs; the new source's numbering starts afresh here and
        each consumer continues its own sequence (and waits for a keyframe).
        """
        for consumer in self.consumers:  # while the old numbering is known
            consumer.source_changed()
        self.receiver = receiver
        self._send_rtcp = send_rtcp
        self._info = None
        self.media_ssrc = None
        self.sender_report = None
        self._lsr, self._lsr_at = 0, 0.0
        for timer in (self._deferred, self._nack_timer):
            if timer is not None:
                timer.cancel()
        self._deferred = self._nack_timer = None
        self._keyframes = KeyframeRequests()
        self._numbering_afresh()
        self.reroute()
        for layer in self.layer_streams:
            layer.rebind(receiver, send_rtcp)

    def close(self) -> None:
        for layer in self.layer_streams:
            layer.close()
        self.switching.clear()
        self.closed = True
        for timer in (self._deferred, self._nack_timer):
            if timer is not None:
                timer.cancel()
        self._deferred = self._nack_timer = None
        self.consumers.clear()
        self.temporal_switching.clear()
        self._fanout = fastpath.new_fanout(())
        self._thinned = {}
        self._routes = 0

    def streams(self) -> list[Producer]:
        """The producers that receive packets: the layers, or this one."""
        return self.layer_streams or [self]

    def loss_statistics(self) -> tuple[int, int, int] | None:
        """(packets received, packets lost, jitter in clock units) seen from the SFU."""
        if self.media_ssrc is None:
            return None
        expected = self._cycles + self.max_seq - self._base_seq + 1
        return self._received, expected - self._received, int(self._jitter)


def _shifted(fields: int) -> int:
    """Descriptor positions in the payload moved to positions in the tail."""
    pid, tl0 = fields & 0xFF, (fields >> 9) & 0xFF
    return (pid + _ELEMENT if pid else 0) | (fields & 0x100) | ((tl0 + _ELEMENT) << 9 if tl0 else 0)
