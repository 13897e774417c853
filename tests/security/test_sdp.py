"""Threat: an SDP the server cannot use drops the connection, or leaves a seat behind.

Every such offer gets `bad_sdp` with the reason and changes nothing; and a
seat always leaves completely (participant.left, gone from the room) even
when tearing down its media fails.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from aiortc import RTCPeerConnection

from client import ClientError, PalabraClient
from media.transport import forwarded_codec_preferences
from signaling import PublishOffer
from tests.integration.media_tracks import ColourTrack, ToneTrack

from .conftest import ClientFactory, RunningServer
from .test_commands import enter


async def real_offer() -> str:
    """A browser-like publisher offer: Opus audio and VP8 video, bundled."""
    pc = RTCPeerConnection()
    for track in (ToneTrack(), ColourTrack("green")):
        transceiver = pc.addTransceiver(track, direction="sendonly")
        transceiver.setCodecPreferences(forwarded_codec_preferences(track.kind))
    await pc.setLocalDescription(await pc.createOffer())
    sdp: str = pc.localDescription.sdp
    await pc.close()
    return sdp


def drop_video_section(sdp: str) -> str:
    """Remove the video m-section but leave its mid in the BUNDLE group."""
    head, *sections = re.split(r"(?m)^(?=m=)", sdp)
    return head + "".join(s for s in sections if not s.startswith("m=video"))


# Each with the error it gets: a codec the server cannot forward is unsupported_codec.
MUTATIONS: dict[str, Callable[[str], str]] = {
    "opus at 8 kHz mono": lambda sdp: sdp.replace("opus/48000/2", "opus/8000/1"),
    "a NUL inside a direction": lambda sdp: sdp.replace("a=sendonly", "a=send\0only"),
    "BUNDLE names a missing section": drop_video_section,
    "no ICE credentials": lambda sdp: re.sub(r"(?m)^a=ice-(ufrag|pwd):.*\r\n", "", sdp),
    "no fingerprint": lambda sdp: re.sub(r"(?m)^a=fingerprint:.*\r\n", "", sdp),
}


@pytest.mark.parametrize("mutation", list(MUTATIONS))
async def test_an_unusable_offer_gets_bad_sdp_and_the_seat_leaves_cleanly(
    connect: ClientFactory, mutation: str
) -> None:
    chair = await enter(connect, name="Presidencia", role="chair", delegation=None)
    client = await enter(connect, name="Torpe", role="head", delegation="cr")
    pid = client.welcome.you.id if client.welcome else ""
    sdp = MUTATIONS[mutation](await real_offer())
    with pytest.raises(ClientError) as error:
        await client.request(PublishOffer(sdp=sdp, id=client.next_id()))
    expected = "unsupported_codec" if mutation.startswith("opus") else "bad_sdp"
    assert error.value.error.code == expected and error.value.error.message
    assert client.close_code is None
    # The room is as it was, and leaving still works completely.
    await client.leave()
    await chair.wait_for(lambda: _gone(chair, pid))


def _gone(chair: PalabraClient, pid: str) -> bool:
    return pid not in chair.participants and all(
        p["participant_id"] != pid for p in chair.room["participants"]
    )


@pytest.mark.parametrize("how", ["leave", "drop"])
async def test_a_seat_leaves_even_when_its_media_teardown_fails(
    server: RunningServer, connect: ClientFactory, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    chair = await enter(connect, name="Presidencia", role="chair", delegation=None)
    client = await enter(connect, name="Cae", role="head", delegation="cr")
    await client.publish(video=ColourTrack("red"))
    await client.command("floor.request", delegation_id="cr")
    pid = client.welcome.you.id if client.welcome else ""
    conference = server.palabra.conferences["demo"]

    async def broken(peer_id: str) -> None:
        raise RuntimeError("injected: closing the transport failed")

    monkeypatch.setattr(conference.router, "close_transport", broken)
    if how == "leave":
        await client.leave()
        await chair.wait_for(lambda: _gone(chair, pid))
        assert not [r for r in chair.room["queue"] if r["delegation_id"] == "cr"]
    else:
        conference.held_seats.resume_grace = 0.1
        await client.close()
        await chair.wait_for(lambda: pid not in chair.participants)
        await chair.wait_for(lambda: _gone(chair, pid))
    assert pid not in conference.members
