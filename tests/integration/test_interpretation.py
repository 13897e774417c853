"""Interpretation in the media: channels are the active interpreters' audio, as feeds.

Real aiortc peers: the chair speaks on the floor (always heard), interpreters
publish a microphone each, listeners choose a channel. Listeners count packets
at the socket (``decode=False``) and trace the channel stream's sequence
numbers, timestamps and arrival times.
"""

from __future__ import annotations

import asyncio
import itertools

import pytest

from client import ClientError, PalabraClient, RemoteStream
from conference.interpretation_routing import LISTEN, PARTNER
from conference.live import LiveConference
from rooms import Settings
from signaling import MonitorAlert, MonitorStats

from .conftest import ClientFactory, RunningServer
from .media_tracks import SineTrack, ToneTrack

SILENT_BYTES = 20  # Opus silence packets are a few bytes; the sine tone's are far larger


@pytest.fixture
def settings() -> Settings:
    return Settings(lobby_enabled=False)


def pid(client: PalabraClient) -> str:
    assert client.welcome is not None
    return client.welcome.you.id


def live(server: RunningServer) -> LiveConference:
    return server.palabra.conferences["demo"]


class Booths:
    """The chair on the floor; en booth: en1, en2; pt booth: pt1; listeners join on demand."""

    def __init__(self, connect: ClientFactory) -> None:
        self.connect = connect

    async def setup(self) -> None:
        connect = self.connect
        self.chair = await connect(name="Presidencia", delegation=None, role="chair")
        self.en1 = await connect(name="Intérprete EN 1", delegation=None, role="interpreter")
        self.en2 = await connect(name="Intérprete EN 2", delegation=None, role="interpreter")
        self.pt1 = await connect(name="Intérprete PT", delegation=None, role="interpreter")
        chair = self.chair
        await chair.command("interpretation.set_languages", languages=["es", "en", "pt"])
        await chair.command("interpretation.open_channel", language="en")
        await chair.command("interpretation.open_channel", language="pt")
        for client, booth, languages in (
            (self.en1, "en", ["en", "es"]),
            (self.en2, "en", ["en", "es"]),
            (self.pt1, "pt", ["pt", "en", "es"]),
        ):
            await chair.command(
                "interpretation.assign",
                participant_id=pid(client),
                booth=booth,
                working_languages=languages,
            )
        await chair.publish(audio=ToneTrack())
        await self.en1.publish(audio=SineTrack())
        await self.en2.publish(audio=SineTrack())
        await self.pt1.publish(audio=ToneTrack())

    async def listener(self, name: str = "Canciller de El Salvador") -> PalabraClient:
        client = await self.connect(name=name, delegation="sv", decode=False)
        await client.wait_for(lambda: client.feed_stream() is not None and self._floor(client))
        return client

    def _floor(self, client: PalabraClient) -> bool:
        return any(s.participant_id == pid(self.chair) for s in client.streams.values())

    def floor(self, client: PalabraClient) -> RemoteStream:
        return next(s for s in client.streams.values() if s.participant_id == pid(self.chair))


def channel(client: PalabraClient, feed: str = PalabraClient.LISTEN_FEED) -> RemoteStream:
    stream = client.feed_stream(feed)
    assert stream is not None
    return stream


async def test_a_listener_on_en_hears_the_interpreter_and_the_floor(
    connect: ClientFactory, server: RunningServer
) -> None:
    booths = Booths(connect)
    await booths.setup()
    listener = await booths.listener()
    ack = await listener.listen("en")
    assert ack.channel == "en"
    en = channel(listener)
    await asyncio.sleep(0.5)
    assert en.packets == 0, "nobody on air: the channel is silent"
    await booths.en1.command("interpretation.on_air")
    floor = booths.floor(listener)
    await listener.wait_for(lambda: en.packets >= 25 and floor.packets >= 25, timeout=10)
    assert en.bytes / en.packets > SILENT_BYTES, "the channel carries the en interpreter's tone"
    # No interpreter's microphone reaches anyone directly, only as a channel.
    interpreters = {pid(booths.en1), pid(booths.en2), pid(booths.pt1)}
    assert not any(s.participant_id in interpreters for s in listener.streams.values())
    # Interpreter audio is not gated by the floor: nobody holds it.
    assert listener.room["holders"] == []
    # The on-air interpreter never hears itself; its passive partner does.
    transport_of = {m.info.id: m.transport for m in live(server).members.values()}
    en1_transport, en2_transport = transport_of[pid(booths.en1)], transport_of[pid(booths.en2)]
    assert en1_transport is not None and en2_transport is not None
    assert en1_transport.feed_source(PARTNER) is None
    partner = en2_transport.feed_source(PARTNER)
    assert partner is not None and partner.owner == pid(booths.en1)
    await booths.en2.wait_for(
        lambda: (
            (s := booths.en2.feed_stream(PalabraClient.PARTNER_FEED)) is not None and s.frames >= 10
        )
    )


async def test_handover_keeps_one_continuous_stream(
    connect: ClientFactory, server: RunningServer
) -> None:
    booths = Booths(connect)
    await booths.setup()
    listener = await booths.listener()
    await listener.listen("en")
    en = channel(listener)
    await booths.en1.command("interpretation.on_air")
    await listener.wait_for(lambda: en.packets >= 25, timeout=10)
    en.trace = []
    await asyncio.sleep(0.5)
    await booths.en2.command("interpretation.request_handover")
    update = await booths.en1.command("interpretation.accept_handover")
    assert [e["type"] for e in update.events] == ["interpretation.handed_over"]
    trace = en.trace
    switched_at = len(trace)
    # Packet counts, not wall time: a loaded machine paces the senders slower.
    await listener.wait_for(lambda: len(trace) >= switched_at + 25, timeout=15)
    # The listener's stream went on from en2's microphone.
    transport = live(server).members[pid(listener)].transport
    assert transport is not None
    source = transport.feed_source(LISTEN)
    assert source is not None and source.owner == pid(booths.en2)
    # Continuous: every sequence number once, in order, and no gap in the media
    # time: the switch advances the clock by the 20 ms to 60 ms it took. (Arrival
    # times here share one event loop with five encoding peers; the benchmark
    # measures the arrival gap across processes.)
    steps = []
    for (_, seq, ts, _), (_, next_seq, next_ts, _) in itertools.pairwise(trace):
        assert (next_seq - seq) & 0xFFFF == 1
        steps.append((next_ts - ts) & 0xFFFFFFFF)
    assert en.lost == 0
    assert min(steps) >= 960 and max(steps) < 48 * 60, f"timestamp steps up to {max(steps)}"
    # No gap at the switch: arrivals around it are at most 60 ms apart.


async def test_relay_a_pt_interpreter_works_from_the_en_channel(
    connect: ClientFactory, server: RunningServer
) -> None:
    booths = Booths(connect)
    await booths.setup()
    pt1 = booths.pt1
    await pt1.command("interpretation.set_source", source="en")
    await booths.en1.command("interpretation.on_air")
    await pt1.command("interpretation.on_air")
    await pt1.wait_for(lambda: pt1.feed_stream() is not None)
    relay = channel(pt1)
    await pt1.wait_for(lambda: relay.frames >= 10, timeout=10)
    transport = live(server).members[pid(pt1)].transport
    assert transport is not None
    source = transport.feed_source(LISTEN)
    assert source is not None and source.owner == pid(booths.en1)
    assert transport.feed_source(PARTNER) is None  # alone in the pt booth
    # A listener on pt hears pt1, not the en interpreter.
    listener = await booths.listener()
    await listener.listen("pt")
    listener_transport = live(server).members[pid(listener)].transport
    assert listener_transport is not None
    pt_source = listener_transport.feed_source(LISTEN)
    assert pt_source is not None and pt_source.owner == pid(pt1)


async def test_an_interpreter_cannot_speak_into_another_booth(
    connect: ClientFactory, server: RunningServer
) -> None:
    booths = Booths(connect)
    await booths.setup()
    listener = await booths.listener()
    await listener.listen("en")
    en = channel(listener)
    seq = booths.pt1.room_seq
    with pytest.raises(ClientError) as refused:
        await booths.pt1.command("interpretation.on_air", participant_id=pid(booths.en1))
    assert refused.value.error.code == "forbidden"
    with pytest.raises(ClientError) as refused:
        await booths.chair.command("interpretation.on_air", participant_id=pid(booths.en1))
    assert refused.value.error.code == "forbidden"
    await booths.pt1.command("interpretation.on_air")  # its own booth: fine
    await asyncio.sleep(0.8)
    assert en.packets == 0, "pt1's microphone never reaches the en channel"
    assert live(server).state.interpretation.active_interpreters() == {"pt": pid(booths.pt1)}
    assert booths.pt1.room_seq == seq + 1


async def test_a_listener_switches_channels_without_renegotiating(
    connect: ClientFactory, server: RunningServer
) -> None:
    booths = Booths(connect)
    await booths.setup()
    await booths.en1.command("interpretation.on_air")
    await booths.pt1.command("interpretation.on_air")
    listener = await booths.listener()
    stream = channel(listener)
    stream.trace = []
    await asyncio.sleep(0.5)  # the join's negotiations are over
    revision = live(server).members[pid(listener)].transport.revision  # type: ignore[union-attr]

    await listener.listen("en")
    await listener.wait_for(lambda: len(stream.trace or []) >= 15, timeout=5)
    assert all(size > SILENT_BYTES for *_, size in stream.trace[-10:])  # en1's tone

    await listener.listen("pt")
    trace = stream.trace
    # pt1's silence from the next packets on (the latency is measured in bench/).
    await listener.wait_for(
        lambda: len(trace) > 10 and all(size <= SILENT_BYTES for *_, size in trace[-10:]),
        timeout=5,
    )

    await listener.listen(None)
    await asyncio.sleep(0.3)
    count = len(stream.trace)
    await asyncio.sleep(0.6)
    assert len(stream.trace) - count <= 1
    assert live(server).members[pid(listener)].transport.revision == revision  # type: ignore[union-attr]


async def test_bad_listening_requests_are_typed_errors(
    connect: ClientFactory, server: RunningServer
) -> None:
    booths = Booths(connect)
    await booths.setup()
    listener = await booths.listener()
    await listener.listen("en")
    for channel_asked, code in (("xx", "invalid_argument"), ("es", "invalid_state")):
        with pytest.raises(ClientError) as refused:
            await listener.listen(channel_asked)
        assert refused.value.error.code == code
    await listener.send_raw('{"type":"interpretation.listen","id":"two","channel":["en","pt"]}')
    await listener.wait_for(lambda: any(e.ref == "two" for e in listener.errors))
    assert next(e for e in listener.errors if e.ref == "two").code == "bad_message"
    with pytest.raises(ClientError) as refused:
        await booths.en1.listen("pt")
    assert refused.value.error.code == "forbidden"
    assert live(server).interpretation.listening[pid(listener)] == "en"  # nothing changed


async def test_the_passive_partner_is_told_when_the_active_drops_and_takes_over(
    connect: ClientFactory, server: RunningServer
) -> None:
    booths = Booths(connect)
    await booths.setup()
    await booths.en1.command("interpretation.on_air")
    en2 = booths.en2
    await booths.en1.close()  # the connection drops: the seat is held, the shift ends
    await en2.wait_for(
        lambda: any(
            e["type"] == "interpretation.shift_ended" and e["reason"] == "interpreter_dropped"
            for e in en2.room_events
        )
    )
    await en2.command("interpretation.on_air")
    assert live(server).state.interpretation.active_in("en") == pid(en2)


async def test_interpreters_are_asked_for_full_band_mono_opus(connect: ClientFactory) -> None:
    interpreter = await connect(name="Intérprete", delegation=None, role="interpreter")
    await interpreter.publish(audio=ToneTrack())
    answer = interpreter.publisher.remoteDescription.sdp
    [fmtp] = [
        line for line in answer.splitlines() if line.startswith("a=fmtp:") and "stereo" in line
    ]
    for wanted in ("maxplaybackrate=48000", "stereo=0", "maxaveragebitrate=64000"):
        assert wanted in fmtp


async def test_technicians_are_alerted_when_a_channel_is_silent_while_the_floor_speaks(
    connect: ClientFactory,
) -> None:
    booths = Booths(connect)
    await booths.setup()  # the chair speaks; nobody is on air in en or pt
    tech = await connect(name="Técnico", delegation=None, role="technician")

    def alerts(state: str) -> set[str]:
        return {
            str(m.alert["id"])
            for m in tech.messages
            if isinstance(m, MonitorAlert)
            and m.state == state
            and m.alert["kind"] == "channel_silent"
        }

    await tech.wait_for(lambda: alerts("raised") >= {"channel:en", "channel:pt"}, timeout=15)
    await booths.en1.command("interpretation.on_air")
    await tech.wait_for(lambda: "channel:en" in alerts("cleared"), timeout=10)
    assert "channel:pt" not in alerts("cleared")


async def test_technicians_see_each_open_channel_as_a_stream(
    connect: ClientFactory,
) -> None:
    booths = Booths(connect)
    await booths.setup()
    tech = await connect(name="Técnico", delegation=None, role="technician")
    listener = await booths.listener()
    await listener.listen("en")
    await booths.en1.command("interpretation.on_air")

    def latest() -> dict[str, dict[str, object]]:
        stats = [m for m in tech.messages if isinstance(m, MonitorStats)]
        return {str(c["language"]): dict(c) for c in stats[-1].channels} if stats else {}

    def sounding(language: str, interpreter: PalabraClient) -> bool:
        entry = latest().get(language)
        return (
            entry is not None
            and entry["interpreter_id"] == pid(interpreter)
            and entry["silent"] is False
            and float(entry["bitrate_kbps"]) > 0  # type: ignore[arg-type]
        )

    await tech.wait_for(lambda: sounding("en", booths.en1), timeout=15)
    channels = latest()
    assert set(channels) == {"en", "pt"}
    en, pt = channels["en"], channels["pt"]
    assert en["id"] == "channel:en" and en["listeners"] == 1
    assert int(en["packets"]) > 0 and int(en["bytes"]) > 0  # type: ignore[call-overload]
    assert pt["interpreter_id"] is None and pt["producer_id"] is None
    assert pt["silent"] is True and pt["packets"] == 0 and pt["listeners"] == 0
    before = int(en["packets"])  # type: ignore[call-overload]

    # A handover goes on in the same row: the counts carry on, the interpreter changes.
    await booths.en2.command("interpretation.request_handover")
    await booths.en1.command("interpretation.accept_handover")
    await booths.pt1.command("interpretation.set_source", source="en")  # a relay receives it too
    await tech.wait_for(
        lambda: sounding("en", booths.en2) and latest()["en"]["listeners"] == 2, timeout=15
    )
    assert int(latest()["en"]["packets"]) > before  # type: ignore[call-overload]

    # Closing a channel removes its row.
    await booths.chair.command("interpretation.close_channel", language="pt")
    await tech.wait_for(lambda: set(latest()) == {"en"}, timeout=15)
