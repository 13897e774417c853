"""A subscriber's loss over an interval: its receiver report, or its NACKs.

The NACKs count each lost packet once: a sequence number asked for again
(its resend was lost too, or late) is not a second loss.
"""

from __future__ import annotations

from typing import Any

import pytest

from conference.bandwidth import interval_loss
from media.consumer import (
    NACK_HORIZON,
    NACK_MEMORY,
    RESEND_INTERVAL,
    RESEND_LIMIT,
    ConsumerCounters,
)
from media.downlink import HIGH_LOSS
from media.producer import Producer


def counters() -> ConsumerCounters:
    receiver: Any = object()
    return ConsumerCounters(Producer("p-1", "owner", "video", receiver, lambda data: True))


def test_a_report_alone_gives_the_loss() -> None:
    assert interval_loss(0.05, 100, 0) == 0.05
    assert interval_loss(0.05, 0, 0) == 0.05


def test_no_report_and_no_nack_says_nothing() -> None:
    assert interval_loss(None, 100, 0) is None
    assert interval_loss(None, 0, 0) is None


def test_nacks_show_the_loss_that_retransmission_hid_from_the_report() -> None:
    # Behind a policer dropping a third of the packets: 300 sent, 100 asked
    # for the first time; the report (resends repaired the rest) says 3 %.
    loss = interval_loss(3 / 256 * 8, 300, 100)
    assert loss == pytest.approx(1 / 3)
    assert loss is not None and loss > HIGH_LOSS


def test_nacks_count_without_a_new_report() -> None:
    assert interval_loss(None, 200, 30) == pytest.approx(0.15)


def test_a_report_larger_than_the_nacks_wins() -> None:
    # Audio is not retransmitted: its loss comes from the report only.
    assert interval_loss(0.2, 50, 1) == 0.2


def test_more_first_nacks_than_packets_sent_is_all_lost_not_more() -> None:
    # Packets sent late in the interval before are asked for in this one.
    assert interval_loss(None, 10, 15) == 1.0


def test_a_sequence_asked_for_again_is_one_loss() -> None:
    c = counters()
    c.nacked((10, 11, 12), 0.0)
    c.nacked((11, 12, 13), 0.1)  # the resends of 11 and 12 were lost as well
    c.nacked((12,), 0.2)
    assert c.nacks_received == 7
    assert c.nacked_first == 4
    # Through the interval's figures: 4 of 40 sent lost, not 7.
    assert interval_loss(None, 40, c.nacked_first) == pytest.approx(0.1)


def test_a_packet_is_resent_once_per_interval_and_a_few_times_at_most() -> None:
    c = counters()
    assert c.nacked((10, 11), 0.0) == [10, 11]
    # Asked again 20 ms later (Chromium's pace): its resend is on its way.
    assert c.nacked((10, 11, 12), 0.02) == [12]
    now = RESEND_INTERVAL + 0.001
    for _ in range(RESEND_LIMIT - 1):
        assert c.nacked((10,), now) == [10]  # that resend was lost too
        now += RESEND_INTERVAL + 0.001
    assert c.nacked((10,), now) == []  # enough: a keyframe repairs it
    assert c.resends_declined == 3
    assert c.nacked_first == 3


def test_a_long_round_trip_spaces_resends_further() -> None:
    c = counters()
    c.rtt = 0.2
    c.nacked((5,), 0.0)
    assert c.nacked((5,), 0.15) == []
    assert c.nacked((5,), 0.21) == [5]


def test_the_memory_of_asked_sequences_is_bounded_and_keeps_the_latest() -> None:
    c = counters()
    c.nacked(tuple(range(NACK_MEMORY + 100)), 0.0)
    assert c.nacked_first == NACK_MEMORY + 100
    c.nacked((NACK_MEMORY + 99,), 0.01)  # recent: remembered
    assert c.nacked_first == NACK_MEMORY + 100
    # Long forgotten: counted again (a sequence number comes back after 65536).
    assert c.nacked((0,), 0.02) == [0]
    assert c.nacked_first == NACK_MEMORY + 101
    assert c._asked is not None and len(c._asked) == NACK_MEMORY


def test_a_sequence_number_asked_for_again_minutes_later_is_another_packet() -> None:
    c = counters()
    c.nacked((7,), 0.0)
    for k in range(1, RESEND_LIMIT):
        c.nacked((7,), k * 0.1)
    assert c.nacked((7,), 0.5) == []  # resent enough
    # 65536 packets later the number is another packet's, lost in its turn.
    assert c.nacked((7,), 0.5 + NACK_HORIZON + 1) == [7]
    assert c.nacked_first == 2
