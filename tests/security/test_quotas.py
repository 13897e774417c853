"""Threat: a participant grows server state without bound.

Offers with fresh mids used to add producers for ever (30 offers, 60
producers). A publisher connection holds at most `Limits.max_tracks` media
sections; what else a client can grow is bounded elsewhere: one open floor
request per delegation, the floor-toggle budget, the outgoing queue, the
message rate, the size of frames and of every text field.
"""

from __future__ import annotations

import asyncio
import re

import pytest

from client import ClientError
from signaling import Limits, PublishOffer

from .conftest import ClientFactory, RunningServer
from .test_commands import enter
from .test_sdp import real_offer


def with_fresh_mids(sdp: str, tag: str) -> str:
    mids = re.findall(r"(?m)^a=mid:(\S+)\r$", sdp)
    for mid in mids:
        sdp = sdp.replace(f"a=mid:{mid}\r\n", f"a=mid:{tag}{mid}\r\n")
    return re.sub(
        r"(?m)^a=group:BUNDLE .*\r$",
        "a=group:BUNDLE " + " ".join(f"{tag}{m}" for m in mids) + "\r",
        sdp,
    )


async def test_fresh_mids_cannot_pile_up_producers(
    server: RunningServer, connect: ClientFactory
) -> None:
    client = await enter(connect, name="Acapara", role="head", delegation="cr")
    pid = client.welcome.you.id if client.welcome else ""
    offer = await real_offer()  # audio and video: two sections
    refused = []
    for n in range(10):
        try:
            await client.request(PublishOffer(with_fresh_mids(offer, f"x{n}"), id=client.next_id()))
        except ClientError as exc:
            refused.append(exc.error.code)
    assert set(refused) == {"limit_reached"}
    await asyncio.sleep(0.5)  # producers appear as tracks arrive
    router = server.palabra.conferences["demo"].router
    assert len(router.producers_of(pid)) <= Limits().max_tracks
    assert client.close_code is None


@pytest.mark.parametrize("max_tracks", [1])
async def test_the_track_quota_is_configurable(
    connect: ClientFactory, server: RunningServer, max_tracks: int
) -> None:
    server.palabra.config.limits = Limits(max_tracks=max_tracks)
    client = await enter(connect, name="Uno", role="head", delegation="cr")
    with pytest.raises(ClientError) as error:
        await client.request(PublishOffer(await real_offer(), id=client.next_id()))
    assert error.value.error.code == "limit_reached"
