"""The browser client in Firefox ESR: a meeting end to end.

Debian's headless ``firefox-esr`` (WebDriver BiDi, see firefox.py) opens the
chair's and Guatemala's links, each in its own window, with Firefox's fake
camera and microphone, the site allowed to use them; El Salvador is an aiortc head of
delegation that publishes an orange picture and a tone. The chair admits both
from its lobby panel; everyone receives the others' media; Guatemala asks for
the floor and the chair's page receives Guatemala's audio only after the
chair grants it, and no longer after the chair takes it back.

The tests share one meeting (module scope) and build on each other in file
order; each first brings the meeting to the state it needs.

Run them alone with ``-m firefox``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio
from aiortc import AudioStreamTrack

from client import PalabraClient

from .firefox import FIREFOX, Firefox, FirefoxPage, launch_firefox
from .harness import RunningServer, eventually
from .media import ORANGE, SolidColorVideoTrack
from .test_meeting import AUDIO_BYTES

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.firefox,
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.skipif(not FIREFOX.exists(), reason=f"{FIREFOX} is missing"),
]

# The owner's video element and how many frames it has painted. (Firefox's
# getVideoPlaybackQuality() counts no frames of a WebRTC stream.)
VIDEO_FRAMES = """(owner) => {
    const v = document.querySelector(
        `.tile[data-participant-id="${owner}"] video[data-producer-id]`);
    if (!v || v.videoWidth === 0) return -1;
    return v.mozPaintedFrames;
}"""

CHAIR = "p-ff-chair"
GT = "p-ff-gt"
SV = "p-ff-sv"


@dataclass
class Meeting:
    server: RunningServer
    firefox: Firefox
    chair: FirefoxPage
    gt: FirefoxPage
    sv: PalabraClient
    sv_publishes: bool = False


def link(server: RunningServer, role: str, name: str, delegation: str | None, pid: str) -> str:
    token = server.token(role=role, name=name, delegation=delegation, participant=pid)
    return server.join_url(token)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def meeting(server: RunningServer) -> AsyncIterator[Meeting]:
    async with launch_firefox("firefox-meeting") as firefox:
        await firefox.allow_media(server.base_url)
        chair = await firefox.new_page(link(server, "chair", "Presidencia (Honduras)", None, CHAIR))
        gt = await firefox.new_page(link(server, "head", "Canciller de Guatemala", "gt", GT))
        token = server.token(
            role="head", name="Canciller de El Salvador", delegation="sv", participant=SV
        )
        sv = PalabraClient(server.ws_url, token, media_addresses=["127.0.0.1"])
        try:
            yield Meeting(server, firefox, chair, gt, sv)
        finally:
            await sv.close()
            chair.save_log("firefox-chair")
            gt.save_log("firefox-gt")


async def view_of(page: FirefoxPage) -> str:
    view: str = await page.js("() => document.body.dataset.view ?? ''")
    return view


async def admitted(meeting: Meeting) -> Meeting:
    """Guatemala enters from its lobby page, El Salvador joins and publishes;
    the chair admits both from its lobby panel."""
    chair, gt, sv = meeting.chair, meeting.gt, meeting.sv
    await chair.wait_js("() => document.body.dataset.view === 'chair'", timeout=20)
    if sv.welcome is None:
        await sv.join()
    if await view_of(gt) != "delegation":
        await gt.wait_js("() => document.body.dataset.view === 'prejoin'", timeout=20)
        await gt.click("#btn-enter")
    for pid in (GT, SV):
        row = f'#lobby-list [data-participant-id="{pid}"]'
        in_room = "(pid) => window.palabra.room?.participants.some((p) => p.participant_id === pid)"
        if await chair.js(in_room, pid):
            continue
        await chair.click(f'{row} [data-action="admit"]')
        await chair.wait_js(in_room, pid)
    if not meeting.sv_publishes:
        await sv.publish(video=SolidColorVideoTrack(ORANGE), audio=AudioStreamTrack())
        meeting.sv_publishes = True
    await gt.wait_js("() => document.body.dataset.view === 'delegation'")
    return meeting


async def shows_video(page: FirefoxPage, owner: str) -> list[int]:
    """``owner``'s video plays on the page, frames advancing; returns its size."""
    await page.wait_js(f"(o) => ({VIDEO_FRAMES})(o) > 0", owner, timeout=20)
    before: int = await page.js(VIDEO_FRAMES, owner)
    await page.wait_js(f"([o, n]) => ({VIDEO_FRAMES})(o) >= n", [owner, before + 15], timeout=10)
    size: list[int] = await page.js(
        """(o) => { const v = document.querySelector(
            `.tile[data-participant-id="${o}"] video[data-producer-id]`);
            return [v.videoWidth, v.videoHeight]; }""",
        owner,
    )
    return size


async def audio_bytes(page: FirefoxPage, owner: str) -> int:
    value: int = await page.js(AUDIO_BYTES, owner)
    return value


async def audio_grows(page: FirefoxPage, owner: str, by: int = 4000, timeout: float = 10) -> None:
    start = max(0, await audio_bytes(page, owner))
    deadline = time.monotonic() + timeout
    while await audio_bytes(page, owner) < start + by:
        if time.monotonic() > deadline:
            pytest.fail(f"{owner}'s audio did not grow by {by} bytes within {timeout} s")
        await asyncio.sleep(0.1)


async def audio_silent(page: FirefoxPage, owner: str, timeout: float = 8) -> int:
    """No new bytes of ``owner``'s audio for 1.5 s; returns the count then."""
    previous = await audio_bytes(page, owner)
    still_since = deadline = time.monotonic()
    deadline += timeout
    while time.monotonic() - still_since < 1.5:
        if time.monotonic() > deadline:
            pytest.fail(f"{owner}'s audio did not stop within {timeout} s")
        await asyncio.sleep(0.1)
        current = await audio_bytes(page, owner)
        if current != previous:
            previous, still_since = current, time.monotonic()
    return previous


def frames_from(client: PalabraClient, owner: str, kind: str) -> int:
    return sum(
        s.frames for s in client.streams.values() if s.participant_id == owner and s.kind == kind
    )


# ------------------------------------------------------------------ tests


async def test_firefox_checks_devices_and_the_chair_admits(meeting: Meeting) -> None:
    chair, gt = meeting.chair, meeting.gt
    await chair.wait_js("() => document.body.dataset.view === 'chair'", timeout=20)
    # The device check: Firefox's fake camera in the preview.
    await gt.wait_js(
        "() => document.querySelector('.prejoin')?.dataset.capture === 'ok'", timeout=20
    )
    await gt.wait_js("() => (document.querySelector('#tile-local video')?.videoWidth ?? 0) > 0")
    # (Not the level meter: Firefox runs Web Audio only on a sound device,
    # and there is none here.)
    await gt.screenshot("firefox-1-prejoin")

    await admitted(meeting)
    await chair.wait_js("() => window.palabra.room.lobby.length === 0")
    await gt.wait_js("() => document.querySelector('#status').dataset.state === 'ok'", timeout=20)
    assert chair.errors == [] and gt.errors == [], (chair.errors, gt.errors)


async def test_firefox_publishes_and_receives(meeting: Meeting) -> None:
    await admitted(meeting)
    chair, gt, sv = meeting.chair, meeting.gt, meeting.sv

    # Firefox's camera reaches the aiortc delegation, decoded frame after frame.
    await eventually(lambda: frames_from(sv, GT, "video") > 0, 20, "Guatemala's video at aiortc")
    first = frames_from(sv, GT, "video")
    await eventually(lambda: frames_from(sv, GT, "video") >= first + 15, 10, "more frames")
    # The chair is always heard: the aiortc delegation decodes Firefox's Opus.
    await eventually(lambda: frames_from(sv, CHAIR, "audio") > 50, 15, "the chair's audio")

    # The server answered Firefox's offer with Firefox's own payload types
    # (Firefox numbers VP8 and Opus otherwise than the server's offers do),
    # and the video Firefox sent under its numbers plays at the chair's page
    # under the server's: what Safari's answers need too.
    rtpmaps = """(which) => { const pc = window.palabra.connection[which];
        const lines = (sdp) => sdp.split('\\r\\n').filter((l) => l.startsWith('a=rtpmap:'));
        return [lines(pc.localDescription.sdp), lines(pc.remoteDescription.sdp)]; }"""
    offer, answer = await gt.js(rtpmaps, "publisher")
    assert answer and set(answer) <= set(offer), (offer, answer)
    server_offer, _ = await chair.js(rtpmaps, "subscriber")
    vp8 = {line.split()[0] for line in offer if "VP8/" in line}
    assert vp8 and vp8.isdisjoint(line.split()[0] for line in server_offer), (offer, server_offer)

    # Firefox shows the aiortc delegation's picture (its size and colour) and
    # the chair's Firefox camera; the chair's page shows Guatemala's.
    assert await shows_video(gt, SV) == [640, 360]
    pixel: list[int] = await gt.js(
        """(o) => { const v = document.querySelector(
            `.tile[data-participant-id="${o}"] video[data-producer-id]`);
            const c = document.createElement('canvas');
            c.width = v.videoWidth; c.height = v.videoHeight;
            const g = c.getContext('2d'); g.drawImage(v, 0, 0);
            const middle = g.getImageData(c.width / 2, c.height / 2, 1, 1);
            return Array.from(middle.data.slice(0, 3)); }""",
        SV,
    )
    assert all(abs(a - b) <= 40 for a, b in zip(pixel, ORANGE, strict=True)), pixel
    assert (await shows_video(gt, CHAIR))[0] > 0
    assert (await shows_video(chair, GT))[0] > 0

    # The remote audio plays (after the "enable sound" notice if Firefox
    # refused autoplay) and the chair's audio reaches Guatemala.
    audio = f'#audio-sink audio[data-participant-id="{CHAIR}"]'
    await gt.wait_js(
        "(sel) => !!document.querySelector(sel) && (!document.querySelector(sel).paused"
        " || !document.getElementById('notice').hidden)",
        audio,
    )
    if await gt.js("() => !document.getElementById('notice').hidden"):
        await gt.screenshot("firefox-2-audio-blocked")
        await gt.click("#notice button")
    await gt.wait_js("(sel) => !document.querySelector(sel).paused", audio)
    await audio_grows(gt, CHAIR)
    await gt.screenshot("firefox-2-meeting")
    await chair.screenshot("firefox-2-chair")
    assert chair.errors == [] and gt.errors == [], (chair.errors, gt.errors)


async def test_firefox_floor_is_enforced_in_the_audio(meeting: Meeting) -> None:
    await admitted(meeting)
    chair, gt, sv = meeting.chair, meeting.gt, meeting.sv

    # Guatemala asks for the floor from Firefox; the chair sees the request.
    await gt.click("#btn-request")
    row = '#queue-list li[data-delegation-id="gt"]'
    await chair.wait_js("(sel) => !!document.querySelector(sel)", row)
    # Nobody hears Guatemala before the grant: the chair's page and the
    # aiortc delegation receive none of its audio.
    before_grant = await audio_silent(chair, GT)
    heard_by_sv = frames_from(sv, GT, "audio")
    await asyncio.sleep(1)
    assert await audio_bytes(chair, GT) == before_grant
    assert frames_from(sv, GT, "audio") == heard_by_sv

    # The chair gives the floor: Guatemala's microphone opens and is heard.
    await chair.click(f'{row} [data-action="grant"]')
    await gt.wait_js("() => document.querySelector('#mic-panel').dataset.micState === 'open'")
    await audio_grows(chair, GT)
    await eventually(
        lambda: frames_from(sv, GT, "audio") >= heard_by_sv + 50, 10, "Guatemala's audio at aiortc"
    )
    await chair.wait_js("() => document.querySelector('#floor-now').dataset.holder === 'gt'")
    await gt.screenshot("firefox-3-has-the-floor")
    await chair.screenshot("firefox-3-chair-floor-granted")

    # The chair takes it back: silence again.
    await chair.click('#floor-now [data-action="revoke"]')
    await gt.wait_js("() => document.querySelector('#mic-panel').dataset.micState === 'closed'")
    await audio_silent(chair, GT)
    await chair.wait_js("() => document.querySelector('#floor-now').dataset.holder === ''")
    assert chair.errors == [] and gt.errors == [], (chair.errors, gt.errors)


async def test_firefox_reload_keeps_the_seat_and_the_floor(meeting: Meeting) -> None:
    """Guatemala holds the floor and reloads the page (F5): it comes straight
    back into the meeting (resume token in Firefox's sessionStorage), still
    holding the floor, and is heard again; nobody saw it leave."""
    await admitted(meeting)
    chair, gt, sv = meeting.chair, meeting.gt, meeting.sv
    await gt.click("#btn-request")
    row = '#queue-list li[data-delegation-id="gt"]'
    await chair.click(f'{row} [data-action="grant"]')
    await gt.wait_js("() => document.querySelector('#mic-panel').dataset.micState === 'open'")
    heard = frames_from(sv, GT, "audio")
    await eventually(lambda: frames_from(sv, GT, "audio") >= heard + 50, 10, "Guatemala heard")
    request_id = sv.room["holders"][0]["request_id"]
    events_before = len(sv.room_events)

    await gt.reload()
    await gt.wait_js("() => document.body.dataset.view === 'delegation'", timeout=15)
    await gt.wait_js("() => window.palabra.connection.published === true", timeout=15)
    heard = frames_from(sv, GT, "audio")
    await eventually(
        lambda: frames_from(sv, GT, "audio") >= heard + 50, 15, "Guatemala heard after the reload"
    )
    assert [h["request_id"] for h in sv.room["holders"]] == [request_id]
    later = [e["type"] for e in sv.room_events[events_before:]]
    assert "participant.left" not in later and "floor.revoked" not in later, later
    await gt.wait_js("() => document.querySelector('#btn-release')?.hidden === false")

    await chair.click('#floor-now [data-action="revoke"]')
    await gt.wait_js("() => document.querySelector('#mic-panel').dataset.micState === 'closed'")
    assert gt.errors == [], gt.errors


async def test_firefox_chair_rejoins_after_a_drop(meeting: Meeting) -> None:
    """The chair's socket drops (a 1006 close, as a lost network gives it): the
    banner says so, Firefox rejoins the same seat and publishes again, and
    Guatemala sees the chair's video again."""
    await admitted(meeting)
    chair, gt = meeting.chair, meeting.gt
    await shows_video(gt, CHAIR)
    producer = """(o) => document.querySelector(
        `.tile[data-participant-id="${o}"] video[data-producer-id]`)?.dataset.producerId ?? ''"""
    before: str = await gt.js(producer, CHAIR)
    rejoins: int = await chair.js("() => window.palabra.connection.rejoins")
    await chair.js(
        "() => window.palabra.connection._ws.dispatchEvent("
        "new CloseEvent('close', {code: 1006, reason: ''}))"
    )
    await chair.wait_js("() => !document.querySelector('#banner').hidden", timeout=5)
    await chair.wait_js("() => document.querySelector('#banner').hidden", timeout=20)
    assert await chair.js("() => window.palabra.connection.rejoins") == rejoins + 1
    assert await chair.js("() => window.palabra.connection.you.id") == CHAIR
    await chair.wait_js("() => window.palabra.connection.published === true", timeout=15)
    # A new video producer of the chair's, playing at Guatemala's page.
    await gt.wait_js(f"(o) => !['', {before!r}].includes(({producer})(o))", CHAIR, timeout=15)
    await shows_video(gt, CHAIR)
    assert chair.errors == [] and gt.errors == [], (chair.errors, gt.errors)


async def test_firefox_on_a_phone_screen(meeting: Meeting) -> None:
    """At 390x844 the delegation's page fits the width and keeps its floor
    controls reachable."""
    await admitted(meeting)
    gt = meeting.gt
    await gt.set_viewport(390, 844)
    try:
        await gt.wait_js("() => window.innerWidth === 390")
        width = await gt.js("() => document.documentElement.scrollWidth")
        assert width <= 390, width
        await gt.wait_js(
            "() => { const b = document.querySelector('#btn-request');"
            " return !!b && b.checkVisibility(); }"
        )
        await gt.screenshot("firefox-4-phone")
    finally:
        await gt.set_viewport(1280, 800)


async def test_firefox_switches_to_english(meeting: Meeting) -> None:
    await admitted(meeting)
    gt = meeting.gt
    heading = """() => [...document.querySelectorAll('h2')].map((h) => h.textContent)
        .includes('Speakers list')"""
    await gt.click('button[data-lang="en"]')
    await gt.wait_js(heading)
    assert await gt.js("() => document.documentElement.lang") == "en"
    await gt.screenshot("firefox-4-english")
    await gt.click('button[data-lang="es"]')
    await gt.wait_js("() => document.documentElement.lang === 'es'")


async def test_a_channel_plays_while_web_audio_cannot_start(meeting: Meeting) -> None:
    """A listener picks the English channel while the browser will not run
    Web Audio (Safari before a click; this headless Firefox, which has no
    sound device, ever): the channel plays through its own element, the
    floor's elements are silenced, and back on the floor they play again."""
    await admitted(meeting)
    gt = meeting.gt
    elements = """() => Object.fromEntries([...document.querySelectorAll('#audio-sink audio')]
        .map((a) => [a.dataset.producerId === 'feed:listen' ? 'channel' : a.dataset.participantId,
                     a.muted]))"""
    choose = """(value) => { const menu = document.querySelector('[data-testid="language-select"]');
        menu.value = value; menu.dispatchEvent(new Event('change')); }"""
    await gt.wait_js(
        """() => [...document.querySelectorAll('[data-testid="language-select"] option')]
            .some((o) => o.value === 'en')"""
    )
    await gt.js(choose, "en")
    await gt.wait_js(
        "() => !!document.querySelector('#audio-sink audio[data-producer-id=\"feed:listen\"]')"
    )
    await gt.wait_js(f"() => ({elements})().channel === false")
    assert await gt.js(elements) == {"channel": False, CHAIR: True, SV: True}
    await gt.screenshot("firefox-5-channel")

    await gt.js(choose, "")
    await gt.wait_js(f"() => ({elements})()['{CHAIR}'] === false")
    assert not any((await gt.js(elements)).values())
    assert gt.errors == [], gt.errors


async def test_firefox_connectivity_check_names_the_path(meeting: Meeting) -> None:
    """The connectivity check in Firefox: UDP to the server works and the page
    names the path from Firefox's own statistics."""
    token = meeting.server.token(
        role="head", name="Jefatura — Costa Rica", delegation="cr", participant="p-ff-cr"
    )
    page = await meeting.firefox.new_page(f"{meeting.server.base_url}/check?t={token}")
    try:
        await page.wait_js("() => document.body.dataset.checked === 'true'", timeout=60)
        udp = await page.js(
            """() => { const row = document.querySelector('.check-step[data-step="udp"]');
                return [row.dataset.status, row.querySelector('.check-detail').textContent]; }"""
        )
        assert udp[0] == "green" and udp[1].startswith("host udp · "), udp
        await page.screenshot("firefox-6-check")
        assert page.errors == [], page.errors
    finally:
        page.save_log("firefox-check")
        await meeting.firefox.close_page(page)
