"""Recording muxes forwarded payloads into files that play, without encoding."""

from __future__ import annotations

import itertools
from pathlib import Path

import av
import pytest

from client.clip import Clip, encode_audio, encode_video
from media.recorder import Recording, vp8_dimensions


def packetize_vp8(frame: bytes, size: int = 1100) -> list[bytes]:
    """RFC 7741 payloads: a one-byte descriptor, S set on the first."""
    chunks = [frame[i : i + size] for i in range(0, len(frame), size)]
    return [bytes([0x10 if i == 0 else 0x00]) + chunk for i, chunk in enumerate(chunks)]


def test_dimensions_come_from_the_keyframe() -> None:
    clip = encode_video(width=320, height=180, seconds=0.2)
    first = min(clip.keyframes)
    assert vp8_dimensions(clip.packets[first]) == (320, 180)
    inter = next(i for i in range(len(clip.packets)) if i not in clip.keyframes)
    assert vp8_dimensions(clip.packets[inter]) is None


@pytest.mark.parametrize("start_mid_gop", [False, True])
def test_a_recording_reads_back_with_the_right_duration(
    tmp_path: Path, start_mid_gop: bool
) -> None:
    video, audio = encode_video(seconds=2.0, gop=30), encode_audio(seconds=2.0)
    path = tmp_path / "intervention.mkv"
    recording = Recording(path, {"title": "Intervención 1", "delegation": "Guatemala"})
    skip = 10 if start_mid_gop else 0  # frames before the next keyframe are dropped
    for i in range(skip, 60):
        ts = i * 3000
        for j, payload in enumerate(packetize_vp8(video.packets[i])):
            last = j == len(packetize_vp8(video.packets[i])) - 1
            recording.video_packet(ts, last, payload)
        for k in (2 * i, 2 * i + 1):
            recording.audio_packet(k * 960 + 123_456, audio.packets[k % len(audio.packets)])
    recorded = recording.close()

    with av.open(str(path)) as container:
        tags = {key.lower(): value for key, value in container.metadata.items()}
        assert tags["delegation"] == "Guatemala"
        kinds = {s.type: s for s in container.streams}
        assert set(kinds) == {"audio", "video"}
        assert kinds["video"].codec_context.name == "vp8"
        assert (kinds["video"].codec_context.width, kinds["video"].codec_context.height) == (
            640,
            360,
        )
        frames = list(container.decode(video=0))
    expected = (60 - 30) if start_mid_gop else 60
    assert len(frames) == expected == recorded.video_frames
    assert recorded.audio_frames == 2 * (60 - skip)
    duration = (frames[-1].time or 0) - (frames[0].time or 0)
    assert duration == pytest.approx((expected - 1) / 30, abs=1 / 30 + 0.05)


def test_a_handover_inside_an_audio_file_keeps_it_continuous(tmp_path: Path) -> None:
    """Two sources with unrelated RTP clocks: one run of 20 ms frames, a chapter each."""
    audio = encode_audio(seconds=1.0)
    path = tmp_path / "channel-en.mkv"
    recording = Recording(path, {"channel": "en"}, video=False, language="en")
    recording.audio_source("Intérprete 1")
    for k in range(20):
        recording.audio_packet(1_000_000 + k * 960, audio.packets[k])
    recording.audio_source("Intérprete 2")
    for k in range(30):  # a clock far behind the first one's
        recording.audio_packet(5 + k * 960, audio.packets[k])
    recording.audio_source(None)  # off air: nothing more comes
    recorded = recording.close()

    assert recorded.audio_frames == 50
    assert [(c.title, c.end_ms - c.start_ms) for c in recorded.chapters] == [
        ("Intérprete 1", 400),
        ("Intérprete 2", 600),
    ]
    with av.open(str(path)) as container:
        [stream] = container.streams
        assert stream.metadata.get("language") == "en"
        titles = [c["metadata"]["title"] for c in container.chapters()]
        pts = [p.pts for p in container.demux(audio=0) if p.pts is not None]
    assert titles == ["Intérprete 1", "Intérprete 2"]
    assert len(pts) == 50
    assert all(b - a >= 20 for a, b in itertools.pairwise(pts))  # nothing dropped or overlapping
    assert pts[20] - pts[19] < 40  # the switch is placed right after the last frame


def test_an_audio_file_without_any_source_is_not_written(tmp_path: Path) -> None:
    path = tmp_path / "channel-pt.mkv"
    recording = Recording(path, {"channel": "pt"}, video=False)
    recording.audio_source("Intérprete")
    recording.audio_source(None)
    recorded = recording.close()
    assert recorded.path is None and recorded.chapters == ()
    assert not path.exists()


def test_a_switch_of_video_source_keeps_one_decodable_track(tmp_path: Path) -> None:
    """Two simulcast layers with unrelated RTP clocks and sizes: one track, every frame decodes."""
    high = encode_video(640, 360, seconds=1.0, gop=15)
    low = encode_video(320, 180, seconds=1.0, gop=15)
    path = tmp_path / "intervention.mkv"
    recording = Recording(path, {"title": "Intervención"}, video=False)

    def frames(clip: Clip, first: int, count: int, clock: int) -> None:
        for i in range(first, first + count):
            payloads = packetize_vp8(clip.packets[i])
            for j, payload in enumerate(payloads):
                recording.video_packet(clock + i * 3000, j == len(payloads) - 1, payload)

    frames(high, 0, 10, 4_000_000_000)
    recording.video_source()
    frames(low, 10, 5, 7)  # inter frames of the new layer: no keyframe yet, dropped
    later = min(k for k in low.keyframes if k >= 15)
    frames(low, later, 10, 7)
    recording.video_source()
    frames(high, 15, 10, 4_000_000_000)  # from its keyframe (gop 15)
    recorded = recording.close()

    with av.open(str(path)) as container:
        decoded = list(container.decode(video=0))
    assert len(decoded) == recorded.video_frames == 30
    assert [f.width for f in decoded] == [640] * 10 + [320] * 10 + [640] * 10
    assert all(b.pts > a.pts for a, b in itertools.pairwise(decoded))


def test_a_source_whose_clock_jumps_goes_on_after_its_last_frame(tmp_path: Path) -> None:
    """A publisher that reconnects or swaps tracks restarts its RTP clock,
    backwards or far ahead: every frame is kept, in order, right after the last."""
    video, audio = encode_video(seconds=1.0, gop=60), encode_audio(seconds=1.0)
    path = tmp_path / "intervention.mkv"
    recording = Recording(path, {"title": "Intervención"})
    clocks = [(0, 3_000_000_000), (10, 2_999_000_000), (20, 500)]  # back 11 s, then wrapping
    for i in range(30):
        start, base = max(c for c in clocks if c[0] <= i)
        payloads = packetize_vp8(video.packets[i])
        for j, payload in enumerate(payloads):
            recording.video_packet(base + (i - start) * 3000, j == len(payloads) - 1, payload)
        for k in (2 * i, 2 * i + 1):  # audio: a new clock from the 40th packet on
            base = 7 if k < 40 else 4_000_000_000
            recording.audio_packet(base + k * 960, audio.packets[k % len(audio.packets)])
    recorded = recording.close()

    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    with av.open(str(path)) as container:
        sound = [p.pts for p in container.demux(audio=0) if p.pts is not None]
    assert len(frames) == recorded.video_frames == 30
    assert all(b.pts > a.pts for a, b in itertools.pairwise(frames))
    assert len(sound) == recorded.audio_frames == 60
    assert all(b - a >= 20 for a, b in itertools.pairwise(sound))
    # Fed at once: each file's time spans what its clocks say, without the jumps.
    assert (frames[-1].pts or 0) - (frames[0].pts or 0) < 2000
    assert sound[-1] - sound[0] < 2000
