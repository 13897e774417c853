"""Each subscriber's videos within its downlink, floor first, and last-N.

The I/O shell around :mod:`media.downlink` (the estimate) and
:mod:`media.allocation` (the decision): once a second it reads what every
subscriber was sent and what its receiver reports and REMB said, updates its
estimate, and holds or resumes each of its video consumers (or picks a
simulcast layer, where the producer has layers). The conference gives the
priorities (who holds the floor, the chair, the most recent speakers) and
calls :meth:`BandwidthAllocation.allocate` again at once when they change.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from media.allocation import (
    Allocation,
    Candidate,
    Decision,
    Reason,
    allocate,
    first_may_be_held,
    last_n,
    layer_rates,
)
from media.consumer import Consumer
from media.downlink import DownlinkEstimator
from media.producer import SCREEN, Producer
from media.transport import PeerTransport

from .video_layers import at_half_frame_rate, chosen_layer

logger = logging.getLogger(__name__)

DEFAULT_LAST_N = 9
# Bytes of headers per packet beyond the payload: IPv4/UDP 28, RTP 12,
# extensions 8-12, SRTP tag 16.
PACKET_OVERHEAD = 64
AUDIO_FLOOR_BPS = 40_000  # an audio stream is reserved at least this
VIDEO_UNKNOWN_BPS = 500_000  # a video whose rate is not measured yet
REMB_FRESH = 2.0  # seconds a REMB counts for the estimate
RATE_SMOOTHING = 0.3  # weight of the newest second in a producer's measured rate
# What a policed link carried is sent x (1 - loss), where "sent" counts the
# resends it carried too. Measured with Chromium behind a 560 kbit/s policer
# (three videos, two audio streams sent): without resends the decrease landed
# at 340-400 kbit/s, too low for the floor's video; with every resend at
# 590-640 (they come in bursts, of which a policer drops more); with one per
# packet lost still at 560-640. With half a resend per packet lost it landed
# at 400-590, mostly under the link; a decrease that stays above it is
# followed by another while the loss lasts.
RESEND_SHARE = 0.5


@dataclass(frozen=True)
class Priorities:
    """Who comes first, from the floor (the conference computes it)."""

    floor: frozenset[str]  # participants whose delegation holds the floor
    chair: frozenset[str]
    # Everyone else, the most recent speaker first.
    recent: tuple[str, ...]

    @cached_property
    def _positions(self) -> dict[str, int]:
        return {owner: k for k, owner in enumerate(self.recent)}

    def rank(self, owner: str) -> int:
        if owner in self.floor:
            return 1
        if owner in self.chair:
            return 2
        return 3 + self._positions.get(owner, len(self.recent))

    def ranked(self, owners: Iterable[str]) -> list[str]:
        return sorted(set(owners), key=lambda o: (self.rank(o), o))


@dataclass
class Downlink:
    """What the allocation knows of one subscriber."""

    estimator: DownlinkEstimator = field(default_factory=DownlinkEstimator)
    # Per consumer: its sent totals (bytes with overhead) and last report seen.
    sent: dict[str, int] = field(default_factory=dict)
    # Per consumer: packets sent, sequence numbers NACKed for the first time, resends.
    nacked: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    reports: dict[str, float] = field(default_factory=dict)
    measured_at: float | None = None
    sent_bps: float = 0.0
    decisions: dict[str, Decision] = field(default_factory=dict)
    # The consumer resumed or raised by the running probe, and its layer.
    probe: tuple[str, int] | None = None
    # The estimator's decreases when the first video was last seen the only
    # one sent, in its lowest layer (media.allocation.first_may_be_held).
    alone_at: int | None = None

    @property
    def held_for_bandwidth(self) -> int:
        return sum(1 for d in self.decisions.values() if d.reason is Reason.BANDWIDTH)


class BandwidthAllocation:
    def __init__(self, last_n: int = DEFAULT_LAST_N) -> None:
        self.last_n = last_n
        self.downlinks: dict[str, Downlink] = {}
        # Producer id -> (bytes with overhead, when, smoothed bit/s).
        self._rates: dict[str, tuple[int, float, float | None]] = {}

    # --- measuring ----------------------------------------------------------------

    def measure(self, transports: Mapping[str, PeerTransport], now: float | None = None) -> None:
        """Once a second: producers' rates, and each subscriber's estimate."""
        at = time.monotonic() if now is None else now
        producers = {p.id: p for t in transports.values() for p in t.producers.values()}
        self._measure_producers(producers.values(), at)
        for pid in [p for p in self.downlinks if p not in transports]:
            del self.downlinks[pid]
        for pid, transport in transports.items():
            if transport.subscriber is None:
                continue
            downlink = self.downlinks.setdefault(pid, Downlink())
            self._measure_downlink(downlink, transport, at)

    def _measure_producers(self, producers: Iterable[Producer], at: float) -> None:
        rates: dict[str, tuple[int, float, float | None]] = {}
        for producer in producers:
            c = producer.counters
            total = c.bytes + c.packets * PACKET_OVERHEAD
            before = self._rates.get(producer.id)
            rate = None
            if before is not None and at > before[1]:
                newest = (total - before[0]) * 8 / (at - before[1])
                rate = (
                    newest
                    if before[2] is None
                    else before[2] + RATE_SMOOTHING * (newest - before[2])
                )
            rates[producer.id] = (total, at, rate)
        self._rates = rates

    def _measure_downlink(self, downlink: Downlink, transport: PeerTransport, at: float) -> None:
        consumers = _all_consumers(transport)
        sent = 0
        lost_weighted = 0.0
        weights = 0
        rembs = []
        totals: dict[str, int] = {}
        reports: dict[str, float] = {}
        nacked: dict[str, tuple[int, int, int]] = {}
        for consumer in consumers:
            c = consumer.counters
            count, octets = c.packets, c.bytes
            total = octets + count * PACKET_OVERHEAD
            totals[consumer.id] = total
            delta = max(0, total - downlink.sent.get(consumer.id, total))
            sent += delta
            nacked[consumer.id] = (count, c.nacked_first, c.retransmitted)
            packets, nacks, resent = downlink.nacked.get(consumer.id, nacked[consumer.id])
            # Resends cross the link too (see RESEND_SHARE).
            resends = min(c.retransmitted - resent, c.nacked_first - nacks)
            if count and resends > 0:
                sent += int(RESEND_SHARE * resends * (octets / count + PACKET_OVERHEAD))
            report_at = c.report_at
            reported: float | None = None
            if report_at is not None:
                reports[consumer.id] = report_at
                if report_at != downlink.reports.get(consumer.id):
                    reported = c.fraction_lost / 256
            if not consumer.started:
                continue
            lost = interval_loss(reported, count - packets, c.nacked_first - nacks)
            if lost is not None:
                # Loss on the way to the SFU is not this subscriber's downlink.
                upstream = consumer.producer.counters.fraction_lost / 256
                weight = max(1, delta // 1000)
                lost_weighted += max(0.0, lost - upstream) * weight
                weights += weight
            if c.remb is not None and at - c.remb_at < REMB_FRESH:
                rembs.append(c.remb)
        elapsed = None if downlink.measured_at is None else at - downlink.measured_at
        downlink.sent, downlink.reports, downlink.measured_at = totals, reports, at
        downlink.nacked = nacked
        if not elapsed or elapsed <= 0:
            return
        downlink.sent_bps = sent * 8 / elapsed
        loss = lost_weighted / weights if weights else None
        # A browser's REMB is the total of the streams it lists (each of them
        # gets the same figure): the largest one is that total.
        remb = max(rembs) if rembs else None
        estimator = downlink.estimator
        before = estimator.estimate
        after = estimator.update(at, downlink.sent_bps, loss, remb)
        if after is not None and (before is None or after < before):
            logger.info(
                "%s: downlink estimate lowered to %d kbit/s (loss %.0f%%, sent %d kbit/s)",
                transport.peer_id,
                after // 1000,
                estimator.loss * 100,
                downlink.sent_bps // 1000,
                extra={"participant": transport.peer_id},
            )

    # --- deciding -----------------------------------------------------------------

    def allocate(
        self,
        transports: Mapping[str, PeerTransport],
        priorities: Priorities,
        pinned: Mapping[str, str] | None = None,
        now: float | None = None,
    ) -> set[str]:
        """Hold, resume or re-layer every subscriber's videos; the subscribers
        whose held videos changed (to be told: ``subscribe.streams``).

        ``pinned``: per subscriber, the participant whose tile it pinned
        (``video.pin``): wanted in the middle layer."""
        at = time.monotonic() if now is None else now
        owners = {
            p.owner
            for t in transports.values()
            for p in t.producers.values()
            if p.kind == "video" and p.source != SCREEN and not p.closed
        }
        ranked = priorities.ranked(owners)
        changed = set()
        for pid, transport in transports.items():
            videos = [c for c in transport.consumers.values() if c.kind == "video"]
            if transport.subscriber is None or not videos:
                continue
            downlink = self.downlinks.setdefault(pid, Downlink())
            estimator = downlink.estimator
            pin = (pinned or {}).get(pid)
            allowed = last_n(ranked, self.last_n, viewer=pid)
            candidates = [self._candidate(c, priorities, allowed, pin) for c in videos]
            featured = priorities.floor | priorities.chair
            for consumer in videos:
                # Re-asked every time: the publisher's temporal layers show as it sends.
                producer = consumer.producer
                consumer.reduce_frame_rate(
                    at_half_frame_rate(producer.owner, featured, pin, producer.source == SCREEN)
                )
            audio = self._audio_bps(transport)
            if not estimator.probing:
                downlink.probe = None
            limited = None if estimator.estimate is None else estimator.decreases
            may_hold, downlink.alone_at = first_may_be_held(candidates, limited, downlink.alone_at)
            result = allocate(
                estimator.estimate,
                audio,
                candidates,
                probe=estimator.probe_due(at),
                probing=downlink.probe,
                upgrade=estimator.upgrade_due(at),
                keep_first=not may_hold,
            )
            if result.probed is not None and result.probed != downlink.probe:
                estimator.start_probe(at)
                downlink.probe = result.probed
            before = downlink.held_for_bandwidth
            downlink.decisions = dict(result.decisions)
            if downlink.held_for_bandwidth != before:
                estimate = estimator.estimate
                logger.info(
                    "%s: %d video(s) held for its downlink (about %s kbit/s, loss %.0f%%, "
                    "sent %d kbit/s; audio %d, videos kept %d)%s",
                    pid,
                    downlink.held_for_bandwidth,
                    "?" if estimate is None else estimate // 1000,
                    estimator.loss * 100,
                    downlink.sent_bps // 1000,
                    audio // 1000,
                    result.video_bps // 1000,
                    ", probing" if result.probed is not None else "",
                    extra={"participant": pid},
                )
            if _apply(result, {c.id: c for c in videos}, self._layers):
                changed.add(pid)
        return changed

    def _candidate(
        self, consumer: Consumer, priorities: Priorities, allowed: frozenset[str], pin: str | None
    ) -> Candidate:
        producer = consumer.producer
        screen = producer.source == SCREEN
        owner = producer.owner
        layers = self._layers(producer)
        rates = tuple(rate for _, rate in layers)
        # The floor's policy (conference/video_layers.py): the floor, the chair and
        # a screen share in the high layer, a pinned tile in the middle one,
        # everyone else as a thumbnail; as far as the producer has layers.
        featured = priorities.floor | priorities.chair
        chosen = chosen_layer(owner, featured, pin, screen)
        spatials = [s for s, _ in layers]
        # The highest layer arriving that is no larger than the one chosen.
        wanted = max((i for i, s in enumerate(spatials) if s <= chosen), default=0)
        current: int | None = None
        if not consumer.held:
            spatial = consumer.layer
            current = spatials.index(spatial) if spatial in spatials else len(layers) - 1
        return Candidate(
            consumer.id,
            0 if screen else priorities.rank(owner),
            rates,
            wanted,
            current,
            allowed=screen or owner in allowed,
        )

    def _layers(self, producer: Producer) -> list[tuple[int, int]]:
        """(spatial layer, bit/s) of the producer's active layers, lowest first;
        one entry, its measured rate, without simulcast."""
        measured = self._rates.get(producer.id, (0, 0.0, None))[2]
        return layer_rates(producer.offered_layers, measured, VIDEO_UNKNOWN_BPS)

    def _audio_bps(self, transport: PeerTransport) -> int:
        """The audio the subscriber is sent, reserved before any video."""
        total = 0
        for consumer in _all_consumers(transport):
            producer = consumer.producer
            if consumer.kind != "audio" or producer.paused:
                continue
            rate = self._rates.get(producer.id, (0, 0.0, None))[2]
            total += max(AUDIO_FLOOR_BPS, int(rate or 0))
        return total

    # --- reading ------------------------------------------------------------------

    def describe(self, subscriber: str, consumer_id: str) -> tuple[int | None, Decision | None]:
        """The subscriber's estimate (bit/s, None: unlimited) and this consumer's decision."""
        downlink = self.downlinks.get(subscriber)
        if downlink is None:
            return None, None
        return downlink.estimator.estimate, downlink.decisions.get(consumer_id)

    def limited(self) -> dict[str, tuple[int, int | None]]:
        """Per subscriber: videos held for its downlink, and its estimate."""
        return {
            pid: (d.held_for_bandwidth, d.estimator.estimate) for pid, d in self.downlinks.items()
        }


def interval_loss(reported: float | None, packets: int, nacked: int) -> float | None:
    """One consumer's loss over an interval: what its receiver report gave
    (None: no new report) or, if larger, what its NACKs show.

    A receiver counts what retransmission repaired as received: behind a
    policer that drops a third of the packets, a browser reports a few
    percent while its video stalls on the resends. The NACKs show the loss
    before repair: ``nacked`` distinct sequence numbers asked for the first
    time, of ``packets`` sent (a receiver asks again for a resend that was
    lost too, and counting those would read more loss than there is).
    """
    asked = min(1.0, nacked / packets) if packets > 0 and nacked > 0 else None
    if reported is None:
        return asked
    return reported if asked is None else max(reported, asked)


def _all_consumers(transport: PeerTransport) -> list[Consumer]:
    feeds = [s.consumer for s in transport.feeds.values() if s.consumer is not None]
    return [*transport.consumers.values(), *feeds]


def _apply(
    result: Allocation,
    consumers: Mapping[str, Consumer],
    layers_of: Callable[[Producer], list[tuple[int, int]]],
) -> bool:
    """Carry the decisions out; True if a video was held or resumed."""
    changed = False
    for key, decision in result.decisions.items():
        consumer = consumers[key]
        held = decision.layer is None
        if held != consumer.held:
            consumer.hold(held)
            changed = True
        if decision.layer is not None:
            spatials = [s for s, _ in layers_of(consumer.producer)]
            if decision.layer < len(spatials):
                consumer.select_layer(spatials[decision.layer])
    return changed
