"""One signaling WebSocket: the I/O shell around ``SignalingSession``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

from aiohttp import WSMsgType, web

from cluster.redis_store import StoreUnavailable
from conference.live import LiveConference
from conference.member import JoinRefused, Member
from media.errors import MediaError
from rooms import RoomError
from signaling import (
    MAX_MESSAGE_BYTES,
    ClientMessage,
    Close,
    CloseCode,
    Dispatch,
    Error,
    ErrorCode,
    Hello,
    InterpretationListen,
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
    ShareStop,
    SignalingSession,
    State,
    SubscribeAnswer,
    SubscribeOk,
    Verdict,
    VideoPin,
    encode,
)

from .client_commands import command_from_client
from .palabra import Palabra, PlacedElsewhere, palabra_of
from .tokens import RESUME, RESUME_TTL, TokenError, issue_resume_token, verify_token

logger = logging.getLogger(__name__)


# Room commands that a seat could alternate to flood the room and its minutes.
_FLOOR_TOGGLES = frozenset({"floor.request", "floor.cancel"})
# Private messages: each seat has its own budget (the texts are kept in the log).
_MESSAGE_SEND = "message.send"
# Seconds a close handshake may take before the socket is simply cut.
CLOSE_TIMEOUT = 2.0


@dataclass(frozen=True)
class _Closing:
    """The last item of an outbox: close the WebSocket once what precedes it is sent."""

    code: CloseCode
    reason: str


class WebSocketConnection:
    """One client's WebSocket: frames in, and a bounded outbox with its own writer.

    Nothing here waits for the peer: `send` only queues, so a conference that
    broadcasts under its lock never waits on a slow reader. A reader too slow
    for its queue is closed with 4011.
    """

    def __init__(
        self,
        ws: web.WebSocketResponse,
        palabra: Palabra,
        transport: asyncio.Transport | None = None,
    ) -> None:
        self.ws = ws
        self.palabra = palabra
        self.limits = palabra.config.limits
        timeout = palabra.config.heartbeat_timeout
        self.session = SignalingSession(
            time.monotonic(), ping_after=timeout * 4 / 9, drop_after=timeout
        )
        # Set when a timer of the session moves earlier (a probe): the
        # heartbeat task wakes up to re-read the deadline.
        self._timers_changed = asyncio.Event()
        self.member: Member | None = None
        self.conference: LiveConference | None = None
        self._leave_reason = LeaveReason.DISCONNECTED
        self.transport = transport
        self._outbox: asyncio.Queue[str | _Closing] = asyncio.Queue(self.limits.outbox)
        self._closing = False  # the close is queued: nothing more is sent
        self._cut = False  # the outbox overflowed: closing without sending the rest
        self._writer: asyncio.Task[None] | None = None
        self._rate = self.limits.messages(time.monotonic())

    @property
    def queued(self) -> int:
        """Messages waiting in the outbox."""
        return self._outbox.qsize()

    async def send(self, message: ServerMessage) -> None:
        """Queue `message` for the client; never waits (see the class docstring)."""
        self._post(message)

    async def close(self, code: CloseCode, reason: str) -> None:
        """Server-initiated close (shutdown, replaced by a newer connection)."""
        if code == CloseCode.REPLACED:
            self.member = None  # the conference already handed the seat over
        await self._carry_out(self.session.close(code, reason))

    def _queue_close(self, code: CloseCode, reason: str) -> None:
        if self._closing:
            return
        try:
            self._outbox.put_nowait(_Closing(code, reason))
        except asyncio.QueueFull:
            self._overflow()
            return
        self._closing = True

    def _overflow(self) -> None:
        """The client does not read: drop what is queued and close it at once."""
        if self._cut:
            return
        self._cut = True
        logger.warning(
            "closing a connection that does not read (%d messages queued)",
            self._outbox.qsize(),
            extra={"participant": self.member.info.id if self.member else None},
        )
        self._closing = True
        self.session.close(CloseCode.SLOW_CONSUMER, "outgoing queue full")
        if self._writer is not None:
            self._writer.cancel()
        self._writer = asyncio.ensure_future(
            self._shut(_Closing(CloseCode.SLOW_CONSUMER, "outgoing queue full"))
        )

    async def _write(self) -> None:
        """The writer: send the outbox in order; a queued close ends it."""
        while True:
            item = await self._outbox.get()
            if isinstance(item, _Closing):
                await self._shut(item)
                return
            try:
                await self.ws.send_str(item)
            except (ConnectionError, RuntimeError):
                return  # the socket is gone; the reader sees it end

    async def _shut(self, closing: _Closing) -> None:
        closed = False
        try:
            await asyncio.wait_for(
                self.ws.close(code=int(closing.code), message=closing.reason.encode()),
                CLOSE_TIMEOUT,
            )
            closed = True
        except (TimeoutError, ConnectionError, RuntimeError):
            pass
        finally:
            # A peer that reads nothing never completes the handshake (and a
            # send cut short may cancel this one): cut the socket.
            if not closed and self.transport is not None:
                self.transport.abort()

    async def run(self) -> None:
        self._writer = asyncio.ensure_future(self._write())
        timer = asyncio.ensure_future(self._heartbeat())
        try:
            async for frame in self.ws:
                if frame.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    if not self._admit(time.monotonic()):
                        continue
                    if frame.type == WSMsgType.BINARY:  # the protocol is text frames only
                        self._post(Error(ErrorCode.BAD_JSON, "binary frames are not accepted"))
                        continue
                    await self._carry_out(self.session.receive(frame.data, time.monotonic()))
                elif frame.type == WSMsgType.ERROR:
                    break
        finally:
            timer.cancel()
            await self._depart()
            if self._writer is not None and not self._closing:
                self._writer.cancel()

    def _admit(self, now: float) -> bool:
        """Count a frame against the connection's rate; False if it is not acted on."""
        verdict = self._rate.take(now)
        if verdict is Verdict.ALLOW:
            return True
        if verdict is Verdict.CLOSE:
            self._carry_out_now(self.session.close(CloseCode.RATE_LIMITED, "rate limited"))
        else:
            text = f"over {self.limits.messages_per_second:g} messages per second; not acted on"
            self._post(Error(ErrorCode.RATE_LIMITED, text))
        return False

    def _post(self, message: ServerMessage) -> None:
        if self._closing or self.ws.closed:
            return
        try:
            self._outbox.put_nowait(encode(message))
        except asyncio.QueueFull:
            self._overflow()

    def _carry_out_now(self, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            if isinstance(outcome, Close):
                self._queue_close(outcome.code, outcome.reason)

    async def probe(self, within: float) -> None:
        """The client's media fell silent: it must answer a ping within ``within`` s."""
        await self._carry_out(self.session.probe(time.monotonic(), within))
        self._timers_changed.set()

    async def _heartbeat(self) -> None:
        while self.session.state is not State.CLOSED:
            delay = self.session.next_deadline() - time.monotonic()
            self._timers_changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._timers_changed.wait(), max(0.05, delay))
            await self._carry_out(self.session.tick(time.monotonic()))

    async def _carry_out(self, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            match outcome:
                case Send(message):
                    await self.send(message)
                case Close(code, reason):
                    if code == CloseCode.HEARTBEAT_TIMEOUT:
                        self._leave_reason = LeaveReason.TIMEOUT
                    self._queue_close(code, reason)
                case Dispatch(message):
                    await self._dispatch(message)

    async def _dispatch(self, message: ClientMessage) -> None:
        try:
            await self._act_on(message)
        except Exception:  # a defect: answer it, keep the connection, log the traceback
            logger.exception("handling %s failed", type(message).__name__)
            await self.send(Error(ErrorCode.INTERNAL, "the server failed; retry", ref=message.id))

    async def _act_on(self, message: ClientMessage) -> None:
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
            case InterpretationListen():
                await self._listen(message)
            case ShareStop():
                await self._stop_share(message)
            case VideoPin():
                await self._pin(message)
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
            grace = self.palabra.config.resume_grace
            resume = issue_resume_token(secret, grant, grace)
            now = time.time()
            # Fresh TURN credentials with every welcome, lapsing with the seat.
            seat_ends = min(now + RESUME_TTL, grant.link_expires_at + grace)
            ice_servers = self.palabra.turn.ice_servers(grant.participant, now, seat_ends)
            self.member = await conference.join(
                participant,
                self,
                hello.id,
                resume,
                keep_media=hello.keep_media,
                ice_servers=ice_servers,
                receives=frozenset(kind.value for kind in hello.subscribe.kinds),
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
            sdp = await conference.publish(
                member, offer.sdp, offer.share, self.limits.max_tracks, restart=offer.restart
            )
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
            return
        await self.send(SubscribeOk(answer.revision, ref=answer.id))

    async def _room_command(self, message: RoomCommand) -> None:
        conference, member = self._joined()
        if message.kind in _FLOOR_TOGGLES and not self._toggle_allowed(conference, member):
            text = f"over {self.limits.floor_toggles_per_minute:g} floor requests per minute"
            await self.send(Error(ErrorCode.RATE_LIMITED, text, ref=message.id))
            return
        if message.kind == _MESSAGE_SEND and not self._message_allowed(conference, member):
            text = f"over {self.limits.messages_sent_per_minute:g} messages per minute"
            await self.send(Error(ErrorCode.RATE_LIMITED, text, ref=message.id))
            return
        try:
            command = command_from_client(message)
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

    async def _listen(self, message: InterpretationListen) -> None:
        conference, member = self._joined()
        try:
            await conference.listen(member, message.channel, message.id)
        except JoinRefused as exc:
            await self.send(Error(ErrorCode(exc.code), exc.message, ref=message.id))

    async def _pin(self, message: VideoPin) -> None:
        conference, member = self._joined()
        try:
            await conference.pin(member, message.participant_id, message.id)
        except JoinRefused as exc:
            await self.send(Error(ErrorCode(exc.code), exc.message, ref=message.id))

    async def _stop_share(self, message: ShareStop) -> None:
        conference, member = self._joined()
        try:
            await conference.stop_share(member, message.participant_id, message.id)
        except JoinRefused as exc:
            await self.send(Error(ErrorCode(exc.code), exc.message, ref=message.id))

    def _toggle_allowed(self, conference: LiveConference, member: Member) -> bool:
        """Per seat, so that reconnecting does not refill it."""
        now = time.monotonic()
        toggles = conference.floor_toggles.setdefault(
            member.info.id, self.limits.floor_toggles(now)
        )
        return toggles.take(now) is Verdict.ALLOW

    def _message_allowed(self, conference: LiveConference, member: Member) -> bool:
        """Per seat, like the floor toggles."""
        now = time.monotonic()
        budget = conference.message_budgets.setdefault(
            member.info.id, self.limits.messages_sent(now)
        )
        return budget.take(now) is Verdict.ALLOW

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
    # Frames over the cap close with 1009 (message too big). aiohttp refuses a
    # frame of exactly max_msg_size, the protocol allows it: one byte more.
    ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES + 1)
    await ws.prepare(request)
    palabra = palabra_of(request.app)
    connection = WebSocketConnection(ws, palabra, request.transport)
    palabra.connections.add(connection)
    try:
        await connection.run()
    finally:
        palabra.connections.discard(connection)
    return ws
