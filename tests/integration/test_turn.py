"""TURN with a real coturn: minted credentials accepted, forged and expired ones refused,
the welcome hands them out (never the secret), the Python client gathers relay candidates."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aioice.stun
import aioice.turn
import pytest
from aiortc import AudioStreamTrack

from client import PalabraClient
from server.turn import parse_turn_url, seat_credentials
from signaling import encode
from tests.pki import Pki, make_pki
from tests.turn_server import TurnServer, coturn

from .conftest import OPEN_FLOOR, SECRET, demo_plan, free_port, running_server

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def turn(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[TurnServer]:
    with coturn(tmp_path_factory.mktemp("coturn"), pki) as server:
        yield server


async def allocate(turn: TurnServer, username: str, password: str, transport: str) -> None:
    relayed, _ = await asyncio.wait_for(
        aioice.turn.create_turn_endpoint(
            asyncio.DatagramProtocol,
            ("127.0.0.1", turn.port),
            username,
            password,
            transport=transport,
            lifetime=60,
        ),
        10,
    )
    relayed.close()


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_coturn_takes_a_minted_credential_and_refuses_forged_or_expired(
    turn: TurnServer, transport: str
) -> None:
    await allocate(turn, *seat_credentials(turn.secret, "p-gt", time.time() + 60), transport)

    forged = seat_credentials("another-secret-of-at-least-32-bytes!!", "p-gt", time.time() + 60)
    expired = seat_credentials(turn.secret, "p-gt", time.time() - 5)
    username, password = seat_credentials(turn.secret, "p-gt", time.time() + 60)
    other_seat = (username.replace("p-gt", "p-sv"), password)  # a credential is for its seat
    for bad in (forged, expired, other_seat):
        with pytest.raises(aioice.stun.TransactionFailed) as refused:
            await allocate(turn, *bad, transport)
        assert refused.value.response.attributes["ERROR-CODE"][0] == 401


async def test_welcome_hands_out_a_seat_credential_and_the_client_gathers_relays(
    turn: TurnServer, tmp_path: Path
) -> None:
    urls = [parse_turn_url(turn.udp_url), parse_turn_url(turn.tcp_url)]
    async with running_server(
        [demo_plan(OPEN_FLOOR)], turn_urls=urls, turn_secret=turn.secret, recordings=tmp_path
    ) as server:
        client = PalabraClient(
            server.ws_url, server.token(participant="p-gt"), media_addresses=["127.0.0.1"]
        )
        try:
            welcome = await client.join()
            (ice,) = welcome.ice_servers
            assert ice.urls == (turn.udp_url, turn.tcp_url)
            expiry, seat = ice.username.split(":")
            assert seat == "p-gt" and time.time() < int(expiry) <= time.time() + 12 * 3600 + 1
            assert turn.secret not in encode(welcome)
            await allocate(turn, ice.username, ice.credential, "udp")
            await client.publish(audio=AudioStreamTrack())
            assert "typ relay" in client.publisher.localDescription.sdp
            # A resume gets a fresh credential.
            await asyncio.sleep(1.1)
            again = await client.reconnect()
            assert again.ice_servers[0].username != ice.username
        finally:
            await client.close()


def test_start_refuses_a_secret_that_is_not_coturns(turn: TurnServer, tmp_path: Path) -> None:
    secret_file = tmp_path / "turn-secret"
    secret_file.write_text("not-the-coturn-secret-but-long-enough\n")
    proc = subprocess.run(
        [
            sys.executable, "-m", "server", "serve", "--port", str(free_port()),
            "--media-address", "127.0.0.1", "--secret", SECRET,
            "--turn-url", turn.udp_url, "--turn-secret-file", str(secret_file),
        ],
        cwd=REPO, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert proc.returncode == 2
    assert f"turn_url {turn.udp_url}: allocation refused (401" in proc.stderr
    assert "differs from coturn's static-auth-secret" in proc.stderr
    assert "not-the-coturn-secret" not in proc.stderr + proc.stdout
