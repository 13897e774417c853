"""Which layers of a simulcast camera are wanted (conference/publish_layers.py)."""

from __future__ import annotations

import time
from typing import Any

from conference.publish_layers import recorded, wanted_layers
from media.producer import Producer


def _camera() -> Producer:
    receiver: Any = object()
    producer = Producer("p-1", "owner", "video", receiver, lambda data: True)
    producer.simulcast(("q", "h", "f"))
    return producer


def _arriving(producer: Producer) -> Producer:
    for layer in producer.layer_streams:
        layer.counters.last_packet_at = time.monotonic()
    return producer


def test_nobody_watching_wants_nothing_beyond_the_lowest() -> None:
    assert wanted_layers(_arriving(_camera())) == set()


def test_a_layer_that_does_not_arrive_is_not_stopped() -> None:
    producer = _camera()
    producer.layer_streams[0].counters.last_packet_at = time.monotonic()
    assert wanted_layers(producer) == {1, 2}  # stopping them would save nothing
    producer.ask_layers((True, False, False), time.monotonic())
    assert wanted_layers(producer) == set()  # paused by us: not arriving, as asked


def test_a_recording_wants_the_top_layer() -> None:
    producer = _arriving(_camera())
    producer.sinks.append(lambda seq, timestamp, marker, payload: None)
    assert recorded(producer)
    assert wanted_layers(producer) == {2}
    assert wanted_layers(producer, recording=lambda p: False) == set()


def test_a_recording_that_taps_a_layer_wants_the_top_layer() -> None:
    producer = _arriving(_camera())
    producer.layer_streams[0].sinks.append(lambda seq, timestamp, marker, payload: None)
    assert wanted_layers(producer) == {2}


def test_a_recording_whose_top_layer_does_not_come_wants_the_next_one_down() -> None:
    producer = _arriving(_camera())
    now = time.monotonic()
    producer.ask_layers((True, False, True), now)  # h nobody watched: turned off
    producer.layer_streams[1].counters.last_packet_at = now - 10
    producer.layer_streams[2].counters.last_packet_at = now - 10  # f left out by the publisher
    assert wanted_layers(producer, now=now) == {2}  # f: asked for, not arriving
    producer.sinks.append(lambda seq, timestamp, marker, payload: None)
    assert wanted_layers(producer, now=now) == {1, 2}  # what a recorder would follow: h
