"""A Python client for the Palabra protocol: signaling over ``websockets``
plus the two aiortc peer connections.

Used by the integration tests, the load generator and integrations such as
bots or recorders. ``decode=False`` makes a cheap subscriber: packets are
counted at the receiver and never depacketized or decoded; ``subscribe=False``
a publish-only one that is sent nothing (or ``Subscription(video=False)``:
audio only). ``red=True`` (with ``decode=False``) negotiates RED (RFC 2198)
for audio on both connections, as Chromium does: aiortc has no RED encoder
or decoder, so such a client counts what it receives and publishes audio
only through :meth:`PalabraClient.send_audio_rtp`.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import itertools
import logging
import random
import struct
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import websockets
from aiortc import (
    MediaStreamTrack,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError

from media import rtcp
from media.aiortc_hooks import (
    MediaSocket,
    announce_addresses,
    gathering_on,
    intercept_keyframe_requests,
    negotiated_codecs,
    primary_payload_type,
    quiet_rtcp,
    receiver_rtx_ssrcs,
    red_payload_type,
    restrict_codecs,
    route_unknown_ssrc,
    sender_info,
    skip_decoder,
)
from media.nack import NackTracker
from media.router import rtc_configuration
from media.sdp import with_red_parameters
from media.transport import IdleTrack, forwarded_codec_preferences
from media.vp8 import is_keyframe_start
from signaling import (
    PROTOCOL_VERSION,
    ClientMessage,
    CloseCode,
    Error,
    Hello,
    InterpretationListen,
    InterpretationListening,
    Leave,
    MessageHistory,
    ParticipantInfo,
    ParticipantJoined,
    ParticipantLeft,
    Ping,
    Pong,
    ProducerAdded,
    ProducerInfo,
    ProducerRemoved,
    PublishAnswer,
    PublishLayers,
    PublishOffer,
    Redirect,
    RoomCommand,
    RoomUpdate,
    ServerMessage,
    ShareStop,
    ShareStopped,
    StreamInfo,
    SubscribeAnswer,
    SubscribeOffer,
    SubscribeOk,
    SubscribeStreams,
    Subscription,
    VideoPin,
    VideoPinned,
    Welcome,
    encode,
    parse_server_message,
)

from .clip import Clip
from .simulcast import SimulcastSender, simulcast_offer

MAX_REDIRECTS = 3
# Seconds a re-created publisher connection may take to connect before the
# next try (the server's rule for the subscriber connection, ATTEMPT_TIMEOUT).
ATTEMPT_TIMEOUT = 4.0


logger = logging.getLogger(__name__)


class ClientError(Exception):
    """The server answered a request with an ``error`` message."""

    def __init__(self, error: Error) -> None:
        super().__init__(f"{error.code}: {error.message}")
        self.error = error


# A packet a subscriber kept: arrival, sequence, timestamp, marker, payload.
KeptPacket = tuple[float, int, int, bool, bytes]
SILENCE = 0.2  # seconds without a frame that count as a pause of the stream


@dataclass
class RemoteStream:
    """What one subscriber m-line currently carries, and what arrived on it."""

    mid: str
    producer_id: str
    participant_id: str
    kind: str
    track: MediaStreamTrack | None = None
    # A producer's audio: whether the server forwards it now (the floor, a mute).
    audible: bool | None = None
    source: str | None = None  # "screen" for a screen share
    # A video: whether the server sends it now (False: held for this
    # subscriber's downlink or by last-N; a browser shows the name instead).
    forwarded: bool | None = None
    frames: int = 0
    packets: int = 0
    bytes: int = 0
    keyframes: int = 0
    lost: int = 0  # decode=False: sequence gaps not (yet) repaired
    retransmitted: int = 0  # decode=False: RTX packets that repaired a gap
    created_at: float = field(default_factory=time.monotonic)
    first_frame_at: float | None = None
    last_frame: Any = None  # av.VideoFrame / av.AudioFrame when decoding
    last_frame_at: float | None = None
    # The first frame after a silence of SILENCE seconds or more (floor granted).
    resumed_at: float | None = None
    # decode=False: set to a list to log (arrival, sequence, timestamp, payload bytes)
    # of every packet.
    trace: list[tuple[float, int, int, int]] | None = None
    # decode=False: packets per RTP payload type, and the last payload received.
    payload_types: dict[int, int] = field(default_factory=dict)
    last_payload: builtins.bytes = b""
    # decode=False: set to a list to keep (arrival, sequence, timestamp, marker,
    # payload) of every media packet, to depacketize and decode afterwards.
    payloads: list[KeptPacket] | None = None

    def record_frame(self, now: float) -> None:
        self.frames += 1
        if self.first_frame_at is None:
            self.first_frame_at = now
        if self.last_frame_at is None or now - self.last_frame_at >= SILENCE:
            self.resumed_at = now
        self.last_frame_at = now


class SenderTrack(MediaStreamTrack):
    """What one publisher connection sends of a source track.

    aiortc stops a sender's track when its connection ends; the source must
    outlive the connection that failed, to be sent again on the next one.
    """

    def __init__(self, source: MediaStreamTrack) -> None:
        super().__init__()
        self.kind = source.kind
        self.source = source

    async def recv(self) -> Any:
        if self.readyState != "live":
            raise MediaStreamError
        return await self.source.recv()


class PalabraClient:
    def __init__(
        self,
        url: str,
        token: str,
        *,
        media_addresses: Sequence[str] | None = None,
        ice_servers: Sequence[RTCIceServer] = (),
        decode: bool = True,
        prefer_turn: str | None = None,
        subscribe: bool | Subscription = True,
        local_address: str | None = None,
        red: bool = False,
    ) -> None:
        if red and decode:
            raise ValueError("aiortc cannot decode RED: red=True needs decode=False")
        if media_addresses is not None:
            announce_addresses(media_addresses)
        # This client's own address, for its peer connections and its
        # WebSocket (a test cuts one client off by it); None: as announced.
        self._local_addresses = [local_address] if local_address is not None else None
        self.url = url
        # Where the client first connects; a redirect changes `url` only until
        # an attempt there fails (the owner may have died and been replaced).
        self.entry_url = url
        self.token = token
        self.decode = decode
        self.red = red
        # Audio sent by send_audio_rtp: sequence number, SSRC (once negotiated).
        self._audio_sequence = random.randint(0, 0x7FFF)
        self._audio_socket: MediaSocket | None = None
        # What the server is asked to send (hello.subscribe).
        self.subscription = (
            subscribe
            if isinstance(subscribe, Subscription)
            else Subscription(audio=subscribe, video=subscribe)
        )
        self.welcome: Welcome | None = None
        self.participants: dict[str, ParticipantInfo] = {}
        self.producers: dict[str, ProducerInfo] = {}
        self.streams: dict[str, RemoteStream] = {}  # by mid, active m-lines only
        # The last subscribe.offer whose answer the server applied (subscribe.ok).
        self.applied_revision: int | None = None
        self.errors: list[Error] = []
        # The room as the server last described it (room.update), and its events.
        self.room: dict[str, Any] = {}
        self.room_events: list[Mapping[str, object]] = []
        # The messages this seat may read: the last message.history, then each message.sent.
        self.inbox: list[Mapping[str, object]] = []
        self.histories = 0  # message.history received (one per entry into the room)
        self.room_seq = 0
        self.messages: list[ServerMessage] = []
        self.sent: list[ClientMessage] = []  # every message sent, in order
        self.close_code: int | None = None
        self.close_reason: str = ""
        self.closed = asyncio.Event()
        self.hello_sent_at: float | None = None
        self._closing = False
        self._keeping_media = False  # a resume() asked the server to keep the media
        self._configuration = rtc_configuration(ice_servers)
        # Without servers of its own, the client uses the TURN servers of each welcome.
        # aiortc uses one TURN URL only: the first, or the first starting with
        # ``prefer_turn`` ("turns:" behind a firewall that lets only TLS out).
        self._turn_from_welcome = not ice_servers
        self._prefer_turn = prefer_turn
        # First time each step of a join happened (time.monotonic()): welcome,
        # subscribe_offer, subscribe_answer, subscriber_connected.
        self.timeline: dict[str, float] = {}
        self._counter: PacketCounter | None = None
        # Connections re-created after an ICE failure, each side.
        self.restarts = {"publisher": 0, "subscriber": 0}
        # What publish() sent, to offer again on a re-created publisher connection.
        self._published: list[MediaStreamTrack] = []
        self._publisher_restart: asyncio.Task[None] | None = None
        # A synthetic simulcast publisher (publish_simulcast): the offer's
        # extra lines, and what sends the layers.
        self._simulcast: tuple[RTCRtpTransceiver, tuple[str, ...]] | None = None
        self.simulcast_sender: SimulcastSender | None = None
        # Whether it stops the layers nobody watches when told (publish.layers);
        # False: an older client, which sends every layer.
        self.follow_layers = True
        self._retired: set[asyncio.Task[None]] = set()
        self._new_peer_connections()
        self._tracks: dict[str, MediaStreamTrack] = {}
        self._readers: list[asyncio.Task[None]] = []
        self._ws: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self._waiters: dict[int | str, asyncio.Future[ServerMessage]] = {}
        self._welcome = asyncio.get_running_loop().create_future()
        self._changed = asyncio.Condition()
        self._negotiation = asyncio.Lock()

    def _new_peer_connections(self) -> None:
        self._new_publisher()
        self._new_subscriber()

    def _new_publisher(self) -> None:
        publisher = self.publisher = RTCPeerConnection(self._configuration)
        # A new connection has no share m-line (a share is not carried over a restart).
        self._share: RTCRtpTransceiver | None = None
        self._sharing = False

        @publisher.on("connectionstatechange")
        def _changed() -> None:
            if publisher is not self.publisher or self._closing:
                return
            if publisher.connectionState in ("failed", "closed") and self._published:
                # ICE failed (aiortc has no ICE restart): a new connection.
                self._restart_publisher()

    def _new_subscriber(self) -> None:
        subscriber = self.subscriber = RTCPeerConnection(self._configuration)
        subscriber.on("track", self._on_track)

        @subscriber.on("connectionstatechange")
        def _connected() -> None:
            if subscriber.connectionState == "connected":
                self.timeline.setdefault("subscriber_connected", time.monotonic())

        # decode=False counts at the socket of the (new) subscriber connection.
        if self._counter is not None:
            self._counter.close()
        self._counter = None if self.decode else PacketCounter(self)

    def _retire(self, connection: RTCPeerConnection) -> None:
        task = asyncio.ensure_future(connection.close())
        self._retired.add(task)
        task.add_done_callback(self._retired.discard)

    # --- connection ---------------------------------------------------------

    async def connect(self) -> None:
        local: dict[str, Any] = {}
        if self._local_addresses:
            local["local_addr"] = (self._local_addresses[0], 0)
        self._ws = await websockets.connect(self.url, max_size=None, **local)
        self._reader = asyncio.ensure_future(self._read())

    async def join(
        self, timeout: float = 10.0, resume: str | None = None, keep_media: bool = False
    ) -> Welcome:
        """Connect (if needed), say hello and wait for the welcome.

        Follows ``redirect`` to the node that serves the conference.
        """
        for _ in range(MAX_REDIRECTS + 1):
            if self._ws is None:
                try:
                    await self.connect()
                except OSError:
                    if self.url == self.entry_url:
                        raise
                    # The node we were sent to is gone: ask the entry again,
                    # which knows the conference's current owner.
                    self.url = self.entry_url
                    continue
            self.hello_sent_at = time.monotonic()
            await self.send(
                Hello(
                    version=PROTOCOL_VERSION,
                    token=self.token,
                    resume=resume,
                    keep_media=keep_media,
                    subscribe=self.subscription,
                )
            )
            done, _ = await asyncio.wait(
                [self._welcome, asyncio.ensure_future(self.closed.wait())],
                timeout=timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if self._welcome in done:
                welcome: Welcome = self._welcome.result()
                return welcome
            moved = [m for m in self.messages if isinstance(m, Redirect)]
            if self.close_code == CloseCode.REDIRECT and moved:
                self.url = moved[-1].url
                await self._reset_connection()
                continue
            break
        if self.errors:
            raise ClientError(self.errors[-1])
        raise TimeoutError(f"no welcome (closed with {self.close_code} {self.close_reason})")

    def _ordered(self, urls: Sequence[str]) -> list[str]:
        preferred = self._prefer_turn
        if preferred is None:
            return list(urls)
        return sorted(urls, key=lambda url: not url.startswith(preferred))

    async def reconnect(self, timeout: float = 10.0) -> Welcome:
        """Drop the connection without leaving, and come back with the resume token.

        The media starts afresh (new peer connections): publish again after it.
        """
        resume = self.welcome.resume_token if self.welcome is not None else None
        await self._reset_connection()
        await self._restart_media()
        return await self.join(timeout, resume=resume)

    async def resume(self, timeout: float = 10.0) -> Welcome:
        """After a dropped connection, come back keeping the peer connections.

        Only signaling is re-established when the server kept its side
        (``welcome.media_kept``); otherwise the media starts afresh as in
        :meth:`reconnect` and the caller publishes again.
        """
        resume = self.welcome.resume_token if self.welcome is not None else None
        await self._reset_connection()
        self._keeping_media = True
        try:
            return await self.join(timeout, resume=resume, keep_media=True)
        finally:
            self._keeping_media = False

    def abort_connection(self) -> None:
        """Cut the WebSocket's TCP connection at once, as a network failure would."""
        if self._ws is not None:
            self._ws.transport.abort()

    async def _restart_media(self) -> None:
        self._published = []  # the caller publishes again
        if self._publisher_restart is not None:
            self._publisher_restart.cancel()
        for task in self._readers:
            task.cancel()
        await asyncio.gather(self.publisher.close(), self.subscriber.close())
        self._new_peer_connections()
        self.streams.clear()
        self._tracks.clear()

    async def _reset_connection(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self._ws = self._reader = None
        self.closed.clear()
        self.close_code, self.close_reason = None, ""
        self._welcome = asyncio.get_running_loop().create_future()

    async def send(self, message: ClientMessage) -> None:
        self.sent.append(message)
        await self.send_raw(encode(message))

    async def send_raw(self, data: str | bytes) -> None:
        await self._ws.send(data)

    async def request(self, message: ClientMessage, timeout: float = 10.0) -> ServerMessage:
        """Send a message with a fresh ``id`` and wait for the reply that refers to it."""
        assert message.id is not None
        future = asyncio.get_running_loop().create_future()
        self._waiters[message.id] = future
        try:
            await self.send(message)
            reply: ServerMessage = await asyncio.wait_for(future, timeout)
        finally:
            self._waiters.pop(message.id, None)
        if isinstance(reply, Error):
            raise ClientError(reply)
        return reply

    async def send_message(self, to: str, text: str) -> RoomUpdate:
        """Write to a thread (``delegation:<id>``, ``seat:<participant>``, ``everyone``)."""
        return await self.command("message.send", to=to, text=text)

    async def command(self, kind: str, **fields: object) -> RoomUpdate:
        """Send a room command (floor control, moderation); raise ClientError if refused."""
        update = await self.request(RoomCommand(kind, fields, id=self.next_id()))
        assert isinstance(update, RoomUpdate)
        return update

    # --- interpretation ---------------------------------------------------------

    LISTEN_FEED = "feed:listen"  # the channel a listener chose, or an interpreter's relay
    PARTNER_FEED = "feed:partner"  # a passive interpreter's partner on air

    async def listen(self, channel: str | None) -> InterpretationListening:
        """Hear ``channel`` (a language) besides the floor; None: the floor only."""
        reply = await self.request(InterpretationListen(channel, id=self.next_id()))
        assert isinstance(reply, InterpretationListening)
        return reply

    async def pin(self, participant_id: str | None) -> VideoPinned:
        """See ``participant_id``'s video in the middle layer (simulcast); None: unpin."""
        reply = await self.request(VideoPin(participant_id, id=self.next_id()))
        assert isinstance(reply, VideoPinned)
        return reply

    def feed_stream(self, feed: str = LISTEN_FEED) -> RemoteStream | None:
        """The stream of a feed (``LISTEN_FEED`` or ``PARTNER_FEED``), once offered."""
        return next((s for s in self.streams.values() if s.producer_id == feed), None)

    @property
    def interpretation(self) -> dict[str, Any]:
        """The room's interpretation state: languages, channels, booths."""
        state: dict[str, Any] = self.room.get("interpretation") or {}
        return state

    def next_id(self) -> int:
        return next(self._ids)

    async def _read(self) -> None:
        try:
            async for data in self._ws:
                message = parse_server_message(data)
                self.messages.append(message)
                await self._handle(message)
        except websockets.ConnectionClosed:
            pass
        except Exception:
            # A failed negotiation must not leave a half-dead client that
            # the server only notices by its heartbeat timeout.
            if not self._closing:
                logger.exception("client %s: handling a server message failed", self.token[-8:])
            await self._ws.close()
        finally:
            if self._ws.close_code is not None:
                self.close_code = self._ws.close_code
                self.close_reason = self._ws.close_reason or ""
            self.closed.set()
            for future in self._waiters.values():
                if not future.done():
                    future.set_exception(ConnectionError("connection closed"))
            await self._notify()

    async def _handle(self, message: ServerMessage) -> None:
        ref = getattr(message, "ref", None)
        if ref is not None and ref in self._waiters and not self._waiters[ref].done():
            self._waiters[ref].set_result(message)
        match message:
            case Welcome():
                if self._keeping_media and not message.media_kept:
                    # Before any subscribe.offer for the new connections is read.
                    await self._restart_media()
                self.timeline.setdefault("welcome", time.monotonic())
                self.welcome = message
                if self._turn_from_welcome:
                    # The peer connections share this object and read it when they gather.
                    self._configuration.iceServers = [
                        RTCIceServer(self._ordered(s.urls), s.username, s.credential)
                        for s in message.ice_servers
                    ]
                self.participants = {p.id: p for p in message.participants}
                self.producers = {p.id: p for p in message.producers}
                if not self._welcome.done():
                    self._welcome.set_result(message)
            case ParticipantJoined():
                self.participants[message.participant.id] = message.participant
            case ParticipantLeft():
                self.participants.pop(message.participant_id, None)
            case ProducerAdded():
                self.producers[message.producer.id] = message.producer
            case ProducerRemoved():
                self.producers.pop(message.producer_id, None)
            case PublishLayers():
                sender = self.simulcast_sender
                if sender is not None and sender.mid == message.mid and self.follow_layers:
                    sender.send_only(message.active)
            case SubscribeOffer():
                await self._answer_subscribe(message)
            case SubscribeOk():
                self.applied_revision = message.revision
            case SubscribeStreams():
                self._update_streams(message.streams)
            case Ping():
                await self.send(Pong())
            case RoomUpdate():
                self.room = dict(message.state)
                self.room_events.extend(message.events)
                self.inbox.extend(_as_message(e) for e in message.events if e.get("type") == SENT)
                self.room_seq = message.seq
            case MessageHistory():
                self.inbox = list(message.messages)
                self.histories += 1
            case Error():
                self.errors.append(message)
        await self._notify()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until ``predicate()`` holds (checked on every message, and every 20 ms)."""

        async def waiting() -> None:
            while not predicate():
                async with self._changed:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), 0.02)

        await asyncio.wait_for(waiting(), timeout)

    # --- publishing -----------------------------------------------------------

    async def publish(
        self, video: MediaStreamTrack | None = None, audio: MediaStreamTrack | None = None
    ) -> None:
        tracks = [t for t in (audio, video) if t is not None]
        self._published += tracks
        for track in tracks:
            self._add_track(self.publisher, track)
        await self._offer(self.publisher, restart=False)

    async def publish_simulcast(
        self,
        layers: Sequence[tuple[str, Clip]],
        audio: MediaStreamTrack | None = None,
        temporal_layers: int = 1,
    ) -> SimulcastSender:
        """Publish pre-encoded VP8 layers as a browser publishes simulcast (lowest first).

        The offer carries ``a=simulcast``/``a=rid`` and the RID extensions;
        the layers are sent once the server's answer accepts them (ValueError
        if it answered a single layer). Not continued on a re-created
        publisher connection. ``temporal_layers``: the VP8 TIDs its frames are
        marked with (1, 2 or 3: :class:`client.simulcast.SimulcastSender`).
        """
        if audio is not None:
            self._published.append(audio)
            self._add_track(self.publisher, audio)
        video = self.publisher.addTransceiver(IdleTrack("video"), direction="sendonly")
        video.setCodecPreferences(forwarded_codec_preferences("video"))
        rids = tuple(rid for rid, _ in layers)
        self._simulcast = (video, rids)
        answer = await self._offer(self.publisher, restart=False)
        if "a=simulcast:recv " + ";".join(rids) not in answer:
            raise ValueError("the server answered a single layer")
        payload_type = negotiated_codecs(video)[0].payloadType
        sender = SimulcastSender(
            self.publisher, video.mid or "", layers, payload_type, temporal_layers
        )
        self.simulcast_sender = sender
        sender.start()
        return sender

    def _add_track(
        self, publisher: RTCPeerConnection, track: MediaStreamTrack
    ) -> RTCRtpTransceiver:
        transceiver = publisher.addTransceiver(SenderTrack(track), direction="sendonly")
        transceiver.setCodecPreferences(forwarded_codec_preferences(track.kind, self.red))
        request_keyframe = getattr(track, "request_keyframe", None)
        if request_keyframe is not None:  # a track of pre-encoded packets
            intercept_keyframe_requests(transceiver.sender, request_keyframe)
        return transceiver

    def send_audio_rtp(
        self, payload: bytes, timestamp: int, red: bool = False, lose: int = 0
    ) -> None:
        """Send one audio RTP packet on the published audio stream, bypassing aiortc.

        For a client that publishes a track that never yields (aiortc's own
        sender then sends nothing) and writes the packets itself: Opus, or
        RED (``red``, RFC 2198, with ``red=True`` negotiated), as a browser does.
        ``lose``: sequence numbers skipped first, as if those packets were lost.
        """
        transceiver = next(
            t for t in self.publisher.getTransceivers() if t.kind == "audio" and t.mid
        )
        codecs = negotiated_codecs(transceiver)
        payload_type = red_payload_type(codecs) if red else primary_payload_type(codecs)
        if payload_type is None:
            raise ValueError("RED was not negotiated" if red else "no audio codec negotiated")
        socket = self._audio_socket
        if socket is None or socket.connection is not self.publisher:
            socket = self._audio_socket = MediaSocket(
                self.publisher, lambda data: None, lambda data: None
            )
            socket.attach()
        if not socket.ready:
            raise ConnectionError("the publisher connection is not connected")
        ssrc = sender_info(transceiver.sender).ssrc
        self._audio_sequence = (self._audio_sequence + lose) & 0xFFFF
        header = _HEADER.pack(0x80, payload_type, self._audio_sequence, timestamp, ssrc)
        self._audio_sequence = (self._audio_sequence + 1) & 0xFFFF
        socket.send_rtp(header + payload)

    async def share_screen(self, track: MediaStreamTrack) -> str:
        """Publish ``track`` as a screen share (an extra video m-line); return its mid.

        A second share goes on the same m-line (the publisher's media quota
        counts m-lines). ClientError if refused: nothing changed on the server.
        """
        transceiver = self._share
        if transceiver is None:
            transceiver = self._share = self._add_track(self.publisher, track)
        else:
            transceiver.sender.replaceTrack(track)
            transceiver.direction = "sendonly"
        self._sharing = True
        try:
            await self._offer(self.publisher, restart=False)
        except ClientError:
            self._sharing = False
            raise
        return transceiver.mid or ""

    async def stop_sharing(self) -> None:
        """Stop one's own share: the m-line goes inactive and the offer names no share."""
        if self._share is None:
            return
        self._sharing = False
        self._share.direction = "inactive"
        await self._offer(self.publisher, restart=False)

    async def stop_share(self, participant_id: str) -> ShareStopped:
        """The chair's command (or the sharer's own): stop ``participant_id``'s share."""
        reply = await self.request(ShareStop(participant_id, id=self.next_id()))
        assert isinstance(reply, ShareStopped)
        return reply

    async def _offer(self, publisher: RTCPeerConnection, restart: bool) -> str:
        with gathering_on(self._local_addresses):
            await publisher.setLocalDescription(await publisher.createOffer())
        share = self._share.mid if self._share is not None and self._sharing else None
        sdp = publisher.localDescription.sdp
        if self._simulcast is not None:
            transceiver, rids = self._simulcast
            sdp = simulcast_offer(sdp, transceiver.mid or "", rids)
        offer = PublishOffer(
            sdp=with_red_parameters(sdp) if self.red else sdp,
            share=share,
            id=self.next_id(),
            restart=restart,
        )
        answer = await self.request(offer)
        assert isinstance(answer, PublishAnswer)
        await publisher.setRemoteDescription(RTCSessionDescription(sdp=answer.sdp, type="answer"))
        return answer.sdp

    def _restart_publisher(self) -> None:
        if self._publisher_restart is None or self._publisher_restart.done():
            self._publisher_restart = asyncio.ensure_future(self._recover_publisher())

    async def _recover_publisher(self) -> None:
        """Publish the same tracks on new connections until one connects.

        Each try that has not connected within ATTEMPT_TIMEOUT (the network
        is still down) is replaced by a fresh one, so that the media comes
        back soon after the network does.
        """
        while not self._closing:
            if self._ws is None or self.closed.is_set():
                await asyncio.sleep(ATTEMPT_TIMEOUT)  # no signaling: offer once it is back
                continue
            old = self.publisher
            self._new_publisher()
            self.restarts["publisher"] += 1
            self._retire(old)
            try:
                for track in self._published:
                    self._add_track(self.publisher, track)
                await self._offer(self.publisher, restart=True)
            except (ClientError, ConnectionError, TimeoutError, websockets.ConnectionClosed) as exc:
                logger.info("publisher restart refused or cut short: %s", exc)
                await asyncio.sleep(ATTEMPT_TIMEOUT)
                continue
            if await _connects(self.publisher, ATTEMPT_TIMEOUT):
                return

    # --- subscribing ----------------------------------------------------------

    async def _answer_subscribe(self, offer: SubscribeOffer) -> None:
        self.timeline.setdefault("subscribe_offer", time.monotonic())
        async with self._negotiation:
            if offer.restart:
                # The server re-created its side (ICE failed): answer on a new connection.
                old = self.subscriber
                for task in self._readers:
                    task.cancel()
                self._readers.clear()
                self._new_subscriber()
                self.restarts["subscriber"] += 1
                self.streams.clear()
                self._tracks.clear()
                self._retire(old)
            await self.subscriber.setRemoteDescription(
                RTCSessionDescription(sdp=offer.sdp, type="offer")
            )
            for transceiver in self.subscriber.getTransceivers():
                # The server offers RED too: this client takes it only when asked.
                restrict_codecs(
                    transceiver, forwarded_codec_preferences(transceiver.kind, self.red)
                )
            with gathering_on(self._local_addresses):
                await self.subscriber.setLocalDescription(await self.subscriber.createAnswer())
            if self._counter is not None:
                self._counter.socket.attach()
            active = {s.mid: s for s in offer.streams}
            for mid in list(self.streams):
                current = self.streams[mid]
                if mid not in active or active[mid].producer_id != current.producer_id:
                    del self.streams[mid]
            for mid, info in active.items():
                if mid not in self.streams:
                    self.streams[mid] = RemoteStream(
                        mid,
                        info.producer_id,
                        info.participant_id,
                        info.kind,
                        track=self._tracks.get(mid),
                        source=info.source,
                    )
            self._update_streams(offer.streams)
            await self.send(
                SubscribeAnswer(
                    sdp=with_red_parameters(self.subscriber.localDescription.sdp),
                    revision=offer.revision,
                    id=self.next_id(),
                )
            )
            self.timeline.setdefault("subscribe_answer", time.monotonic())

    def _update_streams(self, streams: Sequence[StreamInfo]) -> None:
        """What the server says of the streams now (``audible``, ``forwarded``)."""
        for info in streams:
            stream = self.streams.get(info.mid)
            if stream is not None and stream.producer_id == info.producer_id:
                stream.audible = info.audible
                stream.forwarded = info.forwarded

    def _on_track(self, track: MediaStreamTrack) -> None:
        transceiver = next(
            t for t in self.subscriber.getTransceivers() if t.receiver.track is track
        )
        mid: str = transceiver.mid or ""
        self._tracks[mid] = track
        if mid in self.streams:
            self.streams[mid].track = track
        if self.decode:
            self._readers.append(asyncio.ensure_future(self._read_frames(mid, track)))
        else:
            # Packets are counted at the socket (PacketCounter): the receiver
            # never sees them, so it needs neither a decoder nor RTCP.
            quiet_rtcp(transceiver.receiver)
            skip_decoder(transceiver.receiver)

    async def _read_frames(self, mid: str, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame = await track.recv()
                stream = self.streams.get(mid)
                if stream is not None:
                    stream.last_frame = frame
                    stream.record_frame(time.monotonic())
                    await self._notify()

    async def wait_for_streams(
        self, count: int, kind: str | None = None, timeout: float = 10.0, frames: int = 1
    ) -> list[RemoteStream]:
        """Wait until ``count`` streams (of ``kind``) each received ``frames`` frames."""

        def ready() -> list[RemoteStream]:
            return [
                s
                for s in self.streams.values()
                if (kind is None or s.kind == kind) and s.frames >= frames
            ]

        deadline = time.monotonic() + timeout
        while len(ready()) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{len(ready())} of {count} streams with {frames} frames: {self.streams}"
                )
            await asyncio.sleep(0.05)
        return ready()

    # --- leaving --------------------------------------------------------------

    async def leave(self) -> None:
        self._closing = True
        with contextlib.suppress(websockets.ConnectionClosed):
            await self.send(Leave())
        await self.close()

    async def close(self) -> None:
        self._closing = True
        if self._publisher_restart is not None:
            self._publisher_restart.cancel()
        if self.simulcast_sender is not None:
            await self.simulcast_sender.stop()
        for task in self._readers:
            task.cancel()
        if self._counter is not None:
            self._counter.close()
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await asyncio.gather(self.publisher.close(), self.subscriber.close(), *self._retired)


async def _connects(connection: RTCPeerConnection, timeout: float) -> bool:
    """Whether ``connection`` gets connected within ``timeout`` s (longer once ICE is through)."""
    deadline = time.monotonic() + timeout
    while connection.connectionState != "connected":
        if connection.connectionState in ("failed", "closed"):
            return False
        if time.monotonic() > deadline:
            if connection.iceConnectionState != "completed":
                return False
            deadline += timeout  # DTLS still shaking hands: let it finish
        await asyncio.sleep(0.05)
    return True


_HEADER = struct.Struct("!BBHII")


class _Inbound:
    """Reception state of one SSRC at a counting subscriber."""

    __slots__ = (
        "base",
        "cycles",
        "expected_prior",
        "max_seq",
        "media_ssrc",
        "mid",
        "missing",
        "received",
        "received_prior",
        "rtx",
    )

    def __init__(self, mid: str, media_ssrc: int, rtx: bool) -> None:
        self.mid = mid
        self.media_ssrc = media_ssrc
        self.rtx = rtx
        self.base = self.max_seq = -1
        self.cycles = self.received = self.expected_prior = self.received_prior = 0
        self.missing = NackTracker()  # the media SSRC's gaps, retried as a browser does


class Subscribing(Protocol):
    """What a :class:`PacketCounter` reads of its client (PalabraClient, or the
    benchmark's Janus client)."""

    subscriber: RTCPeerConnection
    streams: dict[str, RemoteStream]


class PacketCounter:
    """The ``decode=False`` subscriber: RTP counted at the transport.

    Datagrams are taken at the socket (:class:`media.aiortc_hooks.MediaSocket`),
    SRTP-unprotected (so every count is an authentic packet) and counted by
    SSRC: packets, bytes, frames (marker bits), keyframes, gaps. No jitter
    buffer, no depacketizing, no decoding. It still behaves as a receiver
    towards the SFU: a NACK for every video gap, retried until repaired or
    past the retransmission horizon (:mod:`media.nack`), and one compound
    receiver report per second, so the server's feedback path is measured too.
    Audio is not NACKed, as in a browser.
    """

    def __init__(self, client: Subscribing) -> None:
        self._client = client
        self.socket = MediaSocket(client.subscriber, self._on_rtp, lambda data: None)
        self._inbound: dict[int, _Inbound] = {}
        self._ssrc = random.getrandbits(32)
        self._task = asyncio.ensure_future(self._report_loop())
        self._nack_timer: asyncio.TimerHandle | None = None
        self._closed = False

    def close(self) -> None:
        self._closed = True
        self._task.cancel()
        if self._nack_timer is not None:
            self._nack_timer.cancel()
            self._nack_timer = None

    def _on_rtp(self, data: bytes) -> None:
        b0, b1, seq, timestamp, ssrc = _HEADER.unpack_from(data)
        inbound = self._inbound.get(ssrc)
        if inbound is None:
            inbound = self._route(ssrc, data)
            if inbound is None:
                return
        stream = self._client.streams.get(inbound.mid)
        if stream is None:
            return
        start = 12 + 4 * (b0 & 0x0F)
        if b0 & 0x10:
            start += 4 + 4 * ((data[start + 2] << 8) | data[start + 3])
        if inbound.rtx:
            if len(data) - start < 3:
                return  # padding
            seq = (data[start] << 8) | data[start + 1]
            start += 2
            inbound = self._inbound.get(inbound.media_ssrc) or inbound
            if inbound.missing.arrived(seq, time.monotonic(), retransmission=True):
                inbound.received += 1
                stream.retransmitted += 1
                stream.lost -= 1
            return
        max_seq = inbound.max_seq
        if max_seq < 0:
            inbound.base = inbound.max_seq = seq
        else:
            delta = (seq - max_seq) & 0xFFFF
            if delta == 0:
                return
            if delta < 0x8000:
                if seq < max_seq:
                    inbound.cycles += 0x10000
                if 1 < delta < 300:
                    gap = [(max_seq + i) & 0xFFFF for i in range(1, delta)]
                    stream.lost += len(gap)
                    if stream.kind == "video":
                        inbound.missing.lost(gap, time.monotonic())
                        self.socket.send_rtcp(rtcp.nack(self._ssrc, ssrc, gap))
                        self._schedule_nacks()
                inbound.max_seq = seq
            elif inbound.missing.arrived(seq, time.monotonic(), retransmission=False):
                stream.lost -= 1  # reordered, not lost
            else:
                return  # a duplicate or too old
        inbound.received += 1
        stream.packets += 1
        stream.bytes += len(data) - start
        payload_type = b1 & 0x7F
        stream.payload_types[payload_type] = stream.payload_types.get(payload_type, 0) + 1
        stream.last_payload = data[start:]
        if stream.trace is not None:
            stream.trace.append((time.monotonic(), seq, timestamp, len(data) - start))
        if stream.payloads is not None:
            end = len(data) - data[-1] if b0 & 0x20 else len(data)
            stream.payloads.append(
                (time.monotonic(), seq, timestamp, bool(b1 & 0x80), data[start:end])
            )
        if stream.kind == "video":
            if data[start] & 0x10 and is_keyframe_start(data[start:]):
                stream.keyframes += 1
            if not b1 & 0x80:
                return  # the marker bit closes a video frame
        stream.record_frame(time.monotonic())

    def _schedule_nacks(self) -> None:
        if self._nack_timer is not None or self._closed:
            return
        now = time.monotonic()
        checks = (i.missing.next_check(now, None) for i in self._inbound.values())
        waits = [w for w in checks if w is not None]
        if waits:
            self._nack_timer = asyncio.get_running_loop().call_later(min(waits), self._retry_nacks)

    def _retry_nacks(self) -> None:
        """Ask again for what is still missing; a packet past the horizon stays lost."""
        self._nack_timer = None
        now = time.monotonic()
        for ssrc, inbound in self._inbound.items():
            again, _ = inbound.missing.due(now, None)
            if again:
                self.socket.send_rtcp(rtcp.nack(self._ssrc, ssrc, again))
        self._schedule_nacks()

    def _route(self, ssrc: int, data: bytes) -> _Inbound | None:
        subscriber = self._client.subscriber
        for transceiver in subscriber.getTransceivers():
            media_ssrc = receiver_rtx_ssrcs(transceiver.receiver).get(ssrc)
            if media_ssrc is not None and transceiver.mid:
                inbound = self._inbound[ssrc] = _Inbound(transceiver.mid, media_ssrc, True)
                return inbound
        receiver = route_unknown_ssrc(self.socket, data)
        for transceiver in subscriber.getTransceivers():
            if transceiver.receiver is receiver and transceiver.mid:
                inbound = self._inbound[ssrc] = _Inbound(transceiver.mid, ssrc, False)
                return inbound
        return None

    async def _report_loop(self) -> None:
        while True:
            await asyncio.sleep(0.75 + 0.5 * random.random())
            blocks = []
            for ssrc, inbound in self._inbound.items():
                if inbound.rtx or inbound.max_seq < 0:
                    continue
                extended = inbound.cycles + inbound.max_seq
                expected = extended - inbound.base + 1
                interval = expected - inbound.expected_prior
                lost_interval = interval - (inbound.received - inbound.received_prior)
                inbound.expected_prior, inbound.received_prior = expected, inbound.received
                fraction = (lost_interval << 8) // interval if interval > 0 < lost_interval else 0
                blocks.append(
                    rtcp.ReportBlock(
                        ssrc, min(fraction, 255), expected - inbound.received, extended, 0, 0, 0
                    )
                )
            for i in range(0, len(blocks), 31):
                self.socket.send_rtcp(rtcp.receiver_report(self._ssrc, blocks[i : i + 31]))


SENT = "message.sent"


def _as_message(event: Mapping[str, object]) -> Mapping[str, object]:
    """A message.sent event as message.history shows it (sender_id for actor)."""
    fields = {k: v for k, v in event.items() if k not in ("type", "actor", "reason")}
    return {**fields, "sender_id": event["actor"]}
