"""The downlink estimate: loss lowers it under the link, clean intervals raise
it, REMB bounds growth, probes must stay clean long enough."""

from __future__ import annotations

import pytest

from media.downlink import (
    DECREASE_MARGIN,
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


def under(carried: float) -> int:
    return int(carried * DECREASE_MARGIN)


def test_unknown_until_heavy_loss_then_what_the_link_carried_less_a_margin() -> None:
    estimator = DownlinkEstimator()
    assert estimator.update(0.0, 2_000_000, 0.0) is None
    assert estimator.update(1.0, 2_000_000, 0.05) is None  # moderate loss: hold
    assert estimator.update(2.0, 2_000_000, 0.5) is None  # one lossy interval: a burst
    assert estimator.update(3.0, 2_000_000, 0.0) is None
    assert estimator.update(4.0, 2_000_000, 0.0) is None
    assert estimator.update(5.0, 2_000_000, 0.5) is None
    # It lasts: a narrow path that carried half of what was sent.
    assert estimator.update(6.0, 2_000_000, 0.5) == under(1_000_000)
    assert estimator.loss == 0.5


def test_a_policed_link_is_estimated_under_its_rate() -> None:
    # 940 kbit/s sent into a 560 kbit/s policer whose bucket (a second of its
    # rate) still let part through in the first interval: 10 %, then 40 %.
    estimator = DownlinkEstimator()
    estimator.update(0.0, 940_000, 0.0)
    estimator.update(1.0, 940_000, 0.11)
    estimate = estimator.update(2.0, 940_000, 0.40)
    # GCC's sent x (1 - loss / 2) would say 752 (first two intervals) to 658:
    # above the link, and the floor would go on losing.
    assert estimate == under(940_000 * 0.6)
    assert estimate is not None and 0.9 * 560_000 < estimate < 560_000


def test_lossy_and_repaired_intervals_by_turns_still_lower_it() -> None:
    estimator = DownlinkEstimator()
    estimator.update(0.0, 2_000_000, 0.4)
    assert estimator.update(1.0, 2_000_000, 0.03) is None
    # Two of the last three intervals above 10 %: the one that carried least counts.
    assert estimator.update(2.0, 2_000_000, 0.35) == under(1_200_000)


def test_a_stale_report_right_after_a_decrease_does_not_lower_it_again() -> None:
    estimator = DownlinkEstimator()
    lossy(estimator, 0.0, 2_000_000, 0.5)
    assert estimator.update(1.0, 1_000_000, 0.4) == under(1_000_000)  # the time before
    assert estimator.update(SETTLE_SECONDS + 1, 1_000_000, 0.4) == under(600_000)


def test_clean_intervals_grow_it_by_eight_percent_a_second_up_to_remb() -> None:
    estimator = DownlinkEstimator()
    lossy(estimator, 0.0, 1_000_000, 0.2)  # 760 kbit/s
    t = FIRST_BACKOFF  # it holds until then (below)
    assert estimator.update(t - 1, 800_000, 0.0) == 800_000  # what arrived
    assert estimator.update(t, 800_000, 0.0) == pytest.approx(864_000, rel=1e-3)
    assert estimator.update(t + 1, 800_000, 0.01, remb_bps=900_000) == 900_000
    assert estimator.update(t + 2, 800_000, 0.0, remb_bps=900_000) == 900_000
    # REMB below the estimate stops growth but never lowers it.
    assert estimator.update(t + 3, 800_000, 0.0, remb_bps=500_000) == 900_000
    # What arrived without loss is proven, whatever the estimate said.
    assert estimator.update(t + 4, 1_500_000, 0.0, remb_bps=2_000_000) == 1_620_000


def test_after_a_decrease_it_holds_before_growing_and_longer_after_growing_into_loss() -> None:
    estimator = DownlinkEstimator()
    assert lossy(estimator, 0.0, 1_000_000, 0.2) == under(800_000)
    # Clean seconds right after: what arrived counts, but no growth towards
    # the rate that just lost (the floor would go back to the layer that failed).
    for t in range(1, int(FIRST_BACKOFF)):
        assert estimator.update(float(t), 600_000, 0.0) == under(800_000)
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
    assert estimator.update(5.0, 1_000_000, None) == under(700_000)


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
        estimator.update(now, 2_000_000, 0.3)  # the probe ended in loss
        assert not estimator.probing
        backoff = min(MAX_BACKOFF, backoff * 2)
        assert estimator.backoff == backoff
        assert not estimator.probe_due(now + backoff - 0.1)
        now += backoff
        assert estimator.probe_due(now)
    estimator.start_probe(now)
    estimator.update(now + 1, 2_000_000, 0.3)
    assert estimator.backoff == MAX_BACKOFF


def test_a_probe_passes_only_clean_for_the_whole_probe_then_halves_the_backoff() -> None:
    estimator = DownlinkEstimator()
    lossy(estimator, 0.0, 2_000_000, 0.5)  # 920 kbit/s
    estimator.start_probe(20.0)
    estimator.update(21.0, 2_000_000, 0.3)  # failed: 16 s to wait
    estimator.start_probe(40.0)
    # Clean seconds do not raise it yet: a policer's bucket may be emptying.
    for t in range(41, 40 + int(PROBE_SECONDS)):
        assert estimator.update(float(t), 1_200_000, 0.0) == under(1_000_000)
        assert estimator.probing
    assert estimator.update(40.0 + PROBE_SECONDS, 1_200_000, 0.0) == 1_200_000
    assert not estimator.probing
    assert estimator.backoff == FIRST_BACKOFF
    assert not estimator.probe_due(40.0 + PROBE_SECONDS + FIRST_BACKOFF - 0.1)
    assert estimator.probe_due(40.0 + PROBE_SECONDS + FIRST_BACKOFF)


def test_loss_late_in_a_probe_ends_it_at_once_without_lowering_the_estimate() -> None:
    # A small overrun empties a one-second bucket only after several seconds.
    estimator = DownlinkEstimator()
    lossy(estimator, 0.0, 1_000_000, 0.4)  # 552 kbit/s
    estimator.start_probe(10.0)
    for t in range(11, 16):
        estimator.update(float(t), 650_000, 0.0)
    assert estimator.probing
    assert estimator.update(16.0, 650_000, 0.03) == under(600_000)
    assert not estimator.probing
    assert estimator.backoff == 2 * FIRST_BACKOFF
    assert not estimator.probe_due(16.0 + 2 * FIRST_BACKOFF - 0.1)
    assert estimator.probe_due(16.0 + 2 * FIRST_BACKOFF)


def test_heavy_loss_soon_after_a_probe_passed_doubles_the_wait() -> None:
    # The probe passed, then the link turned out not to carry it after all.
    estimator = DownlinkEstimator()
    lossy(estimator, 0.0, 1_000_000, 0.4)
    estimator.start_probe(10.0)
    estimator.update(10.0 + PROBE_SECONDS, 700_000, 0.0)
    assert not estimator.probing and estimator.backoff == FIRST_BACKOFF
    now = 10.0 + PROBE_SECONDS + 3
    assert lossy(estimator, now, 700_000, 0.2) == under(560_000)
    assert estimator.backoff == 2 * FIRST_BACKOFF
    assert not estimator.probe_due(now + 2 * FIRST_BACKOFF - 0.1)


def test_growth_stops_at_one_and_a_half_times_what_was_sent() -> None:
    estimator = DownlinkEstimator()
    lossy(estimator, 0.0, 1_000_000, 0.2)  # 736 kbit/s
    # Only 300 kbit/s are sent now (videos held): no evidence for more than 450.
    for second in range(1, 30):
        assert estimator.update(float(second), 300_000, 0.0) == under(800_000)
    estimator.update(30.0, 600_000, 0.0)
    assert estimator.update(40.0, 600_000, 0.0) == 900_000


def test_a_layer_is_raised_as_a_probe_after_twice_the_wait() -> None:
    estimator = DownlinkEstimator()
    assert not estimator.upgrade_due(0.0)  # nothing is limited
    lossy(estimator, 0.0, 2_000_000, 0.5)
    assert estimator.probe_due(FIRST_BACKOFF)
    assert not estimator.upgrade_due(2 * FIRST_BACKOFF - 0.1)
    assert estimator.upgrade_due(2 * FIRST_BACKOFF)
    estimator.start_probe(2 * FIRST_BACKOFF)
    assert not estimator.upgrade_due(1000.0)


def test_decreases_are_counted_even_when_the_estimate_is_already_lower() -> None:
    estimator = DownlinkEstimator()
    assert estimator.decreases == 0
    first = lossy(estimator, 0.0, 1_000_000, 0.8)  # 190 kbit/s: a reading far too low
    assert estimator.decreases == 1
    # The loss goes on at what is sent now: the link carries less still,
    # though the new figure is not below the estimate.
    lossy(estimator, SETTLE_SECONDS + 2, 300_000, 0.3)
    assert estimator.decreases == 2
    assert estimator.estimate == first
