"""A live conference: who is in it, their media, and what everyone is told.

This is the composition point of membership (rooms), media (Router) and
signaling (messages); each member's connection only carries messages.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Protocol

from media.producer import Producer
from media.router import Router
from media.transport import PeerTransport, StreamMapping
from signaling import (
    PROTOCOL_VERSION,
    CloseCode,
    ConferenceInfo,
    DelegationInfo,
    LeaveReason,
    MediaKind,
    MessageId,
    ParticipantInfo,
    ParticipantJoined,
    ParticipantLeft,
    ProducerAdded,
    ProducerInfo,
    ProducerRemoved,
    Role,
    ServerMessage,
    StreamInfo,
    SubscribeOffer,
    Welcome,
)

from .tokens import JoinGrant

logger = logging.getLogger(__name__)

# Roles whose members may publish camera and microphone.
PUBLISHING_ROLES = frozenset({Role.CHAIR, Role.HEAD, Role.DELEGATE, Role.INTERPRETER})


class Connection(Protocol):
    """What the conference needs of a member's signaling connection."""

    async def send(self, message: ServerMessage) -> None: ...

    async def close(self, code: CloseCode, reason: str) -> None: ...


class JoinRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Delegation:
    id: str
    name: str
    code: str  # ISO 3166-1 alpha-2

    def info(self) -> DelegationInfo:
        return DelegationInfo(self.id, self.name, self.code)


@dataclass
class ConferenceSpec:
    id: str
    title: str
    delegations: dict[str, Delegation] = field(default_factory=dict)


@dataclass
class Member:
    info: ParticipantInfo
    connection: Connection
    transport: PeerTransport


class LiveConference:
    def __init__(self, spec: ConferenceSpec, router: Router) -> None:
        self.spec = spec
        self.router = router
        self.members: dict[str, Member] = {}
        router.on_producer_added = self._producer_added
        router.on_producer_removed = self._producer_removed
        self._background: set[asyncio.Task[None]] = set()

    @property
    def id(self) -> str:
        return self.spec.id

    def info(self) -> ConferenceInfo:
        return ConferenceInfo(self.spec.id, self.spec.title)

    def participant_from(self, grant: JoinGrant) -> ParticipantInfo:
        """Check a verified grant against this conference; raise JoinRefused."""
        try:
            role = Role(grant.role)
        except ValueError:
            raise JoinRefused("invalid_token", f"unknown role {grant.role!r}") from None
        delegation = None
        if grant.delegation is not None:
            found = self.spec.delegations.get(grant.delegation)
            if found is None:
                raise JoinRefused(
                    "invalid_token", f"no delegation {grant.delegation!r} in {self.spec.id!r}"
                )
            delegation = found.info()
        elif role in (Role.HEAD, Role.DELEGATE):
            raise JoinRefused("invalid_token", f"a {role.value} must belong to a delegation")
        return ParticipantInfo(grant.participant, grant.name, role, delegation)

    async def join(
        self,
        participant: ParticipantInfo,
        connection: Connection,
        hello_id: MessageId | None = None,
    ) -> Member:
        """Admit a participant: welcome them, tell the others, start their media."""
        previous = self.members.get(participant.id)
        if previous is not None:
            await self._depart(previous, LeaveReason.DISCONNECTED, notify=False)
            await previous.connection.close(CloseCode.REPLACED, "joined from another connection")

        async def offer(sdp: str, revision: int, streams: list[StreamMapping]) -> None:
            await connection.send(
                SubscribeOffer(sdp, revision, tuple(_stream_info(s) for s in streams))
            )

        transport = self.router.create_transport(participant.id, offer)
        member = Member(participant, connection, transport)
        others = tuple(m.info for m in self.members.values())
        self.members[participant.id] = member
        await connection.send(
            Welcome(
                PROTOCOL_VERSION,
                self.info(),
                participant,
                others,
                tuple(_producer_info(p) for p in self.router.producers.values()),
                ref=hello_id,
            )
        )
        if previous is None:
            await self.broadcast(ParticipantJoined(participant), exclude=participant.id)
        return member

    async def publish(self, member: Member, offer_sdp: str) -> str:
        if member.info.role not in PUBLISHING_ROLES:
            raise JoinRefused("forbidden", f"a {member.info.role.value} does not publish media")
        return await member.transport.answer_publish(offer_sdp)

    async def subscribe_answer(self, member: Member, answer_sdp: str, revision: int) -> None:
        await member.transport.apply_subscribe_answer(answer_sdp, revision)

    async def leave(self, member: Member, reason: LeaveReason) -> None:
        if self.members.get(member.info.id) is member:
            await self._depart(member, reason, notify=True)

    async def _depart(self, member: Member, reason: LeaveReason, *, notify: bool) -> None:
        del self.members[member.info.id]
        await self.router.close_transport(member.info.id)
        if notify:
            await self.broadcast(ParticipantLeft(member.info.id, reason))

    async def broadcast(self, message: ServerMessage, exclude: str | None = None) -> None:
        members = [m for m in self.members.values() if m.info.id != exclude]
        await asyncio.gather(*(m.connection.send(message) for m in members))

    def _producer_added(self, producer: Producer) -> None:
        self._spawn(self.broadcast(ProducerAdded(_producer_info(producer))))

    def _producer_removed(self, producer: Producer) -> None:
        self._spawn(self.broadcast(ProducerRemoved(producer.id)))

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def close(self, code: CloseCode, reason: str) -> None:
        members = list(self.members.values())
        await asyncio.gather(*(m.connection.close(code, reason) for m in members))
        await self.router.close()
        self.members.clear()


def _producer_info(producer: Producer) -> ProducerInfo:
    return ProducerInfo(producer.id, producer.owner, MediaKind(producer.kind))


def _stream_info(stream: StreamMapping) -> StreamInfo:
    return StreamInfo(stream.mid, stream.producer_id, stream.owner, MediaKind(stream.kind))
