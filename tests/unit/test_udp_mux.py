"""The shared media socket's demultiplexer, datagram by datagram (no sockets)."""

from __future__ import annotations

import struct

import pytest

from media.udp_mux import MAX_ADDRESSES, UdpMux, parse_stun

CLIENT = ("192.0.2.7", 50000)
OTHER = ("192.0.2.8", 50001)


class Endpoint:
    """A connection's end of the mux that records what it is given."""

    def __init__(self, password_ok: bool = True) -> None:
        self.received: list[tuple[bytes, tuple[str, int]]] = []
        self.password_ok = password_ok

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received.append((data, addr))

    def authentic(self, data: bytes) -> bool:
        return self.password_ok


def stun(kind: int, transaction_id: bytes = b"t" * 12, username: str | None = None) -> bytes:
    attributes = b""
    if username is not None:
        name = username.encode()
        attributes = struct.pack("!HH", 0x0006, len(name)) + name + b"\0" * (-len(name) % 4)
    return struct.pack("!HHI12s", kind, len(attributes), 0x2112A442, transaction_id) + attributes


def test_parse_stun_reads_type_transaction_and_username() -> None:
    assert parse_stun(stun(0x0001, b"a" * 12, "abcd:efgh")) == (0x0001, b"a" * 12, "abcd:efgh")
    assert parse_stun(stun(0x0101)) == (0x0101, b"t" * 12, None)
    assert parse_stun(b"\x00\x01\x00\x00") is None  # truncated
    wrong_cookie = bytearray(stun(0x0001))
    wrong_cookie[4] ^= 1
    assert parse_stun(bytes(wrong_cookie)) is None
    assert parse_stun(stun(0x0001, username="abcd") + b"\0\0\0\0") is None  # length lies


def test_an_authentic_request_binds_its_address_then_media_follows() -> None:
    mux = UdpMux(0)
    a, b = Endpoint(), Endpoint()
    mux.register("ufraga", a)
    mux.register("ufragb", b)
    mux.datagram_received(b"\x80" + b"\0" * 20, CLIENT)
    assert mux.dropped["unknown_address"] == 1 and not a.received

    request = stun(0x0001, username="ufraga:remote")
    mux.datagram_received(request, CLIENT)
    mux.datagram_received(b"\x80" + b"\0" * 20, CLIENT)
    mux.datagram_received(b"\x16\xfe\xfd", CLIENT)
    assert [d[:1] for d, _ in a.received] == [b"\x00", b"\x80", b"\x16"]
    assert not b.received
    assert mux.stats()["addresses"] == 1


def test_bad_unknown_and_forged_stun_is_dropped_and_binds_nothing() -> None:
    mux = UdpMux(0)
    forged = Endpoint(password_ok=False)
    mux.register("ufraga", forged)
    mux.datagram_received(b"\x00\x01garbage", CLIENT)
    mux.datagram_received(stun(0x0001), CLIENT)  # no USERNAME
    mux.datagram_received(stun(0x0001, username="nobody:x"), CLIENT)
    mux.datagram_received(stun(0x0001, username="ufraga:x"), CLIENT)
    mux.datagram_received(stun(0x0101), CLIENT)  # a response nobody awaits
    assert not forged.received
    assert mux.stats() == {
        "connections": 1,
        "addresses": 0,
        "transactions": 0,
        "dropped_bad_stun": 2,
        "dropped_unknown_ufrag": 1,
        "dropped_unauthenticated": 1,
        "dropped_unknown_address": 1,
    }


def test_a_response_goes_to_the_connection_awaiting_it() -> None:
    mux = UdpMux(0)
    a, b = Endpoint(), Endpoint()
    mux.register("ufraga", a)
    mux.register("ufragb", b)
    mux.expect(b"x" * 12, b)
    mux.datagram_received(stun(0x0101, b"x" * 12), OTHER)
    assert len(b.received) == 1 and not a.received
    assert mux.stats()["addresses"] == 0  # a response binds nothing
    mux.forget(b"x" * 12)
    mux.datagram_received(stun(0x0101, b"x" * 12), OTHER)
    assert len(b.received) == 1 and mux.dropped["unknown_address"] == 1


def test_a_connection_holds_a_bounded_number_of_addresses() -> None:
    mux = UdpMux(0)
    a = Endpoint()
    mux.register("ufraga", a)
    addresses = [("192.0.2.7", 40000 + i) for i in range(MAX_ADDRESSES + 3)]
    for address in addresses:
        mux.datagram_received(stun(0x0001, username="ufraga:r"), address)
    assert mux.stats()["addresses"] == MAX_ADDRESSES
    mux.datagram_received(b"\x80" + b"\0" * 20, addresses[0])  # the oldest, forgotten
    mux.datagram_received(b"\x80" + b"\0" * 20, addresses[-1])
    assert mux.dropped["unknown_address"] == 1 and len(a.received) == len(addresses) + 1


def test_a_request_naming_another_ufrag_moves_the_address() -> None:
    mux = UdpMux(0)
    a, b = Endpoint(), Endpoint()
    mux.register("ufraga", a)
    mux.register("ufragb", b)
    mux.datagram_received(stun(0x0001, username="ufraga:r"), CLIENT)
    mux.datagram_received(stun(0x0001, username="ufragb:r"), CLIENT)
    mux.datagram_received(b"\x80" + b"\0" * 20, CLIENT)
    assert len(a.received) == 1 and len(b.received) == 2
    mux.unregister(a)
    assert mux.stats()["addresses"] == 1  # still b's


def test_unregister_removes_the_ufrag_and_every_address() -> None:
    mux = UdpMux(0)
    a, b = Endpoint(), Endpoint()
    mux.register("ufraga", a)
    mux.register("ufragb", b)
    mux.datagram_received(stun(0x0001, username="ufraga:r"), CLIENT)
    mux.datagram_received(stun(0x0001, username="ufraga:r"), OTHER)
    mux.datagram_received(stun(0x0001, username="ufragb:r"), ("192.0.2.9", 9))
    mux.expect(b"y" * 12, a)
    assert (mux.stats()["addresses"], mux.stats()["transactions"]) == (3, 1)
    mux.unregister(a)
    assert mux.stats()["connections"] == 1
    assert (mux.stats()["addresses"], mux.stats()["transactions"]) == (1, 0)
    mux.datagram_received(b"\x80" + b"\0" * 20, CLIENT)
    assert mux.dropped["unknown_address"] == 1
    assert len(a.received) == 2


def test_a_ufrag_cannot_be_registered_twice() -> None:
    mux = UdpMux(0)
    mux.register("ufraga", Endpoint())
    with pytest.raises(ValueError, match="already in use"):
        mux.register("ufraga", Endpoint())
    assert mux.new_ufrag() != "ufraga"
