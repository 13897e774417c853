"""Chromium to Chromium audio under 5 % random loss, with and without RED.

The chair's page speaks (the fake microphone), Guatemala's page listens. The
server runs in one-port mode, so one nftables rule in the test's network
namespace drops 5 % of every datagram sent to the server: the publisher's
leg is lossy, the listener's is clean. The technicians' feed says what the
server received and lost; the listener's getStats on its inbound audio say
what was still missing after recovery (``packetsLost``) and what its decoder
had to conceal (``concealedSamples`` over ``totalSamplesReceived``).

With RED (RFC 2198) each packet carries the previous frame again: the server
rebuilds a packet lost on the way from the next one, and the listener's
decoder could too. Without it (the speaker's browser made to lack RED, as a
browser without it would: its capabilities hide ``audio/red``) only Opus
in-band FEC helps.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import async_playwright

from client import PalabraClient
from signaling import MonitorStats

from .conftest import serving
from .harness import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    BrowserPage,
    RunningServer,
    new_page,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

NFT = shutil.which("nft") or "/usr/sbin/nft"
TABLE = "palabra_red_loss"
LOSS_PER_MILLE = 50  # 5 %
MEASURE_FOR = 30.0  # seconds of lossy audio measured
# A browser without RED: the page's codec preferences never see it.
WITHOUT_RED = """(() => {
    const own = RTCRtpSender.getCapabilities.bind(RTCRtpSender);
    RTCRtpSender.getCapabilities = (kind) => {
        const caps = own(kind);
        if (caps && kind === 'audio') {
            caps.codecs = caps.codecs.filter((c) => c.mimeType.toLowerCase() !== 'audio/red');
        }
        return caps;
    };
})();"""

# The listener's inbound audio from `owner`: codec, packets, concealment.
INBOUND_AUDIO = """async (owner) => {
    const c = window.palabra.connection;
    if (!c.subscriber) return null;
    const mids = [...c.streams.values()]
        .filter((s) => s.participant_id === owner && s.kind === 'audio').map((s) => s.mid);
    for (const t of c.subscriber.getTransceivers()) {
        if (!mids.includes(t.mid)) continue;
        const stats = await t.receiver.getStats();
        let found = null;
        stats.forEach((r) => {
            if (r.type === 'inbound-rtp' && r.kind === 'audio') found = r;
        });
        if (!found || !found.packetsReceived) continue;
        const codec = found.codecId ? stats.get(found.codecId) : null;
        return {
            codec: codec ? codec.mimeType : null,
            packetsReceived: found.packetsReceived,
            packetsLost: found.packetsLost,
            totalSamplesReceived: found.totalSamplesReceived,
            concealedSamples: found.concealedSamples,
            silentConcealedSamples: found.silentConcealedSamples,
            concealmentEvents: found.concealmentEvents,
            jitterBufferDelay: found.jitterBufferDelay,
            jitterBufferEmittedCount: found.jitterBufferEmittedCount,
            fecPacketsReceived: found.fecPacketsReceived ?? 0,
        };
    }
    return null;
}"""

# The codecs the speaker's browser sends its microphone with, in order
# (getStats names Opus even when it is sent inside RED).
SEND_CODECS = """() => {
    const pc = window.palabra.connection.publisher;
    const sender = pc?.getSenders().find((s) => s.track?.kind === 'audio');
    return sender ? sender.getParameters().codecs.map((c) => c.mimeType) : null;
}"""


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def media_port() -> int:
    return free_udp_port()


@pytest.fixture(scope="module")
def server(media_port: int) -> Iterator[RunningServer]:
    """The demo server in one-port mode: every media datagram to it goes to one port."""
    with serving("--media-port", str(media_port)) as running:
        yield running


@pytest.fixture
def lossy(media_port: int) -> Iterator[None]:
    """5 % of the datagrams sent to the server's media port are dropped on arrival."""
    if not Path(NFT).exists():
        pytest.skip("nft is not installed (apt-get install nftables)")
    rules = f"""
table inet {TABLE} {{
  chain inp {{
    type filter hook input priority 0; policy accept;
    udp dport {media_port} numgen random mod 1000 < {LOSS_PER_MILLE} counter drop
  }}
}}
"""
    result = subprocess.run([NFT, "-f", "-"], input=rules.encode(), capture_output=True)
    if result.returncode != 0:
        pytest.skip(f"nft refused the rules: {result.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run([NFT, "delete", "table", "inet", TABLE], capture_output=True)


async def poll(page: BrowserPage, expression: str, arg: Any, what: str, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await page.js(expression, arg)
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.2)


async def admit(chair: BrowserPage, page: BrowserPage, pid: str) -> None:
    """The delegation enters from its device check; the chair admits it from the lobby."""
    await page.wait_js("() => document.querySelector('.prejoin')?.dataset.capture === 'ok'")
    await page.page.get_by_role("button", name="Entrar a la reunión").click()
    waiting = chair.page.locator(f'#lobby-list [data-participant-id="{pid}"]')
    await waiting.locator('[data-action="admit"]').click(timeout=10_000)
    await page.wait_js("() => document.body.dataset.view === 'delegation'", timeout=15)


INBOUND_FIELDS = ("packets", "packets_lost", "red_packets", "red_recovered")


def server_view(technician: PalabraClient, chair: str) -> dict[str, int]:
    """The chair's microphone as the server received it (the technicians' feed)."""
    feed = [m for m in technician.messages if isinstance(m, MonitorStats)]
    for stream in feed[-1].streams if feed else ():
        if (stream["direction"], stream["participant_id"], stream["kind"]) == (
            "in",
            chair,
            "audio",
        ):
            return {name: int(stream[name]) for name in INBOUND_FIELDS}  # type: ignore[call-overload]
    return dict.fromkeys(INBOUND_FIELDS, 0)


async def measure(server: RunningServer, red: bool) -> dict[str, Any]:
    """Chair speaks, Guatemala listens, 5 % loss on the way in: what the listener concealed."""
    # Seats of their own per run: none comes back into a seat a previous run kept.
    run = "red" if red else "opus"
    chair_id, gt_id = f"p-chair-{run}", f"p-gt-{run}"
    technician = PalabraClient(
        server.ws_url,
        server.token(role="technician", name="Técnico de sala", delegation=None),
        media_addresses=["127.0.0.1"],
        decode=False,
        subscribe=False,
    )
    await technician.join()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True
        )
        try:
            chair_token = server.token(
                role="chair", name="Presidencia (Honduras)", delegation=None, participant=chair_id
            )
            context = await browser.new_context(permissions=["camera", "microphone"])
            if not red:
                await context.add_init_script(WITHOUT_RED)
            chair = BrowserPage(await context.new_page())
            chair.listen()
            await chair.page.goto(server.join_url(chair_token))
            await chair.wait_js("() => document.body.dataset.view === 'chair'", timeout=15)
            gt_token = server.token(
                role="head", name="Canciller de Guatemala", delegation="gt", participant=gt_id
            )
            gt = await new_page(browser, server.join_url(gt_token))
            await admit(chair, gt, gt_id)
            # The chair is always heard: wait until its audio plays at the listener.
            await poll(
                gt,
                f"async (o) => ((await ({INBOUND_AUDIO})(o))?.packetsReceived ?? 0) > 100",
                chair_id,
                "the chair's audio at Guatemala",
                30,
            )
            send_codecs = await poll(chair, SEND_CODECS, None, "the chair's audio sender", 10)
            before = await gt.js(INBOUND_AUDIO, chair_id)
            server_before = server_view(technician, chair_id)
            await asyncio.sleep(MEASURE_FOR)
            after = await gt.js(INBOUND_AUDIO, chair_id)
            server_after = server_view(technician, chair_id)
            chair.save_log(f"red-{red}-chair")
            gt.save_log(f"red-{red}-gt")
        finally:
            await browser.close()
            await technician.close()
    received = after["packetsReceived"] - before["packetsReceived"]
    lost = after["packetsLost"] - before["packetsLost"]
    samples = after["totalSamplesReceived"] - before["totalSamplesReceived"]
    concealed = after["concealedSamples"] - before["concealedSamples"]
    at_server = {name: server_after[name] - server_before[name] for name in INBOUND_FIELDS}
    sent = at_server["packets"] + at_server["packets_lost"]
    return {
        "send_codecs": send_codecs,
        "server_packets": at_server["packets"],
        "server_red_packets": at_server["red_packets"],
        "rebuilt": at_server["red_recovered"],
        # Lost on the publisher's leg, as the server counts it (RFC 3550).
        "wire_loss": at_server["packets_lost"] / sent if sent else 0.0,
        # Still missing at the listener once the server rebuilt what it could.
        "lost_after_recovery": lost / (received + lost) if received + lost else 1.0,
        "concealed": concealed / samples if samples else 1.0,
        "packets": received + lost,
        "fec_packets": after["fecPacketsReceived"] - before["fecPacketsReceived"],
        "silent_concealed": (after["silentConcealedSamples"] - before["silentConcealedSamples"])
        / samples
        if samples
        else 0.0,
        "concealment_events": after["concealmentEvents"] - before["concealmentEvents"],
        "buffer_ms": 1000
        * (after["jitterBufferDelay"] - before["jitterBufferDelay"])
        / max(1, after["jitterBufferEmittedCount"] - before["jitterBufferEmittedCount"]),
    }


# The baseline without RED is a measurement for the docs, not a check of the
# server: it runs with the slow tests (scripts/test -m slow).
@pytest.mark.parametrize(
    "red", [True, pytest.param(False, marks=pytest.mark.slow)], ids=["red", "opus-only"]
)
async def test_audio_lost_after_recovery_at_5_percent_loss(
    server: RunningServer, lossy: None, red: bool
) -> None:
    figures = await measure(server, red)
    print(
        f"RED {'on' if red else 'off'}: sender codecs {figures['send_codecs']}; at the server "
        f"{figures['server_red_packets']} of {figures['server_packets']} packets RED, "
        f"{figures['wire_loss']:.2%} lost on the way, {figures['rebuilt']} rebuilt; at the "
        f"listener ({figures['packets']} packets) {figures['lost_after_recovery']:.2%} lost "
        f"after recovery, {figures['concealed']:.2%} of the audio concealed "
        f"({figures['silent_concealed']:.2%} silent, {figures['concealment_events']} events; "
        f"FEC packets {figures['fec_packets']}; jitter buffer {figures['buffer_ms']:.0f} ms)"
    )
    # The loss was there: about 5 % of the packets never reached the server.
    assert 0.025 < figures["wire_loss"] < 0.09, figures
    assert figures["server_packets"] > 1000, figures
    if red:
        # RED first in what the browser sends, and what the server got was RED.
        assert figures["send_codecs"][0] == "audio/red", figures
        assert figures["server_red_packets"] > 0.9 * figures["server_packets"], figures
        # Only packets lost twice in a row (about 0.25 % at 5 %) stay lost.
        assert figures["lost_after_recovery"] < 0.01, figures
        # The listener's decoder conceals far less than was lost on the way
        # (without RED it conceals nearly all of it).
        assert figures["concealed"] < 0.5 * figures["wire_loss"], figures
    else:
        assert "audio/red" not in figures["send_codecs"], figures
        assert figures["server_red_packets"] == figures["rebuilt"] == 0, figures
        assert figures["lost_after_recovery"] > 0.025, figures
