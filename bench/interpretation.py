"""Interpretation benchmark: channel switches and handovers as listeners hear them.

A chair speaking on the floor, two interpreters in the English booth and one
in the Portuguese booth (each publishing Opus), and ``--listeners`` counting
subscribers (``PalabraClient(decode=False)``, packets traced at the socket)
join a conference with floor control and interpretation. Per listener:

- channel switch: from sending ``interpretation.listen`` for the English
  channel (while the floor only was heard) to the first packet on the
  listener's channel stream; the listeners switch one after another;
- handover gap: the largest interval between two packets on the channel
  stream within 300 ms of an ``interpretation.accept_handover`` (both
  interpreters send every 20 ms, so 20 ms is no gap at all), and whether the
  sequence numbers stayed continuous across it; as a control, the largest
  interval in the 600 ms of steady stream before it (what the machine's
  scheduling alone does to arrivals).

The server runs in its own process on its own core, as in the other
benchmarks; every time is read on this process's clock.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import secrets
import sys
import time
from collections.abc import Sequence
from typing import Any

from client import PalabraClient, RemoteStream
from client.clip import LoopTrack, encode_audio
from server.tokens import issue_token
from signaling import RoomCommand

from .floor import poll
from .forwarding import leave_all, percentile, print_table
from .process import cores, cpu_seconds, ensure_loopback_only, run_server
from .server import BENCH_CONFERENCE, delegation_id


async def join(
    url: str, secret: str, role: str, pid: str, delegation: str | None, decode: bool
) -> PalabraClient:
    token = issue_token(
        secret,
        conference=BENCH_CONFERENCE,
        role=role,
        name=pid,
        delegation=delegation,
        participant=pid,
    )
    client = PalabraClient(url, token, media_addresses=["127.0.0.1"], decode=decode)
    await client.join(timeout=30)
    return client


async def command(client: PalabraClient, kind: str) -> None:
    await client.request(RoomCommand(kind, {}, id=client.next_id()))


def feed(listener: PalabraClient) -> RemoteStream | None:
    return listener.feed_stream()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    available = cores()
    server_core = available[0] if len(available) > 1 else None
    if server_core is not None:
        os.sched_setaffinity(0, available[1:])
    clip = encode_audio()
    secret = secrets.token_urlsafe(32)
    extra = ["--formal", "--interpretation", "--delegations", str(args.listeners + 1)]
    switch_ms: list[float] = []
    gap_ms: list[float] = []
    steady_ms: list[float] = []
    discontinuities = 0
    missed = 0
    with run_server(secret, server_core, extra) as server:
        url = server.ws_url
        chair = await join(url, secret, "chair", "chair", None, True)
        await chair.publish(audio=LoopTrack(clip))
        interpreters = []
        for i in range(3):
            interpreter = await join(url, secret, "interpreter", f"interpreter-{i}", None, True)
            await interpreter.publish(audio=LoopTrack(clip))
            interpreters.append(interpreter)
        en_a, en_b, pt = interpreters
        await command(en_a, "interpretation.on_air")
        await command(pt, "interpretation.on_air")
        listeners = [
            await join(url, secret, "delegate", f"listener-{i}", delegation_id(i), False)
            for i in range(args.listeners)
        ]
        await poll(lambda: all(feed(x) is not None for x in listeners), 30)
        await asyncio.sleep(1.0)
        cpu0 = cpu_seconds(server.pid)
        for round_ in range(args.rounds):
            # Channel switch: floor only -> en, one listener after the other.
            for listener in listeners:
                stream = feed(listener)
                assert stream is not None
                stream.trace = []
                sent = time.monotonic()
                await listener.listen("en")
                trace = stream.trace
                arrived = await poll(lambda t=trace, s=sent: any(a > s for a, *_ in t), 2)
                if arrived:
                    switch_ms.append((next(a for a, *_ in trace if a > sent) - sent) * 1000)
                else:
                    missed += 1
            await asyncio.sleep(0.5)
            # Handover en_a -> en_b (then back, next round).
            for listener in listeners:
                stream = feed(listener)
                assert stream is not None
                stream.trace = []
            await asyncio.sleep(0.7)
            await command(en_b, "interpretation.request_handover")
            handed = time.monotonic()
            await command(en_a, "interpretation.accept_handover")
            await asyncio.sleep(1.0)
            for listener in listeners:
                stream = feed(listener)
                assert stream is not None and stream.trace is not None
                trace = stream.trace
                around = [a for a, *_ in trace if abs(a - handed) < 0.3]
                gaps = [b - a for a, b in itertools.pairwise(around)]
                if gaps:
                    gap_ms.append(max(gaps) * 1000)
                before = [a for a, *_ in trace if handed - 0.65 < a < handed - 0.05]
                steady = [b - a for a, b in itertools.pairwise(before)]
                if steady:
                    steady_ms.append(max(steady) * 1000)
                if any((b[1] - a[1]) & 0xFFFF != 1 for a, b in itertools.pairwise(trace)):
                    discontinuities += 1
                stream.trace = None
            en_a, en_b = en_b, en_a
            await asyncio.gather(*(x.listen(None) for x in listeners))
            print(
                f"\r  round {round_ + 1}/{args.rounds}  switch p50 "
                f"{percentile(switch_ms, 0.5):6.1f} ms  handover gap p50 "
                f"{percentile(gap_ms, 0.5):6.1f} ms",
                end="",
                file=sys.stderr,
                flush=True,
            )
            await asyncio.sleep(0.5)
        print(file=sys.stderr)
        server_cpu = cpu_seconds(server.pid) - cpu0
        await leave_all([chair, *interpreters, *listeners])
    return {
        "listeners": args.listeners,
        "rounds": args.rounds,
        "channel_switch_ms_p50": round(percentile(switch_ms, 0.5), 1),
        "channel_switch_ms_p95": round(percentile(switch_ms, 0.95), 1),
        "channel_switch_ms_max": round(max(switch_ms), 1) if switch_ms else None,
        "switches_without_audio": missed,
        "handover_gap_ms_p50": round(percentile(gap_ms, 0.5), 1),
        "handover_gap_ms_p95": round(percentile(gap_ms, 0.95), 1),
        "handover_gap_ms_max": round(max(gap_ms), 1) if gap_ms else None,
        "handovers_with_sequence_gaps": discontinuities,
        "steady_stream_gap_ms_p50": round(percentile(steady_ms, 0.5), 1),
        "steady_stream_gap_ms_p95": round(percentile(steady_ms, 0.95), 1),
        "server_cpu_seconds": round(server_cpu, 2),
        "server_core": server_core,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="palabra bench interpretation", description=__doc__)
    parser.add_argument("--listeners", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--json", default=None, metavar="PATH")
    args = parser.parse_args(argv)
    module_argv = sys.argv[1:] if argv is None else list(argv)
    ensure_loopback_only([sys.executable, "-m", "bench.interpretation", *module_argv])
    import uvloop

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    result = asyncio.run(run(args))
    print_table(result)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(result, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
