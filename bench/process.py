"""Running a Palabra server for a benchmark and reading its CPU and memory."""

from __future__ import annotations

import contextlib
import os
import signal
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


def family(pid: int) -> list[int]:
    """``pid`` and its descendants (a front and its workers)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
    return found


def family_cpu_seconds(pid: int) -> dict[int, float]:
    """CPU seconds of ``pid`` and of each of its descendants, by pid."""
    seconds = {}
    for member in family(pid):
        with contextlib.suppress(OSError):
            seconds[member] = cpu_seconds(member)
    return seconds


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def udp_counters() -> dict[str, int]:
    """This network namespace's UDP counters (RcvbufErrors: datagrams dropped
    because a receiver did not read its socket in time)."""
    lines = [line.split() for line in Path("/proc/net/snmp").read_text().splitlines()]
    udp = [fields[1:] for fields in lines if fields and fields[0] == "Udp:"]
    if len(udp) < 2:
        return {}
    return {name: int(value) for name, value in zip(udp[0], udp[1], strict=False)}


def socket_drops(pid: int, descendants: bool = False) -> int:
    """Datagrams dropped at the UDP sockets of process ``pid`` (and its
    descendants: a front's workers) because the receive buffer was full."""
    inodes = set()
    for member in family(pid) if descendants else [pid]:
        fds = Path(f"/proc/{member}/fd")
        with contextlib.suppress(OSError):
            for fd in list(fds.iterdir()) if fds.exists() else ():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:["):
                        inodes.add(target[8:-1])
    drops = 0
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if len(fields) > 12 and fields[9] in inodes:
                    drops += int(fields[12])
    return drops


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
def profile_server(
    pid: int, seconds: float, path: str | None, native: bool = False
) -> Iterator[None]:
    """Sample ``pid`` with py-spy. It pauses the process per sample (that is
    how it tells idle from busy with uvloop): figures of a profiled run are a
    little worse; measure and profile in separate runs."""
    if not path:
        yield
        return
    local = Path(sys.executable).with_name("py-spy")
    command = [
        str(local) if local.exists() else "py-spy",
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(max(1, int(seconds))),
        "--rate",
        "250",
        "--format",
        "raw",
        "--output",
        path,
        *(["--native"] if native else []),
    ]
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        # SIGINT makes py-spy stop sampling and write what it has.
        spy.send_signal(signal.SIGINT)
        try:
            spy.wait(20)
        except subprocess.TimeoutExpired:
            spy.kill()


@contextlib.contextmanager
def run_server(secret: str, core: int | None, extra: Sequence[str] = ()) -> Iterator[ServerProcess]:
    """Start the benchmark server (:mod:`bench.server`) on a free port, pinned to ``core``."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "bench.server",
        "--port",
        str(port),
        # One token: a secret may start with "-" (token_urlsafe).
        f"--secret={secret}",
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
