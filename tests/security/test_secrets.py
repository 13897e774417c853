"""Credentials: long enough, separate, generated into private files, never printed.

``palabra serve`` runs as its own process, as an operator would start it.
"""

from __future__ import annotations

import json
import re
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from server.config import ServerConfig
from server.credentials import CredentialError

from ._http import REPO, hello, palabra_process

LONG = "a-token-signing-key-that-is-long-enough-0123"


def _post(url: str, token: str, body: object) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def _serve(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``palabra serve`` that is expected to refuse to start."""
    return subprocess.run(
        [sys.executable, "-m", "server", "serve", "--port", "1", *args],
        cwd=cwd,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_short_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CredentialError, match="32 bytes"):
        ServerConfig(secret="zq7")
    with pytest.raises(CredentialError, match="32 bytes"):
        ServerConfig(secret=LONG, admin_token="short")
    done = _serve(tmp_path, "--secret", "zq7")
    assert done.returncode == 2 and "at least 32 bytes" in done.stderr
    assert "zq7" not in done.stdout


def test_the_admin_token_must_differ_from_the_signing_key(tmp_path: Path) -> None:
    with pytest.raises(CredentialError, match="differ"):
        ServerConfig(secret=LONG, admin_token=LONG)
    done = _serve(tmp_path, "--secret", LONG, "--admin-token", LONG)
    assert done.returncode == 2 and "differ" in done.stderr


async def test_without_credentials_they_are_generated_into_private_files(tmp_path: Path) -> None:
    with palabra_process(tmp_path) as server:
        printed = server.text()
        state = tmp_path / "state"
        values = {}
        for name in ("secret", "admin-token", "metrics-token"):
            path = state / name
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
            values[name] = path.read_text().strip()
            assert len(values[name].encode()) >= 32
            assert f"{path.relative_to(tmp_path)} (generated)" in printed  # where, never what
            assert values[name] not in printed
        assert len(set(values.values())) == 3
        # The demo still prints its join links: the chair, three heads, the
        # observer (OAS), a technician and the English booth's two interpreters.
        links = re.findall(r"http://127\.0\.0\.1:\d+/c/demo\?t=\S+", printed)
        assert len(links) == 8, printed

        url = f"{server.base_url}/api/conferences"
        status, _ = _post(url, values["admin-token"], {"id": "cumbre", "title": "Cumbre"})
        assert status == 201
        # The signing key, which a cracked join link would reveal, is not the credential.
        status, answer = _post(url, values["secret"], {"id": "otra", "title": "Otra"})
        assert status == 401 and answer["error"] == {
            "code": "unauthorized",
            "message": "the admin API needs the admin token",
        }
    # A restart keeps the same credentials: a link printed before still joins.
    with palabra_process(tmp_path) as again:
        assert "(generated)" not in again.text()
        token = links[0].split("?t=")[1]
        reply, _ = await hello(f"ws://127.0.0.1:{again.port}/ws", token)
        assert reply["type"] == "welcome"


def test_credentials_given_by_the_environment_write_no_file(tmp_path: Path) -> None:
    environment = {
        "PALABRA_SECRET": LONG,
        "PALABRA_ADMIN_TOKEN": "an-admin-token-that-is-long-enough-01234567",
        "PALABRA_METRICS_TOKEN": "a-metrics-token-that-is-long-enough-0123456",
    }
    with palabra_process(tmp_path, environment=environment) as server:
        assert not (tmp_path / "state").exists()
        status, _ = _post(
            f"{server.base_url}/api/conferences",
            environment["PALABRA_ADMIN_TOKEN"],
            {"id": "cumbre", "title": "Cumbre"},
        )
        assert status == 201
        assert all(value not in server.text() for value in environment.values())


def test_palabra_token_reads_the_key_file_and_refuses_a_short_key(tmp_path: Path) -> None:
    key = tmp_path / "secret"
    key.write_text(LONG + "\n")
    base = [sys.executable, "-m", "server", "token", "--conference", "demo", "--role", "chair",
            "--name", "Presidencia"]  # fmt: skip
    done = subprocess.run(
        [*base, "--secret-file", str(key)], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert done.returncode == 0 and done.stdout.count(".") == 2
    short = subprocess.run(
        [*base, "--secret", "zq7"], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert short.returncode == 2 and "at least 32 bytes" in short.stderr
