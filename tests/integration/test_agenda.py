"""The order of business with real peers: the agenda, budgets in the media, roll call, decisions.

The server enforces the budget the same way it enforces any limit: a delegation
whose budget on the item runs out loses the floor, and its audio stops.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from client import ClientError, PalabraClient
from cluster.redis_store import RedisEventStore, connect
from rooms import Settings

from .conftest import ClientFactory, RunningServer, demo_plan, running_server
from .media_tracks import ToneTrack
from .redis_server import RedisServer, running_redis
from .test_floor import audio_from, wait_for_event

# Short times so that warnings, revokes and objection windows happen within a test.
MEETING = Settings(
    lobby_enabled=False, default_time_limit=None, warning_before=0.3, grace_period=0.3
)
TITLES = [{"language": "es", "text": "Gobernanza migratoria"}]


@pytest.fixture
def settings() -> Settings:
    return MEETING


def events_of(client: PalabraClient, event_type: str) -> list[dict[str, Any]]:
    return [dict(e) for e in client.room_events if e["type"] == event_type]


async def refused(client: PalabraClient, kind: str, **fields: object) -> str:
    with pytest.raises(ClientError) as caught:
        await client.command(kind, **fields)
    return caught.value.error.code


async def test_pre_registered_order_and_a_budget_that_revokes_across_two_turns(
    connect: ClientFactory,
) -> None:
    chair = await connect(name="Presidencia", delegation=None, role="chair")
    gt = await connect(name="Canciller de Guatemala", delegation="gt")
    sv = await connect(name="Canciller de El Salvador", delegation="sv")
    listener = await connect(name="Canciller de Costa Rica", delegation="cr", decode=False)
    await gt.publish(audio=ToneTrack())
    await listener.wait_for(lambda: len(listener.streams) == 1)
    stream = audio_from(listener, gt)

    await chair.command("agenda.add_item", item_id="i1", titles=TITLES, budget=2.0)
    for delegation in ("sv", "gt"):  # the announced order
        await chair.command("agenda.inscribe", item_id="i1", delegation_id=delegation)
    opened = await chair.command("agenda.open_item", item_id="i1")
    assert [e["type"] for e in opened.events][:1] == ["agenda.item_opened"]
    assert [q["delegation_id"] for q in chair.room["queue"]] == ["sv", "gt"]
    assert chair.room["agenda"]["current"] == "i1"
    # A request made during the item comes after the round.
    await listener.command("floor.request", delegation_id="cr")
    assert [q["delegation_id"] for q in chair.room["queue"]] == ["sv", "gt", "cr"]

    def request_of(delegation: str) -> str:
        [entry] = [q for q in chair.room["queue"] if q["delegation_id"] == delegation]
        return str(entry["request_id"])

    sv_turn = await chair.command("floor.grant", request_id=request_of("sv"))
    [granted] = [e for e in sv_turn.events if e["type"] == "floor.granted"]
    assert granted["time_limit"] == 2.0  # the budget caps an open-ended grant
    await sv.command("floor.release", request_id=granted["request_id"])

    # Guatemala's first turn: asked for a minute, given its budget; it yields part way.
    first = await chair.command("floor.grant", request_id=request_of("gt"), time_limit=60)
    [grant] = [e for e in first.events if e["type"] == "floor.granted"]
    assert grant["time_limit"] == 2.0
    await listener.wait_for(lambda: stream.packets >= 5, timeout=5)
    released = await gt.command("floor.release", request_id=grant["request_id"])
    [release] = [e for e in released.events if e["type"] == "floor.released"]
    spoken = release["at"] - grant["at"]
    [budget] = [b for b in chair.room["agenda"]["budgets"] if b["delegation_id"] == "gt"]
    assert budget["spent"] == pytest.approx(spoken)
    assert budget["remaining"] == pytest.approx(2.0 - spoken)

    # The second turn gets what is left, and the floor timer takes it back on time.
    requested = await gt.command("floor.request", delegation_id="gt")
    [again] = [e for e in requested.events if e["type"] == "floor.requested"]
    await chair.command("floor.reorder", request_id=again["request_id"], position=1)
    before = stream.packets
    second = await chair.command("floor.grant", request_id=again["request_id"])
    [grant2] = [e for e in second.events if e["type"] == "floor.granted"]
    assert grant2["time_limit"] == pytest.approx(2.0 - spoken)
    await listener.wait_for(lambda: stream.packets >= before + 5, timeout=5)
    revoked = await wait_for_event(listener, "floor.revoked")
    assert revoked["request_id"] == again["request_id"]
    assert revoked["actor"] == "system" and revoked["reason"] == "time_limit"
    assert revoked["at"] == pytest.approx(grant2["revoke_at"], abs=0.05)
    at_revoke = stream.packets
    await asyncio.sleep(0.8)
    assert stream.packets - at_revoke <= 1, "the floor ends in the media too"
    [budget] = [b for b in chair.room["agenda"]["budgets"] if b["delegation_id"] == "gt"]
    assert budget["remaining"] == 0.0

    # Nothing left: no third turn until the chair gives extra time, which is recorded.
    third = await gt.command("floor.request", delegation_id="gt")
    [request3] = [e for e in third.events if e["type"] == "floor.requested"]
    code = await refused(chair, "floor.grant", request_id=request3["request_id"])
    assert code == "limit_reached"
    await chair.command("agenda.extra_time", delegation_id="gt", seconds=30, reason="cortesía")
    [extended] = events_of(chair, "agenda.budget_extended")
    assert (extended["delegation_id"], extended["seconds"]) == ("gt", 30.0)
    [budget] = [b for b in chair.room["agenda"]["budgets"] if b["delegation_id"] == "gt"]
    assert (budget["allowance"], budget["extra"]) == (32.0, 30.0)
    # The grace period spoken beyond the budget counted: the extra time covers it first.
    assert budget["spent"] > 2.0 and budget["remaining"] == pytest.approx(32.0 - budget["spent"])
    granted3 = await chair.command("floor.grant", request_id=request3["request_id"])
    [grant3] = [e for e in granted3.events if e["type"] == "floor.granted"]
    assert grant3["time_limit"] == pytest.approx(budget["remaining"])

    # Closing with speakers listed needs the chair's confirmation.
    assert await refused(chair, "agenda.close_item", item_id="i1") == "invalid_state"
    await chair.command("agenda.close_item", item_id="i1", force=True)
    assert chair.room["holders"] == [] and chair.room["queue"] == []
    assert chair.room["agenda"]["current"] is None


async def test_roll_call_quorum_follows_a_delegation_that_drops_out(
    connect: ClientFactory,
) -> None:
    chair = await connect(name="Presidencia", delegation=None, role="chair")
    gt = await connect(name="Canciller de Guatemala", delegation="gt")
    sv = await connect(name="Canciller de El Salvador", delegation="sv")
    observer = await connect(name="Observadora OEA", delegation=None, role="observer")
    await chair.command("rollcall.set_quorum", count=2)
    await chair.command("rollcall.start")
    assert await refused(gt, "rollcall.answer", delegation_id="sv") == "forbidden"
    assert await refused(observer, "rollcall.answer", delegation_id="gt") == "forbidden"
    await gt.command("rollcall.answer", delegation_id="gt")
    await sv.command("rollcall.answer", delegation_id="sv")
    assert await refused(sv, "rollcall.answer", delegation_id="sv") == "invalid_state"
    closed = await chair.command("rollcall.close")
    [result] = [e for e in closed.events if e["type"] == "rollcall.closed"]
    assert result["present"] == ["gt", "sv"] and result["absent"] == ["cr"]
    assert result["quorum_met"] is True
    assert chair.room["roll_call"]["quorum_met"] is True

    sv.abort_connection()  # El Salvador's network goes down

    def quorum_lost() -> bool:
        return chair.room["roll_call"]["quorum_met"] is False

    await chair.wait_for(quorum_lost, timeout=10)
    assert chair.room["roll_call"]["present"] == ["gt"]
    presence = [e for e in events_of(chair, "participant.presence")]
    assert presence and presence[-1]["presence"] == "disconnected"


async def test_a_recorded_vote_and_a_consensus_adoption(connect: ClientFactory) -> None:
    chair = await connect(name="Presidencia", delegation=None, role="chair")
    gt = await connect(name="Canciller de Guatemala", delegation="gt")
    sv = await connect(name="Canciller de El Salvador", delegation="sv")
    cr = await connect(name="Canciller de Costa Rica", delegation="cr")
    adviser = await connect(name="Asesora de Costa Rica", delegation="cr", role="delegate")
    observer = await connect(name="Observadora OEA", delegation=None, role="observer")

    opened = await chair.command("decision.open_vote", text="¿Se adopta la declaración?")
    [vote] = [e for e in opened.events if e["type"] == "decision.vote_opened"]
    decision_id = vote["decision_id"]
    await gt.command("decision.vote", decision_id=decision_id, ballot="yes")
    await sv.command("decision.vote", decision_id=decision_id, ballot="no")
    for client, code in ((chair, "forbidden"), (observer, "forbidden"), (adviser, "forbidden")):
        assert await refused(client, "decision.vote", decision_id=decision_id, ballot="yes") == code
    adviser_id = adviser.welcome.you.id  # type: ignore[union-attr]
    await cr.command("decision.designate", delegation_id="cr", participant_id=adviser_id)
    await adviser.command("decision.vote", decision_id=decision_id, ballot="yes")
    assert await refused(cr, "decision.vote", decision_id=decision_id, ballot="no") == (
        "invalid_state"
    )
    assert await refused(gt, "decision.vote", decision_id=decision_id, ballot="maybe") == (
        "invalid_argument"
    )
    closed = await chair.command("decision.close_vote", decision_id=decision_id)
    [result] = [e for e in closed.events if e["type"] == "decision.vote_closed"]
    assert (result["yes"], result["no"], result["abstain"], result["adopted"]) == (2, 1, 0, True)
    [decision] = gt.room["decisions"]
    assert [(b["delegation_id"], b["ballot"]) for b in decision["ballots"]] == [
        ("gt", "yes"),
        ("sv", "no"),
        ("cr", "yes"),
    ]
    assert await refused(gt, "decision.vote", decision_id=decision_id, ballot="no") == (
        "invalid_state"
    )

    # Consensus: no objection within the window, adopted by the server's own clock.
    proposed = await chair.command("decision.propose", text="Se adopta la declaración", window=0.5)
    [proposal] = [e for e in proposed.events if e["type"] == "decision.consensus_proposed"]
    ended = await wait_for_event(gt, "decision.consensus_ended")
    assert ended["decision_id"] == proposal["decision_id"]
    assert ended["adopted"] is True and ended["actor"] == "system"
    # One objection and the text is not adopted.
    proposed = await chair.command("decision.propose", text="Se adopta el anexo", window=2)
    [proposal] = [e for e in proposed.events if e["type"] == "decision.consensus_proposed"]
    await sv.command("decision.object", decision_id=proposal["decision_id"])

    def second_end() -> bool:
        return len(events_of(gt, "decision.consensus_ended")) == 2

    await gt.wait_for(second_end, timeout=10)
    last = events_of(gt, "decision.consensus_ended")[-1]
    assert last["adopted"] is False and last["objections"] == ["sv"]


async def test_the_minutes_by_item_match_what_happened(
    server: RunningServer, connect: ClientFactory
) -> None:
    chair = await connect(name="Presidencia", delegation=None, role="chair")
    gt = await connect(name="Canciller de Guatemala", delegation="gt")
    sv = await connect(name="Canciller de El Salvador", delegation="sv")
    await chair.command("agenda.add_item", item_id="i1", titles=TITLES, budget=60)
    await chair.command("agenda.add_item", item_id="i2", titles=[{"language": "es", "text": "B"}])
    for delegation in ("gt", "sv"):
        await chair.command("agenda.inscribe", item_id="i1", delegation_id=delegation)
    await chair.command("agenda.open_item", item_id="i1")
    turns = []
    for speaker in (gt, sv):
        request_id = chair.room["queue"][0]["request_id"]
        granted = await chair.command("floor.grant", request_id=request_id)
        released = await speaker.command("floor.release", request_id=request_id)
        [start] = [e for e in granted.events if e["type"] == "floor.granted"]
        [end] = [e for e in released.events if e["type"] == "floor.released"]
        turns.append(end["at"] - start["at"])
    await chair.command("rollcall.start")
    await gt.command("rollcall.answer", delegation_id="gt")
    await chair.command("rollcall.close")
    opened = await chair.command("decision.open_vote", text="¿Se adopta?")
    [vote] = [e for e in opened.events if e["type"] == "decision.vote_opened"]
    await sv.command("decision.vote", decision_id=vote["decision_id"], ballot="abstain")
    await chair.command("decision.close_vote", decision_id=vote["decision_id"])
    await chair.command("agenda.close_item", item_id="i1")

    token = server.token("chair", "Presidencia", None)
    async with aiohttp.ClientSession(f"http://127.0.0.1:{server.port}") as http:
        async with http.get(f"/c/demo/minutes?t={token}&format=json&lang=es") as response:
            minutes = await response.json()
        async with http.get(f"/c/demo/minutes?t={token}&format=csv&table=items") as response:
            rows = list(csv.DictReader(io.StringIO(await response.text())))
        async with http.get(f"/c/demo/minutes?t={token}&format=csv&table=x") as response:
            assert response.status == 400
        async with http.get(f"/c/demo/minutes?t={token}&format=html&lang=en") as response:
            assert response.content_type == "text/html"
            assert "script-src 'self'" in response.headers["Content-Security-Policy"]
            page = await response.text()
        async with http.get("/web/minutes.css") as response:
            assert response.status == 200
    first, second = minutes["items"]
    assert (first["item_id"], first["status"], second["status"]) == ("i1", "closed", "upcoming")
    assert first["inscribed"] == ["Guatemala", "El Salvador"]
    spoken = [minutes["interventions"][n - 1] for n in first["interventions"]]
    assert [i["delegation_id"] for i in spoken] == ["gt", "sv"]
    assert [t["spoken"] for t in first["times"]] == pytest.approx(turns)
    assert [t["allowance"] for t in first["times"]] == [60.0, 60.0]
    [call] = minutes["roll_calls"]
    assert (call["present"], call["quorum_met"], call["item_id"]) == (["Guatemala"], False, "i1")
    [decision] = minutes["decisions"]
    assert decision["abstain"] == 1 and decision["adopted"] is False
    assert decision["ballots"][0]["delegation"] == "El Salvador"
    assert [(r["item_id"], r["delegation_id"]) for r in rows] == [("i1", "gt"), ("i1", "sv")]
    assert "<h3>1. Gobernanza migratoria</h3>" in page and "<h3>2. B</h3>" in page
    assert "Presidencia" in page and "Canciller de Guatemala" in page  # chair, attendance


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    (tmp_path / "redis").mkdir()
    with running_redis(tmp_path / "redis", appendonly=True) as server:
        yield server


def seat(server: RunningServer, name: str, delegation: str | None, role: str) -> PalabraClient:
    token = server.token(role, name, delegation, participant=name)
    return PalabraClient(server.ws_url, token, media_addresses=["127.0.0.1"])


async def test_a_restart_in_the_middle_of_a_vote_loses_no_ballot(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    common = {"redis_url": redis_server.url, "node_id": "alpha", "recordings": tmp_path}
    async with running_server([demo_plan(MEETING)], **common) as first:
        port = first.port
        chair = seat(first, "Presidencia", None, "chair")
        gt = seat(first, "Canciller-GT", "gt", "head")
        sv = seat(first, "Canciller-SV", "sv", "head")
        for client in (chair, gt, sv):
            await client.join()
        opened = await chair.command("decision.open_vote", text="¿Se adopta la declaración?")
        [vote] = [e for e in opened.events if e["type"] == "decision.vote_opened"]
        decision_id = vote["decision_id"]
        await gt.command("decision.vote", decision_id=decision_id, ballot="yes")
        await sv.command("decision.vote", decision_id=decision_id, ballot="abstain")
        for client in (chair, gt, sv):
            await client.close()
    # The process is gone; the vote is in Redis. Same node, restarted.
    async with running_server([demo_plan(MEETING)], port=port, **common) as second:
        chair = seat(second, "Presidencia", None, "chair")
        gt = seat(second, "Canciller-GT", "gt", "head")
        cr = seat(second, "Canciller-CR", "cr", "head")
        try:
            for client in (chair, gt, cr):
                await client.join()
            [decision] = chair.room["decisions"]
            assert decision["open"] is True
            assert [b["delegation_id"] for b in decision["ballots"]] == ["gt", "sv"]
            code = await refused(gt, "decision.vote", decision_id=decision_id, ballot="no")
            assert code == "invalid_state"  # its ballot survived the restart
            await cr.command("decision.vote", decision_id=decision_id, ballot="no")
            closed = await chair.command("decision.close_vote", decision_id=decision_id)
            [result] = [e for e in closed.events if e["type"] == "decision.vote_closed"]
            assert (result["yes"], result["no"], result["abstain"]) == (1, 1, 1)
            assert result["adopted"] is False
        finally:
            for client in (chair, gt, cr):
                await client.close()
    store = RedisEventStore(connect(redis_server.url))
    types = [s.event.type for s in await store.read("demo")]
    assert types.count("decision.vote_cast") == 3 and types.count("decision.vote_closed") == 1
