from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from client import PalabraClient
from conference.plans import ConferencePlan
from media import fastpath
from rooms import Settings
from server.app import create_app
from server.config import ServerConfig
from server.demo import DEMO_CONFERENCE
from server.palabra import Palabra, palabra_of
from server.tokens import issue_token

# The media tests run an informal segment: no lobby, everyone heard.
OPEN_FLOOR = Settings(lobby_enabled=False, open_floor=True)

SECRET = "integration-secret-of-at-least-32-bytes"
# The admin API's and /metrics' own credentials (never the token signing key).
ADMIN_TOKEN = "integration-admin-token-of-32-bytes-or-more"
METRICS_TOKEN = "integration-metrics-token-of-32-bytes-or-more"


@dataclass
class RunningServer:
    palabra: Palabra
    port: int

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def token(
        self,
        role: str = "head",
        name: str = "Ministra",
        delegation: str | None = "gt",
        **extra: object,
    ) -> str:
        return issue_token(
            SECRET, conference="demo", role=role, name=name, delegation=delegation, **extra
        )  # type: ignore[arg-type]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(params=fastpath.IMPLEMENTATIONS)
def forwarding_path(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test once per forwarding implementation (media/fastpath.py).

    Request it before the server (``pytestmark = pytest.mark.usefixtures(...)``):
    connections created from then on use it.
    """
    name: str = request.param
    if name not in fastpath.available():
        pytest.skip(f"the {name} forwarding path is not built here")
    previous = fastpath.implementation()
    fastpath.select(name)
    try:
        yield name
    finally:
        fastpath.select(previous)


@pytest.fixture
def settings() -> Settings:
    """The demo conference's settings; override in a test module to change them."""
    return OPEN_FLOOR


def demo_plan(settings: Settings) -> ConferencePlan:
    return ConferencePlan(
        DEMO_CONFERENCE.id, DEMO_CONFERENCE.title, DEMO_CONFERENCE.delegations, settings
    )


@asynccontextmanager
async def running_server(
    plans: list[ConferencePlan], port: int | None = None, **config: Any
) -> AsyncIterator[RunningServer]:
    """A real server on a loopback port; ``config`` overrides ServerConfig fields."""
    port = port or free_port()
    credentials = {"secret": SECRET, "admin_token": ADMIN_TOKEN, "metrics_token": METRICS_TOKEN}
    settings = ServerConfig(
        host="127.0.0.1", port=port, media_addresses=["127.0.0.1"], **{**credentials, **config}
    )
    app = create_app(settings, plans)
    runner = web.AppRunner(app, shutdown_timeout=2.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield RunningServer(palabra_of(app), port)
    finally:
        await runner.cleanup()


@pytest.fixture
async def server(settings: Settings, tmp_path: Path) -> AsyncIterator[RunningServer]:
    async with running_server([demo_plan(settings)], recordings=tmp_path / "recordings") as s:
        yield s


ClientFactory = Callable[..., Awaitable[PalabraClient]]


@pytest.fixture
async def connect(server: RunningServer) -> AsyncIterator[ClientFactory]:
    """Join a participant; every client is closed at teardown."""
    clients: list[PalabraClient] = []

    async def factory(
        name: str = "Ministra",
        delegation: str | None = "gt",
        role: str = "head",
        decode: bool = True,
    ) -> PalabraClient:
        client = PalabraClient(
            server.ws_url,
            server.token(role, name, delegation),
            media_addresses=["127.0.0.1"],
            decode=decode,
        )
        clients.append(client)
        await client.join()
        return client

    yield factory
    for client in clients:
        await client.close()


async def download_recordings(server: RunningServer, folder: Path) -> list[dict[str, object]]:
    """The conference's recordings as a technician lists them, each file
    downloaded into ``folder`` under its name."""
    token = issue_token(SECRET, conference="demo", role="technician", name="T")
    base = f"http://127.0.0.1:{server.port}/c/demo/recordings"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}?t={token}") as response:
            assert response.status == 200
            entries: list[dict[str, object]] = (await response.json())["recordings"]
        for entry in entries:
            async with http.get(f"{base}/{entry['name']}?t={token}") as response:
                assert response.status == 200
                (folder / str(entry["name"])).write_bytes(await response.read())
    return entries
