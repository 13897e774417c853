"""NACK retry policy: which missing packets to ask for again, and when to give up.

Pure (explicit time, no I/O), shared by the SFU towards a publisher and the
Python client towards the SFU. A gap is asked for at once; a packet still
missing is asked for again after about one round trip (the answer cannot come
sooner), at most ``max_tries`` times in all; at the horizon (the sender's
retransmission history, about a second) it is given up, so the caller can
repair otherwise (a keyframe for video). Repairs and their latency, from the
gap being noticed to the retransmission's arrival, are kept for the monitor.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

DEFAULT_RTT = 0.1  # seconds, until a measurement exists (as WebRTC's default)
MIN_RETRY = 0.02  # never retry sooner than this, however short the round trip
MAX_TRIES = 10  # NACKs for one packet, the first one included
HORIZON = 1.0  # seconds after which the sender no longer has the packet
LATENCY_WINDOW = 256  # recent repair latencies kept for the percentiles


@dataclass
class _Missing:
    noticed: float
    sent: float
    tries: int


class NackTracker:
    """The missing sequence numbers of one stream and their NACK schedule."""

    def __init__(
        self, max_tries: int = MAX_TRIES, horizon: float = HORIZON, window: int = LATENCY_WINDOW
    ) -> None:
        self.max_tries = max_tries
        self.horizon = horizon
        self._missing: dict[int, _Missing] = {}
        self._latencies: deque[float] = deque(maxlen=window)
        self.repairs = 0  # retransmissions that filled a gap
        self.given_up = 0  # packets never repaired within the horizon
        self.retries = 0  # NACKs beyond the first for one packet

    def __len__(self) -> int:
        return len(self._missing)

    def __contains__(self, seq: int) -> bool:
        return seq in self._missing

    def lost(self, sequences: list[int], now: float) -> None:
        """A gap: these are asked for now (the caller sends the first NACK)."""
        for seq in sequences:
            self._missing[seq] = _Missing(now, now, 1)

    def arrived(self, seq: int, now: float, retransmission: bool) -> bool:
        """A packet that was missing arrived; True if it was missing.

        Only a retransmission counts as a repair: a late original was reordered.
        """
        entry = self._missing.pop(seq, None)
        if entry is None:
            return False
        if retransmission:
            self.repairs += 1
            self._latencies.append(now - entry.noticed)
        return True

    def retry_interval(self, rtt: float | None) -> float:
        return max(MIN_RETRY, DEFAULT_RTT if rtt is None else rtt)

    def due(self, now: float, rtt: float | None) -> tuple[list[int], list[int]]:
        """(to NACK again now, given up now), updating the schedule."""
        interval = self.retry_interval(rtt)
        again: list[int] = []
        expired: list[int] = []
        for seq, entry in self._missing.items():
            if now - entry.noticed >= self.horizon:
                expired.append(seq)
            elif entry.tries < self.max_tries and now - entry.sent >= interval:
                entry.sent = now
                entry.tries += 1
                again.append(seq)
        for seq in expired:
            del self._missing[seq]
        self.retries += len(again)
        self.given_up += len(expired)
        return again, expired

    def next_check(self, now: float, rtt: float | None) -> float | None:
        """Seconds until :meth:`due` has something to do; None when nothing is missing."""
        if not self._missing:
            return None
        interval = self.retry_interval(rtt)
        soonest = self.horizon
        for entry in self._missing.values():
            soonest = min(soonest, entry.noticed + self.horizon - now)
            if entry.tries < self.max_tries:
                soonest = min(soonest, entry.sent + interval - now)
        return max(0.0, soonest)

    def clear(self) -> None:
        """The numbering restarted: nothing old can be repaired."""
        self._missing.clear()

    def latency_percentiles(self) -> tuple[float, float] | None:
        """(p50, p95) of the recent repair latencies, seconds; None before any repair."""
        if not self._latencies:
            return None
        ordered = sorted(self._latencies)
        return _nearest_rank(ordered, 0.5), _nearest_rank(ordered, 0.95)


def _nearest_rank(ordered: list[float], fraction: float) -> float:
    """The nearest-rank percentile of a sorted, non-empty list."""
    rank = math.ceil(round(fraction * len(ordered), 9))
    return ordered[max(0, min(len(ordered), rank) - 1)]
