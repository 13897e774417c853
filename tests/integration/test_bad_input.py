"""Bad input gets a typed error (or a documented close) and harms nobody else."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
import websockets
from aiortc import RTCPeerConnection, RTCRtpSender

from client import ClientError, PalabraClient
from server.tokens import issue_token
from signaling import Hello, PublishOffer, SubscribeAnswer

from .conftest import ClientFactory, RunningServer
from .media_tracks import ColourTrack, ToneTrack


async def exchange(ws: websockets.ClientConnection, data: str | bytes) -> dict[str, object]:
    await ws.send(data)
    reply: dict[str, object] = json.loads(await ws.recv())
    return reply


@pytest.fixture
async def raw(server: RunningServer) -> AsyncIterator[websockets.ClientConnection]:
    async with websockets.connect(server.ws_url, max_size=None) as ws:
        yield ws


@pytest.fixture
async def witness(connect: ClientFactory) -> AsyncIterator[PalabraClient]:
    """A publisher and a subscriber whose media must keep flowing throughout."""
    publisher = await connect(name="Testigo", delegation="gt")
    await publisher.publish(video=ColourTrack("red"), audio=ToneTrack())
    watcher = await connect(name="Observa", delegation="sv")
    [stream] = await watcher.wait_for_streams(1, kind="video", frames=3, timeout=15)
    before = stream.frames
    yield watcher
    await watcher.wait_for(lambda: stream.frames > before + 10, timeout=10)
    assert watcher.close_code is None and not watcher.errors


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "bad_json"),
        (b"\xff\xfe", "bad_json"),
        ("[1, 2]", "bad_json"),
        ('{"type": "teleport"}', "unknown_type"),
        ('{"id": 7}', "bad_message"),
        ('{"type": "hello", "version": "1", "token": "x"}', "bad_message"),
        ('{"type": "hello", "version": true, "token": "x"}', "bad_message"),
        ('{"type": "publish.offer", "sdp": "v=0"}', "handshake_required"),
    ],
)
async def test_malformed_frames_before_hello(
    server: RunningServer,
    raw: websockets.ClientConnection,
    witness: PalabraClient,
    frame: str | bytes,
    code: str,
) -> None:
    reply = await exchange(raw, frame)
    assert reply["type"] == "error" and reply["code"] == code
    # The connection stays open for a proper handshake.
    hello = json.dumps({"type": "hello", "version": 1, "token": server.token()})
    assert (await exchange(raw, hello))["type"] == "welcome"


async def test_error_keeps_the_offending_id(raw: websockets.ClientConnection) -> None:
    reply = await exchange(raw, '{"type": "leave", "id": "m-42"}')
    assert reply == {
        "type": "error",
        "code": "handshake_required",
        "message": reply["message"],
        "ref": "m-42",
    }


async def test_oversize_frame_closes_with_1009(
    raw: websockets.ClientConnection, witness: PalabraClient
) -> None:
    await raw.send(json.dumps({"type": "ping", "pad": "x" * 300_000}))
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await raw.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_unsupported_version_closes_with_4001(raw: websockets.ClientConnection) -> None:
    reply = await exchange(raw, '{"type": "hello", "version": 2, "token": "x"}')
    assert reply["code"] == "unsupported_version"
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await raw.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001


@pytest.mark.parametrize(
    ("token_kind", "code"),
    [
        ("forged", "invalid_token"),
        ("tampered", "invalid_token"),
        ("expired", "token_expired"),
        ("unknown_conference", "wrong_conference"),
        ("unknown_delegation", "invalid_token"),
        ("unknown_role", "invalid_token"),
    ],
)
async def test_bad_tokens_are_refused_before_anything_else(
    server: RunningServer,
    raw: websockets.ClientConnection,
    witness: PalabraClient,
    token_kind: str,
    code: str,
) -> None:
    good = server.token()
    tokens = {
        "forged": issue_token(
            "another-secret-of-at-least-32-bytes!", conference="demo", role="chair", name="Intruso"
        ),
        "tampered": good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"),
        "expired": server.token(ttl=-10),
        "unknown_conference": issue_token(
            server.palabra.config.secret, conference="other", role="chair", name="X"
        ),
        "unknown_delegation": server.token(delegation="zz"),
        "unknown_role": server.token(role="emperor"),
    }
    members_before = set(server.palabra.conferences["demo"].members)
    reply = await exchange(
        raw, json.dumps({"type": "hello", "version": 1, "token": tokens[token_kind], "id": "h"})
    )
    assert (reply["type"], reply["code"], reply["ref"]) == ("error", code, "h")
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await raw.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001
    assert set(server.palabra.conferences["demo"].members) == members_before


async def test_second_hello_is_refused(connect: ClientFactory) -> None:
    client = await connect()
    with pytest.raises(ClientError) as error:
        await client.request(Hello(version=1, token=client.token, id=client.next_id()))
    assert error.value.error.code == "already_joined"
    assert client.close_code is None


async def test_bad_sdp_and_unsupported_codec(
    connect: ClientFactory, witness: PalabraClient
) -> None:
    client = await connect(name="Torpe", delegation="cr")
    with pytest.raises(ClientError) as error:
        await client.request(PublishOffer(sdp="this is not sdp", id=client.next_id()))
    assert error.value.error.code == "bad_sdp"

    h264_only = RTCPeerConnection()
    transceiver = h264_only.addTransceiver(ColourTrack("blue"), direction="sendonly")
    transceiver.setCodecPreferences(
        [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == "video/H264"]
    )
    await h264_only.setLocalDescription(await h264_only.createOffer())
    try:
        with pytest.raises(ClientError) as error:
            await client.request(
                PublishOffer(sdp=h264_only.localDescription.sdp, id=client.next_id())
            )
        assert error.value.error.code == "unsupported_codec"
    finally:
        await h264_only.close()
    # Still usable: a proper publish afterwards works.
    await client.publish(video=ColourTrack("blue"))


async def test_observer_may_not_publish(connect: ClientFactory) -> None:
    observer = await connect(name="Prensa", delegation=None, role="observer")
    with pytest.raises(ClientError) as error:
        await observer.publish(video=ColourTrack("green"))
    assert error.value.error.code == "forbidden"


async def test_stale_subscribe_answer(connect: ClientFactory, witness: PalabraClient) -> None:
    with pytest.raises(ClientError) as error:
        await witness.request(SubscribeAnswer(sdp="v=0", revision=999, id=witness.next_id()))
    assert error.value.error.code == "stale_revision"
    witness.errors.clear()  # expected: the witness checks for unexpected errors


async def test_same_seat_twice_replaces_the_first_connection(
    server: RunningServer,
) -> None:
    token = server.token(participant="seat-1")
    first = PalabraClient(server.ws_url, token, media_addresses=["127.0.0.1"])
    second = PalabraClient(server.ws_url, token, media_addresses=["127.0.0.1"])
    try:
        await first.join()
        await second.join()
        await first.wait_for(lambda: first.closed.is_set())
        assert first.close_code == 4009
        assert list(server.palabra.conferences["demo"].members) == ["seat-1"]
    finally:
        await first.close()
        await second.close()
