"""Micro-benchmark of the fan-out alone: native against Python, same process, same sockets.

One producer's packets (``--size`` bytes of payload) forwarded to
``--subscribers`` routes, each with its own UDP socket and SRTP stream, as
in the server: the CPU time of ``Fanout.forward`` per forwarded packet,
measured with ``time.process_time`` (not wall time, so the figure holds up on
a busy machine better than the end-to-end benchmark). The receiving sockets
are drained between bursts; their wake-ups are not in the figure.

    python -m bench.fanout --subscribers 8 --packets 20000
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import Sequence
from typing import Any

import pylibsrtp

from media import fastpath
from media.rtp import extension_prefix

PROFILES = {
    "aes-gcm": (pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM, 28),
    "aes-cm": (pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80, 30),
}


class _Transport:
    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def get_extra_info(self, name: str) -> Any:
        return self._sock

    def sendto(self, data: bytes, addr: Any) -> None:
        with contextlib.suppress(BlockingIOError):
            self._sock.sendto(data, addr)


def measure(path: str, subscribers: int, packets: int, size: int, profile: str) -> float:
    fastpath.select(path)
    srtp_profile, key_length = PROFILES[profile]
    key = os.urandom(key_length)
    receivers, senders, sessions, routes = [], [], [], []
    for i in range(subscribers):
        receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        receiver.bind(("127.0.0.1", 0))
        receiver.setblocking(False)
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sender.bind(("127.0.0.1", 0))
        sender.setblocking(False)
        destination = fastpath.new_destination()
        destination.connect(_Transport(sender), receiver.getsockname())
        policy = pylibsrtp.Policy(
            key=key,
            ssrc_type=pylibsrtp.Policy.SSRC_SPECIFIC,
            ssrc_value=1000 + i,
            srtp_profile=srtp_profile,
        )
        policy.allow_repeat_tx = True
        policy.window_size = 64
        session = pylibsrtp.Session(policy)
        routes.append(
            (96, i, i * 7, 1000 + i, extension_prefix(str(i), 4), destination, session._srtp[0])
        )
        receivers.append(receiver)
        senders.append(sender)
        sessions.append(session)
    fanout = fastpath.new_fanout(routes)
    tail = b"\x32\x00\x00\x00" + os.urandom(size)
    spent = 0.0
    for burst in range(0, packets, 64):
        start = time.process_time()
        for seq in range(burst, min(packets, burst + 64)):
            fanout.forward(0, seq & 0xFFFF, seq * 3000 & 0xFFFFFFFF, tail)
        spent += time.process_time() - start
        for receiver in receivers:
            while True:
                try:
                    receiver.recv(4096)
                except BlockingIOError:
                    break
    for s in receivers + senders:
        s.close()
    del sessions
    return spent / (packets * subscribers) * 1e6


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fanout", description=__doc__)
    parser.add_argument("--subscribers", type=int, default=8)
    parser.add_argument("--packets", type=int, default=20000)
    parser.add_argument("--size", type=int, default=1100, help="payload bytes")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="aes-gcm")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", default=None, metavar="PATH")
    args = parser.parse_args(argv)
    result: dict[str, Any] = {
        "subscribers": args.subscribers,
        "payload_bytes": args.size,
        "profile": args.profile,
    }
    for path in fastpath.available():
        figures = [
            measure(path, args.subscribers, args.packets, args.size, args.profile)
            for _ in range(args.repeat)
        ]
        result[f"{path}_us_per_forwarded_packet"] = [round(f, 2) for f in sorted(figures)]
    if "native" in fastpath.available():
        result["python_over_native"] = round(
            min(result["python_us_per_forwarded_packet"])
            / min(result["native_us_per_forwarded_packet"]),
            2,
        )
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(result, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
