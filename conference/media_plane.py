"""The room's state applied to the media: what each subscriber is forwarded.

The floor is enforced here (a microphone is forwarded only while its owner
may be heard), and each subscriber's videos are chosen and layered by the
floor within its downlink and last-N (conference/video_layers.py,
conference/bandwidth.py). Subscribers whose streams changed are told
(``subscribe.streams``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Coroutine
from typing import Any

from media.producer import Producer
from media.router import Router
from media.transport import PeerTransport, StreamMapping
from rooms import Conference
from rooms import Role as RoomRole
from rooms.events import Event
from signaling import (
    MediaKind,
    MessageId,
    ProducerInfo,
    Role,
    StreamInfo,
    SubscribeOffer,
    SubscribeStreams,
    VideoPinned,
)

from .bandwidth import BandwidthAllocation, Priorities
from .member import PUBLISHING_ROLES, JoinRefused, Member
from .publish_layers import LayerRequests

# The live conference's lines keep its logger's name, wherever the code sits.
logger = logging.getLogger(__name__)

# What the server's answer asks of an interpreter's Opus encoder: full band, mono,
# a generous bitrate (ISO 24019 wants 125 Hz-15 kHz).
INTERPRETER_OPUS = {
    "maxplaybackrate": "48000",
    "stereo": "0",
    "sprop-stereo": "0",
    "maxaveragebitrate": "64000",
    "useinbandfec": "1",
}


def in_room(members: dict[str, Member]) -> list[Member]:
    """The members with media: admitted to the room (not waiting in the lobby)."""
    return [m for m in members.values() if m.transport is not None]


class MediaPlane:
    """Each member's transport, the floor's gate on microphones, and video layers."""

    def __init__(
        self,
        state: Conference,
        router: Router,
        members: dict[str, Member],
        *,
        bandwidth: BandwidthAllocation,
        due: Callable[[], list[Event]],
        lock: asyncio.Lock,
        spawn: Callable[[Coroutine[Any, Any, None]], None],
    ) -> None:
        self.state = state
        self.router = router
        self.members = members
        # Each subscriber's videos within its downlink, and last-N.
        self.bandwidth = bandwidth
        # The participant whose video each subscriber pinned (video.pin), for its connection.
        self.pinned: dict[str, str] = {}
        # Dynacast: each publisher is told which simulcast layers anyone watches.
        self.layer_requests = LayerRequests()
        # When each participant last held the floor (monotonic): the recent speakers.
        self._spoke: dict[str, float] = {}
        # Time events due but not stored yet: they count already.
        self._due = due
        self._lock = lock
        self._spawn = spawn

    @property
    def id(self) -> str:
        return self.state.conference_id

    def start(self, member: Member) -> bool:
        """Give an admitted member its transport; False if it has one already."""
        if member.transport is not None:
            return False
        pid = member.info.id

        async def offer(
            sdp: str, revision: int, streams: list[StreamMapping], restart: bool
        ) -> None:
            # To whichever connection the seat has now (none while it is
            # dropped: the offer is sent again when it comes back).
            current = self.members.get(pid)
            if current is not None:
                await current.connection.send(
                    SubscribeOffer(
                        sdp, revision, tuple(stream_info(s) for s in streams), restart=restart
                    )
                )

        member.transport = self.router.create_transport(member.info.id, offer, member.receives)
        if member.info.role is Role.INTERPRETER:
            member.transport.opus_parameters = dict(INTERPRETER_OPUS)
        return True

    async def drop(self, member: Member) -> None:
        """Tear down a member's media; a failure is logged, never in the way of leaving."""
        member.transport = None
        self.pinned.pop(member.info.id, None)
        try:
            await self.router.close_transport(member.info.id)
        except Exception:
            logger.exception("closing the media of %s failed", member.info.id)

    def apply_floor(self) -> set[str]:
        """The floor is enforced here: audio is forwarded only from who may be heard.

        Returns the ids of the producers opened or closed.
        """
        audible = self.audible()
        changed = {p.id for p in list(self.router.producers.values()) if gate(p, audible)}
        self.apply_layers()
        return changed

    def apply_layers(self) -> None:
        """Each subscriber's videos in the layer the floor gives them
        (conference/video_layers.py), within its downlink and last-N
        (conference/bandwidth.py); those whose held videos changed are told."""
        changed = self._allocate()
        if changed:
            self._spawn(self._announce_held(changed))

    async def announce_audible(self, changed: set[str]) -> None:
        """Tell each subscriber whose streams were opened or closed (subscribe.streams)."""
        if not changed:
            return
        told = []
        for member in in_room(self.members):
            transport = member.transport
            assert transport is not None
            if transport.revision and not changed.isdisjoint(transport.consumers):
                streams = tuple(stream_info(s) for s in transport.streams())
                told.append(member.connection.send(SubscribeStreams(transport.revision, streams)))
        await asyncio.gather(*told)

    async def allocate_bandwidth(self, measure: bool = False) -> None:
        """As :meth:`apply_layers` (``measure``: with this second's figures first)."""
        if measure:
            transports = {pid: m.transport for pid, m in self.members.items() if m.transport}
            try:
                self.bandwidth.measure(transports)
            except Exception:  # never in the way of the floor or the monitor
                logger.exception("bandwidth measurement failed in %s", self.id)
        await self._announce_held(self._allocate())

    def _allocate(self) -> set[str]:
        """Hold, resume or re-layer every subscriber's videos; who must be told."""
        transports = {pid: m.transport for pid, m in self.members.items() if m.transport}
        try:
            return self.bandwidth.allocate(transports, self._priorities(), self.pinned)
        except Exception:  # never in the way of the floor or the monitor
            logger.exception("bandwidth allocation failed in %s", self.id)
            return set()
        finally:  # each publisher sends the layers its consumers now want
            links = {pid: m.connection for pid, m in self.members.items()}
            for pid, message in self.layer_requests.update(transports, links):
                self._spawn(self.members[pid].connection.send(message))

    async def _announce_held(self, changed: set[str]) -> None:
        """Tell each subscriber whose videos were held or resumed (subscribe.streams)."""
        told = []
        for pid in changed:
            member = self.members.get(pid)
            transport = member.transport if member is not None else None
            if member is not None and transport is not None and transport.revision:
                streams = tuple(stream_info(s) for s in transport.streams())
                told.append(member.connection.send(SubscribeStreams(transport.revision, streams)))
        await asyncio.gather(*told)

    def _priorities(self) -> Priorities:
        """Who holds the floor, who chairs, who spoke most recently (for video)."""
        state = self.state
        floor: set[str] = set()
        for request in state.floor.holders():
            if request.speaker_id is not None:
                floor.add(request.speaker_id)
            else:
                floor.update(p.participant_id for p in state.members(request.delegation_id))
        now = time.monotonic()
        for pid in floor:
            self._spoke[pid] = now
        chair = {p.participant_id for p in state.participants.values() if p.role is RoomRole.CHAIR}
        others = [p for p in state.participants if p not in floor and p not in chair]
        others.sort(key=lambda p: -self._spoke.get(p, -math.inf))
        return Priorities(frozenset(floor), frozenset(chair), tuple(others))

    def audible(self) -> frozenset[str]:
        """Who may be heard now: the floor's rule, and interpreters (unless muted).

        An interpreter's audio reaches no one directly (see ``direct``), only
        as its booth's channel while it is on air: the floor never gates it.
        """
        state = self.state
        due = self._due()
        if due:  # time events due but not stored yet count already
            state = state.copy()
            state.apply_all(due)
        interpreters = {
            p.participant_id
            for p in state.participants.values()
            if p.role is RoomRole.INTERPRETER and p.participant_id not in state.muted
        }
        return state.audible_participants() | interpreters

    def direct_producers(self) -> list[Producer]:
        return [p for p in self.router.producers.values() if self.direct(p)]

    def direct(self, producer: Producer) -> bool:
        """Whether every peer receives the producer: not an interpreter's microphone."""
        owner = self.state.participants.get(producer.owner)
        return producer.kind != "audio" or owner is None or owner.role is not RoomRole.INTERPRETER

    async def pin(self, member: Member, participant_id: str | None, ref: MessageId | None) -> None:
        """A subscriber pins one participant's video (None: none); JoinRefused if refused."""
        async with self._lock:
            pid = member.info.id
            if participant_id is not None:
                if participant_id not in self.state.participants:
                    raise JoinRefused("not_found", f"no participant {participant_id!r}")
                if participant_id == pid:
                    raise JoinRefused("invalid_argument", "one's own video is not sent back")
            if member.transport is None:
                raise JoinRefused("in_lobby", "waiting in the lobby for the chair to admit you")
            if "video" not in member.receives:
                raise JoinRefused("invalid_state", "this connection receives no video (hello)")
            if participant_id is None:
                self.pinned.pop(pid, None)
            else:
                self.pinned[pid] = participant_id
            self.apply_layers()
        await member.connection.send(VideoPinned(participant_id, ref=ref))

    @staticmethod
    def publisher(member: Member) -> PeerTransport:
        if member.info.role not in PUBLISHING_ROLES:
            raise JoinRefused("forbidden", f"a {member.info.role.value} does not publish media")
        if member.transport is None:
            raise JoinRefused("in_lobby", "waiting in the lobby for the chair to admit you")
        return member.transport

    @staticmethod
    def subscriber(member: Member) -> PeerTransport:
        if member.transport is None:
            raise JoinRefused("in_lobby", "waiting in the lobby for the chair to admit you")
        return member.transport


def gate(producer: Producer, audible: frozenset[str]) -> bool:
    """Open or close an audio producer as the floor says; True if that changed it."""
    if producer.kind != "audio" or (producer.owner in audible) != producer.paused:
        return False
    if producer.paused:
        producer.resume()
    else:
        producer.pause()
    return True


def producer_info(producer: Producer) -> ProducerInfo:
    return ProducerInfo(producer.id, producer.owner, MediaKind(producer.kind), producer.source)


def stream_info(stream: StreamMapping) -> StreamInfo:
    return StreamInfo(
        stream.mid,
        stream.producer_id,
        stream.owner,
        MediaKind(stream.kind),
        audible=stream.audible,
        source=stream.source,
        forwarded=stream.forwarded,
    )


__all__ = ["INTERPRETER_OPUS", "MediaPlane", "gate", "in_room", "producer_info", "stream_info"]
