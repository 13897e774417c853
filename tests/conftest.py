"""Suite-wide guard: tests send traffic to loopback only.

WebRTC stacks try every interface they can see; inside a network namespace
that has only ``lo`` nothing can leave the machine. ``scripts/test`` runs the
suite that way; a run outside one is refused rather than trusted.
"""

from __future__ import annotations

import os
import socket

import pytest
from hypothesis import settings

# Property tests judge behaviour, never speed: no per-example deadline (a
# loaded machine made slow examples fail as if they were wrong).
settings.register_profile("palabra", deadline=None)
settings.load_profile("palabra")


def _interfaces() -> list[str]:
    # if_nameindex asks the kernel for this process's namespace; /sys may
    # still show the host's interfaces.
    return sorted(name for _, name in socket.if_nameindex())


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("PALABRA_ALLOW_HOST_NETWORK") == "1":
        return
    extra = [name for name in _interfaces() if name != "lo"]
    if extra:
        raise pytest.UsageError(
            f"network interfaces {extra} are visible: run the tests with scripts/test, "
            "which runs them in a loopback-only network namespace"
        )
