"""A chair console for 20 delegations.

The chair (Chromium at 1366x768, then 1920x1080 and 390x844) with 20
delegations (aiortc clients): ready markers in the lobby, one-line rows on
the speakers list (how many fit is measured and asserted), a chime and a
toast when a request arrives, deny asks first, announcements name the
delegation and follow the language switch, and the compact grid lights the
delegation that speaks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import secrets
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import AsyncIterator, Iterator
from fractions import Fraction

import av
import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamTrack
from playwright.async_api import Browser

from client import PalabraClient

from .harness import (
    ARTIFACTS,
    REPO,
    RunningServer,
    free_port,
    wait_healthy,
)
from .test_browser_join import wait_js
from .test_floor_cues import CHIMES, PHONE, page_at

pytestmark = pytest.mark.e2e

LAPTOP = {"width": 1366, "height": 768}
DESKTOP = {"width": 1920, "height": 1080}
CONSOLE = "consola"
DELEGATIONS = [
    ("ar", "Argentina"), ("bo", "Bolivia"), ("br", "Brasil"), ("cl", "Chile"),
    ("co", "Colombia"), ("cr", "Costa Rica"), ("cu", "Cuba"), ("do", "República Dominicana"),
    ("ec", "Ecuador"), ("sv", "El Salvador"), ("gt", "Guatemala"), ("hn", "Honduras"),
    ("mx", "México"), ("ni", "Nicaragua"), ("pa", "Panamá"), ("py", "Paraguay"),
    ("pe", "Perú"), ("uy", "Uruguay"), ("ve", "Venezuela"), ("bz", "Belice"),
]  # fmt: skip


class ToneTrack(MediaStreamTrack):
    """A 440 Hz tone, 48 kHz mono s16, 20 ms frames: a delegation speaking."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._pts = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        samples = 960
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        wait = self._start + self._pts / 48000 - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        t = (np.arange(samples) + self._pts) / 48000
        tone = (0.3 * 32767 * np.sin(2 * math.pi * 440 * t)).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(tone.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = 48000
        frame.pts = self._pts
        frame.time_base = Fraction(1, 48000)
        self._pts += samples
        return frame


@contextlib.asynccontextmanager
async def aiortc_client(
    server: RunningServer, role: str, name: str, delegation: str | None, pid: str, conference: str
) -> AsyncIterator[PalabraClient]:
    token = server.token(
        role=role, name=name, delegation=delegation, participant=pid, conference=conference
    )
    client = PalabraClient(server.ws_url, token, media_addresses=["127.0.0.1"], decode=False)
    try:
        await client.join()
        yield client
    finally:
        await client.close()


@pytest.fixture(scope="module")
def console_server() -> Iterator[tuple[RunningServer, str]]:
    """A server with the admin API open, and a conference of 20 delegations."""
    ARTIFACTS.mkdir(exist_ok=True)
    port = free_port()
    secret, admin = secrets.token_hex(24), secrets.token_hex(24)
    log_path = ARTIFACTS / f"e2e-server-console-{port}.log"
    command = [
        sys.executable, "-m", "server", "serve",
        "--host", "127.0.0.1", "--port", str(port), "--media-address", "127.0.0.1",
        "--secret", secret, "--admin-token", admin,
        "--state-dir", tempfile.mkdtemp(prefix="palabra-e2e-console-"),
    ]  # fmt: skip
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_healthy(proc, f"http://127.0.0.1:{port}/healthz", log_path)
        body = {
            "id": CONSOLE,
            "title": "Conferencia Regional (20 delegaciones)",
            "delegations": [{"id": i, "name": n, "code": i.upper()} for i, n in DELEGATIONS],
        }
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/conferences",
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {admin}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 201
        yield RunningServer(port, secret, log_path), admin
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


ROWS_IN_VIEW = """() => {
    const column = document.querySelector('.col-left');
    const bottom = Math.min(column.getBoundingClientRect().bottom, window.innerHeight);
    const rows = [...document.querySelectorAll('#queue-list > li')];
    return {
        total: rows.length,
        visible: rows.filter((r) => r.getBoundingClientRect().bottom <= bottom).length,
        tallest: Math.max(...rows.map((r) => r.getBoundingClientRect().height)),
        lines: Math.max(...rows.map((r) => {
            const name = r.querySelector('.name');
            return Math.round(name.getBoundingClientRect().height /
                parseFloat(getComputedStyle(name).lineHeight));
        })),
    };
}"""


@pytest.mark.timeout(420)  # twenty aiortc clients join, request and leave
async def test_a_chair_console_for_twenty_delegations(
    console_server: tuple[RunningServer, str], browser: Browser
) -> None:
    server, _ = console_server
    chair_token = server.token(
        role="chair", name="Presidencia", delegation=None, participant="p-chair", conference=CONSOLE
    )
    chair = await page_at(browser, server.join_url(chair_token, CONSOLE), LAPTOP)
    page = chair.page
    async with contextlib.AsyncExitStack() as stack:
        try:
            await wait_js(page, "() => document.body.dataset.view === 'chair'")
            heads = [
                await stack.enter_async_context(
                    aiortc_client(server, "head", f"Canciller de {n}", i, f"p-{i}", CONSOLE)
                )
                for i, n in DELEGATIONS
            ]
            # Half of them have passed the joining page's device check.
            for head in heads[:10]:
                await head.command("participant.ready")
            lobby = "#lobby-list > li"
            await wait_js(page, f"() => document.querySelectorAll('{lobby}').length === 20")
            ready = await page.evaluate(
                f"() => [...document.querySelectorAll('{lobby}')].map((li) => li.dataset.ready)"
            )
            assert ready.count("true") == 10 and ready.count("false") == 10, ready
            marker = page.locator('#lobby-list li[data-participant-id="p-ar"] .ready-tag')
            assert await marker.inner_text() == "✓ Equipo comprobado"
            await chair.screenshot("chair-console-lobby-1366")

            await page.get_by_role("button", name="Admitir a todos").click()
            await wait_js(
                page,
                "() => window.palabra.room.participants.length === 21",
                timeout=30,
            )
            # A request arriving: a chime and a toast naming the delegation.
            await heads[0].command("floor.request", delegation_id="ar")
            await page.locator(".toast.cue", has_text="Argentina pide la palabra").wait_for(
                state="visible", timeout=5_000
            )
            assert (await page.evaluate(CHIMES))["request"] >= 1
            # Screen readers hear the name, and hear it again in English after the switch.
            polite = "() => document.querySelector('#announce-polite').textContent"
            await wait_js(page, f"() => ({polite})() === 'Argentina pide la palabra.'")
            await page.locator('#lang-switch button[data-lang="en"]').click()
            assert await page.evaluate(polite) == "Argentina requests the floor."
            await page.locator('#lang-switch button[data-lang="es"]').click()

            for head, (delegation, _) in zip(heads[1:], DELEGATIONS[1:], strict=True):
                await head.command("floor.request", delegation_id=delegation)
            twenty = "() => document.querySelectorAll('#queue-list > li').length === 20"
            await wait_js(page, twenty, timeout=30)
            await asyncio.sleep(0.5)  # the last toasts settle
            rows = await page.evaluate(ROWS_IN_VIEW)
            print(f"speakers list at 1366x768: {rows}")
            assert rows["lines"] == 1, rows
            assert rows["tallest"] <= 44, rows
            assert rows["visible"] >= 10, rows
            await chair.screenshot("chair-console-20-1366")

            # The compact grid: every delegation, none speaking yet.
            await wait_js(
                page, "() => document.querySelector('.grid-panel').dataset.layout === 'compact'"
            )
            assert await page.locator("#delegation-grid > li").count() == 20

            # Deny (next to ↓) asks first; cancelling keeps the request.
            row = page.locator('#queue-list li[data-delegation-id="bz"]')
            await row.get_by_role("button", name="Denegar la palabra a Belice").click()
            dialog = page.locator("dialog[open]")
            await dialog.wait_for(timeout=3_000)
            assert "Belice" in await dialog.inner_text()
            await chair.screenshot("chair-console-deny-confirm")
            await dialog.get_by_role("button", name="Cancelar").click()
            await asyncio.sleep(0.3)
            assert await row.count() == 1
            await row.get_by_role("button", name="Denegar la palabra a Belice").click()
            await (
                page.locator("dialog[open]")
                .get_by_role("button", name="Denegar la palabra")
                .click()
            )
            await row.wait_for(state="detached", timeout=5_000)

            # Argentina speaks (a tone): its cell lights up.
            await heads[0].publish(audio=ToneTrack())
            await (
                page.locator('#queue-list li[data-delegation-id="ar"]')
                .get_by_role("button", name="Dar la palabra a Argentina")
                .click()
            )
            cell = '#delegation-grid li[data-delegation-id="ar"]'
            await wait_js(
                page, f"() => document.querySelector('{cell}').dataset.floor === 'holding'"
            )
            await wait_js(
                page,
                f"() => document.querySelector('{cell}').dataset.speaking === 'true'",
                timeout=15,
            )
            assert (
                await page.evaluate(
                    "() => document.querySelectorAll("
                    "'#delegation-grid li[data-speaking=\"true\"]').length"
                )
                == 1
            )
            await chair.screenshot("chair-console-20-1366-speaking")
            await page.set_viewport_size(DESKTOP)
            await asyncio.sleep(0.3)
            rows = await page.evaluate(ROWS_IN_VIEW)
            print(f"speakers list at 1920x1080: {rows}")
            assert rows["lines"] == 1 and rows["visible"] >= 15, rows
            await chair.screenshot("chair-console-20-1920")
            await page.set_viewport_size(PHONE)
            await asyncio.sleep(0.3)
            rows = await page.evaluate(ROWS_IN_VIEW)
            print(f"speakers list at 390x844: {rows}")
            assert rows["lines"] == 1, rows
            await chair.screenshot("chair-console-20-phone")
            await page.screenshot(
                path=str(ARTIFACTS / "screenshots" / "chair-console-20-phone-full.png"),
                full_page=True,
            )
            assert chair.errors == [], chair.errors
        finally:
            chair.save_log("chair-console")
            await page.context.close()


async def test_bad_ready_is_refused_and_changes_nothing(
    console_server: tuple[RunningServer, str],
) -> None:
    server, _ = console_server
    async with aiortc_client(server, "head", "Canciller de Chile", "cl", "p-cl-2", CONSOLE) as cl:
        await cl.command("participant.ready")
        seq = cl.room_seq
        with pytest.raises(Exception) as twice:
            await cl.command("participant.ready")
        assert "invalid_state" in str(twice.value)
        with pytest.raises(Exception) as other:
            await cl.command("participant.ready", participant_id="p-chair")
        assert "forbidden" in str(other.value)
        assert cl.room_seq == seq
        [me] = [p for p in cl.room["lobby"] if p["participant_id"] == "p-cl-2"]
        assert me["ready"] is True
