"""A live conference: the domain core applied, persisted, broadcast and enforced.

The conference service is where rooms (who may speak), media (what is
forwarded) and signaling (what everyone is told) meet. Every change goes the
same way, under one lock so that concurrent commands (two chairs, a timer, a
disconnect) take one consistent order:

    decide (pure) -> append to the store -> apply -> media consequences
    -> room.update to everyone -> re-arm the deadline timer
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cluster.redis_store import StoreUnavailable
from media.producer import SCREEN, Producer
from media.router import Router
from media.transport import ALL_KINDS, PeerTransport, StreamMapping
from rooms import (
    FLOOR,
    ISO_639_1,
    SYSTEM,
    AddDelegation,
    Command,
    Conference,
    CreateConference,
    EventStore,
    GoOffAir,
    JoinConference,
    LeaveConference,
    Presence,
    RoomError,
    SetPresence,
    Settings,
    StoreConflict,
)
from rooms import Role as RoomRole
from rooms import messages as private
from rooms.events import (
    ConferenceClosed,
    Event,
    FloorEvent,
    FloorGranted,
    FloorReleased,
    FloorRevoked,
    MessageSent,
    ParticipantAdmitted,
    ParticipantRejected,
    ParticipantRemoved,
    RecordingStarted,
    RecordingStopped,
    SystemReason,
)
from rooms.events import (
    ParticipantLeft as SeatLeft,
)
from rooms.share import may_stop_share, share_refusal
from signaling import (
    MAX_HISTORY,
    PROTOCOL_VERSION,
    AlertState,
    CloseCode,
    ConferenceInfo,
    DelegationInfo,
    IceServer,
    InterpretationListening,
    LeaveReason,
    MediaKind,
    MessageHistory,
    MessageId,
    MonitorAlert,
    MonitorStats,
    ParticipantInfo,
    ParticipantJoined,
    ParticipantLeft,
    ProducerAdded,
    ProducerInfo,
    ProducerRemoved,
    RateLimiter,
    Role,
    RoomUpdate,
    ServerMessage,
    ShareEnd,
    ShareStopped,
    StreamInfo,
    SubscribeOffer,
    SubscribeStreams,
    VideoPinned,
    Welcome,
)

from .alerts import Alert, AlertRules, StreamSample, Transition
from .bandwidth import DEFAULT_LAST_N, BandwidthAllocation, Priorities
from .monitor import ChannelSampler, ChannelSource, StreamSampler, Totals
from .publish_layers import LayerRequests
from .recording import ChannelRecorder, FloorRecorder
from .tokens import JoinGrant

logger = logging.getLogger(__name__)

DEFAULT_RECORDINGS = Path("recordings")
RESUME_GRACE = 30.0  # seconds a dropped participant keeps its seat, request and floor
# Seconds without RTP/RTCP from a client with media before its signaling is probed.
MEDIA_TIMEOUT = 10.0
# Seconds after a drop before a seat that has not come back counts as
# disconnected rather than reconnecting (a reload is back well within it).
LOST_AFTER = 1.5
# A dropped seat whose kept media was silent this long is no longer heard:
# its connection is reconnecting (a crash), not merely its signaling (a blip).
MEDIA_QUIET = 0.5
MONITOR_INTERVAL = 1.0  # seconds between two monitor.stats
# After the store failed, commands are refused at once for this long (instead
# of each waiting for the store's timeout in turn behind the lock).
STORE_BACKOFF = 1.0
# Roles that receive the monitoring feed and may act on streams.
MONITORING_ROLES = frozenset({Role.TECHNICIAN, Role.CHAIR})
# Roles whose members may publish camera and microphone.
PUBLISHING_ROLES = frozenset({Role.CHAIR, Role.HEAD, Role.DELEGATE, Role.INTERPRETER})
# The two feeds of a subscriber connection: the channel it listens to (a
# listener's choice, an interpreter's relay source) and, for a passive
# interpreter, the partner on air in its own booth.
LISTEN, PARTNER = "listen", "partner"
# What the server's answer asks of an interpreter's Opus encoder: full band, mono,
# a generous bitrate (ISO 24019 wants 125 Hz-15 kHz).
INTERPRETER_OPUS = {
    "maxplaybackrate": "48000",
    "stereo": "0",
    "sprop-stereo": "0",
    "maxaveragebitrate": "64000",
    "useinbandfec": "1",
}


class Connection(Protocol):
    """What the conference needs of a member's signaling connection."""

    async def send(self, message: ServerMessage) -> None: ...

    async def close(self, code: CloseCode, reason: str) -> None: ...

    async def probe(self, within: float) -> None:
        """Ping the client; close as a heartbeat timeout unless it answers within ``within`` s."""
        ...


class LogMovedOn(StoreUnavailable):
    """The log was not where this node left it; the node has caught up (or restored it)."""


class JoinRefused(Exception):
    """A join or media request refused; ``code`` is a protocol error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class DelegationPlan:
    id: str
    name: str
    code: str  # ISO 3166-1 alpha-2
    observer: bool = False  # an organisation: speaks on items open to observers, never votes

    def command(self) -> AddDelegation:
        return AddDelegation(self.id, self.name, self.code, observer=self.observer)


@dataclass(frozen=True)
class ConferencePlan:
    """What is needed to open a conference: the commands that create it."""

    id: str
    title: str
    delegations: Sequence[DelegationPlan] = ()
    settings: Settings = field(default_factory=Settings)
    # Further set-up, issued by the service (e.g. interpretation booths).
    setup: Sequence[Command] = ()

    def commands(self) -> list[Command]:
        return [
            CreateConference(self.title, self.settings),
            *(d.command() for d in self.delegations),
            *self.setup,
        ]


@dataclass
class Member:
    """A connected participant; ``transport`` is None while waiting in the lobby."""

    info: ParticipantInfo
    connection: Connection
    transport: PeerTransport | None = None
    # The kinds of media it is sent (hello.subscribe); none: publish-only.
    receives: frozenset[str] = ALL_KINDS


# Events after which the participant's connection is closed, with why.
_SENT_AWAY = {
    ParticipantRejected: "refused admission by the chair",
    ParticipantRemoved: "removed from the conference",
}


@dataclass(frozen=True)
class ConferenceOptions:
    """What every conference of a process shares: its clock, totals and settings."""

    clock: Callable[[], float] = time.time
    totals: Totals = field(default_factory=Totals)
    recordings: Path = DEFAULT_RECORDINGS
    resume_grace: float = RESUME_GRACE
    media_timeout: float = MEDIA_TIMEOUT
    # Videos forwarded at most (the floor, the chair, the most recent speakers).
    last_n: int = DEFAULT_LAST_N


class LiveConference:
    def __init__(
        self,
        state: Conference,
        seq: int,
        store: EventStore,
        router: Router,
        options: ConferenceOptions | None = None,
    ) -> None:
        options = options or ConferenceOptions()
        self.state = state
        self.seq = seq
        # Every event of the log, in order (len == seq): what rewrites the log
        # if the store loses it.
        self.events: list[Event] = []
        # True while the store holds less than this node applied (until rewritten).
        self.restoring = False
        self._store_down_until = 0.0  # time.monotonic()
        self.store = store
        self.router = router
        self.members: dict[str, Member] = {}
        self.totals = options.totals
        self.recorder = FloorRecorder(options.recordings / state.conference_id)
        self.channel_recorder = ChannelRecorder(self.recorder.catalogue)
        self.resume_grace = options.resume_grace
        self.media_timeout = options.media_timeout
        # When each member's signaling was last probed for silent media (monotonic).
        self._probed: dict[str, float] = {}
        # Seats whose connection dropped: they keep their place until the timer.
        self.away: dict[str, asyncio.TimerHandle] = {}
        # Dropped members whose peer connections go on through the grace
        # period, waiting for their signaling to come back.
        self.detached: dict[str, Member] = {}
        # Each seat's floor.request/floor.cancel budget (kept across its reconnections).
        self.floor_toggles: dict[str, RateLimiter] = {}
        # Each seat's message.send budget (kept across its reconnections too).
        self.message_budgets: dict[str, RateLimiter] = {}
        # Dropped seats still said to be reconnecting, until judged disconnected.
        self._lost: dict[str, asyncio.TimerHandle] = {}
        # System commands that could not be stored (store down), retried in order.
        self._unstored: list[Command] = []
        # Time events due but not stored yet (store down): enforced in the
        # media already, recorded (dated at their deadline) once stored.
        self._ahead: list[Event] = []
        # Each listener's chosen channel (None: the floor only); interpreters hear their source.
        self.listening: dict[str, str | None] = {}
        # The participant whose video each subscriber pinned (video.pin), for its connection.
        self.pinned: dict[str, str] = {}
        # Why a screen share is being withdrawn (by producer id), for share.stopped.
        self._share_ends: dict[str, tuple[ShareEnd, str, tuple[str, MessageId] | None]] = {}
        self.alerts = AlertRules()
        # Each subscriber's videos within its downlink, and last-N.
        self.bandwidth = BandwidthAllocation(options.last_n)
        self.layer_requests = LayerRequests()  # dynacast: the layers nobody watches stop
        # When each participant last held the floor (monotonic): the recent speakers.
        self._spoke: dict[str, float] = {}
        self._sampler = StreamSampler(self.totals)
        self._channel_sampler = ChannelSampler()
        self._monitor: asyncio.Task[None] | None = None
        self._clock = options.clock
        self._lock = asyncio.Lock()
        self._deadline: asyncio.TimerHandle | None = None
        self._background: set[asyncio.Task[None]] = set()
        # Once closed, no timer or late task may act on the conference: another
        # node (or this one, restarted) may own its log by then.
        self._closed = False
        router.on_producer_added = self._producer_added
        router.on_producer_removed = self._producer_removed
        router.direct = self._direct

    @classmethod
    async def open(
        cls,
        plan: ConferencePlan,
        store: EventStore,
        router: Router,
        options: ConferenceOptions | None = None,
    ) -> LiveConference:
        """Create the conference in the store (if new) and load it."""
        options = options or ConferenceOptions()
        if await store.last_seq(plan.id) == 0:
            state, now = Conference(plan.id), options.clock()
            events = [e for c in plan.commands() for e in state.execute(c, SYSTEM, now)]
            await store.append(plan.id, events, expected_seq=0)
        return await cls.load(plan.id, store, router, options)

    @classmethod
    async def load(
        cls,
        conference_id: str,
        store: EventStore,
        router: Router,
        options: ConferenceOptions | None = None,
    ) -> LiveConference:
        """Rebuild the conference from its log and start its clocks.

        Everyone the log has in the room or the lobby is away until they
        reconnect (a restarted node has no connections): each keeps its seat
        for the resume grace period.
        """
        stored = await store.read(conference_id)
        state = Conference.replay(conference_id, (s.event for s in stored))
        conference = cls(state, stored[-1].seq if stored else 0, store, router, options)
        conference.events = [s.event for s in stored]
        for pid in [*state.participants, *(p.participant_id for p in state.lobby)]:
            conference._hold_seat(pid)
        async with conference._lock:
            for pid in state.participants:
                if state.presence(pid) is Presence.DISCONNECTED:
                    continue
                # Nobody is connected to a node that just started: each seat is
                # reconnecting, and disconnected if it does not come back soon.
                await conference._seat_dropped(pid, LeaveReason.DISCONNECTED)
        conference._arm_deadline()
        conference._monitor = asyncio.ensure_future(conference._monitor_loop())
        return conference

    @property
    def id(self) -> str:
        return self.state.conference_id

    def info(self) -> ConferenceInfo:
        return ConferenceInfo(self.id, self.state.title or self.id)

    # --- joining and leaving ------------------------------------------------

    def participant_from(self, grant: JoinGrant) -> ParticipantInfo:
        """Check a verified grant against this conference; raise JoinRefused."""
        try:
            role = Role(grant.role)
        except ValueError:
            raise JoinRefused("invalid_token", f"unknown role {grant.role!r}") from None
        delegation = None
        if grant.delegation is not None:
            found = self.state.delegations.get(grant.delegation)
            if found is None:
                raise JoinRefused(
                    "invalid_token", f"no delegation {grant.delegation!r} in {self.id!r}"
                )
            delegation = DelegationInfo(found.delegation_id, found.name, found.country_code)
        elif RoomRole(role).needs_delegation:
            raise JoinRefused("invalid_token", f"a {role.value} must belong to a delegation")
        if self.state.closed:
            raise JoinRefused("invalid_state", "the conference is closed")
        return ParticipantInfo(grant.participant, grant.name, role, delegation)

    def _join_events(self, participant: ParticipantInfo) -> list[Event]:
        """What entering means now (room or lobby); JoinRefused if it may not."""
        pid = participant.id
        if pid in self.state.participants or pid in self.state.lobby:
            return []  # a seat that is already here (its connection is being replaced)
        command = JoinConference(
            pid,
            participant.name,
            RoomRole(participant.role.value),
            participant.delegation.id if participant.delegation else None,
        )
        try:
            return self.state.decide(command, pid, self._clock())
        except RoomError as exc:
            raise JoinRefused(exc.code.value, exc.message) from None

    def check_join(self, participant: ParticipantInfo) -> None:
        """Raise JoinRefused if the participant may not enter (e.g. a locked room)."""
        self._join_events(participant)

    async def join(
        self,
        participant: ParticipantInfo,
        connection: Connection,
        hello_id: MessageId | None,
        resume_token: str | None = None,
        keep_media: bool = False,
        *,
        ice_servers: tuple[IceServer, ...] = (),
        receives: frozenset[str] = ALL_KINDS,
    ) -> Member:
        """Enter the room or the lobby; a seat already connected moves to this connection.

        With ``keep_media``, a seat whose peer connections were kept since its
        connection dropped goes on with them (signaling re-attached only), if
        it still receives the same kinds of media; ``receives`` is what it is sent.
        """
        pid = participant.id
        async with self._lock:
            events: list[Event] = []
            detached = self.detached.pop(pid, None)
            previous = self.members.pop(pid, None)
            if previous is not None:
                await self._drop_media(previous)
                await previous.connection.close(
                    CloseCode.REPLACED, "joined from another connection"
                )
            else:
                events = self._join_events(participant)
                try:
                    await self._persist(events)
                except StoreUnavailable:
                    raise JoinRefused(
                        "unavailable", "the conference cannot record arrivals now; retry"
                    ) from None
            member = Member(participant, connection, receives=receives)
            if (
                detached is not None
                and keep_media
                and previous is None
                and detached.receives == receives
            ):
                member.transport = detached.transport
            elif detached is not None:
                await self._drop_media(detached)
            self.members[pid] = member
            held = self.away.pop(pid, None)
            if held is not None:
                held.cancel()  # back within the grace period: the seat is as it was
            self._cancel_lost(pid)
            self._probed.pop(pid, None)
            await self._announce_alerts(self.alerts.publisher_back(pid))
            present = [*self._in_room(), *self.detached.values()]
            others = tuple(m.info for m in present if m is not member)
            await connection.send(
                Welcome(
                    PROTOCOL_VERSION,
                    self.info(),
                    participant,
                    others,
                    tuple(
                        _producer_info(p) for p in self.router.producers.values() if self._direct(p)
                    ),
                    ref=hello_id,
                    resume_token=resume_token,
                    media_kept=member.transport is not None,
                    ice_servers=ice_servers,
                )
            )
            if member.transport is not None:
                await member.transport.resend_pending_offer()
            if pid in self.state.participants:
                self._start_media(member)
                if previous is None and detached is None:
                    await self._broadcast(ParticipantJoined(participant), exclude=pid)
            await connection.send(self._update([]))
            await self._send_history(member)
            await self._publish(events, exclude=pid)
            if pid in self.state.participants and self.state.presence(pid) != Presence.CONNECTED:
                await self._system(SetPresence(pid, Presence.CONNECTED))  # back: tell the room
            return member

    async def leave(self, member: Member, reason: LeaveReason) -> None:
        """The member's connection ended (``reason`` says how).

        Leaving on purpose leaves the conference at once. A dropped connection
        (network, heartbeat, server restart) keeps the seat — place on the
        speakers list, the floor — for the resume grace period.
        """
        async with self._lock:
            pid = member.info.id
            if self.members.get(pid) is not member:
                return  # replaced by a newer connection, or already sent away
            del self.members[pid]
            published = bool(self.router.producers_of(pid))
            dropped = reason in (LeaveReason.DISCONNECTED, LeaveReason.TIMEOUT)
            # A dropped seat's media goes on through the grace period.
            keep = dropped and member.transport is not None and pid in self.state.participants
            if keep:
                self.detached[pid] = member
            else:
                await self._drop_media(member)
            if published and dropped:
                await self._announce_alerts(self.alerts.publisher_gone(pid, self._clock()))
            if pid in self.state.participants and not keep:
                await self._broadcast(ParticipantLeft(pid, reason))
            if pid in self.state.participants or pid in self.state.lobby:
                if dropped:
                    self._hold_seat(pid)
                    if self.state.interpretation.is_active(pid):
                        # Off air at once: the partner is told and can take over.
                        drop = SystemReason.INTERPRETER_DROPPED
                        await self._system(GoOffAir(pid, reason=drop))
                    await self._seat_dropped(pid, reason)
                else:
                    await self._system(LeaveConference(pid, reason=reason.value))

    def _hold_seat(self, pid: str) -> None:
        loop = asyncio.get_running_loop()
        self.away[pid] = loop.call_later(
            self.resume_grace, lambda: self._spawn(self._seat_expired(pid))
        )

    async def _seat_dropped(self, pid: str, reason: LeaveReason) -> None:
        """Tell the room once the seat is really gone; a seat not back soon is disconnected.

        A seat whose kept media still flows is only a signaling blip: it is
        still heard and seen, so the room is told nothing unless the media
        stops too.
        """
        if pid not in self.state.participants:
            return
        if reason is LeaveReason.TIMEOUT:  # silent for a long while already
            await self._system(SetPresence(pid, Presence.DISCONNECTED))
            return
        if self._media_arriving(pid):
            self._watch_seat(pid, MEDIA_QUIET, self._seat_quiet)
            return
        await self._seat_reconnecting(pid)

    async def _seat_reconnecting(self, pid: str) -> None:
        if self.state.presence(pid) is Presence.CONNECTED:
            await self._system(SetPresence(pid, Presence.RECONNECTING))
        self._watch_seat(pid, LOST_AFTER, self._seat_lost)

    def _watch_seat(
        self, pid: str, delay: float, check: Callable[[str], Coroutine[Any, Any, None]]
    ) -> None:
        self._cancel_lost(pid)
        self._lost[pid] = asyncio.get_running_loop().call_later(
            delay, lambda: self._spawn(check(pid))
        )

    async def _seat_quiet(self, pid: str) -> None:
        """A dropped seat whose media flowed: look again until the media stops."""
        async with self._lock:
            if self._lost.pop(pid, None) is None or pid in self.members:
                return
            if self._media_arriving(pid):
                self._watch_seat(pid, MEDIA_QUIET, self._seat_quiet)
            else:
                await self._seat_reconnecting(pid)

    async def _seat_lost(self, pid: str) -> None:
        async with self._lock:
            if self._lost.pop(pid, None) is None or pid in self.members:
                return
            if self._media_arriving(pid):
                # The kept media came back: the seat is heard, not lost.
                self._watch_seat(pid, MEDIA_QUIET, self._seat_quiet)
                return
            if self.state.presence(pid) is Presence.RECONNECTING:
                await self._system(SetPresence(pid, Presence.DISCONNECTED))

    def _media_arriving(self, pid: str) -> bool:
        """Whether a dropped seat's kept media delivered a packet lately."""
        if pid not in self.detached:
            return False
        now = time.monotonic()
        return any(
            p.counters.last_packet_at is not None and now - p.counters.last_packet_at < MEDIA_QUIET
            for p in self.router.producers_of(pid)
        )

    def _cancel_lost(self, pid: str) -> None:
        timer = self._lost.pop(pid, None)
        if timer is not None:
            timer.cancel()

    async def _seat_expired(self, pid: str) -> None:
        async with self._lock:
            if self.away.pop(pid, None) is None or pid in self.members:
                return
            await self._end_detached(pid, LeaveReason.DISCONNECTED)
            if pid in self.state.participants or pid in self.state.lobby:
                await self._system(LeaveConference(pid, reason=LeaveReason.DISCONNECTED.value))

    async def _end_detached(self, pid: str, reason: LeaveReason) -> None:
        """Close the media kept for a dropped seat, and tell the others it is gone."""
        kept = self.detached.pop(pid, None)
        if kept is not None:
            await self._drop_media(kept)
            await self._broadcast(ParticipantLeft(pid, reason))

    async def _system(self, command: Command) -> None:
        """A consequence the server itself must record; kept for later if the store is down."""
        try:
            await self._commit(command, SYSTEM)
        except StoreUnavailable:
            logger.warning("event store unavailable: %s kept for later", command.kind)
            self._unstored.append(command)
        except RoomError as exc:  # the state moved on (e.g. removed meanwhile)
            logger.debug("%s not needed: %s", command.kind, exc.message)

    async def _store_backlog(self) -> None:
        """Retry what could not be stored while the store was down, in order."""
        async with self._lock:
            while self._unstored:
                command = self._unstored[0]
                try:
                    await self._commit(command, SYSTEM)
                except StoreUnavailable:
                    return
                except RoomError as exc:
                    logger.debug("%s not needed: %s", command.kind, exc.message)
                self._unstored.pop(0)

    # --- commands -------------------------------------------------------------

    async def execute(self, command: Command, actor: str, ref: MessageId | None = None) -> None:
        """Apply a command from a participant (or SYSTEM); RoomError if refused.

        The update sent to the issuer carries ``ref``, even when nothing changed.
        """
        self._check_store()
        async with self._lock:
            self._check_store()
            events = await self._commit(command, actor, ref)
            issuer = self.members.get(actor)
            if not events and issuer is not None:
                await issuer.connection.send(self._update([], ref))

    @property
    def store_failing(self) -> bool:
        """The store failed just now: commands are refused until it answers again."""
        return time.monotonic() < self._store_down_until

    def _check_store(self) -> None:
        """Refuse at once while the store has just failed (it is retried shortly)."""
        if self.store_failing:
            raise StoreUnavailable(f"{self.id}: the event store failed just now")

    async def _commit(
        self, command: Command, actor: str, ref: MessageId | None = None
    ) -> list[Event]:
        events = self.state.decide(command, actor, self._clock())
        try:
            await self._persist(events)
        except LogMovedOn:
            # Caught up with the log: decide again on the state as it now is.
            events = self.state.decide(command, actor, self._clock())
            await self._persist(events)
        await self._publish(events, ref=(actor, ref))
        return events

    async def _persist(self, events: list[Event]) -> None:
        """Store, then apply: nothing is told to anyone before it is stored."""
        if not events:
            return
        try:
            seqs = await self.store.append(self.id, events, expected_seq=self.seq)
        except StoreConflict as conflict:
            await self._reconcile(conflict.actual_seq)
            raise LogMovedOn(f"{self.id}: the log was at {conflict.actual_seq}") from None
        except StoreUnavailable:
            self._store_down_until = time.monotonic() + STORE_BACKOFF
            raise
        self._store_down_until = 0.0
        self._ahead = []  # any decision includes the time events due by now
        self.state.apply_all(events)
        self.events.extend(events)
        self.seq = seqs[-1]
        try:
            await self.store.save_snapshot(self.id, self.seq, self.state.snapshot())
        except StoreUnavailable:
            logger.warning("snapshot of %s not saved (store unavailable)", self.id)

    async def _reconcile(self, last: int) -> None:
        """The log's last seq is not this node's: catch up with it, or rewrite it.

        More events than this node applied (another writer): apply them and
        carry them out like our own: media, everyone told, deadlines re-armed.
        Fewer (Redis restarted without its data): the log is wrong, not the
        meeting; write back what it lost from memory.
        """
        self._ahead = []  # decided on a state that was not the log's
        if last > self.seq:
            stored = await self.store.read(self.id, after=self.seq)
            events = [s.event for s in stored]
            logger.warning(
                "log of %s moved on from %d to %d: catching up",
                self.id,
                self.seq,
                stored[-1].seq if stored else self.seq,
                extra={"conference": self.id},
            )
            self.state.apply_all(events)
            self.events.extend(events)
            self.seq = stored[-1].seq if stored else self.seq
            await self._publish(events)
        elif last < self.seq:
            await self._restore_log(last)

    async def _restore_log(self, last: int) -> None:
        if not self.restoring:
            self.restoring = True
            logger.error(
                "log of %s lost events %d-%d: rewriting it from memory",
                self.id,
                last + 1,
                self.seq,
                extra={"conference": self.id},
            )
            lost = self.alerts.log_lost(self.id, last, self.seq, self._clock())
            await self._announce_alerts(lost)
        try:
            await self.store.append(self.id, self.events[last:], expected_seq=last)
        except StoreConflict as conflict:  # written meanwhile: look again next second
            raise StoreUnavailable(
                f"{self.id}: log at {conflict.actual_seq} while restoring"
            ) from None
        self.restoring = False
        await self._announce_alerts(self.alerts.log_restored(self.id))
        logger.warning("log of %s restored up to %d", self.id, self.seq)
        with contextlib.suppress(StoreUnavailable):
            await self.store.save_snapshot(self.id, self.seq, self.state.snapshot())

    async def check_log(self) -> None:
        """Compare the log's end with this node's seq; reconcile if they differ."""
        if self.store_failing:
            return
        async with self._lock:
            try:
                last = await self.store.last_seq(self.id)
            except StoreUnavailable:
                self._store_down_until = time.monotonic() + STORE_BACKOFF
                raise
            self._store_down_until = 0.0
            if last != self.seq:
                await self._reconcile(last)

    async def _publish(
        self,
        events: list[Event],
        exclude: str | None = None,
        ref: tuple[str, MessageId | None] | None = None,
    ) -> None:
        """Carry out what the applied events mean for media and connections, then tell."""
        if not events:
            return
        for event in events:
            if isinstance(event, FloorEvent):
                self.totals.floor_events[event.type] += 1
                logger.info(
                    "%s: %s (request %s) by %s%s",
                    event.type,
                    event.delegation_id,
                    event.request_id,
                    event.actor,
                    f", {event.reason}" if event.reason else "",
                    extra={"conference": self.id, "reason": event.reason},
                )
            await self._consequence(event)
        await self._announce_audible(self._apply_floor_to_media())
        self._apply_interpretation_to_media()
        self._apply_share_rule(events[-1].actor)
        await self._allocate_bandwidth()
        update = self._update(events)
        issuer = ref[0] if ref is not None and ref[1] is not None else None
        sends = []
        for member in self.members.values():
            pid = member.info.id
            if pid == exclude:
                continue
            told = self._readable(update, events, pid)
            if pid == issuer:
                assert ref is not None
                told = dataclasses.replace(told or update, ref=ref[1])
            if told is not None:
                sends.append(member.connection.send(told))
        await asyncio.gather(*sends)
        self._arm_deadline()

    def _readable(self, update: RoomUpdate, events: list[Event], pid: str) -> RoomUpdate | None:
        """`update` as `pid` may see it: without the messages of threads it may not read.

        None when nothing in it is for `pid` (only others' messages): it is not
        told that a private message was sent at all.
        """
        if not any(isinstance(e, MessageSent) for e in events):
            return update
        kept = [
            e
            for e in events
            if not isinstance(e, MessageSent) or private.may_read(self.state, pid, e.thread)
        ]
        if not kept:
            return None
        if len(kept) == len(events):
            return update
        return dataclasses.replace(update, events=tuple(e.to_dict() for e in kept))

    async def _send_history(self, member: Member) -> None:
        """The messages of the threads a seat in the room may read (none in the lobby)."""
        pid = member.info.id
        if pid not in self.state.participants:
            return
        readable = private.visible(self.state, pid, self.state.messages.all())
        if readable:  # nothing to read yet: nothing to send (messages are never taken back)
            history = tuple(m.to_dict() for m in readable[-MAX_HISTORY:])
            await member.connection.send(MessageHistory(history))

    async def _consequence(self, event: Event) -> None:
        match event:
            case ParticipantAdmitted(participant_id=pid) if pid in self.members:
                member = self.members[pid]
                await self._send_history(member)
                self._start_media(member)
                await self._broadcast(ParticipantJoined(member.info), exclude=pid)
            case ParticipantRejected(participant_id=pid) | ParticipantRemoved(participant_id=pid):
                await self._end_detached(pid, LeaveReason.REMOVED)
                gone = self.members.pop(pid, None)
                if gone is not None:
                    await gone.connection.send(self._update([event]))
                    await gone.connection.close(CloseCode.REMOVED, _SENT_AWAY[type(event)])
                    if gone.transport is not None:
                        await self._drop_media(gone)
                        await self._broadcast(ParticipantLeft(pid, LeaveReason.REMOVED))
            case SeatLeft(participant_id=pid) if pid in self.members:
                # The seat ended while connected: nothing more reaches it (no offers).
                gone = self.members.pop(pid)
                await self._drop_media(gone)
                await gone.connection.send(self._update([event]))
                await gone.connection.close(CloseCode.NORMAL, "left the conference")
                await self._broadcast(ParticipantLeft(pid, LeaveReason.LEFT))
            case RecordingStarted():
                for request in self.state.floor.holders():
                    self._record(request.request_id)
            case FloorGranted(request_id=rid) if self.state.recording:
                self._record(rid)
            case FloorReleased(request_id=rid) | FloorRevoked(request_id=rid):
                self.recorder.stop(rid)
            case RecordingStopped():
                self.recorder.stop_all()
                self.channel_recorder.stop_all()
            case ConferenceClosed():
                self.recorder.stop_all()
                self.channel_recorder.stop_all()
                for pid in list(self.detached):
                    await self._end_detached(pid, LeaveReason.LEFT)
                for member in list(self.members.values()):
                    await self._drop_media(member)
                    await member.connection.send(self._update([event]))
                    await member.connection.close(CloseCode.NORMAL, "the conference is closed")
                self.members.clear()

    def _record(self, request_id: str) -> None:
        """Start recording an intervention: its speaker, or its delegation's members."""
        request = self.state.floor.requests[request_id]
        delegation = self.state.delegations[request.delegation_id]
        if request.speaker_id is not None:
            speakers = frozenset({request.speaker_id})
        else:
            speakers = frozenset(
                p.participant_id for p in self.state.members(delegation.delegation_id)
            )
        names = [self.state.participants[p].name for p in speakers if p in self.state.participants]
        producers = [p for s in speakers for p in self.router.producers_of(s) if p.source != SCREEN]
        self.recorder.start(
            request_id, delegation.name, speakers, ", ".join(names) or delegation.name, producers
        )

    def _update(self, events: Sequence[Event], ref: MessageId | None = None) -> RoomUpdate:
        return RoomUpdate(
            self.seq,
            tuple(e.to_dict() for e in events),
            self.state.snapshot(),
            self._clock(),
            ref=ref,
        )

    # --- monitoring ----------------------------------------------------------------

    async def _monitor_loop(self) -> None:
        """Once a second: sample every stream, judge alerts, tell the technicians."""
        while True:
            await asyncio.sleep(MONITOR_INTERVAL)
            try:
                await self._monitor_once()
            except Exception:  # the feed must outlive one bad second
                logger.exception("monitoring of %s failed", self.id)

    async def _monitor_once(self) -> None:
        with contextlib.suppress(StoreUnavailable):
            await self.check_log()
        if self._unstored:
            await self._store_backlog()
        await self._watch_media()
        await self._allocate_bandwidth(measure=True)
        samples = self._sampler.sample(self.router, bandwidth=self.bandwidth)
        await self._announce_alerts(self.alerts.evaluate(samples, self._clock()))
        await self._announce_alerts(self.alerts.bandwidth(self.bandwidth.limited(), self._clock()))
        await self._announce_alerts(self._channel_alerts(samples))
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

    async def _announce_alerts(self, changes: list[tuple[Alert, Transition]]) -> None:
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
        for member in self._in_room():
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

    async def _watch_media(self) -> None:
        """Media reconnecting (alerts), and clients whose media fell silent (probed)."""
        now = time.monotonic()
        watched = {m.info.id for m in self.members.values() if m.transport is not None}
        for key in [k for k in self.alerts.active if k.startswith("media:")]:
            gone = key.removeprefix("media:")
            if gone not in watched:  # dropped or left meanwhile: nothing to wait for
                await self._announce_alerts(self.alerts.media_reconnected(gone))
        for member in list(self.members.values()):
            transport, pid = member.transport, member.info.id
            if transport is None:
                continue
            if transport.reconnecting:
                sides = " and ".join(sorted(transport.reconnecting))
                changes = self.alerts.media_reconnecting(pid, sides, self._clock())
            else:
                changes = self.alerts.media_reconnected(pid)
            await self._announce_alerts(changes)
            if self.media_timeout <= 0 or not _expects_media(transport):
                continue
            heard = _last_heard(transport)
            probed = self._probed.get(pid, -math.inf)
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
                self._probed[pid] = now
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

    # --- time -------------------------------------------------------------------

    def _arm_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        deadline = self.state.next_deadline()
        if deadline is not None:
            delay = max(0.0, deadline - self._clock())
            loop = asyncio.get_running_loop()
            self._deadline = loop.call_later(delay, self._spawn_tick)

    def _spawn_tick(self) -> None:
        self._deadline = None
        self._spawn(self._tick())

    async def _tick(self) -> None:
        async with self._lock:
            events = self.state.tick(self._clock())
            # The floor ends on time in the media, even before (or without)
            # the store's answer: what listeners hear agrees with the
            # minutes, which date a revoke at its deadline.
            self._ahead = events
            await self._announce_audible(self._apply_floor_to_media())
            try:
                await self._persist(events)
            except StoreUnavailable:
                # Nothing else is applied unless stored: try again shortly.
                asyncio.get_running_loop().call_later(1.0, self._spawn_tick)
                return
            await self._publish(events)
            self._arm_deadline()  # also when nothing was due (a timer fired early)

    # --- media --------------------------------------------------------------------

    def _in_room(self) -> list[Member]:
        return [m for m in self.members.values() if m.transport is not None]

    def _start_media(self, member: Member) -> None:
        if member.transport is not None:
            return
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
                        sdp, revision, tuple(_stream_info(s) for s in streams), restart=restart
                    )
                )

        member.transport = self.router.create_transport(member.info.id, offer, member.receives)
        if member.info.role is Role.INTERPRETER:
            member.transport.opus_parameters = dict(INTERPRETER_OPUS)
        self._apply_interpretation_to_media()
        self._apply_layers()

    async def _drop_media(self, member: Member) -> None:
        """Tear down a member's media; a failure is logged, never in the way of leaving."""
        member.transport = None
        self.pinned.pop(member.info.id, None)
        try:
            await self.router.close_transport(member.info.id)
        except Exception:
            logger.exception("closing the media of %s failed", member.info.id)

    def _apply_floor_to_media(self) -> set[str]:
        """The floor is enforced here: audio is forwarded only from who may be heard.

        Returns the ids of the producers opened or closed.
        """
        audible = self._audible()
        changed = {p.id for p in list(self.router.producers.values()) if _gate(p, audible)}
        self._apply_layers()
        return changed

    def _apply_layers(self) -> None:
        """Each subscriber's videos in the layer the floor gives them
        (server/video_layers.py), within its downlink and last-N
        (server/bandwidth.py); those whose held videos changed are told."""
        changed = self._allocate()
        if changed:
            self._spawn(self._announce_held(changed))

    async def _announce_audible(self, changed: set[str]) -> None:
        """Tell each subscriber whose streams were opened or closed (subscribe.streams)."""
        if not changed:
            return
        told = []
        for member in self._in_room():
            transport = member.transport
            assert transport is not None
            if transport.revision and not changed.isdisjoint(transport.consumers):
                streams = tuple(_stream_info(s) for s in transport.streams())
                told.append(member.connection.send(SubscribeStreams(transport.revision, streams)))
        await asyncio.gather(*told)

    async def _allocate_bandwidth(self, measure: bool = False) -> None:
        """As :meth:`_apply_layers` (``measure``: with this second's figures first)."""
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
                streams = tuple(_stream_info(s) for s in transport.streams())
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

    def _audible(self) -> frozenset[str]:
        """Who may be heard now: the floor's rule, and interpreters (unless muted).

        An interpreter's audio reaches no one directly (see ``_direct``), only
        as its booth's channel while it is on air: the floor never gates it.
        """
        state = self.state
        if self._ahead:  # time events due but not stored yet count already
            state = state.copy()
            state.apply_all(self._ahead)
        interpreters = {
            p.participant_id
            for p in state.participants.values()
            if p.role is RoomRole.INTERPRETER and p.participant_id not in state.muted
        }
        return state.audible_participants() | interpreters

    def _direct_producers(self) -> list[Producer]:
        return [p for p in self.router.producers.values() if self._direct(p)]

    def _direct(self, producer: Producer) -> bool:
        """Whether every peer receives the producer: not an interpreter's microphone."""
        owner = self.state.participants.get(producer.owner)
        return producer.kind != "audio" or owner is None or owner.role is not RoomRole.INTERPRETER

    def _apply_interpretation_to_media(self) -> None:
        """Point every subscriber's feeds at the interpreters on air it should hear.

        A listener hears the floor plus its chosen channel; an interpreter its
        relay source (if not the floor) and, while passive, the partner on
        air: never its own channel. A switch is a source change inside one
        outgoing stream, so it takes effect at the next packet.
        """
        interpretation = self.state.interpretation
        on_air = {
            language: next((p for p in self.router.producers_of(pid) if p.kind == "audio"), None)
            for language, pid in interpretation.active_interpreters().items()
        }
        any_channel = bool(interpretation.open_channels())
        for member in self._in_room():
            transport = member.transport
            assert transport is not None
            if "audio" not in transport.receives:
                continue  # the feeds are audio
            pid = member.info.id
            if pid in interpretation.seats:
                listen, partner = interpretation.hears(pid)
            else:
                listen, partner = self.listening.get(pid), None
                if listen is not None and not interpretation.is_open(listen):
                    listen = None
            for name, language in ((LISTEN, listen), (PARTNER, partner)):
                if language is None and name not in transport.feeds:
                    if name == LISTEN and any_channel:
                        transport.open_feed(name)  # ready before the first switch
                    continue
                transport.feed(name, on_air.get(language) if language is not None else None)
        self._record_channels(on_air)

    def _record_channels(self, on_air: dict[str, Producer | None]) -> None:
        """While the chair records, each open channel is recorded as its listeners hear it."""
        state = self.state
        if not state.recording or state.closed:
            self.channel_recorder.stop_all()
            return
        active = state.interpretation.active_interpreters()
        names = {
            language: state.participants[pid].name if pid in state.participants else None
            for language, pid in active.items()
        }
        self.channel_recorder.follow(
            {
                language: (on_air.get(language), names.get(language))
                for language in state.interpretation.open_channels()
            }
        )

    async def listen(self, member: Member, channel: str | None, ref: MessageId | None) -> None:
        """A listener's channel choice (None: the floor only); JoinRefused if refused."""
        async with self._lock:
            pid = member.info.id
            if pid in self.state.interpretation.seats:
                raise JoinRefused(
                    "forbidden", "an interpreter hears its source: use interpretation.set_source"
                )
            if channel is not None:
                if channel == FLOOR:
                    channel = None
                elif channel not in ISO_639_1:
                    raise JoinRefused(
                        "invalid_argument", f"{channel!r} is not an ISO 639-1 language code"
                    )
                elif not self.state.interpretation.is_open(channel):
                    raise JoinRefused("invalid_state", f"the {channel} channel is not open")
            if member.transport is None:
                raise JoinRefused("in_lobby", "waiting in the lobby for the chair to admit you")
            if "audio" not in member.receives:
                raise JoinRefused("invalid_state", "this connection receives no audio (hello)")
            self.listening[pid] = channel
            self._apply_interpretation_to_media()
        await member.connection.send(InterpretationListening(channel, ref=ref))

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
            self._apply_layers()
        await member.connection.send(VideoPinned(participant_id, ref=ref))

    def publisher(self, member: Member) -> PeerTransport:
        if member.info.role not in PUBLISHING_ROLES:
            raise JoinRefused("forbidden", f"a {member.info.role.value} does not publish media")
        if member.transport is None:
            raise JoinRefused("in_lobby", "waiting in the lobby for the chair to admit you")
        return member.transport

    def subscriber(self, member: Member) -> PeerTransport:
        if member.transport is None:
            raise JoinRefused("in_lobby", "waiting in the lobby for the chair to admit you")
        return member.transport

    def _producer_added(self, producer: Producer) -> None:
        # Synchronous, before the first packet: a new microphone starts closed
        # unless its owner may be heard.
        _gate(producer, self._audible())
        if producer.source != SCREEN:  # a recording holds the speaker's camera and voice
            self.recorder.attach(producer)
        if self._direct(producer):
            self._spawn(self._broadcast(ProducerAdded(_producer_info(producer))))
        else:
            self._apply_interpretation_to_media()
        self._apply_layers()

    def _producer_removed(self, producer: Producer) -> None:
        if self._direct(producer):
            self._spawn(self._broadcast(ProducerRemoved(producer.id)))
        else:
            self._apply_interpretation_to_media()
        if producer.source == SCREEN:
            reason, actor, ref = self._share_ends.pop(
                producer.id, (ShareEnd.LEFT, producer.owner, None)
            )
            self._spawn(self._share_stopped(producer, reason, actor, ref))

    # --- screen sharing -------------------------------------------------------------

    async def publish(
        self, member: Member, sdp: str, share: str | None, max_tracks: int, restart: bool = False
    ) -> str:
        """Answer a publisher offer; ``share`` names the mid of a screen share.

        A share is refused (nothing changes) unless the rule of rooms.share
        allows it and nobody else is sharing. A share named by an earlier
        offer and not by this one has been stopped by its sharer (so is one
        that a new connection, ``restart``, does not carry over).
        """
        transport = self.publisher(member)
        pid = member.info.id
        if share is not None:
            self._check_share(pid)
        answer = await transport.answer_publish(sdp, max_tracks, share, restart=restart)
        async with self._lock:
            named = transport.producer_of_mid(share) if share is not None else None
            for producer in list(transport.producers.values()):
                if producer.source == SCREEN and producer is not named:
                    self._withdraw_share(producer, ShareEnd.SHARER, pid)
            if named is not None and named.source == SCREEN:
                self.router.restore(named)  # a share again on the same m-line
            # The floor may have moved (or someone else started sharing) meanwhile.
            self._apply_share_rule(SYSTEM)
        return answer

    def _check_share(self, pid: str) -> None:
        refusal = share_refusal(self.state, pid)
        if refusal is not None:
            raise JoinRefused("forbidden", refusal)
        for producer in self._shares():
            if producer.owner != pid:
                seat = self.state.participants.get(producer.owner)
                name = seat.name if seat is not None else producer.owner
                raise JoinRefused("invalid_state", f"{name} is sharing a screen already")

    def _shares(self) -> list[Producer]:
        """The screen shares being forwarded, oldest first."""
        return [p for p in self.router.producers.values() if p.source == SCREEN]

    def _apply_share_rule(self, actor: str) -> None:
        """Withdraw every share whose sharer may no longer share; one share at a time."""
        kept: Producer | None = None
        for producer in self._shares():
            if share_refusal(self.state, producer.owner) is not None:
                self._withdraw_share(producer, ShareEnd.FLOOR, actor)
            elif kept is not None and kept.owner != producer.owner:
                self._withdraw_share(producer, ShareEnd.SHARER, SYSTEM)  # lost a race
            else:
                kept = producer

    def _withdraw_share(
        self,
        producer: Producer,
        reason: ShareEnd,
        actor: str,
        ref: tuple[str, MessageId] | None = None,
    ) -> None:
        if producer.id not in self.router.producers:
            return
        self._share_ends[producer.id] = (reason, actor, ref)
        self.router.withdraw(producer)  # tells everyone through _producer_removed

    async def _share_stopped(
        self,
        producer: Producer,
        reason: ShareEnd,
        actor: str,
        ref: tuple[str, MessageId] | None,
    ) -> None:
        message = ShareStopped(producer.owner, producer.id, reason, actor)
        issuer, issuer_message = None, message
        if ref is not None:
            issuer, issuer_message = ref[0], dataclasses.replace(message, ref=ref[1])
        await asyncio.gather(
            *(
                m.connection.send(issuer_message if m.info.id == issuer else message)
                for m in self._in_room()
            )
        )

    async def stop_share(self, member: Member, participant_id: str, ref: MessageId | None) -> None:
        """Stop ``participant_id``'s screen share: the chair's command, or the sharer's."""
        async with self._lock:
            actor = member.info.id
            if not may_stop_share(self.state, actor, participant_id):
                raise JoinRefused("forbidden", "only the chair may stop someone else's share")
            share = next((p for p in self._shares() if p.owner == participant_id), None)
            if share is None:
                if participant_id not in self.state.participants:
                    raise JoinRefused("not_found", f"no participant {participant_id!r}")
                raise JoinRefused("invalid_state", f"{participant_id!r} is not sharing a screen")
            reason = ShareEnd.SHARER if actor == participant_id else ShareEnd.CHAIR
            self._withdraw_share(share, reason, actor, (actor, ref) if ref is not None else None)

    async def _broadcast(self, message: ServerMessage, exclude: str | None = None) -> None:
        members = [m for m in self._in_room() if m.info.id != exclude]
        await asyncio.gather(*(m.connection.send(message) for m in members))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        if self._closed:
            work.close()
            return
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def close(self, code: CloseCode, reason: str) -> None:
        self._closed = True
        if self._deadline is not None:
            self._deadline.cancel()
        if self._monitor is not None:
            self._monitor.cancel()
        self.recorder.stop_all()
        self.channel_recorder.stop_all()
        for held in [*self.away.values(), *self._lost.values()]:
            held.cancel()
        self.away.clear()
        self._lost.clear()
        members = list(self.members.values())
        self.members.clear()
        await asyncio.gather(*(m.connection.close(code, reason) for m in members))
        await self.router.close()
        for task in list(self._background):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


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


def _gate(producer: Producer, audible: frozenset[str]) -> bool:
    """Open or close an audio producer as the floor says; True if that changed it."""
    if producer.kind != "audio" or (producer.owner in audible) != producer.paused:
        return False
    if producer.paused:
        producer.resume()
    else:
        producer.pause()
    return True


def _producer_info(producer: Producer) -> ProducerInfo:
    return ProducerInfo(producer.id, producer.owner, MediaKind(producer.kind), producer.source)


def _stream_info(stream: StreamMapping) -> StreamInfo:
    return StreamInfo(
        stream.mid,
        stream.producer_id,
        stream.owner,
        MediaKind(stream.kind),
        audible=stream.audible,
        source=stream.source,
        forwarded=stream.forwarded,
    )


__all__ = [
    "ConferencePlan",
    "Connection",
    "DelegationPlan",
    "JoinRefused",
    "LiveConference",
    "Member",
]
