"""A seat survives its page, and the chair sees which seats have no connection.

The head of Guatemala (headless Chromium) holds the floor; the chair and a
listener are aiortc clients. The head reloads the page (F5): the floor holder
does not change, the room log has no ``participant.left``, the page comes back
to the meeting without a second device check, and the listener hears
Guatemala again within 3 s of the reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest
from aiortc.mediastreams import AudioStreamTrack
from playwright.async_api import Browser

from client import PalabraClient

from .harness import BrowserPage, RunningServer, new_page
from .test_browser_join import admit, wait_js

pytestmark = pytest.mark.e2e

GT = "p-seat-gt"


@contextlib.asynccontextmanager
async def client(
    server: RunningServer, role: str, name: str, delegation: str | None, pid: str
) -> AsyncIterator[PalabraClient]:
    token = server.token(role=role, name=name, delegation=delegation, participant=pid)
    peer = PalabraClient(server.ws_url, token, media_addresses=["127.0.0.1"])
    try:
        yield peer
    finally:
        await peer.close()


def audio_frames(listener: PalabraClient, owner: str) -> int:
    return sum(
        s.frames
        for s in listener.streams.values()
        if s.participant_id == owner and s.kind == "audio"
    )


async def hears(listener: PalabraClient, owner: str, timeout: float) -> float:
    """Seconds until ``owner``'s audio frames grow by 25 (half a second of audio)."""
    start, began = audio_frames(listener, owner), time.monotonic()
    await listener.wait_for(lambda: audio_frames(listener, owner) >= start + 25, timeout=timeout)
    return time.monotonic() - began


def open_request(peer: PalabraClient, delegation: str) -> str | None:
    for request in [*peer.room.get("pending", []), *peer.room.get("queue", [])]:
        if request["delegation_id"] == delegation:
            return str(request["request_id"])
    return None


def holders(peer: PalabraClient) -> list[str]:
    return [h["delegation_id"] for h in peer.room.get("holders", [])]


async def test_reload_during_the_floor_keeps_the_seat_and_the_floor(
    server: RunningServer, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    async with (
        client(server, "chair", "Presidencia", None, "p-seat-chair") as chair,
        client(server, "head", "Canciller de El Salvador", "sv", "p-seat-sv") as listener,
    ):
        await chair.join()
        await listener.join()
        await admit(chair, "p-seat-sv")
        await listener.publish(audio=AudioStreamTrack())

        token = server.token(
            role="head", name="Canciller de Guatemala", delegation="gt", participant=GT
        )
        await page.goto(server.join_url(token))
        await wait_js(page, "() => window.palabra?.connection?.state === 'joined'")
        await page.get_by_role("button", name="Entrar a la reunión").click()
        await admit(chair, GT)
        await wait_js(page, "() => document.body.dataset.view === 'delegation'")
        await wait_js(page, "() => window.palabra.connection.published === true", timeout=15)

        await page.locator("#btn-request").click()
        await chair.wait_for(lambda: open_request(chair, "gt") is not None)
        request_id = open_request(chair, "gt")
        await chair.command("floor.grant", request_id=request_id, unlimited=True)
        await hears(listener, GT, timeout=10)
        events_before = len(chair.room_events)

        await page.reload()
        reloaded = time.monotonic()
        # Straight back into the meeting: no device check, no lobby.
        await wait_js(page, "() => document.body.dataset.view === 'delegation'", timeout=10)
        await listener.wait_for(
            lambda: (
                audio_frames(listener, GT) > 0
                and any(
                    s.participant_id == GT and s.kind == "audio" for s in listener.streams.values()
                )
            ),
            timeout=10,
        )
        await hears(listener, GT, timeout=10)
        back_after = time.monotonic() - reloaded
        assert back_after < 3.0, f"Guatemala heard again {back_after:.2f} s after the reload"

        assert holders(chair) == ["gt"]
        assert chair.room["holders"][0]["request_id"] == request_id
        later = [e["type"] for e in chair.room_events[events_before:]]
        assert "participant.left" not in later and "floor.revoked" not in later, later
        assert GT in [p["participant_id"] for p in chair.room["participants"]]
        # The page knows it holds the floor.
        await wait_js(page, "() => document.querySelector('#btn-release')?.hidden === false")
        # The next test of this server asks the floor for Guatemala again.
        await chair.command("floor.revoke", request_id=request_id)


async def test_a_crashed_delegation_is_shown_disconnected_and_not_billed(
    server: RunningServer, browser: Browser
) -> None:
    """Guatemala's browser dies while it holds the floor: within 3 s the chair's
    console shows it disconnected (tile, participants list, floor panel), the
    clock stops, and the console asks before giving the floor to a delegation
    whose connection is down."""
    chair_token = server.token(
        role="chair", name="Presidencia", delegation=None, participant="p-crash-chair"
    )
    chair = await new_page(browser, server.join_url(chair_token))
    gt = await new_page(
        browser,
        server.join_url(
            server.token(
                role="head",
                name="Canciller de Guatemala",
                delegation="gt",
                participant="p-crash-gt",
            )
        ),
    )
    try:
        await chair.wait_js("() => document.body.dataset.view === 'chair'")
        await gt.wait_js("() => document.querySelector('.prejoin')?.dataset.capture === 'ok'")
        await gt.page.get_by_role("button", name="Entrar a la reunión").click()
        waiting = chair.page.locator('#lobby-list [data-participant-id="p-crash-gt"]')
        await waiting.locator('[data-action="admit"]').click()
        await gt.wait_js("() => document.body.dataset.view === 'delegation'")
        await gt.page.locator("#btn-request").click()
        row = chair.page.locator('#queue-list li[data-delegation-id="gt"]')
        await row.wait_for(timeout=5_000)
        await row.get_by_label("Tiempo de palabra de Guatemala").select_option("120")
        await row.get_by_role("button", name="Dar la palabra a Guatemala").click()
        await chair.wait_js("() => document.querySelector('#floor-now').dataset.holder === 'gt'")
        tile = '#floor-now .tile[data-participant-id="p-crash-gt"]'
        await chair.wait_js(
            f"() => document.querySelector('{tile}')?.dataset.presence === 'connected'"
        )

        # The browser dies: no leave, no goodbye.
        crashed = time.monotonic()
        await gt.page.context.close()
        await chair.wait_js(
            "() => document.querySelector('#floor-now').dataset.presence !== 'connected'",
            timeout=5,
        )
        print(f"shown reconnecting after {time.monotonic() - crashed:.2f} s")
        await chair.wait_js(
            "() => document.querySelector('#floor-now').dataset.presence === 'disconnected'",
            timeout=5,
        )
        marked = time.monotonic() - crashed
        print(f"shown disconnected after {marked:.2f} s")
        assert marked < 3.0, f"marked disconnected {marked:.2f} s after the crash"
        person = '#participants-list li[data-participant-id="p-crash-gt"]'
        assert await chair.js(f"() => document.querySelector('{person}').dataset.presence") == (
            "disconnected"
        )
        assert await chair.page.locator(".floor-now-paused").is_visible()
        # The clock stands still, and the minutes do not bill the absence.
        digits = "() => document.querySelector('#chair-countdown .countdown-digits').textContent"
        before = await chair.js(digits)
        await asyncio.sleep(2.2)
        assert await chair.js(digits) == before
        turn = await chair.js("() => window.palabra.room.holders[0].turn")
        assert turn["paused_at"] is not None
        await chair.screenshot("chair-presence-disconnected")
        await chair.page.set_viewport_size({"width": 1366, "height": 768})
        await chair.screenshot("chair-presence-disconnected-1366")

        # Giving the floor to a disconnected delegation asks first.
        await chair.page.get_by_role("button", name="Retirar la palabra a Guatemala").click()
        await chair.wait_js("() => document.querySelector('#floor-now').dataset.holder === ''")
        await chair.page.locator("details.add-details:has(#add-delegation) summary").click()
        await chair.page.locator("#add-delegation").select_option("gt")
        await chair.page.locator('[data-action="add"]').click()
        row = chair.page.locator('#queue-list li[data-delegation-id="gt"]')
        await row.wait_for(timeout=5_000)
        assert await row.get_attribute("data-presence") == "disconnected"
        await row.get_by_role("button", name="Dar la palabra a Guatemala").click()
        dialog = chair.page.locator("dialog[open]")
        await dialog.wait_for(timeout=3_000)
        assert "sin conexión" in (await dialog.inner_text())
        await chair.screenshot("chair-presence-confirm")
        await dialog.get_by_role("button", name="Cancelar").click()
        await asyncio.sleep(0.3)
        assert await chair.js("() => window.palabra.room.holders.length") == 0
    finally:
        chair.save_log("presence-chair")
        await chair.page.context.close()
