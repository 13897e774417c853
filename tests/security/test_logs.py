"""No join or resume token in any log line, text or JSON, of a real server process."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from server.client import PalabraClient
from server.tokens import issue_token

from ._http import palabra_process

KEY = "the-signing-key-of-the-logging-test-0123456789"
CREDENTIALS = {
    "PALABRA_SECRET": KEY,
    "PALABRA_ADMIN_TOKEN": "the-admin-token-of-the-logging-test-0123456789",
    "PALABRA_METRICS_TOKEN": "the-metrics-token-of-the-logging-test-01234567",
}


def _get(url: str, headers: dict[str, str] | None = None) -> None:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            answer.read()
    except urllib.error.HTTPError:
        pass


@pytest.mark.parametrize("json_lines", [False, True], ids=["text", "json"])
async def test_tokens_never_reach_the_log(tmp_path: Path, json_lines: bool) -> None:
    arguments = ["--log-json"] if json_lines else []
    chair = issue_token(KEY, conference="demo", role="chair", name="Presidencia")
    with palabra_process(tmp_path, *arguments, environment=CREDENTIALS) as server:
        base = server.base_url
        _get(f"{base}/c/demo?t={chair}")
        _get(f"{base}/c/demo/minutes?t={chair}&format=csv")
        _get(f"{base}/c/demo/recordings?format=json&t={chair}")
        _get(f"{base}/c/demo/minutes?token={chair}")
        _get(f"{base}/web/conference.js", {"Referer": f"{base}/c/demo?t={chair}"})
        _get(f"{base}/c/demo/minutes?t=not-a-jwt-but-a-secret")
        client = PalabraClient(f"ws://127.0.0.1:{server.port}/ws", chair)
        welcome = await client.join()
        assert welcome.resume_token is not None
        resume = welcome.resume_token
        await client.reconnect()
        await client.leave()
        await client.close()
        _get(f"{base}/c/demo?t={resume}")
        output = server.text()
    assert "GET /c/demo/minutes?t=[redacted]&format=csv" in output
    assert "GET /c/demo/recordings?format=json&t=[redacted]" in output
    assert "joined demo as chair" in output  # the log itself is still there
    for secret in (chair, resume, chair.split(".")[2], resume.split(".")[2],
                   "not-a-jwt-but-a-secret", *CREDENTIALS.values()):  # fmt: skip
        assert secret not in output
    if json_lines:
        records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
        assert any("[redacted]" in r["message"] for r in records if r["logger"] == "aiohttp.access")
