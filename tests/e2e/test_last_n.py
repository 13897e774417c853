"""Beyond the last N videos a delegation sees name tiles; the floor brings a video back.

The server runs with ``--last-n 1``: of the three delegations that publish
video (two aiortc heads and the browser), the browser receives one video,
the others' tiles show their names. When the chair gives the floor to a
delegation whose video was held, its tile plays video again.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from client import PalabraClient

from .conftest import serving
from .harness import BrowserPage, RunningServer
from .media import BLUE, ORANGE
from .test_browser_join import (
    assert_shows_video,
    chair_client,
    open_conference,
    participant_id,
    remote_participant,
    wait_js,
)

pytestmark = pytest.mark.e2e

PAUSED_NOTE = "Vídeo en pausa para ahorrar ancho de banda"


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    """The demo server with at most one video forwarded to each participant."""
    with serving("--last-n", "1") as running:
        yield running


def tile(owner: str) -> str:
    return f'.tile[data-participant-id="{owner}"]'


async def give_floor(chair: PalabraClient, speaker: PalabraClient, delegation: str) -> None:
    update = await speaker.command("floor.request", delegation_id=delegation)
    [request] = [e for e in update.events if e["type"] == "floor.requested"]
    await chair.command("floor.grant", request_id=request["request_id"], unlimited=True)


async def test_videos_beyond_the_last_n_are_name_tiles_until_they_get_the_floor(
    server: RunningServer, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    async with (
        chair_client(server) as chair,
        remote_participant(server, chair, "Canciller de El Salvador", "sv", BLUE) as sv,
        remote_participant(server, chair, "Canciller de Costa Rica", "cr", ORANGE) as cr,
    ):
        sv_id, cr_id = participant_id(sv), participant_id(cr)
        await open_conference(browser_page, server, chair)

        # Nobody has spoken: the first to join (El Salvador) is the one video.
        await assert_shows_video(page, sv_id, BLUE)
        await wait_js(page, "(sel) => document.querySelector(sel + '.video-paused')", tile(cr_id))
        text = await page.locator(tile(cr_id) + " .placeholder").inner_text()
        assert "Canciller de Costa Rica" in text and PAUSED_NOTE in text
        assert await page.locator(tile(cr_id) + " video").evaluate("(v) => v.srcObject") is None

        # Costa Rica gets the floor: its video comes first now, El Salvador's is held.
        await give_floor(chair, cr, "cr")
        await wait_js(
            page, "(sel) => !document.querySelector(sel + '.video-paused')", tile(cr_id), timeout=15
        )
        await assert_shows_video(page, cr_id, ORANGE)
        await wait_js(
            page, "(sel) => document.querySelector(sel + '.video-paused')", tile(sv_id), timeout=15
        )
        await browser_page.screenshot("last-n-name-tile")
