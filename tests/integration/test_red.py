"""RED (RFC 2198) audio end to end with real aiortc peers and the real server.

A publisher that negotiated RED, as Chromium does, sends RED packets (and,
as Chromium may, plain Opus ones): a subscriber that negotiated RED gets
them as sent, its block headers naming its own Opus payload type; one that
did not gets the primary Opus block alone. Malformed RED reaches nobody.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from client import PalabraClient, RemoteStream
from media import red
from media.aiortc_hooks import negotiated_codecs, primary_payload_type, red_payload_type
from media.transport import IdleTrack

from .conftest import RunningServer

pytestmark = pytest.mark.usefixtures("forwarding_path")


async def poll_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


async def joined(
    server: RunningServer, name: str, delegation: str | None, red: bool, role: str = "head"
) -> PalabraClient:
    client = PalabraClient(
        server.ws_url,
        server.token(role, name, delegation),
        media_addresses=["127.0.0.1"],
        decode=False,
        red=red,
    )
    await client.join()
    return client


def participant(client: PalabraClient) -> str:
    assert client.welcome is not None
    return client.welcome.you.id


def opus_frame(n: int) -> bytes:
    """Stands for one 20 ms Opus frame: distinct bytes per frame."""
    return bytes((0x78,)) + n.to_bytes(2, "big") + bytes([n & 0xFF]) * 40


async def test_red_goes_to_red_subscribers_and_its_primary_to_the_others(
    server: RunningServer,
) -> None:
    publisher = await joined(server, "Canciller", "gt", red=True)
    with_red = await joined(server, "Asesora", "sv", red=True)
    without = await joined(server, "Asesor", "cr", red=False)
    clients = [publisher, with_red, without]
    try:
        await publisher.publish(audio=IdleTrack("audio"))
        await poll_until(lambda: publisher.publisher.connectionState == "connected")
        conference = server.palabra.conferences["demo"]
        [producer] = conference.router.producers.values()
        [opus_type] = [
            primary_payload_type(negotiated_codecs(t))
            for t in publisher.publisher.getTransceivers()
        ]
        assert opus_type is not None

        # RED packets until both subscribers are sent the stream.
        streams: list[RemoteStream] = []
        n = 0

        def both_receive() -> bool:
            found = [
                s
                for c in (with_red, without)
                for s in c.streams.values()
                if s.kind == "audio" and s.packets
            ]
            streams[:] = found
            return len(found) == 2

        async with asyncio.timeout(15):
            while not both_receive():
                n += 1
                payload = red.encode(
                    [(opus_type, 960, opus_frame(n - 1))], opus_type, opus_frame(n)
                )
                publisher.send_audio_rtp(payload, 960 * n, red=True)
                await asyncio.sleep(0.02)
        info = producer.info()
        assert info is not None and info.red_payload_type is not None
        red_stream = next(s for s in with_red.streams.values() if s.kind == "audio")
        plain_stream = next(s for s in without.streams.values() if s.kind == "audio")

        # What each subscriber negotiated, as the server recorded it.
        [red_slot] = conference.router.peers[participant(with_red)].slots
        [plain_slot] = conference.router.peers[participant(without)].slots
        assert red_slot.red_payload_type is not None and plain_slot.red_payload_type is None
        red_transceiver = next(
            t for t in with_red.subscriber.getTransceivers() if t.mid == red_stream.mid
        )
        subscriber_opus = primary_payload_type(negotiated_codecs(red_transceiver))
        subscriber_red = red_payload_type(negotiated_codecs(red_transceiver))
        assert subscriber_opus is not None and subscriber_red == red_slot.red_payload_type

        recorded: list[bytes] = []
        producer.sinks.append(lambda seq, ts, marker, payload: recorded.append(payload))

        async def send(payload: bytes, as_red: bool, red_gets: bytes, plain_gets: bytes) -> None:
            nonlocal n
            n += 1
            publisher.send_audio_rtp(payload, 960 * n, red=as_red)
            await poll_until(
                lambda: (
                    red_stream.last_payload == red_gets and plain_stream.last_payload == plain_gets
                )
            )

        for _ in range(20):
            primary = opus_frame(n + 1)
            payload = red.encode(
                [(opus_type, 1920, opus_frame(n - 1)), (opus_type, 960, opus_frame(n))],
                opus_type,
                primary,
            )
            # The RED subscriber: as sent, the block headers naming its Opus.
            # The other: the primary block alone, a plain Opus packet.
            await send(payload, True, red.retag(payload, 0, 2, subscriber_opus), primary)
            assert recorded[-1] == primary  # a recorder gets plain Opus

        # Chromium switches to plain Opus at times: everyone gets it as Opus.
        await send(opus_frame(1000), False, opus_frame(1000), opus_frame(1000))
        assert red_stream.payload_types[subscriber_opus] == 1
        assert red_stream.payload_types[subscriber_red] >= 20
        assert set(plain_stream.payload_types) == {plain_slot.payload_type}

        # Malformed RED (a block length past the end) reaches nobody and is counted.
        received = (red_stream.packets, plain_stream.packets)
        publisher.send_audio_rtp(bytes((0x80 | opus_type, 0, 3, 0xFF, opus_type, 1)), 0, red=True)
        await poll_until(lambda: producer.counters.red_malformed == 1)
        await send(opus_frame(1001), False, opus_frame(1001), opus_frame(1001))
        assert (red_stream.packets, plain_stream.packets) == (received[0] + 1, received[1] + 1)
        assert producer.counters.red_packets >= 21

        # Packets lost on the way in are rebuilt from the redundancy of the
        # next one (two blocks here), each under its own number, before it.
        lost_before = plain_stream.lost
        for lose in (1, 2, 3):
            n += lose + 1
            older = [(opus_type, 1920, opus_frame(n - 2)), (opus_type, 960, opus_frame(n - 1))]
            recorded.clear()
            before = plain_stream.packets
            publisher.send_audio_rtp(
                red.encode(older, opus_type, opus_frame(n)), 960 * n, red=True, lose=lose
            )
            rebuilt = min(lose, 2)
            expected, last = before + rebuilt + 1, opus_frame(n)
            await poll_until(
                lambda b=expected, p=last: (
                    plain_stream.packets == b and plain_stream.last_payload == p
                )
            )
            assert recorded == [opus_frame(n - k) for k in range(rebuilt, -1, -1)]
        # Only the oldest of three lost in a row stays lost.
        assert plain_stream.lost == lost_before + 1
        assert producer.counters.red_recovered == 5

        # The server counts what each subscriber was sent: RED, or primaries only.
        red_consumer = conference.router.peers[participant(with_red)].consumers[producer.id]
        plain_consumer = conference.router.peers[participant(without)].consumers[producer.id]
        await poll_until(
            lambda: (
                (red_consumer.counters.bytes, plain_consumer.counters.bytes)
                == (red_stream.bytes, plain_stream.bytes)
            )
        )
        assert red_consumer.counters.packets == red_stream.packets
        assert plain_consumer.counters.packets == plain_stream.packets
        assert red_stream.bytes > plain_stream.bytes
    finally:
        for client in clients:
            await client.close()


async def test_an_interpretation_channel_carries_red_or_its_primary(
    server: RunningServer,
) -> None:
    """The interpreter's browser sends RED: the channel's listeners get it as they negotiated."""
    chair = await joined(server, "Presidencia", None, red=False, role="chair")
    interpreter = await joined(server, "Intérprete EN", None, red=True, role="interpreter")
    clients = [chair, interpreter]
    try:
        await chair.command("interpretation.set_languages", languages=["es", "en"])
        await chair.command("interpretation.open_channel", language="en")
        await chair.command(
            "interpretation.assign",
            participant_id=participant(interpreter),
            booth="en",
            working_languages=["en", "es"],
        )
        await interpreter.publish(audio=IdleTrack("audio"))
        await interpreter.command("interpretation.on_air")
        await poll_until(lambda: interpreter.publisher.connectionState == "connected")
        [opus_type] = [
            primary_payload_type(negotiated_codecs(t))
            for t in interpreter.publisher.getTransceivers()
        ]
        assert opus_type is not None
        with_red = await joined(server, "Asesora", "sv", red=True)
        without = await joined(server, "Asesor", "cr", red=False)
        clients += [with_red, without]
        for listener in (with_red, without):
            await listener.listen("en")

        n = 0

        def frame() -> bytes:
            return red.encode([(opus_type, 960, opus_frame(n - 1))], opus_type, opus_frame(n))

        def both_hear() -> bool:
            return all(
                (s := c.feed_stream()) is not None and s.packets > 0 for c in (with_red, without)
            )

        async with asyncio.timeout(15):
            while not both_hear():
                n += 1
                interpreter.send_audio_rtp(frame(), 960 * n, red=True)
                await asyncio.sleep(0.02)
        red_feed, plain_feed = with_red.feed_stream(), without.feed_stream()
        assert red_feed is not None and plain_feed is not None
        transceiver = next(
            t for t in with_red.subscriber.getTransceivers() if t.mid == red_feed.mid
        )
        listener_opus = primary_payload_type(negotiated_codecs(transceiver))
        assert listener_opus is not None
        assert red_payload_type(negotiated_codecs(transceiver)) is not None
        for _ in range(10):
            n += 1
            payload = frame()
            interpreter.send_audio_rtp(payload, 960 * n, red=True)
            as_sent, primary = red.retag(payload, 0, 1, listener_opus), opus_frame(n)
            await poll_until(
                lambda a=as_sent, p=primary: (
                    red_feed.last_payload == a and plain_feed.last_payload == p
                )
            )
    finally:
        for client in clients:
            await client.close()
