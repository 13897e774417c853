"""Who did what, said truthfully: a technician's mute, and a floor the system ended.

Guatemala's head (Chromium) is muted by a technician (an aiortc client): its
microphone panel and its screen-reader announcement name the technical team,
not the chair. Then El Salvador (aiortc) holds the floor and leaves: the
chair's on-screen minutes say the delegation left, not "taken back by the
chair".
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from aiortc.mediastreams import AudioStreamTrack

from client import PalabraClient

from .harness import BrowserPage, RunningServer
from .media import SolidColorVideoTrack
from .test_browser_join import admit, wait_js

pytestmark = pytest.mark.e2e


@contextlib.asynccontextmanager
async def client(
    server: RunningServer, role: str, name: str, delegation: str | None, pid: str
) -> AsyncIterator[PalabraClient]:
    token = server.token(role=role, name=name, delegation=delegation, participant=pid)
    peer = PalabraClient(server.ws_url, token, media_addresses=["127.0.0.1"])
    try:
        await peer.join()
        yield peer
    finally:
        await peer.close()


async def enter(page: BrowserPage, server: RunningServer, chair: PalabraClient, pid: str) -> None:
    token = server.token(
        role="head", name="Canciller de Guatemala", delegation="gt", participant=pid
    )
    await page.page.goto(server.join_url(token))
    await wait_js(page.page, "() => window.palabra?.connection?.state === 'joined'")
    await page.page.get_by_role("button", name="Entrar a la reunión").click()
    await admit(chair, pid)
    await wait_js(page.page, "() => document.body.dataset.view === 'delegation'")


async def test_a_technicians_mute_is_shown_as_the_technicians(
    server: RunningServer, browser_page: BrowserPage
) -> None:
    page = browser_page
    async with (
        client(server, "chair", "Presidencia", None, "p-attr-chair") as chair,
        client(server, "technician", "Técnico de sala", None, "p-attr-tech") as tech,
    ):
        await enter(page, server, chair, "p-attr-gt")
        await tech.command("participant.mute", participant_id="p-attr-gt")
        await page.wait_js(
            "() => document.querySelector('#mic-panel').dataset.micState === 'muted'"
        )
        title = await page.js("() => document.querySelector('.mic-panel-title').textContent")
        assert title == "Silenciado por el equipo técnico", title
        assert await page.js("() => document.querySelector('#mic-panel').dataset.mutedBy") == (
            "technician"
        )
        await page.wait_js(
            "() => document.querySelector('#announce-assertive').textContent"
            ".includes('equipo técnico')"
        )
        await page.screenshot("delegation-muted-by-technician")
        # The chair's mute reads as the chair's.
        await tech.command("participant.unmute", participant_id="p-attr-gt")
        await chair.command("participant.mute", participant_id="p-attr-gt")
        await page.wait_js(
            "() => document.querySelector('.mic-panel-title').textContent"
            " === 'Silenciado por la Presidencia'"
        )
        await chair.command("participant.unmute", participant_id="p-attr-gt")

        # A point of order, granted and yielded: the next request is ordinary again.
        await page.page.get_by_role("radio", name="Cuestión de orden").check()
        await page.page.locator("#btn-request").click()
        await chair.wait_for(lambda: bool(chair.room.get("queue") or chair.room.get("pending")))
        [request] = [*chair.room["queue"], *chair.room["pending"]]
        assert request["priority"] == "point_of_order"
        await chair.command("floor.grant", request_id=request["request_id"])
        await page.wait_js("() => document.querySelector('#btn-release')?.hidden === false")
        await page.page.locator("#btn-release").click()
        await page.wait_js("() => document.querySelector('#btn-request')?.hidden === false")
        assert await page.page.get_by_role("radio", name="Ordinaria").is_checked()


async def test_a_floor_ended_by_the_system_is_not_the_chairs(
    server: RunningServer, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    chair_token = server.token(
        role="chair", name="Presidencia", delegation=None, participant="p-attr-chair2"
    )
    await page.goto(server.join_url(chair_token))
    await wait_js(page, "() => document.body.dataset.view === 'chair'")
    async with client(server, "head", "Canciller de El Salvador", "sv", "p-attr-sv") as sv:
        await page.locator(
            '#lobby-list [data-participant-id="p-attr-sv"] [data-action="admit"]'
        ).click()
        await sv.wait_for(
            lambda: any(p["participant_id"] == "p-attr-sv" for p in sv.room.get("participants", []))
        )
        update = await sv.command("floor.request", delegation_id="sv")
        [request] = [e for e in update.events if e["type"] == "floor.requested"]
        await wait_js(
            page, "() => window.palabra.room.queue.length + window.palabra.room.pending.length > 0"
        )
        await page.evaluate(
            "(id) => window.palabra.connection.command('floor.grant', {request_id: id})",
            request["request_id"],
        )
        await wait_js(page, "() => document.querySelector('#floor-now').dataset.holder === 'sv'")
        await sv.leave()
    line = "#minutes-interventions .intervention"
    lines = f"[...document.querySelectorAll('{line}')]"
    # The page may already list interventions of earlier tests on this server.
    ended = (
        f"() => {lines}.some((li) => li.dataset.running === 'false'"
        " && li.textContent.includes('El Salvador'))"
    )
    await wait_js(page, ended)
    text = await page.evaluate(
        f"() => {lines}.filter((li) => li.textContent.includes('El Salvador'))"
        ".map((li) => li.textContent).join('\\n')"
    )
    assert "la delegación se retiró" in text, text
    assert "Presidencia" not in text, text
    # The minutes downloaded from the console are in the page's language.
    markdown = await page.evaluate(
        "async () => (await fetch(document.querySelector('#minutes-panel a[download=\"acta.md\"]')"
        ".href)).text()"
    )
    assert markdown.startswith("# Acta: "), markdown[:200]
    assert "El Salvador" in markdown and "la delegación se retiró" in markdown
    await page.locator('#lang-switch button[data-lang="en"]').click()
    markdown = await page.evaluate(
        "async () => (await fetch(document.querySelector('#minutes-panel a[download=\"acta.md\"]')"
        ".href)).text()"
    )
    assert markdown.startswith("# Minutes: ") and "the delegation left" in markdown


# Waits ~30 s for the server to give up on a vanished client: with -m slow.
@pytest.mark.slow
async def test_an_alert_about_someone_gone_names_them(
    server: RunningServer, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    token = server.token(role="technician", name="Técnico", delegation=None, participant="p-at")
    await page.goto(server.join_url(token))
    await wait_js(page, "() => document.body.dataset.view === 'technician'")
    async with client(server, "chair", "Presidencia", None, "p-alert-chair") as chair:
        async with client(server, "head", "Canciller de Costa Rica", "cr", "p-alert-cr") as cr:
            await admit(chair, "p-alert-cr")
            await cr.publish(video=SolidColorVideoTrack((200, 30, 30)), audio=AudioStreamTrack())
            rows = '#streams-table tbody[data-participant-id="p-alert-cr"]'
            await wait_js(page, f"() => document.querySelector('{rows}')", timeout=15)
        # Gone without leaving: the technicians are alerted, by name.
        card = '#alerts-list .alert-card[data-alert-id="gone:p-alert-cr"]'
        await wait_js(page, f"() => document.querySelector('{card}')", timeout=15)
        who = f"() => document.querySelector('{card} .alert-who').textContent"
        assert "Canciller de Costa Rica" in await page.evaluate(who)
        # The seat is given up after the resume grace; the alert still names them.
        gone = (
            "() => !window.palabra.room.participants.some((p) => p.participant_id === 'p-alert-cr')"
        )
        await wait_js(page, gone, timeout=45)
        await asyncio.sleep(1.5)  # the card is drawn again every second
        text = await page.evaluate(who)
        assert "Canciller de Costa Rica" in text and "p-alert-cr" not in text, text
