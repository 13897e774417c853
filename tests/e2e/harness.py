"""Shared pieces of the end-to-end tests: paths, flags, the server handle."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright

from server.tokens import issue_token

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CONFERENCE = "demo"

CHROMIUM_FLAGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(frozen=True)
class RunningServer:
    port: int
    secret: str
    log_path: Path
    # The port of a stand-in for another node, whose pages may open this one's socket.
    front_port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def token(
        self,
        *,
        role: str,
        name: str,
        delegation: str | None,
        conference: str = CONFERENCE,
        ttl: float = 3600,
        participant: str | None = None,
    ) -> str:
        return issue_token(
            self.secret,
            conference=conference,
            role=role,
            name=name,
            delegation=delegation,
            ttl=ttl,
            participant=participant,
        )

    def join_url(self, token: str, conference: str = CONFERENCE) -> str:
        return f"{self.base_url}/c/{conference}?t={token}"


def wait_healthy(
    proc: subprocess.Popen[bytes], url: str, log_path: Path, timeout: float = 20
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"server exited with {proc.returncode} before /healthz answered:\n"
                + log_path.read_text(errors="replace")[-4000:]
            )
        with (
            contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError),
            urllib.request.urlopen(url, timeout=0.5) as response,
        ):
            if response.status == 200:
                return
        time.sleep(0.05)
    pytest.fail(
        f"server /healthz not 200 within {timeout} s:\n{log_path.read_text(errors='replace')}"
    )


@dataclass
class BrowserPage:
    """A page with what it logged: console lines and uncaught errors."""

    page: Page
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def listen(self) -> None:
        """Record the page's console and uncaught errors."""

        def on_console(message: ConsoleMessage) -> None:
            self.console.append(f"[{message.type}] {message.text}")

        self.page.on("console", on_console)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def save_log(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        lines = self.console + [f"[pageerror] {e}" for e in self.errors]
        (ARTIFACTS / f"e2e-console-{name}.log").write_text("\n".join(lines) + "\n")

    async def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        await self.page.screenshot(path=str(path))
        return path

    async def js(self, expression: str, arg: Any = None) -> Any:
        return await self.page.evaluate(expression, arg)

    async def wait_js(self, expression: str, arg: Any = None, timeout: float = 10) -> None:
        """Poll a JavaScript predicate in the page until it is truthy."""
        await self.page.wait_for_function(expression, arg=arg, timeout=timeout * 1000)


@contextlib.asynccontextmanager
async def chromium(flags: Sequence[str] = CHROMIUM_FLAGS) -> AsyncIterator[Browser]:
    """Debian's headless Chromium with ``flags``, closed at the end."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=list(flags), headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


async def new_page(browser: Browser, url: str, *, lang: str | None = None) -> BrowserPage:
    """A fresh context (camera and microphone allowed, fake devices) on ``url``."""
    context = await browser.new_context(
        permissions=["camera", "microphone"], viewport={"width": 1280, "height": 800}
    )
    if lang is not None:
        await context.add_init_script(f"localStorage.setItem('palabra.lang', {lang!r})")
    logged = BrowserPage(await context.new_page())
    logged.listen()
    await logged.page.goto(url)
    return logged


async def eventually(probe: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)
