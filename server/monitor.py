"""Live stream monitoring: per-second figures, alerts and Prometheus metrics.

The forwarding path keeps plain counters (``media.producer.ProducerCounters``,
``media.consumer.ConsumerCounters``); this module turns them into rates once a
second, feeds the alert rules, and keeps the process-wide totals that
``/metrics`` exposes (monotonic even as streams come and go).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from media.aiortc_hooks import selected_path
from media.router import Router

from .alerts import AlertRules, StreamSample

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


class StreamSampler:
    """Rates over the interval since the previous sample, per stream."""

    def __init__(self, totals: Totals) -> None:
        self._previous: dict[str, _Previous] = {}
        self._totals = totals

    def sample(self, router: Router, now: float | None = None) -> list[StreamSample]:
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
                )
            )
        # Receiver reports count loss from the publisher on: an "out" stream's
        # own loss is what the subscriber lost beyond what never reached us.
        upstream = {x.producer_id: x.loss for x in samples}
        for subscriber, transport in router.peers.items():
            path = selected_path(transport.subscriber)
            for consumer in transport.consumers.values():
                cc, producer = consumer.counters, consumer.producer
                point = _Previous(at, cc.packets, cc.bytes, cc.frames, cc.cumulative_lost)
                d = self._delta(consumer.id, point)
                current[consumer.id] = point
                self._totals.forwarded_packets += d.packets
                self._totals.forwarded_bytes += d.bytes
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


def _rate(amount: float, seconds: float) -> float:
    return round(amount / seconds, 1) if seconds > 0 else 0.0


__all__ = ["AlertRules", "StreamSampler", "Totals"]
