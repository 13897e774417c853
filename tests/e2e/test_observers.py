"""An observer delegation and sub-items in real browsers (its own demo server).

The demo's OAS is an observer, inscribed on the third item, the observers'
statements: its head's page offers no floor request (and says why) until the
chair opens that item, which lists the OAS. Sub-items added over the wire show
in the chair's agenda as 1.1, 1.2, indented under their item.
"""

from __future__ import annotations

import pytest
from playwright.async_api import async_playwright

from client import PalabraClient

from .harness import CHROMIUM, CHROMIUM_FLAGS, RunningServer, new_page
from .test_agenda import CHAIR, admit, link, text_of

pytestmark = [pytest.mark.e2e]

OEA = "p-oea"


async def test_an_observer_may_ask_for_the_floor_only_on_the_observers_item(
    server: RunningServer,
) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True
        )
        chair = await new_page(browser, link(server, "chair", "Presidencia", None, CHAIR))
        oea = await new_page(browser, link(server, "head", "Secretario General", "oea", OEA))
        pages = {"chair": chair, "oea": oea}
        try:
            await chair.wait_js("() => document.body.dataset.view === 'chair'", timeout=20)
            await admit(chair, oea, OEA)
            marker = chair.page.locator('[data-item-id="observadores"] .agenda-observers')
            assert await marker.inner_text() == "Observadores"
            assert await chair.page.locator(
                '[data-item-id="migracion"] .agenda-observers'
            ).is_hidden()
            # Before its item: no request button, and the page says why.
            await oea.wait_js(
                "() => document.querySelector('#floor-panel')?.dataset.floorState === 'unavailable'"
            )
            assert "abiertos a observadores" in await text_of(oea, "#floor-status")
            assert await oea.page.locator("#btn-request").is_hidden()
            await oea.screenshot("agenda-6-observer-waiting")

            # The chair opens the observers' item: the OAS, inscribed, is on the list.
            item = chair.page.locator('#agenda-items [data-item-id="observadores"]')
            await item.locator('[data-action="open-item"]').click()
            await oea.wait_js(
                "() => document.querySelector('#floor-panel')?.dataset.floorState === 'queued'"
            )
            await chair.screenshot("agenda-7-chair-observers-item")
            for name, page in pages.items():
                assert page.errors == [], (name, page.errors)
        finally:
            for name, page in pages.items():
                page.save_log(f"agenda-observer-{name}")
            await browser.close()


async def test_sub_items_are_numbered_and_indented_in_the_chairs_agenda(
    server: RunningServer,
) -> None:
    secretariat = PalabraClient(
        server.ws_url,
        server.token(role="chair", name="Secretaría", delegation=None, participant="p-sec"),
        media_addresses=["127.0.0.1"],
    )
    await secretariat.join()
    try:
        for item_id, text in (("laboral", "Movilidad laboral"), ("retorno", "Retorno")):
            titles = [{"language": "es", "text": text}, {"language": "en", "text": text}]
            await secretariat.command(
                "agenda.add_item", item_id=item_id, titles=titles, parent="migracion"
            )
    finally:
        await secretariat.close()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True
        )
        chair = await new_page(browser, link(server, "chair", "Presidencia", None, CHAIR))
        try:
            await chair.wait_js("() => document.body.dataset.view === 'chair'", timeout=20)
            numbers = await chair.js(
                "() => [...document.querySelectorAll('#agenda-items .agenda-item')]"
                ".map((li) => [li.querySelector('.agenda-title').dataset.number, li.dataset.sub])"
            )
            assert numbers == [
                ["1", "false"],
                ["1.1", "true"],
                ["1.2", "true"],
                ["2", "false"],
                ["3", "false"],
                ["4", "false"],
            ]
            indented = await chair.js(
                "() => getComputedStyle(document.querySelector('[data-item-id=\"laboral\"]'))"
                ".marginLeft"
            )
            assert indented != "0px"
            await chair.screenshot("agenda-8-chair-sub-items")
            assert chair.errors == []
        finally:
            chair.save_log("agenda-sub-items-chair")
            await browser.close()
