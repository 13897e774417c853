"""Recording the language channels: each channel's stream, as forwarded, to a file.

Real aiortc peers: the chair on the floor (silence), two interpreters of the
en booth each sending a tone of its own pitch, a listener on the en channel.
The chair records while en1 interprets and hands over to en2; the file is read
back with PyAV and compared with what the listener received.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import aiohttp
import av
import numpy as np
import pytest

from client import PalabraClient
from rooms import Settings
from server.tokens import issue_token

from .conftest import SECRET, ClientFactory, RunningServer
from .media_tracks import SineTrack, ToneTrack

# Both forwarding implementations, so that they never drift.
pytestmark = pytest.mark.usefixtures("forwarding_path")

EN1_HZ, EN2_HZ = 440.0, 660.0
FRAME = 0.02  # seconds of one Opus packet


@pytest.fixture
def settings() -> Settings:
    return Settings(lobby_enabled=False)


def pid(client: PalabraClient) -> str:
    assert client.welcome is not None
    return client.welcome.you.id


def pitch(samples: np.ndarray, rate: int) -> float:
    """The loudest frequency of a stretch of mono audio."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


async def test_a_channel_is_recorded_across_a_handover(
    server: RunningServer, connect: ClientFactory, tmp_path: Path
) -> None:
    chair = await connect(name="Presidencia", delegation=None, role="chair")
    en1 = await connect(name="Intérprete EN 1", delegation=None, role="interpreter")
    en2 = await connect(name="Intérprete EN 2", delegation=None, role="interpreter")
    await chair.command("interpretation.set_languages", languages=["es", "en", "pt"])
    await chair.command("interpretation.open_channel", language="en")
    await chair.command("interpretation.open_channel", language="pt")  # nobody in its booth
    for interpreter in (en1, en2):
        await chair.command(
            "interpretation.assign",
            participant_id=pid(interpreter),
            booth="en",
            working_languages=["en", "es"],
        )
    await chair.publish(audio=ToneTrack())
    await en1.publish(audio=SineTrack(EN1_HZ))
    await en2.publish(audio=SineTrack(EN2_HZ))
    listener = await connect(name="Canciller de El Salvador", delegation="sv", decode=False)
    await listener.wait_for(lambda: listener.feed_stream() is not None)
    await listener.listen("en")
    channel = listener.feed_stream()
    assert channel is not None
    await en1.command("interpretation.on_air")
    await listener.wait_for(lambda: channel.packets >= 10, timeout=10)

    channel.trace = []
    started = await chair.command("recording.start")
    assert started.state["recording"] is True
    # Packet counts, not wall time: a loaded machine paces the senders slower.
    await listener.wait_for(lambda: len(channel.trace or []) >= 50, timeout=15)
    await en2.command("interpretation.request_handover")
    await en1.command("interpretation.accept_handover")
    switched = len(channel.trace)
    await listener.wait_for(lambda: len(channel.trace or []) >= switched + 50, timeout=15)
    stopped = await chair.command("recording.stop")
    await asyncio.sleep(0.3)  # packets in flight to the listener
    received = list(channel.trace)

    token = issue_token(SECRET, conference="demo", role="technician", name="T")
    base = f"http://127.0.0.1:{server.port}/c/demo/recordings"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}?t={token}") as response:
            assert response.status == 200
            entries = (await response.json())["recordings"]
        # The pt channel had nobody on air: no file. The floor had no intervention.
        [entry] = entries
        assert entry["kind"] == "channel"
        assert entry["channel"] == "en"
        assert entry["interpreters"] == ["Intérprete EN 1", "Intérprete EN 2"]
        async with http.get(f"{base}/{entry['name']}?t={token}") as response:
            assert response.status == 200
            path = tmp_path / entry["name"]
            path.write_bytes(await response.read())

    with av.open(str(path)) as container:
        tags = {k.lower(): v for k, v in container.metadata.items()}
        assert tags["channel"] == "en"
        [stream] = container.streams
        assert stream.type == "audio" and stream.codec_context.name == "opus"
        assert stream.metadata.get("language") == "en"
        chapters = container.chapters()
        packets = [p for p in container.demux(audio=0) if p.pts is not None]
    assert [c["metadata"]["title"] for c in chapters] == ["Intérprete EN 1", "Intérprete EN 2"]
    assert [s["interpreter"] for s in entry["shifts"]] == ["Intérprete EN 1", "Intérprete EN 2"]

    # Opus as forwarded: every packet of the file is a payload the listener
    # received, in the same order (sizes of a tone's VBR packets as a fingerprint).
    sizes = [p.size for p in packets]
    heard = [size for *_, size in received]
    starts = [i for i in range(len(heard) - len(sizes) + 1) if heard[i : i + len(sizes)] == sizes]
    assert starts, "the file's packets are not a stretch of the listener's stream"
    assert entry["audio_frames"] == len(packets)

    # The file runs on through the handover: one 20 ms frame after another,
    # and at the switch a pause no longer than the one the listener heard
    # (its RTP clock over the same packets), give or take a frame.
    steps = [float((b.pts - a.pts) * a.time_base) for a, b in itertools.pairwise(packets)]
    stretch = received[starts[0] : starts[0] + len(sizes)]
    heard_steps = [(b[2] - a[2]) / 48000 for a, b in itertools.pairwise(stretch)]
    assert min(steps) >= FRAME - 0.001
    assert max(steps) <= max(heard_steps) + FRAME, (max(steps), max(heard_steps))
    duration = float((packets[-1].pts - packets[0].pts) * packets[0].time_base) + FRAME
    assert abs(duration - FRAME * len(packets)) < 0.06, (duration, len(packets))
    recorded_for = float(stopped.server_time) - float(started.server_time)
    assert recorded_for - 0.5 < duration < recorded_for + 1 / 30, (duration, recorded_for)

    # The channel's audio: en1's pitch, then en2's, split where the chapters say.
    rate = 48000
    mono = av.AudioResampler(format="flt", layout="mono", rate=rate)
    with av.open(str(path)) as container:
        decoded = [
            (float(frame.time or 0), out.to_ndarray().reshape(-1).astype(np.float64))
            for frame in container.decode(audio=0)
            for out in mono.resample(frame)
        ]
    switch_at = chapters[1]["start"] * chapters[1]["time_base"]
    before = np.concatenate([s for t, s in decoded if t < switch_at - 0.1][-25:])
    after = np.concatenate([s for t, s in decoded if t > switch_at + 0.1][:25])
    assert np.sqrt(np.mean(before**2)) > 0.05 and np.sqrt(np.mean(after**2)) > 0.05
    assert abs(pitch(before, rate) - EN1_HZ) < 10
    assert abs(pitch(after, rate) - EN2_HZ) < 10
