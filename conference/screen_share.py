"""Screen sharing in a live conference: who may share, one share at a time.

A share is forwarded like camera video while its sharer may share (the rule
of rooms.share: the floor, or the chair); it is withdrawn when that ends, when
its sharer stops it, or when the chair does, and everyone in the room is told
why (``share.stopped``).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Coroutine
from typing import Any

from media.producer import SCREEN, Producer
from media.router import Router
from rooms import SYSTEM, Conference
from rooms.share import may_stop_share, share_refusal
from signaling import MessageId, ShareEnd, ShareStopped

from .media_plane import MediaPlane, in_room
from .member import JoinRefused, Member


class ScreenShares:
    """The screen shares being forwarded, and why each one ends."""

    def __init__(
        self,
        state: Conference,
        router: Router,
        members: dict[str, Member],
        *,
        lock: asyncio.Lock,
        spawn: Callable[[Coroutine[Any, Any, None]], None],
    ) -> None:
        self.state = state
        self.router = router
        self.members = members
        # Why a screen share is being withdrawn (by producer id), for share.stopped.
        self._ends: dict[str, tuple[ShareEnd, str, tuple[str, MessageId] | None]] = {}
        self._lock = lock
        self._spawn = spawn

    async def publish(
        self, member: Member, sdp: str, share: str | None, max_tracks: int, restart: bool = False
    ) -> str:
        """Answer a publisher offer; ``share`` names the mid of a screen share.

        A share is refused (nothing changes) unless the rule of rooms.share
        allows it and nobody else is sharing. A share named by an earlier
        offer and not by this one has been stopped by its sharer (so is one
        that a new connection, ``restart``, does not carry over).
        """
        transport = MediaPlane.publisher(member)
        pid = member.info.id
        if share is not None:
            self._check(pid)
        answer = await transport.answer_publish(sdp, max_tracks, share, restart=restart)
        async with self._lock:
            named = transport.producer_of_mid(share) if share is not None else None
            for producer in list(transport.producers.values()):
                if producer.source == SCREEN and producer is not named:
                    self._withdraw(producer, ShareEnd.SHARER, pid)
            if named is not None and named.source == SCREEN:
                self.router.restore(named)  # a share again on the same m-line
            # The floor may have moved (or someone else started sharing) meanwhile.
            self.apply_rule(SYSTEM)
        return answer

    def _check(self, pid: str) -> None:
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

    def apply_rule(self, actor: str) -> None:
        """Withdraw every share whose sharer may no longer share; one share at a time."""
        kept: Producer | None = None
        for producer in self._shares():
            if share_refusal(self.state, producer.owner) is not None:
                self._withdraw(producer, ShareEnd.FLOOR, actor)
            elif kept is not None and kept.owner != producer.owner:
                self._withdraw(producer, ShareEnd.SHARER, SYSTEM)  # lost a race
            else:
                kept = producer

    def _withdraw(
        self,
        producer: Producer,
        reason: ShareEnd,
        actor: str,
        ref: tuple[str, MessageId] | None = None,
    ) -> None:
        if producer.id not in self.router.producers:
            return
        self._ends[producer.id] = (reason, actor, ref)
        self.router.withdraw(producer)  # tells everyone through removed()

    def removed(self, producer: Producer) -> None:
        """A share left the router: tell the room why (its sharer left, unless known)."""
        reason, actor, ref = self._ends.pop(producer.id, (ShareEnd.LEFT, producer.owner, None))
        self._spawn(self._stopped(producer, reason, actor, ref))

    async def _stopped(
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
                for m in in_room(self.members)
            )
        )

    async def stop(self, member: Member, participant_id: str, ref: MessageId | None) -> None:
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
            self._withdraw(share, reason, actor, (actor, ref) if ref is not None else None)


__all__ = ["ScreenShares"]
