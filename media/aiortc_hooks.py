"""Every use of aiortc's and aioice's private API, in one place.

aiortc has no supported way to forward RTP without decoding and re-encoding it
(maintainer, aiortc #449 and #627), so Palabra hooks it at these points:

- the publisher's receivers: ``_handle_rtp_packet`` is replaced per instance,
  so packets leave before the jitter buffer and no decoder ever runs;
- the module global ``decoder_worker``: a receiver that forwards starts no
  decoder thread work at all;
- the subscriber's senders: their track never yields a frame (no encoder), the
  SFU writes rewritten packets with the sender's SRTP session, feeds its NACK
  history and sender-report counters, and takes its keyframe requests;
- aioice's ``get_host_addresses``: the addresses announced for media.

The pinned versions are checked at start-up by :func:`check_versions`; any
upgrade means re-reading the code these hooks reach into.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import threading
import weakref
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aioice.ice
import aiortc.rtcpeerconnection
import aiortc.rtcrtpreceiver
from aiortc import RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc.codecs import is_rtx
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcrtpreceiver import StreamStatistics
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTP_HISTORY_SIZE,
    RtcpPsfbPacket,
    RtpPacket,
    pack_remb_fci,
    unwrap_rtx,
)

PINNED_VERSIONS = {"aiortc": "1.16.0", "aioice": "0.13.0", "av": "18.1.0"}

PacketHandler = Callable[[RtpPacket], Awaitable[None]]


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
        (RTCRtpReceiver, "_handle_rtp_packet"),
        (RTCRtpReceiver, "_send_rtcp_pli"),
        (RTCRtpReceiver, "_send_rtcp_nack"),
        (RTCRtpSender, "_send_keyframe"),
        (RTCRtpSender, "_retransmit"),
        (RTCDtlsTransport, "_send_rtp"),
        (aioice.ice, "get_host_addresses"),
        (aiortc.rtcpeerconnection, "filter_preferred_codecs"),
    ]
    missing = [f"{owner!r}.{name}" for owner, name in required if not hasattr(owner, name)]
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
        return [a for a in chosen if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

    aioice.ice.get_host_addresses = get_host_addresses


_ORIGINAL_GET_HOST_ADDRESSES = aioice.ice.get_host_addresses


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


# --- publisher side: take RTP before the jitter buffer -----------------------


class ReceiverTap:
    """Takes a publisher receiver's RTP packets before aiortc depacketizes them.

    It keeps what the publisher needs from a receiver (receiver reports, REMB,
    NACK for video, RTX unwrapping) and hands every media packet to ``handler``.
    Must be installed before ``receiver.receive()`` runs, i.e. from the
    peer connection's ``track`` event.
    """

    def __init__(self, receiver: RTCRtpReceiver, handler: PacketHandler) -> None:
        self.receiver: Any = _private(receiver)
        self._handler = handler
        self._codecs: dict[int, Any] = self.receiver._RTCRtpReceiver__codecs
        self._rtx_ssrc: dict[int, int] = self.receiver._RTCRtpReceiver__rtx_ssrc
        self._streams: dict[int, StreamStatistics] = self.receiver._RTCRtpReceiver__remote_streams
        self._nack = self.receiver._RTCRtpReceiver__nack_generator
        self._estimator = self.receiver._RTCRtpReceiver__remote_bitrate_estimator
        _FORWARDING_QUEUES.add(self.receiver.track._queue)
        self.receiver._handle_rtp_packet = self._handle_rtp_packet

    def statistics(self, ssrc: int) -> StreamStatistics | None:
        return self._streams.get(ssrc)

    async def request_keyframe(self, media_ssrc: int) -> None:
        await self.receiver._send_rtcp_pli(media_ssrc)

    async def _handle_rtp_packet(self, packet: RtpPacket, arrival_time_ms: int) -> None:
        codec = self._codecs.get(packet.payload_type)
        if codec is None:
            return
        stats = self._streams.get(packet.ssrc)
        if stats is None:
            stats = self._streams[packet.ssrc] = StreamStatistics(codec.clockRate)
        stats.add(packet)

        if self._estimator is not None and packet.extensions.abs_send_time is not None:
            remb = self._estimator.add(
                abs_send_time=packet.extensions.abs_send_time,
                arrival_time_ms=arrival_time_ms,
                payload_size=len(packet.payload) + packet.padding_size,
                ssrc=packet.ssrc,
            )
            rtcp_ssrc = self.receiver._RTCRtpReceiver__rtcp_ssrc
            if remb is not None and rtcp_ssrc is not None:
                await self.receiver._send_rtcp(
                    RtcpPsfbPacket(
                        fmt=RTCP_PSFB_APP, ssrc=rtcp_ssrc, media_ssrc=0, fci=pack_remb_fci(*remb)
                    )
                )

        if is_rtx(codec):
            original_ssrc = self._rtx_ssrc.get(packet.ssrc)
            apt = codec.parameters.get("apt")
            if original_ssrc is None or len(packet.payload) < 2 or apt not in self._codecs:
                return  # bandwidth probing padding, or an RTX stream we never announced
            packet = unwrap_rtx(packet, payload_type=apt, ssrc=original_ssrc)

        if self._nack is not None and self._nack.add(packet):
            await self.receiver._send_rtcp_nack(packet.ssrc, sorted(self._nack.missing))

        if packet.payload:
            await self._handler(packet)


# --- subscriber side: write packets through a sender -------------------------


class SenderTap:
    """Writes forwarded packets through a subscriber-side sender.

    The sender's track never yields a frame, so aiortc creates no encoder; this
    tap sends already rewritten packets with the sender's SRTP session, records
    them in aiortc's retransmission history (so aiortc answers NACKs with RTX)
    and keeps the counters aiortc puts in its sender reports.
    """

    def __init__(self, sender: RTCRtpSender, on_keyframe_request: Callable[[], None]) -> None:
        self.sender: Any = _private(sender)
        self.ssrc: int = sender._ssrc
        self._history: dict[int, RtpPacket] = self.sender._RTCRtpSender__rtp_history
        self._extensions_map = self.sender._RTCRtpSender__rtp_header_extensions_map
        intercept_keyframe_requests(sender, on_keyframe_request)

    @property
    def ready(self) -> bool:
        """True once negotiation started the sender on a connected transport."""
        started = bool(self.sender._RTCRtpSender__started)
        return started and self.sender.transport.state == "connected"

    async def send(self, packet: RtpPacket, ntp_time: int) -> None:
        self._history[packet.sequence_number % RTP_HISTORY_SIZE] = packet
        await self.sender.transport._send_rtp(packet.serialize(self._extensions_map))
        sender = self.sender
        sender._RTCRtpSender__ntp_timestamp = ntp_time
        sender._RTCRtpSender__rtp_timestamp = packet.timestamp
        sender._RTCRtpSender__octet_count += len(packet.payload)
        sender._RTCRtpSender__packet_count += 1

    def round_trip_time(self) -> float | None:
        """Smoothed RTT from the subscriber's receiver reports, in seconds."""
        rtt: float | None = self.sender._RTCRtpSender__rtt
        return rtt


def intercept_keyframe_requests(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    """Route the remote side's PLI/FIR for this sender to ``callback``.

    aiortc would only flag its encoder; a sender fed with packets has none.
    """
    _private(sender)._send_keyframe = callback


# --- codecs -------------------------------------------------------------------


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
