"""The NACK retry policy, with explicit time."""

from __future__ import annotations

import pytest

from media.nack import DEFAULT_RTT, MIN_RETRY, NackTracker


def test_a_missing_packet_is_retried_after_one_round_trip() -> None:
    tracker = NackTracker(max_tries=5, horizon=1.0)
    tracker.lost([7, 8], now=10.0)
    assert tracker.due(10.03, rtt=0.05) == ([], [])  # the answer cannot be here yet
    assert tracker.next_check(10.03, rtt=0.05) == pytest.approx(0.02)
    assert tracker.due(10.051, rtt=0.05) == ([7, 8], [])
    assert tracker.due(10.06, rtt=0.05) == ([], [])
    assert tracker.due(10.11, rtt=0.05) == ([7, 8], [])
    assert tracker.retries == 4


def test_without_a_measurement_the_default_round_trip_paces_retries() -> None:
    tracker = NackTracker()
    tracker.lost([1], now=0.0)
    assert tracker.due(DEFAULT_RTT - 0.001, rtt=None) == ([], [])
    assert tracker.due(DEFAULT_RTT, rtt=None) == ([1], [])
    # A tiny round trip does not turn retries into a flood.
    tracker = NackTracker()
    tracker.lost([2], now=1.0)
    assert tracker.due(1.0 + MIN_RETRY / 2, rtt=0.0001) == ([], [])
    assert tracker.due(1.0 + MIN_RETRY, rtt=0.0001) == ([2], [])


def test_retries_stop_at_max_tries_and_the_packet_is_given_up_at_the_horizon() -> None:
    tracker = NackTracker(max_tries=3, horizon=0.5)
    tracker.lost([40], now=0.0)
    sent = [tracker.due(t / 10, rtt=0.1)[0] for t in range(1, 5)]
    assert sent == [[40], [40], [], []]  # the first NACK and two retries
    assert 40 in tracker
    assert tracker.next_check(0.4, rtt=0.1) == pytest.approx(0.1)  # only the horizon is left
    assert tracker.due(0.5, rtt=0.1) == ([], [40])
    assert (len(tracker), tracker.given_up, tracker.repairs) == (0, 1, 0)
    assert tracker.next_check(0.5, rtt=0.1) is None


def test_repairs_count_retransmissions_and_their_latency() -> None:
    tracker = NackTracker()
    tracker.lost(list(range(20)), now=0.0)
    for seq in range(20):
        assert tracker.arrived(seq, now=(seq + 1) / 100, retransmission=True)
    assert tracker.repairs == 20
    assert tracker.latency_percentiles() == pytest.approx((0.10, 0.19))
    assert not tracker.arrived(3, now=1.0, retransmission=True)  # no longer missing


def test_a_reordered_original_is_no_repair() -> None:
    tracker = NackTracker()
    tracker.lost([5], now=0.0)
    assert tracker.arrived(5, now=0.01, retransmission=False)
    assert tracker.repairs == 0 and tracker.latency_percentiles() is None
    assert tracker.due(5.0, rtt=None) == ([], [])


def test_the_latency_window_keeps_the_recent_repairs() -> None:
    tracker = NackTracker(window=4)
    tracker.lost(list(range(8)), now=0.0)
    for seq in range(4):
        tracker.arrived(seq, now=1.0, retransmission=True)
    for seq in range(4, 8):
        tracker.arrived(seq, now=0.02, retransmission=True)
    assert tracker.latency_percentiles() == (0.02, 0.02)
    assert tracker.repairs == 8


def test_clear_forgets_what_is_missing() -> None:
    tracker = NackTracker()
    tracker.lost([1, 2, 3], now=0.0)
    tracker.clear()
    assert len(tracker) == 0 and tracker.next_check(0.0, rtt=None) is None
