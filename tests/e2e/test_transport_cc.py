"""Chromium's own send-side estimator runs on transport-wide congestion feedback.

The server's answer accepts the transport-wide sequence number and asks for
``transport-cc`` feedback; the browser then reports its estimate of the
uplink (``availableOutgoingBitrate`` on the nominated candidate pair). An
nftables rate limit on the browser's uplink (in the test's namespace, on the
browser's publisher port) makes that estimate fall.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator

import pytest

from client import PalabraClient
from tests.rate_limit import limit_udp, nft_table

from .harness import BrowserPage, RunningServer
from .test_browser_join import js, open_conference, wait_js

pytestmark = pytest.mark.e2e

TABLE = "palabra_uplink_limit"
URI = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
LIMIT_KBYTES = 25  # 200 kbit/s

# The publisher connection's estimate and the browser's port on its nominated pair.
UPLINK = """async () => {
    const pc = window.palabra.connection.publisher;
    if (!pc) return null;
    const stats = await pc.getStats();
    let pair = null;
    stats.forEach((r) => {
        if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded') pair = r;
    });
    if (!pair) return null;
    const local = stats.get(pair.localCandidateId);
    return {bitrate: pair.availableOutgoingBitrate ?? null, port: local ? local.port : null};
}"""


@pytest.fixture
def nft() -> Iterator[None]:
    with nft_table(TABLE):
        yield


def limit_uplink(port: int) -> None:
    limit_udp(TABLE, f"udp sport {port}", LIMIT_KBYTES)


async def test_the_browser_estimates_its_uplink_from_transport_feedback(
    server: RunningServer, browser_page: BrowserPage, nft: None
) -> None:
    page = browser_page.page
    token = server.token(role="chair", name="Presidencia (Honduras)", delegation=None)
    chair = PalabraClient(server.ws_url, token, media_addresses=["127.0.0.1"])
    try:
        await chair.join()
        await open_conference(browser_page, server, chair)
        await wait_js(
            page,
            "() => window.palabra.connection.publisher?.connectionState === 'connected'",
            timeout=20,
        )
        answer: str = await js(
            page, "() => window.palabra.connection.publisher.remoteDescription.sdp"
        )
        assert URI in answer
        assert "transport-cc" in answer

        async def uplink() -> dict[str, int | float | None] | None:
            found: dict[str, int | float | None] | None = await js(page, UPLINK)
            return found

        async def ramped() -> dict[str, int | float | None] | None:
            found = await uplink()
            if found and found["port"] and (found["bitrate"] or 0) > 600_000:
                return found
            return None

        before = await _poll(ramped, 30, "the browser's estimate above 600 kbit/s")
        port = before["port"]
        assert isinstance(port, int)
        limit_uplink(port)

        async def fallen() -> dict[str, int | float | None] | None:
            found = await uplink()
            bitrate = found["bitrate"] if found else None
            return found if bitrate is not None and bitrate < 400_000 else None

        after = await _poll(fallen, 30, "the browser's estimate under 400 kbit/s")
        assert after["bitrate"] is not None and before["bitrate"] is not None
        assert after["bitrate"] < before["bitrate"] / 1.5
        log = server.log_path.read_text(errors="replace")
        assert "transport feedback to" in log
    finally:
        await chair.close()


Probe = Callable[[], Awaitable[dict[str, int | float | None] | None]]


async def _poll(probe: Probe, timeout: float, what: str) -> dict[str, int | float | None]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = await probe()
        if found is not None:
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.5)
