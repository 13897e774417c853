"""Threat: values that no field should hold break the server after they are accepted.

A lone surrogate was stored and then could not be sent to anyone; a 400-digit
integer where seconds are expected raised OverflowError and dropped the
sender. Both are refused at parse with invalid_argument. Frames: text only,
up to and including 262144 bytes.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
import websockets

from signaling import MAX_MESSAGE_BYTES, Ping, Pong

from .conftest import ClientFactory, RunningServer
from .test_commands import enter


@pytest.mark.parametrize(
    ("role", "kind", "fields"),
    [
        ("head", "floor.request", {"delegation_id": "gt", "reason": "\ud800"}),
        ("head", "floor.request", {"delegation_id": "\udfff"}),
        ("chair", "lobby.reject", {"participant_id": "x", "reason": "ok \ud83d"}),
        ("chair", "settings.default_time_limit", {"time_limit": 10**400}),
        ("chair", "floor.grant", {"request_id": "r1", "time_limit": -(10**400)}),
        ("observer", "floor.reorder", {"request_id": "r1", "position": 10**400}),
        ("chair", "settings.max_holders", {"count": 2**64}),
    ],
)
async def test_unsendable_text_and_huge_numbers_are_refused_at_parse(
    connect: ClientFactory, role: str, kind: str, fields: dict[str, object]
) -> None:
    delegation = "gt" if role == "head" else None
    client = await enter(connect, name="Prueba", role=role, delegation=delegation)
    state = dict(client.room)
    # As JSON escapes ("\\ud800"): the only way a lone surrogate travels in UTF-8.
    ref = client.next_id()
    await client.send_raw(json.dumps({"type": kind, "id": ref, **fields}))
    await client.wait_for(lambda: any(e.ref == ref for e in client.errors))
    [error] = [e for e in client.errors if e.ref == ref]
    assert error.code == "invalid_argument"
    assert client.close_code is None
    assert isinstance(await client.request(Ping(id=client.next_id())), Pong)
    assert client.room == state


@pytest.fixture
async def raw(server: RunningServer) -> AsyncIterator[websockets.ClientConnection]:
    async with websockets.connect(server.ws_url, max_size=None, compression=None) as ws:
        hello = {"type": "hello", "version": 1, "token": server.token("observer", "Raw", None)}
        await ws.send(json.dumps(hello))
        assert json.loads(await ws.recv())["type"] == "welcome"
        await ws.recv()  # the first room.update
        yield ws


def padded_ping(size: int) -> str:
    frame = json.dumps({"type": "ping", "id": 1, "pad": ""}, separators=(",", ":"))
    return frame.replace('"pad":""', '"pad":"' + "x" * (size - len(frame)) + '"')


async def test_a_frame_of_exactly_the_limit_is_accepted(raw: websockets.ClientConnection) -> None:
    frame = padded_ping(MAX_MESSAGE_BYTES)
    assert len(frame.encode()) == MAX_MESSAGE_BYTES
    await raw.send(frame)
    assert json.loads(await raw.recv()) == {"type": "pong", "ref": 1}


async def test_a_frame_over_the_limit_closes_with_1009(raw: websockets.ClientConnection) -> None:
    await raw.send(padded_ping(MAX_MESSAGE_BYTES + 1))
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await raw.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_a_binary_frame_gets_bad_json_and_the_connection_stays(
    raw: websockets.ClientConnection,
) -> None:
    await raw.send(json.dumps({"type": "ping", "id": 2}).encode())
    reply = json.loads(await raw.recv())
    assert reply["type"] == "error" and reply["code"] == "bad_json"
    await raw.send(json.dumps({"type": "ping", "id": 3}))
    assert json.loads(await raw.recv()) == {"type": "pong", "ref": 3}
