"""The technicians' view of a live conference: each second's figures, alerts, actions.

Once a second the conference asks its monitor to look at the media (clients
reconnecting, clients whose media fell silent are probed) and to report:
every stream sampled (conference/monitor.py), alerts judged (conference/alerts.py),
``monitor.stats`` sent to the technicians and the chair. Alerts go to them as
``monitor.alert`` the moment they are raised or cleared.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable

from media.router import Router
from media.transport import PeerTransport
from rooms import Conference
from signaling import AlertState, CloseCode, MonitorAlert, MonitorStats, Role, ServerMessage

from .alerts import Alert, AlertRules, StreamSample, Transition
from .bandwidth import BandwidthAllocation
from .media_plane import in_room
from .member import MONITORING_ROLES, JoinRefused, Member
from .monitor import ChannelSampler, ChannelSource, StreamSampler, Totals

# The live conference's lines keep its logger's name, wherever the code sits.
logger = logging.getLogger(__name__)


class ConferenceMonitor:
    """Samples, alerts and the technicians' actions for one conference."""

    def __init__(
        self,
        state: Conference,
        router: Router,
        members: dict[str, Member],
        *,
        bandwidth: BandwidthAllocation,
        listening: dict[str, str | None],
        totals: Totals,
        clock: Callable[[], float],
        media_timeout: float,
    ) -> None:
        self.state = state
        self.router = router
        self.members = members
        self.bandwidth = bandwidth
        # Each listener's chosen channel (conference/interpretation_routing.py).
        self.listening = listening
        self.totals = totals
        self.alerts = AlertRules()
        self.media_timeout = media_timeout
        # When each member's signaling was last probed for silent media (monotonic).
        self.probed: dict[str, float] = {}
        self._sampler = StreamSampler(totals)
        self._channel_sampler = ChannelSampler()
        self._clock = clock

    @property
    def id(self) -> str:
        return self.state.conference_id

    async def report(self) -> None:
        """Sample every stream, judge alerts, tell the technicians (``monitor.stats``)."""
        samples = self._sampler.sample(self.router, bandwidth=self.bandwidth)
        await self.announce(self.alerts.evaluate(samples, self._clock()))
        await self.announce(self.alerts.bandwidth(self.bandwidth.limited(), self._clock()))
        await self.announce(self._channel_alerts(samples))
        channels = self._channel_sampler.sample(
            self._channel_sources(), self.router.producers.values()
        )
        technicians = self._technicians()
        if technicians:
            stats = MonitorStats(
                self._clock(),
                tuple(s.to_dict() for s in samples),
                tuple(a.to_dict() for a in self.alerts.active.values()),
                tuple(c.to_dict() for c in channels),
            )
            await asyncio.gather(*(m.connection.send(stats) for m in technicians))

    async def announce(self, changes: list[tuple[Alert, Transition]]) -> None:
        for alert, state in changes:
            if state == "raised":
                self.totals.alerts[alert.kind] += 1
            logger.warning(
                "alert %s %s: %s",
                state,
                alert.kind,
                alert.message,
                extra={"conference": self.id, "participant": alert.participant_id},
            )
            message = MonitorAlert(alert.to_dict(), AlertState(state))
            await asyncio.gather(*(m.connection.send(message) for m in self._technicians()))

    def _channel_alerts(self, samples: list[StreamSample]) -> list[tuple[Alert, Transition]]:
        """Open channels whose interpreter's microphone is silent while the floor speaks."""
        live = {s.participant_id for s in samples if _sounding(s)}
        interpretation = self.state.interpretation
        floor_speaking = any(
            s.participant_id not in interpretation.seats and _sounding(s) for s in samples
        )
        active = interpretation.active_interpreters()
        sounding = {
            channel: active[channel] if active.get(channel) in live else None
            for channel in interpretation.open_channels()
        }
        return self.alerts.channels(sounding, floor_speaking, self._clock())

    def _channel_sources(self) -> list[ChannelSource]:
        """Each open channel: who is on air, and how many receive it (listeners, relays)."""
        interpretation = self.state.interpretation
        active = interpretation.active_interpreters()
        hearing: dict[str | None, int] = {}
        for member in in_room(self.members):
            pid = member.info.id
            if pid in interpretation.seats:
                heard = interpretation.hears(pid)[0]
            else:
                heard = self.listening.get(pid)
            hearing[heard] = hearing.get(heard, 0) + 1
        sources = []
        for language in interpretation.open_channels():
            on_air = active.get(language)
            producers = self.router.producers_of(on_air) if on_air is not None else []
            producer = next((p for p in producers if p.kind == "audio"), None)
            sources.append(ChannelSource(language, on_air, producer, hearing.get(language, 0)))
        return sources

    async def watch_media(self) -> None:
        """Media reconnecting (alerts), and clients whose media fell silent (probed)."""
        now = time.monotonic()
        watched = {m.info.id for m in self.members.values() if m.transport is not None}
        for key in [k for k in self.alerts.active if k.startswith("media:")]:
            gone = key.removeprefix("media:")
            if gone not in watched:  # dropped or left meanwhile: nothing to wait for
                await self.announce(self.alerts.media_reconnected(gone))
        for member in list(self.members.values()):
            transport, pid = member.transport, member.info.id
            if transport is None:
                continue
            if transport.reconnecting:
                sides = " and ".join(sorted(transport.reconnecting))
                changes = self.alerts.media_reconnecting(pid, sides, self._clock())
            else:
                changes = self.alerts.media_reconnected(pid)
            await self.announce(changes)
            if self.media_timeout <= 0 or not _expects_media(transport):
                continue
            heard = _last_heard(transport)
            probed = self.probed.get(pid, -math.inf)
            if heard is None or now - heard <= self.media_timeout:
                continue
            if now - probed > self.media_timeout:
                # Vanished (no answer: dropped, seat held) or only its UDP is
                # cut (it answers, and its peer connections are re-created).
                logger.log(
                    logging.INFO if probed < heard else logging.DEBUG,  # once per silence
                    "no media from %s for %.0f s: probing its signaling",
                    pid,
                    now - heard,
                    extra={"conference": self.id, "participant": pid},
                )
                self.probed[pid] = now
                self.totals.media_probes += 1
                await member.connection.probe(self.media_timeout)

    def _technicians(self) -> list[Member]:
        return [m for m in self.members.values() if m.info.role in MONITORING_ROLES]

    async def tell_technicians(self, message: ServerMessage) -> None:
        """Send to the technicians (and the chair), as ``monitor.alert`` goes."""
        await asyncio.gather(*(m.connection.send(message) for m in self._technicians()))

    def request_keyframe(self, member: Member, producer_id: str) -> None:
        """Technician action: ask a publisher for a keyframe."""
        self._check_technical(member)
        producer = self.router.producers.get(producer_id)
        if producer is None:
            raise JoinRefused("not_found", f"no producer {producer_id!r}")
        producer.request_keyframe()

    async def disconnect(self, member: Member, participant_id: str) -> None:
        """Technician action: close a participant's connection; it may rejoin."""
        self._check_technical(member)
        target = self.members.get(participant_id)
        if target is None:
            raise JoinRefused("not_found", f"{participant_id!r} is not connected")
        if target.info.role is Role.CHAIR:
            raise JoinRefused("forbidden", "the chair cannot be disconnected")
        await target.connection.close(CloseCode.DISCONNECTED, "disconnected by a technician")

    @staticmethod
    def _check_technical(member: Member) -> None:
        if member.info.role not in MONITORING_ROLES:
            raise JoinRefused("forbidden", "only technicians and the chair may do this")


def _expects_media(transport: PeerTransport) -> bool:
    """Whether the client should be sending: it publishes, or receives media (and reports)."""
    if transport.producers:
        return True
    running = [*transport.consumers.values(), *(s.consumer for s in transport.feeds.values())]
    return any(c is not None and c.started for c in running)


def _last_heard(transport: PeerTransport) -> float | None:
    """When the client's last RTP or RTCP arrived (monotonic), if ever."""
    times = [p.counters.last_packet_at for p in transport.producers.values()]
    known = [t for t in [transport.heard_at, *times] if t is not None]
    return max(known) if known else None


def _sounding(sample: StreamSample) -> bool:
    """An incoming audio stream forwarded and sending in the last second."""
    return (
        sample.direction == "in"
        and sample.kind == "audio"
        and not sample.paused
        and sample.silent_for is not None
        and sample.silent_for < 1.0
    )


__all__ = ["ConferenceMonitor"]
