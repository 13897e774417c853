"""Join tokens: a signed token the room would refuse, resume lifetimes, bans.

Each through the real WebSocket or HTTP API of a real server.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import jwt
import pytest

from client import ClientError, PalabraClient
from server.tokens import issue_token

from ._http import SECRET, RunningServer, call, hello, serve, signed

GRACE = 5.0


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    async with serve(tmp_path, resume_grace=GRACE) as running:
        yield running


@pytest.fixture
async def http(server: RunningServer) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(f"http://127.0.0.1:{server.port}") as session:
        yield session


BAD_SEATS = {
    "long name": {"name": "N" * 201},
    "blank name": {"name": "   "},
    "sub with outer spaces": {"sub": " u-1 "},
    "long sub": {"sub": "u" * 129},
    "sub with a newline": {"sub": "u-1\nchair"},
    "delegation with a newline": {"del": "gt\n"},
}


@pytest.mark.parametrize("claims", BAD_SEATS.values(), ids=BAD_SEATS.keys())
async def test_a_signed_token_with_a_seat_the_room_refuses_is_an_invalid_token(
    server: RunningServer, claims: dict[str, str]
) -> None:
    members = set(server.palabra.conferences["demo"].members)
    reply, close = await hello(server.ws_url, signed(**claims))
    assert (reply["type"], reply["code"], reply["ref"]) == ("error", "invalid_token", "h")
    assert close == 4001
    assert set(server.palabra.conferences["demo"].members) == members
    # The server is still fine: a good token joins.
    reply, _ = await hello(server.ws_url, server.token())
    assert reply["type"] == "welcome"


MINT_REFUSALS = {
    "long name": {"name": "N" * 201},
    "blank name": {"name": " \t "},
    "participant with outer spaces": {"name": "X", "participant": " p "},
    "long participant": {"name": "X", "participant": "p" * 129},
    "participant with a newline": {"name": "X", "participant": "p\n1"},
}


@pytest.mark.parametrize("body", MINT_REFUSALS.values(), ids=MINT_REFUSALS.keys())
async def test_the_admin_api_does_not_mint_such_tokens(
    http: aiohttp.ClientSession, body: dict[str, str]
) -> None:
    status, _, answer = await call(
        http, "POST", "/api/conferences/demo/tokens", body={"role": "chair", **body}
    )
    assert status == 400
    assert answer["error"]["code"] == "invalid_argument"


def _claims(token: str) -> dict[str, int]:
    claims: dict[str, int] = jwt.decode(token, SECRET, algorithms=["HS256"], issuer="palabra")
    return claims


async def test_a_short_link_gives_a_resume_token_bounded_by_its_expiry_and_the_grace(
    server: RunningServer,
) -> None:
    link = server.token(participant="breve", ttl=3)
    link_expiry = _claims(link)["exp"]
    client = PalabraClient(server.ws_url, link, media_addresses=["127.0.0.1"])
    try:
        welcome = await client.join()
        assert welcome.resume_token is not None
        resume_expiry = _claims(welcome.resume_token)["exp"]
        assert link_expiry < resume_expiry <= link_expiry + GRACE
        # Resuming with it does not stretch it: the next one ends no later.
        again = await client.reconnect()
        assert again.resume_token is not None
        assert _claims(again.resume_token)["exp"] <= link_expiry + GRACE
    finally:
        await client.close()


async def test_a_long_link_keeps_a_resume_token_of_at_most_twelve_hours(
    server: RunningServer,
) -> None:
    client = PalabraClient(server.ws_url, server.token(), media_addresses=["127.0.0.1"])
    try:
        welcome = await client.join()
        assert welcome.resume_token is not None
        assert _claims(welcome.resume_token)["exp"] <= time.time() + 12 * 3600 + 1
    finally:
        await client.close()


async def _join(server: RunningServer, token: str) -> PalabraClient:
    client = PalabraClient(server.ws_url, token, media_addresses=["127.0.0.1"])
    await client.join()
    return client


async def test_a_banned_seat_cannot_come_back_until_the_chair_readmits_it(
    server: RunningServer,
) -> None:
    chair = await _join(server, server.token("chair", "Presidencia", None, participant="chair"))
    link = server.token(participant="p-gt")
    head = await _join(server, link)
    assert head.welcome is not None and head.welcome.resume_token is not None
    resume = head.welcome.resume_token
    try:
        update = await chair.command("participant.remove", participant_id="p-gt", ban=True)
        assert update.state["banned"] == ["p-gt"]
        [removed] = [e for e in update.events if e["type"] == "participant.removed"]
        assert removed["banned"] is True
        await head.wait_for(head.closed.is_set)
        assert head.close_code == 4003

        # Neither the link nor the resume token lets the seat back in.
        for attempt in (link, resume):
            client = PalabraClient(server.ws_url, link, media_addresses=["127.0.0.1"])
            try:
                with pytest.raises(ClientError) as refused:
                    await client.join(resume=resume if attempt is resume else None)
                assert refused.value.error.code == "forbidden"
                await client.wait_for(client.closed.is_set)
                assert client.close_code == 4001
            finally:
                await client.close()
        assert "p-gt" not in server.palabra.conferences["demo"].state.participants

        # Only the chair lifts the ban; then the same link joins again.
        update = await chair.command("participant.unban", participant_id="p-gt")
        assert update.state["banned"] == []
        back = await _join(server, link)
        await back.close()
    finally:
        await chair.close()
        await head.close()


async def test_a_plain_removal_lets_the_seat_rejoin(server: RunningServer) -> None:
    chair = await _join(server, server.token("chair", "Presidencia", None, participant="chair"))
    link = server.token(participant="p-gt")
    head = await _join(server, link)
    try:
        await chair.command("participant.remove", participant_id="p-gt")
        await head.wait_for(head.closed.is_set)
        again = await _join(server, link)
        await again.close()
    finally:
        await chair.close()
        await head.close()


async def test_only_the_chair_lifts_a_ban(server: RunningServer) -> None:
    chair = await _join(server, server.token("chair", "Presidencia", None, participant="chair"))
    technician = await _join(server, server.token("technician", "Técnica", None))
    head = await _join(server, server.token(participant="p-gt"))
    try:
        await technician.command("participant.remove", participant_id="p-gt", ban=True)
        with pytest.raises(ClientError) as refused:
            await technician.command("participant.unban", participant_id="p-gt")
        assert refused.value.error.code == "forbidden"
        assert server.palabra.conferences["demo"].state.banned == {"p-gt"}
    finally:
        for client in (chair, technician, head):
            await client.close()


def test_palabra_token_refuses_a_seat_the_room_would_refuse(tmp_path: Path) -> None:
    from server.cli import main

    for name in ("", "   ", "N" * 201):
        with pytest.raises(SystemExit) as exited:
            main(["token", "--secret", SECRET, "--conference", "demo", "--role", "chair",
                  "--name", name])  # fmt: skip
        assert exited.value.code == 2
    with pytest.raises(SystemExit):
        main(["token", "--secret", SECRET, "--conference", "demo", "--role", "chair",
              "--name", "X", "--ttl", "-5"])  # fmt: skip


def test_issue_token_refuses_a_bad_seat() -> None:
    with pytest.raises(ValueError, match="name"):
        issue_token(SECRET, conference="demo", role="chair", name=" ")
    with pytest.raises(ValueError, match="participant"):
        issue_token(SECRET, conference="demo", role="chair", name="X", participant="a\nb")
