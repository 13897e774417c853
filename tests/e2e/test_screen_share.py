"""Screen sharing in real browsers, with Chromium's fake screen capture.

Guatemala (holding the floor) shares its screen from the bottom bar;
El Salvador's page shows it large, at the size it was captured, with
Guatemala's camera small beside it; the chair's console shows it too. When
the chair takes the floor back the share is gone everywhere; the chair can
also stop a share. Without the floor the server refuses a share even when
the page is bypassed. Headless Chromium's `getDisplayMedia` captures its own
screen (the page's viewport) once `--use-fake-ui-for-media-stream` accepts
the picker.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright

from .harness import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    SCREENSHOTS,
    BrowserPage,
    RunningServer,
    new_page,
)

# Generous: the machines running these are shared (as in test_interpretation.py).
pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(300)]

CHAIR = "p-chair-ss"
GT = "p-gt-ss"
SV = "p-sv-ss"

# The share on the page: the size of the video shown and frames played so far.
SHARE_VIDEO = """() => {
    const stage = document.querySelector('.share-stage');
    const v = stage && !stage.hidden ? stage.querySelector('video.share-video') : null;
    if (!v || v.videoWidth === 0) return null;
    return {width: v.videoWidth, height: v.videoHeight,
            frames: v.getVideoPlaybackQuality().totalVideoFrames, sharer: stage.dataset.sharer};
}"""
# The size of what the sharer captures (its own track).
CAPTURED = """() => {
    const t = window.palabra.connection.publisher.getTransceivers()
        .map((x) => x.sender.track)
        .find((t) => t && t.kind === 'video' && t.contentHint === 'detail');
    if (!t) return null;
    const s = t.getSettings();
    return {width: s.width, height: s.height};
}"""
WAIT = 30  # seconds for the pages to catch up (the machines are shared)
SCREEN_STREAMS = """() => [...window.palabra.connection.streams.values()]
    .filter((s) => s.source === 'screen').length"""
SCREEN_PRODUCERS = """() => [...window.palabra.connection.producers.values()]
    .filter((p) => p.source === 'screen').length"""


@dataclass
class Meeting:
    server: RunningServer
    chair: BrowserPage
    gt: BrowserPage
    sv: BrowserPage


def link(server: RunningServer, role: str, name: str, delegation: str | None, pid: str) -> str:
    return server.join_url(
        server.token(role=role, name=name, delegation=delegation, participant=pid)
    )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def meeting(server: RunningServer) -> AsyncIterator[Meeting]:
    async with async_playwright() as playwright:
        browser: Browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True
        )
        chair = await new_page(browser, link(server, "chair", "Presidencia", None, CHAIR))
        gt = await new_page(browser, link(server, "head", "Canciller de Guatemala", "gt", GT))
        sv = await new_page(browser, link(server, "head", "Canciller de El Salvador", "sv", SV))
        meeting = Meeting(server, chair, gt, sv)
        for page in (chair, gt, sv):  # the machines are shared: clicks may wait a while
            page.page.set_default_timeout(90_000)
        try:
            await enter(meeting)
            yield meeting
        finally:
            for name, page in (("chair", chair), ("gt", gt), ("sv", sv)):
                page.save_log(f"share-{name}")
            await browser.close()


async def enter(meeting: Meeting) -> None:
    """Both delegations enter from the prejoin page; the chair admits them."""
    await meeting.chair.wait_js("() => document.body.dataset.view === 'chair'", timeout=WAIT)
    for page, pid in ((meeting.gt, GT), (meeting.sv, SV)):
        await page.wait_js("() => document.body.dataset.view === 'prejoin'", timeout=WAIT)
        await page.page.get_by_role("button", name="Entrar a la reunión").click()
        await meeting.chair.wait_js(
            "(pid) => window.palabra.room.lobby.some((p) => p.participant_id === pid)",
            pid,
            timeout=WAIT,
        )
        await meeting.chair.js(
            "(pid) => window.palabra.connection.command('lobby.admit', {participant_id: pid})", pid
        )
        await page.wait_js("() => document.body.dataset.view === 'delegation'", timeout=WAIT)
    # Everyone publishes and receives before the tests start.
    for page in (meeting.gt, meeting.sv):
        await page.wait_js("() => window.palabra.connection.published", timeout=60)


async def grant_floor(meeting: Meeting) -> str:
    """Guatemala asks for the floor from its page; the chair gives it."""
    gt, chair = meeting.gt, meeting.chair
    await gt.page.get_by_role("button", name="Pedir la palabra").click()
    row = chair.page.locator('#queue-list li[data-delegation-id="gt"]')
    await row.wait_for(timeout=60_000)
    await row.get_by_role("button", name="Dar la palabra a Guatemala").click()
    await gt.wait_js(
        "() => document.querySelector('.floor-panel').dataset.floorState === 'holding'",
        timeout=WAIT,
    )
    request_id: str = await chair.js("() => window.palabra.room.holders[0].request_id")
    return request_id


async def screenshot(page: BrowserPage, name: str) -> None:
    """A screenshot to look at; generous time, the machines are shared."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), timeout=120_000)


async def share_shown(page: BrowserPage, timeout: float = 60) -> dict[str, int | str]:
    """The share plays on the page: its video has a size and frames advance."""
    await page.wait_js(f"() => ({SHARE_VIDEO})() !== null", timeout=timeout)
    first = await page.js(SHARE_VIDEO)
    await page.wait_js(
        f"(n) => (({SHARE_VIDEO})()?.frames ?? 0) > n", first["frames"], timeout=timeout
    )
    shown: dict[str, int | str] = await page.js(SHARE_VIDEO)
    return shown


async def share_gone(page: BrowserPage, timeout: float = WAIT) -> None:
    """The page no longer shows the share: the server removed its producer."""
    await page.wait_js(
        f"() => document.querySelector('.share-stage').hidden && ({SCREEN_PRODUCERS})() === 0",
        timeout=timeout,
    )


async def test_without_the_floor_the_server_refuses_a_share(meeting: Meeting) -> None:
    gt, sv = meeting.gt, meeting.sv
    # The page does not offer it...
    assert await gt.page.locator("#btn-share").is_hidden()
    # ...and the server refuses it when the page is bypassed: nothing changes.
    code = await gt.js(
        """async () => {
            const s = await navigator.mediaDevices.getDisplayMedia({video: true});
            const track = s.getVideoTracks()[0];
            try { await window.palabra.connection.shareScreen(track); return 'shared'; }
            catch (e) { return e.code; }
            finally { track.stop(); }
        }"""
    )
    assert code == "forbidden"
    assert await gt.js("() => window.palabra.connection.sharing") is False
    await asyncio.sleep(1.0)
    assert await sv.js(SCREEN_STREAMS) == 0
    assert await sv.js("() => document.querySelector('.share-stage').hidden")
    producers = "() => [...window.palabra.connection.producers.values()].filter((p) => p.source)"
    assert await sv.js(producers) == []


async def test_the_holder_shares_and_everyone_sees_it_large(meeting: Meeting) -> None:
    chair, gt, sv = meeting.chair, meeting.gt, meeting.sv
    request_id = await grant_floor(meeting)

    share_button = gt.page.locator("#btn-share")
    await share_button.wait_for(state="visible", timeout=60_000)
    await share_button.click()
    await gt.wait_js("() => window.palabra.connection.sharing", timeout=WAIT)
    await gt.wait_js(f"() => ({CAPTURED})() !== null", timeout=WAIT)
    captured = await gt.js(CAPTURED)
    assert captured["width"] > 0 and captured["height"] > 0

    # El Salvador sees the share large, at the size it is captured (the
    # capture may settle on its size after the first frames: wait for both).
    shown = await share_shown(sv)
    for _ in range(40):
        if (shown["width"], shown["height"]) == (captured["width"], captured["height"]):
            break
        await asyncio.sleep(0.5)
        captured, shown = await gt.js(CAPTURED), await sv.js(SHARE_VIDEO)
    assert (shown["width"], shown["height"]) == (captured["width"], captured["height"])
    assert shown["sharer"] == GT
    stage_width = await sv.js(
        "() => document.querySelector('.share-stage .share-media').getBoundingClientRect().width"
    )
    tile_width = await sv.js(
        "() => document.querySelector('.stage-area .stage-tile').getBoundingClientRect().width"
    )
    assert stage_width > 2 * tile_width  # the share big, the speaker's camera small
    assert await sv.js("() => document.querySelector('.stage-area').classList.contains('sharing')")
    speaker = "() => document.querySelector('.stage-area .stage-tile').dataset.participantId"
    assert await sv.js(speaker) == GT
    assert await sv.page.locator("#btn-stop-share").is_hidden()  # not the chair's
    assert await sv.page.locator(".share-label").text_content() == "Presentación de Guatemala"
    # ...so does the chair, with the button that stops it.
    await share_shown(chair)
    await chair.page.locator("#btn-stop-share").wait_for(state="visible")
    # The sharer sees its own capture and is told it is sharing.
    await share_shown(gt)
    assert "Está compartiendo su pantalla" in (
        await gt.page.locator(".share-label").text_content() or ""
    )

    await sv.page.set_viewport_size({"width": 1366, "height": 768})
    await gt.page.set_viewport_size({"width": 1366, "height": 768})
    await chair.page.set_viewport_size({"width": 1366, "height": 768})
    await asyncio.sleep(0.5)
    await screenshot(sv, "share-1-listener-1366x768")
    await screenshot(gt, "share-1-sharer-1366x768")
    await screenshot(chair, "share-1-chair-1366x768")
    await sv.page.set_viewport_size({"width": 390, "height": 844})
    await asyncio.sleep(0.5)
    await screenshot(sv, "share-1-listener-390x844")
    await sv.page.set_viewport_size({"width": 1280, "height": 800})

    # The chair takes the floor back: the share ends everywhere.
    await chair.page.get_by_role("button", name="Retirar la palabra a Guatemala").click()
    await share_gone(sv)
    await share_gone(chair)
    await gt.wait_js("() => !window.palabra.connection.sharing", timeout=WAIT)
    await gt.wait_js("() => document.querySelector('#btn-share').hidden", timeout=WAIT)
    assert await gt.js(f"() => ({CAPTURED})()") is None  # the capture is stopped
    assert request_id not in await chair.js(
        "() => window.palabra.room.holders.map((r) => r.request_id)"
    )


async def test_the_chair_stops_a_share(meeting: Meeting) -> None:
    chair, gt, sv = meeting.chair, meeting.gt, meeting.sv
    await grant_floor(meeting)
    await gt.page.locator("#btn-share").click()
    await share_shown(sv)

    await chair.page.locator("#btn-stop-share").click()
    await share_gone(sv)
    await share_gone(chair)
    await gt.page.get_by_text("La Presidencia detuvo su presentación").first.wait_for()
    await gt.wait_js("() => !window.palabra.connection.sharing", timeout=WAIT)
    # The floor itself stays with Guatemala.
    assert await gt.js("() => document.querySelector('.floor-panel').dataset.floorState") == (
        "holding"
    )

    # The holder may share again on the same m-line.
    await gt.page.locator("#btn-share").click()
    await share_shown(sv)
    await gt.page.get_by_role("button", name="Dejar de compartir").first.click()
    await share_gone(sv)
