"""The layer each subscriber gets of each simulcast video (conference/video_layers.py)."""

from conference.video_layers import HIGH, LOW, MEDIUM, at_half_frame_rate, chosen_layer

FEATURED = frozenset({"p-chair", "p-gt-head", "p-gt-adviser"})


def test_the_floor_holder_and_the_chair_are_high_for_everyone() -> None:
    for publisher in FEATURED:
        assert chosen_layer(publisher, FEATURED, None) == HIGH
        assert chosen_layer(publisher, FEATURED, publisher) == HIGH  # a pin never lowers


def test_a_pinned_tile_is_medium_and_the_rest_thumbnails() -> None:
    assert chosen_layer("p-cr", FEATURED, "p-cr") == MEDIUM
    assert chosen_layer("p-cr", FEATURED, "p-sv") == LOW
    assert chosen_layer("p-cr", FEATURED, None) == LOW
    assert chosen_layer("p-cr", frozenset(), None) == LOW


def test_a_screen_share_is_always_high() -> None:
    assert chosen_layer("p-cr", frozenset(), None, screen=True) == HIGH


def test_only_thumbnails_come_at_half_the_frame_rate() -> None:
    assert at_half_frame_rate("p-cr", FEATURED, None)
    assert at_half_frame_rate("p-cr", FEATURED, "p-sv")
    assert not at_half_frame_rate("p-cr", FEATURED, "p-cr")  # pinned
    assert not at_half_frame_rate("p-chair", FEATURED, None)  # featured
    assert not at_half_frame_rate("p-cr", frozenset(), None, screen=True)
