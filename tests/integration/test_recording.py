"""Recording the floor: each intervention to a file that plays, without transcoding."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import av
import pytest

from rooms import Settings
from server.tokens import issue_token

from .conftest import SECRET, ClientFactory, RunningServer, download_recordings
from .media_tracks import ColourTrack, ToneTrack, dominant_colour

# Both forwarding implementations, so that they never drift.
pytestmark = pytest.mark.usefixtures("forwarding_path")


@pytest.fixture
def settings() -> Settings:
    return Settings(lobby_enabled=False)


async def test_an_intervention_is_recorded_while_recording_is_on(
    server: RunningServer, connect: ClientFactory, tmp_path: Path
) -> None:
    chair = await connect(name="Presidencia", delegation=None, role="chair")
    speaker = await connect(name="Canciller de Guatemala", delegation="gt")
    await speaker.publish(video=ColourTrack("yellow"), audio=ToneTrack())
    await chair.wait_for(lambda: len(chair.producers) == 2)

    # Before recording starts, an intervention leaves no file.
    first = await speaker.command("floor.request", delegation_id="gt")
    [request] = [e for e in first.events if e["type"] == "floor.requested"]
    await chair.command("floor.grant", request_id=request["request_id"], unlimited=True)
    await speaker.command("floor.release", request_id=request["request_id"])

    started = await chair.command("recording.start")
    assert started.state["recording"] is True
    second = await speaker.command("floor.request", delegation_id="gt")
    [request] = [e for e in second.events if e["type"] == "floor.requested"]
    granted = await chair.command("floor.grant", request_id=request["request_id"], unlimited=True)
    [grant] = [e for e in granted.events if e["type"] == "floor.granted"]
    await asyncio.sleep(2.0)
    released = await speaker.command("floor.release", request_id=request["request_id"])
    [release] = [e for e in released.events if e["type"] == "floor.released"]
    await chair.command("recording.stop")

    token = issue_token(SECRET, conference="demo", role="technician", name="T")
    base = f"http://127.0.0.1:{server.port}/c/demo/recordings"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}?t={token}") as response:
            assert response.status == 200
            [entry] = (await response.json())["recordings"]
        assert entry["delegation"] == "Guatemala"
        assert entry["speaker"] == "Canciller de Guatemala"
        assert entry["request_id"] == request["request_id"]
        async with http.get(f"{base}/{entry['name']}?t={token}") as response:
            assert response.status == 200
            path = tmp_path / entry["name"]
            path.write_bytes(await response.read())
        async with http.get(f"{base}/../../etc/passwd?t={token}") as response:
            assert response.status == 404
        head_token = issue_token(SECRET, conference="demo", role="head", name="H", delegation="gt")
        async with http.get(f"{base}?t={head_token}") as response:
            assert response.status == 403

    spoken = float(release["at"]) - float(grant["at"])  # type: ignore[arg-type]
    with av.open(str(path)) as container:
        tags = {k.lower(): v for k, v in container.metadata.items()}
        assert tags["delegation"] == "Guatemala"
        kinds = {s.type for s in container.streams}
        assert kinds == {"audio", "video"}
        video = list(container.decode(video=0))
    assert video and dominant_colour(video[0]) == "yellow"
    with av.open(str(path)) as container:
        audio = [p for p in container.demux(audio=0) if p.pts is not None]
    duration = float((audio[-1].pts - audio[0].pts) * audio[0].time_base) + 0.02
    # The file holds every forwarded 20 ms packet, without gap or overlap: its
    # duration is the intervention's media, to within a frame.
    assert abs(duration - 0.02 * len(audio)) < 1 / 30, (duration, len(audio))
    # That media covers the intervention and never more: the synthetic
    # publisher paces itself by the clock, and lags when the machine is loaded.
    assert spoken - 0.5 < duration < spoken + 1 / 30, (duration, spoken)
    video_span = float(video[-1].time or 0) - float(video[0].time or 0)
    assert video_span > spoken - 0.5  # from the first keyframe on


async def test_a_screen_share_is_recorded_to_its_own_file(
    server: RunningServer, connect: ClientFactory, tmp_path: Path
) -> None:
    chair = await connect(name="Presidencia", delegation=None, role="chair")
    speaker = await connect(name="Canciller de Guatemala", delegation="gt")
    await speaker.publish(video=ColourTrack("yellow"), audio=ToneTrack())
    await chair.wait_for(lambda: len(chair.producers) == 2)
    await chair.command("recording.start")
    update = await speaker.command("floor.request", delegation_id="gt")
    [request] = [e for e in update.events if e["type"] == "floor.requested"]
    await chair.command("floor.grant", request_id=request["request_id"], unlimited=True)

    def presented(frames: int) -> bool:
        return any(s.source == "screen" and s.frames >= frames for s in chair.streams.values())

    await speaker.share_screen(ColourTrack("blue", 640, 360))
    await chair.wait_for(lambda: presented(20), timeout=15)
    # The speaker stops sharing and shares something else: a second presentation.
    await speaker.stop_sharing()
    await chair.wait_for(lambda: not presented(0), timeout=10)
    await speaker.share_screen(ColourTrack("green", 640, 360))
    await chair.wait_for(lambda: presented(20), timeout=15)
    await speaker.command("floor.release", request_id=request["request_id"])
    await chair.command("recording.stop")

    entries = await download_recordings(server, tmp_path)
    [share, again] = [e for e in entries if e["kind"] == "share"]
    [floor] = [e for e in entries if e["kind"] == "floor"]
    camera = tmp_path / str(floor["name"])
    # Which delegation presented, who, during which intervention, and when.
    assert share["delegation"] == floor["delegation"] == "Guatemala"
    assert share["presenter"] == again["presenter"] == "Canciller de Guatemala"
    assert share["request_id"] == again["request_id"] == request["request_id"]
    assert share["name"].endswith("-Guatemala-share-1.mkv")
    assert again["name"].endswith("-Guatemala-share-2.mkv")
    assert floor["started_at"] <= share["started_at"] < share["ended_at"]
    assert share["ended_at"] < again["started_at"] < again["ended_at"] <= floor["ended_at"]

    for entry, colour in ((share, "blue"), (again, "green")):
        with av.open(str(tmp_path / entry["name"])) as container:
            tags = {k.lower(): v for k, v in container.metadata.items()}
            assert tags["source"] == "screen" and tags["presenter"] == "Canciller de Guatemala"
            assert [s.type for s in container.streams] == ["video"]
            video = list(container.decode(video=0))
        assert len(video) == entry["video_frames"] >= 10
        assert {(f.width, f.height) for f in video} == {(640, 360)}
        # After the first frame: the client's sender may send one frame of the
        # old picture, captured before it swapped tracks, as the new share's first.
        assert {dominant_colour(f) for f in video[1:]} == {colour}
    # The intervention's own file still holds the camera, not the share.
    with av.open(str(camera)) as container:
        assert {s.type for s in container.streams} == {"audio", "video"}
        assert {dominant_colour(f) for f in container.decode(video=0)} == {"yellow"}
