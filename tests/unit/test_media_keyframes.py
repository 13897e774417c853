from media.keyframes import KeyframeRequests


def test_first_request_is_sent_at_once() -> None:
    requests = KeyframeRequests(min_interval=0.3)
    assert requests.request(10.0) == 10.0


def test_requests_within_the_interval_are_deferred_not_dropped() -> None:
    requests = KeyframeRequests(min_interval=0.3)
    requests.request(10.0)
    assert requests.request(10.1) == 10.3
    assert requests.request(10.2) == 10.3  # coalesced into the same deferred request
    assert requests.due(10.3) is True
    assert requests.due(10.3) is False  # sent once


def test_a_keyframe_after_the_request_cancels_the_deferred_one() -> None:
    requests = KeyframeRequests(min_interval=0.3)
    requests.request(10.0)
    requests.request(10.1)
    requests.keyframe_seen(10.2)
    assert requests.due(10.3) is False


def test_a_keyframe_before_the_request_does_not_cancel_it() -> None:
    requests = KeyframeRequests(min_interval=0.3)
    requests.request(10.0)
    requests.keyframe_seen(10.05)
    requests.request(10.1)
    assert requests.due(10.3) is True


def test_after_the_interval_requests_go_out_directly() -> None:
    requests = KeyframeRequests(min_interval=0.3)
    requests.request(10.0)
    assert requests.request(10.5) == 10.5
