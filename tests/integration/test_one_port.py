"""One-port mode: every participant's ICE, DTLS and SRTP on one UDP socket of the server."""

from __future__ import annotations

import asyncio
import os
import socket
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from prometheus_client.parser import text_string_to_metric_families

from client import PalabraClient
from media.aiortc_hooks import ice_sockets
from media.router import rtc_configuration
from rooms import Settings

from .conftest import METRICS_TOKEN, ClientFactory, RunningServer, demo_plan, running_server
from .media_tracks import ColourTrack, ToneTrack, dominant_colour

# Ten seats of the demo conference: the three heads and seven delegates.
SEATS = [("head", d) for d in ("gt", "sv", "cr")] + [
    ("delegate", d) for d in ("gt", "sv", "cr", "gt", "sv", "cr", "gt")
]
VIDEO = {0: "red", 9: "blue"}  # the two seats that also publish video


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
async def server(settings: Settings, tmp_path: Path) -> AsyncIterator[RunningServer]:
    async with running_server(
        [demo_plan(settings)], recordings=tmp_path / "recordings", media_port=free_udp_port()
    ) as s:
        yield s


def udp_socket_inodes() -> set[int]:
    """Inodes of the UDP sockets this process holds (server and clients alike)."""
    listed = set()
    for table in ("/proc/self/net/udp", "/proc/self/net/udp6"):
        with open(table) as f:
            next(f)
            listed.update(int(line.split()[9]) for line in f)
    held = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            held.add(int(target[8:-1]))
    return listed & held


def inodes(sockets: list[socket.socket]) -> set[int]:
    return {os.fstat(s.fileno()).st_ino for s in sockets}


def client_inodes(clients: list[PalabraClient]) -> set[int]:
    return {
        i for c in clients for pc in (c.publisher, c.subscriber) for i in inodes(ice_sockets(pc))
    }


async def join_ten(connect: ClientFactory) -> list[PalabraClient]:
    clients = []
    for i, (role, delegation) in enumerate(SEATS):
        colour = VIDEO.get(i)
        client = await connect(
            name=f"Asiento {i}", delegation=delegation, role=role, decode=colour is not None
        )
        await client.publish(video=ColourTrack(colour) if colour else None, audio=ToneTrack())
        clients.append(client)
    return clients


def frames(clients: list[PalabraClient]) -> list[int]:
    return [sum(s.frames for s in c.streams.values()) for c in clients]


# Both forwarding paths: the native one sends with sendmmsg on the shared socket.
@pytest.mark.usefixtures("forwarding_path")
async def test_ten_participants_media_on_one_socket(
    server: RunningServer, connect: ClientFactory
) -> None:
    mux = server.palabra.udp_mux
    assert mux is not None
    clients = await join_ten(connect)

    # Media both ways: each video publisher sees the other; everyone hears the nine others.
    for i, client in enumerate(clients):
        await client.wait_for_streams(9, kind="audio", frames=5, timeout=30)
        videos = await client.wait_for_streams(
            1 if i in VIDEO else 2, kind="video", frames=5, timeout=30
        )
        if i in VIDEO:
            [video] = videos
            assert dominant_colour(video.last_frame) == VIDEO[9 - i]

    conference = server.palabra.conferences["demo"]
    assert conference.router.codec_activity() == (0, 0)
    # Every server connection's ICE runs on the shared socket, and the process
    # holds no other UDP socket than the clients' own.
    assert mux.transport is not None
    [shared] = inodes([mux.transport.get_extra_info("socket")])
    for peer in conference.router.peers.values():
        for pc in (peer.publisher, peer.subscriber):
            assert pc is not None and inodes(ice_sockets(pc)) == {shared}
    assert udp_socket_inodes() - client_inodes(clients) == {shared}
    assert mux.stats()["connections"] == 20  # a publisher and a subscriber connection each


def stun_request(username: str, transaction_id: bytes) -> bytes:
    """A binding request with USERNAME and a MESSAGE-INTEGRITY of the wrong key."""
    name = username.encode()
    padded = name + b"\0" * (-len(name) % 4)
    attributes = struct.pack("!HH", 0x0006, len(name)) + padded
    attributes += struct.pack("!HH", 0x0008, 20) + b"\x55" * 20
    return struct.pack("!HHI12s", 0x0001, len(attributes), 0x2112A442, transaction_id) + attributes


async def test_bad_datagrams_change_nothing(server: RunningServer, connect: ClientFactory) -> None:
    mux = server.palabra.udp_mux
    assert mux is not None
    speaker = await connect(name="Canciller", delegation="gt")
    await speaker.publish(video=ColourTrack("green"), audio=ToneTrack())
    listener = await connect(name="Ministra", delegation="sv", decode=False)
    await listener.wait_for_streams(2, frames=5, timeout=20)
    before = mux.stats()
    server_ufrag = next(iter(mux._by_ufrag))

    attacker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    target = ("127.0.0.1", mux.port)
    with attacker:
        attacker.sendto(b"\x00\x01\x00\x00garbage", target)  # truncated STUN
        attacker.sendto(stun_request("nobody:x", os.urandom(12)), target)
        # The right ufrag, a forged MESSAGE-INTEGRITY: must not claim the address.
        attacker.sendto(stun_request(f"{server_ufrag}:x", os.urandom(12)), target)
        attacker.sendto(b"\x16\xfe\xfd" + os.urandom(60), target)  # DTLS, unknown address
        attacker.sendto(b"\x80\x6f" + os.urandom(100), target)  # SRTP, unknown address
        attacker.sendto(os.urandom(1) + b"\xff" * 7, target)
        await asyncio.sleep(0.2)

    counted = frames([listener])[0]
    await listener.wait_for(lambda: frames([listener])[0] > counted + 50, timeout=10)
    after = mux.stats()
    assert after["connections"] == before["connections"]
    assert after["addresses"] == before["addresses"]
    dropped = {k: after[k] - before[k] for k in after if k.startswith("dropped_")}
    assert dropped["dropped_bad_stun"] >= 1
    assert dropped["dropped_unknown_ufrag"] == 1
    assert dropped["dropped_unauthenticated"] == 1
    assert dropped["dropped_unknown_address"] >= 2
    assert sum(dropped.values()) >= 6 - 1  # the random first byte may be anything
    assert [s.kind for s in listener.streams.values()].count("video") == 1
    # What an operator sees.
    url = f"http://127.0.0.1:{server.port}/metrics"
    headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
        text = await response.text()
    samples = {
        (s.name, s.labels.get("reason")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("palabra_media_port_dropped_total", "unknown_ufrag")] == 1
    assert samples[("palabra_media_port_dropped_total", "unauthenticated")] == 1
    # The speaker's publisher and the listener's subscriber connection (the
    # others carry nothing, so they never negotiated).
    assert samples[("palabra_media_port_connections", None)] == after["connections"] == 2


async def test_leaving_frees_the_demux_entries(
    server: RunningServer, connect: ClientFactory
) -> None:
    mux = server.palabra.udp_mux
    assert mux is not None
    first = await connect(name="Canciller", delegation="gt")
    await first.publish(audio=ToneTrack())
    second = await connect(name="Ministra", delegation="sv")
    await second.publish(audio=ToneTrack())
    await first.wait_for_streams(1, kind="audio", frames=5, timeout=20)
    await second.wait_for_streams(1, kind="audio", frames=5, timeout=20)
    # One host candidate per client connection: one bound address each.
    assert (mux.stats()["connections"], mux.stats()["addresses"]) == (4, 4)

    await first.leave()
    conference = server.palabra.conferences["demo"]
    await second.wait_for(lambda: len(conference.router.peers) == 1, timeout=10)
    await second.wait_for(lambda: mux.stats()["connections"] == 2, timeout=10)
    assert mux.stats()["addresses"] == 2
    second_id = second.welcome.you.id  # type: ignore[union-attr]
    await second.leave()
    await first.wait_for(lambda: second_id not in conference.router.peers, timeout=10)
    await first.wait_for(lambda: mux.stats()["connections"] == 0, timeout=10)
    assert (mux.stats()["addresses"], mux.stats()["transactions"]) == (0, 0)


async def test_the_connectivity_check_echoes_through_the_media_port(
    server: RunningServer,
) -> None:
    """The check page's "UDP to the server" then tests the port the firewall must open."""
    mux = server.palabra.udp_mux
    assert mux is not None
    peer = RTCPeerConnection(rtc_configuration())
    channel = peer.createDataChannel("check")
    opened = asyncio.Event()
    echoed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    channel.on("open", opened.set)
    channel.on("message", lambda m: echoed.done() or echoed.set_result(m))
    try:
        await peer.setLocalDescription(await peer.createOffer())
        url = f"http://127.0.0.1:{server.port}/check/offer?t={server.token()}"
        offer = {"sdp": peer.localDescription.sdp}
        async with aiohttp.ClientSession() as http, http.post(url, json=offer) as response:
            answer = await response.json()
        assert f"127.0.0.1 {mux.port} typ host" in answer["sdp"]
        await peer.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        await asyncio.wait_for(opened.wait(), 10)
        channel.send("ping")
        assert await asyncio.wait_for(echoed, 10) == "ping"
        assert (mux.stats()["connections"], mux.stats()["addresses"]) == (1, 1)
    finally:
        await peer.close()
