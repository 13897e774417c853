"""Presence: the room says within moments whose connection dropped, and the clock stops."""

from __future__ import annotations

import asyncio
import time

import pytest

from client import PalabraClient
from rooms import Settings

from .conftest import ClientFactory
from .media_tracks import ToneTrack

MEETING = Settings(lobby_enabled=False, default_time_limit=60.0)


@pytest.fixture
def settings() -> Settings:
    return MEETING


def presence(client: PalabraClient, pid: str) -> str | None:
    for participant in client.room.get("participants", []):
        if participant["participant_id"] == pid:
            return str(participant["presence"])
    return None


def turn(client: PalabraClient) -> dict[str, object]:
    [holder] = client.room["holders"]
    return dict(holder["turn"])


async def test_a_crashed_holder_is_marked_and_not_billed(connect: ClientFactory) -> None:
    chair = await connect(name="Presidencia", delegation=None, role="chair")
    speaker = await connect(name="Canciller", delegation="gt")
    pid = speaker.welcome.you.id  # type: ignore[union-attr]
    await speaker.publish(audio=ToneTrack())
    update = await speaker.command("floor.request", delegation_id="gt")
    [request] = [e for e in update.events if e["type"] == "floor.requested"]
    await chair.command("floor.grant", request_id=request["request_id"])
    assert presence(chair, pid) == "connected"

    resume = speaker.welcome.resume_token  # type: ignore[union-attr]
    dropped = time.monotonic()
    # The browser is gone, without a word: its signaling and its media stop.
    await asyncio.gather(speaker._reset_connection(), speaker._restart_media())
    await chair.wait_for(lambda: presence(chair, pid) == "reconnecting", timeout=3)
    assert turn(chair)["paused_at"] is None  # a reload would be back by now
    await chair.wait_for(lambda: presence(chair, pid) == "disconnected", timeout=3)
    assert time.monotonic() - dropped < 3.0
    assert turn(chair)["paused_at"] is not None  # the clock stopped
    assert chair.room["next_deadline"] is None
    paused = next(e for e in chair.room_events if e["type"] == "floor.paused")
    assert paused["actor"] == "system" and paused["reason"] == "holder_disconnected"

    await speaker.join(resume=resume)
    await chair.wait_for(lambda: presence(chair, pid) == "connected", timeout=5)
    resumed = next(e for e in chair.room_events if e["type"] == "floor.resumed")
    away = float(resumed["at"]) - float(paused["at"])  # type: ignore[arg-type]
    assert away > 0
    state = turn(chair)
    assert state["paused_at"] is None and state["paused_for"] == pytest.approx(away)
    # The limit counts speaking time only: its end moved by the time away.
    granted = next(e for e in chair.room_events if e["type"] == "floor.granted")
    assert resumed["expires_at"] == pytest.approx(float(granted["expires_at"]) + away)  # type: ignore[arg-type]
    assert [h["delegation_id"] for h in chair.room["holders"]] == ["gt"]
    assert not [e for e in chair.room_events if e["type"] == "participant.left"]


async def test_leaving_on_purpose_is_not_a_lost_connection(connect: ClientFactory) -> None:
    chair = await connect(name="Presidencia", delegation=None, role="chair")
    guest = await connect(name="Observadora", delegation=None, role="observer")
    pid = guest.welcome.you.id  # type: ignore[union-attr]
    await guest.leave()
    await chair.wait_for(lambda: presence(chair, pid) is None, timeout=3)
    assert not [e for e in chair.room_events if e["type"] == "participant.presence"]
