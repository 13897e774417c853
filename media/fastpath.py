"""The per-packet fan-out of a producer, native or in Python, behind one interface.

A producer calls ``fanout.forward(marker, seq, timestamp, tail, red)`` once
per incoming packet; for every route (a running consumer) the fan-out writes
the rewritten 12-byte RTP header, the subscriber's extension prefix and
``tail`` (the per-packet extension element and the payload), protects it with
the route's SRTP context and sends it to the route's :class:`Destination` (the
nominated ICE pair of the subscriber connection).

The payload type is chosen per packet: ``red`` is -1 for a plain packet, or
where the RFC 2198 (RED) payload starts in ``tail`` (after the extension
element). A route that negotiated RED gets it with its RED payload type and
the block headers retagged with its Opus payload type; any other gets the
primary block alone, with its Opus payload type (:mod:`media.red`). A RED
packet that does not parse goes to nobody and is counted in ``malformed``.

Two implementations with the same behaviour:

- ``native``: ``media/_fastpath.c``, built by ``pip install`` when a C
  compiler and Python's headers are present. It writes every datagram into
  a preallocated buffer and hands them to the kernel with ``sendmmsg``, one
  call per socket. SRTP goes through the libsrtp that pylibsrtp loaded
  (addresses passed as integers), so the process has one libsrtp;
- ``python``: the same loop with ``struct``, cffi and the event loop's
  ``sendto``.

:func:`select` picks one at start (``PALABRA_FASTPATH=python`` forces the
twin); :func:`implementation` says which runs. The rest of ``media/`` only
calls :func:`new_destination` and :func:`new_fanout`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any, Protocol

from pylibsrtp import _binding as _srtp

from .red import parse as _red_parse
from .red import retag as _red_retag
from .rtp import HEADER
from .vp8 import rewrite

logger = logging.getLogger(__name__)

IMPLEMENTATIONS = ("native", "python")
ENVIRONMENT = "PALABRA_FASTPATH"
SRTP_BUFFER = 2048
SRTP_MARGIN = 64  # room for the SRTP tag and MKI after the packet

# payload type byte (Opus for audio), sequence offset, timestamp offset, SSRC,
# extension prefix, destination, libsrtp context (srtp_t) of the SSRC, and
# optionally: the RED payload type (-1: the subscriber has no RED), the VP8
# picture id and TL0PICIDX offsets (a subscriber switched between simulcast
# layers or sources: its picture ids go on from the last it was sent)
Route = (
    tuple[int, int, int, int, bytes, "Destination", Any]
    | tuple[int, int, int, int, bytes, "Destination", Any, int]
    | tuple[int, int, int, int, bytes, "Destination", Any, int, int, int]
)
_FullRoute = tuple[int, int, int, int, bytes, "Destination", Any, int, int, int]
NO_RED = -1


class Destination(Protocol):
    """Where one media socket sends: its UDP socket and the peer's address."""

    @property
    def ready(self) -> bool: ...

    def connect(self, transport: Any, addr: tuple[str, int]) -> None: ...

    def disconnect(self) -> None: ...


class Fanout(Protocol):
    """The running consumers of one producer."""

    # RED packets that did not parse (dropped for every route).
    @property
    def malformed(self) -> int: ...

    def forward(
        self, marker: int, seq: int, timestamp: int, tail: bytes, red: int = -1, vp8: int = 0
    ) -> int:
        """``red``: where a RED payload starts in ``tail`` (-1: not RED); ``vp8``:
        where the picture id and TL0PICIDX are in ``tail``, packed as
        :func:`media.vp8.descriptor_fields` (0: nothing to rewrite)."""
        ...

    def __len__(self) -> int: ...


# --- the Python twin ------------------------------------------------------------

_pack = HEADER.pack
_memmove = _srtp.ffi.memmove
_protect = _srtp.lib.srtp_protect


def _not_connected(data: bytes, addr: Any) -> None:
    raise ConnectionError("the media socket is not connected")


class PythonDestination:
    def __init__(self) -> None:
        self.ready = False
        self.sendto: Callable[[Any, Any], None] = _not_connected
        self.addr: Any = None
        # libsrtp protects in place, in one reused buffer per socket.
        self.buffer: Any = _srtp.ffi.new("char[]", SRTP_BUFFER)
        self.view: Any = _srtp.ffi.buffer(self.buffer)
        self.length: Any = _srtp.ffi.new("int *")

    def connect(self, transport: Any, addr: tuple[str, int]) -> None:
        self.sendto = transport.sendto
        self.addr = addr
        self.ready = True

    def disconnect(self) -> None:
        self.ready = False


class PythonFanout:
    def __init__(self, routes: Sequence[Route]) -> None:
        self._routes: list[_FullRoute] = [_full(r) for r in routes]
        for route in self._routes:
            if not NO_RED <= route[7] <= 0x7F or not 0 <= route[8] <= 0x7FFF:
                raise ValueError("route field out of range")
            if not 0 <= route[9] <= 0xFF:
                raise ValueError("route field out of range")
        self.malformed = 0

    def __len__(self) -> int:
        return len(self._routes)

    def forward(
        self, marker: int, seq: int, timestamp: int, tail: bytes, red: int = -1, vp8: int = 0
    ) -> int:
        if not 0 <= vp8 <= 0x1FFFF:
            raise ValueError("vp8 positions out of range")
        if red != NO_RED:
            return self._forward_red(marker, seq, timestamp, tail, red)
        sent = 0
        tail_len = len(tail)
        original = tail
        # Inlined: each Python call costs as much as the rewrite itself.
        for route in self._routes:
            b1, seq_offset, ts_offset, ssrc, prefix, destination, context, _, pid, tl0 = route
            if not destination.ready:
                continue
            tail = rewrite(original, vp8, pid, tl0) if vp8 and (pid or tl0) else original
            size = 12 + len(prefix) + tail_len
            if size > SRTP_BUFFER - SRTP_MARGIN:
                continue  # larger than any MTU: never produced by a publisher
            data = (
                _pack(
                    0x90,
                    b1 | marker,
                    (seq + seq_offset) & 0xFFFF,
                    (timestamp + ts_offset) & 0xFFFFFFFF,
                    ssrc,
                )
                + prefix
                + tail
            )
            buffer = destination.buffer  # type: ignore[attr-defined]
            _memmove(buffer, data, size)
            length = destination.length  # type: ignore[attr-defined]
            length[0] = size
            if _protect(context, buffer, length) == 0:
                destination.sendto(destination.view[0 : length[0]], destination.addr)  # type: ignore[attr-defined]
                sent += 1
        return sent

    def _forward_red(self, marker: int, seq: int, timestamp: int, tail: bytes, red: int) -> int:
        """A RED packet: as sent (retagged) or its primary block, per route."""
        if red < 0:
            raise ValueError("red is -1 or where the RED payload starts in the tail")
        parsed = _red_parse(tail, red)
        if parsed is None:
            self.malformed += 1
            return 0
        blocks, primary = parsed
        plain = tail[:red] + tail[primary:]
        retagged: dict[int, bytes] = {}  # by the subscriber's Opus payload type
        sent = 0
        for route in self._routes:
            b1, seq_offset, ts_offset, ssrc, prefix, destination, context, red_type, _, _ = route
            if not destination.ready:
                continue
            if red_type == NO_RED:
                body = plain
            else:
                body = retagged.get(b1) or retagged.setdefault(
                    b1, _red_retag(tail, red, blocks, b1)
                )
                b1 = red_type
            size = 12 + len(prefix) + len(body)
            if size > SRTP_BUFFER - SRTP_MARGIN:
                continue
            data = (
                _pack(
                    0x90,
                    b1 | marker,
                    (seq + seq_offset) & 0xFFFF,
                    (timestamp + ts_offset) & 0xFFFFFFFF,
                    ssrc,
                )
                + prefix
                + body
            )
            buffer = destination.buffer  # type: ignore[attr-defined]
            _memmove(buffer, data, size)
            length = destination.length  # type: ignore[attr-defined]
            length[0] = size
            if _protect(context, buffer, length) == 0:
                destination.sendto(destination.view[0 : length[0]], destination.addr)  # type: ignore[attr-defined]
                sent += 1
        return sent


def _full(route: Route) -> _FullRoute:
    """The route with its optional fields at their defaults."""
    if len(route) not in (7, 8, 10):
        raise ValueError("a route has 7, 8 or 10 fields")
    extra: tuple[int, ...] = route[7:]
    red_type, picture_offset, tl0_offset = extra + (NO_RED, 0, 0)[len(extra) :]
    return (*route[:7], red_type, picture_offset, tl0_offset)


# --- the native one -------------------------------------------------------------


def _load_native() -> ModuleType | None:
    try:
        from . import _fastpath  # type: ignore[attr-defined]
    except ImportError as error:
        logger.info("native fast path not available: %s", error)
        return None
    protect = _srtp.ffi.addressof(_srtp.lib, "srtp_protect")
    _fastpath.init(int(_srtp.ffi.cast("uintptr_t", protect)))
    module: ModuleType = _fastpath
    return module


_native = _load_native()


def _address(context: Any) -> int:
    return int(_srtp.ffi.cast("uintptr_t", context))


if _native is not None:

    class NativeDestination(_native.Destination):  # type: ignore[misc,name-defined]
        def connect(self, transport: Any, addr: tuple[str, int]) -> None:
            sock = transport.get_extra_info("socket")
            self.bind(sock.fileno(), addr[0], addr[1])


def _native_fanout(routes: Sequence[Route]) -> Fanout:
    assert _native is not None
    fanout: Fanout = _native.Fanout([(*r[:6], _address(r[6]), *_full(r)[7:]) for r in routes])
    return fanout


# --- selection --------------------------------------------------------------------

_current = "python"


def available() -> tuple[str, ...]:
    """The implementations this installation can run."""
    return IMPLEMENTATIONS if _native is not None else ("python",)


def select(name: str | None = None) -> str:
    """Choose the implementation for connections created from now on.

    ``None``: ``$PALABRA_FASTPATH`` if set, else native when built. Asking for
    native where it is not built raises.
    """
    global _current
    wanted = name or os.environ.get(ENVIRONMENT) or ("native" if _native else "python")
    if wanted not in IMPLEMENTATIONS:
        raise ValueError(f"unknown forwarding path {wanted!r}: {' or '.join(IMPLEMENTATIONS)}")
    if wanted not in available():
        raise RuntimeError("the native forwarding path is not built in this installation")
    _current = wanted
    return wanted


def implementation() -> str:
    """The implementation in use: ``native`` or ``python``."""
    return _current


def new_destination() -> Destination:
    if _current == "native":
        return NativeDestination()
    return PythonDestination()


def new_fanout(routes: Sequence[Route]) -> Fanout:
    if _current == "native":
        return _native_fanout(routes)
    return PythonFanout(routes)


def native_stats() -> dict[str, int]:
    """Datagrams the kernel refused, failed protections and send syscalls (native)."""
    if _native is None:
        return {}
    stats: dict[str, int] = _native.stats()
    return stats


select()
