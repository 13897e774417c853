"""One signaling WebSocket: the I/O shell around ``SignalingSession``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from aiohttp import WSMsgType, web

from media.errors import MediaError
from rooms import Command, RoomError
from signaling import (
    MAX_MESSAGE_BYTES,
    Close,
    CloseCode,
    Dispatch,
    Error,
    ErrorCode,
    Hello,
    Leave,
    LeaveReason,
    Outcome,
    ParticipantDisconnect,
    ProducerKeyframe,
    PublishAnswer,
    PublishOffer,
    Redirect,
    RoomCommand,
    Send,
    ServerMessage,
    SignalingSession,
    State,
    SubscribeAnswer,
    encode,
)

from .conference import JoinRefused, LiveConference, Member
from .palabra import Palabra, PlacedElsewhere, palabra_of
from .redis_store import StoreUnavailable
from .tokens import RESUME, RESUME_TTL, TokenError, issue_resume_token, verify_token

logger = logging.getLogger(__name__)


class WebSocketConnection:
    def __init__(self, ws: web.WebSocketResponse, palabra: Palabra) -> None:
        self.ws = ws
        self.palabra = palabra
        self.session = SignalingSession(time.monotonic())
        self.member: Member | None = None
        self.conference: LiveConference | None = None
        self._leave_reason = LeaveReason.DISCONNECTED

    async def send(self, message: ServerMessage) -> None:
        if not self.ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.ws.send_str(encode(message))

    async def close(self, code: CloseCode, reason: str) -> None:
        """Server-initiated close (shutdown, replaced by a newer connection)."""
        if code == CloseCode.REPLACED:
            self.member = None  # the conference already handed the seat over
        await self._carry_out(self.session.close(code, reason))

    async def run(self) -> None:
        timer = asyncio.ensure_future(self._heartbeat())
        try:
            async for frame in self.ws:
                if frame.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    await self._carry_out(self.session.receive(frame.data, time.monotonic()))
                elif frame.type == WSMsgType.ERROR:
                    break
        finally:
            timer.cancel()
            await self._depart()

    async def _heartbeat(self) -> None:
        while self.session.state is not State.CLOSED:
            delay = self.session.next_deadline() - time.monotonic()
            await asyncio.sleep(max(0.05, delay))
            await self._carry_out(self.session.tick(time.monotonic()))

    async def _carry_out(self, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            match outcome:
                case Send(message):
                    await self.send(message)
                case Close(code, reason):
                    if code == CloseCode.HEARTBEAT_TIMEOUT:
                        self._leave_reason = LeaveReason.TIMEOUT
                    await self.ws.close(code=int(code), message=reason.encode())
                case Dispatch(message):
                    await self._dispatch(message)

    async def _dispatch(self, message: object) -> None:
        match message:
            case Hello():
                await self._hello(message)
            case PublishOffer():
                await self._publish(message)
            case SubscribeAnswer():
                await self._subscribe_answer(message)
            case RoomCommand():
                await self._room_command(message)
            case ProducerKeyframe() | ParticipantDisconnect():
                await self._technical(message)
            case Leave():
                self._leave_reason = LeaveReason.LEFT
                await self._depart()

    async def _hello(self, hello: Hello) -> None:
        secret = self.palabra.config.secret
        try:
            grant = None
            if hello.resume:
                with contextlib.suppress(TokenError):  # fall back to the join token
                    grant = verify_token(secret, hello.resume, purpose=RESUME)
            if grant is None:
                grant = verify_token(secret, hello.token)
            conference = await self.palabra.conference_for(grant.conference)
            if conference is None:
                raise JoinRefused(
                    "wrong_conference", f"conference {grant.conference!r} is not on this server"
                )
            participant = conference.participant_from(grant)
            conference.check_join(participant)
        except (TokenError, JoinRefused) as exc:
            await self._carry_out(self.session.reject(ErrorCode(exc.code), exc.message))
            return
        except StoreUnavailable:
            await self._carry_out(
                self.session.reject(ErrorCode.UNAVAILABLE, "the event store is unavailable")
            )
            return
        except PlacedElsewhere as moved:
            await self.send(Redirect(moved.url, ref=hello.id))
            await self._carry_out(self.session.close(CloseCode.REDIRECT, "conference elsewhere"))
            return
        self.session.accept(time.monotonic())
        if self.session.state is not State.JOINED:
            return
        try:
            resume = issue_resume_token(secret, grant, RESUME_TTL)
            now = time.time()
            # Fresh TURN credentials with every welcome, lapsing with the seat.
            ice_servers = self.palabra.turn.ice_servers(grant.participant, now, now + RESUME_TTL)
            self.member = await conference.join(
                participant, self, hello.id, resume, ice_servers=ice_servers
            )
        except JoinRefused as exc:  # the room changed since the check (locked meanwhile)
            await self.send(Error(ErrorCode(exc.code), exc.message, ref=hello.id))
            await self._carry_out(self.session.close(CloseCode.HANDSHAKE_FAILED, exc.code))
            return
        self.conference = conference
        logger.info(
            "joined %s as %s",
            conference.id,
            participant.role.value,
            extra={
                "conference": conference.id,
                "participant": participant.id,
                "role": participant.role.value,
            },
        )

    async def _publish(self, offer: PublishOffer) -> None:
        conference, member = self._joined()
        try:
            sdp = await conference.publisher(member).answer_publish(offer.sdp)
        except (MediaError, JoinRefused) as exc:
            await self.send(Error(ErrorCode(exc.code), exc.message, ref=offer.id))
            return
        await self.send(PublishAnswer(sdp, ref=offer.id))

    async def _subscribe_answer(self, answer: SubscribeAnswer) -> None:
        conference, member = self._joined()
        try:
            await conference.subscriber(member).apply_subscribe_answer(answer.sdp, answer.revision)
        except (MediaError, JoinRefused) as exc:
            await self.send(Error(ErrorCode(exc.code), exc.message, ref=answer.id))

    async def _room_command(self, message: RoomCommand) -> None:
        conference, member = self._joined()
        try:
            command = Command.from_dict({"kind": message.kind, **message.fields})
            await conference.execute(command, member.info.id, message.id)
        except RoomError as exc:
            await self.send(Error(ErrorCode(exc.code.value), exc.message, ref=message.id))
        except StoreUnavailable:
            await self.send(
                Error(
                    ErrorCode.UNAVAILABLE,
                    "the event store is unavailable; nothing changed",
                    ref=message.id,
                )
            )

    async def _technical(self, message: ProducerKeyframe | ParticipantDisconnect) -> None:
        conference, member = self._joined()
        try:
            if isinstance(message, ProducerKeyframe):
                conference.request_keyframe(member, message.producer_id)
            else:
                await conference.disconnect(member, message.participant_id)
        except JoinRefused as exc:
            await self.send(Error(ErrorCode(exc.code), exc.message, ref=message.id))

    def _joined(self) -> tuple[LiveConference, Member]:
        assert self.conference is not None and self.member is not None, "dispatched once joined"
        return self.conference, self.member

    async def _depart(self) -> None:
        member, self.member = self.member, None
        conference = self.conference
        if member is not None and conference is not None:
            await conference.leave(member, self._leave_reason)
            logger.info(
                "left %s (%s)",
                conference.id,
                self._leave_reason.value,
                extra={
                    "conference": conference.id,
                    "participant": member.info.id,
                    "reason": self._leave_reason.value,
                },
            )


async def websocket_handler(request: web.Request) -> web.WebSocketResponse:
    # Frames over the cap make aiohttp close with 1009 (message too big).
    ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES)
    await ws.prepare(request)
    palabra = palabra_of(request.app)
    connection = WebSocketConnection(ws, palabra)
    palabra.connections.add(connection)
    try:
        await connection.run()
    finally:
        palabra.connections.discard(connection)
    return ws
