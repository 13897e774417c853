"""Headless Firefox ESR, driven over WebDriver BiDi.

Playwright only drives its own patched Firefox builds, which cannot be
downloaded here; Debian's ``firefox-esr`` speaks the W3C WebDriver BiDi
protocol natively (``--remote-debugging-port``). This is the small part of it
the tests need: windows, navigation, running JavaScript, mouse clicks, console
and error logs, screenshots, and (with ``--remote-allow-system-access``) the
permission manager. One WebSocket (aiohttp's client), JSON commands and events.

Each participant gets its own window, not a tab: Firefox throttles and stops
decoding video in background tabs.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from .harness import ARTIFACTS, SCREENSHOTS

FIREFOX = Path("/usr/bin/firefox-esr")

# user.js of the test profile.
FIREFOX_PREFS: dict[str, bool | int | str] = {
    # Fake camera (a plain colour that changes) and microphone (a tone), no prompt.
    "media.navigator.streams.fake": True,
    "media.navigator.permission.disabled": True,
    # Loopback ICE: host candidates on 127.0.0.1, not hidden behind mDNS names.
    "media.peerconnection.ice.loopback": True,
    "media.peerconnection.ice.no_host": False,
    "media.peerconnection.ice.default_address_only": False,
    "media.peerconnection.ice.obfuscate_host_addresses": False,
    # A starved machine must not make Firefox stop a page's script as hung.
    "dom.max_script_run_time": 0,
    "dom.max_chrome_script_run_time": 0,
    # Nothing but the page talks to the network.
    "network.proxy.type": 0,
    "app.update.disabledForTesting": True,
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    # Every participant's window decodes and plays, as a visible one would.
    "media.suspend-background-video.enabled": False,
    "dom.min_background_timeout_value": 4,
}

LISTENING = re.compile(rb"WebDriver BiDi listening on (ws://\S+)")


class BidiError(Exception):
    """A command failed (the error and message of the BiDi reply)."""


class Bidi:
    """One WebDriver BiDi session: commands by id, events to listeners."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.create_task(self._read())
        self.listeners: list[Any] = []

    async def command(self, method: str, **params: Any) -> dict[str, Any]:
        ident = next(self._ids)
        reply: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[ident] = reply
        await self._ws.send_str(json.dumps({"id": ident, "method": method, "params": params}))
        return await reply

    async def _read(self) -> None:
        async for frame in self._ws:
            if frame.type != aiohttp.WSMsgType.TEXT:
                break
            message = json.loads(frame.data)
            if message.get("type") == "event":
                for listener in self.listeners:
                    listener(message["method"], message["params"])
                continue
            reply = self._pending.pop(message.get("id"), None)
            if reply is None or reply.done():
                continue
            if message.get("type") == "error":
                reply.set_exception(BidiError(f"{message['error']}: {message.get('message')}"))
            else:
                reply.set_result(message["result"])
        for reply in self._pending.values():
            if not reply.done():
                reply.set_exception(BidiError("the BiDi connection closed"))

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        await self._ws.close()


@dataclass
class FirefoxPage:
    """A window, with what it logged."""

    bidi: Bidi
    context: str
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    async def goto(self, url: str) -> None:
        await self.bidi.command(
            "browsingContext.navigate", context=self.context, url=url, wait="complete"
        )

    async def reload(self) -> None:
        await self.bidi.command("browsingContext.reload", context=self.context, wait="complete")

    async def js(self, expression: str, arg: Any = None) -> Any:
        """Call the function ``expression`` with ``arg`` (JSON) in the page and
        return its (awaited) result as JSON."""
        wrapper = (
            "async (json) => { const value = await (" + expression + ")(JSON.parse(json));"
            " return JSON.stringify(value === undefined ? null : value); }"
        )
        result = await self.bidi.command(
            "script.callFunction",
            functionDeclaration=wrapper,
            arguments=[{"type": "string", "value": json.dumps(arg)}],
            target={"context": self.context},
            awaitPromise=True,
            resultOwnership="none",
        )
        if result["type"] == "exception":
            details = result["exceptionDetails"]
            raise BidiError(f"{details.get('text')} in {expression[:200]}")
        return json.loads(result["result"]["value"])

    async def wait_js(self, expression: str, arg: Any = None, timeout: float = 10) -> Any:
        """Poll a JavaScript predicate in the page until it is truthy."""
        deadline = time.monotonic() + timeout
        while True:
            value = await self.js(expression, arg)
            if value:
                return value
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout} s waiting for {expression}")
            await asyncio.sleep(0.1)

    async def click(self, selector: str, timeout: float = 10) -> None:
        """Click the middle of the enabled, visible element ``selector`` once it
        is there, with the mouse: real pointer events and the user activation
        that lets a page start sound."""
        clickable = """(sel) => { const el = document.querySelector(sel);
            return !!el && !el.disabled && el.checkVisibility(); }"""
        await self.wait_js(clickable, selector, timeout)
        x, y = await self.js(
            """(sel) => { const el = document.querySelector(sel);
                el.scrollIntoView({block: 'center'});
                const r = el.getBoundingClientRect();
                return [Math.round(r.left + r.width / 2), Math.round(r.top + r.height / 2)]; }""",
            selector,
        )
        pointer = [
            {"type": "pointerMove", "x": x, "y": y},
            {"type": "pointerDown", "button": 0},
            {"type": "pointerUp", "button": 0},
        ]
        await self.bidi.command(
            "input.performActions",
            context=self.context,
            actions=[{"type": "pointer", "id": "mouse", "actions": pointer}],
        )

    async def set_viewport(self, width: int, height: int) -> None:
        await self.bidi.command(
            "browsingContext.setViewport",
            context=self.context,
            viewport={"width": width, "height": height},
        )

    async def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shot = await self.bidi.command("browsingContext.captureScreenshot", context=self.context)
        path = SCREENSHOTS / f"{name}.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def save_log(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        lines = self.console + [f"[pageerror] {e}" for e in self.errors]
        (ARTIFACTS / f"e2e-console-{name}.log").write_text("\n".join(lines) + "\n")

    def on_log(self, entry: dict[str, Any]) -> None:
        text = str(entry.get("text"))
        if entry.get("type") == "javascript":  # an uncaught error
            self.errors.append(text)
        else:
            self.console.append(f"[{entry.get('level')}] {text}")


class Firefox:
    """One headless Firefox process and its BiDi session."""

    def __init__(self, proc: subprocess.Popen[bytes], bidi: Bidi) -> None:
        self.proc = proc
        self.bidi = bidi
        self.pages: dict[str, FirefoxPage] = {}
        bidi.listeners.append(self._on_event)

    async def allow_media(self, origin: str) -> None:
        """Grant ``origin`` the camera and the microphone, as a user who allowed
        them for good. Firefox trusts such a site: it offers its host ICE
        candidates (else only the default route's address, and there is none
        in a loopback-only namespace) and lets it start sound without a
        click. A capture of the fake devices alone does not count."""
        tree = await self.bidi.command("browsingContext.getTree", **{"moz:scope": "chrome"})
        chrome = tree["contexts"][0]["context"]
        script = (
            """((origin) => {
            const principal =
                Services.scriptSecurityManager.createContentPrincipalFromOrigin(origin);
            for (const type of ['camera', 'microphone']) {
                Services.perms.addFromPrincipal(principal, type, Services.perms.ALLOW_ACTION);
            }
        })"""
            + f"({json.dumps(origin)})"
        )
        result = await self.bidi.command(
            "script.evaluate", expression=script, target={"context": chrome}, awaitPromise=False
        )
        if result["type"] == "exception":
            raise BidiError(str(result["exceptionDetails"].get("text")))

    async def new_page(self, url: str, *, width: int = 1280, height: int = 800) -> FirefoxPage:
        """A new window on ``url``. (Windows share the profile's storage:
        permissions granted to a user context other than the default one do
        not reach WebRTC.)"""
        created = await self.bidi.command("browsingContext.create", type="window")
        page = FirefoxPage(self.bidi, created["context"])
        self.pages[page.context] = page
        await page.set_viewport(width, height)
        await page.goto(url)
        return page

    async def close_page(self, page: FirefoxPage) -> None:
        await self.bidi.command("browsingContext.close", context=page.context)
        self.pages.pop(page.context, None)

    def _on_event(self, method: str, params: dict[str, Any]) -> None:
        if method != "log.entryAdded":
            return
        page = self.pages.get(params.get("source", {}).get("context", ""))
        if page is not None:
            page.on_log(params)

    async def close(self) -> None:
        with contextlib.suppress(BidiError, aiohttp.ClientError, asyncio.TimeoutError):
            await asyncio.wait_for(self.bidi.command("browser.close"), 5)
        await self.bidi.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


async def _listening_url(proc: subprocess.Popen[bytes], log_path: Path, timeout: float) -> str:
    """The BiDi WebSocket URL Firefox prints once its remote agent listens."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        found = LISTENING.search(log_path.read_bytes())
        if found:
            return found.group(1).decode()
        await asyncio.sleep(0.1)
    pytest.fail(
        f"Firefox did not start its WebDriver BiDi agent (exit {proc.poll()}):\n"
        + log_path.read_text(errors="replace")[-4000:]
    )


@contextlib.asynccontextmanager
async def launch_firefox(name: str = "firefox") -> AsyncIterator[Firefox]:
    """Start ``firefox-esr --headless`` on a fresh profile; its output goes to
    ``artifacts/e2e-<name>.log``."""
    ARTIFACTS.mkdir(exist_ok=True)
    profile = Path(tempfile.mkdtemp(prefix="palabra-firefox-"))
    (profile / "user.js").write_text(
        "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in FIREFOX_PREFS.items())
    )
    log_path = ARTIFACTS / f"e2e-{name}.log"
    command = [
        str(FIREFOX), "--headless", "--no-remote",
        "--profile", str(profile),
        "--remote-debugging-port", "0", "--remote-allow-system-access",
        "about:blank",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=_firefox_env(profile)
        )
    firefox: Firefox | None = None
    http = aiohttp.ClientSession()
    try:
        url = await _listening_url(proc, log_path, timeout=60)
        ws = await http.ws_connect(f"{url}/session", max_msg_size=0, autoping=True)
        bidi = Bidi(ws)
        await bidi.command("session.new", capabilities={})
        firefox = Firefox(proc, bidi)
        await bidi.command("session.subscribe", events=["log.entryAdded"])
        yield firefox
    finally:
        if firefox is not None:
            await firefox.close()
        await http.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        shutil.rmtree(profile, ignore_errors=True)


def _firefox_env(profile: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"MOZ_HEADLESS": "1", "HOME": str(profile), "MOZ_CRASHREPORTER_DISABLE": "1"})
    return env
