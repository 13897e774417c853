"""Floor cues for the speaker, on a 390x844 phone (Chromium).

The floor given, nearly over and taken back each come with a toast, a chime
(Web Audio) and the focus on the floor panel; the request and yield buttons
sit in a bottom bar; the microphone panel says what each room update means
from that very update (it never lags the media).
"""

from __future__ import annotations

import pytest
from playwright.async_api import Browser

from client import PalabraClient

from .harness import BrowserPage, RunningServer
from .test_browser_join import admit, wait_js

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
# How many chimes the page has played, by kind.
CHIMES = "async () => (await import('/web/widgets/chime.js')).played"


async def page_at(browser: Browser, url: str, viewport: dict[str, int]) -> BrowserPage:
    context = await browser.new_context(permissions=["camera", "microphone"], viewport=viewport)
    page = BrowserPage(await context.new_page())
    page.listen()
    await page.page.goto(url)
    return page


async def test_the_floor_cues_on_a_phone(server: RunningServer, browser: Browser) -> None:
    token = server.token(
        role="head", name="Canciller de Guatemala", delegation="gt", participant="p-cue-gt"
    )
    chair_token = server.token(
        role="chair", name="Presidencia", delegation=None, participant="p-cue-chair"
    )
    chair = PalabraClient(server.ws_url, chair_token, media_addresses=["127.0.0.1"], decode=False)
    await chair.join()
    gt = await page_at(browser, server.join_url(token), PHONE)
    page = gt.page
    try:
        await wait_js(page, "() => document.querySelector('.prejoin')?.dataset.capture === 'ok'")
        await page.get_by_role("button", name="Entrar a la reunión").click()
        await admit(chair, "p-cue-gt")
        await wait_js(page, "() => document.body.dataset.view === 'delegation'")

        # The bottom bar: fixed at the bottom of the phone's screen, wherever the page is.
        bar = page.locator("#floor-bar")
        await bar.wait_for(state="visible")
        await page.evaluate("() => window.scrollTo(0, 0)")
        assert await page.evaluate("() => document.scrollingElement.scrollHeight") > PHONE["height"]
        dock = await page.locator(".bottom-dock").bounding_box()
        box = await bar.bounding_box()
        assert dock is not None and box is not None
        assert abs(dock["y"] + dock["height"] - PHONE["height"]) <= 1, dock
        assert dock["y"] <= box["y"] and box["y"] + box["height"] <= dock["y"] + dock["height"]
        await gt.screenshot("cue-phone-idle")
        await bar.get_by_role("button", name="Pedir la palabra").click()
        await chair.wait_for(lambda: bool(chair.room.get("queue")))
        [request] = chair.room["queue"]
        assert request["delegation_id"] == "gt"
        await wait_js(
            page, "() => document.querySelector('#floor-bar').dataset.floorState === 'queued'"
        )
        assert await bar.get_by_role("button", name="Retirar la solicitud").is_visible()

        # Watch each room update right after the page has handled it: the
        # microphone panel must already say what that update means.
        await page.evaluate(
            """() => {
                window.seen = [];
                window.palabra.connection.addEventListener('room', (e) => {
                    const types = e.detail.events.map((x) => x.type);
                    window.seen.push({types,
                        mic: document.querySelector('#mic-panel').dataset.micState,
                        floor: document.querySelector('#floor-panel').dataset.floorState});
                });
            }"""
        )

        # Granted: a toast, a chime, the focus on the floor panel; the bar offers yielding.
        await chair.command("floor.grant", request_id=request["request_id"], time_limit=60)
        toast = page.locator(".toast.cue", has_text="Tiene la palabra")
        await toast.wait_for(state="visible", timeout=5_000)
        await wait_js(page, "() => document.activeElement?.id === 'floor-panel'")
        assert (await page.evaluate(CHIMES))["granted"] == 1
        assert await bar.get_by_role("button", name="Ceder la palabra").is_visible()
        assert (
            await page.evaluate("() => document.querySelector('#floor-bar').dataset.floorState")
            == "holding"
        )
        granted = await page.evaluate(
            "() => window.seen.find((s) => s.types.includes('floor.granted'))"
        )
        assert granted == {"types": granted["types"], "mic": "open", "floor": "holding"}, granted
        await gt.screenshot("cue-phone-granted")

        # Nearly over: the same cue, with the time left.
        await page.evaluate("() => document.activeElement?.blur()")
        await chair.command("floor.set_time", request_id=request["request_id"], time_limit=33)
        await page.locator(".toast.cue", has_text="Quedan").wait_for(state="visible", timeout=5_000)
        await wait_js(page, "() => document.activeElement?.id === 'floor-panel'")
        assert (await page.evaluate(CHIMES))["warning"] >= 1
        await gt.screenshot("cue-phone-warning")

        # Taken back: the cue again, and the panel says "closed" from that very update.
        await page.evaluate("() => document.activeElement?.blur()")
        await chair.command("floor.revoke", request_id=request["request_id"])
        await page.locator(".toast.cue", has_text="retirado").wait_for(
            state="visible", timeout=5_000
        )
        await wait_js(page, "() => document.activeElement?.id === 'floor-panel'")
        assert (await page.evaluate(CHIMES))["revoked"] == 1
        revoked = await page.evaluate(
            "() => window.seen.find((s) => s.types.includes('floor.revoked'))"
        )
        assert revoked["mic"] == "closed" and revoked["floor"] == "idle", revoked
        await gt.screenshot("cue-phone-revoked")

        # Yielding from the bar.
        await bar.get_by_role("button", name="Pedir la palabra").click()
        await chair.wait_for(lambda: bool(chair.room.get("queue")))
        [request] = chair.room["queue"]
        await chair.command("floor.grant", request_id=request["request_id"])
        await bar.get_by_role("button", name="Ceder la palabra").click()
        await chair.wait_for(lambda: not chair.room.get("holders"))
        await wait_js(
            page, "() => document.querySelector('#floor-bar').dataset.floorState === 'idle'"
        )
        assert gt.errors == [], gt.errors
    finally:
        gt.save_log("cue-phone")
        await page.context.close()
        await chair.close()
