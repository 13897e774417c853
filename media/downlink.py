"""A subscriber's downlink estimate, from what it reports (pure, explicit time).

The SFU does not choose a sending rate: it forwards what publishers send and
can only leave videos out (or, with simulcast, pick smaller layers). The
estimate is therefore the ceiling the allocation must fit under. It moves on
loss, as the loss-based half of Google Congestion Control does, with one
difference: the decrease aims under the link, not halfway.

- loss above 10 % in two of the last three report intervals means the path
  carries less than was sent: the estimate drops to what it did carry,
  what was sent times (1 - loss), the least of those lossy intervals, less
  a margin (``DECREASE_MARGIN``). GCC's (1 - loss / 2) suits a sender that
  can lower its rate a little at a time; the SFU drops whole videos, and an
  estimate left above the link keeps the floor's video and audio losing
  until the next decrease. The least interval, because in the first one a
  policer's bucket still lets a burst through. One lossy interval alone is
  not enough: a burst (a join, keyframes) should not pause anyone's videos.
  (Two of three, not two in a row: reported loss comes in lumps.)
- loss under 2 %: what was sent arrived, so the estimate is at least that,
  and (``backoff`` seconds after the last decrease, as for probes) it grows
  by 8 % a second, no further than 1.5 times what was sent (as GCC bounds
  its estimate by the incoming rate: more is a guess) and than the
  subscriber's REMB (its delay-based estimate) when it sends one; between
  the two, it holds;
- REMB never lowers the estimate by itself: on a busy machine a receiver's
  delay-based estimate dips without any loss, and pausing videos then would
  be wrong. It only stops the growth.

Until the first heavy loss the estimate is unknown (None): nothing limits the
subscriber. Resuming a video that was left out is the only way to find out
whether the path carries more (a probe). After a decrease the estimator
waits ``backoff`` seconds before allowing one (twice that to raise a video
a layer, when none is left out). A probe must stay clean for
``PROBE_SECONDS``: a policer's bucket (nftables' holds a second of its rate)
hides a small overrun for several seconds, so a short probe would pass and
its video would then make the floor lose. The first interval with loss of
2 % or more ends it at once (its video is the cause, and the floor pays for
every second of it) without lowering the estimate: the link without the
probe was fine. Each failure doubles the wait, up to ``MAX_BACKOFF``; so
does a decrease soon after a decrease or a probe that passed (the link
did not carry what it seemed to); a probe that passed halves it.
"""

from __future__ import annotations

HIGH_LOSS = 0.10
LOSS_SUSTAIN = 2  # intervals above HIGH_LOSS among the last LOSS_WINDOW before a decrease
LOSS_WINDOW = 3
LOW_LOSS = 0.02
# A decrease goes this far below what the link carried: the loss measured
# over one second is noisy, and an estimate just above the link costs the
# floor all the loss.
DECREASE_MARGIN = 0.95
GROWTH_PER_SECOND = 1.08
GROWTH_CAP = 1.5  # times what was sent
FIRST_BACKOFF = 8.0  # seconds from a decrease to the first probe
MAX_BACKOFF = 64.0
PROBE_SECONDS = 8.0  # a probe clean this long passed
MIN_ESTIMATE = 64_000  # bit/s: never lower (the audio of the floor fits)
# Seconds after a decrease during which loss does not lower the estimate again:
# the next receiver report may still describe the time before it.
SETTLE_SECONDS = 1.5


class DownlinkEstimator:
    def __init__(self) -> None:
        self.estimate: int | None = None  # bit/s; None: nothing known limits it
        self.loss = 0.0  # the last interval's loss fraction
        # Times sustained loss called for a decrease (even one that left the
        # estimate where it was, already lower).
        self.decreases = 0
        self._at: float | None = None  # time of the last update
        self._decreased_at: float | None = None
        self._failed_at: float | None = None  # the last probe that failed ended then
        self._passed_at: float | None = None  # the last probe that passed ended then
        # The last LOSS_WINDOW intervals: (bit/s sent, loss).
        self._recent: list[tuple[float, float]] = []
        self._backoff = FIRST_BACKOFF
        self._probe_at: float | None = None  # a probe is running since then

    @property
    def probing(self) -> bool:
        return self._probe_at is not None

    def update(
        self, now: float, sent_bps: float, loss: float | None, remb_bps: float | None = None
    ) -> int | None:
        """One interval's figures: bit/s sent to the subscriber, its loss
        (None: no report, no NACK), its REMB (None: none)."""
        elapsed = 0.0 if self._at is None else max(0.0, now - self._at)
        self._at = now
        if loss is None:
            return self.estimate
        self.loss = loss
        estimate = self.estimate
        if self._probe_at is not None:
            if loss >= LOW_LOSS:
                self._probe_failed(now)
                self._recent = []  # what the probe lost says nothing of the link without it
            elif now - self._probe_at >= PROBE_SECONDS:
                self._probe_at = None
                self._passed_at = now
                self._backoff = max(FIRST_BACKOFF, self._backoff / 2)
                self.estimate = max(estimate or 0, int(sent_bps))  # it carried that
            # Meanwhile the estimate holds: a clean second does not prove the
            # probe fits while a policer's bucket may be emptying.
            return self.estimate
        self._recent = [*self._recent, (sent_bps, loss)][-LOSS_WINDOW:]
        lossy = [(sent, x) for sent, x in self._recent if x > HIGH_LOSS]
        if len(lossy) >= LOSS_SUSTAIN and loss > LOW_LOSS:
            if self._decreased_at is not None and now - self._decreased_at < SETTLE_SECONDS:
                return estimate
            self.decreases += 1
            carried = min(sent * (1 - x) for sent, x in lossy)
            lowered = max(MIN_ESTIMATE, int(carried * DECREASE_MARGIN))
            self._recent = []  # the next decrease needs new evidence
            last = max(
                (t for t in (self._decreased_at, self._passed_at) if t is not None), default=None
            )
            if last is not None and now - last < 2 * self._backoff:
                # It grew back into the loss soon: wait longer before trying again.
                self._backoff = min(MAX_BACKOFF, self._backoff * 2)
            if estimate is None or lowered < estimate:
                self.estimate = lowered
            self._decreased_at = now
        elif loss < LOW_LOSS and estimate is not None and not self._may_grow(now):
            self.estimate = max(estimate, int(sent_bps))  # what arrived, no more
        elif loss < LOW_LOSS and estimate is not None:
            grown = max(estimate, int(sent_bps)) * GROWTH_PER_SECOND**elapsed
            grown = min(grown, max(estimate, GROWTH_CAP * sent_bps))
            if remb_bps is not None:
                grown = min(grown, max(estimate, remb_bps))
            self.estimate = int(grown)
        return self.estimate

    def _may_grow(self, now: float) -> bool:
        """Not within ``backoff`` seconds of a decrease: growing back at once
        would raise the floor to the layer the link just failed to carry."""
        return self._decreased_at is None or now - self._decreased_at >= self._backoff

    def _probe_failed(self, now: float) -> None:
        self._probe_at = None
        self._failed_at = now
        self._backoff = min(MAX_BACKOFF, self._backoff * 2)

    def probe_due(self, now: float) -> bool:
        """Whether the allocation may try one more video than the estimate allows."""
        if self.estimate is None or self._probe_at is not None:
            return False
        times = [t for t in (self._decreased_at, self._failed_at, self._passed_at) if t is not None]
        return not times or now - max(times) >= self._backoff

    def upgrade_due(self, now: float) -> bool:
        """Whether the allocation may raise a video one layer above what the
        estimate allows: as :meth:`probe_due`, after twice the wait (a
        layer's step costs more than a thumbnail when it fails)."""
        if self.estimate is None or self._probe_at is not None:
            return False
        times = [t for t in (self._decreased_at, self._failed_at, self._passed_at) if t is not None]
        return not times or now - max(times) >= 2 * self._backoff

    def start_probe(self, now: float) -> None:
        self._probe_at = now

    @property
    def backoff(self) -> float:
        return self._backoff
