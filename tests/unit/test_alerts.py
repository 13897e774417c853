import random
from dataclasses import replace

from conference.alerts import AlertRules, StreamSample, Thresholds

VIDEO_IN = StreamSample(
    id="p-1",
    direction="in",
    producer_id="p-1",
    participant_id="gt",
    subscriber_id=None,
    kind="video",
    codec="VP8",
    paused=False,
    packets=50,
    bytes=60_000,
    bitrate_kbps=480.0,
    frames=30,
    fps=30.0,
    keyframes=0,
    packets_lost=0,
    loss=0.0,
    jitter_ms=2.0,
    rtt_ms=None,
    nacks=0,
    plis=0,
    silent_for=0.01,
)
AUDIO_OUT = replace(
    VIDEO_IN,
    id="c-1",
    direction="out",
    kind="audio",
    codec="opus",
    subscriber_id="sv",
    rtt_ms=40.0,
    silent_for=None,
)


def test_freeze_is_raised_once_and_cleared_on_recovery() -> None:
    rules = AlertRules()
    assert rules.evaluate([VIDEO_IN], 0.0) == []
    frozen = replace(VIDEO_IN, packets=0, silent_for=2.5)
    [(alert, state)] = rules.evaluate([frozen], 1.0)
    assert (alert.kind, state, alert.participant_id) == ("freeze", "raised", "gt")
    assert rules.evaluate([replace(frozen, silent_for=3.5)], 2.0) == []
    [(cleared, state)] = rules.evaluate([VIDEO_IN], 3.0)
    assert (cleared.id, state) == (alert.id, "cleared")


def test_a_paused_or_audio_stream_never_freezes() -> None:
    rules = AlertRules()
    silent = replace(VIDEO_IN, packets=0, silent_for=10.0)
    assert rules.evaluate([replace(silent, paused=True)], 0.0) == []
    assert rules.evaluate([replace(silent, kind="audio")], 1.0) == []


def test_loss_must_be_sustained_and_clears_below_the_lower_threshold() -> None:
    rules = AlertRules(Thresholds(sustain=3, clear_sustain=1))
    lossy = replace(AUDIO_OUT, loss=0.08, packets_lost=4)
    assert rules.evaluate([lossy], 0.0) == []
    assert rules.evaluate([lossy], 1.0) == []
    [(alert, state)] = rules.evaluate([lossy], 2.0)
    assert (alert.kind, state, alert.subscriber_id) == ("loss", "raised", "sv")
    assert rules.evaluate([replace(lossy, loss=0.03)], 3.0) == []  # hysteresis
    [(_, state)] = rules.evaluate([replace(lossy, loss=0.0)], 4.0)
    assert state == "cleared"


def test_loss_must_stay_low_to_clear() -> None:
    rules = AlertRules(Thresholds(sustain=1, clear_sustain=3))
    lossy = replace(AUDIO_OUT, loss=0.08, packets_lost=4)
    [(_, state)] = rules.evaluate([lossy], 0.0)
    assert state == "raised"
    assert rules.evaluate([AUDIO_OUT], 1.0) == []
    assert rules.evaluate([AUDIO_OUT], 2.0) == []
    assert rules.evaluate([lossy], 3.0) == []  # the good streak starts over
    assert rules.evaluate([AUDIO_OUT], 4.0) == []
    assert rules.evaluate([AUDIO_OUT], 5.0) == []
    [(_, state)] = rules.evaluate([AUDIO_OUT], 6.0)
    assert state == "cleared"


def test_no_flicker_at_five_percent_random_loss() -> None:
    """50 packets a second, each lost with probability 5 %, for two minutes."""
    rules = AlertRules()
    chance = random.Random(5)
    changes = []
    for second in range(120):
        lost = sum(chance.random() < 0.05 for _ in range(50))
        sample = replace(AUDIO_OUT, packets=50 - lost, packets_lost=lost, loss=lost / 50)
        changes += [state for _, state in rules.evaluate([sample], float(second))]
    assert changes == ["raised"]


def test_a_good_second_resets_the_streak() -> None:
    rules = AlertRules(Thresholds(sustain=2))
    lossy = replace(AUDIO_OUT, loss=0.5)
    assert rules.evaluate([lossy], 0.0) == []
    assert rules.evaluate([AUDIO_OUT], 1.0) == []
    assert rules.evaluate([lossy], 2.0) == []


def test_high_rtt() -> None:
    rules = AlertRules(Thresholds(sustain=1, clear_sustain=1))
    [(alert, state)] = rules.evaluate([replace(AUDIO_OUT, rtt_ms=450.0)], 0.0)
    assert (alert.kind, state, alert.value) == ("rtt", "raised", 450.0)
    assert rules.evaluate([replace(AUDIO_OUT, rtt_ms=280.0)], 1.0) == []
    [(_, state)] = rules.evaluate([AUDIO_OUT], 2.0)
    assert state == "cleared"


def test_alerts_of_a_vanished_stream_are_cleared() -> None:
    rules = AlertRules()
    rules.evaluate([replace(VIDEO_IN, silent_for=9.0)], 0.0)
    [(alert, state)] = rules.evaluate([], 1.0)
    assert (alert.kind, state) == ("freeze", "cleared")


def test_publisher_gone_until_back() -> None:
    rules = AlertRules()
    [(alert, state)] = rules.publisher_gone("gt", 5.0)
    assert (alert.kind, state) == ("publisher_gone", "raised")
    assert rules.publisher_gone("gt", 6.0) == []
    assert rules.evaluate([], 7.0) == []  # not tied to a stream
    [(_, state)] = rules.publisher_back("gt")
    assert state == "cleared"
    assert rules.publisher_back("gt") == []


def test_media_reconnecting_is_raised_once_and_cleared_once() -> None:
    rules = AlertRules()
    [(alert, state)] = rules.media_reconnecting("gt", "publisher", 5.0)
    assert (alert.kind, alert.id, alert.participant_id, state) == (
        "media_reconnecting",
        "media:gt",
        "gt",
        "raised",
    )
    assert "publisher" in alert.message
    assert rules.media_reconnecting("gt", "publisher and subscriber", 6.0) == []
    assert rules.evaluate([], 7.0) == []  # not tied to a stream
    [(_, state)] = rules.media_reconnected("gt")
    assert state == "cleared"
    assert rules.media_reconnected("gt") == []


# Interpretation channels --------------------------------------------------------


def test_a_channel_silent_while_the_floor_speaks_raises_after_five_seconds() -> None:
    rules = AlertRules()
    assert rules.channels({"en": None}, True, 100.0) == []
    assert rules.channels({"en": None}, True, 104.0) == []
    [(alert, state)] = rules.channels({"en": None}, True, 105.5)
    assert (alert.kind, alert.id, state) == ("channel_silent", "channel:en", "raised")
    assert rules.channels({"en": None}, True, 106.5) == []  # raised once
    [(cleared, state)] = rules.channels({"en": "interp-1"}, True, 107.0)
    assert cleared.id == "channel:en" and state == "cleared"


def test_a_channel_is_not_judged_while_the_floor_is_silent() -> None:
    rules = AlertRules()
    for second in range(10):
        assert rules.channels({"en": None}, False, 100.0 + second) == []
    # The floor starts speaking: the count starts then.
    assert rules.channels({"en": None}, True, 110.0) == []
    assert rules.channels({"en": None}, True, 114.0) == []


def test_a_closed_channel_takes_its_alert_with_it() -> None:
    rules = AlertRules()
    rules.channels({"en": None}, True, 100.0)
    rules.channels({"en": None}, True, 106.0)
    [(alert, state)] = rules.channels({}, True, 107.0)
    assert alert.id == "channel:en" and state == "cleared"
    assert rules.evaluate([], 108.0) == []  # stream alerts leave it alone


def test_bandwidth_limited_is_sustained_raised_once_and_cleared_with_hysteresis() -> None:
    rules = AlertRules()
    t = rules.thresholds
    now = 0.0
    for _ in range(t.bandwidth_sustain - 1):
        assert rules.bandwidth({"p-es": (2, 800_000)}, now) == []
        rules.evaluate([], now)  # the stream rules run each second too
        now += 1
    [(alert, state)] = rules.bandwidth({"p-es": (2, 800_000)}, now)
    assert (state, alert.kind, alert.subscriber_id, alert.value) == (
        "raised",
        "bandwidth_limited",
        "p-es",
        800.0,
    )
    assert "2 video(s) paused" in alert.message
    # A probe that resumes everything for a few seconds does not clear it.
    for _ in range(t.bandwidth_clear_sustain - 1):
        now += 1
        rules.evaluate([], now)
        assert rules.bandwidth({"p-es": (0, 900_000)}, now) == []
    now += 1
    assert rules.bandwidth({"p-es": (1, 900_000)}, now) == []  # held again: streak reset
    for _ in range(t.bandwidth_clear_sustain - 1):
        now += 1
        assert rules.bandwidth({"p-es": (0, None)}, now) == []
    [(cleared, state)] = rules.bandwidth({"p-es": (0, None)}, now + 1)
    assert (cleared.id, state) == (alert.id, "cleared")


def test_a_subscriber_that_left_takes_its_bandwidth_alert_with_it() -> None:
    rules = AlertRules(Thresholds(bandwidth_sustain=1))
    [(alert, _)] = rules.bandwidth({"p-es": (1, 300_000)}, 0.0)
    assert rules.bandwidth({}, 1.0) == [(alert, "cleared")]
    assert rules.active == {}
