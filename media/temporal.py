"""VP8 temporal layers: a video at a lower frame rate with no keyframe.

A publisher encoding temporal layers marks each frame with a TID (RFC 7741):
with Chromium's three layers, TID 0 is every fourth frame, TID 1 the frame
between two of them, TID 2 every other frame; a frame references only frames
of its own or a lower TID. A route with temporal target ``k`` is sent only
the packets whose TID is at most ``k``: with three layers ``k = 1`` halves the
frame rate, with two ``k = 0`` does.

The subscriber must see no gap: a dropped packet is not lost, so the packets
after it are renumbered (their sequence number moves down by the packets
dropped so far) and so are the VP8 picture ids (by the pictures dropped so
far; TL0PICIDX only counts TID 0 frames, which are never dropped). The
producer keeps one count per target here and the routes of a target share
one fan-out: the forwarding path itself stays the same for both twins.

A packet that arrives late (a retransmission from the publisher) is
numbered as it would have been on time: the counts at each sequence number
are kept for the packets a subscriber may still ask for (:meth:`at`).
"""

from __future__ import annotations

ALL = 3  # TID has two bits: a target of 3 drops nothing
LEVELS = (0, 1, 2)

# The counts at one sequence number: the sequence number, then the packets
# dropped per target (0, 1, 2), then the picture ids dropped per target.
Counts = tuple[int, int, int, int, int, int, int]


class Thinning:
    """What the routes of each temporal target of one producer were not sent."""

    def __init__(self, size: int) -> None:
        self.skipped = [0, 0, 0]  # packets dropped per target, mod 2^16
        self.pictures = [0, 0, 0]  # picture ids dropped per target, mod 2^15
        self._dropped_picture = [-1, -1, -1]  # the last picture id dropped per target
        self.size = size
        self._ring: list[Counts | None] = [None] * size
        # Temporal layers the publisher sends: the highest TID seen, plus one.
        self.layers = 1
        # Sent to each route of a target: packets, payload bytes, frames (the
        # consumers' counters follow these, as others follow Producer.forwarded).
        self.packets = [0, 0, 0]
        self.bytes = [0, 0, 0]
        self.frames = [0, 0, 0]

    def forwarded(self, level: int) -> tuple[int, int, int]:
        """Packets, payload bytes and frames sent to each route of target ``level``."""
        return self.packets[level], self.bytes[level], self.frames[level]

    def sent(self, level: int, size: int, marker: int) -> None:
        self.packets[level] += 1
        self.bytes[level] += size
        if marker:
            self.frames[level] += 1

    def skips(self, level: int) -> tuple[int, int]:
        """Packets and picture ids dropped so far for routes of target ``level``."""
        if level >= ALL:
            return 0, 0
        return self.skipped[level], self.pictures[level]

    def counts(self) -> Counts:
        s, p = self.skipped, self.pictures
        return (0, s[0], s[1], s[2], p[0], p[1], p[2])

    def mark(self, seq: int, missing: int) -> Counts:
        """``seq`` is the newest packet (``missing`` packets before it did not
        come): they are numbered from the counts now."""
        s, p = self.skipped, self.pictures
        size = self.size
        ring = self._ring
        for back in range(min(missing, size - 1), 0, -1):
            lost = (seq - back) & 0xFFFF
            ring[lost % size] = (lost, s[0], s[1], s[2], p[0], p[1], p[2])
        entry = (seq, s[0], s[1], s[2], p[0], p[1], p[2])
        ring[seq % size] = entry
        return entry

    def at(self, seq: int) -> Counts | None:
        """The counts ``seq`` was (or will be, if late) numbered from."""
        entry = self._ring[seq % self.size]
        return entry if entry is not None and entry[0] == seq else None

    def drop(self, level: int, picture: int | None) -> None:
        """A packet not sent to routes of target ``level``."""
        self.skipped[level] = (self.skipped[level] + 1) & 0xFFFF
        if picture is not None and picture != self._dropped_picture[level]:
            self._dropped_picture[level] = picture
            self.pictures[level] = (self.pictures[level] + 1) & 0x7FFF

    def forget(self) -> None:
        """The source's numbering restarts: late packets of the old one are not sent."""
        self._ring = [None] * self.size


def half_rate(layers: int) -> int:
    """The target that halves the frame rate of a publisher sending ``layers``
    temporal layers (ALL when it sends one: nothing to drop)."""
    return ALL if layers < 2 else layers - 2
