"""An observer delegation (the OAS) with real peers: silent and refused until the chair
opens an item to observers, then inscribed and heard; never a ballot, never in the roll call."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from client import ClientError, PalabraClient
from rooms import Settings

from .conftest import ClientFactory, RunningServer
from .media_tracks import ToneTrack
from .test_floor import audio_from

MEETING = Settings(lobby_enabled=False, default_time_limit=None, open_floor=False)


@pytest.fixture
def settings() -> Settings:
    return MEETING


async def refused(client: PalabraClient, kind: str, **fields: object) -> str:
    with pytest.raises(ClientError) as caught:
        await client.command(kind, **fields)
    return caught.value.error.code


def titles(text: str) -> list[dict[str, str]]:
    return [{"language": "es", "text": text}]


async def test_an_observer_speaks_only_on_its_item_and_never_votes(
    server: RunningServer, connect: ClientFactory
) -> None:
    chair = await connect(name="Presidencia", delegation=None, role="chair")
    gt = await connect(name="Canciller de Guatemala", delegation="gt")
    oea = await connect(name="Secretario General de la OEA", delegation="oea")
    listener = await connect(name="Canciller de Costa Rica", delegation="cr", decode=False)
    await oea.publish(audio=ToneTrack())
    await listener.wait_for(lambda: len(listener.streams) == 1)
    stream = audio_from(listener, oea)
    assert [d["observer"] for d in chair.room["delegations"] if d["delegation_id"] == "oea"] == [
        True
    ]

    await chair.command("agenda.add_item", item_id="ronda", titles=titles("Ronda"))
    await chair.command(
        "agenda.add_item",
        item_id="observadores",
        titles=titles("Declaraciones de observadores"),
        observers=True,
    )
    # Not on the members' item: neither inscribed nor listed, by anyone.
    assert (
        await refused(chair, "agenda.inscribe", item_id="ronda", delegation_id="oea") == "forbidden"
    )
    await chair.command("agenda.open_item", item_id="ronda")
    assert await refused(oea, "floor.request", delegation_id="oea") == "forbidden"
    assert await refused(chair, "floor.request", delegation_id="oea") == "forbidden"
    assert chair.room["queue"] == []

    # Business on the members' item: the observer has no ballot and is not called.
    await chair.command("rollcall.start")
    assert await refused(oea, "rollcall.answer", delegation_id="oea") == "forbidden"
    assert await refused(chair, "rollcall.answer", delegation_id="oea") == "forbidden"
    await gt.command("rollcall.answer", delegation_id="gt")
    closed = await chair.command("rollcall.close")
    [result] = [e for e in closed.events if e["type"] == "rollcall.closed"]
    assert "oea" not in result["present"] and "oea" not in result["absent"]
    opened = await chair.command("decision.open_vote", text="¿Se adopta?")
    [vote] = [e for e in opened.events if e["type"] == "decision.vote_opened"]
    decision_id = vote["decision_id"]
    assert await refused(oea, "decision.vote", decision_id=decision_id, ballot="yes") == "forbidden"
    assert await refused(chair, "decision.designate", delegation_id="oea") == "forbidden"
    await gt.command("decision.vote", decision_id=decision_id, ballot="yes")
    counted = await chair.command("decision.close_vote", decision_id=decision_id)
    [tally] = [e for e in counted.events if e["type"] == "decision.vote_closed"]
    assert (tally["yes"], tally["no"], tally["abstain"]) == (1, 0, 0)
    await chair.command("agenda.close_item", item_id="ronda")
    # All along the observer spoke into a closed microphone: nothing reached the room.
    assert stream.packets <= 1

    # Its own item: inscribed in advance, listed at the opening, given the floor, heard.
    await chair.command("agenda.inscribe", item_id="observadores", delegation_id="oea")
    await chair.command("agenda.open_item", item_id="observadores")
    [listed] = chair.room["queue"]
    assert listed["delegation_id"] == "oea"
    await chair.command("floor.grant", request_id=listed["request_id"], time_limit=60)
    await listener.wait_for(lambda: stream.packets >= 10, timeout=10)
    await oea.command("floor.release", request_id=listed["request_id"])
    at_release = stream.packets
    await asyncio.sleep(0.8)
    assert stream.packets - at_release <= 1, "the floor ends in the media too"
    await chair.command("agenda.close_item", item_id="observadores")

    token = server.token("chair", "Presidencia", None)
    async with aiohttp.ClientSession(f"http://127.0.0.1:{server.port}") as http:
        async with http.get(f"/c/demo/minutes?t={token}&format=json&lang=es") as response:
            minutes = await response.json()
        async with http.get(f"/c/demo/minutes?t={token}&format=md&lang=es") as response:
            markdown = await response.text()
    [statement] = minutes["interventions"]
    assert (statement["delegation_id"], statement["observer"]) == ("oea", True)
    assert "OEA (OEA), declaración de observador" in markdown
