"""A Python client for the Palabra protocol: signaling over ``websockets``
plus the two aiortc peer connections.

Used by the integration tests, the load generator and integrations such as
bots or recorders. ``decode=False`` makes a cheap subscriber: packets are
counted at the receiver and never depacketized or decoded.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import websockets
from aiortc import MediaStreamTrack, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RtpPacket

from media.aiortc_hooks import ReceiverTap, announce_addresses, intercept_keyframe_requests
from media.router import rtc_configuration
from media.transport import forwarded_codec_preferences
from media.vp8 import is_keyframe_start
from signaling import (
    PROTOCOL_VERSION,
    ClientMessage,
    Error,
    Hello,
    Leave,
    ParticipantInfo,
    ParticipantJoined,
    ParticipantLeft,
    Ping,
    Pong,
    ProducerAdded,
    ProducerInfo,
    ProducerRemoved,
    PublishAnswer,
    PublishOffer,
    ServerMessage,
    SubscribeAnswer,
    SubscribeOffer,
    Welcome,
    encode,
    parse_server_message,
)


class ClientError(Exception):
    """The server answered a request with an ``error`` message."""

    def __init__(self, error: Error) -> None:
        super().__init__(f"{error.code}: {error.message}")
        self.error = error


@dataclass
class RemoteStream:
    """What one subscriber m-line currently carries, and what arrived on it."""

    mid: str
    producer_id: str
    participant_id: str
    kind: str
    track: MediaStreamTrack | None = None
    frames: int = 0
    packets: int = 0
    bytes: int = 0
    keyframes: int = 0
    created_at: float = field(default_factory=time.monotonic)
    first_frame_at: float | None = None
    last_frame: Any = None  # av.VideoFrame / av.AudioFrame when decoding

    def record_frame(self, now: float) -> None:
        self.frames += 1
        if self.first_frame_at is None:
            self.first_frame_at = now


class PalabraClient:
    def __init__(
        self,
        url: str,
        token: str,
        *,
        media_addresses: Sequence[str] | None = None,
        ice_servers: Sequence[RTCIceServer] = (),
        decode: bool = True,
    ) -> None:
        if media_addresses is not None:
            announce_addresses(media_addresses)
        self.url = url
        self.token = token
        self.decode = decode
        self.welcome: Welcome | None = None
        self.participants: dict[str, ParticipantInfo] = {}
        self.producers: dict[str, ProducerInfo] = {}
        self.streams: dict[str, RemoteStream] = {}  # by mid, active m-lines only
        self.errors: list[Error] = []
        self.messages: list[ServerMessage] = []
        self.close_code: int | None = None
        self.close_reason: str = ""
        self.closed = asyncio.Event()
        self.hello_sent_at: float | None = None
        self._configuration = rtc_configuration(ice_servers)
        self.publisher = RTCPeerConnection(self._configuration)
        self.subscriber = RTCPeerConnection(self._configuration)
        self.subscriber.on("track", self._on_track)
        self._tracks: dict[str, MediaStreamTrack] = {}
        self._taps: list[ReceiverTap] = []
        self._readers: list[asyncio.Task[None]] = []
        self._ws: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self._waiters: dict[int | str, asyncio.Future[ServerMessage]] = {}
        self._welcome = asyncio.get_running_loop().create_future()
        self._changed = asyncio.Condition()
        self._negotiation = asyncio.Lock()

    # --- connection ---------------------------------------------------------

    async def connect(self) -> None:
        self._ws = await websockets.connect(self.url, max_size=None)
        self._reader = asyncio.ensure_future(self._read())

    async def join(self, timeout: float = 10.0) -> Welcome:
        """Connect (if needed), say hello and wait for the welcome."""
        if self._ws is None:
            await self.connect()
        self.hello_sent_at = time.monotonic()
        await self.send(Hello(version=PROTOCOL_VERSION, token=self.token))
        done, _ = await asyncio.wait(
            [self._welcome, asyncio.ensure_future(self.closed.wait())],
            timeout=timeout,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if self._welcome in done:
            welcome: Welcome = self._welcome.result()
            return welcome
        if self.errors:
            raise ClientError(self.errors[-1])
        raise TimeoutError(f"no welcome (closed with {self.close_code} {self.close_reason})")

    async def send(self, message: ClientMessage) -> None:
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
                self.welcome = message
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
            case SubscribeOffer():
                await self._answer_subscribe(message)
            case Ping():
                await self.send(Pong())
            case Error():
                self.errors.append(message)
        await self._notify()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until ``predicate()`` holds, re-checked on every message and frame."""

        async def waiting() -> None:
            async with self._changed:
                await self._changed.wait_for(predicate)

        await asyncio.wait_for(waiting(), timeout)

    # --- publishing -----------------------------------------------------------

    async def publish(
        self, video: MediaStreamTrack | None = None, audio: MediaStreamTrack | None = None
    ) -> None:
        for track in (audio, video):
            if track is None:
                continue
            transceiver = self.publisher.addTransceiver(track, direction="sendonly")
            transceiver.setCodecPreferences(forwarded_codec_preferences(track.kind))
            request_keyframe = getattr(track, "request_keyframe", None)
            if request_keyframe is not None:  # a track of pre-encoded packets
                intercept_keyframe_requests(transceiver.sender, request_keyframe)
        await self.publisher.setLocalDescription(await self.publisher.createOffer())
        offer = PublishOffer(sdp=self.publisher.localDescription.sdp, id=self.next_id())
        answer = await self.request(offer)
        assert isinstance(answer, PublishAnswer)
        await self.publisher.setRemoteDescription(
            RTCSessionDescription(sdp=answer.sdp, type="answer")
        )

    # --- subscribing ----------------------------------------------------------

    async def _answer_subscribe(self, offer: SubscribeOffer) -> None:
        async with self._negotiation:
            await self.subscriber.setRemoteDescription(
                RTCSessionDescription(sdp=offer.sdp, type="offer")
            )
            await self.subscriber.setLocalDescription(await self.subscriber.createAnswer())
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
                    )
            await self.send(
                SubscribeAnswer(sdp=self.subscriber.localDescription.sdp, revision=offer.revision)
            )

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
            self._taps.append(ReceiverTap(transceiver.receiver, self._packet_counter(mid)))

    async def _read_frames(self, mid: str, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame = await track.recv()
                stream = self.streams.get(mid)
                if stream is not None:
                    stream.last_frame = frame
                    stream.record_frame(time.monotonic())
                    await self._notify()

    def _packet_counter(self, mid: str) -> Callable[[RtpPacket], Any]:
        async def count(packet: RtpPacket) -> None:
            stream = self.streams.get(mid)
            if stream is None:
                return
            stream.packets += 1
            stream.bytes += len(packet.payload)
            if stream.kind == "video":
                if is_keyframe_start(packet.payload):
                    stream.keyframes += 1
                if not packet.marker:
                    return  # the marker bit closes a video frame
            stream.record_frame(time.monotonic())

        return count

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
        with contextlib.suppress(websockets.ConnectionClosed):
            await self.send(Leave())
        await self.close()

    async def close(self) -> None:
        for task in self._readers:
            task.cancel()
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await asyncio.gather(self.publisher.close(), self.subscriber.close())
