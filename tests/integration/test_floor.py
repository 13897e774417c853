"""The floor is enforced in the media: audio is forwarded only while it is held."""

from __future__ import annotations

import asyncio

import pytest

from client import ClientError, PalabraClient, RemoteStream
from rooms import Settings

from .conftest import ClientFactory
from .media_tracks import ToneTrack


@pytest.fixture
def settings() -> Settings:
    # A short limit so that the automatic revoke happens within the test.
    return Settings(
        lobby_enabled=False, default_time_limit=1.5, warning_before=0.5, grace_period=0.5
    )


def audio_from(listener: PalabraClient, speaker: PalabraClient) -> RemoteStream:
    speaker_id = speaker.welcome.you.id  # type: ignore[union-attr]
    [stream] = [
        s for s in listener.streams.values() if s.participant_id == speaker_id and s.kind == "audio"
    ]
    return stream


async def wait_for_event(client: PalabraClient, event_type: str) -> dict[str, object]:
    def found() -> bool:
        return any(e["type"] == event_type for e in client.room_events)

    await client.wait_for(found, timeout=10)
    return next(dict(e) for e in client.room_events if e["type"] == event_type)


async def room(connect: ClientFactory) -> tuple[PalabraClient, PalabraClient, PalabraClient]:
    chair = await connect(name="Presidencia", delegation=None, role="chair")
    speaker = await connect(name="Canciller de Guatemala", delegation="gt")
    listener = await connect(name="Canciller de El Salvador", delegation="sv", decode=False)
    await speaker.publish(audio=ToneTrack())
    await listener.wait_for(lambda: len(listener.streams) == 1)
    return chair, speaker, listener


async def test_audio_flows_only_between_grant_and_revoke(connect: ClientFactory) -> None:
    chair, speaker, listener = await room(connect)
    stream = audio_from(listener, speaker)
    await asyncio.sleep(1.0)
    assert stream.packets == 0, "a delegation without the floor must not be heard"

    update = await speaker.command("floor.request", delegation_id="gt")
    [request] = [e for e in update.events if e["type"] == "floor.requested"]
    request_id = request["request_id"]
    await chair.command("floor.grant", request_id=request_id, unlimited=True)
    await listener.wait_for(lambda: stream.packets >= 10, timeout=5)

    await chair.command("floor.revoke", request_id=request_id)
    await wait_for_event(listener, "floor.revoked")
    at_revoke = stream.packets
    await asyncio.sleep(1.0)
    # Packets already on the wire when the floor closed may still land; no more.
    assert stream.packets - at_revoke <= 1


async def test_automatic_revoke_at_the_limit(connect: ClientFactory) -> None:
    chair, speaker, listener = await room(connect)
    stream = audio_from(listener, speaker)
    update = await speaker.command("floor.request", delegation_id="gt")
    [request] = [e for e in update.events if e["type"] == "floor.requested"]
    granted = await chair.command("floor.grant", request_id=request["request_id"])
    [grant] = [e for e in granted.events if e["type"] == "floor.granted"]
    assert grant["time_limit"] == 1.5
    await listener.wait_for(lambda: stream.packets >= 5, timeout=5)

    for event_type in ("floor.warning", "floor.overtime", "floor.revoked"):
        event = await wait_for_event(listener, event_type)
        assert event["request_id"] == request["request_id"]
    revoked = await wait_for_event(listener, "floor.revoked")
    assert revoked["actor"] == "system" and revoked["reason"] == "time_limit"
    assert revoked["at"] >= grant["revoke_at"]  # type: ignore[operator]
    at_revoke = stream.packets
    await asyncio.sleep(0.8)
    assert stream.packets - at_revoke <= 1
    assert listener.room["holders"] == []


async def test_the_chair_is_always_heard(connect: ClientFactory) -> None:
    chair = await connect(name="Presidencia", delegation=None, role="chair")
    listener = await connect(name="Escucha", delegation="cr", decode=False)
    await chair.publish(audio=ToneTrack())
    await listener.wait_for(lambda: len(listener.streams) == 1)
    stream = audio_from(listener, chair)
    await listener.wait_for(lambda: stream.packets >= 10, timeout=5)


async def test_a_muted_holder_is_not_heard(connect: ClientFactory) -> None:
    chair, speaker, listener = await room(connect)
    stream = audio_from(listener, speaker)
    update = await speaker.command("floor.request", delegation_id="gt")
    [request] = [e for e in update.events if e["type"] == "floor.requested"]
    await chair.command("floor.grant", request_id=request["request_id"], unlimited=True)
    await listener.wait_for(lambda: stream.packets >= 5, timeout=5)
    speaker_id = speaker.welcome.you.id  # type: ignore[union-attr]
    await chair.command("participant.mute", participant_id=speaker_id)
    await wait_for_event(listener, "participant.muted")
    at_mute = stream.packets
    await asyncio.sleep(0.8)
    assert stream.packets - at_mute <= 1


async def test_refused_commands_change_nothing(connect: ClientFactory) -> None:
    chair, speaker, listener = await room(connect)
    update = await speaker.command("floor.request", delegation_id="gt")
    [request] = [e for e in update.events if e["type"] == "floor.requested"]
    seq = chair.room_seq

    cases = [
        (listener, "floor.grant", {"request_id": request["request_id"]}, "forbidden"),
        (chair, "floor.grant", {"request_id": "no-such-request"}, "not_found"),
        (listener, "floor.request", {"delegation_id": "gt"}, "forbidden"),
        (speaker, "floor.request", {"delegation_id": "gt"}, "already_requested"),
        (
            chair,
            "floor.grant",
            {"request_id": request["request_id"], "time_limit": -5},
            "invalid_argument",
        ),
        (chair, "floor.reorder", {"request_id": request["request_id"]}, "invalid_argument"),
        (chair, "floor.revoke", {"request_id": request["request_id"]}, "invalid_state"),
    ]
    for client, kind, fields, code in cases:
        with pytest.raises(ClientError) as refused:
            await client.command(kind, **fields)
        assert refused.value.error.code == code, (kind, fields)
    await asyncio.sleep(0.2)
    assert chair.room_seq == seq


async def test_concurrent_chairs_take_one_order(connect: ClientFactory) -> None:
    chair, speaker, listener = await room(connect)
    second_chair = await connect(name="Vicepresidencia", delegation=None, role="chair")
    update = await speaker.command("floor.request", delegation_id="gt")
    [request] = [e for e in update.events if e["type"] == "floor.requested"]
    results = await asyncio.gather(
        chair.command("floor.grant", request_id=request["request_id"], unlimited=True),
        second_chair.command("floor.grant", request_id=request["request_id"], unlimited=True),
        return_exceptions=True,
    )
    granted = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, ClientError)]
    assert len(granted) == 1 and len(refused) == 1
    assert refused[0].error.code == "invalid_state"
    grants = [e for e in listener.room_events if e["type"] == "floor.granted"]
    await listener.wait_for(lambda: len(listener.room["holders"]) == 1)
    assert len(grants) <= 1
