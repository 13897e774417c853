"""Messages to the secretariat, in the browser.

Guatemala's head (Chromium, then a 390x844 phone) writes to the secretariat;
the chair's page (Chromium, 1366x768) shows an unread badge on the Messages
button and on Guatemala's thread, opens it and answers; the answer appears on
Guatemala's page. El Salvador (an aiortc client) receives nothing, also after
a reconnection. Screenshots of both layouts go to artifacts/screenshots/.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser

from client import ClientError, PalabraClient
from signaling import encode

from .harness import BrowserPage, RunningServer
from .test_attribution import client
from .test_browser_join import admit

pytestmark = pytest.mark.e2e

CHAIR, GT, SV = "p-msg-chair", "p-msg-gt", "p-msg-sv"
QUESTION = "Solicitamos intervenir después de Costa Rica, por favor."
ANSWER = "Anotado: les daremos la palabra a continuación."


async def page_at(browser: Browser, url: str, width: int, height: int) -> BrowserPage:
    context = await browser.new_context(
        permissions=["camera", "microphone"], viewport={"width": width, "height": height}
    )
    page = BrowserPage(await context.new_page())
    page.listen()
    await page.page.goto(url)
    return page


@pytest.fixture
async def pages(browser: Browser) -> AsyncIterator[list[BrowserPage]]:
    opened: list[BrowserPage] = []
    yield opened
    for n, page in enumerate(opened):
        page.save_log(f"messages-{n}")
        await page.page.context.close()


def heard_of(peer: PalabraClient, text: str) -> bool:
    return any(text in encode(m) for m in peer.messages)


async def test_a_delegation_writes_to_the_secretariat_and_the_chair_answers(
    server: RunningServer, browser: Browser, pages: list[BrowserPage]
) -> None:
    async with (
        client(server, "chair", "Vicepresidencia", None, "p-msg-chair2") as chair2,
        client(server, "head", "Canciller de El Salvador", "sv", SV) as sv,
    ):
        await admit(chair2, SV)
        chair_token = server.token(
            role="chair", name="Presidencia", delegation=None, participant=CHAIR
        )
        chair = await page_at(browser, server.join_url(chair_token), 1366, 768)
        pages.append(chair)
        await chair.wait_js("() => document.body.dataset.view === 'chair'", timeout=30)
        gt_token = server.token(
            role="head", name="Canciller de Guatemala", delegation="gt", participant=GT
        )
        gt = await page_at(browser, server.join_url(gt_token), 1366, 768)
        pages.append(gt)
        await gt.wait_js("() => window.palabra?.connection?.state === 'joined'", timeout=30)
        # In the lobby there is no Messages button: nothing to read or write yet.
        assert await gt.page.locator("#messages-toggle").is_hidden()
        await gt.page.get_by_role("button", name="Entrar a la reunión").click()
        await admit(chair2, GT)
        await gt.wait_js("() => document.body.dataset.view === 'delegation'", timeout=30)

        # Guatemala opens Messages: straight into its thread with the secretariat.
        await gt.page.locator("#messages-toggle").click()
        drawer = gt.page.locator("#messages-drawer")
        await drawer.wait_for(state="visible", timeout=10_000)
        assert await gt.page.locator("#thread-title").inner_text() == "Secretaría"
        await gt.page.locator("#message-text").fill(QUESTION)
        await gt.page.locator("#message-text").press("Enter")
        log = gt.page.locator('[data-testid="message-log"]')
        await log.get_by_text(QUESTION).wait_for(timeout=10_000)
        assert await gt.page.locator("#message-text").input_value() == ""

        # The chair: an unread badge on the button and on Guatemala's thread.
        count = chair.page.locator('[data-testid="messages-unread"]')
        await count.wait_for(state="visible", timeout=10_000)
        assert await count.inner_text() == "1"
        toggle = chair.page.locator("#messages-toggle")
        assert await toggle.get_attribute("aria-label") == "Mensajes: 1 sin leer"
        await chair.screenshot("messages-chair-unread-1366x768")
        await toggle.click()
        row = chair.page.locator('#thread-list [data-key="delegation:gt"]')
        await row.wait_for(timeout=10_000)
        assert await row.locator(".thread-unread").inner_text() == "1"
        assert await row.locator(".thread-name").inner_text() == "Guatemala"
        # Other delegations have their own (empty) threads, with no badge.
        other = chair.page.locator('#thread-list [data-key="delegation:sv"] .thread-unread')
        assert await other.is_hidden()
        await row.locator("button").click()
        chair_log = chair.page.locator('[data-testid="message-log"]')
        await chair_log.get_by_text(QUESTION).wait_for(timeout=10_000)
        await chair.wait_js("() => window.palabra.messages.unread === 0")
        assert await count.is_hidden()
        await chair.page.locator("#message-text").fill(ANSWER)
        await chair.page.locator('[data-testid="message-send"]').click()
        await chair_log.get_by_text(ANSWER).wait_for(timeout=10_000)
        await chair.screenshot("messages-chair-thread-1366x768")

        # The answer reaches Guatemala's open thread.
        await log.get_by_text(ANSWER).wait_for(timeout=10_000)
        await gt.wait_js("() => window.palabra.messages.unread === 0")
        await gt.screenshot("messages-delegation-thread-1366x768")

        # In English, the same panel.
        await chair.page.locator('#lang-switch [data-lang="en"]').click()
        assert await chair.page.locator("#messages-heading").inner_text() == "Messages"
        await chair.page.locator('#lang-switch [data-lang="es"]').click()

        # El Salvador saw none of it, and its history after a reconnection is empty.
        await sv.wait_for(lambda: True)
        assert sv.inbox == [] and not heard_of(sv, QUESTION) and not heard_of(sv, ANSWER)
        await sv.reconnect()
        # A refused write is answered after the entry's history would have been sent.
        with pytest.raises(ClientError) as refused:
            await sv.send_message("delegation:gt", "¿Qué dijeron?")
        assert refused.value.error.code == "forbidden"
        assert sv.histories == 0  # nothing to read: no history was sent
        assert sv.inbox == [] and not heard_of(sv, QUESTION)
        # The second chair seat is the secretariat too: it reads Guatemala's thread.
        await chair2.wait_for(lambda: [m["text"] for m in chair2.inbox] == [QUESTION, ANSWER])

        # Guatemala on a phone: a reload keeps the thread, the panel fills the screen.
        await gt.page.set_viewport_size({"width": 390, "height": 844})
        await gt.page.reload()
        await gt.wait_js("() => document.body.dataset.view === 'delegation'", timeout=30)
        later = "Recuerden enviar su texto a la Secretaría."
        await chair2.send_message("delegation:gt", later)
        badge = gt.page.locator('[data-testid="messages-unread"]')
        await badge.wait_for(state="visible", timeout=10_000)
        assert await badge.inner_text() == "1"  # read marks survive the reload
        toggle_box = await gt.page.locator("#messages-toggle").bounding_box()
        assert toggle_box is not None and toggle_box["x"] + toggle_box["width"] <= 390
        await gt.screenshot("messages-delegation-unread-390x844")
        await gt.page.locator("#messages-toggle").click()
        phone_log = gt.page.locator('[data-testid="message-log"]')
        await phone_log.get_by_text(later).wait_for(timeout=10_000)
        assert await phone_log.locator(".message").count() == 3
        await gt.wait_js("() => window.palabra.messages.unread === 0")
        await gt.screenshot("messages-delegation-thread-390x844")
        box = await gt.page.locator("#messages-drawer").bounding_box()
        assert box is not None and box["width"] == 390
        send = await gt.page.locator('[data-testid="message-send"]').bounding_box()
        assert send is not None and send["x"] + send["width"] <= 390
        assert send["y"] + send["height"] <= 844
        await gt.page.locator(".thread-back").click()
        await gt.page.locator('#thread-list [data-key="delegation:gt"]').wait_for(timeout=10_000)
        await gt.screenshot("messages-delegation-list-390x844")

    for page in pages:
        assert page.errors == []


async def test_a_technician_writes_to_a_seat_and_reads_its_answer(
    server: RunningServer, browser: Browser, pages: list[BrowserPage]
) -> None:
    tech_id, cr_id, hn_id = "p-msg-tech", "p-msg-cr", "p-msg-gt2"
    async with (
        client(server, "chair", "Presidencia", None, "p-msg-chair3") as chair,
        client(server, "head", "Canciller de Costa Rica", "cr", cr_id) as cr,
        client(server, "delegate", "Asesora de Guatemala", "gt", hn_id) as other,
    ):
        await admit(chair, cr_id)
        await admit(chair, hn_id)
        token = server.token(
            role="technician", name="Técnico de sala", delegation=None, participant=tech_id
        )
        tech = await page_at(browser, server.join_url(token), 1366, 768)
        pages.append(tech)
        await tech.wait_js("() => document.body.dataset.view === 'technician'", timeout=30)
        await tech.page.locator("#messages-toggle").click()
        row = tech.page.locator(f'#thread-list [data-key="seat:{cr_id}"]')
        await row.wait_for(timeout=10_000)
        assert await row.locator(".thread-name").inner_text() == "Canciller de Costa Rica"
        assert await row.locator(".badge").inner_text() == "CR"
        await row.locator("button").click()
        hint = "No le escuchamos: revise su micrófono"
        await tech.page.locator("#message-text").fill(hint)
        await tech.page.locator('[data-testid="message-send"]').click()
        await cr.wait_for(lambda: [m["text"] for m in cr.inbox] == [hint])
        assert cr.inbox[0]["thread"] == f"seat:{cr_id}"

        # The seat answers while the technician's panel is closed: a badge.
        await tech.page.locator('[data-testid="messages-close"]').click()
        await cr.send_message(f"seat:{cr_id}", "Ya cambié de micrófono, ¿me escuchan?")
        count = tech.page.locator('[data-testid="messages-unread"]')
        await count.wait_for(state="visible", timeout=10_000)
        assert await count.inner_text() == "1"
        await tech.page.locator("#messages-toggle").click()
        first = tech.page.locator("#thread-list li").first
        assert await first.get_attribute("data-key") == f"seat:{cr_id}"  # latest first
        assert await first.locator(".thread-unread").inner_text() == "1"
        await tech.screenshot("messages-technician-list-1366x768")
        await first.locator("button").click()
        log = tech.page.locator('[data-testid="message-log"]')
        await log.get_by_text("Ya cambié de micrófono").wait_for(timeout=10_000)
        await tech.wait_js("() => window.palabra.messages.unread === 0")
        await tech.page.set_viewport_size({"width": 390, "height": 844})
        await tech.screenshot("messages-technician-thread-390x844")

        # Neither the chair nor another delegation heard of it.
        await chair.wait_for(lambda: True)
        for outsider in (chair, other):
            assert all(m["thread"] != f"seat:{cr_id}" for m in outsider.inbox)
            assert not heard_of(outsider, hint) and not heard_of(outsider, "Ya cambié")

    for page in pages:
        assert page.errors == []
