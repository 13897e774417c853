"""Chromium stops the simulcast encoding nobody watches when the server says
so (publish.layers), and starts it again when its delegation gets the floor.

The browser publishes its camera in three layers (rids q, h, f); an aiortc
delegation watches it as a thumbnail, so after the hold-down the server asks
for ``q`` only and the ``f`` encoding's ``bytesSent`` stops growing. With the
floor, ``f`` is asked for again: its bytes grow and the viewer decodes the
high layer.
"""

from __future__ import annotations

import time

import pytest
from playwright.async_api import Page

from client import PalabraClient
from media.layer_demand import HOLD_DOWN

from .harness import BrowserPage, RunningServer, eventually
from .test_browser_join import admit, chair_client, js, open_conference
from .test_simulcast import SENT_LAYERS, video_from

pytestmark = pytest.mark.e2e

SENT = "() => window.palabra.connection.sentLayers"
ENCODINGS_ACTIVE = """() => {
    const tr = window.palabra.connection.publisher.getTransceivers()
        .find((t) => t.sender.track?.kind === 'video');
    return Object.fromEntries(tr.sender.getParameters().encodings.map((e) => [e.rid, e.active]));
}"""


async def f_bytes(page: Page) -> int:
    return int((await js(page, SENT_LAYERS))["f"][2])


async def test_a_browser_drops_its_high_encoding_while_a_thumbnail_and_resumes_it_with_the_floor(
    server: RunningServer, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    async with chair_client(server) as chair:
        viewer = PalabraClient(
            server.ws_url,
            server.token(role="head", name="Canciller de El Salvador", delegation="sv"),
            media_addresses=["127.0.0.1"],
        )
        try:
            await admit(chair, (await viewer.join()).you.id)
            browser_id = await open_conference(browser_page, server, chair)
            video = await eventually(lambda: video_from(viewer, browser_id), 20, "the video")
            thumbnail = video.last_frame.width if video.last_frame else 0

            # Only a thumbnail: after the hold-down the browser sends q alone.
            async def only_q() -> bool:
                return await js(page, SENT) == ["q"]

            deadline = time.monotonic() + HOLD_DOWN + 15
            while not await only_q():
                assert time.monotonic() < deadline, await js(page, ENCODINGS_ACTIVE)
                await page.wait_for_timeout(200)
            assert await js(page, ENCODINGS_ACTIVE) == {"q": True, "h": False, "f": False}
            await page.wait_for_timeout(1000)  # what was encoded before goes out
            before = await f_bytes(page)
            await page.wait_for_timeout(2000)
            assert await f_bytes(page) == before  # f's bytesSent stopped growing
            frames = video.frames
            await eventually(lambda: video.frames > frames + 10, 10, "thumbnail frames")

            # The floor to Guatemala: f again, and the viewer sees the high layer.
            update = await chair.command("floor.request", delegation_id="gt")
            [request] = [e for e in update.events if e["type"] == "floor.requested"]
            granted = time.monotonic()
            await chair.command("floor.grant", request_id=request["request_id"], unlimited=True)

            def larger() -> bool:
                frame = video.last_frame
                return frame is not None and frame.width > max(thumbnail, 320)

            await eventually(larger, 20, "the high layer after the grant")
            took = 1000 * (time.monotonic() - granted)
            assert await js(page, SENT) == ["q", "f"]
            assert await f_bytes(page) > before
            frames = video.frames
            await eventually(lambda: video.frames > frames + 30, 20, "frames after the resume")
            high = (await js(page, SENT_LAYERS))["f"]
            assert video.last_frame is not None
            assert [video.last_frame.width, video.last_frame.height] == high[:2]
            print(f"browser: grant to a decoded high frame {took:.0f} ms (f had been off)")
        finally:
            await viewer.close()
