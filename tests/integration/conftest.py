from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from aiohttp import web

from server.app import create_app
from server.client import PalabraClient
from server.config import ServerConfig
from server.demo import DEMO_CONFERENCE
from server.palabra import Palabra, palabra_of
from server.tokens import issue_token

SECRET = "integration-secret-of-at-least-32-bytes"


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


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    port = free_port()
    config = ServerConfig(
        host="127.0.0.1", port=port, media_addresses=["127.0.0.1"], secret=SECRET, demo=True
    )
    app = create_app(config)
    palabra_of(app).add_conference(DEMO_CONFERENCE)
    runner = web.AppRunner(app, shutdown_timeout=2.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield RunningServer(palabra_of(app), port)
    finally:
        await runner.cleanup()


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
