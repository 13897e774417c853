"""Which videos a subscriber gets, in which layer, within its downlink (pure).

Audio is never left out: its budget is taken first. The videos are then
served in priority order (the caller ranks them: the floor first, then the
chair, then the most recent speakers), each in the best layer it wants that
still fits, else a lower one, else none (paused: the browser shows the
participant's name instead). A lower-priority video may still fit where a
bigger one did not, except below the first: when the first video (the
floor's) does not fit, none after it is sent, so the floor's video is the
last one held.

The first video playing is only held when the budget is clearly below its
lowest layer (``FIRST_VIDEO_TOLERANCE``): a lossy link is not a reason to
blank the floor, a link that cannot carry it is.

Upgrades need headroom (``UPGRADE_MARGIN``): a video is not resumed or raised
a layer on an estimate it would only just fit, so the allocation does not flap
between two states on every small change of the estimate. When the estimator
allows a probe, the first video left out for bandwidth is resumed in its
lowest layer even though it does not fit: that is how a link that got better
is found out; when no video is left out, the first one below the layer it
wants is raised one layer instead, less often (the estimator says when: a
layer's step, 1280 over 640, is often more than a whole thumbnail). Without
it a link estimated low would keep its smaller layers for good: the
estimate grows only with what is sent.
The probe keeps its video and layer (``probing``) until the estimator has
judged it, whatever the estimate says meanwhile.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

UPGRADE_MARGIN = 1.15
# The first video (the floor's) keeps its lowest layer until the budget falls
# this far below it: random loss of 10-15 % lowers the estimate just under
# what is sent, and blanking the floor for that would be worse than the loss.
FIRST_VIDEO_TOLERANCE = 0.8


class Layer(Protocol):
    """A simulcast layer as a producer describes it (``Producer.layers``)."""

    @property
    def spatial(self) -> int: ...
    @property
    def bitrate_bps(self) -> int: ...
    @property
    def active(self) -> bool: ...


def layer_rates(
    layers: Sequence[Layer], measured_bps: float | None, unknown_bps: int
) -> list[tuple[int, int]]:
    """(spatial layer, bit/s) of the active layers, lowest first.

    Without simulcast (no active layer described): one entry, layer 0, at
    the producer's measured rate (``unknown_bps`` until it is measured).
    """
    active = sorted((layer.spatial, int(layer.bitrate_bps)) for layer in layers if layer.active)
    if active:
        return active
    return [(0, int(measured_bps) if measured_bps else unknown_bps)]


class Reason(StrEnum):
    """Why a video is not forwarded."""

    BANDWIDTH = "bandwidth"  # it does not fit in the subscriber's downlink
    LAST_N = "last_n"  # beyond the last N videos of the meeting


@dataclass(frozen=True)
class Candidate:
    """One video a subscriber could receive."""

    key: str  # the consumer
    rank: int  # lower is served first
    layers: tuple[int, ...]  # bit/s of each layer, lowest first (one entry: no simulcast)
    wanted: int  # the highest layer the policy wants for it
    current: int | None  # the layer it gets now; None: paused
    allowed: bool = True  # False: left out by last-N, whatever the bandwidth


@dataclass(frozen=True)
class Decision:
    layer: int | None  # None: paused
    reason: Reason | None = None  # why paused


@dataclass(frozen=True)
class Allocation:
    decisions: Mapping[str, Decision]
    probed: tuple[str, int] | None  # the video (and layer) resumed or raised as a probe
    video_bps: int  # what the forwarded videos need


def allocate(
    estimate: int | None,
    audio_bps: int,
    candidates: Sequence[Candidate],
    probe: bool = False,
    probing: tuple[str, int] | None = None,
    upgrade: bool = False,
    keep_first: bool = False,
) -> Allocation:
    """Each candidate's layer or pause, within ``estimate`` (None: no limit).

    ``probe``: resume the first video left out for bandwidth anyway, in its
    lowest layer; ``upgrade``: if none is left out, raise the first video
    below the layer it wants by one; ``probing``: the video and layer of a
    probe still running, kept so until it is judged; ``keep_first``: the
    first video, if playing, keeps at least its lowest layer whatever the
    budget (see :func:`first_may_be_held`).
    """
    budget = float("inf") if estimate is None else estimate - audio_bps
    decisions: dict[str, Decision] = {}
    left_out: list[Candidate] = []
    used = 0
    first = True
    first_held = False
    for candidate in sorted(candidates, key=lambda c: c.rank):
        if not candidate.allowed:
            decisions[candidate.key] = Decision(None, Reason.LAST_N)
            continue
        if first_held:
            decisions[candidate.key] = Decision(None, Reason.BANDWIDTH)
            left_out.append(candidate)
            continue
        top = max(0, min(candidate.wanted, len(candidate.layers) - 1))
        chosen = None
        for layer in range(top, -1, -1):
            need = candidate.layers[layer]
            raising = candidate.current is None or layer > candidate.current
            if need * (UPGRADE_MARGIN if raising else 1.0) <= budget - used:
                chosen = layer
                break
        tolerated = candidate.layers[0] * FIRST_VIDEO_TOLERANCE <= budget - used
        if chosen is None and first and candidate.current is not None and (tolerated or keep_first):
            chosen = 0
        first_held = first and chosen is None
        first = False
        if chosen is None:
            decisions[candidate.key] = Decision(None, Reason.BANDWIDTH)
            left_out.append(candidate)
            continue
        decisions[candidate.key] = Decision(chosen)
        used += candidate.layers[chosen]
    if first_held:
        # Only the first video may be probed: no other goes before it.
        eligible = left_out[:1]
    else:
        eligible = sorted((c for c in candidates if c.allowed), key=lambda c: c.rank)
    tried: tuple[Candidate, int] | None = None
    if probing is not None:
        running = next((c for c in eligible if c.key == probing[0]), None)
        if running is not None and probing[1] < len(running.layers):
            tried = (running, probing[1])
    elif probe and left_out:
        tried = (left_out[0], 0)
    elif upgrade and not left_out:
        for candidate in eligible:
            now = decisions[candidate.key].layer
            if now is not None and now < min(candidate.wanted, len(candidate.layers) - 1):
                tried = (candidate, now + 1)  # one layer up: a link that got better
                break
    probed = None
    if tried is not None:
        candidate, layer = tried
        before = decisions[candidate.key].layer
        if before is None or before < layer:
            used += candidate.layers[layer] - (0 if before is None else candidate.layers[before])
            decisions[candidate.key] = Decision(layer)
        probed = (candidate.key, layer)
    return Allocation(decisions, probed, used)


def first_may_be_held(
    candidates: Sequence[Candidate], decreases: int | None, alone_at: int | None
) -> tuple[bool, int | None]:
    """Whether the first video may be held now, and the mark to remember.

    ``decreases``: how many times the estimate was lowered (None: nothing
    limits the subscriber); ``alone_at``: that count when the first video
    was last seen alone. The first video (the floor's) is held only once it
    is the last thing sent besides audio, in its lowest layer, and the loss
    went on after that (the estimator lowered its estimate again, or would
    have). One lossy reading can say far less than the link carries (a
    keyframe lost in a burst of resends read 91 % loss on a link that
    dropped half); shedding everything else first and holding the floor
    only if the loss goes on keeps it on screen where the link carries it.
    """
    playing = sorted((c for c in candidates if c.allowed and c.current is not None), key=_rank)
    ranked = sorted((c for c in candidates if c.allowed), key=_rank)
    if not ranked or not playing or playing[0] is not ranked[0]:
        return True, None  # the first is not playing: nothing to keep
    if len(playing) > 1 or playing[0].current != 0 or decreases is None:
        return False, None  # something else can go first
    return alone_at is not None and decreases > alone_at, decreases


def _rank(candidate: Candidate) -> int:
    return candidate.rank


def last_n(ranked: Sequence[str], n: int, viewer: str | None = None) -> frozenset[str]:
    """The first ``n`` of the ranked video owners: those whose video is
    forwarded to ``viewer``, who is not sent its own and so is not counted."""
    return frozenset([owner for owner in ranked if owner != viewer][: max(0, n)])
