"""Which simulcast layer each subscriber receives of each video (pure).

The floor decides, before any bandwidth estimate: the chair and the
delegation holding the floor are seen large (the high layer) by everyone,
and so is a screen share; a subscriber may pin one other participant's tile
to the middle layer; everyone else is a thumbnail (the low layer), at half
the frame rate where the publisher sends VP8 temporal layers.
:meth:`media.consumer.Consumer.select_layer` clamps to the layers a
producer has, so a two-layer publisher's "high" is its upper one.
"""

from __future__ import annotations

LOW, MEDIUM, HIGH = 0, 1, 2


def chosen_layer(
    publisher: str, featured: frozenset[str], pinned: str | None, screen: bool = False
) -> int:
    """The layer of ``publisher``'s video for a subscriber who pinned ``pinned``.

    ``featured``: the participants seen large by everyone (the chair, the
    floor holder's delegation).
    """
    if screen or publisher in featured:
        return HIGH
    if pinned == publisher:
        return MEDIUM
    return LOW


def at_half_frame_rate(
    publisher: str, featured: frozenset[str], pinned: str | None, screen: bool = False
) -> bool:
    """A thumbnail comes at half the frame rate (media/temporal.py): the frames
    of the publisher's top temporal layer are not sent, with no keyframe.
    Whoever is seen large or pinned comes at the full rate."""
    return chosen_layer(publisher, featured, pinned, screen) == LOW
