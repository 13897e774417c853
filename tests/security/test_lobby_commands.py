"""Threat: someone waiting in the lobby lets itself in through a forged command."""

from __future__ import annotations

import pytest

from rooms import Settings

from .conftest import ClientFactory
from .test_commands import enter, refused


@pytest.fixture
def settings() -> Settings:
    return Settings(lobby_enabled=True)


async def test_a_lobby_waiter_cannot_admit_itself(connect: ClientFactory) -> None:
    chair = await enter(connect, name="Presidencia", role="chair", delegation=None)
    waiter = await enter(connect, name="Espera", role="head", delegation="sv")
    pid = waiter.welcome.you.id if waiter.welcome else ""
    await refused(
        waiter, {"type": "floor.cancel", "kind": "participant.leave", "participant_id": pid}
    )
    await refused(
        waiter,
        {
            "type": "floor.cancel",
            "kind": "participant.join",
            "participant_id": pid,
            "name": "Espera",
            "role": "chair",
        },
    )
    code = await refused(waiter, {"type": "lobby.admit", "participant_id": pid})
    assert code in ("forbidden", "in_lobby")
    await chair.wait_for(lambda: any(w["participant_id"] == pid for w in chair.room["lobby"]))
    assert all(p["participant_id"] != pid for p in chair.room["participants"])
