"""The security suite runs against the same real server as the integration tests.

Each module reproduces one threat through the real WebSocket (or HTTP API);
read together they are the threat model in executable form.
"""

from __future__ import annotations

from tests.integration.conftest import (
    ClientFactory,
    RunningServer,
    connect,
    demo_plan,
    running_server,
    server,
    settings,
)

__all__ = [
    "ClientFactory",
    "RunningServer",
    "connect",
    "demo_plan",
    "running_server",
    "server",
    "settings",
]
