"""Dynacast: a publisher stops the simulcast layers nobody watches, and
resumes them at once when someone does (publish.layers).

The publisher is the Python client's synthetic simulcast sender, which obeys
``publish.layers``; a subscriber keeps the raw packets and decodes them
afterwards (tests/integration/vp8_stream.py), so a broken resume shows as a
decoder error or a gap in the sequence numbers or picture ids.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection
from typing import cast

import pytest

from client import PalabraClient
from client.clip import Clip
from media.layer_demand import HOLD_DOWN
from media.producer import Producer
from signaling import ErrorCode, MonitorStats, PublishLayers

from .conftest import ClientFactory, RunningServer
from .test_simulcast import continuous, frames_of_width, grant, layers, settings, video_of

__all__ = ["layers", "settings"]  # the fixtures, shared with the simulcast tests

pytestmark = pytest.mark.usefixtures("forwarding_path")


def told(client: PalabraClient) -> list[tuple[str, ...]]:
    """The layers the client was asked to send, each publish.layers in turn."""
    return [m.active for m in client.messages if isinstance(m, PublishLayers)]


def camera(server: RunningServer, owner: str) -> Producer:
    conference = server.palabra.conferences["demo"]
    return next(
        p for p in conference.router.producers.values() if p.owner == owner and p.kind == "video"
    )


def detached(server: RunningServer) -> Collection[str]:
    """The seats whose signaling dropped, their media kept for a resume."""
    conference = server.palabra.conferences["demo"]
    seats = getattr(conference, "held_seats", conference)  # where the conference keeps them
    return cast(Collection[str], seats.detached)


def packets(producer: Producer) -> list[int]:
    return [layer.counters.packets for layer in producer.layer_streams]


async def test_a_thumbnail_stops_its_upper_layers_and_resumes_the_top_one_with_the_floor(
    server: RunningServer, connect: ClientFactory, layers: list[tuple[str, Clip]]
) -> None:
    chair = await connect(name="Presidencia", delegation=None, role="chair")
    technician = await connect(name="Técnica", delegation=None, role="technician", decode=False)
    guatemala = await connect(name="Canciller de Guatemala", delegation="gt")
    sender = await guatemala.publish_simulcast(layers)
    gt = guatemala.welcome.you.id  # type: ignore[union-attr]
    listener = await connect(name="Canciller de El Salvador", delegation="sv", decode=False)
    video = await video_of(listener, gt)
    producer = camera(server, gt)
    await frames_of_width(video, 160, 5)

    # Seen by everyone as a thumbnail: after the hold-down, only the lowest layer.
    await guatemala.wait_for(lambda: told(guatemala) == [("q",)], timeout=HOLD_DOWN + 5)
    assert [layer.asked_off for layer in sender.layers] == [False, True, True]
    await asyncio.sleep(0.5)  # packets already on their way
    before = packets(producer)
    await asyncio.sleep(1.5)
    after = packets(producer)
    assert after[0] > before[0]  # the thumbnail goes on
    assert after[1:] == before[1:]  # nothing of the upper layers reaches the server
    assert [info.paused for info in producer.layers] == [False, True, True]

    # The technicians' feed says why two layers do not arrive.
    def feed_paused() -> list[object] | None:
        stats = [m for m in technician.messages if isinstance(m, MonitorStats)]
        for stream in stats[-1].streams if stats else ():
            ours = stream["direction"] == "in" and stream["participant_id"] == gt
            if ours and stream["kind"] == "video" and stream.get("layers"):
                return [layer["paused"] for layer in stream["layers"]]  # type: ignore[index, union-attr]
        return None

    await technician.wait_for(lambda: feed_paused() == [False, True, True], timeout=5)

    granted = time.monotonic()
    await grant(chair, guatemala, "gt")
    first = await frames_of_width(video, 640, 5, after=granted)
    print(f"floor granted: first high frame {1000 * (first - granted):.0f} ms later")
    assert told(guatemala) == [("q",), ("q", "f")]  # the top one, at once; nobody wants "h"
    assert packets(producer)[2] > after[2]

    # One stream for the decoder through the pause and the resume.
    widths = continuous(video)
    assert [w for i, w in enumerate(widths) if i == 0 or widths[i - 1] != w] == [160, 640]
    assert all("q" in active for active in told(guatemala))


async def test_a_publisher_that_ignores_the_request_still_gets_the_floor_s_layer(
    server: RunningServer, connect: ClientFactory, layers: list[tuple[str, Clip]]
) -> None:
    chair = await connect(name="Presidencia", delegation=None, role="chair")
    guatemala = await connect(name="Canciller de Guatemala", delegation="gt")
    guatemala.follow_layers = False  # an older client: it sends every layer
    sender = await guatemala.publish_simulcast(layers)
    gt = guatemala.welcome.you.id  # type: ignore[union-attr]
    listener = await connect(name="Canciller de El Salvador", delegation="sv", decode=False)
    video = await video_of(listener, gt)
    await guatemala.wait_for(lambda: told(guatemala) == [("q",)], timeout=HOLD_DOWN + 5)
    assert not any(layer.asked_off for layer in sender.layers)
    producer = camera(server, gt)
    assert all(info.active for info in producer.layers)

    granted = time.monotonic()
    await grant(chair, guatemala, "gt")
    await frames_of_width(video, 640, 5, after=granted)
    widths = continuous(video)
    assert [w for i, w in enumerate(widths) if i == 0 or widths[i - 1] != w] == [160, 640]


async def test_a_client_may_not_send_publish_layers(
    server: RunningServer, connect: ClientFactory
) -> None:
    client = await connect(name="Canciller de Guatemala", delegation="gt")
    await client.send_raw('{"type":"publish.layers","id":"x1","mid":"1","active":["q"]}')
    await client.wait_for(lambda: bool(client.errors))
    [error] = client.errors
    assert error.code is ErrorCode.UNKNOWN_TYPE and error.ref == "x1"
    assert not client.closed.is_set()


async def test_a_publisher_that_resumes_its_signaling_is_told_again(
    server: RunningServer, connect: ClientFactory, layers: list[tuple[str, Clip]]
) -> None:
    await connect(name="Presidencia", delegation=None, role="chair")
    guatemala = await connect(name="Canciller de Guatemala", delegation="gt")
    sender = await guatemala.publish_simulcast(layers)
    gt = guatemala.welcome.you.id  # type: ignore[union-attr]
    listener = await connect(name="Canciller de El Salvador", delegation="sv", decode=False)
    await video_of(listener, gt)
    await guatemala.wait_for(lambda: told(guatemala) == [("q",)], timeout=HOLD_DOWN + 5)

    # The message may have been lost with the old connection: it comes again.
    guatemala.abort_connection()
    await guatemala.wait_for(lambda: gt in detached(server))
    count = len(told(guatemala))
    assert (await guatemala.resume()).media_kept
    await guatemala.wait_for(lambda: len(told(guatemala)) > count)
    assert told(guatemala)[-1] == ("q",)
    assert [layer.asked_off for layer in sender.layers] == [False, True, True]
