"""Floor control: requests, the speakers list, holders and their speaking time.

Follows BFCP (RFC 8855): a request is Pending, then Accepted (on the speakers
list), then Granted, and ends Released, or ends Denied, Cancelled or Revoked.
FloorControl knows nothing of roles: `Conference` authorises the actor first,
then asks FloorControl whether the floor's own state allows the transition. Its
decision methods return one event each and never mutate; `apply` is the only
mutator.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from .errors import ErrorCode, RoomError
from .events import (
    FloorAccepted,
    FloorCancelled,
    FloorDenied,
    FloorEvent,
    FloorGranted,
    FloorOvertime,
    FloorPaused,
    FloorReleased,
    FloorReordered,
    FloorRequested,
    FloorResumed,
    FloorRevoked,
    FloorTimeChanged,
    FloorWarning,
    SystemReason,
)
from .permissions import SYSTEM
from .priority import Priority
from .settings import Settings
from .speakers import SpeakersList

__all__ = ["TRANSITIONS", "FloorControl", "FloorRequest", "RequestStatus", "SpeakingTurn"]


class RequestStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    GRANTED = "granted"
    DENIED = "denied"
    CANCELLED = "cancelled"
    RELEASED = "released"
    REVOKED = "revoked"

    @property
    def is_open(self) -> bool:
        return self in (RequestStatus.PENDING, RequestStatus.ACCEPTED, RequestStatus.GRANTED)


_S = RequestStatus

# The only moves a request can make; the other statuses are final.
TRANSITIONS: Final[Mapping[RequestStatus, frozenset[RequestStatus]]] = {
    _S.PENDING: frozenset({_S.ACCEPTED, _S.GRANTED, _S.DENIED, _S.CANCELLED}),
    _S.ACCEPTED: frozenset({_S.GRANTED, _S.DENIED, _S.CANCELLED}),
    _S.GRANTED: frozenset({_S.RELEASED, _S.REVOKED}),
    _S.DENIED: frozenset(),
    _S.CANCELLED: frozenset(),
    _S.RELEASED: frozenset(),
    _S.REVOKED: frozenset(),
}

_STATUS_OF_EVENT: Final[Mapping[type[FloorEvent], RequestStatus]] = {
    FloorAccepted: _S.ACCEPTED,
    FloorGranted: _S.GRANTED,
    FloorDenied: _S.DENIED,
    FloorCancelled: _S.CANCELLED,
    FloorReleased: _S.RELEASED,
    FloorRevoked: _S.REVOKED,
}


@dataclass(frozen=True)
class SpeakingTurn:
    """A grant's clock. Deadlines are absolute unix times, so a restart resumes them."""

    granted_at: float
    time_limit: float | None  # None: no limit, and no deadlines
    warn_at: float | None  # None too when the limit is not longer than the warning lead
    expires_at: float | None
    revoke_at: float | None  # expires_at + grace period
    warned: bool = False
    overtime: bool = False
    # While the holder has no live connection the clock stands still: the
    # deadlines move on by the pause when it is back, and the minutes do not
    # count it as speaking time.
    paused_at: float | None = None
    paused_for: float = 0.0  # seconds paused so far (ended pauses)

    @property
    def clock_start(self) -> float:
        """The grant time as if every pause had not happened: deadlines count from it."""
        return self.granted_at + self.paused_for

    def spoken(self, now: float) -> float:
        """Speaking time billed by `now`: from the grant, pauses left out."""
        until = now if self.paused_at is None else self.paused_at
        return max(0.0, until - self.clock_start)

    @staticmethod
    def deadlines(
        granted_at: float, time_limit: float | None, settings: Settings
    ) -> tuple[float | None, float | None, float | None]:
        """(warn_at, expires_at, revoke_at) of a turn of `time_limit` from `granted_at`."""
        if time_limit is None:
            return None, None, None
        expires_at = granted_at + time_limit
        warn_at = expires_at - settings.warning_before
        has_warning = settings.warning_before > 0 and warn_at > granted_at
        return (warn_at if has_warning else None), expires_at, expires_at + settings.grace_period

    def retimed(self, event: FloorTimeChanged) -> SpeakingTurn:
        # A warning or overtime already given stands only if its new deadline has passed too.
        return dataclasses.replace(
            self,
            time_limit=event.time_limit,
            warn_at=event.warn_at,
            expires_at=event.expires_at,
            revoke_at=event.revoke_at,
            warned=self.warned and event.warn_at is not None and event.warn_at <= event.at,
            overtime=self.overtime
            and event.expires_at is not None
            and event.expires_at <= event.at,
        )

    def next_deadline(self) -> float | None:
        if self.paused_at is not None:
            return None
        if self.warn_at is not None and not self.warned:
            return self.warn_at
        if self.expires_at is not None and not self.overtime:
            return self.expires_at
        return self.revoke_at


@dataclass(frozen=True)
class FloorRequest:
    request_id: str
    delegation_id: str
    priority: Priority
    requested_by: str  # participant id (or SYSTEM)
    speaker_id: str | None  # who is expected to speak, when known
    on_behalf: bool  # requested by someone outside the delegation (the chair)
    requested_at: float
    status: RequestStatus
    updated_at: float
    turn: SpeakingTurn | None = None  # from the grant on


def _stale(request: FloorRequest, action: str) -> RoomError:
    return RoomError(
        ErrorCode.INVALID_STATE,
        f"cannot {action} request {request.request_id}: it is {request.status.value}",
    )


class FloorControl:
    def __init__(self) -> None:
        self._requests: dict[str, FloorRequest] = {}  # all of them, closed ones too
        self._speakers = SpeakersList()

    def copy(self) -> FloorControl:
        floor = FloorControl()
        floor._requests = dict(self._requests)
        floor._speakers = self._speakers.copy()
        return floor

    # Queries -------------------------------------------------------------------

    @property
    def requests(self) -> Mapping[str, FloorRequest]:
        """Every request of the conference, closed ones included, in creation order."""
        return MappingProxyType(self._requests)

    def get(self, request_id: str) -> FloorRequest:
        request = self._requests.get(request_id)
        if request is None:
            raise RoomError(ErrorCode.NOT_FOUND, f"no floor request {request_id!r}")
        return request

    def open_request(self, delegation_id: str) -> FloorRequest | None:
        for request in self._requests.values():
            if request.delegation_id == delegation_id and request.status.is_open:
                return request
        return None

    def pending(self) -> list[FloorRequest]:
        """Requests awaiting the chair, oldest first."""
        return [r for r in self._requests.values() if r.status is _S.PENDING]

    def queue(self) -> list[FloorRequest]:
        """The speakers list: accepted requests, next speaker first."""
        return [self._requests[request_id] for request_id in self._speakers]

    def position(self, request_id: str) -> int:
        return self._speakers.position(request_id)

    def holders(self) -> list[FloorRequest]:
        """Granted requests, earliest grant first."""
        return [r for r in self._requests.values() if r.status is _S.GRANTED]

    def holds_floor(self, delegation_id: str) -> bool:
        return any(r.delegation_id == delegation_id for r in self.holders())

    def next_request_id(self) -> str:
        # Deterministic, so that replaying the log gives the same ids.
        return f"r{len(self._requests) + 1}"

    def next_deadline(self) -> float | None:
        deadlines = [r.turn.next_deadline() for r in self.holders() if r.turn is not None]
        return min((d for d in deadlines if d is not None), default=None)

    # Decisions -----------------------------------------------------------------

    def request(
        self,
        delegation_id: str,
        priority: Priority,
        speaker_id: str | None,
        on_behalf: bool,
        *,
        actor: str,
        at: float,
        reason: str | None,
    ) -> FloorRequested:
        current = self.open_request(delegation_id)
        if current is not None:
            raise RoomError(
                ErrorCode.ALREADY_REQUESTED,
                f"delegation {delegation_id} already has request {current.request_id} "
                f"({current.status.value})",
            )
        return FloorRequested(
            self.next_request_id(),
            delegation_id,
            priority,
            speaker_id,
            on_behalf,
            at=at,
            actor=actor,
            reason=reason,
        )

    def accept(
        self, request_id: str, *, actor: str, at: float, reason: str | None
    ) -> FloorAccepted:
        request = self._require(request_id, _S.ACCEPTED, "accept")
        position = self._speakers.place_for(request.priority, lambda i: self._requests[i].priority)
        return FloorAccepted(
            request_id, request.delegation_id, position, at=at, actor=actor, reason=reason
        )

    def reorder(
        self, request_id: str, position: int, *, actor: str, at: float, reason: str | None
    ) -> FloorReordered:
        request = self.get(request_id)
        if request.status is not _S.ACCEPTED:
            raise _stale(request, "reorder")
        if position > len(self._speakers):
            raise RoomError(
                ErrorCode.INVALID_ARGUMENT,
                f"position {position} is beyond the speakers list ({len(self._speakers)})",
            )
        if position == self._speakers.position(request_id):
            raise RoomError(ErrorCode.INVALID_STATE, f"{request_id} is already at {position}")
        return FloorReordered(
            request_id, request.delegation_id, position, at=at, actor=actor, reason=reason
        )

    def grant(
        self,
        request_id: str,
        time_limit: float | None,
        settings: Settings,
        *,
        actor: str,
        at: float,
        reason: str | None,
    ) -> FloorGranted:
        request = self._require(request_id, _S.GRANTED, "grant")
        if len(self.holders()) >= settings.max_holders:
            raise RoomError(
                ErrorCode.LIMIT_REACHED,
                f"the floor already has {settings.max_holders} holder(s); revoke one first",
            )
        warn_at, expires_at, revoke_at = SpeakingTurn.deadlines(at, time_limit, settings)
        return FloorGranted(
            request_id,
            request.delegation_id,
            time_limit,
            warn_at,
            expires_at,
            revoke_at,
            at=at,
            actor=actor,
            reason=reason,
        )

    def set_time(
        self,
        request_id: str,
        time_limit: float | None,
        settings: Settings,
        *,
        actor: str,
        at: float,
        reason: str | None,
    ) -> FloorTimeChanged:
        request = self.get(request_id)
        if request.turn is None or request.status is not _S.GRANTED:
            raise _stale(request, "change the speaking time of")
        if time_limit == request.turn.time_limit:
            raise RoomError(ErrorCode.INVALID_STATE, f"{request_id} already has that limit")
        warn_at, expires_at, revoke_at = SpeakingTurn.deadlines(
            request.turn.clock_start, time_limit, settings
        )
        return FloorTimeChanged(
            request_id,
            request.delegation_id,
            time_limit,
            warn_at,
            expires_at,
            revoke_at,
            at=at,
            actor=actor,
            reason=reason,
        )

    def pause(self, request_id: str, *, at: float, reason: str | None) -> FloorPaused:
        """Stop a holder's clock (its connection is gone)."""
        request = self.get(request_id)
        if request.status is not _S.GRANTED or request.turn is None:
            raise _stale(request, "pause")
        if request.turn.paused_at is not None:
            raise RoomError(ErrorCode.INVALID_STATE, f"{request_id} is already paused")
        return FloorPaused(request_id, request.delegation_id, at=at, actor=SYSTEM, reason=reason)

    def resume(self, request_id: str, *, at: float, reason: str | None) -> FloorResumed:
        """Start a paused holder's clock again; every deadline moves by the pause."""
        request = self.get(request_id)
        turn = request.turn
        if request.status is not _S.GRANTED or turn is None or turn.paused_at is None:
            raise _stale(request, "resume")
        pause = max(0.0, at - turn.paused_at)

        def moved(deadline: float | None) -> float | None:
            return None if deadline is None else deadline + pause

        return FloorResumed(
            request_id,
            request.delegation_id,
            moved(turn.warn_at),
            moved(turn.expires_at),
            moved(turn.revoke_at),
            at=at,
            actor=SYSTEM,
            reason=reason,
        )

    def deny(self, request_id: str, *, actor: str, at: float, reason: str | None) -> FloorDenied:
        request = self._require(request_id, _S.DENIED, "deny")
        return FloorDenied(request_id, request.delegation_id, at=at, actor=actor, reason=reason)

    def cancel(
        self, request_id: str, *, actor: str, at: float, reason: str | None
    ) -> FloorCancelled:
        request = self._require(request_id, _S.CANCELLED, "cancel")
        return FloorCancelled(request_id, request.delegation_id, at=at, actor=actor, reason=reason)

    def release(
        self, request_id: str, *, actor: str, at: float, reason: str | None
    ) -> FloorReleased:
        request = self._require(request_id, _S.RELEASED, "release")
        return FloorReleased(request_id, request.delegation_id, at=at, actor=actor, reason=reason)

    def revoke(self, request_id: str, *, actor: str, at: float, reason: str | None) -> FloorRevoked:
        request = self._require(request_id, _S.REVOKED, "revoke")
        return FloorRevoked(request_id, request.delegation_id, at=at, actor=actor, reason=reason)

    def end(self, request: FloorRequest, *, at: float, reason: SystemReason) -> FloorEvent:
        """End an open request automatically: cancel it, or revoke it if it is granted."""
        end = self.revoke if request.status is _S.GRANTED else self.cancel
        return end(request.request_id, actor=SYSTEM, at=at, reason=reason)

    def due(self, now: float, clock: float) -> list[FloorEvent]:
        """The time events due by `now`, in time order.

        Each is dated at its deadline (so a late tick writes the same minutes as
        a punctual one), but never before `clock`, the time of the last event.
        """
        due: list[FloorEvent] = []
        for request in self.holders():
            turn = request.turn
            assert turn is not None
            if turn.paused_at is not None:
                continue  # the clock stands still
            rid, did = request.request_id, request.delegation_id
            if turn.warn_at is not None and not turn.warned and turn.warn_at <= now:
                assert turn.expires_at is not None
                at = max(turn.warn_at, clock)
                due.append(FloorWarning(rid, did, turn.expires_at, at=at, actor=SYSTEM))
            if turn.expires_at is not None and not turn.overtime and turn.expires_at <= now:
                assert turn.revoke_at is not None
                at = max(turn.expires_at, clock)
                due.append(FloorOvertime(rid, did, turn.revoke_at, at=at, actor=SYSTEM))
            if turn.revoke_at is not None and turn.revoke_at <= now:
                at = max(turn.revoke_at, clock)
                reason = SystemReason.TIME_LIMIT
                due.append(FloorRevoked(rid, did, at=at, actor=SYSTEM, reason=reason))
        return sorted(due, key=lambda event: event.at)  # stable: per request, in order

    def _require(self, request_id: str, target: RequestStatus, action: str) -> FloorRequest:
        request = self.get(request_id)
        if target not in TRANSITIONS[request.status]:
            raise _stale(request, action)
        return request

    # Evolution -----------------------------------------------------------------

    def apply(self, event: FloorEvent) -> None:
        if isinstance(event, FloorRequested):
            self._requests[event.request_id] = FloorRequest(
                request_id=event.request_id,
                delegation_id=event.delegation_id,
                priority=event.priority,
                requested_by=event.actor,
                speaker_id=event.speaker_id,
                on_behalf=event.on_behalf,
                requested_at=event.at,
                status=_S.PENDING,
                updated_at=event.at,
            )
            return
        request = self._requests[event.request_id]
        status, turn = request.status, request.turn
        new_status = _STATUS_OF_EVENT.get(type(event))
        if new_status is not None:
            if status is _S.ACCEPTED:
                self._speakers.remove(event.request_id)
            status = new_status
        match event:
            case FloorAccepted():
                self._speakers.insert(event.request_id, event.position)
            case FloorReordered():
                self._speakers.move(event.request_id, event.position)
            case FloorGranted():
                turn = SpeakingTurn(
                    event.at, event.time_limit, event.warn_at, event.expires_at, event.revoke_at
                )
            case FloorTimeChanged() if turn is not None:
                turn = turn.retimed(event)
            case FloorWarning() if turn is not None:
                turn = dataclasses.replace(turn, warned=True)
            case FloorOvertime() if turn is not None:
                turn = dataclasses.replace(turn, overtime=True)
            case FloorPaused() if turn is not None:
                turn = dataclasses.replace(turn, paused_at=event.at)
            case FloorResumed() if turn is not None and turn.paused_at is not None:
                turn = dataclasses.replace(
                    turn,
                    warn_at=event.warn_at,
                    expires_at=event.expires_at,
                    revoke_at=event.revoke_at,
                    paused_at=None,
                    paused_for=turn.paused_for + max(0.0, event.at - turn.paused_at),
                )
        self._requests[event.request_id] = dataclasses.replace(
            request, status=status, turn=turn, updated_at=event.at
        )
