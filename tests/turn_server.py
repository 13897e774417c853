"""A real coturn (Debian's `turnserver`) on loopback, configured by the test.

Long-term credentials from a shared secret (``use-auth-secret``), the TURN
REST scheme Palabra mints; plain UDP/TCP on one port and TLS on another with
the test's own certificate; relays in a port range the test chooses.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.pki import Pki

TURNSERVER = shutil.which("turnserver") or "/usr/bin/turnserver"
TURN_SECRET = "coturn-static-auth-secret-for-tests-0123456789"
REALM = "palabra.test"


@dataclass(frozen=True)
class TurnServer:
    port: int  # UDP and TCP
    tls_port: int
    relay_ports: tuple[int, int]  # first, last
    secret: str
    log: Path

    @property
    def udp_url(self) -> str:
        return f"turn:127.0.0.1:{self.port}?transport=udp"

    @property
    def tcp_url(self) -> str:
        return f"turn:127.0.0.1:{self.port}?transport=tcp"

    @property
    def tls_url(self) -> str:
        return f"turns:127.0.0.1:{self.tls_port}?transport=tcp"


def _free_pair() -> int:
    """A port free for both TCP and UDP on 127.0.0.1."""
    while True:
        with socket.socket() as tcp:
            tcp.bind(("127.0.0.1", 0))
            port: int = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


@contextmanager
def coturn(
    folder: Path, pki: Pki, relay_ports: tuple[int, int] = (21000, 21999)
) -> Iterator[TurnServer]:
    folder.mkdir(parents=True, exist_ok=True)
    port, tls_port = _free_pair(), _free_pair()
    log = folder / "turnserver.log"
    config = folder / "turnserver.conf"
    config.write_text(
        "\n".join(
            [
                "listening-ip=127.0.0.1",
                "relay-ip=127.0.0.1",
                f"listening-port={port}",
                f"tls-listening-port={tls_port}",
                f"min-port={relay_ports[0]}",
                f"max-port={relay_ports[1]}",
                "use-auth-secret",
                f"static-auth-secret={TURN_SECRET}",
                f"realm={REALM}",
                f"cert={pki.cert}",
                f"pkey={pki.key}",
                "no-dtls",
                "no-tlsv1",
                "no-tlsv1_1",
                "fingerprint",
                # Everything here is on loopback: the relay must reach the SFU
                # on 127.0.0.1 (a deployment keeps loopback and private ranges
                # denied, docs/deployment.md).
                "allow-loopback-peers",
                "no-multicast-peers",
                "no-cli",
                "no-tcp-relay",
                f"userdb={folder / 'turndb'}",
                f"pidfile={folder / 'turnserver.pid'}",
                f"log-file={log}",
                "simple-log",
                "verbose",
            ]
        )
        + "\n"
    )
    proc = subprocess.Popen(
        [TURNSERVER, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 10
        while not (_listening(port) and _listening(tls_port)):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"turnserver did not start:\n{_read(log)}")
            time.sleep(0.05)
        yield TurnServer(port, tls_port, relay_ports, TURN_SECRET, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _read(path: Path) -> str:
    return path.read_text(errors="replace")[-4000:] if path.exists() else "(no log)"
