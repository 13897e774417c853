"""The per-packet fan-out of a producer, native or in Python, behind one interface.

A producer calls ``fanout.forward(marker, seq, timestamp, tail)`` once per
incoming packet; for every route (a running consumer) the fan-out writes the
rewritten 12-byte RTP header, the subscriber's extension prefix and ``tail``
(the per-packet extension element and the payload), protects it with the
route's SRTP context and sends it to the route's :class:`Destination` (the
nominated ICE pair of the subscriber connection).

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

from .rtp import HEADER
from .vp8 import rewrite

logger = logging.getLogger(__name__)

IMPLEMENTATIONS = ("native", "python")
ENVIRONMENT = "PALABRA_FASTPATH"
SRTP_BUFFER = 2048
SRTP_MARGIN = 64  # room for the SRTP tag and MKI after the packet

# payload type byte, sequence offset, timestamp offset, SSRC, extension prefix,
# destination, libsrtp context (srtp_t) of the SSRC, and optionally the VP8
# picture id and TL0PICIDX offsets (a subscriber switched between simulcast
# layers or sources: its picture ids go on from the last it was sent)
Route = (
    tuple[int, int, int, int, bytes, "Destination", Any]
    | tuple[int, int, int, int, bytes, "Destination", Any, int, int]
)


class Destination(Protocol):
    """Where one media socket sends: its UDP socket and the peer's address."""

    @property
    def ready(self) -> bool: ...

    def connect(self, transport: Any, addr: tuple[str, int]) -> None: ...

    def disconnect(self) -> None: ...


class Fanout(Protocol):
    """The running consumers of one producer."""

    def forward(self, marker: int, seq: int, timestamp: int, tail: bytes, vp8: int = 0) -> int:
        """``vp8``: where the picture id and TL0PICIDX are in ``tail``, packed
        as :func:`media.vp8.descriptor_fields` (0: nothing to rewrite)."""
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
        self._routes: list[tuple[int, int, int, int, bytes, Destination, Any, int, int]] = [
            r if len(r) == 9 else (*r, 0, 0) for r in routes
        ]

    def __len__(self) -> int:
        return len(self._routes)

    def forward(self, marker: int, seq: int, timestamp: int, tail: bytes, vp8: int = 0) -> int:
        if vp8 > 0x1FFFF:
            raise ValueError("vp8 positions out of range")
        sent = 0
        tail_len = len(tail)
        original = tail
        # Inlined: each Python call costs as much as the rewrite itself.
        for route in self._routes:
            b1, seq_offset, ts_offset, ssrc, prefix, destination, context, pid, tl0 = route
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
    fanout: Fanout = _native.Fanout([(*r[:6], _address(r[6]), *r[7:]) for r in routes])
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
