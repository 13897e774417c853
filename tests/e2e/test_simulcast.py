"""Chromium publishes its camera in three simulcast layers; the server forwards one per subscriber.

The browser's offer has three ``sendEncodings`` (rids q, h, f); the server's
answer must accept them so that Chromium really sends three encodings, each
routed by its RID. An aiortc technician watches the layers arrive
(``monitor.stats``); an aiortc delegation decodes the browser's video: a
thumbnail while Guatemala has no floor, the high layer once it has.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from client import PalabraClient, RemoteStream
from client.clip import encode_video
from signaling import MonitorStats

from .harness import BrowserPage, RunningServer, eventually
from .test_browser_join import admit, chair_client, js, open_conference

pytestmark = pytest.mark.e2e

SENT_LAYERS = """async () => {
    const stats = await window.palabra.connection.publisher.getStats();
    const out = {};
    stats.forEach((r) => {
        if (r.type === 'outbound-rtp' && r.kind === 'video' && r.rid)
            out[r.rid] = [r.frameWidth ?? 0, r.frameHeight ?? 0, r.bytesSent];
    });
    return out;
}"""


ENCODED_FRAMES = """async () => {
    const stats = await window.palabra.connection.publisher.getStats();
    const out = {};
    stats.forEach((r) => {
        if (r.type === 'outbound-rtp' && r.kind === 'video' && r.rid) out[r.rid] = r.framesEncoded;
    });
    return out;
}"""


def temporal_to(technician: PalabraClient, owner: str, subscriber: str) -> object:
    """The temporal target of ``owner``'s video to ``subscriber`` (monitor.stats)."""
    feeds = [m for m in technician.messages if isinstance(m, MonitorStats)]
    for stream in feeds[-1].streams if feeds else ():
        if (
            stream["direction"] == "out"
            and stream["kind"] == "video"
            and stream["participant_id"] == owner
            and stream["subscriber_id"] == subscriber
        ):
            return stream.get("temporal", "absent")
    return "absent"


def layers_of(technician: PalabraClient, owner: str) -> list[dict[str, object]]:
    feeds = [m for m in technician.messages if isinstance(m, MonitorStats)]
    return layers_in(feeds[-1], owner) if feeds else []


def layers_in(feed: MonitorStats, owner: str) -> list[dict[str, object]]:
    """The layers of ``owner``'s camera in one ``monitor.stats``."""
    for stream in feed.streams:
        if (
            stream["direction"] == "in"
            and stream["kind"] == "video"
            and stream["participant_id"] == owner
        ):
            layers = stream.get("layers")
            return list(layers) if isinstance(layers, list) else []
    return []


async def test_the_browsers_three_layers_arrive_and_the_floor_picks_one(
    server: RunningServer, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    async with chair_client(server) as chair:
        technician = PalabraClient(
            server.ws_url,
            server.token(role="technician", name="Técnica", delegation=None),
            media_addresses=["127.0.0.1"],
        )
        viewer = PalabraClient(
            server.ws_url,
            server.token(role="head", name="Canciller de El Salvador", delegation="sv"),
            media_addresses=["127.0.0.1"],
        )
        try:
            await technician.join()  # technicians skip the lobby
            await admit(chair, (await viewer.join()).you.id)
            browser_id = await open_conference(browser_page, server, chair)

            # Chromium sends three encodings: the answer accepted them.
            sent = await eventually_js(page, SENT_LAYERS, lambda v: len(v) == 3, 20)
            assert set(sent) == {"q", "h", "f"}, sent

            # Each arrives at the server as a layer, routed by its RID (the
            # upper ones until the server turns them off: nobody watches them).
            def all_arrived() -> list[dict[str, object]] | None:
                feeds = [m for m in technician.messages if isinstance(m, MonitorStats)]
                seen = {
                    str(x["rid"])
                    for feed in feeds
                    for x in layers_in(feed, browser_id)
                    if x["active"]
                }
                layers = layers_of(technician, browser_id)
                return layers if seen == {"q", "h", "f"} else None

            layers = await eventually(all_arrived, 60, "the three layers at the server")
            assert [x["rid"] for x in layers] == ["q", "h", "f"]
            print("layers at the server:", layers, "sent:", await js(page, SENT_LAYERS))

            # Guatemala has no floor: the El Salvador delegation sees a thumbnail.
            video = await eventually(lambda: video_from(viewer, browser_id), 20, "the video")
            widths = await frame_widths(video, 10)
            thumbnail = widths[-1]

            # Chromium encodes three temporal layers: the thumbnail comes without
            # TID 2, half the frames, and the viewer decodes every one it is sent.
            viewer_id = viewer.welcome.you.id  # type: ignore[union-attr]
            await eventually(
                lambda: temporal_to(technician, browser_id, viewer_id) == 1,
                20,
                "the thumbnail at TID <= 1",
            )
            encoded, decoded = (await js(page, ENCODED_FRAMES))["q"], video.frames
            await eventually(lambda: video.frames >= decoded + 40, 30, "thumbnail frames")
            encoded = (await js(page, ENCODED_FRAMES))["q"] - encoded
            ratio = (video.frames - decoded) / encoded
            print(f"thumbnail: {video.frames - decoded} frames decoded of {encoded} encoded")
            assert 0.35 < ratio < 0.65, (video.frames - decoded, encoded)
            # The floor to Guatemala: the high layer, larger than the thumbnail.
            update = await chair.command("floor.request", delegation_id="gt")
            [request] = [e for e in update.events if e["type"] == "floor.requested"]
            granted = time.monotonic()
            await chair.command("floor.grant", request_id=request["request_id"], unlimited=True)

            def larger() -> bool:
                frame = video.last_frame
                return frame is not None and frame.width > thumbnail

            await eventually(larger, 20, "the high layer after the grant")
            # The viewer's decoder goes on across the switch.
            frames = video.frames
            await eventually(lambda: video.frames > frames + 30, 20, "frames after the switch")
            # What the viewer decodes is the browser's high encoding, as it sends it.
            high = (await js(page, SENT_LAYERS))["f"]
            assert [video.last_frame.width, video.last_frame.height] == high[:2]
            took = 1000 * (time.monotonic() - granted)
            print(
                f"grant to high layer: {took:.0f} ms, {thumbnail} -> {video.last_frame.width} wide"
            )
        finally:
            await technician.close()
            await viewer.close()


def video_from(client: PalabraClient, owner: str) -> RemoteStream | None:
    return next(
        (
            s
            for s in client.streams.values()
            if s.participant_id == owner and s.kind == "video" and s.frames > 0
        ),
        None,
    )


async def frame_widths(stream: RemoteStream, count: int) -> list[int]:
    widths: list[int] = []
    last = None
    while len(widths) < count:
        await eventually(lambda seen=last: stream.last_frame is not seen, 10, "a frame")
        last = stream.last_frame
        widths.append(last.width)
    return widths


async def eventually_js(
    page: Page, expression: str, check: Callable[[Any], bool], timeout: float
) -> dict[str, list[int]]:
    deadline = time.monotonic() + timeout
    while True:
        value = await js(page, expression)
        if check(value):
            return dict(value)
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for the browser's layers: {value}")
        await asyncio.sleep(0.2)


async def test_a_delegate_pins_a_tile_to_see_it_in_higher_quality(
    server: RunningServer, browser_page: BrowserPage, browser: Browser
) -> None:
    page = browser_page.page
    layers = [
        (rid, encode_video(w, h, fps=15, seconds=4.0, bitrate=rate, gop=30))
        for rid, w, h, rate in (
            ("q", 160, 90, 60_000),
            ("h", 320, 180, 120_000),
            ("f", 640, 360, 240_000),
        )
    ]
    async with chair_client(server) as chair:
        costa_rica = PalabraClient(
            server.ws_url,
            server.token(role="head", name="Canciller de Costa Rica", delegation="cr"),
            media_addresses=["127.0.0.1"],
        )
        try:
            await admit(chair, (await costa_rica.join()).you.id)
            await costa_rica.publish_simulcast(layers)
            cr = costa_rica.welcome.you.id  # type: ignore[union-attr]
            await open_conference(browser_page, server, chair)
            video = f'.tile[data-participant-id="{cr}"] video[data-producer-id]'
            width = "(sel) => document.querySelector(sel)?.videoWidth ?? 0"
            # A thumbnail: Costa Rica does not hold the floor.
            await page.wait_for_function(
                f"(sel) => ({width})(sel) === 160", arg=video, timeout=20_000
            )

            button = page.locator(f'.tile[data-participant-id="{cr}"] .pin-toggle')
            assert await button.get_attribute("aria-pressed") == "false"
            assert "mayor calidad" in (await button.get_attribute("aria-label") or "")
            await button.click()
            await page.wait_for_function(
                f"(sel) => ({width})(sel) === 320", arg=video, timeout=20_000
            )
            assert await button.get_attribute("aria-pressed") == "true"
            assert await js(page, "() => window.palabra.connection.pinned") == cr
            await browser_page.screenshot("delegation-pinned-tile")

            # The technicians see it: the stream to this delegate in the middle layer.
            context = await browser.new_context(viewport={"width": 1280, "height": 800})
            technician = await context.new_page()
            token = server.token(role="technician", name="Técnica", delegation=None)
            await technician.goto(server.join_url(token))
            await technician.wait_for_function(
                "() => document.body.dataset.view === 'technician'", timeout=30_000
            )
            row = 'tr.stream[data-producer-id][data-direction="out"][data-layer="1"]'
            await technician.wait_for_selector(row, timeout=20_000)
            codec = technician.locator(f'{row} td[data-col="codec"]').first
            assert "capa media" in await codec.inner_text()
            source = 'tr.stream[data-direction="in"][data-kind="video"] td[data-col="codec"]'
            shows = (
                "([sel, text]) => [...document.querySelectorAll(sel)]"
                ".some((c) => c.textContent.includes(text))"
            )
            await technician.wait_for_function(shows, arg=[source, "3 de 3 capas"], timeout=20_000)
            await context.close()

            # Back to the thumbnail.
            await button.click()
            await page.wait_for_function(
                f"(sel) => ({width})(sel) === 160", arg=video, timeout=20_000
            )
            assert await js(page, "() => window.palabra.connection.pinned") is None
            assert browser_page.errors == []
        finally:
            await costa_rica.close()
