"""Interpretation in real browsers: the demo's English booth and a delegation listening.

The demo conference has Spanish on the floor and an English channel with two
interpreters seated. The chair admits everyone; the first interpreter goes on
air from the console; El Salvador chooses English in the language menu and
receives audio on the channel stream (its inbound bytes grow, and the
track is loud where Web Audio takes it). The chair records
meanwhile; the second interpreter asks for the handover, the first accepts,
and the channel goes on from the second's microphone. What the interpreter's
browser sends is read from its stats and from the channel's recording, which
holds its Opus packets as they were forwarded.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import time
import urllib.request
import wave
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from playwright.async_api import async_playwright

from .harness import CHROMIUM, CHROMIUM_FLAGS, BrowserPage, RunningServer, new_page

# Four browsers and a server on a shared two-core machine: more than the default.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

EN1, EN2 = "demo-interpreter-en-1", "demo-interpreter-en-2"
CHAIR, SV = "p-chair-i", "p-sv-i"

# Bytes received on the `feed:listen` m-line (-1 while none).
FEED = """async () => {
    const c = window.palabra.connection;
    if (!c.subscriber) return -1;
    const mids = [...c.streams.values()]
        .filter((s) => s.producer_id === 'feed:listen').map((s) => s.mid);
    let bytes = -1;
    for (const t of c.subscriber.getTransceivers()) {
        if (!mids.includes(t.mid)) continue;
        const stats = await t.receiver.getStats();
        stats.forEach((r) => {
            if (r.type === 'inbound-rtp') bytes = Math.max(bytes, 0) + r.bytesReceived;
        });
    }
    return bytes;
}"""

# The loudness (RMS) of the `feed:listen` track as Web Audio hears it (-1 without
# one). Chromium computes getStats' audioLevel and totalAudioEnergy after the
# <audio> element's volume: they stay 0 on a listener's page, whose elements
# are muted while Web Audio plays the mix (measured; an unmuted element of
# the same stream reports them). An analyser on the track measures what the
# listener hears.
FEED_LOUDNESS = """async () => {
    const c = window.palabra.connection;
    const mids = [...c.streams.values()]
        .filter((s) => s.producer_id === 'feed:listen').map((s) => s.mid);
    const t = c.subscriber?.getTransceivers().find((t) => mids.includes(t.mid));
    if (!t) return -1;
    const ctx = new AudioContext();
    await ctx.resume().catch(() => {});
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 4096;
    ctx.createMediaStreamSource(new MediaStream([t.receiver.track])).connect(analyser);
    const sink = ctx.createGain();
    sink.gain.value = 0;
    analyser.connect(sink).connect(ctx.destination);  // pulls the graph, silently
    await new Promise((r) => setTimeout(r, 300));
    const samples = new Float32Array(analyser.fftSize);
    analyser.getFloatTimeDomainData(samples);
    await ctx.close();
    return Math.sqrt(samples.reduce((sum, x) => sum + x * x, 0) / samples.length);
}"""

# The interpreter's publisher connection: the server's answer, the browser's
# offer, and the outbound audio stream with its codec, as getStats reports them.
PUBLISHED = """async () => {
    const pc = window.palabra.connection.publisher;
    const stats = await pc.getStats();
    let out = null;
    stats.forEach((r) => { if (r.type === 'outbound-rtp' && r.kind === 'audio') out = r; });
    const codec = out ? stats.get(out.codecId) : null;
    return {
        answer: pc.remoteDescription.sdp, offer: pc.localDescription.sdp,
        bytesSent: out?.bytesSent ?? 0, packetsSent: out?.packetsSent ?? 0,
        targetBitrate: out?.targetBitrate ?? null, at: performance.now(),
        mimeType: codec?.mimeType ?? null, fmtp: codec?.sdpFmtpLine ?? null,
        channels: codec?.channels ?? null, clockRate: codec?.clockRate ?? null,
    };
}"""

# What the server's answer asks of an interpreter's Opus encoder (conference/media_plane.py).
ASKED = {"maxplaybackrate": "48000", "stereo": "0", "maxaveragebitrate": "64000"}
# Opus TOC configurations (RFC 6716, 3.1) that code the full band (20 kHz).
FULL_BAND = {14, 15, 28, 29, 30, 31}


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


def voice_file(path: Path, seconds: float = 4.0) -> Path:
    """A WAV for Chromium's fake microphone: tones across the band, rising and falling.

    Chromium's own fake microphone beeps only with a fake camera running (an
    interpreter publishes no video): without a file its channel is silence.
    """
    rate = 48000
    t = np.arange(int(rate * seconds)) / rate
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 3 * t)  # syllable-like, never silent
    tones = sum(np.sin(2 * np.pi * f * t) / (i + 1) for i, f in enumerate((220, 1200, 4500, 11000)))
    samples = (envelope * tones / 2.2 * 16000).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return path


async def test_a_delegation_listens_to_english_and_the_booth_hands_over(
    server: RunningServer, tmp_path: Path
) -> None:
    voice = voice_file(tmp_path / "voice.wav")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[*CHROMIUM_FLAGS, f"--use-file-for-fake-audio-capture={voice}"],
            headless=True,
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
            # Not only bytes: sound, decoded, as the listener hears it.
            await until(lambda: _feed_sounds(sv), "sound on the English channel")

            # What the interpreter's browser sends, as its own stats say.
            first = await en1.js(PUBLISHED)
            await asyncio.sleep(2.0)
            second = await en1.js(PUBLISHED)
            sent = _check_published(first, second)

            # The chair records: the channel's file holds en1's packets, then en2's.
            await chair.js("() => window.palabra.connection.command('recording.start')")
            await chair.wait_js("() => window.palabra.room.recording === true")
            await asyncio.sleep(2.0)

            # Handover: en2 asks, en1 accepts; the channel keeps flowing.
            await en2.wait_js("() => window.palabra.connection.published === true", timeout=30)
            await en2.page.get_by_test_id("on-air").click()
            accept = en1.page.get_by_test_id("accept-handover")
            await accept.wait_for(state="visible", timeout=10_000)
            await accept.click()
            await until(lambda: _is(en2, "on"), "en2 on air after the handover")
            await until(lambda: _is(en1, "partner"), "en1 passive after the handover")
            await until(lambda: _feed_grows(sv), "inbound audio after the handover")
            await until(lambda: _feed_sounds(sv), "sound on the channel after the handover")
            room = await sv.js("() => window.palabra.room.interpretation.channels[0]")
            assert room["active"] == EN2
            await asyncio.sleep(2.0)
            await chair.js("() => window.palabra.connection.command('recording.stop')")
            await chair.wait_js("() => window.palabra.room.recording === false")
            recorded = _check_recording(server)
            print(f"interpreter's browser sends: {sent}; recorded: {recorded}")
        finally:
            for name, page in pages.items():
                page.save_log(f"interpretation-{name}")
            await browser.close()


async def _is(page: BrowserPage, state: str) -> bool:
    return await on_air_state(page) == state


async def _feed_grows(page: BrowserPage) -> bool:
    before = await page.js(FEED)
    await asyncio.sleep(0.5)
    after = await page.js(FEED)
    return bool(before >= 0 and after > before + 500)


async def _feed_sounds(page: BrowserPage) -> bool:
    """The channel's track is loud (the voice file), not the silence of a dead source."""
    loudness: float = await page.js(FEED_LOUDNESS)
    return loudness > 0.005


def _fmtp(sdp: str) -> dict[str, str]:
    """The Opus fmtp parameters of an SDP."""
    [payload_type] = re.findall(r"a=rtpmap:(\d+) opus/48000/2", sdp, re.IGNORECASE)
    [line] = re.findall(rf"a=fmtp:{payload_type} (.*)", sdp)
    return dict(p.strip().split("=", 1) for p in line.split(";"))


def _check_published(first: dict[str, Any], second: dict[str, Any]) -> dict[str, object]:
    """The server asked for full band mono at 64 kbit/s; the browser negotiated it."""
    answer = _fmtp(first["answer"])
    for key, value in ASKED.items():
        assert answer.get(key) == value, (key, answer)
    assert first["mimeType"].lower() == "audio/opus" and first["clockRate"] == 48000
    # Chromium's stats of the codec it sends with carry the parameters it accepted.
    negotiated = dict(p.strip().split("=", 1) for p in (first["fmtp"] or "").split(";") if p)
    for key, value in ASKED.items():
        assert negotiated.get(key) == value, (key, negotiated)
    if second["targetBitrate"] is not None:
        assert second["targetBitrate"] >= 32000, second["targetBitrate"]
    seconds = (second["at"] - first["at"]) / 1000
    kbps = (second["bytesSent"] - first["bytesSent"]) * 8 / 1000 / seconds
    packets = (second["packetsSent"] - first["packetsSent"]) / seconds
    # At least the 32 kbit/s the issue asks (payload only: bytesSent excludes headers).
    assert kbps >= 32, f"the interpreter's browser sends {kbps:.1f} kbit/s"
    return {
        "offer": _fmtp(first["offer"]),
        "stats_fmtp": negotiated,
        "payload_kbps": round(kbps, 1),
        "packets_per_s": round(packets, 1),
        "target_bitrate": second["targetBitrate"],
    }


def _check_recording(server: RunningServer) -> dict[str, object]:
    """The en channel's file: both shifts, every packet full band and mono."""
    token = server.token(role="technician", name="Técnico", delegation=None)
    base = f"{server.base_url}/c/demo/recordings"
    with urllib.request.urlopen(f"{base}?t={token}") as response:
        entries = json.load(response)["recordings"]
    [entry] = [e for e in entries if e.get("kind") == "channel" and e["channel"] == "en"]
    assert entry["interpreters"] == ["Intérprete EN 1", "Intérprete EN 2"]
    with urllib.request.urlopen(f"{base}/{entry['name']}?t={token}") as response:
        data = response.read()
    with av.open(io.BytesIO(data)) as container:
        tocs = [bytes(p)[0] for p in container.demux(audio=0) if p.size]
        chapters = [c["metadata"]["title"] for c in container.chapters()]
    assert chapters == ["Intérprete EN 1", "Intérprete EN 2"]
    configs = {toc >> 3 for toc in tocs}
    stereo = sum(1 for toc in tocs if toc & 0x04)
    full_band = sum(1 for toc in tocs if toc >> 3 in FULL_BAND)
    assert stereo == 0, f"{stereo} of {len(tocs)} packets are stereo"
    assert full_band == len(tocs), f"Opus configurations {sorted(configs)}"
    return {"packets": len(tocs), "opus_configs": sorted(configs), "frames_ms": 20}
