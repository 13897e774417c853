"""A subscriber's loss over an interval: its receiver report, or its NACKs."""

from __future__ import annotations

import pytest

from media.downlink import HIGH_LOSS
from server.bandwidth import interval_loss


def test_a_report_alone_gives_the_loss() -> None:
    assert interval_loss(0.05, 100, 0) == 0.05
    assert interval_loss(0.05, 0, 0) == 0.05


def test_no_report_and_no_nack_says_nothing() -> None:
    assert interval_loss(None, 100, 0) is None
    assert interval_loss(None, 0, 0) is None


def test_nacks_show_the_loss_that_retransmission_hid_from_the_report() -> None:
    # Behind a policer dropping a third of the packets, resends included: 200
    # sent, 100 asked for (66 originals, 22 resends of them, 7, 2 ...); the
    # report says 3 %.
    loss = interval_loss(3 / 256 * 8, 200, 100)
    assert loss == pytest.approx(1 / 3)
    assert loss is not None and loss > HIGH_LOSS


def test_nacks_count_without_a_new_report() -> None:
    assert interval_loss(None, 170, 30) == pytest.approx(0.15)


def test_a_report_larger_than_the_nacks_wins() -> None:
    # Audio is not retransmitted: its loss comes from the report only.
    assert interval_loss(0.2, 50, 1) == 0.2


def test_resends_asked_again_never_make_all_lost() -> None:
    # More sequence numbers asked for than packets sent: resends asked again.
    loss = interval_loss(None, 100, 150)
    assert loss == pytest.approx(0.6)
