"""Forwarding benchmark: P publishers and S subscribers over real WebRTC.

Publishers send pre-encoded VP8 (640x360, ~500 kbit/s) and Opus and also
receive every other publisher; subscribers only receive. Every client is
cheap: packets are counted at the receiver, never decoded. The server runs in
its own process on its own core; the clients share this process on the other.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

from server.client import PalabraClient, RemoteStream
from server.tokens import issue_token

from .clip import LoopTrack, encode_audio, encode_video
from .process import cores, cpu_seconds, ensure_loopback_only, rss_mb, run_server

DELEGATIONS = ("gt", "sv", "cr")


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def sent_packets(client: PalabraClient) -> int:
    total = 0
    for sender in client.publisher.getSenders():
        for stats in (await sender.getStats()).values():
            if stats.type == "outbound-rtp":
                total += stats.packetsSent
    return total


def received(clients: Sequence[PalabraClient]) -> tuple[int, dict[str, RemoteStream]]:
    streams = {f"{i}:{mid}": s for i, c in enumerate(clients) for mid, s in c.streams.items()}
    return sum(s.packets for s in streams.values()), streams


async def run(args: argparse.Namespace) -> dict[str, Any]:
    secret = secrets.token_urlsafe(32)
    available = cores()
    server_core = available[0] if len(available) > 1 else None
    if server_core is not None:
        os.sched_setaffinity(0, available[1:])
    video_clip, audio_clip = encode_video(), encode_audio()

    with run_server(secret, server_core) as server:

        def token(i: int, role: str) -> str:
            return issue_token(
                secret,
                conference="demo",
                role=role,
                name=f"{role} {i}",
                delegation=DELEGATIONS[i % len(DELEGATIONS)],
                participant=f"{role}-{i}",
            )

        publishers = [
            PalabraClient(
                server.ws_url, token(i, "head"), media_addresses=["127.0.0.1"], decode=False
            )
            for i in range(args.publishers)
        ]
        for client in publishers:
            await client.join()
            await client.publish(video=LoopTrack(video_clip), audio=LoopTrack(audio_clip))
        for client in publishers:
            await client.wait_for_streams(2 * (args.publishers - 1), timeout=30)

        # Subscribers join once every publisher is live: their join time is
        # hello to the first forwarded frame of each publisher's video.
        subscribers = [
            PalabraClient(
                server.ws_url, token(i, "delegate"), media_addresses=["127.0.0.1"], decode=False
            )
            for i in range(args.subscribers)
        ]
        await asyncio.gather(*(c.join() for c in subscribers))
        await asyncio.gather(
            *(c.wait_for_streams(2 * args.publishers, timeout=30) for c in subscribers)
        )
        join_ms = [
            (s.first_frame_at - c.hello_sent_at) * 1000
            for c in subscribers
            for s in c.streams.values()
            if s.kind == "video" and s.first_frame_at is not None and c.hello_sent_at is not None
        ]

        clients = [*publishers, *subscribers]
        await asyncio.sleep(args.warmup)
        sent0 = [await sent_packets(c) for c in publishers]
        got0, streams0 = received(clients)
        frames0 = {k: s.frames for k, s in streams0.items()}
        cpu0, own0, t0 = cpu_seconds(server.pid), time.process_time(), time.monotonic()
        while time.monotonic() - t0 < args.seconds:
            await asyncio.sleep(1.0)
            elapsed = time.monotonic() - t0
            got, _ = received(clients)
            rate = (got - got0) / max(elapsed, 1e-9)
            print(
                f"\r  {elapsed:5.1f}/{args.seconds:.0f} s  {rate:9.0f} forwarded packets/s",
                end="",
                file=sys.stderr,
                flush=True,
            )
        print(file=sys.stderr)
        duration = time.monotonic() - t0
        server_cpu = cpu_seconds(server.pid) - cpu0
        own_cpu = time.process_time() - own0
        got1, streams1 = received(clients)
        sent1 = [await sent_packets(c) for c in publishers]
        memory = rss_mb(server.pid)
        for client in clients:
            await client.close()

    forwarded = got1 - got0
    receivers = args.publishers - 1 + args.subscribers
    expected = sum(b - a for a, b in zip(sent0, sent1, strict=True)) * receivers
    fps = [
        (s.frames - frames0.get(k, 0)) / duration for k, s in streams1.items() if s.kind == "video"
    ]
    return {
        "publishers": args.publishers,
        "subscribers": args.subscribers,
        "seconds": round(duration, 2),
        "forwarded_streams": 2 * args.publishers * receivers,
        "forwarded_packets_per_s": round(forwarded / duration, 1),
        "server_cpu_cores": round(server_cpu / duration, 3),
        "server_cpu_us_per_forwarded_packet": round(server_cpu / max(forwarded, 1) * 1e6, 2),
        "loss_ratio": round(max(0.0, 1 - forwarded / expected), 5) if expected else None,
        "subscriber_video_fps_min": round(min(fps), 1) if fps else None,
        "subscriber_video_fps_median": round(statistics.median(fps), 1) if fps else None,
        "join_time_ms_p50": round(percentile(join_ms, 0.5), 1),
        "join_time_ms_p95": round(percentile(join_ms, 0.95), 1),
        "server_rss_mb": round(memory, 1),
        "load_generator_cpu_cores": round(own_cpu / duration, 3),
        "server_core": server_core,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="palabra bench forwarding", description=__doc__)
    parser.add_argument("--publishers", type=int, default=2)
    parser.add_argument("--subscribers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--json", default=None, metavar="PATH")
    args = parser.parse_args(argv)
    ensure_loopback_only([sys.executable, "-m", "bench.forwarding", *sys.argv[1:]])
    result = asyncio.run(run(args))
    width = max(map(len, result))
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(result, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
