"""A live conference's event log: store, then apply; catch up with the store, or rewrite it.

Nothing is applied (nor told to anyone) before the store holds it. When the
store's log is not where this node left it, the node catches up with it
(another writer) or writes back what it lost (Redis restarted without its
data): the log is wrong, not the meeting.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from cluster.redis_store import StoreUnavailable
from rooms import Conference, EventStore, StoreConflict
from rooms.events import Event

from .alerts import Alert, AlertRules, Transition

# The live conference's lines keep its logger's name, wherever the code sits.
logger = logging.getLogger(__name__)

# After the store failed, commands are refused at once for this long (instead
# of each waiting for the store's timeout in turn behind the lock).
STORE_BACKOFF = 1.0

# Carries out events applied from the store (media, everyone told, deadlines).
CarryOut = Callable[[list[Event]], Awaitable[None]]
Announce = Callable[[list[tuple[Alert, Transition]]], Awaitable[None]]


class LogMovedOn(StoreUnavailable):
    """The log was not where this node left it; the node has caught up (or restored it)."""


class ConferenceLog:
    """The conference's events as stored, and the state they build (``state``)."""

    def __init__(
        self,
        state: Conference,
        seq: int,
        store: EventStore,
        *,
        carry_out: CarryOut,
        alerts: AlertRules,
        announce: Announce,
        clock: Callable[[], float],
    ) -> None:
        self.state = state
        self.seq = seq
        self.store = store
        # Every event of the log, in order (len == seq): what rewrites the log
        # if the store loses it.
        self.events: list[Event] = []
        # True while the store holds less than this node applied (until rewritten).
        self.restoring = False
        # Time events due but not stored yet (store down): enforced in the
        # media already, recorded (dated at their deadline) once stored.
        self.ahead: list[Event] = []
        self._store_down_until = 0.0  # time.monotonic()
        self._carry_out = carry_out
        self._alerts = alerts
        self._announce = announce
        self._clock = clock

    @property
    def id(self) -> str:
        return self.state.conference_id

    @property
    def failing(self) -> bool:
        """The store failed just now: commands are refused until it answers again."""
        return time.monotonic() < self._store_down_until

    def check_available(self) -> None:
        """Refuse at once while the store has just failed (it is retried shortly)."""
        if self.failing:
            raise StoreUnavailable(f"{self.id}: the event store failed just now")

    async def persist(self, events: list[Event]) -> None:
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
        self.ahead = []  # any decision includes the time events due by now
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
        self.ahead = []  # decided on a state that was not the log's
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
            await self._carry_out(events)
        elif last < self.seq:
            await self._restore(last)

    async def _restore(self, last: int) -> None:
        if not self.restoring:
            self.restoring = True
            logger.error(
                "log of %s lost events %d-%d: rewriting it from memory",
                self.id,
                last + 1,
                self.seq,
                extra={"conference": self.id},
            )
            lost = self._alerts.log_lost(self.id, last, self.seq, self._clock())
            await self._announce(lost)
        try:
            await self.store.append(self.id, self.events[last:], expected_seq=last)
        except StoreConflict as conflict:  # written meanwhile: look again next second
            raise StoreUnavailable(
                f"{self.id}: log at {conflict.actual_seq} while restoring"
            ) from None
        self.restoring = False
        await self._announce(self._alerts.log_restored(self.id))
        logger.warning("log of %s restored up to %d", self.id, self.seq)
        with contextlib.suppress(StoreUnavailable):
            await self.store.save_snapshot(self.id, self.seq, self.state.snapshot())

    async def check(self) -> None:
        """Compare the log's end with this node's seq; reconcile if they differ."""
        try:
            last = await self.store.last_seq(self.id)
        except StoreUnavailable:
            self._store_down_until = time.monotonic() + STORE_BACKOFF
            raise
        self._store_down_until = 0.0
        if last != self.seq:
            await self._reconcile(last)


__all__ = ["STORE_BACKOFF", "ConferenceLog", "LogMovedOn"]
