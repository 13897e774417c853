"""`palabra serve` as a process: HTTPS, the redirect, HSTS, and refusals at start.

Each bad setting stops the start with exit status 2 and one line naming what
to fix; nothing is served half-configured.
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.pki import Pki, make_pki

from .conftest import ADMIN_TOKEN, METRICS_TOKEN, SECRET, free_port

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def serve(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "server", "serve", "--media-address", "127.0.0.1", *args]
    return subprocess.Popen(
        command,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={
            "PALABRA_SECRET": SECRET,
            "PALABRA_ADMIN_TOKEN": ADMIN_TOKEN,
            "PALABRA_METRICS_TOKEN": METRICS_TOKEN,
            "PATH": "/usr/bin:/bin",
            **(env or {}),
        },
    )


def refused(*args: str, env: dict[str, str] | None = None) -> str:
    """Start with ``args``; expect exit status 2 and return the error line."""
    proc = serve(*args, env=env)
    try:
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 2, (out, err)
    assert "Palabra listening" not in out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("palabra serve: "), err
    return lines[0]


@contextmanager
def running(*args: str, port: int) -> Iterator[subprocess.Popen[str]]:
    proc = serve(*args)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "server did not listen"
                time.sleep(0.05)
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_https_with_hsts_and_a_redirect_from_http(pki: Pki) -> None:
    port, plain = free_port(), free_port()
    args = ["--port", str(port), "--tls-cert", str(pki.cert), "--tls-key", str(pki.key)]
    with running(*args, "--redirect-http-port", str(plain), port=port):
        context = ssl.create_default_context(cafile=str(pki.ca_cert))
        with urllib.request.urlopen(
            f"https://localhost:{port}/healthz", context=context, timeout=5
        ) as answer:
            assert answer.read() == b"ok\n"
            assert answer.headers["Strict-Transport-Security"] == "max-age=31536000"

        class NoFollow(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: object, **kwargs: object) -> None:
                return None

        opener = urllib.request.build_opener(NoFollow)
        with pytest.raises(urllib.error.HTTPError) as redirect:
            opener.open(f"http://localhost:{plain}/c/demo?t=abc", timeout=5)
        assert redirect.value.code == 308
        assert redirect.value.headers["Location"] == f"https://localhost:{port}/c/demo?t=abc"
        # Plain HTTP on the TLS port gets no page.
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)


def admin_link(port: int, headers: dict[str, str]) -> str:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/conferences/demo/tokens",
        data=json.dumps({"role": "head", "name": "Ana", "delegation": "gt"}).encode(),
        headers={
            "Authorization": f"Bearer {ADMIN_TOKEN}",
            "Content-Type": "application/json",
            **headers,
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        url: str = json.loads(answer.read())["url"]
        return url


def test_forwarded_headers_only_from_a_trusted_proxy() -> None:
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "meet.example.org"}
    port = free_port()
    with running("--port", str(port), "--demo", port=port):
        assert admin_link(port, forwarded).startswith(f"http://127.0.0.1:{port}/c/demo?t=")
    port = free_port()
    with running("--port", str(port), "--demo", "--trusted-proxy", "127.0.0.1", port=port):
        assert admin_link(port, forwarded).startswith("https://meet.example.org/c/demo?t=")
        with urllib.request.urlopen(
            urllib.request.Request(f"http://127.0.0.1:{port}/healthz", headers=forwarded)
        ) as answer:
            assert answer.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_a_port_in_use_is_named() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = refused("--port", str(port))
    assert f"port {port}: the port is in use on 127.0.0.1" in line


def test_a_media_port_in_use_is_named() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("0.0.0.0", 0))
        port = taken.getsockname()[1]
        line = refused("--media-port", str(port))
    assert f"media_port: cannot bind UDP port {port}: Address already in use" in line


def test_a_missing_certificate_is_named(pki: Pki, tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    line = refused(
        "--port", str(free_port()), "--tls-cert", str(missing), "--tls-key", str(pki.key)
    )
    assert f"tls_cert: cannot read {missing}: No such file or directory" in line


def test_a_key_that_is_not_the_certificates_is_named(tmp_path: Path, pki: Pki) -> None:
    other = make_pki(tmp_path / "other")
    line = refused(
        "--port", str(free_port()), "--tls-cert", str(pki.cert), "--tls-key", str(other.key)
    )
    assert "are not a PEM certificate chain and its private key" in line


def test_an_unknown_key_in_the_config_file_is_named(tmp_path: Path) -> None:
    config = tmp_path / "palabra.toml"
    config.write_text('host = "127.0.0.1"\nmedia_adress = ["127.0.0.1"]\n')
    line = refused("--config", str(config))
    assert f"{config}: unknown key 'media_adress'" in line


def test_a_turn_server_that_does_not_answer_is_named(tmp_path: Path) -> None:
    secret_file = tmp_path / "turn-secret"
    secret_file.write_text("turn-shared-secret-of-at-least-32-chars\n")
    dead = free_port()
    line = refused(
        "--port", str(free_port()),
        "--turn-url", f"turn:127.0.0.1:{dead}?transport=tcp",
        "--turn-secret-file", str(secret_file),
    )  # fmt: skip
    assert f"turn_url turn:127.0.0.1:{dead}?transport=tcp: cannot reach it" in line
    assert "turn-shared-secret" not in line
