"""Which simulcast layers a publisher is asked to send ("dynacast", pure).

A browser uploads every layer of its camera whether anyone watches it or
not. In a plenary most delegations are only thumbnails: their upper layers
cost their (often weak) uplink and the server's CPU for nobody. A layer is
wanted while a consumer asks for it (or is still being sent it, until it
has switched away) or while a recording of the camera takes the top layer.
The lowest layer is always sent: thumbnails, and a fallback that never
waits. A layer unwanted is paused only after ``hold_down`` seconds of being
unwanted, so that a floor moving back and forth does not flap; a layer
wanted again is resumed at once (the publisher's encoder restarts it with a
keyframe).
"""

from __future__ import annotations

from collections.abc import Iterable

HOLD_DOWN = 5.0  # seconds a layer stays unwanted before it is paused


class LayerDemand:
    """The layers (lowest first) one simulcast camera is asked to send."""

    def __init__(self, layers: int, hold_down: float = HOLD_DOWN) -> None:
        if layers < 1:
            raise ValueError("a camera has at least one layer")
        self.hold_down = hold_down
        self._sent = [True] * layers  # every encoding is active until told otherwise
        self._unwanted_since: list[float | None] = [None] * layers

    @property
    def sent(self) -> tuple[bool, ...]:
        """Per layer, lowest first: whether the publisher is asked to send it."""
        return tuple(self._sent)

    def update(self, wanted: Iterable[int], now: float) -> bool:
        """Take the layers wanted now (indexes, lowest 0); True if :attr:`sent` changed.

        Indexes outside the camera's layers are clamped to them.
        """
        top = len(self._sent) - 1
        wants = {max(0, min(int(layer), top)) for layer in wanted}
        changed = False
        for layer in range(top + 1):
            if layer == 0 or layer in wants:
                self._unwanted_since[layer] = None
                if not self._sent[layer]:
                    self._sent[layer] = changed = True
                continue
            if not self._sent[layer]:
                continue
            since = self._unwanted_since[layer]
            if since is None:
                self._unwanted_since[layer] = now
            elif now - since >= self.hold_down:
                self._sent[layer] = False
                changed = True
        return changed
