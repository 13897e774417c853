"""Three browsers: the floor's simulcast camera reaches a weak link smaller, a strong one whole.

Guatemala's browser publishes its 1280x720 camera in three layers and holds
the floor. El Salvador's browser has a weak downlink (an nftables rate limit
on its subscriber port, in the test's network namespace) set below what the
floor's high layer and audio take, as measured from the publisher just
before (the fake camera's high layer takes 500-1100 kbit/s, depending on the
machine). Costa Rica's browser is unlimited. Both receivers join with their camera switched off and
the chair is the aiortc client (publishing nothing), to spare this 2-core
machine more encoders.

The server starts El Salvador on the high layer (nothing limits a
participant before its first heavy loss), learns its link from its receiver
reports and NACKs and moves it to a smaller layer; from then on El Salvador
sees the floor at full frame rate and hears it whole, while Costa Rica sees
it in the highest layer the publisher sends (1280 wide, unless the
publisher's own estimate turned that layer off).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from playwright.async_api import Browser

from tests.rate_limit import limit_udp, nft_table

from .harness import CHROMIUM_FLAGS, BrowserPage, RunningServer, chromium, new_page
from .test_browser_join import admit, chair_client, js, wait_js
from .test_narrow_downlink import subscriber_port

# Three browsers and a minute of media: run it on a quiet machine (scripts/test -m slow).
pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TABLE = "palabra_weak_link"

# The weak link: this share of what the floor's high layer and audio take.
LIMIT_SHARE = 0.7
AUDIO_KBPS = 60  # Opus and its packets' headers
HIGH_WIDTH = 1280

# What the page decodes of `owner`'s media: frames, width, loss, at when.
RECEIVED = """async (owner) => {
    const c = window.palabra.connection;
    const mids = new Map([...c.streams.values()]
        .filter((s) => s.participant_id === owner).map((s) => [s.mid, s.kind]));
    const out = {frames: 0, received: 0, dropped: 0, width: 0, videoLost: 0, videoBytes: 0,
                 audioPackets: 0, audioLost: 0, at: performance.now()};
    for (const t of c.subscriber.getTransceivers()) {
        const kind = mids.get(t.mid);
        if (!kind) continue;
        (await t.receiver.getStats()).forEach((r) => {
            if (r.type !== 'inbound-rtp') return;
            if (kind === 'video') {
                out.frames += r.framesDecoded ?? 0;
                out.received += r.framesReceived ?? 0;
                out.dropped += r.framesDropped ?? 0;
                out.width = Math.max(out.width, r.frameWidth ?? 0);
                out.videoLost += r.packetsLost ?? 0;
                out.videoBytes += r.bytesReceived ?? 0;
            } else {
                out.audioPackets += r.packetsReceived ?? 0;
                out.audioLost += r.packetsLost ?? 0;
            }
        });
    }
    return out;
}"""

SENT_WIDTHS = """async () => {
    const stats = await window.palabra.connection.publisher.getStats();
    const out = {};
    stats.forEach((r) => {
        if (r.type === 'outbound-rtp' && r.kind === 'video' && r.rid)
            out[r.rid] = r.frameWidth ?? 0;
    });
    return out;
}"""

# Per layer the publisher sends: width, fps, bytes, what limits it.
SENT = """async () => {
    const stats = await window.palabra.connection.publisher.getStats();
    const out = {};
    stats.forEach((r) => {
        if (r.type === 'outbound-rtp' && r.kind === 'video' && r.rid)
            out[r.rid] = [r.frameWidth ?? 0, r.framesPerSecond ?? 0, r.bytesSent,
                          r.qualityLimitationReason, r.targetBitrate ?? 0];
    });
    return out;
}"""

# The publisher's own estimate of its uplink (transport-cc), bit/s.
UPLINK = """async () => {
    const stats = await window.palabra.connection.publisher.getStats();
    let out = null;
    stats.forEach((r) => {
        if (r.type === 'candidate-pair' && r.nominated && r.availableOutgoingBitrate)
            out = r.availableOutgoingBitrate;
    });
    return out;
}"""


async def enter(
    browser: Browser,
    server: RunningServer,
    chair: Any,
    name: str,
    delegation: str,
    camera: bool = True,
) -> tuple[BrowserPage, str]:
    """A head of delegation's browser, admitted by the chair: its page and participant id."""
    token = server.token(role="head", name=name, delegation=delegation)
    logged = await new_page(browser, server.join_url(token))
    page = logged.page
    await wait_js(page, "() => window.palabra?.connection?.state === 'joined'", timeout=30)
    if not camera:
        await page.locator("label[for=prejoin-cam]").click()
    participant: str = await js(page, "() => window.palabra.connection.you.id")
    await page.get_by_role("button", name="Entrar a la reunión").click()
    await admit(chair, participant)
    await wait_js(page, "() => document.body.dataset.view === 'delegation'", timeout=20)
    return logged, participant


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Chromium whose fake camera runs at 30 fps (its default is 20: no
    margin for a receiver's frame rate to be measured against 20)."""
    flags = [
        "--use-fake-device-for-media-stream=fps=30"
        if f == "--use-fake-device-for-media-stream"
        else f
        for f in CHROMIUM_FLAGS
    ]
    async with chromium(flags) as launched:
        yield launched


@pytest.fixture
async def pages() -> AsyncIterator[list[BrowserPage]]:
    """The pages a test opens, their console saved and contexts closed at the end."""
    opened: list[BrowserPage] = []
    yield opened
    for logged in opened:
        logged.save_log(f"weak-link-{opened.index(logged)}")
        await logged.page.context.close()


@pytest.fixture
def nft() -> Iterator[None]:
    with nft_table(TABLE):
        yield


def limit_port(port: int, kbytes: int) -> None:
    limit_udp(TABLE, f"udp dport {port}", kbytes)


async def window(page: Any, owner: str, seconds: float) -> dict[str, float]:
    """What `page` received of `owner` over `seconds`: fps, width, loss deltas, kbit/s."""
    before = await js(page, RECEIVED, owner)
    await page.wait_for_timeout(seconds * 1000)
    after = await js(page, RECEIVED, owner)
    took = (after["at"] - before["at"]) / 1000
    return {
        "fps": (after["frames"] - before["frames"]) / took,
        "received_fps": (after["received"] - before["received"]) / took,
        "dropped": after["dropped"] - before["dropped"],
        "width": after["width"],
        "video_kbps": 8 * (after["videoBytes"] - before["videoBytes"]) / took / 1000,
        "video_lost": after["videoLost"] - before["videoLost"],
        "audio_packets": after["audioPackets"] - before["audioPackets"],
        "audio_lost": after["audioLost"] - before["audioLost"],
        "seconds": took,
    }


@pytest.mark.usefixtures("nft")
async def test_a_weak_link_gets_a_smaller_layer_of_the_floor_at_full_rate_and_a_strong_one_the_high(
    server: RunningServer, browser: Browser, pages: list[BrowserPage]
) -> None:
    async with chair_client(server) as chair:
        floor, gt = await enter(browser, server, chair, "Canciller de Guatemala", "gt")
        pages.append(floor)
        weak, _ = await enter(
            browser, server, chair, "Canciller de El Salvador", "sv", camera=False
        )
        pages.append(weak)
        strong, _ = await enter(
            browser, server, chair, "Canciller de Costa Rica", "cr", camera=False
        )
        pages.append(strong)

        update = await chair.command("floor.request", delegation_id="gt")
        [request] = [e for e in update.events if e["type"] == "floor.requested"]
        await chair.command("floor.grant", request_id=request["request_id"], unlimited=True)

        # The fake camera gives 1280x720: the high layer exists.
        await wait_js(
            floor.page,
            f"""async () => {{
                const w = await ({SENT_WIDTHS})();
                return w.q > 0 && w.h > 0 && w.f === {HIGH_WIDTH};
            }}""",
            timeout=30,
        )
        # Both receivers get the floor's high layer while nothing limits them.
        for receiver in (weak, strong):
            await wait_js(
                receiver.page,
                f"async (o) => (await ({RECEIVED})(o)).width === {HIGH_WIDTH}",
                gt,
                timeout=30,
            )

        port = await subscriber_port(weak.page)
        # What the layers take, to set the weak link under the high one: once
        # the publisher's ramp-up gave the high layer more than the middle one.
        rates = await layer_rates(floor.page, timeout=30)
        limit_kbps = LIMIT_SHARE * (rates["f"] + AUDIO_KBPS)
        assert limit_kbps > rates["q"] + AUDIO_KBPS, f"no layer under the limit: {rates}"
        limited = time.monotonic()
        limit_port(port, int(limit_kbps / 8))
        at_limit = await js(weak.page, RECEIVED, gt)
        converged = await smaller_layer(weak.page, gt, limited, timeout=20)

        # What the policer queued drains; then both receivers over one window.
        await weak.page.wait_for_timeout(2000)
        sent_before = await js(floor.page, SENT)
        weak_window, strong_window = await gather(
            window(weak.page, gt, 6), window(strong.page, gt, 6)
        )
        sent_after = await js(floor.page, SENT)
        adapting = await js(weak.page, RECEIVED, gt)
        lost_adapting = adapting["audioLost"] - at_limit["audioLost"] - weak_window["audio_lost"]
        uplink = await js(floor.page, UPLINK)
        sent = {
            rid: (w, fps, round(8 * (b - sent_before[rid][2]) / 6000), why, t)
            for rid, (w, fps, b, why, t) in sent_after.items()
        }
        layers = ", ".join(f"{rid} {kbps:.0f}" for rid, kbps in sorted(rates.items()))
        print(
            f"\nlayers before the limit (kbit/s): {layers}; limit {8 * int(limit_kbps / 8)}"
            f" kbit/s; smaller layer after {'-' if converged is None else f'{converged:.1f}'} s"
            f" ({lost_adapting} floor audio packets lost meanwhile);"
            f"\npublisher's uplink estimate {uplink} bit/s; layers sent"
            f" (width, fps, kbit/s, limited by, target): {sent}"
            f"\nweak link:   {fmt(weak_window)}\nunlimited:   {fmt(strong_window)}"
        )

        # The publisher's high layer varies (400-1100 kbit/s here, with its CPU
        # and its own estimate): the weak link must leave it out only where it
        # did not fit.
        high_kbps = sent["f"][2] if "f" in sent else 0
        if high_kbps + AUDIO_KBPS > limit_kbps:
            assert weak_window["width"] < HIGH_WIDTH, f"{weak_window}; sent {sent}"
        assert weak_window["fps"] >= 20, (
            f"the floor's video at {weak_window['fps']:.1f} fps"
            f" (unlimited: {strong_window['fps']:.1f}; sent {sent})"
        )
        assert weak_window["audio_packets"] >= 40 * weak_window["seconds"], weak_window
        assert weak_window["audio_lost"] == 0, "the floor's audio lost packets on the weak link"
        # The highest layer the publisher sends: its own (transport-cc) estimate,
        # or its CPU, may turn the 1280 one off on a starved machine.
        top = max(w for w, fps, kbps, _, _ in sent.values() if fps > 0 and kbps > 0)
        note = "" if top == HIGH_WIDTH else f" (the publisher sent no {HIGH_WIDTH} layer)"
        assert strong_window["width"] == top, f"{strong_window}; sent {sent}{note}"
        assert strong_window["fps"] >= 20, f"the top layer at {strong_window['fps']:.1f} fps"
        assert strong_window["audio_lost"] == 0, strong_window
        for logged in pages:
            assert logged.errors == [], logged.errors


async def layer_rates(page: Any, timeout: float) -> dict[str, float]:
    """kbit/s of each layer the publisher on `page` sends, over 3 s, once
    the high layer takes more than the middle one (or after `timeout`)."""
    since = time.monotonic()
    while True:
        before = await js(page, SENT)
        await page.wait_for_timeout(3000)
        after = await js(page, SENT)
        rates = {rid: 8 * (after[rid][2] - b) / 3000 for rid, (_, _, b, _, _) in before.items()}
        if rates["f"] > rates["h"] > 0 or time.monotonic() - since > timeout:
            return rates


async def smaller_layer(page: Any, owner: str, since: float, timeout: float) -> float | None:
    """Seconds from `since` until `page` decodes `owner` below the high layer
    in two polls a second apart (one frame of another size is not a layer);
    None if not within `timeout` (the window after it tells whether it had to)."""
    below = 0
    while below < 2:
        width = (await js(page, RECEIVED, owner))["width"]
        below = below + 1 if 0 < width < HIGH_WIDTH else 0
        if time.monotonic() - since > timeout:
            return None
        await asyncio.sleep(1)
    return time.monotonic() - since - 1


async def gather(*windows: Any) -> list[dict[str, float]]:
    return list(await asyncio.gather(*windows))


def fmt(w: dict[str, float]) -> str:
    return (
        f"{w['width']:.0f} wide, {w['fps']:.1f} fps decoded ({w['received_fps']:.1f} received,"
        f" {w['dropped']:.0f} dropped), {w['video_kbps']:.0f} kbit/s video,"
        f" {w['video_lost']:.0f} video / {w['audio_lost']:.0f} of"
        f" {w['audio_packets']:.0f} audio packets lost over {w['seconds']:.1f} s"
    )
