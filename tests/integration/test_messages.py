"""Private messages over real connections: each one reaches its thread's readers only."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from client import ClientError, PalabraClient
from cluster.redis_store import RedisEventStore, connect
from rooms import Settings
from signaling import MessageHistory, Ping, encode

from .conftest import RunningServer, demo_plan, running_server
from .redis_server import running_redis

MEETING = Settings(lobby_enabled=False)
Seat = Callable[..., Awaitable[PalabraClient]]


@pytest.fixture
def settings() -> Settings:
    return MEETING


@pytest.fixture
async def seat(server: RunningServer) -> AsyncIterator[Seat]:
    """Join a seat with a known participant id; every client is closed at teardown."""
    clients: list[PalabraClient] = []

    async def factory(pid: str, role: str = "head", delegation: str | None = None) -> PalabraClient:
        client = PalabraClient(
            server.ws_url,
            server.token(role, pid.title(), delegation, participant=pid),
            media_addresses=["127.0.0.1"],
        )
        clients.append(client)
        await client.join()
        return client

    yield factory
    for client in clients:
        await client.close()


def client_of(server: RunningServer, pid: str, role: str, delegation: str | None) -> PalabraClient:
    token = server.token(role, pid.title(), delegation, participant=pid)
    return PalabraClient(server.ws_url, token, media_addresses=["127.0.0.1"])


def waiting(client: PalabraClient) -> list[str]:
    return [p["participant_id"] for p in client.room.get("lobby", [])]


def texts(client: PalabraClient) -> list[object]:
    return [m["text"] for m in client.inbox]


def heard_of(client: PalabraClient, text: str) -> bool:
    """Whether any message the client received, of any type, contains `text`."""
    return any(text in encode(m) for m in client.messages)


async def settle(*clients: PalabraClient) -> None:
    """A ping round trip each: whatever the server queued before it has arrived."""
    for client in clients:
        await client.request(Ping(id=client.next_id()))


async def test_a_delegation_writes_and_only_the_chair_reads(seat: Seat) -> None:
    chair = await seat("chair", "chair")
    gt = await seat("gt-head", "head", "gt")
    sv = await seat("sv-head", "head", "sv")
    cr = await seat("cr-head", "head", "cr")
    tech = await seat("tech", "technician")
    text = "Solicitamos intervenir después de Costa Rica"
    update = await gt.send_message("delegation:gt", text)
    [event] = [e for e in update.events if e["type"] == "message.sent"]
    assert (event["actor"], event["thread"], event["text"]) == ("gt-head", "delegation:gt", text)
    assert event["sender_delegation"] == "gt" and event["sender_role"] == "head"
    await chair.wait_for(lambda: texts(chair) == [text])
    reply = "Anotado: después de Costa Rica"
    await chair.send_message("delegation:gt", reply)
    await gt.wait_for(lambda: texts(gt) == [text, reply])
    await settle(sv, cr, tech, chair)
    for outsider in (sv, cr, tech):
        assert outsider.inbox == []
        assert not heard_of(outsider, text) and not heard_of(outsider, reply)
        assert all(e["type"] != "message.sent" for e in outsider.room_events)
    assert texts(chair) == [text, reply]


async def test_a_technician_reaches_the_seat_and_the_seat_answers(seat: Seat) -> None:
    chair = await seat("chair", "chair")
    cr = await seat("cr-head", "head", "cr")
    gt = await seat("gt-head", "head", "gt")
    tech = await seat("tech", "technician")
    text = "No le escuchamos: revise su micrófono"
    await tech.send_message("seat:cr-head", text)
    await cr.wait_for(lambda: texts(cr) == [text])
    await cr.send_message("seat:cr-head", "Listo, ¿ahora sí?")
    await tech.wait_for(lambda: texts(tech) == [text, "Listo, ¿ahora sí?"])
    await settle(chair, gt, tech)
    for outsider in (chair, gt):
        assert outsider.inbox == [] and not heard_of(outsider, text)


async def test_history_on_reconnect_and_resume_holds_only_ones_own_threads(seat: Seat) -> None:
    chair = await seat("chair", "chair")
    gt = await seat("gt-head", "head", "gt")
    sv = await seat("sv-head", "head", "sv")
    tech = await seat("tech", "technician")
    # Nothing to read yet: no history is sent.
    assert (chair.histories, gt.histories, sv.histories) == (0, 0, 0)
    await gt.send_message("delegation:gt", "Mensaje reservado de Guatemala")
    await chair.send_message("delegation:sv", "El Salvador: tiene la palabra a continuación")
    await tech.send_message("seat:gt-head", "Su cámara está en negro")
    await chair.wait_for(lambda: len(chair.inbox) == 2)

    # A reload: a new connection with the resume token; then a signaling-only resume.
    await sv.reconnect()
    await sv.wait_for(lambda: sv.histories == 1)
    assert texts(sv) == ["El Salvador: tiene la palabra a continuación"]
    await gt.resume()
    await gt.wait_for(lambda: gt.histories == 1)
    assert texts(gt) == ["Mensaje reservado de Guatemala", "Su cámara está en negro"]
    await chair.reconnect()
    await chair.wait_for(lambda: chair.histories == 1)
    assert texts(chair) == [
        "Mensaje reservado de Guatemala",
        "El Salvador: tiene la palabra a continuación",
    ]
    for client, foreign in ((sv, "reservado"), (sv, "cámara"), (chair, "cámara")):
        assert not heard_of(client, foreign)
    *_, history = [m for m in gt.messages if isinstance(m, MessageHistory)]
    assert [m["sender_id"] for m in history.messages] == ["gt-head", "tech"]


@pytest.mark.parametrize(
    ("writer", "to", "text", "code"),
    [
        ("gt", "delegation:gt", "", "invalid_argument"),
        ("gt", "delegation:gt", "x" * 2001, "invalid_argument"),
        ("gt", "delegation:gt", "\x1b[2J", "invalid_argument"),
        ("gt", "the chair", "hola", "invalid_argument"),
        ("chair", "delegation:mx", "hola", "not_found"),
        ("tech", "seat:nobody", "hola", "not_found"),
        ("gt", "delegation:sv", "hola", "forbidden"),
        ("tech", "delegation:gt", "hola", "forbidden"),
        ("gt", "seat:chair", "hola", "forbidden"),
        ("gt", "everyone", "hola", "forbidden"),
    ],
)
async def test_bad_messages_get_typed_errors_and_change_nothing(
    seat: Seat, server: RunningServer, writer: str, to: str, text: str, code: str
) -> None:
    clients = {
        "chair": await seat("chair", "chair"),
        "gt": await seat("gt-head", "head", "gt"),
        "tech": await seat("tech", "technician"),
    }
    conference = server.palabra.conferences["demo"]
    seq = conference.seq
    with pytest.raises(ClientError) as refused:
        await clients[writer].send_message(to, text)
    assert refused.value.error.code == code
    assert conference.seq == seq and len(conference.state.messages) == 0


async def test_the_public_chat_once_the_chair_opens_it(seat: Seat) -> None:
    chair = await seat("chair", "chair")
    gt = await seat("gt-head", "head", "gt")
    obs = await seat("obs", "observer")
    await chair.command("settings.public_chat", enabled=True)
    await gt.send_message("everyone", "Buenos días a todas las delegaciones")
    for client in (chair, gt, obs):
        await client.wait_for(lambda c=client: texts(c) == ["Buenos días a todas las delegaciones"])
    await chair.command("settings.public_chat", enabled=False)
    with pytest.raises(ClientError) as refused:
        await obs.send_message("everyone", "¿sigue abierto?")
    assert refused.value.error.code == "forbidden"


async def test_message_send_is_rate_limited_per_seat(seat: Seat, server: RunningServer) -> None:
    gt = await seat("gt-head", "head", "gt")
    burst = server.palabra.config.limits.message_sent_burst
    for n in range(burst):
        await gt.send_message("delegation:gt", f"mensaje {n}")
    with pytest.raises(ClientError) as refused:
        await gt.send_message("delegation:gt", "uno de más")
    assert refused.value.error.code == "rate_limited"
    # The budget is the seat's: coming back does not refill it.
    await gt.reconnect()
    with pytest.raises(ClientError):
        await gt.send_message("delegation:gt", "otra vez")
    assert len(server.palabra.conferences["demo"].state.messages) == burst


async def test_the_lobby_reads_nothing_until_admitted(tmp_path: Path) -> None:
    lobby = Settings(lobby_enabled=True)
    async with running_server([demo_plan(lobby)], recordings=tmp_path) as server:
        chair = client_of(server, "chair", "chair", None)
        cr = client_of(server, "cr-head", "head", "cr")
        try:
            await chair.join()
            await chair.send_message("delegation:cr", "Bienvenidos; en breve les admitimos")
            await cr.join()
            await chair.wait_for(
                lambda: any(p["participant_id"] == "cr-head" for p in chair.room["lobby"])
            )
            assert cr.histories == 0
            with pytest.raises(ClientError) as refused:
                await cr.send_message("delegation:cr", "¿Nos admiten?")
            assert refused.value.error.code == "forbidden"
            assert not heard_of(cr, "Bienvenidos")
            await chair.command("lobby.admit", participant_id="cr-head")
            await cr.wait_for(lambda: cr.histories == 1)
            assert texts(cr) == ["Bienvenidos; en breve les admitimos"]
        finally:
            await chair.close()
            await cr.close()


async def test_messages_survive_a_restart_of_the_node(tmp_path: Path) -> None:
    """The conference is rebuilt from its log in Redis: the threads come back, and stay private."""
    (tmp_path / "redis").mkdir()
    with running_redis(tmp_path / "redis", appendonly=True) as redis:
        common = {"redis_url": redis.url, "node_id": "alpha", "recordings": tmp_path}
        port = None
        async with running_server([demo_plan(MEETING)], **common) as first:
            port = first.port
            chair = client_of(first, "chair", "chair", None)
            try:
                await chair.join()
                await chair.send_message("delegation:sv", "Receso de diez minutos")
            finally:
                await chair.close()
        async with running_server([demo_plan(MEETING)], port=port, **common) as second:
            sv = client_of(second, "sv-head", "head", "sv")
            gt = client_of(second, "gt-head", "head", "gt")
            try:
                await sv.join()
                await gt.join()
                await sv.wait_for(lambda: sv.histories == 1)
                assert texts(sv) == ["Receso de diez minutos"]
                await settle(gt)
                assert gt.inbox == [] and not heard_of(gt, "Receso")
            finally:
                await sv.close()
                await gt.close()
        store = RedisEventStore(connect(redis.url))
        stored = [s.event for s in await store.read("demo")]
        assert [e.type for e in stored].count("message.sent") == 1
        snapshot = await store.load_snapshot("demo")
        assert snapshot is not None and "Receso" not in json.dumps(snapshot.snapshot)


async def test_the_writer_is_the_seat_whatever_the_message_says(seat: Seat) -> None:
    chair = await seat("chair", "chair")
    gt = await seat("gt-head", "head", "gt")
    update = await gt.command(
        "message.send",
        to="delegation:gt",
        text="¿Quién escribe?",
        actor="chair",
        sender_name="Presidencia",
        sender_role="chair",
        thread="delegation:sv",
        enabled=True,
    )
    [event] = [e for e in update.events if e["type"] == "message.sent"]
    assert (event["actor"], event["sender_name"], event["sender_role"]) == (
        "gt-head",
        "Gt-Head",
        "head",
    )
    assert event["thread"] == "delegation:gt"
    await chair.wait_for(lambda: [m["sender_id"] for m in chair.inbox] == ["gt-head"])
    assert chair.room["settings"]["public_chat"] is False


async def test_history_is_bounded_to_the_latest_messages(
    seat: Seat, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("conference.message_visibility.MAX_HISTORY", 2)
    gt = await seat("gt-head", "head", "gt")
    for n in range(3):
        await gt.send_message("delegation:gt", f"mensaje {n}")
    await gt.reconnect()
    await gt.wait_for(lambda: gt.histories == 1)  # none at the first entry: nothing to read
    assert texts(gt) == ["mensaje 1", "mensaje 2"]
