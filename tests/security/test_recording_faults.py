"""Recording the floor of a speaker who sends no media: nothing breaks, nothing is lost.

Real aiortc peers against a real server: the holder joins but never
publishes; recording starts; the floor ends (stop, revoke, release) or the
server shuts down. Everyone gets the update, nobody is dropped, and the
recordings index lists no file that does not exist.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from client import PalabraClient

from ._http import RunningServer, serve


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    async with serve(tmp_path) as running:
        yield running


async def _join(
    server: RunningServer, role: str, name: str, delegation: str | None
) -> PalabraClient:
    client = PalabraClient(
        server.ws_url, server.token(role, name, delegation), media_addresses=["127.0.0.1"]
    )
    await client.join()
    return client


async def _silent_holder(
    server: RunningServer,
) -> tuple[PalabraClient, PalabraClient, PalabraClient, str]:
    """Chair, a head holding the floor without media, an observer; recording on."""
    chair = await _join(server, "chair", "Presidencia", None)
    head = await _join(server, "head", "Canciller", "gt")
    observer = await _join(server, "observer", "Prensa", "sv")
    await chair.command("recording.start")
    requested = await head.command("floor.request", delegation_id="gt")
    [request] = [e for e in requested.events if e["type"] == "floor.requested"]
    await chair.command("floor.grant", request_id=request["request_id"], unlimited=True)
    return chair, head, observer, str(request["request_id"])


def _seen(client: PalabraClient, event_type: str) -> bool:
    return any(e["type"] == event_type for e in client.room_events)


@pytest.mark.parametrize("ending", ["recording.stop", "floor.revoke", "floor.release"])
async def test_the_floor_of_a_silent_holder_ends_for_everyone(
    server: RunningServer, ending: str, tmp_path: Path
) -> None:
    chair, head, observer, request_id = await _silent_holder(server)
    try:
        await asyncio.sleep(0.3)
        if ending == "recording.stop":
            update = await chair.command("recording.stop")
            assert update.state["recording"] is False
            expected = "recording.stopped"
        elif ending == "floor.revoke":
            await chair.command("floor.revoke", request_id=request_id)
            expected = "floor.revoked"
        else:
            await head.command("floor.release", request_id=request_id)
            expected = "floor.released"
        for client in (chair, head, observer):
            await client.wait_for(lambda c=client: _seen(c, expected), timeout=5)
            assert not client.closed.is_set(), client.close_code
        # The chair can go on: the connection is alive and commands work.
        await chair.command("conference.lock")
        conference = server.palabra.conferences["demo"]
        assert conference.recorder.recording == frozenset()
        for entry in conference.recorder.index():
            assert conference.recorder.file(str(entry["name"])) is not None
            assert (tmp_path / "recordings" / "demo" / str(entry["name"])).exists()
    finally:
        for client in (chair, head, observer):
            await client.close()


async def test_shutdown_while_recording_a_silent_holder(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with serve(tmp_path) as server:
        chair, head, observer, _ = await _silent_holder(server)
        await asyncio.sleep(0.3)
    # Leaving the block shut the server down; it must not have failed doing so.
    for client in (chair, head, observer):
        await client.close()
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert failures == [], [r.getMessage() for r in failures]
