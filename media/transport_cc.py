"""Transport-wide congestion feedback to a publisher (the I/O around media.twcc).

When a publisher's offer carries the transport-wide sequence number, the
server's answer accepts it with ``transport-cc`` feedback on every section;
then every packet that arrives on the connection is timed here and a feedback
packet goes back every ``INTERVAL``: the browser's own send-side estimator
sees the real path and sets its outgoing bitrate from it (aiortc alone
negotiates neither, and its REMB reflects only what one subscriber sees).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from .rtp import find_extension
from .twcc import ArrivalRecorder, offered_extension_id, with_transport_cc

logger = logging.getLogger(__name__)

INTERVAL = 0.1  # seconds between feedback packets (libwebrtc sends every 50-250 ms)

# The SSRCs a feedback names: ours (the receiver's RTCP SSRC) and one of the
# publisher's media streams; None until both are known.
SsrcSource = Callable[[], tuple[int, int] | None]


class PublisherFeedback:
    def __init__(self, peer_id: str, send_rtcp: Callable[[bytes], bool], ssrcs: SsrcSource) -> None:
        self.peer_id = peer_id
        self.extension_id: int | None = None
        self.feedback_sent = 0  # packets, for the figures
        self._send_rtcp = send_rtcp
        self._ssrcs = ssrcs
        self._recorder = ArrivalRecorder()
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False

    def negotiate(self, offer_sdp: str, answer_sdp: str) -> str:
        """The answer, accepting transport-wide-cc when the offer asks for it."""
        self.extension_id = offered_extension_id(offer_sdp)
        if self.extension_id is None:
            return answer_sdp
        return with_transport_cc(answer_sdp, self.extension_id)

    def restart(self, send_rtcp: Callable[[bytes], bool]) -> None:
        """A new publisher connection: a new numbering, a new socket."""
        self._send_rtcp = send_rtcp
        self._recorder = ArrivalRecorder()
        self.extension_id = None

    def on_rtp(self, data: bytes) -> None:
        """Time one incoming RTP packet (every packet of the connection, RTX and padding too)."""
        ext = self.extension_id
        if ext is None:
            return
        value = find_extension(data, ext)
        if value is None or len(value) != 2:
            return
        self._recorder.on_packet((value[0] << 8) | value[1], time.monotonic_ns() // 1000)
        if self._timer is None and not self._closed:
            self._timer = asyncio.get_running_loop().call_later(INTERVAL, self._send)

    def _send(self) -> None:
        self._timer = None
        if self._closed:
            return
        ssrcs = self._ssrcs()
        if ssrcs is None:
            # Not known yet (the first packets): keep the arrivals for the next try.
            self._timer = asyncio.get_running_loop().call_later(INTERVAL, self._send)
            return
        try:
            for packet in self._recorder.feedback(*ssrcs):
                if self._send_rtcp(packet):
                    if not self.feedback_sent:
                        logger.info("transport feedback to %s started", self.peer_id)
                    self.feedback_sent += 1
        except Exception:
            logger.exception("transport feedback failed")

    def close(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
