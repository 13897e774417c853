"""The one REMB a publisher's connection is sent for all its videos."""

from __future__ import annotations

from media.transport import connection_bitrate


def test_one_video_keeps_its_subscribers_lowest_estimate() -> None:
    assert connection_bitrate([300_000]) == 300_000


def test_a_camera_and_a_share_are_capped_together_by_their_sum() -> None:
    # Sent one by one, the share's 200 kbit/s would cap the camera too.
    assert connection_bitrate([800_000, 200_000]) == 1_000_000


def test_no_cap_while_one_video_is_not_limited() -> None:
    # A simulcast camera (None) beside a single-layer share: capping the
    # connection at the share's figure would starve the camera's layers.
    assert connection_bitrate([None, 200_000]) is None
    assert connection_bitrate([200_000, None]) is None


def test_no_video_no_remb() -> None:
    assert connection_bitrate([]) is None
