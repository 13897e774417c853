"""The native fan-out built with AddressSanitizer, fed random routes and packets
(with VP8 picture id rewrites at random positions).

The extension is compiled again with ``-fsanitize=address`` into a temporary
folder and exercised in a child process that preloads libasan: any
out-of-bounds read or write, use after free or double free aborts it with a
report. Skipped where the compiler or libasan is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[2] / "media" / "_fastpath.c"

FUZZ = r"""
import importlib.machinery, importlib.util, os, random, socket, sys
import pylibsrtp
from pylibsrtp import _binding as srtp

loader = importlib.machinery.ExtensionFileLoader("_fastpath", sys.argv[1])
spec = importlib.util.spec_from_loader("_fastpath", loader)
native = importlib.util.module_from_spec(spec)
loader.exec_module(native)
native.init(int(srtp.ffi.cast("uintptr_t", srtp.ffi.addressof(srtp.lib, "srtp_protect"))))

rng = random.Random(int(sys.argv[2]))
sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sender.bind(("127.0.0.1", 0))
receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
receiver.bind(("127.0.0.1", 0))
receiver.setblocking(False)
sessions, destinations = [], []
for i in range(6):
    policy = pylibsrtp.Policy(
        key=os.urandom(28), ssrc_type=pylibsrtp.Policy.SSRC_SPECIFIC, ssrc_value=i,
        srtp_profile=pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM,
    )
    policy.allow_repeat_tx = True
    sessions.append(pylibsrtp.Session(policy))
    destination = native.Destination()
    destination.bind(sender.fileno(), "127.0.0.1", receiver.getsockname()[1])
    destinations.append(destination)
forwarded = malformed = 0
for round_ in range(300):
    routes = []
    for _ in range(rng.randint(0, 8)):
        i = rng.randrange(6)
        context = int(srtp.ffi.cast("uintptr_t", sessions[i]._srtp[0]))
        route = (rng.randrange(128), rng.randrange(1 << 16), rng.randrange(1 << 32), i,
                 os.urandom(rng.randint(0, 64)), rng.choice(destinations), context)
        if rng.random() < 0.7:
            route += (rng.choice([-1, rng.randrange(128)]),)  # RED payload type
            if rng.random() < 0.5:
                route += (rng.randrange(1 << 15), rng.randrange(256))  # VP8 offsets
        routes.append(route)
    fanout = native.Fanout(routes)
    if rng.random() < 0.2:
        rng.choice(destinations).disconnect()
    for _ in range(20):
        tail = os.urandom(rng.choice([0, 1, 4, 100, 1200, 1983, 1984, 2047, 2048, 3000]))
        args = [rng.choice([0, 0x80]), rng.randrange(1 << 16), rng.randrange(1 << 32), tail]
        if rng.random() < 0.5:
            # RED: random bytes, or well-formed headers whose lengths may lie.
            if tail and rng.random() < 0.5:
                blocks = b"".join(
                    bytes((0x80 | rng.randrange(128), rng.randrange(256), rng.randrange(256),
                           rng.randrange(256)))
                    for _ in range(rng.randint(0, 10))
                )
                tail = tail[:4] + blocks + bytes((rng.randrange(128),)) + tail[4:]
                args[3] = tail
            args.append(rng.choice([-1, 0, 4, len(tail), len(tail) + 1, rng.randrange(3100)]))
        elif rng.random() < 0.5:
            # VP8 picture id / TL0PICIDX positions, inside the tail or past it.
            args += [-1, rng.randrange(0x20000)]
        forwarded += fanout.forward(*args)
    for d in destinations:
        if not d.ready:
            d.bind(sender.fileno(), "127.0.0.1", receiver.getsockname()[1])
    while True:
        try:
            receiver.recv(4096)
        except BlockingIOError:
            break
    malformed += fanout.malformed
    del fanout
print("malformed", malformed)
print("forwarded", forwarded)
"""


def _libasan() -> str | None:
    gcc = shutil.which("gcc")
    if gcc is None:
        return None
    path = subprocess.run(
        [gcc, "-print-file-name=libasan.so"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return path if os.path.isabs(path) and os.path.exists(path) else None


def test_native_fanout_under_address_sanitizer(tmp_path: Path) -> None:
    libasan = _libasan()
    if libasan is None:
        pytest.skip("gcc with libasan not available")
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    module = tmp_path / f"_fastpath{suffix}"
    subprocess.run(
        [
            "gcc",
            "-shared",
            "-fPIC",
            "-g",
            "-O1",
            "-fsanitize=address",
            "-fno-omit-frame-pointer",
            f"-I{sysconfig.get_paths()['include']}",
            str(SOURCE),
            "-o",
            str(module),
        ],
        check=True,
    )
    script = tmp_path / "fuzz.py"
    script.write_text(FUZZ)
    env = dict(os.environ, LD_PRELOAD=libasan, ASAN_OPTIONS="detect_leaks=0")
    for seed in ("1", "2"):
        run = subprocess.run(
            [sys.executable, str(script), str(module), seed],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert "AddressSanitizer" not in run.stderr, run.stderr[-4000:]
        assert run.returncode == 0, run.stderr[-4000:]
        figures = dict(line.split() for line in run.stdout.splitlines())
        assert int(figures["forwarded"]) > 0
        assert int(figures["malformed"]) > 0  # RED that did not parse was exercised
