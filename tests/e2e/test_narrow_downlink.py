"""A browser on a narrow downlink keeps the floor's video and audio; other videos pause.

Three aiortc participants publish pre-encoded VP8 (~250 kbit/s) and Opus:
the chair, El Salvador (given the floor) and Costa Rica. The browser
(Guatemala) receives them; an nftables rate limit on the browser's
subscriber port (in the test's network namespace) leaves room for the
floor's video and the audio only. The server learns it from the browser's
receiver reports and holds the chair's and Costa Rica's videos for it: their
tiles show names, while the floor's video plays on at full frame rate and
its audio arrives whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from client import PalabraClient
from client.clip import LoopTrack, encode_audio, encode_video
from tests.rate_limit import limit_udp, nft_table

from .harness import BrowserPage, RunningServer
from .test_browser_join import admit, js, open_conference, participant_id, wait_js

# A policer drops what goes over it, audio included, when a keyframe bursts:
# on a loaded machine the floor's audio may lose a packet. Run it on a quiet
# machine: scripts/test -m slow.
pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TABLE = "palabra_browser_downlink"
LIMIT_KBYTES = 70  # 560 kbit/s: the floor's video and two audio streams fit, not one more video
VIDEO = encode_video(320, 180, seconds=4.0, bitrate=250_000, gop=120)
AUDIO = encode_audio(1.0)

# The browser's port on its subscriber connection's nominated pair.
SUBSCRIBER_PORT = """async () => {
    const pc = window.palabra.connection.subscriber;
    if (!pc) return null;
    const stats = await pc.getStats();
    let pair = null;
    stats.forEach((r) => {
        if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded') pair = r;
    });
    const local = pair ? stats.get(pair.localCandidateId) : null;
    return local ? local.port : null;
}"""

# Frames decoded and packets lost on the m-lines carrying `owner`'s media.
RECEIVED = """async (owner) => {
    const c = window.palabra.connection;
    const mids = new Map([...c.streams.values()]
        .filter((s) => s.participant_id === owner).map((s) => [s.mid, s.kind]));
    const out = {frames: 0, videoLost: 0, audioPackets: 0, audioLost: 0, at: performance.now()};
    for (const t of c.subscriber.getTransceivers()) {
        const kind = mids.get(t.mid);
        if (!kind) continue;
        (await t.receiver.getStats()).forEach((r) => {
            if (r.type !== 'inbound-rtp') return;
            if (kind === 'video') {
                out.frames += r.framesDecoded ?? 0;
                out.videoLost += r.packetsLost ?? 0;
            } else {
                out.audioPackets += r.packetsReceived ?? 0;
                out.audioLost += r.packetsLost ?? 0;
            }
        });
    }
    return out;
}"""


@pytest.fixture
def nft() -> Iterator[None]:
    with nft_table(TABLE):
        yield


def limit_port(port: int) -> None:
    limit_udp(TABLE, f"udp dport {port}", LIMIT_KBYTES)


@contextlib.asynccontextmanager
async def publishing(
    server: RunningServer,
    role: str,
    name: str,
    delegation: str | None,
    chair: PalabraClient | None = None,
) -> AsyncIterator[PalabraClient]:
    # Publish-only (no subscriber connection): the test process stays light.
    client = PalabraClient(
        server.ws_url, server.token(role=role, name=name, delegation=delegation),
        media_addresses=["127.0.0.1"], subscribe=False,
    )  # fmt: skip
    try:
        welcome = await client.join()
        if chair is not None:
            await admit(chair, welcome.you.id)
        await client.publish(video=LoopTrack(VIDEO), audio=LoopTrack(AUDIO))
        yield client
    finally:
        await client.close()


async def subscriber_port(page: Any, timeout: float = 10) -> int:
    """The browser's port on its subscriber connection, once its pair is nominated."""
    since = time.monotonic()
    while (port := await js(page, SUBSCRIBER_PORT)) is None:
        assert time.monotonic() - since < timeout, "no nominated subscriber pair"
        await asyncio.sleep(0.2)
    assert isinstance(port, int)
    return port


def tile(owner: str) -> str:
    return f'.tile[data-participant-id="{owner}"]'


async def test_a_narrow_downlink_keeps_the_floor_whole_and_pauses_the_other_videos(
    server: RunningServer, browser_page: BrowserPage, nft: None
) -> None:
    page = browser_page.page
    async with (
        publishing(server, "chair", "Presidencia (Honduras)", None) as chair,
        publishing(server, "head", "Canciller de El Salvador", "sv", chair) as sv,
        publishing(server, "head", "Canciller de Costa Rica", "cr", chair) as cr,
    ):
        chair_id, sv_id, cr_id = participant_id(chair), participant_id(sv), participant_id(cr)
        await open_conference(browser_page, server, chair)
        update = await sv.command("floor.request", delegation_id="sv")
        [request] = [e for e in update.events if e["type"] == "floor.requested"]
        await chair.command("floor.grant", request_id=request["request_id"], unlimited=True)
        for owner in (chair_id, sv_id, cr_id):
            selector = f"{tile(owner)} video"
            await wait_js(
                page, "(s) => (document.querySelector(s)?.videoWidth ?? 0) > 0", selector, 20
            )

        port = await subscriber_port(page)
        limited = time.monotonic()
        limit_port(port)
        await wait_js(
            page,
            """([a, b, floor]) => document.querySelector(a + '.video-paused')
                && document.querySelector(b + '.video-paused')
                && !document.querySelector(floor + '.video-paused')""",
            [tile(chair_id), tile(cr_id), tile(sv_id)],
            timeout=40,
        )
        held_after = time.monotonic() - limited
        text = await page.locator(tile(cr_id) + " .placeholder").inner_text()
        assert "Canciller de Costa Rica" in text

        # What the policer queued drains; then the floor's video and audio over
        # a few seconds: full frame rate, nothing lost.
        await page.wait_for_timeout(2000)
        before = await js(page, RECEIVED, sv_id)
        await page.wait_for_timeout(4000)
        after = await js(page, RECEIVED, sv_id)
        seconds = (after["at"] - before["at"]) / 1000
        fps = (after["frames"] - before["frames"]) / seconds
        print(
            f"\nlimit {8 * LIMIT_KBYTES} kbit/s; other videos held after {held_after:.1f} s;"
            f" floor over {seconds:.1f} s: {fps:.1f} fps,"
            f" {after['videoLost'] - before['videoLost']} video and"
            f" {after['audioLost'] - before['audioLost']} of"
            f" {after['audioPackets'] - before['audioPackets']} audio packets lost"
        )
        assert fps >= 20, f"the floor's video at {fps:.1f} fps"
        assert after["audioPackets"] - before["audioPackets"] >= 40 * seconds
        assert after["audioLost"] == before["audioLost"], "the floor's audio lost packets"
        assert after["videoLost"] <= before["videoLost"], "the floor's video lost packets"
        await browser_page.screenshot("narrow-downlink")
