"""The subscriber connection as a third-party client sees it: offers, replies, choices."""

from __future__ import annotations

import json

import pytest
import websockets

from client import ClientError, PalabraClient
from signaling import (
    ErrorCode,
    RoomUpdate,
    SubscribeAnswer,
    SubscribeOffer,
    SubscribeOk,
    SubscribeStreams,
    Subscription,
)

from .conftest import ClientFactory, RunningServer
from .media_tracks import ColourTrack, ToneTrack, dominant_colour


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


async def test_every_applied_answer_gets_subscribe_ok(
    server: RunningServer, connect: ClientFactory
) -> None:
    publisher = await connect(name="Canciller", delegation="gt")
    await publisher.publish(video=ColourTrack("red"))
    listener = await connect(name="Asesor", delegation="sv", decode=False)
    await listener.wait_for(lambda: listener.applied_revision == 1)
    [answer] = [m for m in listener.sent if isinstance(m, SubscribeAnswer)]
    [ok] = [m for m in listener.messages if isinstance(m, SubscribeOk)]
    assert (ok.ref, ok.revision) == (answer.id, 1)

    # An answer to a revision that is not pending is refused, and not acknowledged.
    stale = SubscribeAnswer(sdp=answer.sdp, revision=1, id="again")
    with pytest.raises(ClientError) as refused:
        await listener.request(stale)
    assert refused.value.error.code == ErrorCode.STALE_REVISION
    assert len([m for m in listener.messages if isinstance(m, SubscribeOk)]) == 1


async def test_a_publish_only_bot_is_heard_and_seen_and_sent_nothing(
    server: RunningServer, connect: ClientFactory
) -> None:
    conference = server.palabra.conferences["demo"]
    minister = await connect(name="Canciller", delegation="sv")
    await minister.publish(video=ColourTrack("green"), audio=ToneTrack())
    await minister.wait_for(lambda: len(conference.router.producers) == 2)

    bot = PalabraClient(
        server.ws_url,
        server.token("head", "Bot", "gt"),
        media_addresses=["127.0.0.1"],
        subscribe=False,
    )
    try:
        await bot.join()
        await bot.publish(video=ColourTrack("blue"), audio=ToneTrack())
        [video] = await minister.wait_for_streams(1, kind="video", frames=5, timeout=15)
        assert dominant_colour(video.last_frame) == "blue"
        [audio] = await minister.wait_for_streams(1, kind="audio", frames=5, timeout=15)
        assert audio.participant_id == participant_id(bot)

        # Published after the bot joined: not offered to it either.
        adviser = await connect(name="Asesora", delegation="cr", decode=False)
        await adviser.publish(video=ColourTrack("yellow"))
        await adviser.wait_for_streams(4, frames=1, timeout=15)
        await minister.wait_for_streams(3, frames=1, timeout=15)

        transport = conference.router.peers[participant_id(bot)]
        assert transport.subscriber is None  # no subscriber connection at all
        assert transport.consumers == {} and transport.revision == 0
        assert not transport.negotiating
        assert offers(bot) == [] and bot.errors == []
        with pytest.raises(ClientError) as refused:
            await bot.listen(None)  # interpretation comes as audio: there is none to hear it on
        assert refused.value.error.code == ErrorCode.INVALID_STATE
        theirs = [p for p in conference.router.producers.values() if p.owner != participant_id(bot)]
        assert len(theirs) == 3
        for producer in theirs:  # each goes to the two others who receive, not to the bot
            assert len(producer.consumers) == 1
    finally:
        await bot.close()


async def test_a_per_kind_choice_receives_only_that_kind(
    server: RunningServer, connect: ClientFactory
) -> None:
    conference = server.palabra.conferences["demo"]
    minister = await connect(name="Canciller", delegation="sv")
    await minister.publish(video=ColourTrack("green"), audio=ToneTrack())
    recorder = PalabraClient(
        server.ws_url,
        server.token("observer", "Grabadora", "gt"),
        media_addresses=["127.0.0.1"],
        decode=False,
        subscribe=Subscription(video=False),
    )
    try:
        await recorder.join()
        [audio] = await recorder.wait_for_streams(1, kind="audio", frames=5, timeout=15)
        assert audio.participant_id == participant_id(minister)
        transport = conference.router.peers[participant_id(recorder)]
        await recorder.wait_for(lambda: not transport.negotiating)
        assert [s.kind for o in offers(recorder) for s in o.streams] == ["audio"]
        assert [c.kind for c in transport.consumers.values()] == ["audio"]
    finally:
        await recorder.close()


async def test_streams_say_whether_the_floor_lets_them_be_heard(
    server: RunningServer, connect: ClientFactory
) -> None:
    chair = await connect(name="Presidencia", delegation=None, role="chair")
    speaker = await connect(name="Canciller", delegation="gt")
    listener = await connect(name="Oyente", delegation="sv", decode=False)
    await speaker.publish(video=ColourTrack("red"), audio=ToneTrack())
    await listener.wait_for_streams(2, frames=1, timeout=15)
    [audio] = [s for s in listener.streams.values() if s.kind == "audio"]
    [video] = [s for s in listener.streams.values() if s.kind == "video"]
    assert (audio.audible, video.audible) == (True, None)  # an open floor: everyone heard

    def told(audible: bool) -> int:
        """Where the listener was told so (a subscribe.streams), in its messages."""
        for index, message in enumerate(listener.messages):
            if isinstance(message, SubscribeStreams):
                [said] = [s for s in message.streams if s.mid == audio.mid]
                if said.audible is audible and message.revision == offers(listener)[-1].revision:
                    return index
        return -1

    def room_event(kind: str) -> int:
        return next(
            i
            for i, m in enumerate(listener.messages)
            if isinstance(m, RoomUpdate) and any(e["type"] == kind for e in m.events)
        )

    await chair.command("settings.open_floor", enabled=False)
    await listener.wait_for(lambda: audio.audible is False)
    closed = told(False)
    assert (
        0 <= closed < room_event("conference.settings_changed")
    )  # before the update that says why

    update = await speaker.command("floor.request", delegation_id="gt")
    [requested] = [e for e in update.events if e["type"] == "floor.requested"]
    await chair.command("floor.grant", request_id=requested["request_id"], unlimited=True)
    await listener.wait_for(lambda: audio.audible is True)
    assert closed < told(True) < room_event("floor.granted")
    await listener.wait_for(lambda: audio.packets > 10)

    await chair.command("floor.revoke", request_id=requested["request_id"])
    await listener.wait_for(lambda: audio.audible is False)
    assert video.audible is None
    streams = [m for m in listener.messages if isinstance(m, SubscribeStreams)]
    assert len(streams) == 3  # one per change, and nothing when nothing changed


async def test_a_resume_keeps_the_media_only_for_the_same_choice(
    server: RunningServer, connect: ClientFactory
) -> None:
    conference = server.palabra.conferences["demo"]
    minister = await connect(name="Canciller", delegation="sv")
    await minister.publish(audio=ToneTrack())
    bot = PalabraClient(
        server.ws_url,
        server.token("head", "Bot", "gt"),
        media_addresses=["127.0.0.1"],
        subscribe=False,
    )
    try:
        await bot.join()
        await bot.publish(audio=ToneTrack())
        await minister.wait_for_streams(1, kind="audio", frames=5, timeout=15)
        pid = participant_id(bot)
        kept = conference.router.peers[pid]

        bot.abort_connection()  # signaling drops; the media goes on
        await bot.wait_for(lambda: pid in conference.held_seats.detached)
        assert (await bot.resume()).media_kept
        assert conference.router.peers[pid] is kept and kept.subscriber is None

        bot.subscription = Subscription()  # now it would receive everything
        bot.abort_connection()
        await bot.wait_for(lambda: pid in conference.held_seats.detached)
        assert not (await bot.resume()).media_kept  # the kept media was made for another choice
        fresh = conference.router.peers[pid]
        assert fresh is not kept and fresh.subscriber is not None
        await bot.publish(audio=ToneTrack())
        [heard] = await bot.wait_for_streams(1, kind="audio", frames=5, timeout=15)
        assert heard.participant_id == participant_id(minister)
    finally:
        await bot.close()


@pytest.mark.parametrize("choice", ["none", 0, ["audio"], {"audio": "no"}, {"screen": False}])
async def test_a_bad_choice_of_media_is_refused_and_changes_nothing(
    server: RunningServer, choice: object
) -> None:
    token = server.token("head", "Bot", "gt")
    async with websockets.connect(server.ws_url) as ws:
        hello = {"type": "hello", "id": 1, "version": 1, "token": token, "subscribe": choice}
        await ws.send(json.dumps(hello))
        error = json.loads(await ws.recv())
        assert (error["type"], error["code"], error["ref"]) == ("error", "bad_message", 1)
        assert "subscribe" in error["message"]
        members = server.palabra.conferences["demo"].members.values()
        assert not any(m.info.name == "Bot" for m in members)  # nobody joined
        # Still waiting for a hello: a good one joins.
        await ws.send(json.dumps({**hello, "id": 2, "subscribe": False}))
        welcome = json.loads(await ws.recv())
        assert (welcome["type"], welcome["ref"]) == ("welcome", 2)
