"""Interpretation in real browsers: the demo's English booth and a delegation listening.

The demo conference has Spanish on the floor and an English channel with two
interpreters seated. The chair admits everyone; the first interpreter goes on
air from the console; El Salvador chooses English in the language menu and
receives audio on the channel stream (its inbound bytes grow);
the second interpreter asks for the handover, the first accepts, and the
channel goes on from the second's microphone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import async_playwright

from .harness import CHROMIUM, CHROMIUM_FLAGS, BrowserPage, RunningServer, new_page

# Four browsers and a server on a shared two-core machine: more than the default.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

EN1, EN2 = "demo-interpreter-en-1", "demo-interpreter-en-2"
CHAIR, SV = "p-chair-i", "p-sv-i"

# Bytes received on the `feed:listen` m-line (-1 while none), and its audio level.
FEED = """async () => {
    const c = window.palabra.connection;
    if (!c.subscriber) return [-1, 0];
    const mids = [...c.streams.values()]
        .filter((s) => s.producer_id === 'feed:listen').map((s) => s.mid);
    let bytes = -1, level = 0;
    for (const t of c.subscriber.getTransceivers()) {
        if (!mids.includes(t.mid)) continue;
        const stats = await t.receiver.getStats();
        stats.forEach((r) => {
            if (r.type === 'inbound-rtp') {
                bytes = Math.max(bytes, 0) + r.bytesReceived;
                level = Math.max(level, r.audioLevel ?? 0);
            }
        });
    }
    return [bytes, level];
}"""


async def until(probe: Callable[[], Awaitable[bool]], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not await probe():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def admit(chair: BrowserPage, pid: str) -> None:
    async def admitted() -> bool:
        state = await chair.js(
            """(pid) => {
                const room = window.palabra.room;
                if (!room) return 'none';
                if (room.participants.some((p) => p.participant_id === pid)) return 'in';
                if (room.lobby.some((p) => p.participant_id === pid)) {
                    window.palabra.connection.command('lobby.admit', {participant_id: pid});
                }
                return 'waiting';
            }""",
            pid,
        )
        return bool(state == "in")

    await until(admitted, f"{pid} admitted")


async def enter(page: BrowserPage) -> None:
    """From the device check into the lobby (the chair admits from there)."""

    async def entered() -> bool:
        view = await page.js("() => document.body.dataset.view ?? ''")
        if view == "prejoin":
            button = page.page.get_by_role("button", name="Entrar a la reunión")
            if await button.count() and await button.is_enabled():
                await button.click()
                return True
        return bool(view == "delegation")

    await until(entered, "the delegation entering")


async def on_air_state(page: BrowserPage) -> str:
    state: str = await page.js(
        "() => document.querySelector('.interpreter-view')?.dataset.onAir ?? ''"
    )
    return state


async def test_a_delegation_listens_to_english_and_the_booth_hands_over(
    server: RunningServer,
) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True
        )

        def link(role: str, name: str, delegation: str | None, pid: str) -> str:
            token = server.token(role=role, name=name, delegation=delegation, participant=pid)
            return server.join_url(token)

        chair = await new_page(browser, link("chair", "Presidencia", None, CHAIR))
        en1 = await new_page(browser, link("interpreter", "Intérprete EN 1", None, EN1))
        en2 = await new_page(browser, link("interpreter", "Intérprete EN 2", None, EN2))
        sv = await new_page(browser, link("head", "Canciller de El Salvador", "sv", SV))
        pages = {"chair": chair, "en1": en1, "en2": en2, "sv": sv}
        try:
            await chair.wait_js("() => document.body.dataset.view === 'chair'", timeout=30)
            for pid in (EN1, EN2):
                await admit(chair, pid)
            await enter(sv)
            await admit(chair, SV)
            await sv.wait_js("() => document.body.dataset.view === 'delegation'", timeout=30)

            # The first interpreter goes on air from the console.
            await en1.wait_js("() => document.body.dataset.view === 'interpreter'", timeout=30)
            await until(lambda: _is(en1, "idle"), "en1's console shows an idle booth")
            await en1.wait_js("() => window.palabra.connection.published === true", timeout=30)
            await en1.page.get_by_test_id("on-air").click()
            await until(lambda: _is(en1, "on"), "en1 on air")
            await until(lambda: _is(en2, "partner"), "en2 sees its partner on air")

            # El Salvador picks English in the language menu: audio on the channel stream.
            menu = sv.page.get_by_test_id("language-select")
            await menu.wait_for(state="visible", timeout=10_000)
            await menu.select_option("en")
            await until(lambda: _feed_grows(sv), "inbound audio on the English channel")

            # Handover: en2 asks, en1 accepts; the channel keeps flowing.
            await en2.wait_js("() => window.palabra.connection.published === true", timeout=30)
            await en2.page.get_by_test_id("on-air").click()
            accept = en1.page.get_by_test_id("accept-handover")
            await accept.wait_for(state="visible", timeout=10_000)
            await accept.click()
            await until(lambda: _is(en2, "on"), "en2 on air after the handover")
            await until(lambda: _is(en1, "partner"), "en1 passive after the handover")
            await until(lambda: _feed_grows(sv), "inbound audio after the handover")
            room = await sv.js("() => window.palabra.room.interpretation.channels[0]")
            assert room["active"] == EN2
        finally:
            for name, page in pages.items():
                page.save_log(f"interpretation-{name}")
            await browser.close()


async def _is(page: BrowserPage, state: str) -> bool:
    return await on_air_state(page) == state


async def _feed_grows(page: BrowserPage) -> bool:
    before, _ = await page.js(FEED)
    await asyncio.sleep(0.5)
    after, _ = await page.js(FEED)
    return bool(before >= 0 and after > before + 500)
