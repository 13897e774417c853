"""The technicians' feed tells repaired loss from loss that reaches the audience.

Real aiortc peers and a real server in the test's network namespace; the
publishers bind their own loopback address and the listener another, and an
nftables rule drops 5 % of the UDP from the publishers and 5 % of the UDP to
the listener, at random, as lossy links do. Video lost on the way in is
repaired by the publisher's retransmission, audio sent as RED is rebuilt from
the next packet's redundancy, and the listener's NACKs are answered from the
server's cache: the feed counts each of them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import AsyncExitStack
from typing import Any

import pytest

from client import PalabraClient
from media import red
from media.aiortc_hooks import negotiated_codecs, primary_payload_type
from media.transport import IdleTrack
from rooms import Settings
from signaling import MonitorStats
from tests.rate_limit import lose_udp, nft_table

from .conftest import RunningServer
from .media_tracks import ColourTrack

pytestmark = pytest.mark.usefixtures("forwarding_path")

TABLE = "palabra_repairs"
PUBLISHERS = "127.0.0.6"
LISTENER = "127.0.0.7"
LOSS_PER_MILLE = 50


@pytest.fixture
def settings() -> Settings:
    return Settings(lobby_enabled=False, open_floor=True)  # every microphone heard


@pytest.fixture
def nft() -> Iterator[None]:
    with nft_table(TABLE):
        yield


@pytest.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as stack:
        yield stack


async def join(
    server: RunningServer,
    stack: AsyncExitStack,
    name: str,
    delegation: str | None,
    role: str = "head",
    **options: Any,
) -> PalabraClient:
    client = PalabraClient(
        server.ws_url,
        server.token(role, name, delegation),
        media_addresses=["127.0.0.1"],
        **options,
    )
    stack.push_async_callback(client.close)
    await client.join()
    return client


def opus_frame(n: int) -> bytes:
    """Stands for one 20 ms Opus frame."""
    return bytes((0x78,)) + n.to_bytes(4, "big") + bytes([n & 0xFF]) * 40


async def send_red(client: PalabraClient) -> None:
    """Audio as Chromium sends it with RED: each packet carries the two before it."""
    [opus] = [
        primary_payload_type(negotiated_codecs(t)) for t in client.publisher.getTransceivers()
    ]
    assert opus is not None
    n = 2
    while True:
        older = [(opus, 1920, opus_frame(n - 2)), (opus, 960, opus_frame(n - 1))]
        with contextlib.suppress(ConnectionError):
            client.send_audio_rtp(red.encode(older, opus, opus_frame(n)), 960 * n, red=True)
        n += 1
        await asyncio.sleep(0.02)


async def test_the_feed_counts_repairs_under_random_loss(
    server: RunningServer, stack: AsyncExitStack, nft: None
) -> None:
    technician = await join(server, stack, "Técnico", None, role="technician", subscribe=False)
    camera = await join(
        server, stack, "Canciller de Guatemala", "gt", local_address=PUBLISHERS, subscribe=False
    )
    await camera.publish(video=ColourTrack("red"))
    voice = await join(
        server,
        stack,
        "Canciller de El Salvador",
        "sv",
        local_address=PUBLISHERS,
        subscribe=False,
        red=True,
        decode=False,
    )
    await voice.publish(audio=IdleTrack("audio"))
    await voice.wait_for(lambda: voice.publisher.connectionState == "connected")
    sending = asyncio.ensure_future(send_red(voice))
    stack.callback(sending.cancel)
    listener = await join(
        server, stack, "Canciller de Costa Rica", "cr", local_address=LISTENER, decode=False
    )
    await listener.wait_for_streams(2, frames=10, timeout=20)

    lose_udp(TABLE, [f"ip saddr {PUBLISHERS}", f"ip daddr {LISTENER}"], LOSS_PER_MILLE)
    gt, sv = camera.welcome.you.id, voice.welcome.you.id  # type: ignore[union-attr]

    def streams() -> list[Mapping[str, Any]]:
        stats = [m for m in technician.messages if isinstance(m, MonitorStats)]
        return list(stats[-1].streams) if stats else []

    def one(direction: str, owner: str) -> Mapping[str, Any]:
        return next(
            (s for s in streams() if s["direction"] == direction and s["participant_id"] == owner),
            {},
        )

    def repaired() -> bool:
        video_in, audio_in, video_out = one("in", gt), one("in", sv), one("out", gt)
        return (
            video_in.get("repairs", 0) > 0
            and audio_in.get("red_recovered", 0) > 0
            and video_out.get("retransmitted", 0) > 0
        )

    await technician.wait_for(repaired, timeout=40)
    video_in, audio_in, video_out = one("in", gt), one("in", sv), one("out", gt)
    # In: loss from the publisher, repaired by NACK (video) and RED (audio).
    assert video_in["nacks"] > 0 and video_in["retransmitted"] is None
    assert audio_in["red_packets"] > audio_in["red_recovered"] > 0
    assert audio_in["red_malformed"] == 0
    # Out: the listener's NACKs, answered from the cache or missed.
    assert video_out["subscriber_id"] == listener.welcome.you.id  # type: ignore[union-attr]
    assert video_out["nacks"] >= video_out["retransmitted"] + video_out["retransmit_misses"]
    assert video_out["retransmit_misses"] >= 0
    assert video_out["repairs"] is None and video_out["red_recovered"] is None
    audio_out = one("out", sv)
    assert audio_out["retransmitted"] == 0  # audio has no NACK in WebRTC
    print(
        f"\nvideo in: {video_in['repairs']} repaired, {video_in['unrepaired']} given up;"
        f" audio in: {audio_in['red_recovered']} rebuilt of {audio_in['red_packets']} RED;"
        f" video out: {video_out['nacks']} asked, {video_out['retransmitted']} resent,"
        f" {video_out['retransmit_misses']} missed"
    )
