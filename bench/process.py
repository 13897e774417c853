"""Running a Palabra server for a benchmark and reading its CPU and memory."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cores() -> list[int]:
    return sorted(os.sched_getaffinity(0))


@dataclass
class ServerProcess:
    process: subprocess.Popen[bytes]
    port: int
    secret: str

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"


@contextlib.contextmanager
def run_server(secret: str, core: int | None, extra: Sequence[str] = ()) -> Iterator[ServerProcess]:
    """Start ``palabra serve --demo`` on a free port, pinned to ``core``."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "server",
        "serve",
        "--port",
        str(port),
        "--media-address",
        "127.0.0.1",
        "--demo",
        "--secret",
        secret,
        "--log-level",
        "WARNING",
        *extra,
    ]
    if core is not None:
        command = ["taskset", "-c", str(core), *command]
    root = Path(__file__).resolve().parent.parent
    process = subprocess.Popen(command, cwd=root, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.1)
        yield ServerProcess(process, port, secret)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def ensure_loopback_only(argv: Sequence[str]) -> None:
    """Re-run this command in a network namespace with only ``lo`` (as root).

    Media stacks try every interface they see; inside such a namespace
    benchmark traffic cannot leave the machine.
    """
    if [name for _, name in socket.if_nameindex() if name != "lo"]:
        if os.geteuid() != 0 or os.environ.get("PALABRA_BENCH_NETNS") == "1":
            raise SystemExit(
                "run the benchmark as root (it isolates itself in a network namespace)"
            )
        os.environ["PALABRA_BENCH_NETNS"] = "1"
        script = 'ip link set lo up && exec "$@"'
        os.execvp("unshare", ["unshare", "--net", "sh", "-c", script, "sh", *argv])
