"""Screen sharing: a presentation on an extra video m-line, forwarded while the floor allows.

Real aiortc peers: the sharer publishes its camera (small, red) and a share
(large, blue) on one publisher connection; listeners decode what reaches them.
"""

from __future__ import annotations

import pytest

from client import ClientError, PalabraClient, RemoteStream
from rooms import Settings
from signaling import Limits, MonitorStats, ProducerRemoved, ShareStopped

from .conftest import ClientFactory, RunningServer
from .media_tracks import ColourTrack, dominant_colour

SHARE_SIZE = (640, 360)


@pytest.fixture
def settings() -> Settings:
    # Short warning and grace, so that a timed turn ends within a test.
    return Settings(lobby_enabled=False, warning_before=0.5, grace_period=0.5)


def pid(client: PalabraClient) -> str:
    assert client.welcome is not None
    return client.welcome.you.id


def share_track() -> ColourTrack:
    return ColourTrack("blue", *SHARE_SIZE)


def share_stream(client: PalabraClient) -> RemoteStream | None:
    return next((s for s in client.streams.values() if s.source == "screen"), None)


async def receives_share(listener: PalabraClient, sharer: PalabraClient) -> RemoteStream:
    """Wait until decoded frames of the sharer's share reach the listener."""
    await listener.wait_for(
        lambda: (s := share_stream(listener)) is not None and s.frames >= 3, timeout=15
    )
    stream = share_stream(listener)
    assert stream is not None and stream.participant_id == pid(sharer)
    return stream


async def stopped(client: PalabraClient) -> ShareStopped:
    await client.wait_for(lambda: any(isinstance(m, ShareStopped) for m in client.messages), 10)
    return next(m for m in client.messages if isinstance(m, ShareStopped))


async def share_gone(client: PalabraClient, producer_id: str) -> None:
    """The share's producer removed and its m-line no longer offered."""
    await client.wait_for(
        lambda: (
            producer_id not in client.producers
            and any(isinstance(m, ProducerRemoved) for m in client.messages)
            and share_stream(client) is None
        ),
        timeout=10,
    )


async def granted(
    chair: PalabraClient, head: PalabraClient, delegation: str, time_limit: float | None = None
) -> str:
    update = await head.command("floor.request", delegation_id=delegation)
    [request] = [e for e in update.events if e["type"] == "floor.requested"]
    request_id = str(request["request_id"])
    if time_limit is None:
        await chair.command("floor.grant", request_id=request_id, unlimited=True)
    else:
        await chair.command("floor.grant", request_id=request_id, time_limit=time_limit)
    return request_id


async def meeting(
    connect: ClientFactory,
) -> tuple[PalabraClient, PalabraClient, PalabraClient]:
    chair = await connect(name="Presidencia", delegation=None, role="chair")
    head = await connect(name="Canciller de Guatemala", delegation="gt")
    listener = await connect(name="Canciller de El Salvador", delegation="sv")
    await head.publish(video=ColourTrack("red"))
    await listener.wait_for(lambda: len(listener.streams) == 1, timeout=10)
    return chair, head, listener


async def test_the_holder_shares_and_everyone_receives_it_large(
    connect: ClientFactory, server: RunningServer
) -> None:
    chair, head, listener = await meeting(connect)
    await granted(chair, head, "gt")
    await head.share_screen(share_track())

    stream = await receives_share(listener, head)
    assert stream.kind == "video"
    frame = stream.last_frame
    assert (frame.width, frame.height) == SHARE_SIZE
    assert dominant_colour(frame) == "blue"
    # The camera goes on beside it, at its own size.
    [camera] = [s for s in listener.streams.values() if s.source is None and s.kind == "video"]
    assert camera.participant_id == pid(head)
    await listener.wait_for(lambda: camera.frames >= 1, timeout=10)
    assert (camera.last_frame.width, camera.last_frame.height) == (320, 180)
    assert [p.source for p in listener.producers.values()].count("screen") == 1
    # The chair sees it too; the sharer is not sent its own share.
    await receives_share(chair, head)
    assert share_stream(head) is None
    # Forwarded, never decoded or encoded on the server.
    assert server.palabra.conferences["demo"].router.codec_activity() == (0, 0)

    # The monitoring feed labels it, in and out.
    def labelled() -> set[str]:
        return {
            str(s["direction"])
            for m in chair.messages
            if isinstance(m, MonitorStats)
            for s in m.streams
            if s.get("source") == "screen" and s["producer_id"] == stream.producer_id
        }

    await chair.wait_for(lambda: labelled() == {"in", "out"}, timeout=10)


async def test_revoking_the_floor_stops_the_share(connect: ClientFactory) -> None:
    chair, head, listener = await meeting(connect)
    request_id = await granted(chair, head, "gt")
    await head.share_screen(share_track())
    stream = await receives_share(listener, head)

    await chair.command("floor.revoke", request_id=request_id)
    message = await stopped(listener)
    assert message.participant_id == pid(head)
    assert message.producer_id == stream.producer_id
    assert message.reason == "floor" and message.actor == pid(chair)
    await share_gone(listener, stream.producer_id)
    assert (await stopped(head)).reason == "floor"  # the sharer is told too


async def test_releasing_the_floor_stops_the_share(connect: ClientFactory) -> None:
    chair, head, listener = await meeting(connect)
    request_id = await granted(chair, head, "gt")
    await head.share_screen(share_track())
    stream = await receives_share(listener, head)

    await head.command("floor.release", request_id=request_id)
    message = await stopped(listener)
    assert message.reason == "floor" and message.actor == pid(head)
    await share_gone(listener, stream.producer_id)


async def test_the_automatic_revoke_stops_the_share(connect: ClientFactory) -> None:
    chair, head, listener = await meeting(connect)
    await granted(chair, head, "gt", time_limit=6)
    await head.share_screen(share_track())
    stream = await receives_share(listener, head)

    message = await stopped(listener)  # at the limit plus the grace period
    assert message.reason == "floor" and message.actor == "system"
    assert [e["reason"] for e in listener.room_events if e["type"] == "floor.revoked"] == [
        "time_limit"
    ]
    await share_gone(listener, stream.producer_id)


async def test_a_delegation_without_the_floor_cannot_share(
    connect: ClientFactory, server: RunningServer
) -> None:
    chair, head, listener = await meeting(connect)
    router = server.palabra.conferences["demo"].router
    before = {p.id for p in router.producers_of(pid(head))}

    with pytest.raises(ClientError) as refused:
        await head.share_screen(share_track())
    assert refused.value.error.code == "forbidden"
    # Nothing changed: no producer, nothing offered, nobody told.
    assert {p.id for p in router.producers_of(pid(head))} == before
    assert all(p.source is None for p in listener.producers.values())
    assert share_stream(listener) is None
    assert not any(isinstance(m, ShareStopped) for m in listener.messages)

    # Given the floor, the same seat shares on the same connection.
    await granted(chair, head, "gt")
    await head.share_screen(share_track())
    await receives_share(listener, head)


async def test_the_chair_stops_a_share(connect: ClientFactory) -> None:
    chair, head, listener = await meeting(connect)
    await granted(chair, head, "gt")
    await head.share_screen(share_track())
    stream = await receives_share(listener, head)

    # Only the chair may stop someone else's share.
    with pytest.raises(ClientError) as refused:
        await listener.stop_share(pid(head))
    assert refused.value.error.code == "forbidden"
    assert share_stream(listener) is stream

    reply = await chair.stop_share(pid(head))
    assert reply.reason == "chair" and reply.actor == pid(chair)
    assert (await stopped(listener)).reason == "chair"
    await share_gone(listener, stream.producer_id)
    # Stopping it again changes nothing.
    with pytest.raises(ClientError) as again:
        await chair.stop_share(pid(head))
    assert again.value.error.code == "invalid_state"


async def test_sharing_again_reuses_the_m_line(
    connect: ClientFactory, server: RunningServer
) -> None:
    chair, head, listener = await meeting(connect)
    await granted(chair, head, "gt")
    first_mid = await head.share_screen(share_track())
    first = await receives_share(listener, head)
    await head.stop_sharing()
    assert (await stopped(listener)).reason == "sharer"
    await share_gone(listener, first.producer_id)

    again_mid = await head.share_screen(share_track())
    assert again_mid == first_mid
    again = await receives_share(listener, head)
    assert again.producer_id == first.producer_id  # the same m-line, the same producer
    transport = server.palabra.conferences["demo"].router.peers[pid(head)]
    assert len(transport.producers) == 2  # camera and share, never more


async def test_one_share_at_a_time(connect: ClientFactory) -> None:
    chair, head, listener = await meeting(connect)
    await granted(chair, head, "gt")
    await head.share_screen(share_track())
    await receives_share(listener, head)

    with pytest.raises(ClientError) as refused:
        await chair.share_screen(ColourTrack("green", *SHARE_SIZE))
    assert refused.value.error.code == "invalid_state"
    # The chair may share once the delegation's share is stopped (no floor needed).
    await chair.stop_share(pid(head))
    await chair.share_screen(ColourTrack("green", *SHARE_SIZE))
    await listener.wait_for(
        lambda: (
            (s := share_stream(listener)) is not None
            and s.participant_id == pid(chair)
            and s.frames >= 1
        ),
        timeout=15,
    )


@pytest.mark.parametrize("max_tracks", [2])
async def test_the_track_quota_counts_the_share(
    connect: ClientFactory, server: RunningServer, max_tracks: int
) -> None:
    server.palabra.config.limits = Limits(max_tracks=max_tracks)
    chair, head, listener = await meeting(connect)
    await granted(chair, head, "gt")
    await head.publish(video=ColourTrack("yellow"))  # a second camera: two m-lines
    with pytest.raises(ClientError) as refused:
        await head.share_screen(share_track())
    assert refused.value.error.code == "limit_reached"
    assert share_stream(listener) is None
