"""A whole meeting in real browsers: the chair, two delegations and a technician.

Each role opens its own join link in its own browser context (fake camera and
microphone). The chair admits the delegations from the lobby; they see each
other; Guatemala requests the floor, the chair grants it with a time limit,
everyone else hears Guatemala (inbound audio bytes grow) and sees the
countdown; the chair takes the floor back and Guatemala falls silent. The
technician's dashboard lists every stream with its bitrate.

The tests share one meeting (module scope) and build on each other in file
order; each one first brings the meeting to the state it needs, so any of them
also runs alone (``-k``).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio
from playwright.async_api import Browser, WebSocket, async_playwright

from .harness import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    BrowserPage,
    RunningServer,
    new_page,
)

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

CHAIR = "p-chair"
GT = "p-gt"
SV = "p-sv"
TECH = "p-tech"

# Bytes received so far on the subscriber m-lines that carry `owner`'s audio
# (-1 while there is none).
AUDIO_BYTES = """async (owner) => {
    const c = window.palabra.connection;
    if (!c.subscriber) return -1;
    const mids = [...c.streams.values()]
        .filter((s) => s.participant_id === owner && s.kind === 'audio').map((s) => s.mid);
    let total = -1;
    for (const t of c.subscriber.getTransceivers()) {
        if (!mids.includes(t.mid)) continue;
        const stats = await t.receiver.getStats();
        stats.forEach((r) => {
            if (r.type === 'inbound-rtp') total = Math.max(total, 0) + r.bytesReceived;
        });
    }
    return total;
}"""

# The owner's video element on the page and how many frames it has shown.
VIDEO_FRAMES = """(owner) => {
    const v = document.querySelector(
        `.tile[data-participant-id="${owner}"] video[data-producer-id]`);
    if (!v || v.videoWidth === 0) return -1;
    return v.getVideoPlaybackQuality().totalVideoFrames;
}"""


@dataclass
class Meeting:
    server: RunningServer
    browser: Browser
    chair: BrowserPage
    gt: BrowserPage
    sv: BrowserPage
    tech: BrowserPage
    chair_token: str

    def pages(self) -> dict[str, BrowserPage]:
        return {"chair": self.chair, "gt": self.gt, "sv": self.sv, "tech": self.tech}


def token(server: RunningServer, role: str, name: str, delegation: str | None, pid: str) -> str:
    return server.token(role=role, name=name, delegation=delegation, participant=pid)


def link(server: RunningServer, role: str, name: str, delegation: str | None, pid: str) -> str:
    return server.join_url(token(server, role, name, delegation, pid))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def meeting(server: RunningServer) -> AsyncIterator[Meeting]:
    """The chair, Guatemala, El Salvador and a technician, each on its page."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True
        )
        chair_token = token(server, "chair", "Presidencia (Honduras)", None, CHAIR)
        chair = await new_page(browser, server.join_url(chair_token))
        gt = await new_page(browser, link(server, "head", "Canciller de Guatemala", "gt", GT))
        sv = await new_page(browser, link(server, "head", "Canciller de El Salvador", "sv", SV))
        tech = await new_page(browser, link(server, "technician", "Técnico de sala", None, TECH))
        meeting = Meeting(server, browser, chair, gt, sv, tech, chair_token)
        try:
            yield meeting
        finally:
            for name, page in meeting.pages().items():
                page.save_log(f"meeting-{name}")
            await browser.close()


async def view_of(page: BrowserPage) -> str:
    view: str = await page.js("() => document.body.dataset.view ?? ''")
    return view


async def admitted(meeting: Meeting) -> Meeting:
    """Brings both delegations into the meeting: each enters from its lobby
    page and the chair admits it from the lobby panel (unless the server kept
    its seat, as it does for a participant who comes back within the resume
    grace period)."""
    for page, pid in ((meeting.gt, GT), (meeting.sv, SV)):
        # Straight back into the seat (a resume), or to the device check first.
        await page.wait_js("() => ['prejoin', 'delegation'].includes(document.body.dataset.view)")
        if await view_of(page) == "delegation":
            continue
        enter = page.page.get_by_role("button", name="Entrar a la reunión")
        if await enter.count():
            await enter.click()
        waiting = meeting.chair.page.locator(f'#lobby-list [data-participant-id="{pid}"]')
        deadline = time.monotonic() + 10
        while await view_of(page) != "delegation":
            if await waiting.count():
                await waiting.locator('[data-action="admit"]').click()
                await waiting.wait_for(state="detached", timeout=5_000)
            if time.monotonic() > deadline:
                pytest.fail(f"{pid} did not get into the meeting")
            await asyncio.sleep(0.1)
    return meeting


async def poll(probe: object, what: str, timeout: float = 10) -> None:
    """Fail unless the async ``probe()`` returns True within ``timeout``."""
    assert callable(probe)
    deadline = time.monotonic() + timeout
    while not await probe():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.1)


async def audio_grows(page: BrowserPage, owner: str, by: int = 4000, timeout: float = 10) -> None:
    """The page receives `owner`'s audio: bytes grow by `by` within `timeout`."""
    start = max(0, await page.js(AUDIO_BYTES, owner))

    async def grown() -> bool:
        return bool(await page.js(AUDIO_BYTES, owner) >= start + by)

    await poll(grown, f"{owner}'s audio bytes to grow by {by}", timeout)


async def audio_silent(page: BrowserPage, owner: str, timeout: float = 8) -> None:
    """The page no longer receives `owner`'s audio: no new bytes for 1.5 s."""
    previous: int = await page.js(AUDIO_BYTES, owner)
    still_since = time.monotonic()

    async def quiet() -> bool:
        nonlocal previous, still_since
        current: int = await page.js(AUDIO_BYTES, owner)
        if current != previous:
            previous, still_since = current, time.monotonic()
        return time.monotonic() - still_since >= 1.5

    await poll(quiet, f"{owner}'s audio to stop", timeout)


async def shows_video(page: BrowserPage, owner: str) -> None:
    """`owner`'s video plays on the page, frames advancing."""
    await page.wait_js(f"(o) => ({VIDEO_FRAMES})(o) > 0", owner, timeout=15)
    before: int = await page.js(VIDEO_FRAMES, owner)
    await page.wait_js(f"([o, n]) => ({VIDEO_FRAMES})(o) >= n", [owner, before + 15], timeout=5)


# ------------------------------------------------------------------ tests


async def test_chair_admits_the_delegations_from_the_lobby(meeting: Meeting) -> None:
    chair, gt, sv = meeting.chair, meeting.gt, meeting.sv
    await chair.wait_js("() => document.body.dataset.view === 'chair'")

    # The delegations check their devices: preview and a moving level meter.
    for page in (gt, sv):
        await page.wait_js("() => document.querySelector('.prejoin')?.dataset.capture === 'ok'")
        await page.wait_js(
            "() => (document.querySelector('#tile-local video')?.videoWidth ?? 0) > 0", timeout=10
        )
        await page.wait_js(
            "() => Number(document.querySelector('.level-meter')?.dataset.level) > 0.05",
            timeout=10,
        )
    await gt.screenshot("delegation-1-prejoin")

    # They ask to enter: the chair sees both waiting.
    for page in (gt, sv):
        await page.page.get_by_role("button", name="Entrar a la reunión").click()
        await page.page.get_by_text("Entrará en cuanto la Presidencia le admita").wait_for()
    lobby = chair.page.locator("#lobby-list > li")
    await chair.wait_js("() => document.querySelectorAll('#lobby-list > li').length === 2")
    assert sorted(await lobby.evaluate_all("(els) => els.map((e) => e.dataset.participantId)")) == [
        GT,
        SV,
    ]
    await chair.screenshot("chair-1-lobby")

    await admitted(meeting)
    assert await chair.js("() => window.palabra.room.lobby.length") == 0
    in_room = await chair.js("() => window.palabra.room.participants.map((p) => p.participant_id)")
    assert {GT, SV} <= set(in_room)


async def test_delegations_see_each_other(meeting: Meeting) -> None:
    await admitted(meeting)
    gt, sv = meeting.gt, meeting.sv
    await shows_video(gt, SV)
    await shows_video(sv, GT)
    # The chair presides on the stage while nobody has the floor.
    await shows_video(gt, CHAIR)
    stage = "() => document.querySelector('.stage-area .stage-tile').dataset.participantId"
    assert await gt.js(stage) == CHAIR
    await gt.wait_js("() => document.querySelector('#status').dataset.state === 'ok'")
    # Microphones are closed until the floor is given.
    assert await gt.js("() => document.querySelector('#mic-panel').dataset.micState") == "closed"
    await gt.screenshot("delegation-2-meeting")
    await meeting.chair.screenshot("chair-2-delegations")


async def test_floor_request_grant_countdown_and_revoke(meeting: Meeting) -> None:
    await admitted(meeting)
    chair, gt, sv = meeting.chair, meeting.gt, meeting.sv
    await shows_video(sv, GT)

    # Guatemala requests the floor (ordinary); it is first on the list.
    await gt.page.get_by_role("radio", name="Ordinaria").check()
    await gt.page.get_by_role("button", name="Pedir la palabra").click()
    await gt.wait_js("() => document.querySelector('#queue-position')?.dataset.position === '1'")
    row = chair.page.locator('#queue-list li[data-delegation-id="gt"]')
    await row.wait_for(timeout=5_000)
    await sv.page.locator('#speakers li[data-status="queued"]').wait_for(timeout=5_000)
    await chair.screenshot("chair-3-request")

    # Before the floor, nobody hears Guatemala.
    await audio_silent(sv, GT)

    # The chair gives the floor for one minute.
    await row.get_by_label("Tiempo de palabra de Guatemala").select_option("60")
    await row.get_by_role("button", name="Dar la palabra a Guatemala").click()

    await gt.wait_js("() => document.querySelector('#mic-panel').dataset.micState === 'open'")
    await gt.wait_js(
        "() => document.querySelector('.floor-panel').dataset.floorState === 'holding'"
    )
    remaining = "(sel) => Number(document.querySelector(sel)?.dataset.remaining ?? NaN)"
    mine: float = await gt.js(remaining, "#my-countdown")
    assert 50 <= mine <= 60, mine

    # The others hear Guatemala and see its countdown run on the stage.
    await audio_grows(sv, GT)
    await audio_grows(chair, GT)
    stage_countdown = ".stage-area .countdown"
    await sv.wait_js(
        "(sel) => { const c = document.querySelector(sel); return c && !c.hidden; }",
        stage_countdown,
    )
    first: float = await sv.js(remaining, stage_countdown)
    assert 50 <= first <= 60, first
    await sv.wait_js(f"(sel) => ({remaining})(sel) < {first}", stage_countdown, timeout=4)
    stage = "() => document.querySelector('.stage-area .stage-tile').dataset.participantId"
    assert await sv.js(stage) == GT
    await chair.wait_js("() => document.querySelector('#floor-now').dataset.holder === 'gt'")
    await gt.screenshot("delegation-3-has-the-floor")
    await sv.screenshot("delegation-3-listening")
    await chair.screenshot("chair-4-floor-granted")

    # Time running out: the speaker is warned, then told the time is up,
    # and everyone sees the countdown change. (The console offers whole
    # minutes; a 33 s turn, counted from the grant, is already in its warning.)
    request_id: str = await chair.js("() => window.palabra.room.holders[0].request_id")
    set_time = (
        "([id, s]) => window.palabra.connection"
        ".command('floor.set_time', {request_id: id, time_limit: s})"
    )
    await chair.js(set_time, [request_id, 33])
    await gt.wait_js(
        "() => document.querySelector('#speaker-warning')?.dataset.phase === 'warning'"
    )
    assert await gt.page.locator("#speaker-warning").is_visible()
    await sv.wait_js(
        "(sel) => document.querySelector(sel).dataset.phase === 'warning'", stage_countdown
    )
    await gt.screenshot("delegation-3b-warning")
    await chair.js(set_time, [request_id, 1])
    await gt.wait_js(
        "() => document.querySelector('#speaker-warning')?.dataset.phase === 'overtime'"
    )
    await sv.wait_js(
        "(sel) => document.querySelector(sel).dataset.phase === 'overtime'", stage_countdown
    )
    await gt.screenshot("delegation-3c-overtime")
    await sv.screenshot("delegation-3c-overtime-listening")

    # The chair takes the floor back: Guatemala's microphone closes.
    await chair.page.get_by_role("button", name="Retirar la palabra a Guatemala").click()
    await gt.wait_js("() => document.querySelector('#mic-panel').dataset.micState === 'closed'")
    await gt.wait_js("() => document.querySelector('.floor-panel').dataset.floorState === 'idle'")
    await sv.wait_js("() => document.querySelector('.stage-area .countdown').hidden")
    await audio_silent(sv, GT)
    await chair.wait_js("() => document.querySelector('#floor-now').dataset.holder === ''")
    # The minutes count Guatemala's intervention.
    await chair.wait_js(
        "() => Number(document.querySelector('#minutes-totals tr[data-delegation-id=\"gt\"]')"
        "?.dataset.seconds) >= 1"
    )
    await chair.screenshot("chair-5-after-revoke")
    await gt.screenshot("delegation-4-after-revoke")


async def test_chair_reorders_denies_and_mutes(meeting: Meeting) -> None:
    await admitted(meeting)
    chair, gt, sv = meeting.chair, meeting.gt, meeting.sv
    position = "() => document.querySelector('#queue-position')?.dataset.position"
    for page in (gt, sv):
        await page.page.get_by_role("button", name="Pedir la palabra").click()
    await sv.wait_js(f"() => ({position})() === '2'")

    # El Salvador moves up: it is next, Guatemala second.
    await chair.page.get_by_role("button", name="Subir a El Salvador en la lista").click()
    await sv.wait_js(f"() => ({position})() === '1'")
    await gt.wait_js(f"() => ({position})() === '2'")
    order = (
        "() => [...document.querySelectorAll('#queue-list li')].map((r) => r.dataset.delegationId)"
    )
    assert await chair.js(order) == ["sv", "gt"]

    # Both are denied (each once confirmed): their requests close.
    for delegation in ("El Salvador", "Guatemala"):
        await chair.page.get_by_role("button", name=f"Denegar la palabra a {delegation}").click()
        dialog = chair.page.locator("dialog[open]")
        confirm = dialog.get_by_role("button", name="Denegar la palabra")
        await confirm.click()
        await confirm.wait_for(state="detached", timeout=5_000)
    for page in (gt, sv):
        await page.wait_js(
            "() => document.querySelector('.floor-panel').dataset.floorState === 'idle'"
        )
    assert await chair.js("() => window.palabra.room.queue.length") == 0

    # The chair mutes El Salvador: its page says so; then unmutes it.
    await chair.page.get_by_role("button", name="Silenciar a Canciller de El Salvador").click()
    await sv.wait_js("() => document.querySelector('#mic-panel').dataset.micState === 'muted'")
    await sv.screenshot("delegation-6-muted")
    await chair.page.get_by_role(
        "button", name="Reactivar el micrófono de Canciller de El Salvador"
    ).click()
    await sv.wait_js("() => document.querySelector('#mic-panel').dataset.micState === 'closed'")


async def test_technician_lists_every_stream(meeting: Meeting) -> None:
    await admitted(meeting)
    tech = meeting.tech
    await tech.wait_js("() => document.body.dataset.view === 'technician'")
    # Every published track, as the technician's connection knows them.
    producers: list[str] = await tech.js(
        "() => [...window.palabra.connection.producers.values()].map((p) => p.id)"
    )
    assert len(producers) == 6, producers  # chair, gt and sv: audio and video each

    async def listed() -> bool:
        rows = await tech.js(
            """() => [...document.querySelectorAll('#streams-table tr.stream')].map((r) => ({
                producer: r.dataset.producerId, direction: r.dataset.direction,
                kind: r.dataset.kind, bitrate: Number(r.dataset.bitrate)}))"""
        )
        inbound = {r["producer"]: r for r in rows if r["direction"] == "in"}
        return set(inbound) == set(producers) and all(r["bitrate"] > 0 for r in inbound.values())

    await poll(listed, "an inbound row with a bitrate for every producer", timeout=15)
    # Video forwarded to every subscriber flows too.
    out_video = await tech.js(
        """() => [...document.querySelectorAll('#streams-table tr.stream[data-direction="out"]'
            + '[data-kind="video"]')].map((r) => Number(r.dataset.bitrate))"""
    )
    assert out_video and all(b > 0 for b in out_video), out_video
    await tech.screenshot("technician-1-dashboard")

    # Asking Guatemala's browser for a keyframe: the server counts a new one.
    gt_video = await tech.js(
        "() => [...window.palabra.connection.producers.values()]"
        ".find((p) => p.participant_id === 'p-gt' && p.kind === 'video').id"
    )
    row = f'#streams-table tr.stream[data-direction="in"][data-producer-id="{gt_video}"]'
    keyframes = f"() => Number(document.querySelector('{row}').dataset.keyframes)"
    before: int = await tech.js(keyframes)
    await tech.page.locator(row).get_by_role("button", name="Pedir un fotograma clave").click()
    await tech.wait_js(f"() => ({keyframes})() > {before}", timeout=10)


async def test_observer_follows_without_media(meeting: Meeting) -> None:
    """An observer waits in the lobby without a device check, is admitted and
    follows the meeting: no camera, no microphone, no floor requests."""
    await admitted(meeting)
    observer = await new_page(
        meeting.browser, link(meeting.server, "observer", "Observadora de la OEA", None, "p-obs")
    )
    try:
        await observer.wait_js("() => document.body.dataset.view === 'prejoin'")
        await observer.page.get_by_text("Entrará en cuanto la Presidencia le admita").wait_for()
        await meeting.chair.page.get_by_role(
            "button", name="Admitir a Observadora de la OEA", exact=True
        ).click()
        await observer.wait_js("() => document.body.dataset.view === 'delegation'")
        await shows_video(observer, GT)
        state = "() => document.querySelector('.floor-panel').dataset.floorState"
        assert await observer.js(state) == "unavailable"
        assert await observer.page.locator("#btn-request").is_hidden()
        assert await observer.page.locator("#btn-mic").count() == 0
        assert await observer.js("() => window.palabra.local.stream") is None
        assert observer.errors == []
        await observer.screenshot("observer-1-meeting")

        # The chair removes the observer (after confirming): close 4003.
        chair = meeting.chair.page
        await chair.get_by_role(
            "button", name="Retirar a Observadora de la OEA de la reunión"
        ).click()
        await (
            chair.get_by_role("dialog").get_by_role("button", name="Retirar de la reunión").click()
        )
        await observer.page.get_by_role("heading", name="Ha sido retirado de la reunión").wait_for()
        assert await observer.js("() => window.palabra.closeInfo.code") == 4003
        await observer.screenshot("observer-2-removed")
    finally:
        observer.save_log("meeting-observer")
        await observer.page.context.close()


async def test_chair_locks_the_room_and_sets_the_floor(meeting: Meeting) -> None:
    await admitted(meeting)
    chair, server = meeting.chair, meeting.server
    await chair.wait_js("() => document.body.dataset.view === 'chair'")
    await chair.page.get_by_role("button", name="No admitir más entradas").click()
    await chair.wait_js("() => window.palabra.room.locked === true")
    late = await new_page(
        meeting.browser, link(server, "head", "Canciller de Costa Rica", "cr", "p-cr")
    )
    try:
        await late.page.get_by_text("La Presidencia ha cerrado la sala").wait_for(timeout=10_000)
        assert [e["code"] for e in await late.js("() => window.palabra.errors")] == ["room_locked"]
        await late.screenshot("error-room-locked")
    finally:
        late.save_log("meeting-late-cr")
        await late.page.context.close()
    await chair.page.get_by_role("button", name="Volver a admitir entradas").click()
    await chair.wait_js("() => window.palabra.room.locked === false")

    # The default speaking time and the open debate (every delegation heard).
    await chair.page.get_by_label("Tiempo de palabra por defecto").select_option("120")
    await chair.wait_js("() => window.palabra.room.settings.default_time_limit === 120")
    open_debate = chair.page.get_by_label("Debate libre (se escucha a todas las delegaciones)")
    await open_debate.check()
    await chair.wait_js("() => window.palabra.room.settings.open_floor === true")
    await meeting.sv.wait_js(
        "() => document.querySelector('#mic-panel').dataset.micState === 'open'"
    )
    await open_debate.uncheck()
    await chair.wait_js("() => window.palabra.room.settings.open_floor === false")
    await meeting.sv.wait_js(
        "() => document.querySelector('#mic-panel').dataset.micState === 'closed'"
    )


async def test_pages_switch_to_english(meeting: Meeting) -> None:
    await admitted(meeting)
    gt, chair = meeting.gt, meeting.chair
    await gt.page.get_by_role("button", name="EN", exact=True).click()
    await gt.page.get_by_role("heading", name="Speakers list").wait_for()
    assert await gt.js("() => document.documentElement.lang") == "en"
    assert await gt.js("() => localStorage.getItem('palabra.lang')") == "en"
    await gt.screenshot("delegation-5-english")
    await chair.page.get_by_role("button", name="EN", exact=True).click()
    await chair.page.get_by_role("heading", name="Speakers list").wait_for()
    await chair.screenshot("chair-6-english")
    await meeting.tech.page.get_by_role("button", name="EN", exact=True).click()
    await meeting.tech.page.get_by_role("heading", name="Audio and video streams").wait_for()
    await meeting.tech.screenshot("technician-2-english")
    for page in (gt, chair, meeting.tech):
        await page.page.get_by_role("button", name="ES", exact=True).click()


async def test_chair_reconnects_after_a_drop(meeting: Meeting) -> None:
    """The socket drops: the banner says so, the page rejoins with the same
    seat and publishes again; the delegations see the chair's video again.

    The drop is the browser's `close` event with 1006 (abnormal closure), as
    a lost network gives it; the library then closes the socket itself, so the
    server sees the participant disconnect."""
    await admitted(meeting)
    chair, gt = meeting.chair, meeting.gt
    await shows_video(gt, CHAIR)
    resume: str | None = await chair.js("() => window.palabra.connection.resumeToken")
    hellos: list[dict[str, object]] = []

    def on_websocket(ws: WebSocket) -> None:
        def sent(payload: str | bytes) -> None:
            message = json.loads(payload)
            if message.get("type") == "hello":
                hellos.append(message)

        ws.on("framesent", sent)

    chair.page.on("websocket", on_websocket)
    await chair.js(
        "() => window.palabra.connection._ws.dispatchEvent("
        "new CloseEvent('close', {code: 1006, reason: ''}))"
    )
    await chair.page.locator("#banner").wait_for(state="visible", timeout=5_000)
    await chair.screenshot("chair-7-reconnecting")
    await chair.page.locator("#banner").wait_for(state="hidden", timeout=15_000)
    assert await chair.js("() => window.palabra.connection.rejoins") == 1
    assert await chair.js("() => window.palabra.connection.you.id") == CHAIR
    # The same seat: the join token again, and the session-resume token the
    # welcome handed out (when the server offers one).
    assert len(hellos) == 1, hellos
    assert hellos[0]["token"] == meeting.chair_token
    assert hellos[0].get("resume") == resume
    await shows_video(gt, CHAIR)
    for page in meeting.pages().values():
        assert page.errors == [], page.errors


async def test_technician_disconnects_and_the_delegation_rejoins(meeting: Meeting) -> None:
    """A technician resets El Salvador's connection (close 4004); its page
    explains it and joins again with the same link (straight back into its
    seat within the resume grace period, else through the lobby)."""
    await admitted(meeting)
    tech, sv = meeting.tech, meeting.sv
    group = tech.page.locator('#streams-table tbody[data-participant-id="p-sv"]')
    await group.get_by_role("button", name="Desconectar a Canciller de El Salvador").click()
    await tech.page.get_by_role("dialog").get_by_role("button", name="Desconectar").click()
    await sv.page.get_by_role("heading", name="Conexión cerrada por el equipo técnico").wait_for()
    assert await sv.js("() => window.palabra.closeInfo.code") == 4004
    await sv.screenshot("delegation-7-disconnected")
    await sv.page.get_by_role("button", name="Volver a entrar").click()
    await admitted(meeting)
    await shows_video(sv, GT)
    await shows_video(meeting.gt, SV)
