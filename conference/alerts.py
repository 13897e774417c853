"""Stream health alerts for technicians: pure rules with explicit time.

Each alert is raised once and cleared once the stream recovers; thresholds
have hysteresis and loss and RTT must be sustained, so a single bad second
does not make the dashboard flicker.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Literal

Transition = Literal["raised", "cleared"]


@dataclass(frozen=True)
class StreamSample:
    """One stream's figures over the last sampling interval."""

    id: str  # the producer id (direction "in") or consumer id ("out")
    direction: Literal["in", "out"]
    producer_id: str
    participant_id: str  # the publisher
    subscriber_id: str | None
    kind: str
    codec: str
    paused: bool
    packets: int
    bytes: int
    bitrate_kbps: float
    frames: int
    fps: float
    keyframes: int
    packets_lost: int
    loss: float  # fraction 0..1 over the interval
    jitter_ms: float
    rtt_ms: float | None
    nacks: int
    plis: int
    silent_for: float | None  # seconds since the last packet ("in" only)
    # The client's end of the connection carrying it: ICE candidate type and
    # transport as the server sees it ("host udp", "srflx udp", "relay udp").
    path: str | None = None
    source: str | None = None  # "screen" for a screen share
    # Loss repaired by retransmission from the publisher ("in" only): repairs,
    # their latency (gap noticed to retransmission arrived) over the recent
    # repairs, and packets given up at the retransmission horizon.
    repairs: int | None = None
    repair_p50_ms: float | None = None
    repair_p95_ms: float | None = None
    unrepaired: int | None = None
    # Simulcast video: the layer forwarded to the subscriber and the one
    # chosen for it ("out"); the publisher's layers, lowest first, with their
    # measured bitrate ("in"). None without simulcast.
    layer: int | None = None
    target_layer: int | None = None
    # VP8 temporal layers ("out" video): the highest TID forwarded now and the
    # one chosen (a thumbnail at half the frame rate); None: every frame.
    temporal: int | None = None
    target_temporal: int | None = None
    layers: tuple[dict[str, object], ...] | None = None
    # Bandwidth allocation ("out" only): the subscriber's downlink estimate
    # (None: nothing limits it yet) and why the video is held ("bandwidth",
    # "last_n"; None: forwarded).
    estimate_kbps: float | None = None
    held: str | None = None
    # RED (RFC 2198) audio from the publisher ("in" audio only): packets
    # received as RED, lost packets rebuilt from the next one's redundancy,
    # and RED packets dropped because they did not parse.
    red_packets: int | None = None
    red_recovered: int | None = None
    red_malformed: int | None = None
    # NACK repairs towards the subscriber ("out" only; it asked for ``nacks``
    # sequence numbers): packets retransmitted from the SFU's cache, and
    # packets asked for that the cache no longer (or never) held.
    retransmitted: int | None = None
    retransmit_misses: int | None = None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Alert:
    id: str
    kind: Literal[
        "freeze",
        "loss",
        "rtt",
        "publisher_gone",
        "log_lost",
        "channel_silent",
        "media_reconnecting",
        "bandwidth_limited",
    ]
    participant_id: str
    producer_id: str | None
    subscriber_id: str | None
    since: float
    value: float | None
    message: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class Thresholds:
    freeze_after: float = 2.0  # seconds without a packet on a live video stream
    loss: float = 0.05
    loss_clear: float = 0.02
    rtt: float = 300.0  # milliseconds
    rtt_clear: float = 250.0
    sustain: int = 3  # consecutive samples over the threshold before raising
    # Consecutive samples under the lower threshold before clearing: at a loss
    # near the threshold, single good seconds come by chance.
    clear_sustain: int = 3
    channel_silent_after: float = 5.0  # seconds an open channel is mute while the floor speaks
    # Seconds a subscriber has videos held for its downlink before the alert,
    # and seconds with none held before it clears.
    bandwidth_sustain: int = 3
    bandwidth_clear_sustain: int = 10


@dataclass
class AlertRules:
    thresholds: Thresholds = field(default_factory=Thresholds)
    active: dict[str, Alert] = field(default_factory=dict)
    _streak: dict[str, int] = field(default_factory=dict)
    _good: dict[str, int] = field(default_factory=dict)  # clearing streaks
    # Open channel -> since when it has been silent while the floor spoke.
    _channel_silent: dict[str, float] = field(default_factory=dict)

    def evaluate(
        self, samples: Iterable[StreamSample], now: float
    ) -> list[tuple[Alert, Transition]]:
        """Compare this second's samples with the rules; return what changed."""
        changes: list[tuple[Alert, Transition]] = []
        seen: set[str] = set()
        t = self.thresholds
        for s in samples:
            if s.direction == "in" and s.kind == "video" and not s.paused:
                frozen = s.silent_for is not None and s.silent_for > t.freeze_after
                alert = self._alert(
                    "freeze",
                    s,
                    now,
                    s.silent_for,
                    f"video frozen: no packet for {s.silent_for or 0:.1f} s",
                )
                seen.add(alert.id)
                changes += self._judge(alert, frozen, not frozen, sustain=1, clear_sustain=1)
            if s.packets or s.packets_lost:
                alert = self._alert(
                    "loss", s, now, s.loss, f"packet loss {s.loss:.0%} ({s.direction})"
                )
                seen.add(alert.id)
                changes += self._judge(alert, s.loss > t.loss, s.loss < t.loss_clear)
            if s.rtt_ms is not None:
                alert = self._alert("rtt", s, now, s.rtt_ms, f"round-trip time {s.rtt_ms:.0f} ms")
                seen.add(alert.id)
                changes += self._judge(alert, s.rtt_ms > t.rtt, s.rtt_ms < t.rtt_clear)
        # Streams that are gone take their alerts with them, except publisher_gone,
        # media_reconnecting and the channels' (judged by `channels`).
        kept = ("gone:", "channel:", "media:", "bandwidth:")
        for key in [k for k in self.active if k not in seen and not k.startswith(kept)]:
            changes.append((self.active.pop(key), "cleared"))
        # (The bandwidth alerts' streaks are judged by `bandwidth`.)
        for key in [k for k in self._streak if k not in seen and not k.startswith("bandwidth:")]:
            del self._streak[key]
        for key in [k for k in self._good if k not in seen and not k.startswith("bandwidth:")]:
            del self._good[key]
        return changes

    @staticmethod
    def _alert(
        kind: Literal["freeze", "loss", "rtt"],
        s: StreamSample,
        now: float,
        value: float | None,
        message: str,
    ) -> Alert:
        return Alert(
            f"{kind}:{s.id}",
            kind,
            s.participant_id,
            s.producer_id,
            s.subscriber_id,
            now,
            value,
            message,
        )

    def publisher_gone(self, participant_id: str, now: float) -> list[tuple[Alert, Transition]]:
        """A publishing participant lost its connection without leaving."""
        key = f"gone:{participant_id}"
        if key in self.active:
            return []
        alert = Alert(
            key,
            "publisher_gone",
            participant_id,
            None,
            None,
            now,
            None,
            "publisher disconnected without leaving",
        )
        self.active[key] = alert
        return [(alert, "raised")]

    def channels(
        self, sounding: dict[str, str | None], floor_speaking: bool, now: float
    ) -> list[tuple[Alert, Transition]]:
        """Interpretation: an open channel silent for too long while the floor speaks.

        ``sounding`` maps each open channel to its interpreter on air whose
        microphone is sending, or None (nobody on air, or a dead microphone).
        """
        changes: list[tuple[Alert, Transition]] = []
        for channel in list(self._channel_silent):
            if channel not in sounding:
                del self._channel_silent[channel]
        for key in [k for k in self.active if k.startswith("channel:")]:
            channel = key.removeprefix("channel:")
            if sounding.get(channel) is not None or channel not in sounding or not floor_speaking:
                changes.append((self.active.pop(key), "cleared"))
                self._channel_silent.pop(channel, None)
        for channel, interpreter in sounding.items():
            if interpreter is not None or not floor_speaking:
                self._channel_silent.pop(channel, None)
                continue
            since = self._channel_silent.setdefault(channel, now)
            key = f"channel:{channel}"
            if key not in self.active and now - since > self.thresholds.channel_silent_after:
                alert = Alert(
                    key,
                    "channel_silent",
                    "",
                    None,
                    None,
                    since,
                    now - since,
                    f"the {channel} channel is silent while the floor speaks",
                )
                self.active[key] = alert
                changes.append((alert, "raised"))
        return changes

    def bandwidth(
        self, limited: dict[str, tuple[int, int | None]], now: float
    ) -> list[tuple[Alert, Transition]]:
        """Subscribers whose downlink cannot carry all their videos (once a second).

        ``limited``: per subscriber, how many of its videos are held for its
        downlink, and its estimate (bit/s). Raised after ``bandwidth_sustain``
        seconds with some held, cleared after ``bandwidth_clear_sustain`` with
        none (a probe that fails holds a video again a few seconds later).
        """
        changes: list[tuple[Alert, Transition]] = []
        t = self.thresholds
        for key in [k for k in self.active if k.startswith("bandwidth:")]:
            if key.removeprefix("bandwidth:") not in limited:
                changes.append((self.active.pop(key), "cleared"))
                self._good.pop(key, None)
        for pid, (held, estimate) in limited.items():
            kbps = estimate / 1000 if estimate is not None else None
            alert = Alert(
                f"bandwidth:{pid}",
                "bandwidth_limited",
                pid,
                None,
                pid,
                now,
                kbps,
                f"subscriber bandwidth limited: {held} video(s) paused, "
                f"downlink about {kbps or 0:.0f} kbit/s",
            )
            changes += self._judge(
                alert,
                held > 0,
                held == 0,
                sustain=t.bandwidth_sustain,
                clear_sustain=t.bandwidth_clear_sustain,
            )
        return changes

    def publisher_back(self, participant_id: str) -> list[tuple[Alert, Transition]]:
        alert = self.active.pop(f"gone:{participant_id}", None)
        return [(alert, "cleared")] if alert is not None else []

    def media_reconnecting(
        self, participant_id: str, sides: str, now: float
    ) -> list[tuple[Alert, Transition]]:
        """A participant's peer connection failed (ICE) and is being re-created."""
        key = f"media:{participant_id}"
        if key in self.active:
            return []
        alert = Alert(
            key,
            "media_reconnecting",
            participant_id,
            None,
            None,
            now,
            None,
            f"media reconnecting: {sides} connection re-created after ICE failure",
        )
        self.active[key] = alert
        return [(alert, "raised")]

    def media_reconnected(self, participant_id: str) -> list[tuple[Alert, Transition]]:
        alert = self.active.pop(f"media:{participant_id}", None)
        return [(alert, "cleared")] if alert is not None else []

    def log_lost(
        self, conference_id: str, kept: int, known: int, now: float
    ) -> list[tuple[Alert, Transition]]:
        """The event store holds fewer events than were applied (Redis lost data)."""
        key = f"log:{conference_id}"
        if key in self.active:
            return []
        alert = Alert(
            key,
            "log_lost",
            "",
            None,
            None,
            now,
            float(known - kept),
            f"event store lost events {kept + 1}-{known}; restoring them from memory",
        )
        self.active[key] = alert
        return [(alert, "raised")]

    def log_restored(self, conference_id: str) -> list[tuple[Alert, Transition]]:
        alert = self.active.pop(f"log:{conference_id}", None)
        return [(alert, "cleared")] if alert is not None else []

    def _judge(
        self,
        alert: Alert,
        bad: bool,
        good: bool,
        sustain: int | None = None,
        clear_sustain: int | None = None,
    ) -> list[tuple[Alert, Transition]]:
        key = alert.id
        if key in self.active:
            streak = self._good.get(key, 0) + 1 if good else 0
            self._good[key] = streak
            needed = self.thresholds.clear_sustain if clear_sustain is None else clear_sustain
            if streak >= needed:
                del self._good[key]
                return [(self.active.pop(key), "cleared")]
            return []
        streak = self._streak.get(key, 0) + 1 if bad else 0
        self._streak[key] = streak
        if streak >= (self.thresholds.sustain if sustain is None else sustain):
            self._streak[key] = 0
            self.active[key] = alert
            return [(alert, "raised")]
        return []
