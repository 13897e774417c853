"""Which simulcast layers a publisher is asked to send (media/layer_demand.py),
and how a layer paused that way looks to the allocator and the consumers
(media/producer.py)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from media.layer_demand import HOLD_DOWN, LayerDemand
from media.producer import RESUME_GRACE, Producer

ALL = (True, True, True)


def test_every_layer_is_sent_until_one_is_unwanted_for_the_hold_down() -> None:
    demand = LayerDemand(3)
    assert demand.sent == ALL
    assert not demand.update({0}, now=100.0)
    assert not demand.update({0}, now=100.0 + HOLD_DOWN - 0.1)
    assert demand.sent == ALL
    assert demand.update({0}, now=100.0 + HOLD_DOWN)
    assert demand.sent == (True, False, False)
    assert not demand.update({0}, now=200.0)  # only a change is reported


def test_a_layer_wanted_again_is_resumed_at_once() -> None:
    demand = LayerDemand(3, hold_down=5.0)
    demand.update(set(), now=0.0)
    demand.update(set(), now=5.0)
    assert demand.sent == (True, False, False)
    assert demand.update({2}, now=5.01)
    assert demand.sent == (True, False, True)  # the middle one nobody wants stays off


def test_the_lowest_layer_is_never_paused() -> None:
    demand = LayerDemand(2, hold_down=0.0)
    for now in (0.0, 1.0, 2.0):
        demand.update(set(), now)
        assert demand.sent[0]
    single = LayerDemand(1, hold_down=0.0)
    single.update(set(), 0.0)
    single.update(set(), 10.0)
    assert single.sent == (True,)


def test_a_floor_moving_back_and_forth_within_the_hold_down_does_not_flap() -> None:
    demand = LayerDemand(3, hold_down=5.0)
    changes = 0
    for second in range(30):
        # The top layer is wanted every fourth second (the floor comes back).
        wanted = {0, 2} if second % 4 == 0 else {0}
        changes += demand.update(wanted, float(second))
        assert demand.sent[2]
    assert changes == 1  # the middle layer, unwanted throughout, once
    assert demand.sent == (True, False, True)


def test_wanted_again_within_the_hold_down_starts_it_afresh() -> None:
    demand = LayerDemand(3, hold_down=5.0)
    demand.update({0}, 0.0)
    demand.update({0, 1, 2}, 4.0)
    demand.update({0}, 6.0)
    assert demand.sent == ALL  # unwanted for 0 s since 6.0, not 6 s since 0.0
    demand.update({0}, 11.0)
    assert demand.sent == (True, False, False)


def test_out_of_range_layers_are_clamped() -> None:
    demand = LayerDemand(2, hold_down=0.0)
    demand.update({5}, 0.0)
    demand.update({5, -1}, 1.0)
    assert demand.sent == (True, True)
    with pytest.raises(ValueError):
        LayerDemand(0)


# The producer's side: a layer paused at our request stays a choice.


def _layered() -> Producer:
    receiver: Any = object()
    producer = Producer("p-1", "owner", "video", receiver, lambda data: True)
    producer.simulcast(("q", "h", "f"))
    return producer


def _arrived(layer: Producer, at: float, bitrate: int) -> None:
    layer.counters.last_packet_at = at
    layer._bitrate = bitrate


def test_a_layer_paused_by_request_is_still_offered_to_the_allocator_at_its_last_rate() -> None:
    producer = _layered()
    now = time.monotonic()
    q, h, f = producer.layer_streams
    for layer, rate in ((q, 150_000), (h, 500_000), (f, 1_500_000)):
        _arrived(layer, now, rate)
        layer._rate_mark = (now, layer.counters.bytes)
    producer.ask_layers((True, False, False), now)
    for layer in (h, f):
        layer.counters.last_packet_at = now - 10  # stopped arriving
    offered = producer.offered_layers
    assert [i.active for i in offered] == [True, True, True]
    assert [i.paused for i in offered] == [False, True, True]
    assert [i.bitrate_bps for i in offered[1:]] == [500_000, 1_500_000]
    # As they arrive (the technicians' view): only the lowest.
    assert [(i.active, i.paused) for i in producer.layers] == [
        (True, False),
        (False, True),
        (False, True),
    ]


def test_a_resumed_layer_counts_as_sent_for_a_grace_then_only_if_it_arrives() -> None:
    producer = _layered()
    now = time.monotonic()
    f = producer.layer_streams[2]
    _arrived(f, now - 20, 1_500_000)
    producer.ask_layers((True, True, False), now - 10)
    producer.ask_layers(ALL, now)
    assert f.requested and f.sending(now + RESUME_GRACE - 0.1)
    assert not f.sending(now + RESUME_GRACE)
    f.counters.last_packet_at = now + RESUME_GRACE
    assert f.sending(now + RESUME_GRACE + 0.5)
