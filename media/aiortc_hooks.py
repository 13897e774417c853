"""Every use of aiortc's and aioice's private API, in one place.

aiortc has no supported way to forward RTP without decoding and re-encoding it
(maintainer, aiortc #449 and #627), so Palabra hooks it at these points:

- aioice's sockets: :class:`MediaSocket` replaces ``datagram_received`` per
  protocol instance and uses the DTLS transport's SRTP sessions and the
  nominated ICE pair directly: RTP and RTCP never go through aiortc's
  receivers, senders, jitter buffer or ``RtpPacket`` objects;
- the DTLS transport's ``_handle_rtp_data``/``_handle_rtcp_data`` (per
  instance), for the few datagrams queued before the sockets were hooked;
- the module global ``decoder_worker``: a receiver that forwards starts no
  decoder thread work at all;
- senders' and receivers' ``_run_rtcp`` (per instance): the SFU sends batched
  reports itself; the sender's ``_send_keyframe`` for clients that publish
  pre-encoded media;
- name-mangled attributes read once per negotiation: codecs, RTX SSRCs and
  payload types, header extension ids, CNAME (:func:`receiver_info`,
  :func:`sender_info`);
- aiortc's module-level ``CODECS``: ``red/48000/2`` (RFC 2198) added to the
  audio codecs (:func:`add_red_codec`), so that it can be negotiated; aiortc
  has no encoder or decoder for it, only the packet path carries it;
- aioice's ``get_host_addresses``: the addresses announced for media;
- aioice's nominated pair (``Connection._nominated``): the path a client's
  media takes, for the technicians (:func:`selected_path`);
- one-port mode (:func:`use_udp_mux`): the peer connection's private
  ``__createDtlsTransport`` (per instance) gives each new aioice
  ``Connection`` a ufrag unique on the shared port and replaces its
  ``get_component_candidates``, so its host candidates are virtual
  ``StunProtocol`` objects on :class:`media.udp_mux.UdpMux`'s socket.

The pinned versions are checked at start-up by :func:`check_versions`; any
upgrade means re-reading the code these hooks reach into.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import importlib.metadata
import logging
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from socket import SO_RCVBUF, SOL_SOCKET
from typing import Any

import aioice.candidate
import aioice.ice
import aioice.stun
import aiortc.codecs
import aiortc.rtcdtlstransport
import aiortc.rtcpeerconnection
import aiortc.rtcrtpreceiver
import pylibsrtp
from aiortc import (
    RTCPeerConnection,
    RTCRtpCodecParameters,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCRtpTransceiver,
)
from aiortc.codecs import is_rtx
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtp import HeaderExtensionsMap, RtpPacket
from pylibsrtp import _binding as _srtp

from . import fastpath
from .udp_mux import UdpMux

logger = logging.getLogger(__name__)

PINNED_VERSIONS = {"aiortc": "1.16.0", "aioice": "0.13.0", "av": "18.1.0", "pylibsrtp": "1.0.0"}


def check_versions() -> None:
    """Fail loudly when the installed aiortc stack is not the one the hooks know."""
    wrong = []
    for name, pinned in PINNED_VERSIONS.items():
        installed = importlib.metadata.version(name)
        if installed != pinned:
            wrong.append(f"{name} {installed} (need {pinned})")
    if wrong:
        raise RuntimeError(
            "Palabra forwards media through aiortc internals and supports exactly "
            f"{PINNED_VERSIONS}; installed: {', '.join(wrong)}"
        )
    required = [
        (aiortc.rtcrtpreceiver, "decoder_worker"),
        (RTCRtpReceiver, "_run_rtcp"),
        (RTCRtpSender, "_run_rtcp"),
        (RTCRtpSender, "_send_keyframe"),
        (RTCDtlsTransport, "_handle_rtp_data"),
        (RTCDtlsTransport, "_handle_rtcp_data"),
        (RTCDtlsTransport, "_setup_srtp"),
        (aiortc.rtcdtlstransport.SRTPProtectionProfile, "get_key_and_salt"),
        (aioice.ice.StunProtocol, "datagram_received"),
        (aioice.ice.StunProtocol, "send_data"),
        (aioice.ice.Connection, "sendto"),
        (aioice.ice, "get_host_addresses"),
        (_srtp.lib, "srtp_protect"),
        (pylibsrtp.Session, "protect"),
        (aiortc.rtcpeerconnection, "filter_preferred_codecs"),
        (RTCPeerConnection, "_RTCPeerConnection__createDtlsTransport"),
        (aioice.ice.Connection, "get_component_candidates"),
        (aioice.candidate, "candidate_foundation"),
        (aioice.candidate, "candidate_priority"),
        (aioice.stun.Message, "check_message_integrity"),
        (aioice.ice.StunProtocol, "request"),
        (aiortc.codecs, "CODECS"),
    ]
    missing = [f"{owner!r}.{name}" for owner, name in required if not hasattr(owner, name)]
    ids = HeaderExtensionsMap()._HeaderExtensionsMap__ids  # type: ignore[attr-defined]
    missing += [
        f"HeaderExtensions.{name}"
        for name in ("mid", "audio_level", "abs_send_time")
        if not hasattr(ids, name)
    ]
    if missing:
        raise RuntimeError(f"aiortc internals changed, missing: {', '.join(missing)}")


# --- announced media addresses ------------------------------------------------


def announce_addresses(addresses: Sequence[str]) -> None:
    """Offer exactly these addresses as ICE host candidates.

    aioice never offers loopback by itself; a deployment behind NAT announces
    its public address, tests announce 127.0.0.1. An empty list restores the
    default discovery.
    """
    chosen = list(addresses)
    if not chosen:
        aioice.ice.get_host_addresses = _ORIGINAL_GET_HOST_ADDRESSES
        return

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        local = _GATHER_ON.get()
        addresses = chosen if local is None else local
        return [a for a in addresses if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

    aioice.ice.get_host_addresses = get_host_addresses


_ORIGINAL_GET_HOST_ADDRESSES = aioice.ice.get_host_addresses
# Host addresses of the connections gathering in this context (see gathering_on).
_GATHER_ON: contextvars.ContextVar[tuple[str, ...] | None] = contextvars.ContextVar(
    "palabra_gather_on", default=None
)


@contextlib.contextmanager
def gathering_on(addresses: Sequence[str] | None) -> Iterator[None]:
    """Peer connections gathering inside this block bind to ``addresses`` only.

    For one client among several in a process (a test that cuts one client's
    UDP by its own loopback address); needs announce_addresses() in force.
    None: the announced addresses, as everywhere else.
    """
    token = _GATHER_ON.set(tuple(addresses) if addresses is not None else None)
    try:
        yield
    finally:
        _GATHER_ON.reset(token)


# --- no decoder for forwarding receivers -------------------------------------

_ORIGINAL_DECODER_WORKER = aiortc.rtcrtpreceiver.decoder_worker
# Output queues of the tracks of receivers that forward: their decoder thread
# returns at once instead of waiting for frames to decode.
_FORWARDING_QUEUES: weakref.WeakSet[Any] = weakref.WeakSet()
_guard_lock = threading.Lock()
decoder_threads_skipped = 0


def _guarded_decoder_worker(
    loop: asyncio.AbstractEventLoop, input_q: Any, output_q: Any, decode_error: Any
) -> None:
    global decoder_threads_skipped
    if output_q in _FORWARDING_QUEUES:
        with _guard_lock:
            decoder_threads_skipped += 1
        return
    _ORIGINAL_DECODER_WORKER(loop, input_q, output_q, decode_error)


def _install_decoder_guard() -> None:
    aiortc.rtcrtpreceiver.decoder_worker = _guarded_decoder_worker


_install_decoder_guard()


def decoder_running(receiver: RTCRtpReceiver) -> bool:
    """True when aiortc runs a decoder thread for this receiver."""
    thread = _private(receiver)._RTCRtpReceiver__decoder_thread
    return thread is not None and thread.is_alive()


def encoder_created(sender: RTCRtpSender) -> bool:
    """True when aiortc created an encoder for this sender."""
    return _private(sender)._RTCRtpSender__encoder is not None


# --- the bundled SRTP transport of a peer connection, used directly -----------

RtpHandler = Callable[[bytes], None]
# Bytes of socket receive buffer per media socket (the kernel caps it at
# net.core.rmem_max); aioice's default of 256 KiB is ~100 ms of a subscriber's
# traffic in a plenary.
RECEIVE_BUFFER = 2 * 1024 * 1024
Datagram = Callable[[bytes, Any], None]
SRTP_BUFFER = 2048
_memmove = _srtp.ffi.memmove
_srtp_protect = _srtp.lib.srtp_protect


class MediaSocket:
    """A peer connection's bundled SRTP transport, bypassing aiortc's RTP stack.

    Incoming SRTP/SRTCP datagrams are taken in aioice's ``datagram_received``
    of the connection's sockets, unprotected with the DTLS transport's receive
    session and handed over as plain bytes, synchronously: no aioice queue, no
    DTLS reader task, no ``RtpPacket`` objects, no jitter buffer. STUN and DTLS
    datagrams keep their normal path. Outgoing packets are protected with the
    transmit session and written with ``sendto`` on the nominated ICE pair.

    Call :meth:`attach` after every local or remote description (aiortc
    replaces the bundled transport during negotiation); sending works once
    the connection is connected (:attr:`ready`).
    """

    def __init__(
        self,
        connection: RTCPeerConnection,
        on_rtp: RtpHandler,
        on_rtcp: RtpHandler,
        receive_buffer: int = RECEIVE_BUFFER,
    ) -> None:
        self.connection: Any = connection
        # Where the forwarder sends: native or Python (media/fastpath.py).
        self.destination = fastpath.new_destination()
        self._receive_buffer = receive_buffer
        self._on_rtp = on_rtp
        self._on_rtcp = on_rtcp
        self._dtls: Any = None
        # libsrtp called directly on one reused buffer: pylibsrtp's wrapper
        # allocates per packet (~1 us of a ~10 us forwarded packet). The
        # forwarder inlines send_rtp with these public attributes.
        self.buffer: Any = _srtp.ffi.new("char[]", SRTP_BUFFER)
        self.view: Any = _srtp.ffi.buffer(self.buffer)
        self.length: Any = _srtp.ffi.new("int *")
        self.context: Any = None
        self._protect_rtcp: Callable[[bytes], bytes] = bytes
        self.sendto: Callable[[bytes, Any], None] = _not_connected
        self.addr: Any = None
        self._ready = False
        self._hooked: weakref.WeakSet[Any] = weakref.WeakSet()
        # One single-stream transmit session per forwarded SSRC (see stream_context).
        self._streams: dict[int, pylibsrtp.Session] = {}
        self._streams_of: Any = None  # the DTLS transport they were keyed for
        self._retired: list[dict[int, pylibsrtp.Session]] = []
        connection.on("connectionstatechange", self.refresh)

    @property
    def ready(self) -> bool:
        """True while connected: the SRTP sessions and the nominated pair are known."""
        return self._ready

    @ready.setter
    def ready(self, ready: bool) -> None:
        if ready:
            raise ValueError("a media socket becomes ready only by refresh()")
        self._ready = False
        self.destination.disconnect()

    @property
    def dtls(self) -> RTCDtlsTransport | None:
        transport: RTCDtlsTransport | None = self._dtls
        return transport

    def attach(self) -> None:
        transceivers = self.connection.getTransceivers()
        if not transceivers:
            return
        dtls = transceivers[0].receiver.transport
        if dtls is not self._dtls:
            self._dtls = dtls
            # Packets queued before the sockets were hooked still reach aiortc's
            # reader task: divert them to the same handlers.
            dtls._handle_rtp_data = self._slow_rtp
            dtls._handle_rtcp_data = self._slow_rtcp
        for protocol in dtls.transport._connection._protocols:
            if protocol not in self._hooked:
                protocol.datagram_received = self._hook(dtls, protocol.datagram_received)
                self._hooked.add(protocol)
                sock = protocol.transport.get_extra_info("socket")
                # (The shared media port sizes its own buffer.)
                if (
                    sock is not None
                    and self._receive_buffer
                    and not isinstance(protocol, _MuxedProtocol)
                ):
                    # Video arrives in bursts (a keyframe is tens of packets per
                    # stream): a deeper buffer rides out a busy event loop.
                    with contextlib.suppress(OSError):
                        sock.setsockopt(SOL_SOCKET, SO_RCVBUF, self._receive_buffer)
        self.refresh()

    def refresh(self) -> None:
        """Re-read the SRTP sessions and the nominated pair (on state changes)."""
        dtls = self._dtls
        pair = None
        if dtls is not None and dtls.state == "connected" and dtls._tx_srtp is not None:
            pair = dtls.transport._connection._nominated.get(1)
        if pair is None or self.connection.connectionState in ("closed", "failed"):
            self.ready = False
            return
        self.context = dtls._tx_srtp._srtp[0]
        self._protect_rtcp = dtls._tx_srtp.protect_rtcp
        self.sendto = pair.protocol.transport.sendto
        self.addr = pair.remote_addr
        self.destination.connect(pair.protocol.transport, pair.remote_addr)
        self._ready = True

    def stream_context(self, ssrc: int) -> Any:
        """A libsrtp context that protects RTP of this one SSRC (once :attr:`ready`).

        aiortc's transmit session holds every SSRC of the connection in a
        list that libsrtp searches per packet, with a 1024-packet replay
        window: in a plenary that search and window cost more than the
        AES-GCM itself (native profile). A session per SSRC, keyed from the
        same DTLS exporter, finds its stream at once. Packets of this SSRC
        must then always go through this context (RTCP and RTX keep using
        the shared session: SRTP keeps their state apart).
        """
        dtls = self._dtls
        if self._streams_of is not dtls:
            # Routes may still hold contexts of the old sessions: keep them alive.
            self._retired.append(self._streams)
            self._streams = {}
            self._streams_of = dtls
        session = self._streams.get(ssrc)
        if session is None:
            key, profile = _transmit_key(dtls)
            policy = pylibsrtp.Policy(
                key=key,
                ssrc_type=pylibsrtp.Policy.SSRC_SPECIFIC,
                ssrc_value=ssrc,
                srtp_profile=profile,
            )
            policy.allow_repeat_tx = True  # retransmissions reuse an index
            policy.window_size = 64
            session = self._streams[ssrc] = pylibsrtp.Session(policy)
        return session._srtp[0]

    def send_rtp(self, data: bytes, context: Any = None) -> None:
        """Protect (with ``context``, default the shared session) and send one
        RTP packet; the caller checks :attr:`ready`."""
        size = len(data)
        if size > SRTP_BUFFER - 64:
            return  # larger than any MTU: never produced by the forwarder
        _memmove(self.buffer, data, size)
        length = self.length
        length[0] = size
        if _srtp_protect(context or self.context, self.buffer, length) == 0:
            self.sendto(self.view[0 : length[0]], self.addr)

    def send_rtcp(self, data: bytes) -> bool:
        if not self.ready:
            return False
        self.sendto(self._protect_rtcp(data), self.addr)
        return True

    def _hook(self, dtls: Any, original: Datagram) -> Datagram:
        on_rtp, on_rtcp = self._on_rtp, self._on_rtcp

        def datagram_received(data: bytes, addr: Any) -> None:
            # RFC 7983 demultiplexing: 128..191 is RTP or RTCP.
            if 127 < data[0] < 192 and len(data) > 12:
                session = dtls._rx_srtp
                if session is not None:
                    try:
                        if 191 < data[1] < 209:
                            on_rtcp(session.unprotect_rtcp(data))
                        else:
                            on_rtp(session.unprotect(data))
                    except pylibsrtp.Error:
                        pass  # replayed, forged or from a stale session
                    except Exception:
                        logger.exception("media handler failed")
                    return
            original(data, addr)

        return datagram_received

    async def _slow_rtp(self, data: bytes, arrival_time_ms: int = 0) -> None:
        self._on_rtp(data)

    async def _slow_rtcp(self, data: bytes) -> None:
        self._on_rtcp(data)


# Decides the fate of one datagram: call ``deliver`` (now, later, or never).
Impairment = Callable[[bytes, Callable[[bytes], None]], None]


def impair(
    connection: RTCPeerConnection,
    incoming: Impairment | None = None,
    outgoing: Impairment | None = None,
) -> None:
    """Put a lossy network in front of a connection's sockets (tests, benchmarks).

    Every datagram received (``incoming``) or sent (``outgoing``) on the
    connection's current sockets goes through the impairment, which may drop,
    delay or reorder it. Install after negotiation, before media matters.
    """
    transceivers = _private(connection).getTransceivers()
    if not transceivers:
        raise ValueError("negotiate the connection before impairing it")
    ice = transceivers[0].receiver.transport.transport._connection
    for protocol in ice._protocols:
        if incoming is not None:
            received = protocol.datagram_received

            def datagram_received(data: bytes, addr: Any, received: Datagram = received) -> None:
                incoming(data, lambda d: received(d, addr))

            protocol.datagram_received = datagram_received
        if outgoing is not None:
            transport = protocol.transport

            async def send_data(data: bytes, addr: Any, transport: Any = transport) -> None:
                outgoing(data, lambda d: transport.sendto(d, addr))

            protocol.send_data = send_data


def _transmit_key(dtls: Any) -> tuple[bytes, int]:
    """The SRTP master key and salt this side sends with, and the libsrtp profile.

    Derived from the DTLS exporter exactly as ``RTCDtlsTransport._setup_srtp``
    does (RFC 5764 4.2).
    """
    selected = dtls._ssl.get_selected_srtp_profile()
    profile = next(p for p in dtls._srtp_profiles if p.openssl_profile == selected)
    material = dtls._ssl.export_keying_material(
        b"EXTRACTOR-dtls_srtp", 2 * (profile.key_length + profile.salt_length)
    )
    key: bytes = profile.get_key_and_salt(material, 1 if dtls._role == "server" else 0)
    return key, int(profile.libsrtp_profile)


def _not_connected(data: bytes, addr: Any) -> None:
    raise ConnectionError("the media socket is not connected")


def route_unknown_ssrc(socket: MediaSocket, data: bytes) -> RTCRtpReceiver | None:
    """The receiver aiortc's router gives a packet of a new SSRC (SDP ssrc or payload type)."""
    dtls: Any = socket.dtls
    if dtls is None:
        return None
    try:
        packet = RtpPacket.parse(data, dtls._rtp_header_extensions_map)
    except ValueError:
        return None
    receiver: RTCRtpReceiver | None = dtls._rtp_router.route_rtp(packet)
    return receiver


def quiet_rtcp(endpoint: RTCRtpSender | RTCRtpReceiver) -> None:
    """Replace aiortc's periodic RTCP task of a sender or receiver by an idle one.

    The SFU sends batched reports itself (one compound packet per connection
    and interval instead of one task per stream). Must run before aiortc
    starts the endpoint (``send()``/``receive()``).
    """
    obj = _private(endpoint)
    prefix = "_RTCRtpSender" if isinstance(endpoint, RTCRtpSender) else "_RTCRtpReceiver"
    started: asyncio.Event = getattr(obj, f"{prefix}__rtcp_started")
    exited: asyncio.Event = getattr(obj, f"{prefix}__rtcp_exited")

    async def run_rtcp() -> None:
        # stop() waits for both events: keep aiortc's shutdown handshake.
        started.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.get_running_loop().create_future()
        exited.set()

    obj._run_rtcp = run_rtcp


def skip_decoder(receiver: RTCRtpReceiver) -> None:
    """The receiver's decoder thread returns at once (its packets never reach it)."""
    _FORWARDING_QUEUES.add(_private(receiver).track._queue)


@dataclass(frozen=True)
class ReceiverInfo:
    """What a publisher-side receiver negotiated, read once it started."""

    clock_rate: int
    media_payload_types: frozenset[int]
    rtx_payload_types: frozenset[int]
    rtcp_ssrc: int | None
    audio_level_id: int | None
    red_payload_type: int | None = None  # RFC 2198, when negotiated


def receiver_info(receiver: RTCRtpReceiver) -> ReceiverInfo | None:
    obj = _private(receiver)
    codecs: dict[int, Any] = obj._RTCRtpReceiver__codecs
    if not codecs:
        return None
    media = [c for c in codecs.values() if not is_rtx(c)]
    ids = obj.transport._rtp_header_extensions_map._HeaderExtensionsMap__ids
    return ReceiverInfo(
        clock_rate=media[0].clockRate if media else 90000,
        media_payload_types=frozenset(c.payloadType for c in media),
        rtx_payload_types=frozenset(c.payloadType for c in codecs.values() if is_rtx(c)),
        rtcp_ssrc=obj._RTCRtpReceiver__rtcp_ssrc,
        audio_level_id=ids.audio_level,
        red_payload_type=red_payload_type(media),
    )


def receiver_rtx_ssrcs(receiver: RTCRtpReceiver) -> dict[int, int]:
    """RTX SSRC -> media SSRC, as the remote description announced them."""
    return dict(_private(receiver)._RTCRtpReceiver__rtx_ssrc)


@dataclass(frozen=True)
class SenderInfo:
    """What a subscriber-side sender negotiated."""

    ssrc: int
    rtx_ssrc: int
    rtx_payload_type: int | None
    cname: str | None
    extension_ids: tuple[int | None, int | None, int | None]  # mid, audio level, abs-send-time


def sender_info(sender: RTCRtpSender) -> SenderInfo:
    obj = _private(sender)
    ids = obj._RTCRtpSender__rtp_header_extensions_map._HeaderExtensionsMap__ids
    return SenderInfo(
        ssrc=obj._ssrc,
        rtx_ssrc=obj._rtx_ssrc,
        rtx_payload_type=obj._RTCRtpSender__rtx_payload_type,
        cname=obj._RTCRtpSender__cname,
        extension_ids=(ids.mid, ids.audio_level, ids.abs_send_time),
    )


def sender_started(sender: RTCRtpSender) -> bool:
    return bool(_private(sender)._RTCRtpSender__started)


def intercept_keyframe_requests(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    """Route the remote side's PLI/FIR for this sender to ``callback``.

    aiortc would only flag its encoder; a sender fed with packets has none.
    """
    _private(sender)._send_keyframe = callback


# --- codecs -------------------------------------------------------------------

RED_MIME_TYPE = "audio/red"
# Chromium's (below 64, so that a marked packet's second byte is never taken
# for RTCP). aiortc copies only dynamic (96-127) payload types from an offer:
# a static one must be the same on both sides.
RED_PAYLOAD_TYPE = 63


def add_red_codec() -> None:
    """Make ``red/48000/2`` negotiable: aiortc's capabilities come from ``CODECS``.

    Appended after Opus and the G.7xx codecs: a peer that sets no codec
    preferences keeps offering Opus first. Only preferences that name RED
    (media/transport.py) put it in an offer or an answer.
    """
    audio = aiortc.codecs.CODECS["audio"]
    if not any(c.mimeType.lower() == RED_MIME_TYPE for c in audio):
        audio.append(
            RTCRtpCodecParameters(
                mimeType=RED_MIME_TYPE, clockRate=48000, channels=2, payloadType=RED_PAYLOAD_TYPE
            )
        )


add_red_codec()


def red_payload_type(codecs: Sequence[Any]) -> int | None:
    """The payload type of RED among negotiated codecs, if any."""
    return next((int(c.payloadType) for c in codecs if c.mimeType.lower() == RED_MIME_TYPE), None)


def primary_payload_type(codecs: Sequence[Any]) -> int | None:
    """The payload type of the media codec (not RED, not RTX) among negotiated codecs."""
    return next(
        (
            int(c.payloadType)
            for c in codecs
            if c.mimeType.lower() != RED_MIME_TYPE and not is_rtx(c)
        ),
        None,
    )


def _private(obj: object) -> Any:
    """The object, typed for reaching into aiortc's name-mangled attributes."""
    return obj


def restrict_codecs(transceiver: RTCRtpTransceiver, preferred: Sequence[Any]) -> None:
    """Apply codec preferences to a transceiver aiortc created from a remote offer.

    aiortc applies preferences while it parses a remote description, before
    the application can see the transceivers it creates for new m-lines, so
    the preferences are applied again here.
    """
    transceiver.setCodecPreferences(list(preferred))
    transceiver._codecs = aiortc.rtcpeerconnection.filter_preferred_codecs(
        transceiver._codecs, transceiver._preferred_codecs
    )


def negotiated_codecs(transceiver: RTCRtpTransceiver) -> list[Any]:
    codecs: list[Any] = transceiver._codecs
    return codecs


def selected_path(connection: RTCPeerConnection) -> str | None:
    """The nominated ICE pair's remote candidate: type and transport ("relay udp").

    What the server sees of the client's end: a relayed client shows "relay"
    whatever it uses to reach the TURN server (UDP, TCP or TLS).
    """
    transceivers = connection.getTransceivers()
    if not transceivers:
        return None
    dtls: Any = transceivers[0].receiver.transport
    if dtls is None:
        return None
    pair = dtls.transport._connection._nominated.get(1)
    if pair is None:
        return None
    candidate = pair.remote_candidate
    return f"{candidate.type} {candidate.transport.lower()}"


# --- one UDP port for every connection (media/udp_mux.py) ----------------------


class _MuxTransport(asyncio.DatagramTransport):
    """A connection's view of the shared socket: sends through it, closes only itself."""

    def __init__(self, mux: UdpMux, protocol: _MuxedProtocol) -> None:
        super().__init__()
        assert mux.transport is not None, "open the media port first"
        self._mux = mux
        self._protocol = protocol
        self._closing = False
        # The shared transport's own method: no extra call per forwarded packet.
        self.sendto = mux.transport.sendto  # type: ignore[method-assign]

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "sockname":
            return (self._protocol.local_candidate.host, self._mux.port)
        assert self._mux.transport is not None
        return self._mux.transport.get_extra_info(name, default)

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._mux.unregister(self._protocol)
        asyncio.get_running_loop().call_soon(self._protocol.connection_lost, None)

    def abort(self) -> None:
        self.close()


class _MuxedProtocol(aioice.ice.StunProtocol):
    """aioice's per-socket protocol, fed by the shared socket's demultiplexer."""

    local_candidate: Any
    receiver: Any
    mux: UdpMux

    def authentic(self, data: bytes) -> bool:
        try:
            message = aioice.stun.parse_message(data)
        except ValueError:
            return False
        password: str = self.receiver.local_password
        return bool(message.check_message_integrity(password.encode("utf8")))

    async def request(
        self,
        request: Any,
        addr: tuple[str, int],
        integrity_key: bytes | None = None,
        retransmissions: int | None = None,
    ) -> tuple[Any, tuple[str, int]]:
        # The answer may come from an address the mux has not bound yet.
        mux: UdpMux = self.mux
        mux.expect(request.transaction_id, self)
        try:
            return await super().request(request, addr, integrity_key, retransmissions)
        finally:
            mux.forget(request.transaction_id)


def use_udp_mux(connection: RTCPeerConnection, mux: UdpMux) -> None:
    """Put every ICE transport this peer connection creates on the shared port.

    Call before the connection negotiates. Its host candidates are the
    announced IPv4 addresses with the mux's port (no socket of its own);
    closing the connection removes its entries from the mux's tables.
    """
    pc = _private(connection)
    create = pc._RTCPeerConnection__createDtlsTransport
    own_ufrags: set[str] = set()

    def create_dtls_transport() -> RTCDtlsTransport:
        dtls = create()
        ice = dtls.transport.iceGatherer._connection
        # Transports bundled later copy the first one's ufrag: keep theirs.
        if ice.local_username not in own_ufrags:
            ice._local_username = mux.new_ufrag()
            own_ufrags.add(ice.local_username)

        async def get_component_candidates(
            component: int, addresses: list[str], timeout: int = 5
        ) -> list[Any]:
            return _muxed_candidates(ice, mux, component, addresses)

        ice.get_component_candidates = get_component_candidates
        transport: RTCDtlsTransport = dtls
        return transport

    pc._RTCPeerConnection__createDtlsTransport = create_dtls_transport


def _muxed_candidates(ice: Any, mux: UdpMux, component: int, addresses: list[str]) -> list[Any]:
    protocols = []
    for address in addresses:
        if ":" in address:
            continue  # the media port is one IPv4 socket
        protocol = _MuxedProtocol(ice)
        protocol.mux = mux
        protocol.local_candidate = aioice.candidate.Candidate(
            foundation=aioice.candidate.candidate_foundation("host", "udp", address),
            component=component,
            transport="udp",
            priority=aioice.candidate.candidate_priority(component, "host"),
            host=address,
            port=mux.port,
            type="host",
        )
        protocol.connection_made(_MuxTransport(mux, protocol))
        protocols.append(protocol)
    if protocols:
        # The socket cannot tell which announced address a datagram was sent
        # to: the first candidate's protocol answers for the connection.
        mux.register(ice.local_username, protocols[0])
    ice._protocols += protocols
    return [p.local_candidate for p in protocols]


def ice_sockets(connection: RTCPeerConnection) -> list[Any]:
    """The UDP sockets the connection's ICE transports send and receive on."""
    sockets = []
    for transceiver in connection.getTransceivers():
        dtls: Any = transceiver.receiver.transport
        if dtls is None:
            continue
        for protocol in dtls.transport._connection._protocols:
            sock = protocol.transport.get_extra_info("socket")
            if sock is not None and sock not in sockets:
                sockets.append(sock)
    return sockets
