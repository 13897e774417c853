"""The order of business in real browsers: the chair runs item 1, a roll call and a vote.

The demo conference has a four-item agenda; Guatemala and El Salvador are
inscribed on the first item. The chair opens it (both go onto the speakers
list in the announced order), calls the roll (each head answers "present" on
its page, the quorum indicator turns to met), and opens a recorded vote that
each delegation casts once from its page; the result is published to all.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from playwright.async_api import async_playwright

from .harness import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    SCREENSHOTS,
    BrowserPage,
    RunningServer,
    new_page,
)

pytestmark = [pytest.mark.e2e]

CHAIR, GT, SV = "p-chair", "p-gt", "p-sv"


def link(server: RunningServer, role: str, name: str, delegation: str | None, pid: str) -> str:
    return server.join_url(
        server.token(role=role, name=name, delegation=delegation, participant=pid)
    )


async def view_of(page: BrowserPage) -> str:
    view: str = await page.js("() => document.body.dataset.view ?? ''")
    return view


async def admit(chair: BrowserPage, page: BrowserPage, pid: str) -> None:
    """The delegation enters from its page; the chair admits it from the lobby."""
    await page.wait_js("() => document.body.dataset.view === 'prejoin'", timeout=20)
    await page.page.get_by_role("button", name="Entrar a la reunión").click()
    waiting = chair.page.locator(f'#lobby-list [data-participant-id="{pid}"]')
    deadline = time.monotonic() + 15
    while await view_of(page) != "delegation":
        if await waiting.count():
            await waiting.locator('[data-action="admit"]').click()
            await waiting.wait_for(state="detached", timeout=5_000)
        if time.monotonic() > deadline:
            pytest.fail(f"{pid} did not get into the meeting")
        await asyncio.sleep(0.1)


async def text_of(page: BrowserPage, selector: str) -> str:
    text: str = await page.page.locator(selector).inner_text()
    return text


async def test_the_chair_runs_an_item_a_roll_call_and_a_vote(server: RunningServer) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True
        )
        chair = await new_page(browser, link(server, "chair", "Presidencia", None, CHAIR))
        gt = await new_page(browser, link(server, "head", "Canciller de Guatemala", "gt", GT))
        sv = await new_page(browser, link(server, "head", "Canciller de El Salvador", "sv", SV))
        pages = {"chair": chair, "gt": gt, "sv": sv}
        try:
            await chair.wait_js("() => document.body.dataset.view === 'chair'", timeout=20)
            for page, pid in ((gt, GT), (sv, SV)):
                await admit(chair, page, pid)

            # The agenda: four items, the first opened by the chair.
            items = chair.page.locator("#agenda-items .agenda-item")
            assert await items.count() == 4
            first = chair.page.locator('#agenda-items [data-item-id="migracion"]')
            await first.locator('[data-action="open-item"]').click()
            await chair.wait_js(
                "() => document.querySelector('[data-item-id=\"migracion\"]')"
                "?.dataset.status === 'open'"
            )
            for page in (gt, sv):
                await page.wait_js(
                    "() => document.querySelector('#current-item')?.dataset.itemId === 'migracion'"
                )
            assert await text_of(gt, "#current-item") == "Gobernanza migratoria"
            # The pre-registered order (Costa Rica is not here, so not listed).
            await gt.wait_js(
                "() => document.querySelectorAll('#speakers .speaker-row').length === 2"
            )
            names = await gt.page.locator("#speakers .speaker-name").all_inner_texts()
            assert names == ["Guatemala", "El Salvador"]
            assert "5:00" in await text_of(gt, "#my-budget")

            # Roll call: each head answers on its page; the quorum (2 of 3) is met.
            await chair.page.locator("#btn-rollcall").click()
            for page in (gt, sv):
                prompt = page.page.locator("#rollcall-prompt")
                await prompt.wait_for(state="visible", timeout=10_000)
                await prompt.locator('[data-action="present"]').click()
                await page.wait_js(
                    "() => document.querySelector('#rollcall-prompt')?.dataset.state === 'answered'"
                )
            await chair.wait_js("() => document.querySelector('#quorum')?.dataset.quorum === 'met'")
            await chair.screenshot("agenda-1-chair-roll-call")
            await chair.page.locator("#btn-rollcall").click()
            await gt.page.locator("#rollcall-prompt").wait_for(state="hidden", timeout=10_000)

            # A recorded vote: each delegation casts once; the result reaches everyone.
            await chair.page.locator("#decision-text").fill("¿Se adopta la declaración conjunta?")
            await chair.page.locator('[data-action="open-vote"]').click()
            for page, ballot in ((gt, "yes"), (sv, "abstain")):
                prompt = page.page.locator("#decision-prompt")
                await prompt.wait_for(state="visible", timeout=10_000)
                if page is gt:
                    await gt.screenshot("agenda-2-delegation-vote")
                await prompt.locator(f'[data-ballot="{ballot}"]').click()
                await page.wait_js(
                    "() => document.querySelector('#decision-prompt')?.dataset.state === 'done'"
                )
                # Cast: no ballot can be cast a second time from the page.
                visible = await prompt.locator("[data-ballot]:visible").count()
                assert visible == 0
            await chair.wait_js(
                "() => document.querySelector('#decision-now')?.textContent.includes('1 a favor')"
            )
            await chair.page.locator('[data-action="close-vote"]').click()
            for page in (gt, sv):
                await page.wait_js(
                    "() => document.querySelector('#decision-result')?.dataset.adopted === 'true'"
                )
            result = await text_of(sv, "#decision-result")
            assert (
                result.startswith("Adoptado") and "1 a favor, 0 en contra, 1 abstenciones" in result
            )
            await gt.screenshot("agenda-3-delegation-result")
            await chair.screenshot("agenda-4-chair-result")

            # The printable minutes, from the chair's console: item 1 with its vote.
            link_to = chair.page.locator('[data-format="html"]')
            printable = await chair.page.context.new_page()
            await printable.goto(server.base_url + str(await link_to.get_attribute("href")))
            body = await printable.locator("body").inner_text()
            assert "1. Gobernanza migratoria" in body and "hay quórum" in body
            assert "Guatemala: a favor, El Salvador: abstención" in body
            await printable.screenshot(path=str(SCREENSHOTS / "agenda-5-printable-minutes.png"))
            for name, page in pages.items():
                assert page.errors == [], (name, page.errors)
        finally:
            for name, page in pages.items():
                page.save_log(f"agenda-{name}")
            await browser.close()
