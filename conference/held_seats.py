"""Seats whose connection dropped: kept for the resume grace period, then given up.

A dropped seat keeps its place (speakers list, floor) and, while they last,
its peer connections. The room is told it is reconnecting once its media
stops too (a signaling blip with media still flowing is no news), then
disconnected if it is not back soon; at the end of the grace period the seat
leaves the conference.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from media.router import Router
from rooms import Command, Conference, LeaveConference, Presence, SetPresence
from signaling import LeaveReason, ParticipantLeft, ServerMessage

from .member import Member

# Seconds after a drop before a seat that has not come back counts as
# disconnected rather than reconnecting (a reload is back well within it).
LOST_AFTER = 1.5
# A dropped seat whose kept media was silent this long is no longer heard:
# its connection is reconnecting (a crash), not merely its signaling (a blip).
MEDIA_QUIET = 0.5


class HeldSeats:
    """The seats held for dropped connections, and the media kept for them."""

    def __init__(
        self,
        state: Conference,
        router: Router,
        members: dict[str, Member],
        *,
        resume_grace: float,
        lock: asyncio.Lock,
        spawn: Callable[[Coroutine[Any, Any, None]], None],
        system: Callable[[Command], Awaitable[None]],
        drop_media: Callable[[Member], Awaitable[None]],
        broadcast: Callable[[ServerMessage], Awaitable[None]],
    ) -> None:
        self.state = state
        self.router = router
        self.members = members
        self.resume_grace = resume_grace
        # Seats whose connection dropped: they keep their place until the timer.
        self.away: dict[str, asyncio.TimerHandle] = {}
        # Dropped members whose peer connections go on through the grace
        # period, waiting for their signaling to come back.
        self.detached: dict[str, Member] = {}
        # Dropped seats still said to be reconnecting, until judged disconnected.
        self._lost: dict[str, asyncio.TimerHandle] = {}
        self._lock = lock
        self._spawn = spawn
        # A consequence the server itself records (kept for later if the store is down).
        self._system = system
        self._drop_media = drop_media
        self._broadcast = broadcast

    def hold_seat(self, pid: str) -> None:
        loop = asyncio.get_running_loop()
        self.away[pid] = loop.call_later(
            self.resume_grace, lambda: self._spawn(self._seat_expired(pid))
        )

    def returned(self, pid: str) -> None:
        """The seat is connected again: it is as it was."""
        held = self.away.pop(pid, None)
        if held is not None:
            held.cancel()  # back within the grace period: the seat is as it was
        self._cancel_lost(pid)

    async def seat_dropped(self, pid: str, reason: LeaveReason) -> None:
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
            await self.end_detached(pid, LeaveReason.DISCONNECTED)
            if pid in self.state.participants or pid in self.state.lobby:
                await self._system(LeaveConference(pid, reason=LeaveReason.DISCONNECTED.value))

    async def end_detached(self, pid: str, reason: LeaveReason) -> None:
        """Close the media kept for a dropped seat, and tell the others it is gone."""
        kept = self.detached.pop(pid, None)
        if kept is not None:
            await self._drop_media(kept)
            await self._broadcast(ParticipantLeft(pid, reason))

    def cancel_timers(self) -> None:
        """The conference closes: no held seat expires any more."""
        for held in [*self.away.values(), *self._lost.values()]:
            held.cancel()
        self.away.clear()
        self._lost.clear()


__all__ = ["LOST_AFTER", "MEDIA_QUIET", "HeldSeats"]
