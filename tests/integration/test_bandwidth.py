"""Each subscriber's videos fit its downlink, floor first; last-N videos at most.

Publishers send pre-encoded VP8 (~250 kbit/s) and Opus (client/clip.py), so
their rates hold whatever the machine's load. The limited subscriber binds
its own loopback address; an nftables rate limit on datagrams to that
address (in the test's network namespace) is its narrow downlink.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from client import PalabraClient, RemoteStream
from client.clip import LoopTrack, encode_audio, encode_video
from media.allocation import Reason
from rooms import Settings
from signaling import MonitorAlert, MonitorStats
from tests.rate_limit import limit_udp, nft_table

from .conftest import RunningServer, demo_plan, running_server

TABLE = "palabra_downlink"
LIMITED_ADDRESS = "127.0.0.5"
LIMIT_KBYTES = 50  # 400 kbit/s: the floor's video and audio fit, one more video does not
VIDEO = encode_video(320, 180, seconds=4.0, bitrate=250_000, gop=120)
AUDIO = encode_audio(1.0)
SETTINGS = Settings(lobby_enabled=False)


@pytest.fixture
def nft() -> Iterator[None]:
    with nft_table(TABLE):
        yield


def limit_downlink(address: str, kbytes: int) -> None:
    limit_udp(TABLE, f"ip daddr {address} meta l4proto udp", kbytes)


class Room:
    """A chair, publishing heads of delegation, listeners; all closed at the end."""

    def __init__(self, server: RunningServer, stack: AsyncExitStack) -> None:
        self.server = server
        self._stack = stack

    async def join(
        self, name: str, delegation: str | None, role: str = "head", **kw: object
    ) -> PalabraClient:
        client = PalabraClient(
            self.server.ws_url,
            self.server.token(role, name, delegation),
            media_addresses=["127.0.0.1"],
            **kw,  # type: ignore[arg-type]
        )
        self._stack.push_async_callback(client.close)
        await client.join()
        return client

    async def publisher(
        self, name: str, delegation: str | None, role: str = "head"
    ) -> PalabraClient:
        # Publish-only (no subscriber connection): the test process stays light.
        client = await self.join(name, delegation, role, subscribe=False)
        await client.publish(video=LoopTrack(VIDEO), audio=LoopTrack(AUDIO))
        return client

    async def give_floor(
        self, chair: PalabraClient, speaker: PalabraClient, delegation: str
    ) -> None:
        update = await speaker.command("floor.request", delegation_id=delegation)
        [request] = [e for e in update.events if e["type"] == "floor.requested"]
        await chair.command("floor.grant", request_id=request["request_id"], unlimited=True)


@pytest.fixture
async def room(tmp_path: Path) -> AsyncIterator[Room]:
    plans = [demo_plan(SETTINGS)]
    async with (
        running_server(plans, recordings=tmp_path / "rec", last_n=3) as s,
        AsyncExitStack() as stack,
    ):
        yield Room(s, stack)


def of(client: PalabraClient, owner: PalabraClient, kind: str) -> RemoteStream:
    pid = owner.welcome.you.id  # type: ignore[union-attr]
    [stream] = [s for s in client.streams.values() if s.participant_id == pid and s.kind == kind]
    return stream


async def test_a_narrow_downlink_keeps_the_floor_and_pauses_the_other_videos(
    room: Room, nft: None
) -> None:
    chair = await room.join("Presidencia", None, role="chair")
    floor = await room.publisher("Canciller de Guatemala", "gt")
    others = [
        await room.publisher("Canciller de El Salvador", "sv"),
        await room.publisher("Canciller de Costa Rica", "cr"),
    ]
    await room.give_floor(chair, floor, "gt")
    listener = await room.join("OEA", "oea", decode=False, local_address=LIMITED_ADDRESS)
    await listener.wait_for_streams(3, kind="video", frames=10, timeout=20)
    floor_video, floor_audio = of(listener, floor, "video"), of(listener, floor, "audio")
    await listener.wait_for(lambda: floor_audio.packets > 20, timeout=10)
    assert all(of(listener, o, "video").forwarded for o in [floor, *others])

    limit_downlink(LIMITED_ADDRESS, LIMIT_KBYTES)
    held = [of(listener, o, "video") for o in others]
    await listener.wait_for(
        lambda: all(s.forwarded is False for s in held) and floor_video.forwarded is True,
        timeout=30,
    )
    conference = room.server.palabra.conferences["demo"]
    listener_id = listener.welcome.you.id  # type: ignore[union-attr]
    downlink = conference.media.bandwidth.downlinks[listener_id]
    assert downlink.estimator.estimate is not None
    assert downlink.estimator.estimate < 800_000
    reasons = {d.reason for d in downlink.decisions.values() if d.layer is None}
    assert reasons == {Reason.BANDWIDTH}

    # The queue the policer let build drains; then the floor goes on alone, whole.
    await asyncio.sleep(1.5)
    lost = (floor_video.lost, floor_audio.lost)
    frames, audio_packets = floor_video.frames, floor_audio.packets
    held_packets = [s.packets for s in held]
    await listener.wait_for(lambda: floor_video.frames >= frames + 60, timeout=10)
    await listener.wait_for(lambda: floor_audio.packets >= audio_packets + 100, timeout=10)
    # (A gap of before may have been repaired since: the count only falls.)
    assert floor_video.lost <= lost[0], "the floor video lost packets"
    assert floor_audio.lost == lost[1], "the floor audio lost packets"
    assert [s.packets for s in held] == held_packets
    assert all(s.forwarded is False for s in held), "a held video came back meanwhile"

    # The technicians (and the chair) are told, once it lasts; their feed says
    # which videos are held for whom, and why.
    key = f"bandwidth:{listener_id}"
    await listener.wait_for(lambda: key in conference.monitor.alerts.active, timeout=10)
    assert conference.monitor.alerts.active[key].kind == "bandwidth_limited"

    def alerted() -> bool:
        return any(
            isinstance(m, MonitorAlert) and m.alert["id"] == key and m.state == "raised"
            for m in chair.messages
        )

    def feed_says_held() -> bool:
        feed = [m for m in chair.messages if isinstance(m, MonitorStats)]
        rows = [
            s
            for s in (feed[-1].streams if feed else ())
            if s["subscriber_id"] == listener_id and s["kind"] == "video"
        ]
        held = sorted(str(s["held"]) for s in rows)
        return held == ["None", "bandwidth", "bandwidth"] and all(
            isinstance(s["estimate_kbps"], float) for s in rows
        )

    await chair.wait_for(alerted, timeout=5)
    await chair.wait_for(feed_says_held, timeout=5)


async def test_beyond_last_n_only_the_floor_the_chair_and_recent_speakers_are_seen(
    room: Room,
) -> None:
    chair = await room.publisher("Presidencia", None, role="chair")
    # Guatemala also receives (without decoding): it is among the last N itself.
    gt = await room.join("Canciller de Guatemala", "gt", decode=False)
    await gt.publish(video=LoopTrack(VIDEO), audio=LoopTrack(AUDIO))
    sv = await room.publisher("Canciller de El Salvador", "sv")
    cr = await room.publisher("Canciller de Costa Rica", "cr")
    listener = await room.join("OEA", "oea", decode=False)
    await listener.wait_for(
        lambda: len([s for s in listener.streams.values() if s.kind == "video"]) == 4, timeout=20
    )

    def seen() -> set[str]:
        return {
            s.participant_id
            for s in listener.streams.values()
            if s.kind == "video" and s.forwarded is not False
        }

    ids = {c: c.welcome.you.id for c in (chair, gt, sv, cr)}  # type: ignore[union-attr]
    # Four videos, last-N of 3: Guatemala holds the floor, then the chair, then
    # whoever is next (nobody has spoken yet).
    await room.give_floor(chair, gt, "gt")
    await listener.wait_for(lambda: len(seen()) == 3 and {ids[gt], ids[chair]} <= seen(), 10)
    [left_out] = set(ids.values()) - seen()
    conference = room.server.palabra.conferences["demo"]
    listener_id = listener.welcome.you.id  # type: ignore[union-attr]
    held = [
        d
        for d in conference.media.bandwidth.downlinks[listener_id].decisions.values()
        if d.layer is None
    ]
    assert [d.reason for d in held] == [Reason.LAST_N]
    # Guatemala is not sent its own video, so it is not counted in its own
    # last N: it sees the three others.
    gt_id = ids[gt]

    def gt_decisions() -> list[object]:
        downlink = conference.media.bandwidth.downlinks.get(gt_id)
        return [] if downlink is None else list(downlink.decisions.values())

    await gt.wait_for(lambda: len(gt_decisions()) == 3, 10)
    assert all(d.layer is not None for d in gt_decisions())  # type: ignore[attr-defined]

    # The floor goes to whoever was left out: their video comes back (a
    # keyframe first); Guatemala stays as the most recent speaker.
    newcomer = next(c for c, pid in ids.items() if pid == left_out)
    delegation = "sv" if newcomer is sv else "cr"
    await chair.command("floor.revoke", request_id=_holding(conference))
    await room.give_floor(chair, newcomer, delegation)
    await listener.wait_for(lambda: seen() == {ids[newcomer], ids[chair], ids[gt]}, 10)
    stream = of(listener, newcomer, "video")
    before = stream.frames
    await listener.wait_for(lambda: stream.frames >= before + 30 and stream.keyframes > 0, 15)
    [dropped] = set(ids.values()) - seen()
    gone = next(
        s for s in listener.streams.values() if s.participant_id == dropped and s.kind == "video"
    )
    stopped = gone.packets
    await listener.wait_for(lambda: stream.frames >= before + 60, 10)
    assert gone.packets == stopped


def _holding(conference: object) -> str:
    [request] = conference.state.floor.holders()  # type: ignore[attr-defined]
    request_id: str = request.request_id
    return request_id
