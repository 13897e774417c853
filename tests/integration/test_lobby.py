"""Admission: the lobby, the lock, removal."""

from __future__ import annotations

import pytest

from client import ClientError, PalabraClient
from rooms import Settings

from .conftest import ClientFactory, RunningServer
from .media_tracks import ColourTrack


@pytest.fixture
def settings() -> Settings:
    return Settings(lobby_enabled=True)


def in_lobby(client: PalabraClient, participant: PalabraClient) -> bool:
    pid = participant.welcome.you.id  # type: ignore[union-attr]
    return any(p["participant_id"] == pid for p in client.room.get("lobby", []))


async def test_a_delegation_waits_until_the_chair_admits_it(connect: ClientFactory) -> None:
    chair = await connect(name="Presidencia", delegation=None, role="chair")
    await chair.publish(video=ColourTrack("red"))
    minister = await connect(name="Canciller", delegation="gt")
    assert in_lobby(minister, minister)
    await chair.wait_for(lambda: in_lobby(chair, minister))
    with pytest.raises(ClientError) as refused:
        await minister.publish(video=ColourTrack("green"))
    assert refused.value.error.code == "in_lobby"
    assert minister.streams == {}

    pid = minister.welcome.you.id  # type: ignore[union-attr]
    await chair.command("lobby.admit", participant_id=pid)
    await minister.wait_for(lambda: not in_lobby(minister, minister))
    # Admitted: the chair's video arrives, and publishing works.
    await minister.wait_for_streams(1, kind="video", frames=2, timeout=15)
    await minister.publish(video=ColourTrack("green"))
    await chair.wait_for_streams(1, kind="video", frames=2, timeout=15)


async def test_refused_from_the_lobby_closes_with_4003(connect: ClientFactory) -> None:
    chair = await connect(name="Presidencia", delegation=None, role="chair")
    minister = await connect(name="Intruso", delegation="sv")
    pid = minister.welcome.you.id  # type: ignore[union-attr]
    await chair.command("lobby.reject", participant_id=pid, reason="not accredited")
    await minister.wait_for(minister.closed.is_set)
    assert minister.close_code == 4003
    assert not in_lobby(chair, minister)


async def test_removed_participant_is_disconnected(connect: ClientFactory) -> None:
    chair = await connect(name="Presidencia", delegation=None, role="chair")
    minister = await connect(name="Canciller", delegation="cr")
    pid = minister.welcome.you.id  # type: ignore[union-attr]
    await chair.command("lobby.admit", participant_id=pid)
    await minister.publish(video=ColourTrack("blue"))
    await chair.wait_for(lambda: len(chair.streams) == 1)
    await chair.command("participant.remove", participant_id=pid)
    await minister.wait_for(minister.closed.is_set)
    assert minister.close_code == 4003
    await chair.wait_for(lambda: not chair.streams and pid not in chair.participants)


async def test_a_locked_room_refuses_new_delegations(
    server: RunningServer, connect: ClientFactory
) -> None:
    chair = await connect(name="Presidencia", delegation=None, role="chair")
    await chair.command("conference.lock")
    late = PalabraClient(
        server.ws_url, server.token(name="Tarde", delegation="gt"), media_addresses=["127.0.0.1"]
    )
    try:
        with pytest.raises(ClientError) as refused:
            await late.join()
        assert refused.value.error.code == "room_locked"
        assert late.close_code == 4001
    finally:
        await late.close()
    technician = await connect(name="Técnico", delegation=None, role="technician")
    assert technician.welcome is not None  # staff still get in
