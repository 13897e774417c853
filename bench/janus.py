"""Janus side by side: Debian's ``janus`` VideoRoom under Palabra's load generator.

:func:`run_janus` starts Janus (pinned to a core, like the Palabra server)
with a configuration written to a temporary folder: only the VideoRoom
plugin and the HTTP transport, no STUN, no 1:1 NAT, low debug level.
:class:`JanusClient` is a synthetic participant speaking Janus's HTTP API
with the same media as :class:`client.PalabraClient` in the
benchmark: it publishes the pre-encoded clips, subscribes to every other
publisher (one multistream subscriber connection, as Palabra has one
subscriber connection per participant) and counts packets at the socket
(:class:`client.session.PacketCounter`: SRTP-unprotected, NACKs and receiver
reports sent back), so the two servers are measured the same way.

Janus gathers no candidate on a loopback interface, and pins each media
socket to its interface; :func:`loopback_link` gives it an ``ifb`` link
holding 127.0.0.2 inside the benchmark's loopback-only namespace, so every
packet still goes through ``lo`` (``/work/shared/notes``: proven recipe).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import glob
import itertools
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription

from client.session import PacketCounter, RemoteStream
from media.aiortc_hooks import (
    announce_addresses,
    intercept_keyframe_requests,
    quiet_rtcp,
    skip_decoder,
)
from media.router import rtc_configuration
from media.transport import forwarded_codec_preferences

from .process import free_port

LINK = "bench0"  # the link Janus gathers its candidates on
JANUS_ADDRESS = "127.0.0.2"
ROOM = 1234
# Ahead of lo's own route: Janus's sockets are bound to the link.
LOCAL_ROUTE = ("table", "local", "metric", "10")
PLUGIN = "janus.plugin.videoroom"
KEEPALIVE = 25.0  # seconds; Janus drops a session silent for session_timeout (60 s)
# Seconds a negotiation may take: on a loaded machine Janus answers late, and
# a subscription given up on would leave its feeds unsubscribed for the run.
NEGOTIATION_TIMEOUT = 120.0


def janus_binary() -> str | None:
    return shutil.which("janus") or (
        "/usr/bin/janus" if os.access("/usr/bin/janus", os.X_OK) else None
    )


def modules_folder() -> Path:
    """Where Debian installs Janus's plugins and transports (multiarch path)."""
    found = sorted(glob.glob("/usr/lib/*/janus/plugins/libjanus_videoroom.so"))
    if not found:
        raise RuntimeError("Janus's VideoRoom plugin is not installed (apt-get install janus)")
    return Path(found[0]).parent.parent


def loopback_link() -> bool:
    """An ``ifb`` link with 127.0.0.2, routed through ``lo`` (root, in a namespace).

    Only for a loopback-only network namespace: the benchmark's
    (:func:`bench.process.ensure_loopback_only`) or a test's. False if the
    link was there already.
    """
    if LINK in (name for _, name in socket.if_nameindex()):
        return False
    for command in (
        ["ip", "link", "add", LINK, "type", "ifb"],
        ["ip", "link", "set", LINK, "addrgenmode", "none"],
        ["ip", "addr", "add", f"{JANUS_ADDRESS}/32", "dev", LINK],
        ["ip", "link", "set", LINK, "up"],
        # Janus's sockets are bound to the link: let it reach the clients' 127.0.0.1.
        ["ip", "route", "add", "local", "127.0.0.1/32", "dev", LINK, *LOCAL_ROUTE],
    ):
        subprocess.run(command, check=True, capture_output=True)
    return True


def write_config(folder: Path, http_port: int, debug_level: int = 2) -> Path:
    """Janus's configuration in ``folder``: VideoRoom and HTTP only; returns janus.jcfg."""
    modules = modules_folder()
    for kind, library in (("plugins", "libjanus_videoroom.so"), ("transports", "libjanus_http.so")):
        (folder / kind).mkdir()
        (folder / kind / library).symlink_to(modules / kind / library)
    for kind in ("events", "loggers"):
        (folder / kind).mkdir()
    main = folder / "janus.jcfg"
    main.write_text(
        f"""general: {{
    configs_folder = "{folder}"
    plugins_folder = "{folder}/plugins"
    transports_folder = "{folder}/transports"
    events_folder = "{folder}/events"
    loggers_folder = "{folder}/loggers"
    debug_level = {debug_level}
    server_name = "palabra-bench"
    session_timeout = 60
}}
media: {{
    ipv6 = false
}}
nat: {{
    ice_enforce_list = "{LINK}"
    ignore_mdns = true
    full_trickle = false
}}
events: {{
    broadcast = false
}}
"""
    )
    (folder / "janus.transport.http.jcfg").write_text(
        f"""general: {{
    json = "compact"
    base_path = "/janus"
    http = true
    port = {http_port}
    ip = "127.0.0.1"
    https = false
}}
admin: {{
    admin_http = false
}}
"""
    )
    (folder / "janus.plugin.videoroom.jcfg").write_text("general: {\n}\n")
    return main


def _die_with_parent() -> None:
    """Janus ends with the benchmark, even one killed before it could stop Janus."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class JanusProcess:
    process: subprocess.Popen[bytes]
    url: str  # the HTTP API, http://127.0.0.1:PORT/janus

    @property
    def pid(self) -> int:
        return self.process.pid


@contextlib.contextmanager
def run_janus(core: int | None) -> Iterator[JanusProcess]:
    """Start Janus on ``core`` (in this network namespace) and wait for its HTTP API."""
    binary = janus_binary()
    if binary is None:
        raise RuntimeError("janus is not installed (apt-get install janus)")
    created = loopback_link()
    with tempfile.TemporaryDirectory(prefix="palabra-janus-") as tmp:
        folder = Path(tmp)
        port = free_port()
        config = write_config(folder, port)
        command = [binary, "-C", str(config), "-F", str(folder), "-o"]
        if core is not None:
            command = ["taskset", "-c", str(core), *command]
        log_path = folder / "janus.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent
            )
        url = f"http://127.0.0.1:{port}/janus"
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/info", timeout=1):
                        break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        tail = log_path.read_text(errors="replace")[-2000:]
                        raise RuntimeError(f"janus did not start:\n{tail}") from None
                    time.sleep(0.1)
            yield JanusProcess(process, url)
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if created:  # leave the namespace as it was (its route goes with it)
                subprocess.run(["ip", "link", "del", LINK], check=False, capture_output=True)


class JanusError(Exception):
    """Janus answered a request with an error."""


Event = dict[str, Any]
EventHandler = Callable[[int, Event], None]


class JanusSession:
    """One Janus API session over HTTP: requests, a long poll for events, keepalives."""

    def __init__(self, http: aiohttp.ClientSession, url: str, on_event: EventHandler) -> None:
        self._http = http
        self._url = url
        self._on_event = on_event
        self.id: int | None = None
        self._waiters: dict[str, asyncio.Future[Event]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False

    def _transaction(self) -> str:
        return secrets.token_hex(8)

    async def _post(self, path: str, body: Event) -> Event:
        async with self._http.post(f"{self._url}{path}", json=body) as response:
            reply: Event = await response.json(content_type=None)
        if reply.get("janus") == "error":
            raise JanusError(reply.get("error", {}).get("reason", str(reply)))
        return reply

    async def create(self) -> None:
        reply = await self._post("", {"janus": "create", "transaction": self._transaction()})
        self.id = int(reply["data"]["id"])
        self._tasks = [
            asyncio.ensure_future(self._poll()),
            asyncio.ensure_future(self._keepalive()),
        ]

    async def attach(self) -> int:
        body = {"janus": "attach", "plugin": PLUGIN, "transaction": self._transaction()}
        reply = await self._post(f"/{self.id}", body)
        return int(reply["data"]["id"])

    async def request(self, handle: int, body: Event) -> Event:
        """A synchronous plugin request (create, list...): its plugin data."""
        message = {"janus": "message", "body": body, "transaction": self._transaction()}
        reply = await self._post(f"/{self.id}/{handle}", message)
        data: Event = reply.get("plugindata", {}).get("data", {})
        if "error" in data:
            raise JanusError(data["error"])
        return data

    async def message(
        self, handle: int, body: Event, jsep: Event | None = None, timeout: float = 30
    ) -> Event:
        """An asynchronous plugin request: the event that answers it (plugin data and jsep)."""
        transaction = self._transaction()
        message: Event = {"janus": "message", "body": body, "transaction": transaction}
        if jsep is not None:
            message["jsep"] = jsep
        waiter = self._waiters[transaction] = asyncio.get_running_loop().create_future()
        try:
            await self._post(f"/{self.id}/{handle}", message)
            event = await asyncio.wait_for(waiter, timeout)
        finally:
            self._waiters.pop(transaction, None)
        data = event.get("plugindata", {}).get("data", {})
        if "error" in data:
            raise JanusError(data["error"])
        answer: Event = event
        return answer

    async def _poll(self) -> None:
        while not self._closed:
            try:
                async with self._http.get(f"{self._url}/{self.id}?maxev=20") as response:
                    events = await response.json(content_type=None)
            except (TimeoutError, aiohttp.ClientError):
                if self._closed:
                    return
                await asyncio.sleep(0.5)
                continue
            for event in events if isinstance(events, list) else [events]:
                self._dispatch(event)

    def _dispatch(self, event: Event) -> None:
        if event.get("janus") == "keepalive":
            return
        waiter = self._waiters.get(event.get("transaction", ""))
        if waiter is not None and not waiter.done() and event.get("janus") == "event":
            waiter.set_result(event)
            return
        sender = event.get("sender")
        if sender is not None:
            self._on_event(int(sender), event)

    async def _keepalive(self) -> None:
        while not self._closed:
            await asyncio.sleep(KEEPALIVE)
            with contextlib.suppress(aiohttp.ClientError, JanusError):
                await self._post(
                    f"/{self.id}", {"janus": "keepalive", "transaction": self._transaction()}
                )

    async def destroy(self) -> None:
        self._closed = True
        for task in self._tasks:
            task.cancel()
        if self.id is not None:
            with contextlib.suppress(aiohttp.ClientError, JanusError):
                await self._post(
                    f"/{self.id}", {"janus": "destroy", "transaction": self._transaction()}
                )


def jsep(connection: RTCPeerConnection) -> Event:
    description = connection.localDescription
    return {"type": description.type, "sdp": description.sdp}


class JanusClient:
    """A synthetic VideoRoom participant with PalabraClient's benchmark surface.

    It joins as a publisher (that is how a VideoRoom participant learns of
    the others, and is told of new ones), publishes if asked, and subscribes
    to every other publisher's feed on one multistream subscriber connection,
    renegotiated as feeds appear.
    """

    def __init__(self, http: aiohttp.ClientSession, url: str, room: int, display: str) -> None:
        announce_addresses(["127.0.0.1"])
        self.room = room
        self.display = display
        self.api = JanusSession(http, url, self._on_event)
        configuration = rtc_configuration()
        self.publisher = RTCPeerConnection(configuration)
        self.subscriber = RTCPeerConnection(configuration)
        self.subscriber.on("track", self._on_track)
        self.streams: dict[str, RemoteStream] = {}
        self.timeline: dict[str, float] = {}
        self.hello_sent_at: float | None = None
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self.close_reason = ""
        self._publisher_handle = 0
        self._subscriber_handle: int | None = None
        self._subscribed: set[int] = set()
        self._wanted: set[int] = set()
        self._offers: list[Event] = []  # offers Janus made unasked (a feed left)
        self._changed = asyncio.Event()
        self._counter = PacketCounter(self)
        self._subscribing = asyncio.ensure_future(self._subscribe_loop())

        @self.subscriber.on("connectionstatechange")
        def _connected() -> None:
            if self.subscriber.connectionState == "connected":
                self.timeline.setdefault("subscriber_connected", time.monotonic())

    async def join(self, timeout: float = 30.0) -> None:
        """Session, publisher handle, join the room: the VideoRoom's 'hello'."""
        self.hello_sent_at = time.monotonic()
        await asyncio.wait_for(self._join(), timeout)

    async def _join(self) -> None:
        await self.api.create()
        self._publisher_handle = await self.api.attach()
        body = {"request": "join", "ptype": "publisher", "room": self.room, "display": self.display}
        event = await self.api.message(self._publisher_handle, body)
        self.timeline.setdefault("welcome", time.monotonic())
        self._feeds(event["plugindata"]["data"])

    async def publish(
        self, video: MediaStreamTrack | None = None, audio: MediaStreamTrack | None = None
    ) -> None:
        for track in (t for t in (audio, video) if t is not None):
            transceiver = self.publisher.addTransceiver(track, direction="sendonly")
            transceiver.setCodecPreferences(forwarded_codec_preferences(track.kind))
            request_keyframe = getattr(track, "request_keyframe", None)
            if request_keyframe is not None:
                intercept_keyframe_requests(transceiver.sender, request_keyframe)
        await self.publisher.setLocalDescription(await self.publisher.createOffer())
        body = {"request": "publish", "audio": True, "video": True}
        event = await self.api.message(
            self._publisher_handle, body, jsep(self.publisher), NEGOTIATION_TIMEOUT
        )
        answer = event["jsep"]
        await self.publisher.setRemoteDescription(
            RTCSessionDescription(sdp=answer["sdp"], type=answer["type"])
        )

    def _on_event(self, handle: int, event: Event) -> None:
        kind = event.get("janus")
        if kind == "hangup":  # Janus closed a connection (ICE failed): the run reports it
            side = "publisher" if handle == self._publisher_handle else "subscriber"
            self.close_reason = f"{side}: {event.get('reason', 'hangup')}"
            self.closed.set()
            return
        if kind != "event":
            return
        data = event.get("plugindata", {}).get("data", {})
        if handle == self._publisher_handle:
            self._feeds(data)
        elif handle == self._subscriber_handle and "jsep" in event:
            self._offers.append(event)
            self._changed.set()

    def _feeds(self, data: Event) -> None:
        publishers = data.get("publishers") or []
        self._wanted |= {int(p["id"]) for p in publishers}
        self._changed.set()

    async def _subscribe_loop(self) -> None:
        """One negotiation at a time: subscribe to new feeds, answer Janus's offers."""
        with contextlib.suppress(asyncio.CancelledError):
            while True:
                await self._changed.wait()
                self._changed.clear()
                try:
                    while self._offers:
                        await self._answer(self._offers.pop(0))
                    new = sorted(self._wanted - self._subscribed)
                    if new:
                        self._subscribed |= set(new)
                        await self._subscribe(new)
                except (JanusError, aiohttp.ClientError, TimeoutError) as exc:
                    # A feed that left between announcement and subscription.
                    self.close_reason = f"subscribe: {exc}"

    async def _subscribe(self, feeds: list[int]) -> None:
        streams = [{"feed": feed} for feed in feeds]
        if self._subscriber_handle is None:
            self._subscriber_handle = await self.api.attach()
            body: Event = {
                "request": "join",
                "ptype": "subscriber",
                "room": self.room,
                "streams": streams,
            }
        else:
            body = {"request": "subscribe", "streams": streams}
        event = await self.api.message(self._subscriber_handle, body, None, NEGOTIATION_TIMEOUT)
        await self._answer(event)

    async def _answer(self, event: Event) -> None:
        offer = event["jsep"]
        self.timeline.setdefault("subscribe_offer", time.monotonic())
        await self.subscriber.setRemoteDescription(
            RTCSessionDescription(sdp=offer["sdp"], type=offer["type"])
        )
        await self.subscriber.setLocalDescription(await self.subscriber.createAnswer())
        self._counter.socket.attach()
        self._update_streams(event["plugindata"]["data"].get("streams") or [])
        assert self._subscriber_handle is not None
        answer = jsep(self.subscriber)
        await self.api.message(
            self._subscriber_handle, {"request": "start"}, answer, NEGOTIATION_TIMEOUT
        )
        self.timeline.setdefault("subscribe_answer", time.monotonic())

    def _update_streams(self, streams: list[Event]) -> None:
        active = {
            str(s["mid"]): s
            for s in streams
            if s.get("type") in ("audio", "video") and s.get("active", True) and "feed_id" in s
        }
        for mid in list(self.streams):
            if mid not in active:
                del self.streams[mid]
        for mid, s in active.items():
            producer = f"{s['feed_id']}:{s.get('feed_mid', '')}"
            current = self.streams.get(mid)
            if current is None or current.producer_id != producer:
                self.streams[mid] = RemoteStream(mid, producer, str(s["feed_id"]), s["type"])

    def _on_track(self, track: MediaStreamTrack) -> None:
        # Packets are counted at the socket: the receiver needs no decoder, no RTCP.
        for transceiver in self.subscriber.getTransceivers():
            if transceiver.receiver.track is track:
                quiet_rtcp(transceiver.receiver)
                skip_decoder(transceiver.receiver)

    async def wait_for_streams(
        self, count: int, kind: str | None = None, timeout: float = 10.0, frames: int = 1
    ) -> list[RemoteStream]:
        def ready() -> list[RemoteStream]:
            return [
                s
                for s in self.streams.values()
                if (kind is None or s.kind == kind) and s.frames >= frames
            ]

        deadline = time.monotonic() + timeout
        while len(ready()) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(ready())} of {count} streams with {frames} frames")
            await asyncio.sleep(0.05)
        return ready()

    async def leave(self) -> None:
        self._subscribing.cancel()
        self._counter.close()
        await self.api.destroy()
        await asyncio.gather(self.publisher.close(), self.subscriber.close())


class JanusRoom:
    """The benchmark's VideoRoom on a running Janus, and how participants join it."""

    def __init__(self, url: str, room: int = ROOM) -> None:
        self.url = url
        self.room = room
        # Every long poll holds a connection: no pool limit.
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            timeout=aiohttp.ClientTimeout(total=None, sock_read=90),
        )
        self._names = itertools.count()

    async def create(self, publishers: int) -> None:
        """The room: VP8 and Opus as Palabra forwards them, no bitrate cap, no recording."""
        admin = JanusSession(self.http, self.url, lambda handle, event: None)
        await admin.create()
        try:
            handle = await admin.attach()
            await admin.request(
                handle,
                {
                    "request": "create",
                    "room": self.room,
                    "description": "Benchmark plenary",
                    "publishers": publishers,
                    "bitrate": 0,
                    "fir_freq": 10,
                    "audiocodec": "opus",
                    "videocodec": "vp8",
                    "notify_joining": False,
                    "record": False,
                },
            )
        finally:
            await admin.destroy()

    def connect(self, i: int, role: str) -> Awaitable[JanusClient]:
        async def joined() -> JanusClient:
            client = JanusClient(self.http, self.url, self.room, f"{role} {i}")
            await client.join(timeout=30)
            return client

        return joined()

    async def close(self) -> None:
        await self.http.close()
