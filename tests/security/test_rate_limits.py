"""Threat: one connection, or one seat, floods the server and the minutes.

Over its message rate a connection gets `rate_limited` for each frame not acted
on, and is closed with 4029 if it keeps going; a seat's floor requests and
cancellations have their own budget.
"""

from __future__ import annotations

import json

import websockets

from client import ClientError
from signaling import Limits

from .conftest import ClientFactory, RunningServer
from .test_commands import enter

LIMITS = Limits()


async def test_a_flood_is_refused_then_closed(
    server: RunningServer, connect: ClientFactory
) -> None:
    chair = await enter(connect, name="Presidencia", role="chair", delegation=None)
    async with websockets.connect(server.ws_url, max_size=None) as ws:
        hello = {"type": "hello", "version": 1, "token": server.token("observer", "Flood", None)}
        await ws.send(json.dumps(hello))
        frames = 20 * LIMITS.message_burst
        for n in range(frames):
            await ws.send(json.dumps({"type": "ping", "id": n}))
        replies = []
        try:
            async for data in ws:
                replies.append(json.loads(data))
        except websockets.ConnectionClosed:
            pass
        assert ws.close_code == 4029
    pongs = [r for r in replies if r["type"] == "pong"]
    limited = [r for r in replies if r["type"] == "error" and r["code"] == "rate_limited"]
    assert limited and len(pongs) < frames
    # Everyone else carries on.
    await chair.command("conference.lock")
    assert chair.close_code is None


async def test_floor_toggles_are_limited_per_seat(connect: ClientFactory) -> None:
    head = await enter(connect, name="Canciller", role="head", delegation="gt")
    toggled = 0
    refused = []
    for _ in range(3 * LIMITS.floor_toggle_burst):
        try:
            update = await head.command("floor.request", delegation_id="gt")
            toggled += 1
            [request] = [r for r in update.state["queue"] if r["delegation_id"] == "gt"]
            await head.command("floor.cancel", request_id=request["request_id"])
            toggled += 1
        except ClientError as exc:
            refused.append(exc.error.code)
    assert refused and set(refused) == {"rate_limited"}
    assert toggled <= LIMITS.floor_toggle_burst + 2  # plus what refills meanwhile
    assert head.close_code is None
    # Reconnecting does not refill the budget: it belongs to the seat.
    await head.reconnect()
    try:
        await head.command("floor.request", delegation_id="gt")
        refilled = True
    except ClientError as exc:
        refilled = exc.error.code != "rate_limited"
    assert not refilled
