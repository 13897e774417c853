"""The subscriber connection as a third-party client sees it: offers, replies, choices."""

from __future__ import annotations

from server.client import PalabraClient
from signaling import SubscribeOffer

from .conftest import ClientFactory, RunningServer
from .media_tracks import ColourTrack, ToneTrack


def offers(client: PalabraClient) -> list[SubscribeOffer]:
    return [m for m in client.messages if isinstance(m, SubscribeOffer)]


def participant_id(client: PalabraClient) -> str:
    assert client.welcome is not None
    return client.welcome.you.id


async def test_a_new_subscriber_gets_one_offer_with_everything(
    server: RunningServer, connect: ClientFactory
) -> None:
    conference = server.palabra.conferences["demo"]
    publishers = []
    for delegation, colour in (("gt", "red"), ("sv", "green")):
        publisher = await connect(name=f"Jefe {delegation}", delegation=delegation)
        await publisher.publish(video=ColourTrack(colour), audio=ToneTrack())
        publishers.append(publisher)
    await publishers[0].wait_for(lambda: len(conference.router.producers) == 4)

    late = await connect(name="Tarde", delegation="cr", decode=False)
    await late.wait_for_streams(4, frames=1, timeout=15)
    transport = conference.router.peers[participant_id(late)]
    await late.wait_for(lambda: not transport.negotiating)

    [offer] = offers(late)  # not a second offer with the same streams
    assert offer.revision == 1
    assert {s.producer_id for s in offer.streams} == set(conference.router.producers)
    assert transport.revision == 1
