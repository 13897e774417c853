"""A real Chromium joins the demo conference next to aiortc participants.

The browser publishes its fake camera and microphone; each aiortc participant
publishes a solid-colour 640x360 video and silence. Each side must receive
the other's media through the SFU, and the page must show and drop the
remote tiles. The demo conference has a lobby: an aiortc chair admits
everyone (the browser chair's own lobby panel is tested in test_meeting.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiortc import AudioStreamTrack
from playwright.async_api import Page

from client import PalabraClient, RemoteStream

from .harness import REPO, BrowserPage, RunningServer, eventually, free_port
from .media import BLUE, ORANGE, RGB, SolidColorVideoTrack

pytestmark = pytest.mark.e2e

INVALID_LINK = "El enlace no es válido o ha caducado"
EXPIRED_LINK = "Su enlace de acceso ha caducado"
BROWSER_NAME = "Jefatura de delegación — Guatemala"


# The parameters of the codec the browser sends its audio with (from the answer).
OPUS_SENT_FMTP = """async () => {
    const stats = await window.palabra.connection.publisher.getStats();
    let out = null;
    stats.forEach((r) => { if (r.type === 'outbound-rtp' && r.kind === 'audio') out = r; });
    return out ? stats.get(out.codecId)?.sdpFmtpLine ?? null : null;
}"""


async def js(page: Page, expression: str, arg: Any = None) -> Any:
    return await page.evaluate(expression, arg)


async def wait_js(page: Page, expression: str, arg: Any = None, timeout: float = 10) -> None:
    await page.wait_for_function(expression, arg=arg, timeout=timeout * 1000)


@contextlib.asynccontextmanager
async def chair_client(server: RunningServer) -> AsyncIterator[PalabraClient]:
    """An aiortc chair that publishes nothing and admits people from the lobby."""
    token = server.token(role="chair", name="Presidencia (Honduras)", delegation=None)
    client = PalabraClient(server.ws_url, token, media_addresses=["127.0.0.1"])
    try:
        await client.join()
        yield client
    finally:
        await client.close()


async def admit(chair: PalabraClient, participant: str) -> None:
    """Wait until the participant is in the lobby, then admit it."""

    def waiting() -> bool:
        return any(p["participant_id"] == participant for p in chair.room.get("lobby", []))

    await chair.wait_for(waiting, timeout=10)
    await chair.command("lobby.admit", participant_id=participant)


@contextlib.asynccontextmanager
async def remote_participant(
    server: RunningServer, chair: PalabraClient, name: str, delegation: str, rgb: RGB
) -> AsyncIterator[PalabraClient]:
    """An aiortc head of delegation publishing a solid colour and silence."""
    token = server.token(role="head", name=name, delegation=delegation)
    client = PalabraClient(server.ws_url, token, media_addresses=["127.0.0.1"])
    try:
        welcome = await client.join()
        await admit(chair, welcome.you.id)
        await client.publish(video=SolidColorVideoTrack(rgb), audio=AudioStreamTrack())
        yield client
    finally:
        await client.close()


def participant_id(client: PalabraClient) -> str:
    assert client.welcome is not None
    return client.welcome.you.id


async def open_conference(
    browser_page: BrowserPage, server: RunningServer, chair: PalabraClient
) -> str:
    """Open the join link of Guatemala's head, enter and get admitted by the
    chair; return its participant id."""
    page = browser_page.page
    token = server.token(role="head", name=BROWSER_NAME, delegation="gt")
    await page.goto(server.join_url(token))
    await wait_js(page, "() => window.palabra?.connection?.state === 'joined'")
    assert await js(page, "() => window.palabra.connection.conference.id") == "demo"
    browser_id: str = await js(page, "() => window.palabra.connection.you.id")
    await page.get_by_role("button", name="Entrar a la reunión").click()
    await admit(chair, browser_id)
    await wait_js(page, "() => document.body.dataset.view === 'delegation'")
    return browser_id


async def assert_shows_video(page: Page, owner: str, rgb: RGB) -> str:
    """The owner's tile plays its video: 640x360, frames advancing, the
    expected colour, from one of the owner's producers. Returns the producer id."""
    selector = f'.tile[data-participant-id="{owner}"] video[data-producer-id]'
    await wait_js(
        page, "(sel) => (document.querySelector(sel)?.videoWidth ?? 0) > 0", selector, timeout=15
    )
    size = await js(
        page,
        "(sel) => ((v) => [v.videoWidth, v.videoHeight])(document.querySelector(sel))",
        selector,
    )
    assert size == [640, 360]

    producer_id = await page.locator(selector).get_attribute("data-producer-id") or ""
    producer = await js(page, "(id) => window.palabra.connection.producers.get(id)", producer_id)
    assert producer == {"id": producer_id, "participant_id": owner, "kind": "video"}

    frames = "(sel) => document.querySelector(sel).getVideoPlaybackQuality().totalVideoFrames"
    before: int = await js(page, frames, selector)
    await wait_js(page, f"([sel, n]) => ({frames})(sel) >= n", [selector, before + 20], timeout=5)

    pixel: list[int] = await js(
        page,
        """(sel) => {
            const v = document.querySelector(sel);
            const c = document.createElement('canvas');
            c.width = v.videoWidth;
            c.height = v.videoHeight;
            const g = c.getContext('2d');
            g.drawImage(v, 0, 0);
            return Array.from(g.getImageData(c.width / 2, c.height / 2, 1, 1).data.slice(0, 3));
        }""",
        selector,
    )
    assert all(abs(a - b) <= 40 for a, b in zip(pixel, rgb, strict=True)), (pixel, rgb)
    return producer_id


async def stream_mids(page: Page, owner: str) -> list[str]:
    """The subscriber m-lines that currently carry the owner's producers."""
    mids: list[str] = await js(
        page,
        """(owner) => [...window.palabra.connection.streams.values()]
            .filter((s) => s.participant_id === owner).map((s) => s.mid).sort()""",
        owner,
    )
    return mids


async def test_browser_and_aiortc_exchange_media(
    server: RunningServer, browser_page: BrowserPage
) -> None:
    page = browser_page.page
    async with (
        chair_client(server) as chair,
        remote_participant(server, chair, "Canciller de Costa Rica", "cr", ORANGE) as remote,
    ):
        remote_id = participant_id(remote)
        browser_id = await open_conference(browser_page, server, chair)

        # 1. The browser publishes: the aiortc participant decodes its video
        #    and keeps receiving frames.
        def browser_video() -> RemoteStream | None:
            return next(
                (
                    s
                    for s in remote.streams.values()
                    if s.participant_id == browser_id and s.kind == "video" and s.frames > 0
                ),
                None,
            )

        received = await eventually(browser_video, 20, "the browser's video at aiortc")
        first = received.frames
        await eventually(lambda: received.frames >= first + 15, 10, "more browser video frames")
        assert received.last_frame is not None and received.last_frame.width > 0

        # Its Opus encoder was asked for in-band FEC by the server's answer.
        fmtp = await js(page, OPUS_SENT_FMTP)
        assert fmtp is not None and "useinbandfec=1" in fmtp.split(";"), fmtp

        # 2. The page shows the aiortc participant: name, delegation, video.
        tile = page.locator(f'.tile[data-participant-id="{remote_id}"]')
        await tile.wait_for(state="visible", timeout=10_000)
        caption = await tile.inner_text()
        assert "Canciller de Costa Rica" in caption
        assert "CR" in caption and "Costa Rica" in caption
        await assert_shows_video(page, remote_id, ORANGE)

        # Its audio plays: by autoplay, or (Chromium refuses sound before a
        # user gesture or a capture) after the "Activar sonido" button.
        audio = f'#audio-sink audio[data-participant-id="{remote_id}"]'
        await page.locator(audio).wait_for(state="attached", timeout=10_000)
        await wait_js(
            page,
            "(sel) => !document.querySelector(sel).paused"
            " || !document.getElementById('notice').hidden",
            audio,
        )
        enable_audio = page.get_by_role("button", name="Activar sonido")
        if await enable_audio.is_visible():
            await browser_page.screenshot("conference-audio-blocked")
            await enable_audio.click()
        await wait_js(page, "(sel) => !document.querySelector(sel).paused", audio, timeout=5)
        assert await page.locator("#notice").is_hidden()

        # The local preview is there too, and the status line says connected.
        await page.locator("#tile-local video").wait_for(state="visible", timeout=5_000)
        await wait_js(page, "() => document.querySelector('#status').dataset.state === 'ok'")
        await browser_page.screenshot("conference-two-participants")

        # 3. The aiortc participant leaves: its tile and its audio go away.
        await remote.leave()
        await tile.wait_for(state="detached", timeout=10_000)
        await page.locator(audio).wait_for(state="detached", timeout=10_000)
        assert await page.locator("#tile-local").count() == 1
        await browser_page.screenshot("conference-after-remote-left")

    # 4. The browser leaves through the button and its confirmation dialog;
    #    the server closes the socket with 1000.
    await page.get_by_role("button", name="Salir", exact=True).click()
    await page.get_by_role("button", name="Salir de la reunión").click()
    await page.get_by_text("Ha salido de la reunión").wait_for(timeout=5_000)
    close = await js(page, "() => window.palabra.closeInfo")
    assert close["code"] == 1000 and close["local"] is False, close
    await browser_page.screenshot("conference-left")

    assert browser_page.errors == []


async def test_recycled_m_lines_show_the_next_participant(
    server: RunningServer, browser_page: BrowserPage
) -> None:
    """When a participant leaves, the server reuses its m-lines of the
    browser's subscriber connection for the next one: the page must show the
    new producer on the same mids (a changed mapping, not a new track)."""
    page = browser_page.page
    async with chair_client(server) as chair:
        await open_conference(browser_page, server, chair)

        async with remote_participant(
            server, chair, "Canciller de Costa Rica", "cr", ORANGE
        ) as first:
            first_id = participant_id(first)
            await assert_shows_video(page, first_id, ORANGE)
            first_mids = await stream_mids(page, first_id)
            assert len(first_mids) == 2  # audio and video
            await first.leave()
            await page.locator(f'.tile[data-participant-id="{first_id}"]').wait_for(
                state="detached", timeout=10_000
            )

        async with remote_participant(
            server, chair, "Canciller de El Salvador", "sv", BLUE
        ) as second:
            second_id = participant_id(second)
            await assert_shows_video(page, second_id, BLUE)
            assert await stream_mids(page, second_id) == first_mids
            caption = await page.locator(f'.tile[data-participant-id="{second_id}"]').inner_text()
            assert "Canciller de El Salvador" in caption and "SV" in caption
            await browser_page.screenshot("conference-recycled-m-lines")

    assert browser_page.errors == []


@pytest.mark.parametrize(
    "case", ["tampered", "expired", "wrong-conference", "other-page", "missing"]
)
async def test_bad_link_shows_invalid_link(
    server: RunningServer, browser_page: BrowserPage, case: str
) -> None:
    """An unusable link ends on the "invalid link" message, without a crash.

    other-page: a valid token for "demo" opened under /c/other; the server
    admits it, the page notices the mismatch, leaves and says so.
    """
    page = browser_page.page
    token = server.token(role="head", name=BROWSER_NAME, delegation="gt")
    conference = "demo"
    expected_code: str | None
    if case == "tampered":
        head, payload, signature = token.split(".")
        middle = len(signature) // 2
        flipped = "A" if signature[middle] != "A" else "B"
        token = ".".join([head, payload, signature[:middle] + flipped + signature[middle + 1 :]])
        expected_code = "invalid_token"
    elif case == "expired":
        token = server.token(role="head", name=BROWSER_NAME, delegation="gt", ttl=-60)
        expected_code = "token_expired"
    elif case == "wrong-conference":
        token = server.token(role="head", name=BROWSER_NAME, delegation="gt", conference="nope")
        expected_code = "wrong_conference"
    elif case == "other-page":
        conference = "other"
        expected_code = "wrong_conference"
    else:
        token = ""
        expected_code = None

    url = server.join_url(token, conference) if token else f"{server.base_url}/c/demo"
    await page.goto(url)
    expected_text = EXPIRED_LINK if case == "expired" else INVALID_LINK
    await page.get_by_text(expected_text).wait_for(state="visible", timeout=10_000)
    if expected_code is not None:
        codes = await js(page, "() => window.palabra.errors.map((e) => e.code)")
        assert codes == [expected_code]
        await wait_js(page, "() => window.palabra.connection.state === 'closed'")
    assert await page.locator(".tile").count() == 0
    assert await page.locator("#btn-leave").is_hidden()
    await browser_page.screenshot(f"bad-link-{case}")
    if case == "expired":
        # The message follows the language switch.
        await page.get_by_role("button", name="EN", exact=True).click()
        await page.get_by_text("Your access link has expired").wait_for()
    assert browser_page.errors == []


async def test_denied_camera_is_explained(server: RunningServer, browser_page: BrowserPage) -> None:
    """Camera and microphone refused by the browser: the lobby says why and
    how to fix it, offers to retry, and lets the participant follow the
    meeting without them."""
    page = browser_page.page
    await page.add_init_script(
        "navigator.mediaDevices.getUserMedia = () =>"
        " Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));"
    )
    token = server.token(role="head", name=BROWSER_NAME, delegation="gt")
    await page.goto(server.join_url(token))
    problem = page.get_by_role("alert").filter(has_text="tiene bloqueado el acceso a la cámara")
    await problem.wait_for(timeout=10_000)
    assert await problem.get_by_role("button", name="Reintentar").is_visible()
    await browser_page.screenshot("error-camera-denied")

    # Retrying asks the browser again (and is refused again).
    await problem.get_by_role("button", name="Reintentar").click()
    await problem.wait_for(timeout=5_000)

    await problem.get_by_role("button", name="Continuar sin cámara ni micrófono").click()
    await problem.wait_for(state="hidden")
    enter = page.get_by_role("button", name="Entrar a la reunión")
    assert await enter.is_enabled()
    assert browser_page.errors == []


async def test_redirect_is_followed(server: RunningServer, browser_page: BrowserPage) -> None:
    """A node that does not hold the conference answers `hello` with
    `redirect` and closes with 4010: the page says hello again at the URL it
    names, with the same token, and joins there."""
    hellos: list[dict[str, Any]] = []

    async def front_ws(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        hello = await ws.receive_json(timeout=10)
        hellos.append(hello)
        await ws.send_json({"type": "redirect", "ref": hello.get("id"), "url": server.ws_url})
        await ws.close(code=4010, message=b"conference elsewhere")
        return ws

    async def page_handler(request: web.Request) -> web.FileResponse:
        return web.FileResponse(REPO / "web" / "conference.html")

    front = web.Application()
    front.router.add_get("/ws", front_ws)
    front.router.add_get("/c/{conference}", page_handler)
    front.router.add_static("/web/", REPO / "web")
    runner = web.AppRunner(front)
    await runner.setup()
    port = server.front_port  # an origin the server accepts, as another node's
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        token = server.token(role="chair", name="Presidencia (Honduras)", delegation=None)
        await browser_page.page.goto(f"http://127.0.0.1:{port}/c/demo?t={token}")
        await wait_js(browser_page.page, "() => document.body.dataset.view === 'chair'")
        assert await js(browser_page.page, "() => window.palabra.connection.url") == server.ws_url
        assert [h["token"] for h in hellos] == [token]
        assert browser_page.errors == []
    finally:
        await runner.cleanup()


async def test_rejoin_after_a_redirect_starts_from_the_entry(
    server: RunningServer, browser_page: BrowserPage
) -> None:
    """Redirected to an owner that then dies, the page rejoins through the
    node it came from (which now names the new owner), not the dead owner;
    a rejoin refused `unavailable` (close 4001) is retried, and said so."""
    hellos: list[dict[str, Any]] = []
    relay_port = free_port()
    redirect_to = [f"ws://127.0.0.1:{relay_port}/ws"]  # the first owner, via a relay

    async def front_ws(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        hello = await ws.receive_json(timeout=10)
        hellos.append(hello)
        if len(hellos) == 2:  # the event store is down: arrivals cannot be recorded
            refusal = {"code": "unavailable", "message": "the event store is unavailable"}
            await ws.send_json({"type": "error", "ref": hello.get("id"), **refusal})
            await ws.close(code=4001, message=b"unavailable")
            return ws
        await ws.send_json({"type": "redirect", "ref": hello.get("id"), "url": redirect_to[-1]})
        await ws.close(code=4010, message=b"conference elsewhere")
        return ws

    async def page_handler(request: web.Request) -> web.FileResponse:
        return web.FileResponse(REPO / "web" / "conference.html")

    # The first owner: a TCP relay to the real server, killed mid-meeting.
    piped: list[asyncio.StreamWriter] = []

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", server.port)
        piped.extend([writer, upstream_writer])
        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    owner = await asyncio.start_server(relay, "127.0.0.1", relay_port)
    front = web.Application()
    front.router.add_get("/ws", front_ws)
    front.router.add_get("/c/{conference}", page_handler)
    front.router.add_static("/web/", REPO / "web")
    runner = web.AppRunner(front)
    await runner.setup()
    port = server.front_port  # an origin the server accepts, as another node's
    await web.TCPSite(runner, "127.0.0.1", port).start()
    page = browser_page.page
    try:
        token = server.token(role="chair", name="Presidencia (Honduras)", delegation=None)
        await page.goto(f"http://127.0.0.1:{port}/c/demo?t={token}")
        await wait_js(page, "() => document.body.dataset.view === 'chair'")
        assert await js(page, "() => window.palabra.connection.url") == redirect_to[0]
        # The owner dies (nothing listens there any more); the front now
        # sends clients to the node that took the conference over.
        owner.close()
        for writer in piped:
            writer.transport.abort()
        redirect_to.append(server.ws_url)
        await wait_js(
            page,
            "() => document.getElementById('banner-text').textContent"
            ".includes('no puede admitir participantes')",
            timeout=15,
        )
        await wait_js(
            page,
            "(url) => window.palabra.connection.url === url"
            " && window.palabra.connection.state === 'joined'",
            server.ws_url,
            timeout=15,
        )
        assert [h["token"] for h in hellos] == [token, token, token]
    finally:
        owner.close()
        await runner.cleanup()
