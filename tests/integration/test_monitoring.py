"""Technicians' live monitoring: stats, alerts, actions, and /metrics."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from client import ClientError, PalabraClient
from rooms import Settings
from signaling import MonitorAlert, MonitorStats, ParticipantDisconnect, ProducerKeyframe

from .conftest import METRICS_TOKEN, ClientFactory, RunningServer
from .media_tracks import ColourTrack, ToneTrack

# Both forwarding implementations, so that they never drift.
pytestmark = pytest.mark.usefixtures("forwarding_path")


@pytest.fixture
def settings() -> Settings:
    return Settings(lobby_enabled=False, open_floor=True)


class PausableColourTrack(ColourTrack):
    """A camera that can stop sending, as a frozen capture device would."""

    def __init__(self, colour: str) -> None:
        super().__init__(colour)
        self.running = asyncio.Event()
        self.running.set()

    async def recv(self) -> Any:
        await self.running.wait()
        return await super().recv()


def lossy(client: PalabraClient, kind: str, ratio: float) -> None:
    """Drop a share of the client's outgoing RTP of one kind, as a bad network would."""
    [sender] = [s for s in client.publisher.getSenders() if s.kind == kind]
    transport = sender.transport
    send = transport._send_rtp
    rng = random.Random(7)

    async def maybe_send(data: bytes) -> None:
        is_rtcp = len(data) > 1 and 192 <= data[1] <= 223
        if is_rtcp or rng.random() >= ratio:
            await send(data)

    transport._send_rtp = maybe_send


def latest_stats(client: PalabraClient) -> MonitorStats:
    return [m for m in client.messages if isinstance(m, MonitorStats)][-1]


def alerts(client: PalabraClient, kind: str, state: str) -> list[Mapping[str, object]]:
    return [
        m.alert
        for m in client.messages
        if isinstance(m, MonitorAlert) and m.alert["kind"] == kind and m.state == state
    ]


async def test_technician_sees_every_stream_live(connect: ClientFactory) -> None:
    technician = await connect(name="Técnico", delegation=None, role="technician")
    publisher = await connect(name="Canciller", delegation="gt")
    listener = await connect(name="Asesor", delegation="sv")
    await publisher.publish(video=ColourTrack("red"), audio=ToneTrack())
    await listener.wait_for_streams(2, frames=10, timeout=15)

    def complete() -> bool:
        stats = [m for m in technician.messages if isinstance(m, MonitorStats)]
        if not stats:
            return False
        streams = stats[-1].streams
        # In: audio and video; out: both to the listener and to the technician.
        return len(streams) == 6 and all(s["bitrate_kbps"] > 0 for s in streams)  # type: ignore[operator]

    await technician.wait_for(complete, timeout=10)
    streams = latest_stats(technician).streams
    publisher_id = publisher.welcome.you.id  # type: ignore[union-attr]
    subscribers = {c.welcome.you.id for c in (listener, technician)}  # type: ignore[union-attr]
    kinds = sorted((s["direction"], s["kind"]) for s in streams)
    assert kinds == [
        ("in", "audio"),
        ("in", "video"),
        *[("out", "audio")] * 2,
        *[("out", "video")] * 2,
    ]
    assert {s["subscriber_id"] for s in streams if s["direction"] == "out"} == subscribers
    video_in = next(s for s in streams if s["direction"] == "in" and s["kind"] == "video")
    assert video_in["participant_id"] == publisher_id and video_in["codec"] == "VP8"
    assert video_in["fps"] > 10  # type: ignore[operator]
    # Only technicians (and the chair) get the feed.
    assert not any(isinstance(m, MonitorStats) for m in listener.messages)


async def test_packet_loss_raises_an_alert(connect: ClientFactory) -> None:
    technician = await connect(name="Técnico", delegation=None, role="technician")
    publisher = await connect(name="Canciller", delegation="cr")
    await publisher.publish(audio=ToneTrack())
    lossy(publisher, "audio", 0.2)
    await technician.wait_for(lambda: bool(alerts(technician, "loss", "raised")), timeout=10)
    [alert] = alerts(technician, "loss", "raised")
    assert alert["participant_id"] == publisher.welcome.you.id  # type: ignore[union-attr]
    stream = next(s for s in latest_stats(technician).streams if s["id"] == alert["producer_id"])
    assert stream["packets_lost"] > 0  # type: ignore[operator]


async def test_a_frozen_camera_raises_and_clears_an_alert(connect: ClientFactory) -> None:
    technician = await connect(name="Técnico", delegation=None, role="technician")
    publisher = await connect(name="Canciller", delegation="gt")
    camera = PausableColourTrack("green")
    await publisher.publish(video=camera)
    await technician.wait_for(lambda: bool(technician.producers), timeout=10)
    await asyncio.sleep(1.5)
    assert not alerts(technician, "freeze", "raised")

    camera.running.clear()
    await technician.wait_for(lambda: bool(alerts(technician, "freeze", "raised")), timeout=8)
    camera.running.set()
    await technician.wait_for(lambda: bool(alerts(technician, "freeze", "cleared")), timeout=8)


async def test_technician_actions_and_their_refusal(connect: ClientFactory) -> None:
    technician = await connect(name="Técnico", delegation=None, role="technician")
    publisher = await connect(name="Canciller", delegation="gt")
    other = await connect(name="Asesor", delegation="sv")
    await publisher.publish(video=ColourTrack("blue"))
    await technician.wait_for(lambda: bool(technician.producers), timeout=10)
    [producer_id] = technician.producers

    for actor, message in (
        (other, ProducerKeyframe(producer_id, id=other.next_id())),
        (other, ParticipantDisconnect(technician.welcome.you.id, id=other.next_id())),  # type: ignore[union-attr]
    ):
        with pytest.raises(ClientError) as refused:
            await actor.request(message, timeout=3)
        assert refused.value.error.code == "forbidden"

    with pytest.raises(ClientError) as unknown:
        await technician.request(ProducerKeyframe("p-none", id=technician.next_id()), timeout=3)
    assert unknown.value.error.code == "not_found"

    await technician.send(ProducerKeyframe(producer_id, id=technician.next_id()))
    await technician.send(ParticipantDisconnect(other.welcome.you.id))  # type: ignore[union-attr]
    await other.wait_for(other.closed.is_set)
    assert other.close_code == 4004


async def test_metrics_parse_and_move_with_the_traffic(
    server: RunningServer, connect: ClientFactory, forwarding_path: str
) -> None:
    async def scrape() -> dict[str, float]:
        url = f"http://127.0.0.1:{server.port}/metrics"
        headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}
        async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
            text = await response.text()
        values: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                key = sample.name + "".join(f",{k}={v}" for k, v in sorted(sample.labels.items()))
                values[key] = sample.value
        return values

    before = await scrape()
    publisher = await connect(name="Canciller", delegation="gt")
    listener = await connect(name="Asesor", delegation="sv")
    await publisher.publish(video=ColourTrack("red"), audio=ToneTrack())
    await listener.wait_for_streams(2, frames=10, timeout=15)
    await asyncio.sleep(2.5)  # the monitor samples once a second
    after = await scrape()
    assert after["palabra_conferences"] == 1
    assert after["palabra_producers,conference=demo,kind=video"] == 1
    assert after["palabra_consumers,conference=demo,kind=audio"] == 1
    assert after["palabra_participants,conference=demo,where=room"] == 2
    assert after["palabra_consumers,conference=demo,kind=video"] == 1
    assert after["palabra_forwarded_packets_total"] > before["palabra_forwarded_packets_total"]
    assert after["palabra_forwarded_bytes_total"] > 0
    assert after["process_resident_memory_bytes"] > 0
    assert after[f"palabra_forwarding_path,path={forwarding_path}"] == 1
    assert sum(v for k, v in after.items() if k.startswith("palabra_forwarding_path,")) == 1
    assert after["palabra_forwarding_send_errors_total"] == 0


async def test_health_and_readiness(server: RunningServer) -> None:
    async with aiohttp.ClientSession(f"http://127.0.0.1:{server.port}") as http:
        for path in ("/healthz", "/readyz"):
            async with http.get(path) as response:
                assert response.status == 200


async def test_repairs_of_the_publishers_loss_and_their_latency_are_in_the_feed(
    connect: ClientFactory,
) -> None:
    """5 % random loss on the publisher's leg: the server's NACKs repair video
    (retried after a round trip), the feed reports the repairs and their
    latency, and a listener ends up with far less loss than was on the wire.
    Audio has no NACK in WebRTC: its loss reaches the listener."""
    technician = await connect(name="Técnico", delegation=None, role="technician")
    publisher = await connect(name="Canciller", delegation="gt")
    await publisher.publish(video=ColourTrack("red"), audio=ToneTrack())
    listener = await connect(name="Sala", delegation="sv", decode=False)
    streams = await listener.wait_for_streams(2, frames=5, timeout=15)
    [video] = [s for s in streams if s.kind == "video"]
    [audio] = [s for s in streams if s.kind == "audio"]
    lossy(publisher, "video", 0.05)  # one bundled transport: audio's packets too
    start = {s.kind: (s.packets, s.lost) for s in (video, audio)}

    def video_in() -> Mapping[str, Any] | None:
        stats = [m for m in technician.messages if isinstance(m, MonitorStats)]
        return (
            next(
                (s for s in stats[-1].streams if s["direction"] == "in" and s["kind"] == "video"),
                None,
            )
            if stats
            else None
        )

    def repaired() -> bool:
        stream = video_in()
        return (
            stream is not None
            and stream["repairs"] >= 20
            and video.packets > start["video"][0] + 600
        )

    await technician.wait_for(repaired, timeout=60)
    stream = video_in()
    assert stream is not None
    p50, p95 = stream["repair_p50_ms"], stream["repair_p95_ms"]
    assert p50 is not None and p95 is not None and 0 < p50 <= p95
    assert stream["nacks"] > 0  # packets_lost stays 0: a repaired packet was received
    audio_in = next(
        s
        for s in latest_stats(technician).streams
        if s["direction"] == "in" and s["kind"] == "audio"
    )
    assert audio_in["repairs"] == 0  # no NACK for audio
    out = [s for s in latest_stats(technician).streams if s["direction"] == "out"]
    assert all(s["repairs"] is None and s["repair_p50_ms"] is None for s in out)

    def at_listener(s: Any) -> tuple[int, int]:
        packets, lost = s.packets - start[s.kind][0], s.lost - start[s.kind][1]
        return packets, lost

    (vp, vl), (ap, al) = at_listener(video), at_listener(audio)
    print(
        f"\nlistener after recovery: video {vl}/{vp + vl} lost, audio {al}/{ap + al} lost;"
        f" repairs {stream['repairs']}, p50 {p50} ms, p95 {p95} ms,"
        f" unrepaired {stream['unrepaired']}; video lost on the publisher's leg"
        f" {stream['repairs'] + stream['unrepaired']} of {stream['packets']} since the start"
    )
    # Video is repaired; audio is not (nothing asks for it again).
    assert vl / (vp + vl) < 0.01
    assert al > 0
