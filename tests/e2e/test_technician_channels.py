"""The technicians' stream table shows each interpretation channel as a row,
and how each stream's losses are repaired.

A technician's dashboard (Chromium) while aiortc peers run the demo's English
channel: the chair, an interpreter of the English booth and a listener on the
channel. The row names who is on air and how many receive the channel, shows
its bitrate, and says "silent" once the interpreter goes off air. Then a
camera and a listener on lossy links (nftables): the Repairs column counts
the publisher's retransmissions and those sent to the listener.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator

import pytest
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

from client import PalabraClient
from tests.rate_limit import lose_udp, nft_table

from .harness import BrowserPage, RunningServer
from .test_browser_join import admit, wait_js

pytestmark = pytest.mark.e2e

EN1 = "demo-interpreter-en-1"
ROW = '#streams-table tbody[data-group="channels"] tr.channel[data-channel="en"]'


@contextlib.asynccontextmanager
async def client(
    server: RunningServer,
    role: str,
    name: str,
    delegation: str | None,
    pid: str,
    local_address: str | None = None,
) -> AsyncIterator[PalabraClient]:
    token = server.token(role=role, name=name, delegation=delegation, participant=pid)
    peer = PalabraClient(
        server.ws_url,
        token,
        media_addresses=["127.0.0.1"],
        decode=False,
        local_address=local_address,
    )
    try:
        await peer.join()
        yield peer
    finally:
        await peer.close()


def row_is(status: str, interpreter: str, listeners: int) -> str:
    return f"""() => {{
        const row = document.querySelector('{ROW}');
        return row !== null && row.dataset.status === '{status}'
            && row.dataset.interpreterId === '{interpreter}'
            && Number(row.dataset.listeners) === {listeners}
            && ({status == "ok"} ? Number(row.dataset.bitrate) > 0 : true);
    }}""".replace("True", "true").replace("False", "false")


async def test_a_channel_is_a_row_of_the_stream_table(
    server: RunningServer, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    token = server.token(role="technician", name="Técnico", delegation=None, participant="p-ch-t")
    await page.goto(server.join_url(token))
    await wait_js(page, "() => document.body.dataset.view === 'technician'", timeout=30)
    async with (
        client(server, "chair", "Presidencia", None, "p-ch-chair") as chair,
        client(server, "interpreter", "Intérprete EN 1", None, EN1) as interpreter,
    ):
        await admit(chair, EN1)
        async with client(server, "head", "Canciller de El Salvador", "sv", "p-ch-sv") as sv:
            await admit(chair, "p-ch-sv")
            await interpreter.publish(audio=AudioStreamTrack())
            await sv.wait_for(lambda: sv.feed_stream() is not None, timeout=15)
            await sv.listen("en")
            await interpreter.command("interpretation.on_air")

            await wait_js(page, row_is("ok", EN1, 1), timeout=20)
            cells = await page.evaluate(
                f"() => [...document.querySelector('{ROW}').children].map((c) => c.textContent)"
            )
            assert cells[1] == "Canal inglés", cells
            assert cells[2] == "Intérprete EN 1 → 1 reciben", cells
            assert cells[3] == "opus"
            await browser_page.screenshot("technician-channel-row")

            # Off air: the row stays, silent, nobody named.
            await interpreter.command("interpretation.off_air")
            await wait_js(page, row_is("silent", "", 1), timeout=20)
            state = await page.evaluate(
                f"() => document.querySelector('{ROW} td[data-col=\"state\"]').textContent"
            )
            assert state == "En silencio"


def video_row(subscriber: str = "") -> str:
    """The video row in from the publisher, or out to ``subscriber``."""
    return f'#streams-table tr.stream[data-kind="video"][data-subscriber-id="{subscriber}"]'


async def test_the_repairs_column_counts_retransmissions_on_lossy_links(
    server: RunningServer, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    token = server.token(role="technician", name="Técnico", delegation=None, participant="p-rp-t")
    await page.goto(server.join_url(token))
    await wait_js(page, "() => document.body.dataset.view === 'technician'", timeout=30)
    with nft_table("palabra_tech_repairs"):
        async with (
            client(server, "chair", "Presidencia", None, "p-rp-chair") as chair,
            client(server, "head", "Canciller", "gt", "p-rp-gt", "127.0.0.6") as camera,
        ):
            await admit(chair, "p-rp-gt")
            await camera.publish(video=VideoStreamTrack())
            async with client(server, "head", "Canciller", "sv", "p-rp-sv", "127.0.0.7") as sv:
                await admit(chair, "p-rp-sv")
                await sv.wait_for_streams(1, kind="video", frames=10, timeout=20)
                into, out = video_row(), video_row("p-rp-sv")
                await wait_js(page, f"() => document.querySelector('{out}') !== null")
                # 5 % of the camera's UDP and of the listener's, dropped at random.
                lose_udp("palabra_tech_repairs", ["ip saddr 127.0.0.6", "ip daddr 127.0.0.7"], 50)
                rows = [into, out]
                await wait_js(
                    page,
                    f"""() => {rows}.every((selector) => {{
                        const row = document.querySelector(selector);
                        return row !== null && Number(row.dataset.repaired) > 0;
                    }})""",
                    timeout=40,
                )
                header = await page.evaluate(
                    "() => document.querySelector('#streams-table th[data-col=\"repairs\"]')"
                    ".textContent"
                )
                assert header == "Reparaciones"
                cell = 'td[data-col="repairs"]'
                texts = await page.evaluate(
                    f"() => {rows}.map((r) => document.querySelector(`${{r}} {cell}`).textContent)"
                )
                assert re.fullmatch(r"[1-9]\d* reparados · \d+ perdidos", texts[0]), texts
                assert re.fullmatch(r"[1-9]\d*/[1-9]\d* reenviados · \d+ sin copia", texts[1])
                await browser_page.screenshot("technician-repairs")
