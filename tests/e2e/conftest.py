"""End-to-end fixtures: the real server as a subprocess and headless Chromium
(Firefox ESR: firefox.py).

Run inside a loopback-only network namespace:

    scripts/test tests/e2e
    # or: unshare -n bash -c 'ip link set lo up && .venv/bin/pytest tests/e2e -q'

Artifacts (server log, browser console, screenshots) go to ``artifacts/``.
"""

from __future__ import annotations

import contextlib
import secrets
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser

from .harness import (
    ARTIFACTS,
    CHROMIUM,
    REPO,
    BrowserPage,
    RunningServer,
    chromium,
    free_port,
    wait_healthy,
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # tests/conftest.py already refuses to run outside a loopback-only
    # network namespace; here only the browser can be missing (the Firefox
    # tests skip themselves without firefox-esr).
    if CHROMIUM.exists():
        return
    here = Path(__file__).parent
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is missing (apt-get install chromium)")
    for item in items:
        if here in Path(str(item.fspath)).parents and "firefox" not in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    """`python -m server serve --demo` on a free loopback port."""
    with serving() as running:
        yield running


@contextlib.contextmanager
def serving(*extra: str, start_timeout: float = 20) -> Iterator[RunningServer]:
    """`python -m server serve --demo [extra]` on a free loopback port, until the block ends."""
    ARTIFACTS.mkdir(exist_ok=True)
    port, front_port = free_port(), free_port()
    secret = f"e2e-{secrets.token_hex(16)}"
    log_path = ARTIFACTS / f"e2e-server-{port}.log"
    command = [
        sys.executable, "-m", "server", "serve",
        "--host", "127.0.0.1",
        "--port", str(port),
        "--media-address", "127.0.0.1",
        "--demo",
        "--secret", secret,
        "--state-dir", tempfile.mkdtemp(prefix="palabra-e2e-state-"),
        "--recordings", tempfile.mkdtemp(prefix="palabra-e2e-recordings-"),
        "--allowed-origin", f"http://127.0.0.1:{front_port}",
        "--log-level", "INFO",
        *extra,
    ]  # fmt: skip
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_healthy(proc, f"http://127.0.0.1:{port}/healthz", log_path, start_timeout)
        yield RunningServer(port, secret, log_path, front_port)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


@pytest.fixture
async def browser_page(
    browser: Browser, request: pytest.FixtureRequest
) -> AsyncIterator[BrowserPage]:
    """A fresh context with camera and microphone allowed (fake devices)."""
    context = await browser.new_context(
        permissions=["camera", "microphone"], viewport={"width": 1280, "height": 800}
    )
    logged = BrowserPage(await context.new_page())
    logged.listen()
    try:
        yield logged
    finally:
        logged.save_log(request.node.name)
        await context.close()
