"""One UDP socket for the media of every connection (one-port mode).

Like LiveKit's ``udp_port`` and mediasoup's WebRtcServer: ICE, DTLS and SRTP
of all peer connections share one socket, so a firewall needs one UDP rule.
A datagram from a known remote address goes to the connection that address
is bound to. A STUN binding request goes by its USERNAME (``server-ufrag:
client-ufrag``, RFC 8445 7.2.2) to the connection that owns the server ufrag
and, once its MESSAGE-INTEGRITY checks with that connection's password,
binds its source address to it: only a peer that knows the ICE password can
claim an address, and one connection holds at most :data:`MAX_ADDRESSES`.
A STUN response from an unbound address (the answer to the server's own
check) goes to the connection that sent that transaction.
Anything else (garbage, bad or unknown STUN, DTLS or SRTP from an unknown
address) is dropped and counted, and changes nothing.

No aiortc or aioice here: connections plug in as :class:`MuxEndpoint`
(``media/aiortc_hooks.py`` makes aioice's per-connection sockets virtual).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
import struct
from collections import Counter
from socket import SO_RCVBUF, SOL_SOCKET
from typing import Any, Protocol

logger = logging.getLogger(__name__)

Address = tuple[str, int]
RECEIVE_BUFFER = 8 * 1024 * 1024  # every participant's media arrives here
# Remote addresses one connection may hold (ICE candidates, NAT rebinding):
# beyond it the oldest is forgotten, so a peer cannot grow the table.
MAX_ADDRESSES = 8
_STUN_HEADER = struct.Struct("!HHI12s")
_ATTRIBUTE = struct.Struct("!HH")
_MAGIC_COOKIE = 0x2112A442
_USERNAME = 0x0006
# Reasons a datagram is dropped (the labels of the counter).
DROP_REASONS = ("bad_stun", "unknown_ufrag", "unauthenticated", "unknown_address")


class MuxEndpoint(Protocol):
    """One connection's end of the shared socket."""

    def datagram_received(self, data: bytes, addr: Address) -> None: ...

    def authentic(self, data: bytes) -> bool:
        """True when this STUN request's MESSAGE-INTEGRITY checks with the local password."""
        ...


def parse_stun(data: bytes) -> tuple[int, bytes, str | None] | None:
    """(message type, transaction id, USERNAME) of a well-formed STUN message, else None."""
    if len(data) < 20:
        return None
    kind, length, cookie, transaction_id = _STUN_HEADER.unpack_from(data)
    if cookie != _MAGIC_COOKIE or length != len(data) - 20 or length % 4:
        return None
    username = None
    position = 20
    while position + 4 <= len(data):
        attribute, size = _ATTRIBUTE.unpack_from(data, position)
        position += 4
        if position + size > len(data):
            return None
        if attribute == _USERNAME:
            try:
                username = data[position : position + size].decode()
            except UnicodeDecodeError:
                return None
        position += (size + 3) & ~3
    return kind, transaction_id, username


class UdpMux(asyncio.DatagramProtocol):
    """The shared media socket and its demultiplexing tables."""

    def __init__(self, port: int, host: str = "0.0.0.0") -> None:
        self.port = port
        self.host = host
        self.transport: asyncio.DatagramTransport | None = None
        self._by_ufrag: dict[str, MuxEndpoint] = {}
        self._ufrag_of: dict[MuxEndpoint, str] = {}
        self._by_address: dict[Address, MuxEndpoint] = {}
        # Each connection's addresses, oldest first (a dict keeps the order).
        self._addresses_of: dict[MuxEndpoint, dict[Address, None]] = {}
        # The server's own STUN requests in flight: their responses may come
        # from an address not bound yet.
        self._by_transaction: dict[bytes, MuxEndpoint] = {}
        self.dropped: Counter[str] = Counter()

    async def open(self) -> None:
        """Bind the socket; OSError (port in use, no permission) says why not."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        with contextlib.suppress(OSError):
            sock.setsockopt(SOL_SOCKET, SO_RCVBUF, RECEIVE_BUFFER)
        self.port = sock.getsockname()[1]
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, sock=sock)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    # --- the tables ---------------------------------------------------------

    def new_ufrag(self) -> str:
        """A local ICE username fragment no registered connection uses."""
        while True:
            ufrag = secrets.token_hex(8)
            if ufrag not in self._by_ufrag:
                return ufrag

    def register(self, ufrag: str, endpoint: MuxEndpoint) -> None:
        if self._by_ufrag.get(ufrag, endpoint) is not endpoint:
            raise ValueError(f"ICE ufrag {ufrag!r} is already in use on the media port")
        self._by_ufrag[ufrag] = endpoint
        self._ufrag_of[endpoint] = ufrag
        self._addresses_of.setdefault(endpoint, {})

    def unregister(self, endpoint: MuxEndpoint) -> None:
        """Forget a closing connection: its ufrag, addresses and transactions."""
        ufrag = self._ufrag_of.pop(endpoint, None)
        if ufrag is not None:
            del self._by_ufrag[ufrag]
        for address in self._addresses_of.pop(endpoint, ()):
            if self._by_address.get(address) is endpoint:
                del self._by_address[address]
        for transaction_id in [t for t, e in self._by_transaction.items() if e is endpoint]:
            del self._by_transaction[transaction_id]

    def expect(self, transaction_id: bytes, endpoint: MuxEndpoint) -> None:
        """The endpoint sent this STUN request: its response goes back to it."""
        self._by_transaction[transaction_id] = endpoint

    def forget(self, transaction_id: bytes) -> None:
        self._by_transaction.pop(transaction_id, None)

    def stats(self) -> dict[str, int]:
        """Sizes of the tables and datagrams dropped, by reason (for /metrics)."""
        figures = {
            "connections": len(self._by_ufrag),
            "addresses": len(self._by_address),
            "transactions": len(self._by_transaction),
        }
        figures.update({f"dropped_{reason}": self.dropped[reason] for reason in DROP_REASONS})
        return figures

    # --- receiving ------------------------------------------------------------

    def datagram_received(self, data: bytes, addr: Any) -> None:
        address: Address = (addr[0], addr[1])
        endpoint = self._by_address.get(address)
        # RFC 7983: a first byte of 0..3 is STUN.
        if data and data[0] < 4:
            self._stun_received(data, address, endpoint)
        elif endpoint is not None:
            endpoint.datagram_received(data, address)
        else:
            self.dropped["unknown_address"] += 1

    def _stun_received(self, data: bytes, address: Address, bound: MuxEndpoint | None) -> None:
        parsed = parse_stun(data)
        if parsed is None:
            self.dropped["bad_stun"] += 1
            return
        kind, transaction_id, username = parsed
        if kind & 0x0110 == 0x0000:  # a request: routed by the ufrag it names
            if username is None:
                self.dropped["bad_stun"] += 1
                return
            endpoint = self._by_ufrag.get(username.partition(":")[0])
            if endpoint is None:
                self.dropped["unknown_ufrag"] += 1
                return
            if not endpoint.authentic(data):
                self.dropped["unauthenticated"] += 1
                return
            if bound is not endpoint:
                self._bind(address, endpoint)
            endpoint.datagram_received(data, address)
        elif bound is not None:
            bound.datagram_received(data, address)
        elif kind & 0x0100 and transaction_id in self._by_transaction:
            # The response to one of the server's own checks.
            self._by_transaction[transaction_id].datagram_received(data, address)
        else:
            self.dropped["unknown_address"] += 1

    def _bind(self, address: Address, endpoint: MuxEndpoint) -> None:
        previous = self._by_address.get(address)
        if previous is not None:
            del self._addresses_of[previous][address]
        held = self._addresses_of[endpoint]
        if len(held) >= MAX_ADDRESSES:
            oldest = next(iter(held))
            del held[oldest]
            del self._by_address[oldest]
        self._by_address[address] = endpoint
        held[address] = None

    def error_received(self, exc: Exception) -> None:
        logger.debug("media port: %s", exc)
