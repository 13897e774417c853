"""Threat: one connection starves the conference, by not reading or by sending too much.

Every connection has a bounded outgoing queue (a reader that falls behind it is
closed with 4011) and a message rate (over it: `rate_limited`, then 4029); each
seat has a budget of floor requests and cancellations.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import pytest
import websockets

from rooms import Settings
from server.connection import WebSocketConnection
from signaling import Limits

from .conftest import ClientFactory, RunningServer, demo_plan, running_server
from .test_commands import enter

# The chair below issues commands faster than any person: lift the message rate
# so that only the outgoing queue is under test.
LIMITS = Limits(outbox=64, message_burst=100_000)


@pytest.fixture
async def server(settings: Settings, tmp_path: Path) -> AsyncIterator[RunningServer]:
    async with running_server([demo_plan(settings)], recordings=tmp_path, limits=LIMITS) as s:
        yield s


async def sleeper(server: RunningServer) -> websockets.ClientConnection:
    """An observer that joins, then never reads again (a tiny receive buffer)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
    ws = await websockets.connect(
        server.ws_url, sock=sock, max_queue=1, max_size=None, compression=None
    )
    hello = {"type": "hello", "version": 1, "token": server.token("observer", "Duerme", None)}
    await ws.send(json.dumps(hello))
    assert json.loads(await ws.recv())["type"] == "welcome"
    return ws  # and nobody calls recv() again


async def test_a_reader_that_stops_does_not_freeze_the_conference(
    server: RunningServer, connect: ClientFactory
) -> None:
    chair = await enter(connect, name="Presidencia", role="chair", delegation=None)
    ws = await sleeper(server)
    conference = server.palabra.conferences["demo"]
    [asleep] = [m for m in conference.members.values() if m.info.name == "Duerme"]
    # Shrink the server's send buffer towards the sleeper as a congested link
    # would, so that a few hundred updates (~2 KB each) fill what lies before
    # its outgoing queue.
    connection = cast(WebSocketConnection, asleep.connection)
    assert connection.transport is not None
    sock = connection.transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    newcomer = None
    commands = 0
    while asleep.info.id in conference.members:
        assert commands < 5000, "the sleeper was never cut off"
        await chair.command("settings.open_floor", enabled=commands % 2 == 1)
        commands += 1
        if newcomer is None and connection.queued >= LIMITS.outbox // 2:
            # The sleeper's writer is stuck on its socket: a join goes through regardless.
            newcomer = await enter(connect, name="Llega", role="head", delegation="sv")
            queued_at_join = connection.queued
    assert newcomer is not None and queued_at_join >= LIMITS.outbox // 2
    # Cut off, with its seat kept for the resume grace like any dropped connection.
    assert asleep.info.id in conference.held_seats.away
    await chair.command("settings.open_floor", enabled=commands % 2 == 1)
    assert chair.close_code is None and newcomer.close_code is None
    await ws.close()
