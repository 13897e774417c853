"""Joining, the welcome snapshot, and the server shutting down."""

from __future__ import annotations

from .conftest import ClientFactory, RunningServer
from .media_tracks import ColourTrack


async def test_welcome_lists_who_is_there_and_what_is_published(
    connect: ClientFactory,
) -> None:
    chair = await connect(name="Presidencia", delegation=None, role="chair")
    await chair.publish(video=ColourTrack("red"))
    await chair.wait_for(lambda: len(chair.producers) == 1)
    minister = await connect(name="Canciller", delegation="sv")

    welcome = minister.welcome
    assert welcome is not None
    assert welcome.conference.id == "demo"
    assert welcome.you.name == "Canciller" and welcome.you.delegation is not None
    assert welcome.you.delegation.name == "El Salvador"
    assert [p.name for p in welcome.participants] == ["Presidencia"]
    assert [p.participant_id for p in welcome.producers] == [chair.welcome.you.id]  # type: ignore[union-attr]
    await chair.wait_for(lambda: minister.welcome.you.id in chair.participants)  # type: ignore[union-attr]


async def test_shutdown_closes_every_connection_with_1001(
    server: RunningServer, connect: ClientFactory
) -> None:
    first = await connect(name="Uno", delegation="gt")
    second = await connect(name="Dos", delegation="cr")
    await server.palabra.shutdown()
    for client in (first, second):
        await client.wait_for(client.closed.is_set)
        assert client.close_code == 1001
        assert client.close_reason == "server shutting down"
