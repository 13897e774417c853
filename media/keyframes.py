"""When to ask a publisher for a keyframe: coalesce requests, never drop them.

Pure policy with explicit time. Subscribers' PLI/FIR and new consumers all
ask the same publisher; sending each request would flood it, dropping the ones
that come too soon made late joiners wait for the next natural keyframe
(seconds with aiortc's encoder). So a request that comes too soon is deferred
to the end of the interval, and skipped then if a keyframe arrived meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_INTERVAL = 0.3  # seconds between two requests sent to one publisher


@dataclass
class KeyframeRequests:
    min_interval: float = MIN_INTERVAL
    last_sent: float | None = None
    deferred_since: float | None = None  # time of the oldest request not yet sent
    last_keyframe: float | None = None

    def request(self, now: float) -> float | None:
        """Record a request; return ``now`` to send it now, or when to call :meth:`due`."""
        if self.last_sent is None or now - self.last_sent >= self.min_interval:
            self.last_sent = now
            self.deferred_since = None
            return now
        if self.deferred_since is None:
            self.deferred_since = now
        return self.last_sent + self.min_interval

    def due(self, now: float) -> bool:
        """At the deferred time: True when the deferred request must be sent."""
        since = self.deferred_since
        if since is None:
            return False
        self.deferred_since = None
        if self.last_keyframe is not None and self.last_keyframe >= since:
            return False  # a keyframe already answered it
        self.last_sent = now
        return True

    def keyframe_seen(self, now: float) -> None:
        self.last_keyframe = now
