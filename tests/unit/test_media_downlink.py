"""The downlink estimate: loss lowers it, clean intervals raise it, REMB bounds growth."""

from __future__ import annotations

import pytest

from media.downlink import (
    FIRST_BACKOFF,
    LOSS_SUSTAIN,
    MAX_BACKOFF,
    MIN_ESTIMATE,
    PROBE_SECONDS,
    SETTLE_SECONDS,
    DownlinkEstimator,
)


def lossy(estimator: DownlinkEstimator, now: float, sent: float, loss: float) -> int | None:
    """Heavy loss long enough to count (the intervals before ``now``, and ``now``)."""
    for k in range(LOSS_SUSTAIN - 1, -1, -1):
        estimate = estimator.update(now - k * 0.01, sent, loss)
    return estimate


def test_unknown_until_heavy_loss_then_what_was_sent_minus_half_the_loss() -> None:
    estimator = DownlinkEstimator()
    assert estimator.update(0.0, 2_000_000, 0.0) is None
    assert estimator.update(1.0, 2_000_000, 0.05) is None  # moderate loss: hold
    assert estimator.update(2.0, 2_000_000, 0.5) is None  # one lossy interval: a burst
    assert estimator.update(3.0, 2_000_000, 0.0) is None
    assert estimator.update(4.0, 2_000_000, 0.0) is None
    assert estimator.update(5.0, 2_000_000, 0.5) is None
    # It lasts: a narrow path; the loss of the last three intervals averaged (1/3).
    assert estimator.update(6.0, 2_000_000, 0.5) == pytest.approx(1_666_667, abs=1)
    assert estimator.loss == 0.5


def test_lossy_and_repaired_intervals_by_turns_still_lower_it() -> None:
    estimator = DownlinkEstimator()
    estimator.update(0.0, 2_000_000, 0.4)
    assert estimator.update(1.0, 2_000_000, 0.03) is None
    # Two of the last three intervals above 10 %: the average loss counts.
    assert estimator.update(2.0, 2_000_000, 0.35) == pytest.approx(1_740_000, abs=1)


def test_a_stale_report_right_after_a_decrease_does_not_lower_it_again() -> None:
    estimator = DownlinkEstimator()
    lossy(estimator, 0.0, 2_000_000, 0.5)
    assert estimator.update(1.0, 1_000_000, 0.4) == 1_500_000  # describes the time before
    assert estimator.update(0.0 + SETTLE_SECONDS + 1, 1_000_000, 0.4) == 800_000


def test_clean_intervals_grow_it_by_eight_percent_a_second_up_to_remb() -> None:
    estimator = DownlinkEstimator()
    lossy(estimator, 0.0, 1_000_000, 0.2)  # 900 kbit/s
    t = FIRST_BACKOFF  # it holds until then (below)
    estimator.update(t - 1, 800_000, 0.0)
    assert estimator.update(t, 800_000, 0.0) == pytest.approx(972_000, rel=1e-3)
    assert estimator.update(t + 1, 800_000, 0.01, remb_bps=1_000_000) == 1_000_000
    assert estimator.update(t + 2, 800_000, 0.0, remb_bps=1_000_000) == 1_000_000
    # REMB below the estimate stops growth but never lowers it.
    assert estimator.update(t + 3, 800_000, 0.0, remb_bps=500_000) == 1_000_000
    # What arrived without loss is proven, whatever the estimate said.
    assert estimator.update(t + 4, 1_500_000, 0.0, remb_bps=2_000_000) == 1_620_000


def test_after_a_decrease_it_holds_before_growing_and_longer_after_growing_into_loss() -> None:
    estimator = DownlinkEstimator()
    assert lossy(estimator, 0.0, 1_000_000, 0.2) == 900_000
    # Clean seconds right after: what arrived counts, but no growth towards
    # the rate that just lost (the floor would go back to the layer that failed).
    for t in range(1, int(FIRST_BACKOFF)):
        assert estimator.update(float(t), 600_000, 0.0) == 900_000
    assert estimator.update(FIRST_BACKOFF - 0.5, 950_000, 0.0) == 950_000
    assert estimator.update(FIRST_BACKOFF, 950_000, 0.0) > 950_000  # grows again
    # It grew into loss soon after: a decrease, and twice the wait.
    lossy(estimator, FIRST_BACKOFF + 4, 1_000_000, 0.2)
    assert estimator.backoff == 2 * FIRST_BACKOFF
    held = estimator.estimate
    assert estimator.update(FIRST_BACKOFF + 4 + FIRST_BACKOFF + 1, 500_000, 0.0) == held


def test_no_report_changes_nothing() -> None:
    estimator = DownlinkEstimator()
    lossy(estimator, 0.0, 1_000_000, 0.3)
    assert estimator.update(5.0, 1_000_000, None) == 850_000


def test_never_below_the_minimum() -> None:
    estimator = DownlinkEstimator()
    assert lossy(estimator, 0.0, 10_000, 0.9) == MIN_ESTIMATE


def test_probes_wait_and_back_off_while_they_fail() -> None:
    estimator = DownlinkEstimator()
    assert not estimator.probe_due(0.0)  # nothing is limited: nothing to probe
    lossy(estimator, 0.0, 2_000_000, 0.5)
    assert not estimator.probe_due(FIRST_BACKOFF - 0.1)
    assert estimator.probe_due(FIRST_BACKOFF)
    now = FIRST_BACKOFF
    backoff = FIRST_BACKOFF
    while backoff < MAX_BACKOFF:
        estimator.start_probe(now)
        assert estimator.probing and not estimator.probe_due(now + 1000)
        now += 1
        lossy(estimator, now, 2_000_000, 0.3)  # the probe ended in loss
        assert not estimator.probing
        backoff = min(MAX_BACKOFF, backoff * 2)
        assert estimator.backoff == backoff
        assert not estimator.probe_due(now + backoff - 0.1)
        now += backoff
        assert estimator.probe_due(now)
    estimator.start_probe(now)
    lossy(estimator, now + 1, 2_000_000, 0.3)
    assert estimator.backoff == MAX_BACKOFF


def test_a_probe_without_loss_succeeds_and_resets_the_backoff() -> None:
    estimator = DownlinkEstimator()
    lossy(estimator, 0.0, 2_000_000, 0.5)
    estimator.start_probe(20.0)
    estimator.update(21.0, 2_000_000, 0.0)
    assert estimator.probing  # not long enough yet
    estimator.update(20.0 + PROBE_SECONDS, 2_000_000, 0.0)
    assert not estimator.probing
    assert estimator.backoff == FIRST_BACKOFF
    assert estimator.estimate is not None and estimator.estimate >= 2_000_000


def test_growth_stops_at_one_and_a_half_times_what_was_sent() -> None:
    estimator = DownlinkEstimator()
    lossy(estimator, 0.0, 1_000_000, 0.5)  # 750 kbit/s
    # Only 300 kbit/s are sent now (videos held): no evidence for more than 450.
    for second in range(1, 30):
        assert estimator.update(float(second), 300_000, 0.0) == 750_000
    estimator.update(30.0, 600_000, 0.0)
    assert estimator.update(40.0, 600_000, 0.0) == 900_000


def test_a_probe_with_moderate_loss_fails_without_lowering_the_estimate() -> None:
    estimator = DownlinkEstimator()
    lossy(estimator, 0.0, 1_000_000, 0.4)  # 800 kbit/s
    estimator.start_probe(10.0)
    estimator.update(11.0, 1_000_000, 0.05)
    assert estimator.probing
    estimator.update(10.0 + PROBE_SECONDS, 1_000_000, 0.05)
    assert not estimator.probing
    assert estimator.estimate == 800_000
    assert estimator.backoff == 2 * FIRST_BACKOFF
    assert not estimator.probe_due(10.0 + PROBE_SECONDS + 2 * FIRST_BACKOFF - 0.1)
    assert estimator.probe_due(10.0 + PROBE_SECONDS + 2 * FIRST_BACKOFF)


def test_one_lossy_interval_ends_a_probe_at_once_without_lowering_the_estimate() -> None:
    estimator = DownlinkEstimator()
    lossy(estimator, 0.0, 1_000_000, 0.4)  # 800 kbit/s
    estimator.start_probe(10.0)
    assert estimator.update(11.0, 1_300_000, 0.3) == 800_000
    assert not estimator.probing
    assert estimator.backoff == 2 * FIRST_BACKOFF
