"""Live stream monitoring: per-second figures, alerts and Prometheus metrics.

The forwarding path keeps plain counters (``media.producer.ProducerCounters``,
``media.consumer.ConsumerCounters``); this module turns them into rates once a
second, feeds the alert rules, and keeps the process-wide totals that
``/metrics`` exposes (monotonic even as streams come and go).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

from media.aiortc_hooks import selected_path
from media.producer import Producer
from media.router import Router
from media.temporal import ALL

from .alerts import AlertRules, StreamSample
from .bandwidth import BandwidthAllocation

CODECS = {"audio": "opus", "video": "VP8"}
CLOCK_RATES = {"audio": 48000, "video": 90000}


@dataclass
class _Previous:
    at: float
    packets: int
    bytes: int
    frames: int
    lost: int


@dataclass
class Totals:
    """Process-wide, monotonic: what /metrics reports."""

    forwarded_packets: int = 0
    forwarded_bytes: int = 0
    received_packets: int = 0
    received_bytes: int = 0
    alerts: Counter[str] = field(default_factory=Counter)  # raised, by kind
    floor_events: Counter[str] = field(default_factory=Counter)  # by event type
    # Clients whose media fell silent and whose signaling was pinged to see if they are there.
    media_probes: int = 0


class StreamSampler:
    """Rates over the interval since the previous sample, per stream."""

    def __init__(self, totals: Totals) -> None:
        self._previous: dict[str, _Previous] = {}
        self._totals = totals

    def sample(
        self,
        router: Router,
        now: float | None = None,
        bandwidth: BandwidthAllocation | None = None,
    ) -> list[StreamSample]:
        at = time.monotonic() if now is None else now
        samples: list[StreamSample] = []
        current: dict[str, _Previous] = {}
        for producer in router.producers.values():
            c = producer.counters
            owner = router.peers.get(producer.owner)
            point = _Previous(at, c.packets, c.bytes, c.frames, c.packets_lost)
            d = self._delta(producer.id, point)
            current[producer.id] = point
            self._totals.received_packets += d.packets
            self._totals.received_bytes += d.bytes
            expected = d.packets + max(0, d.lost)
            latency = producer.nacks.latency_percentiles()
            samples.append(
                StreamSample(
                    id=producer.id,
                    direction="in",
                    producer_id=producer.id,
                    participant_id=producer.owner,
                    subscriber_id=None,
                    kind=producer.kind,
                    codec=CODECS[producer.kind],
                    paused=producer.paused,
                    packets=c.packets,
                    bytes=c.bytes,
                    bitrate_kbps=_rate(d.bytes * 8 / 1000, d.at),
                    frames=c.frames,
                    fps=_rate(d.frames, d.at),
                    keyframes=c.keyframes,
                    packets_lost=c.packets_lost,
                    loss=max(0, d.lost) / expected if expected else 0.0,
                    jitter_ms=c.jitter / CLOCK_RATES[producer.kind] * 1000,
                    rtt_ms=None,
                    nacks=c.nacks_sent,
                    plis=c.keyframe_requests_sent,
                    silent_for=at - c.last_packet_at if c.last_packet_at is not None else None,
                    path=selected_path(owner.publisher) if owner is not None else None,
                    source=producer.source,
                    repairs=producer.nacks.repairs,
                    repair_p50_ms=round(latency[0] * 1000, 1) if latency else None,
                    repair_p95_ms=round(latency[1] * 1000, 1) if latency else None,
                    unrepaired=producer.nacks.given_up,
                    layers=_layers(producer),
                    red_packets=c.red_packets if producer.kind == "audio" else None,
                    red_recovered=c.red_recovered if producer.kind == "audio" else None,
                    red_malformed=c.red_malformed if producer.kind == "audio" else None,
                )
            )
        # Receiver reports count loss from the publisher on: an "out" stream's
        # own loss is what the subscriber lost beyond what never reached us.
        upstream = {x.producer_id: x.loss for x in samples}
        for subscriber, transport in router.peers.items():
            path = selected_path(transport.subscriber) if transport.subscriber else None
            for consumer in transport.consumers.values():
                cc, producer = consumer.counters, consumer.producer
                point = _Previous(at, cc.packets, cc.bytes, cc.frames, cc.cumulative_lost)
                d = self._delta(consumer.id, point)
                current[consumer.id] = point
                self._totals.forwarded_packets += d.packets
                self._totals.forwarded_bytes += d.bytes
                estimate, decision = (
                    bandwidth.describe(subscriber, consumer.id) if bandwidth else (None, None)
                )
                samples.append(
                    StreamSample(
                        id=consumer.id,
                        direction="out",
                        producer_id=producer.id,
                        participant_id=producer.owner,
                        subscriber_id=subscriber,
                        kind=producer.kind,
                        codec=CODECS[producer.kind],
                        paused=producer.paused,
                        packets=cc.packets,
                        bytes=cc.bytes,
                        bitrate_kbps=_rate(d.bytes * 8 / 1000, d.at),
                        frames=cc.frames,
                        fps=_rate(d.frames, d.at),
                        keyframes=0,
                        packets_lost=cc.cumulative_lost,
                        loss=max(0.0, cc.fraction_lost / 256 - upstream.get(producer.id, 0.0)),
                        jitter_ms=cc.jitter / CLOCK_RATES[producer.kind] * 1000,
                        rtt_ms=cc.rtt * 1000 if cc.rtt is not None else None,
                        nacks=cc.nacks_received,
                        plis=cc.keyframe_requests,
                        silent_for=None,
                        path=path,
                        source=producer.source,
                        layer=consumer.layer if producer.layer_streams else None,
                        target_layer=consumer.target_layer if producer.layer_streams else None,
                        temporal=_temporal(consumer.temporal),
                        target_temporal=_temporal(consumer.target_temporal),
                        estimate_kbps=estimate / 1000 if estimate is not None else None,
                        held=((decision.reason or "held") if consumer.held and decision else None),
                        retransmitted=cc.retransmitted,
                        retransmit_misses=cc.retransmit_misses,
                    )
                )
        self._previous = current
        return samples

    def _delta(self, key: str, point: _Previous) -> _Previous:
        """The change since the last sample (``at`` is the interval; 0 the first time)."""
        before = self._previous.get(key)
        if before is None:
            return _Previous(0.0, 0, 0, 0, 0)
        return _Previous(
            point.at - before.at,
            point.packets - before.packets,
            point.bytes - before.bytes,
            point.frames - before.frames,
            point.lost - before.lost,
        )


# Seconds without a forwarded packet after which a channel counts as silent.
CHANNEL_QUIET = 1.0


@dataclass(frozen=True)
class ChannelSource:
    """What the service knows of an open channel: who is on air, who listens."""

    language: str
    interpreter_id: str | None
    producer: Producer | None  # the on-air interpreter's microphone
    listeners: int


@dataclass(frozen=True)
class ChannelSample:
    """One open language channel's figures: the stream its listeners receive."""

    id: str  # "channel:<language>", as the channel's alerts
    language: str
    interpreter_id: str | None  # on air now
    producer_id: str | None
    packets: int  # forwarded on the channel since it was first sampled, across handovers
    bytes: int
    bitrate_kbps: float  # over the last interval
    listeners: int
    silent: bool  # nothing forwarded on it within the last second
    silent_for: float | None  # seconds since its last packet; None if none yet

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class ChannelSampler:
    """A channel's figures, carried across handovers: it is one stream to its listeners.

    Each interval counts what the producer on air at the sample forwarded
    since the previous sample; a muted interpreter's microphone is not
    forwarded, so it counts nothing.
    """

    def __init__(self) -> None:
        self._forwarded: dict[str, tuple[int, int]] = {}  # by producer id, at the last sample
        self._at: float | None = None
        self._totals: dict[str, tuple[int, int]] = {}  # by language
        self._last_packet: dict[str, float] = {}  # by language

    def sample(
        self,
        channels: Sequence[ChannelSource],
        producers: Iterable[Producer],
        now: float | None = None,
    ) -> list[ChannelSample]:
        """``producers``: every producer that may go on air (a handover's next source)."""
        at = time.monotonic() if now is None else now
        interval = at - self._at if self._at is not None else 0.0
        samples: list[ChannelSample] = []
        forwarded = {p.id: p.forwarded[:2] for p in producers}
        for channel in channels:
            producer = channel.producer
            packets = octets = 0
            if producer is not None and not producer.closed:
                now_packets, now_bytes, _ = producer.forwarded
                forwarded[producer.id] = (now_packets, now_bytes)
                before = self._forwarded.get(producer.id)
                if before is not None:
                    packets, octets = now_packets - before[0], now_bytes - before[1]
                last = producer.counters.last_packet_at
                if not producer.paused and last is not None and packets > 0:
                    self._last_packet[channel.language] = max(
                        self._last_packet.get(channel.language, last), last
                    )
            total_packets, total_bytes = self._totals.get(channel.language, (0, 0))
            self._totals[channel.language] = (total_packets + packets, total_bytes + octets)
            last_packet = self._last_packet.get(channel.language)
            silent_for = at - last_packet if last_packet is not None else None
            samples.append(
                ChannelSample(
                    id=f"channel:{channel.language}",
                    language=channel.language,
                    interpreter_id=channel.interpreter_id,
                    producer_id=producer.id if producer is not None else None,
                    packets=total_packets + packets,
                    bytes=total_bytes + octets,
                    bitrate_kbps=_rate(octets * 8 / 1000, interval),
                    listeners=channel.listeners,
                    silent=silent_for is None or silent_for >= CHANNEL_QUIET,
                    silent_for=silent_for,
                )
            )
        open_now = {c.language for c in channels}
        for language in [k for k in self._totals if k not in open_now]:
            del self._totals[language]  # a channel opened again starts from zero
            self._last_packet.pop(language, None)
        self._forwarded = forwarded
        self._at = at
        return samples


def _rate(amount: float, seconds: float) -> float:
    return round(amount / seconds, 1) if seconds > 0 else 0.0


__all__ = [
    "AlertRules",
    "ChannelSample",
    "ChannelSampler",
    "ChannelSource",
    "StreamSampler",
    "Totals",
]


def _layers(producer: Producer) -> tuple[dict[str, object], ...] | None:
    """A simulcast producer's layers for the feed: rid, bitrate, whether sent
    now, whether its publisher was told to leave it off (nobody watches it)."""
    if not producer.layer_streams:
        return None
    return tuple(
        {
            "spatial": layer.spatial,
            "rid": layer.rid,
            "bitrate_kbps": round(layer.bitrate_bps / 1000, 1),
            "active": layer.active,
            "paused": layer.paused,
        }
        for layer in producer.layers
    )


def _temporal(tid: int) -> int | None:
    """The highest TID forwarded, None for every frame."""
    return None if tid >= ALL else tid
