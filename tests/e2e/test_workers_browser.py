"""Chromium through `palabra serve --workers 2`: the front relays its signaling
to the worker that runs the demo conference, media goes straight to that
worker, and when the worker is killed the page comes back by itself.
"""

from __future__ import annotations

import os
import signal
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from .conftest import serving
from .harness import BrowserPage, RunningServer, eventually
from .media import ORANGE, SolidColorVideoTrack

# The browser test of test_browser_join.py, run here against the front.
from .test_browser_join import (
    assert_shows_video,
    chair_client,
    js,
    open_conference,
    participant_id,
    remote_participant,
    wait_js,
)
from .test_browser_join import (
    test_browser_and_aiortc_exchange_media as test_browser_and_aiortc_exchange_media,
)

pytestmark = pytest.mark.e2e

METRICS_TOKEN = "e2e-workers-metrics-token-of-32-bytes-or-more"


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    """`palabra serve --demo --workers 2`."""
    with serving("--workers", "2", "--metrics-token", METRICS_TOKEN, start_timeout=60) as running:
        yield running


def demo_worker_pid(server: RunningServer) -> int:
    """The pid of the worker that runs the demo conference (from the front's /metrics)."""
    request = urllib.request.Request(
        f"{server.base_url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        text = answer.read().decode()
    samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
    [worker] = {
        s.labels["worker"]
        for s in samples
        if s.name == "palabra_participants" and s.labels["conference"] == "demo"
    }
    [pid] = [
        int(s.labels["pid"])
        for s in samples
        if s.name == "palabra_worker_up" and s.labels["worker"] == worker
    ]
    return pid


async def test_a_page_comes_back_by_itself_when_its_worker_is_killed(
    server: RunningServer, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    async with (
        chair_client(server) as chair,
        remote_participant(server, chair, "Canciller de Costa Rica", "cr", ORANGE) as remote,
    ):
        remote_id = participant_id(remote)
        browser_id = await open_conference(browser_page, server, chair)
        await assert_shows_video(page, remote_id, ORANGE)

        await js(
            page,
            """() => {
                window.rejoins = [];
                window.palabra.connection.addEventListener(
                    'reconnecting', (e) => window.rejoins.push(['reconnecting', e.detail.code]));
                window.palabra.connection.addEventListener(
                    'reconnected', () => window.rejoins.push(['reconnected']));
            }""",
        )
        os.kill(demo_worker_pid(server), signal.SIGKILL)
        # The page saw its socket close with 1001 and reconnects on its own,
        # into its seat (no lobby again): the same participant id.
        await eventually(lambda: remote.closed.is_set() or None, 15, "the remote's close")
        assert remote.close_code == 1001
        await wait_js(
            page, "() => window.rejoins.some(([what]) => what === 'reconnected')", timeout=30
        )
        rejoins = await js(page, "() => window.rejoins")
        assert rejoins[0] == ["reconnecting", 1001] and rejoins[-1] == ["reconnected"], rejoins
        await wait_js(
            page,
            "(id) => window.palabra.connection.state === 'joined'"
            " && window.palabra.connection.you.id === id"
            " && document.body.dataset.view === 'delegation'",
            browser_id,
            timeout=30,
        )
        # The aiortc participants come back too (they do not reconnect by
        # themselves); the remote publishes again, and the page shows it.
        await chair.reconnect(timeout=30)
        await remote.reconnect(timeout=30)
        await remote.publish(video=SolidColorVideoTrack(ORANGE))
        await assert_shows_video(page, remote_id, ORANGE)
