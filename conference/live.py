"""A live conference: the domain core applied, persisted, broadcast and enforced.

The conference service is where rooms (who may speak), media (what is
forwarded) and signaling (what everyone is told) meet. Every change goes the
same way, under one lock so that concurrent commands (two chairs, a timer, a
disconnect) take one consistent order:

    decide (pure) -> append to the store -> apply -> media consequences
    -> room.update to everyone -> re-arm the deadline timer

This module composes the parts, each in its own module and sharing the room's
state, the router, the connected members and the lock:

    event_log              the store, then apply; catch up or rewrite the log
    media_plane            transports, the floor's gate on microphones, layers
    interpretation_routing listeners' channels, interpreters' feeds
    screen_share           who may share a screen, one at a time
    held_seats             dropped connections keep their seat for a while
    monitoring             stream samples, alerts, the technicians' actions
    recording_control      the recorders, as the floor and the chair say
    admission, message_visibility   pure: who may enter, who reads what
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cluster.redis_store import StoreUnavailable
from media.producer import SCREEN, Producer
from media.router import Router
from media.transport import ALL_KINDS, PeerTransport
from rooms import (
    SYSTEM,
    Command,
    Conference,
    EventStore,
    GoOffAir,
    LeaveConference,
    Presence,
    RoomError,
    SetPresence,
)
from rooms.events import (
    ConferenceClosed,
    Event,
    FloorEvent,
    ParticipantAdmitted,
    ParticipantRejected,
    ParticipantRemoved,
    SystemReason,
)
from rooms.events import (
    ParticipantLeft as SeatLeft,
)
from server.tokens import JoinGrant
from signaling import (
    PROTOCOL_VERSION,
    CloseCode,
    ConferenceInfo,
    IceServer,
    LeaveReason,
    MessageId,
    ParticipantInfo,
    ParticipantJoined,
    ParticipantLeft,
    ProducerAdded,
    ProducerRemoved,
    RateLimiter,
    RoomUpdate,
    ServerMessage,
    Welcome,
)

from .admission import join_events, participant_from
from .bandwidth import DEFAULT_LAST_N, BandwidthAllocation
from .event_log import ConferenceLog, LogMovedOn
from .held_seats import HeldSeats
from .interpretation_routing import InterpretationRouting
from .media_plane import MediaPlane, gate, in_room, producer_info
from .member import Connection, JoinRefused, Member
from .message_visibility import message_history, readable
from .monitor import Totals
from .monitoring import ConferenceMonitor
from .plans import ConferencePlan
from .recording import FloorRecorder
from .recording_control import ConferenceRecording
from .screen_share import ScreenShares

logger = logging.getLogger(__name__)

DEFAULT_RECORDINGS = Path("recordings")
RESUME_GRACE = 30.0  # seconds a dropped participant keeps its seat, request and floor
# Seconds without RTP/RTCP from a client with media before its signaling is probed.
MEDIA_TIMEOUT = 10.0
MONITOR_INTERVAL = 1.0  # seconds between two monitor.stats


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
    """One conference served by this node: its members, media and log, under one lock."""

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
        self.router = router
        # Connected members (room and lobby), shared with every part below.
        self.members: dict[str, Member] = {}
        self.totals = options.totals
        # Each seat's floor.request/floor.cancel budget (kept across its reconnections).
        self.floor_toggles: dict[str, RateLimiter] = {}
        # Each seat's message.send budget (kept across its reconnections too).
        self.message_budgets: dict[str, RateLimiter] = {}
        # System commands that could not be stored (store down), retried in order.
        self._unstored: list[Command] = []
        self._clock = options.clock
        self._lock = asyncio.Lock()
        self._deadline: asyncio.TimerHandle | None = None
        self._monitor_task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        # Once closed, no timer or late task may act on the conference: another
        # node (or this one, restarted) may own its log by then.
        self._closed = False
        self.recording = ConferenceRecording(
            state, router, options.recordings / state.conference_id
        )
        self.media = MediaPlane(
            state,
            router,
            self.members,
            bandwidth=BandwidthAllocation(options.last_n),
            due=lambda: self.log.ahead,
            lock=self._lock,
            spawn=self._spawn,
        )
        self.interpretation = InterpretationRouting(
            state,
            router,
            self.members,
            lock=self._lock,
            record_channels=self.recording.record_channels,
        )
        self.shares = ScreenShares(state, router, self.members, lock=self._lock, spawn=self._spawn)
        self.held_seats = HeldSeats(
            state,
            router,
            self.members,
            resume_grace=options.resume_grace,
            lock=self._lock,
            spawn=self._spawn,
            system=self._system,
            drop_media=self.media.drop,
            broadcast=self._broadcast,
        )
        self.monitor = ConferenceMonitor(
            state,
            router,
            self.members,
            bandwidth=self.media.bandwidth,
            listening=self.interpretation.listening,
            totals=self.totals,
            clock=options.clock,
            media_timeout=options.media_timeout,
        )
        self.log = ConferenceLog(
            state,
            seq,
            store,
            carry_out=self._publish,
            alerts=self.monitor.alerts,
            announce=self.monitor.announce,
            clock=options.clock,
        )
        router.on_producer_added = self._producer_added
        router.on_producer_removed = self._producer_removed
        router.direct = self.media.direct

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
        conference.log.events = [s.event for s in stored]
        for pid in [*state.participants, *(p.participant_id for p in state.lobby)]:
            conference.held_seats.hold_seat(pid)
        async with conference._lock:
            for pid in state.participants:
                if state.presence(pid) is Presence.DISCONNECTED:
                    continue
                # Nobody is connected to a node that just started: each seat is
                # reconnecting, and disconnected if it does not come back soon.
                await conference.held_seats.seat_dropped(pid, LeaveReason.DISCONNECTED)
        conference._arm_deadline()
        conference._monitor_task = asyncio.ensure_future(conference._monitor_loop())
        return conference

    @property
    def id(self) -> str:
        return self.state.conference_id

    @property
    def recorder(self) -> FloorRecorder:
        return self.recording.recorder

    @property
    def seq(self) -> int:
        return self.log.seq

    @property
    def store(self) -> EventStore:
        return self.log.store

    @property
    def restoring(self) -> bool:
        """True while the store holds less than this node applied (until rewritten)."""
        return self.log.restoring

    def info(self) -> ConferenceInfo:
        return ConferenceInfo(self.id, self.state.title or self.id)

    # --- joining and leaving ------------------------------------------------

    def participant_from(self, grant: JoinGrant) -> ParticipantInfo:
        """Check a verified grant against this conference; raise JoinRefused."""
        return participant_from(self.state, grant)

    def check_join(self, participant: ParticipantInfo) -> None:
        """Raise JoinRefused if the participant may not enter (e.g. a locked room)."""
        join_events(self.state, participant, self._clock())

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
            detached = self.held_seats.detached.pop(pid, None)
            previous = self.members.pop(pid, None)
            if previous is not None:
                await self.media.drop(previous)
                await previous.connection.close(
                    CloseCode.REPLACED, "joined from another connection"
                )
            else:
                events = join_events(self.state, participant, self._clock())
                try:
                    await self.log.persist(events)
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
                await self.media.drop(detached)
            self.members[pid] = member
            self.held_seats.returned(pid)
            self.monitor.probed.pop(pid, None)
            await self.monitor.announce(self.monitor.alerts.publisher_back(pid))
            present = [*in_room(self.members), *self.held_seats.detached.values()]
            others = tuple(m.info for m in present if m is not member)
            await connection.send(
                Welcome(
                    PROTOCOL_VERSION,
                    self.info(),
                    participant,
                    others,
                    tuple(
                        producer_info(p)
                        for p in self.router.producers.values()
                        if self.media.direct(p)
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
                self.held_seats.detached[pid] = member
            else:
                await self.media.drop(member)
            if published and dropped:
                await self.monitor.announce(self.monitor.alerts.publisher_gone(pid, self._clock()))
            if pid in self.state.participants and not keep:
                await self._broadcast(ParticipantLeft(pid, reason))
            if pid in self.state.participants or pid in self.state.lobby:
                if dropped:
                    self.held_seats.hold_seat(pid)
                    if self.state.interpretation.is_active(pid):
                        # Off air at once: the partner is told and can take over.
                        drop = SystemReason.INTERPRETER_DROPPED
                        await self._system(GoOffAir(pid, reason=drop))
                    await self.held_seats.seat_dropped(pid, reason)
                else:
                    await self._system(LeaveConference(pid, reason=reason.value))

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
        self.log.check_available()
        async with self._lock:
            self.log.check_available()
            events = await self._commit(command, actor, ref)
            issuer = self.members.get(actor)
            if not events and issuer is not None:
                await issuer.connection.send(self._update([], ref))

    @property
    def store_failing(self) -> bool:
        """The store failed just now: commands are refused until it answers again."""
        return self.log.failing

    async def _commit(
        self, command: Command, actor: str, ref: MessageId | None = None
    ) -> list[Event]:
        events = self.state.decide(command, actor, self._clock())
        try:
            await self.log.persist(events)
        except LogMovedOn:
            # Caught up with the log: decide again on the state as it now is.
            events = self.state.decide(command, actor, self._clock())
            await self.log.persist(events)
        await self._publish(events, ref=(actor, ref))
        return events

    async def check_log(self) -> None:
        """Compare the log's end with this node's seq; reconcile if they differ."""
        if self.store_failing:
            return
        async with self._lock:
            await self.log.check()

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
        await self.media.announce_audible(self.media.apply_floor())
        self.interpretation.apply()
        self.shares.apply_rule(events[-1].actor)
        await self.media.allocate_bandwidth()
        update = self._update(events)
        issuer = ref[0] if ref is not None and ref[1] is not None else None
        sends = []
        for member in self.members.values():
            pid = member.info.id
            if pid == exclude:
                continue
            told = readable(self.state, update, events, pid)
            if pid == issuer:
                assert ref is not None
                told = dataclasses.replace(told or update, ref=ref[1])
            if told is not None:
                sends.append(member.connection.send(told))
        await asyncio.gather(*sends)
        self._arm_deadline()

    async def _send_history(self, member: Member) -> None:
        """The messages of the threads a seat in the room may read (none in the lobby)."""
        history = message_history(self.state, member.info.id)
        if history is not None:
            await member.connection.send(history)

    async def _consequence(self, event: Event) -> None:
        self.recording.apply(event)
        match event:
            case ParticipantAdmitted(participant_id=pid) if pid in self.members:
                member = self.members[pid]
                await self._send_history(member)
                self._start_media(member)
                await self._broadcast(ParticipantJoined(member.info), exclude=pid)
            case ParticipantRejected(participant_id=pid) | ParticipantRemoved(participant_id=pid):
                await self.held_seats.end_detached(pid, LeaveReason.REMOVED)
                gone = self.members.pop(pid, None)
                if gone is not None:
                    await gone.connection.send(self._update([event]))
                    await gone.connection.close(CloseCode.REMOVED, _SENT_AWAY[type(event)])
                    if gone.transport is not None:
                        await self.media.drop(gone)
                        await self._broadcast(ParticipantLeft(pid, LeaveReason.REMOVED))
            case SeatLeft(participant_id=pid) if pid in self.members:
                # The seat ended while connected: nothing more reaches it (no offers).
                gone = self.members.pop(pid)
                await self.media.drop(gone)
                await gone.connection.send(self._update([event]))
                await gone.connection.close(CloseCode.NORMAL, "left the conference")
                await self._broadcast(ParticipantLeft(pid, LeaveReason.LEFT))
            case ConferenceClosed():
                for pid in list(self.held_seats.detached):
                    await self.held_seats.end_detached(pid, LeaveReason.LEFT)
                for member in list(self.members.values()):
                    await self.media.drop(member)
                    await member.connection.send(self._update([event]))
                    await member.connection.close(CloseCode.NORMAL, "the conference is closed")
                self.members.clear()

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
        await self.monitor.watch_media()
        await self.media.allocate_bandwidth(measure=True)
        await self.monitor.report()

    async def tell_technicians(self, message: ServerMessage) -> None:
        """Send to the technicians (and the chair), as ``monitor.alert`` goes."""
        await self.monitor.tell_technicians(message)

    def request_keyframe(self, member: Member, producer_id: str) -> None:
        """Technician action: ask a publisher for a keyframe."""
        self.monitor.request_keyframe(member, producer_id)

    async def disconnect(self, member: Member, participant_id: str) -> None:
        """Technician action: close a participant's connection; it may rejoin."""
        await self.monitor.disconnect(member, participant_id)

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
            self.log.ahead = events
            await self.media.announce_audible(self.media.apply_floor())
            try:
                await self.log.persist(events)
            except StoreUnavailable:
                # Nothing else is applied unless stored: try again shortly.
                asyncio.get_running_loop().call_later(1.0, self._spawn_tick)
                return
            await self._publish(events)
            self._arm_deadline()  # also when nothing was due (a timer fired early)

    # --- media --------------------------------------------------------------------

    def _start_media(self, member: Member) -> None:
        if self.media.start(member):
            self.interpretation.apply()
            self.media.apply_layers()

    async def listen(self, member: Member, channel: str | None, ref: MessageId | None) -> None:
        """A listener's channel choice (None: the floor only); JoinRefused if refused."""
        await self.interpretation.listen(member, channel, ref)

    async def pin(self, member: Member, participant_id: str | None, ref: MessageId | None) -> None:
        """A subscriber pins one participant's video (None: none); JoinRefused if refused."""
        await self.media.pin(member, participant_id, ref)

    def publisher(self, member: Member) -> PeerTransport:
        return self.media.publisher(member)

    def subscriber(self, member: Member) -> PeerTransport:
        return self.media.subscriber(member)

    def _producer_added(self, producer: Producer) -> None:
        # Synchronous, before the first packet: a new microphone starts closed
        # unless its owner may be heard.
        gate(producer, self.media.audible())
        self.recording.recorder.attach(producer)  # a speaker's camera, voice or screen share
        if self.media.direct(producer):
            self._spawn(self._broadcast(ProducerAdded(producer_info(producer))))
        else:
            self.interpretation.apply()
        self.media.apply_layers()

    def _producer_removed(self, producer: Producer) -> None:
        if self.media.direct(producer):
            self._spawn(self._broadcast(ProducerRemoved(producer.id)))
        else:
            self.interpretation.apply()
        if producer.source == SCREEN:
            self.shares.removed(producer)

    # --- screen sharing -------------------------------------------------------------

    async def publish(
        self, member: Member, sdp: str, share: str | None, max_tracks: int, restart: bool = False
    ) -> str:
        """Answer a publisher offer; ``share`` names the mid of a screen share (ScreenShares)."""
        return await self.shares.publish(member, sdp, share, max_tracks, restart)

    async def stop_share(self, member: Member, participant_id: str, ref: MessageId | None) -> None:
        """Stop ``participant_id``'s screen share: the chair's command, or the sharer's."""
        await self.shares.stop(member, participant_id, ref)

    async def _broadcast(self, message: ServerMessage, exclude: str | None = None) -> None:
        members = [m for m in in_room(self.members) if m.info.id != exclude]
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
        if self._monitor_task is not None:
            self._monitor_task.cancel()
        self.recording.stop_all()
        self.held_seats.cancel_timers()
        members = list(self.members.values())
        self.members.clear()
        await asyncio.gather(*(m.connection.close(code, reason) for m in members))
        await self.router.close()
        for task in list(self._background):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


__all__ = ["ConferenceOptions", "LiveConference"]
