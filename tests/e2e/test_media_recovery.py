"""Chromium gets its media back after its UDP path was cut for 40 s.

The browser and the server meet on 127.0.0.1; the aiortc chair uses its own
address (127.0.0.3), so an nftables rule in the test's network namespace
that drops UDP from 127.0.0.1 to 127.0.0.1 cuts the browser's media only.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiortc import AudioStreamTrack

from client import PalabraClient, RemoteStream

from .harness import BrowserPage, RunningServer, eventually
from .media import ORANGE, SolidColorVideoTrack
from .test_browser_join import js, open_conference, wait_js

# 40 s without UDP; tests/integration/test_ice_recovery.py does the same with
# aiortc in the default run, this one with Chromium runs with -m slow.
pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHAIR_ADDRESS = "127.0.0.3"
TABLE = "palabra_browser_cut"
NFT = shutil.which("nft") or "/usr/sbin/nft"
CUT_FOR = 40.0

RECEIVED = """async () => {
    const pc = window.palabra.connection.subscriber;
    if (!pc) return 0;
    let packets = 0;
    (await pc.getStats()).forEach((r) => {
        if (r.type === 'inbound-rtp') packets += r.packetsReceived;
    });
    return packets;
}"""


@pytest.fixture
def nft() -> Iterator[None]:
    """nftables is there; no rule of this test outlives it."""
    if not Path(NFT).exists():
        pytest.skip("nft is not installed (apt-get install nftables)")
    yield
    subprocess.run([NFT, "delete", "table", "inet", TABLE], capture_output=True)


def cut_on() -> None:
    rules = f"""
table inet {TABLE} {{
  chain inp {{
    type filter hook input priority 0; policy accept;
    ip saddr 127.0.0.1 ip daddr 127.0.0.1 meta l4proto udp drop
  }}
}}
"""
    result = subprocess.run([NFT, "-f", "-"], input=rules.encode(), capture_output=True)
    if result.returncode != 0:
        pytest.skip(f"nft refused the rules: {result.stderr.decode().strip()}")


def cut_off() -> None:
    subprocess.run([NFT, "delete", "table", "inet", TABLE], check=True)


async def test_the_browser_gets_its_media_back_after_40_s_without_udp(
    server: RunningServer, browser_page: BrowserPage, nft: None
) -> None:
    page = browser_page.page

    token = server.token(role="chair", name="Presidencia (Honduras)", delegation=None)
    chair = PalabraClient(
        server.ws_url,
        token,
        media_addresses=["127.0.0.1"],
        decode=False,
        local_address=CHAIR_ADDRESS,
    )
    try:
        await chair.join()
        await chair.publish(audio=AudioStreamTrack(), video=SolidColorVideoTrack(ORANGE))
        browser_id = await open_conference(browser_page, server, chair)

        def browser_video() -> RemoteStream | None:
            return next(
                (
                    s
                    for s in chair.streams.values()
                    if s.participant_id == browser_id and s.kind == "video" and s.packets > 50
                ),
                None,
            )

        seen = await eventually(browser_video, 30, "the browser's video at the chair")
        producer = seen.producer_id
        before: int = await js(page, RECEIVED)
        assert before > 0

        cut_on()
        cut_at = time.monotonic()
        try:
            # Chromium's ICE fails after ~30 s: it re-creates its publisher
            # connection, the server the subscriber one; the page says so.
            await wait_js(
                page,
                "() => window.palabra.connection.states.mediaReconnecting",
                timeout=90,
            )
            status = page.locator("#status")
            await status.filter(has_text="Se perdió el audio y el vídeo, reconectando").wait_for(
                timeout=10_000
            )
            assert await status.get_attribute("data-state") == "warning"
            await browser_page.screenshot("media-reconnecting")
            await asyncio.sleep(max(0.0, CUT_FOR - (time.monotonic() - cut_at)))
        finally:
            cut_off()
        restored_at = time.monotonic()
        at_restore = seen.packets
        await eventually(lambda: seen.packets > at_restore + 50, 60, "the browser's video back")
        back_after = time.monotonic() - restored_at
        await wait_js(page, "() => !window.palabra.connection.states.mediaReconnecting", timeout=30)
        received: int = await js(page, RECEIVED)
        assert received > 0  # on the new subscriber connection
        restarts = await js(page, "() => window.palabra.connection.restarts")
        print(f"browser media back {back_after:.2f} s after the restore; restarts {restarts}")
        assert restarts["publisher"] >= 1 and restarts["subscriber"] >= 1
        # Same seat, never rejoined; the chair still sees the same producer.
        assert await js(page, "() => window.palabra.connection.state") == "joined"
        assert await js(page, "() => window.palabra.connection.rejoins") == 0
        assert seen.producer_id == producer and chair.streams.get(seen.mid) is seen
        await browser_page.screenshot("media-recovered")
    finally:
        await chair.close()
