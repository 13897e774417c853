"""Video allocation within a subscriber's downlink: floor first, audio untouched."""

from __future__ import annotations

from dataclasses import dataclass

from media.allocation import (
    UPGRADE_MARGIN,
    Candidate,
    Reason,
    allocate,
    first_may_be_held,
    last_n,
    layer_rates,
)

SIMULCAST = (150_000, 500_000, 1_500_000)
FLOOR, CHAIR, OTHER = 0, 1, 2


def video(key: str, rank: int, wanted: int = 0, current: int | None = 0, **kw: object) -> Candidate:
    layers = kw.pop("layers", SIMULCAST)
    return Candidate(key, rank, layers, wanted, current, **kw)  # type: ignore[arg-type]


def layers_of(allocation: object) -> dict[str, int | None]:
    return {k: d.layer for k, d in allocation.decisions.items()}  # type: ignore[attr-defined]


def test_without_an_estimate_everyone_gets_what_the_policy_wants() -> None:
    candidates = [video("floor", FLOOR, 2), video("chair", CHAIR, 2)] + [
        video(f"d{i}", OTHER + i) for i in range(18)
    ]
    allocation = allocate(None, 200_000, candidates)
    assert layers_of(allocation) == {"floor": 2, "chair": 2, **{f"d{i}": 0 for i in range(18)}}
    assert allocation.video_bps == 3_000_000 + 18 * 150_000


def test_floor_high_if_it_fits_else_medium_else_low_then_chair_then_thumbnails() -> None:
    candidates = [
        video("floor", FLOOR, 2, current=2),
        video("chair", CHAIR, 2, current=2),
        video("a", OTHER, current=0),
        video("b", OTHER + 1, current=0),
    ]
    audio = 100_000
    assert layers_of(allocate(audio + 3_300_000, audio, candidates)) == {
        "floor": 2,
        "chair": 2,
        "a": 0,
        "b": 0,
    }
    assert layers_of(allocate(audio + 2_200_000, audio, candidates)) == {
        "floor": 2,
        "chair": 1,
        "a": 0,
        "b": None,
    }
    assert layers_of(allocate(audio + 600_000, audio, candidates)) == {
        "floor": 1,
        "chair": None,
        "a": None,
        "b": None,
    }
    small = allocate(audio + 200_000, audio, candidates)
    assert layers_of(small) == {"floor": 0, "chair": None, "a": None, "b": None}
    assert small.decisions["a"].reason is Reason.BANDWIDTH


def test_audio_is_reserved_first_even_if_the_floor_video_must_pause() -> None:
    allocation = allocate(
        300_000, 250_000, [video("floor", FLOOR, 2), video("a", OTHER, layers=(40_000,))]
    )
    # The floor video (150 kbit/s at its lowest) does not fit beside the audio;
    # a smaller video further down would, but none goes before the floor's.
    assert layers_of(allocation) == {"floor": None, "a": None}
    assert allocation.video_bps == 0


def test_single_layer_videos_pause_or_play() -> None:
    one = (500_000,)
    candidates = [video(k, r, 0, layers=one) for k, r in (("floor", 0), ("chair", 1), ("a", 2))]
    assert layers_of(allocate(1_100_000, 50_000, candidates)) == {
        "floor": 0,
        "chair": 0,
        "a": None,
    }


def test_resuming_or_raising_needs_headroom_keeping_does_not() -> None:
    one = (500_000,)
    paused = video("a", 0, layers=one, current=None)
    playing = video("a", 0, layers=one, current=0)
    just = 500_000
    assert layers_of(allocate(just, 0, [paused])) == {"a": None}
    assert layers_of(allocate(just, 0, [playing])) == {"a": 0}
    assert layers_of(allocate(int(just * UPGRADE_MARGIN) + 1, 0, [paused])) == {"a": 0}
    low = video("f", 0, wanted=2, current=0)
    assert layers_of(allocate(1_500_000, 0, [low])) == {"f": 1}  # high only with headroom
    high = video("f", 0, wanted=2, current=2)
    assert layers_of(allocate(1_500_000, 0, [high])) == {"f": 2}


def test_a_probe_resumes_the_first_video_left_out_for_bandwidth_only() -> None:
    candidates = [
        video("floor", FLOOR, 2, current=2),
        video("x", OTHER, current=None, allowed=False),
        video("a", OTHER + 1, current=None),
        video("b", OTHER + 2, current=None),
    ]
    plain = allocate(1_600_000, 0, candidates)
    assert layers_of(plain) == {"floor": 2, "x": None, "a": None, "b": None}
    assert plain.probed is None
    probed = allocate(1_600_000, 0, candidates, probe=True)
    assert layers_of(probed) == {"floor": 2, "x": None, "a": 0, "b": None}
    assert probed.probed == ("a", 0)
    assert probed.decisions["x"].reason is Reason.LAST_N
    assert allocate(None, 0, candidates, probe=True).probed is None  # nothing left out


def test_last_n_keeps_the_first_n_ranked() -> None:
    assert last_n(["floor", "chair", "s1", "s2", "s3"], 3) == {"floor", "chair", "s1"}
    assert last_n(["floor"], 9) == {"floor"}
    assert last_n(["floor"], 0) == frozenset()


def test_last_n_does_not_count_the_viewers_own_video() -> None:
    # The floor holder is not sent its own video: it sees N others too.
    ranked = ["floor", "chair", "s1", "s2", "s3"]
    assert last_n(ranked, 3, viewer="floor") == {"chair", "s1", "s2"}
    assert last_n(ranked, 3, viewer="s3") == {"floor", "chair", "s1"}


def test_the_first_video_playing_survives_a_small_shortfall_not_a_large_one() -> None:
    one = (500_000,)
    floor = video("floor", FLOOR, layers=one, current=0)
    other = video("a", OTHER, layers=one, current=0)
    # About 10 % short (random loss): the floor plays on, the next one does not.
    short = allocate(460_000 + 50_000, 50_000, [floor, other])
    assert layers_of(short) == {"floor": 0, "a": None}
    # Half short (a link that cannot carry it): held, the audio keeps its share.
    assert layers_of(allocate(250_000 + 50_000, 50_000, [floor, other])) == {
        "floor": None,
        "a": None,
    }
    # A paused floor video resumes only when it fits with headroom.
    paused = video("floor", FLOOR, layers=one, current=None)
    assert layers_of(allocate(460_000, 0, [paused])) == {"floor": None}


def test_a_running_probe_keeps_its_video_until_it_is_judged() -> None:
    candidates = [
        video("floor", FLOOR, 2, current=2),
        video("a", OTHER + 1, current=0),  # resumed by the probe a second ago
        video("b", OTHER + 2, current=None),
    ]
    kept = allocate(1_600_000, 0, candidates, probing=("a", 0))
    assert layers_of(kept) == {"floor": 2, "a": 0, "b": None}
    assert kept.probed == ("a", 0)
    # Judged (the estimator stopped probing): it must fit like any other.
    assert layers_of(allocate(1_600_000, 0, candidates)) == {"floor": 2, "a": None, "b": None}


def test_the_floor_video_is_the_last_one_held() -> None:
    # The floor's single 500 kbit/s video does not fit; Costa Rica's thumbnail
    # would, but it is not sent while the floor's is held.
    floor = video("floor", FLOOR, layers=(500_000,), current=0)
    thumbnail = video("a", OTHER, current=0)
    last = video("x", OTHER + 1, current=None, allowed=False)
    held = allocate(50_000 + 300_000, 50_000, [floor, thumbnail, last])
    assert layers_of(held) == {"floor": None, "a": None, "x": None}
    assert held.decisions["a"].reason is Reason.BANDWIDTH
    assert held.decisions["x"].reason is Reason.LAST_N
    assert held.video_bps == 0
    # A probe then tries the floor's video, never another before it.
    probed = allocate(50_000 + 300_000, 50_000, [floor, thumbnail], probe=True)
    assert layers_of(probed) == {"floor": 0, "a": None}
    assert probed.probed == ("floor", 0)
    kept = allocate(50_000 + 300_000, 50_000, [floor, thumbnail], probing=("a", 0))
    assert layers_of(kept) == {"floor": None, "a": None}
    assert kept.probed is None
    # With room for both, both play.
    assert layers_of(allocate(50_000 + 700_000, 50_000, [floor, thumbnail])) == {
        "floor": 0,
        "a": 0,
    }


def test_with_nothing_left_out_a_probe_raises_the_first_video_below_its_layer() -> None:
    # The floor got its low layer on a link estimated at 300 kbit/s; the
    # estimate grows only with what is sent, so only a probe finds out more.
    floor = video("floor", FLOOR, 2, current=0)
    chair = video("chair", CHAIR, 0, current=0)
    assert layers_of(allocate(300_000, 0, [floor, chair])) == {"floor": 0, "chair": 0}
    assert allocate(300_000, 0, [floor, chair], probe=True).probed is None
    probed = allocate(300_000, 0, [floor, chair], upgrade=True)
    assert layers_of(probed) == {"floor": 1, "chair": 0}
    assert probed.probed == ("floor", 1)
    assert probed.video_bps == 500_000 + 150_000
    # Kept in that layer while it runs, whatever the layer it reports yet.
    kept = allocate(300_000, 0, [floor, chair], probing=("floor", 1))
    assert layers_of(kept) == {"floor": 1, "chair": 0}
    # Everything at the layer it wants: nothing to probe.
    top = video("floor", FLOOR, 1, current=1)
    assert allocate(2_000_000, 0, [top, chair], upgrade=True).probed is None
    # With a video left out, a probe resumes it; none raises a layer.
    held = video("a", OTHER, current=None)
    both = allocate(300_000, 0, [floor, chair, held], probe=True, upgrade=True)
    assert layers_of(both) == {"floor": 0, "chair": 0, "a": 0}
    assert allocate(300_000, 0, [floor, chair, held], upgrade=True).probed is None


def test_the_floor_is_held_only_once_it_is_the_last_video_and_the_loss_goes_on() -> None:
    # One reading far under the link (120 kbit/s) must not blank the floor
    # at once: the others go, the floor drops to its lowest layer.
    floor = video("floor", FLOOR, 2, current=2)
    other = video("a", OTHER, current=0)
    may, alone = first_may_be_held([floor, other], 1, None)
    assert (may, alone) == (False, None)
    shed = allocate(120_000, 80_000, [floor, other], keep_first=not may)
    assert layers_of(shed) == {"floor": 0, "a": None}
    # Now the floor is alone in its lowest layer: remembered, still kept.
    floor = video("floor", FLOOR, 2, current=0)
    held_other = video("a", OTHER, current=None)
    assert first_may_be_held([floor, held_other], 1, None) == (False, 1)
    assert first_may_be_held([floor, held_other], 1, 1) == (False, 1)
    # The loss went on: the estimator decreased again, the floor may go.
    may, alone = first_may_be_held([floor, held_other], 2, 1)
    assert (may, alone) == (True, 2)
    assert layers_of(allocate(90_000, 80_000, [floor, held_other], keep_first=not may)) == {
        "floor": None,
        "a": None,
    }
    # Held: nothing to keep (it comes back with headroom, or as a probe).
    paused = video("floor", FLOOR, 2, current=None)
    assert first_may_be_held([paused, held_other], 2, 2) == (True, None)
    # Nothing limits it: nothing to remember.
    assert first_may_be_held([floor, held_other], None, 2) == (False, None)


@dataclass(frozen=True)
class SimulcastLayer:
    """What a simulcast producer says of one of its layers."""

    spatial: int
    rid: str
    bitrate_bps: int
    active: bool


def test_layer_rates_of_a_simulcast_producer_and_of_a_single_layer_one() -> None:
    layers = [
        SimulcastLayer(2, "h", 1_500_000, True),
        SimulcastLayer(0, "l", 150_000, True),
        SimulcastLayer(1, "m", 500_000, False),  # not sent now (the browser dropped it)
    ]
    assert layer_rates(layers, 900_000.0, 500_000) == [(0, 150_000), (2, 1_500_000)]
    assert layer_rates([], 320_000.4, 500_000) == [(0, 320_000)]
    assert layer_rates([], None, 500_000) == [(0, 500_000)]
    assert layer_rates([SimulcastLayer(0, "l", 150_000, False)], None, 400_000) == [(0, 400_000)]
