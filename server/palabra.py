"""Everything one server process holds, reachable from the aiohttp app."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiohttp import web

from media.router import Router
from signaling import CloseCode

from .conference import ConferenceSpec, LiveConference
from .config import ServerConfig

if TYPE_CHECKING:
    from .connection import WebSocketConnection


class Palabra:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.conferences: dict[str, LiveConference] = {}
        self.connections: set[WebSocketConnection] = set()

    def add_conference(self, spec: ConferenceSpec) -> LiveConference:
        if spec.id in self.conferences:
            raise ValueError(f"conference {spec.id!r} exists")
        conference = LiveConference(spec, Router())
        self.conferences[spec.id] = conference
        return conference

    async def shutdown(self) -> None:
        """Close every connection and conference with 1001, reason given."""
        reason = "server shutting down"
        await asyncio.gather(*(c.close(CloseCode.GOING_AWAY, reason) for c in self.connections))
        await asyncio.gather(
            *(c.close(CloseCode.GOING_AWAY, reason) for c in self.conferences.values())
        )


PALABRA: web.AppKey[Palabra] = web.AppKey("palabra", Palabra)


def palabra_of(app: web.Application) -> Palabra:
    return app[PALABRA]
