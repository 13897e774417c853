"""Shared pieces of the security tests: a real server in-process or as a process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import websockets

from rooms import Settings
from tests.integration.conftest import (
    ADMIN_TOKEN,
    METRICS_TOKEN,
    SECRET,
    RunningServer,
    demo_plan,
    free_port,
    running_server,
)

__all__ = [
    "ADMIN",
    "ADMIN_TOKEN",
    "METRICS_TOKEN",
    "REPO",
    "SECRET",
    "Process",
    "RunningServer",
    "call",
    "hello",
    "palabra_process",
    "serve",
    "signed",
]

REPO = Path(__file__).resolve().parents[2]
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@contextlib.asynccontextmanager
async def serve(
    tmp_path: Path, settings: Settings | None = None, **config: Any
) -> AsyncIterator[RunningServer]:
    """The demo conference (no lobby unless ``settings`` say) on a loopback port."""
    plan = demo_plan(settings or Settings(lobby_enabled=False))
    async with running_server([plan], recordings=tmp_path / "recordings", **config) as server:
        yield server


def signed(**claims: object) -> str:
    """A join token signed with the server's key, with exactly these claims (and defaults)."""
    now = int(time.time())
    base: dict[str, object] = {
        "iss": "palabra",
        "sub": "u-test",
        "conf": "demo",
        "role": "head",
        "name": "Ministra",
        "del": "gt",
        "iat": now,
        "exp": now + 3600,
    }
    return jwt.encode({**base, **claims}, SECRET, algorithm="HS256")


async def hello(
    url: str, token: str, headers: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], int | None]:
    """Say hello on a raw socket; the first reply and the close code (None if open)."""
    async with websockets.connect(url, additional_headers=headers) as ws:
        await ws.send(json.dumps({"type": "hello", "version": 1, "token": token, "id": "h"}))
        reply = json.loads(await ws.recv())
        if reply["type"] != "error":
            return reply, None
        try:
            await asyncio.wait_for(ws.wait_closed(), 5)
        except TimeoutError:
            return reply, None
        return reply, ws.close_code


async def call(
    http: aiohttp.ClientSession,
    method: str,
    path: str,
    *,
    body: object = None,
    data: str | bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, str, Any]:
    """One HTTP request: status, content type and the body (JSON decoded if JSON)."""
    kwargs: dict[str, Any] = {"headers": dict(ADMIN if headers is None else headers)}
    if data is not None:
        kwargs["data"] = data
        kwargs["headers"].setdefault("Content-Type", "application/json")
    elif body is not None:
        kwargs["json"] = body
    async with http.request(method, path, **kwargs) as response:
        text = await response.text()
        if response.content_type == "application/json":
            return response.status, response.content_type, json.loads(text)
        return response.status, response.content_type, text


@dataclass
class Process:
    """``palabra serve`` as its own process, with what it printed and logged."""

    process: subprocess.Popen[bytes]
    port: int
    output: Path
    cwd: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def text(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")


@contextlib.contextmanager
def palabra_process(
    cwd: Path,
    *args: str,
    environment: Mapping[str, str] | None = None,
    start_timeout: float = 20,
) -> Iterator[Process]:
    """Run ``python -m server serve --demo`` in ``cwd`` (its state folder is there).

    ``start_timeout``: seconds until it answers (worker processes each import
    the whole media stack first)."""
    port = free_port()
    output = cwd / f"server-{port}.log"
    command = [
        sys.executable, "-m", "server", "serve",
        "--host", "127.0.0.1",
        "--port", str(port),
        "--media-address", "127.0.0.1",
        "--recordings", str(cwd / "recordings"),
        "--demo",
        *args,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO), **(environment or {})}
    for name in ("PALABRA_SECRET", "PALABRA_ADMIN_TOKEN", "PALABRA_METRICS_TOKEN"):
        if environment is None or name not in environment:
            env.pop(name, None)
    with output.open("wb") as sink:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=sink, stderr=subprocess.STDOUT)
    running = Process(process, port, output, cwd)
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                with urllib.request.urlopen(f"{running.base_url}/healthz", timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not start:\n{running.text()}") from None
                time.sleep(0.1)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
