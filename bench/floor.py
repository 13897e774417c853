"""Floor benchmark: how fast the media plane follows the chair's floor decisions.

A chair, ``--speakers`` heads of delegation publishing Opus, and
``--listeners`` counting subscribers (``PalabraClient(decode=False)``) join a
conference with floor control enforced (no open floor, no lobby). Each round
a speaker requests the floor, the chair grants it, and after ``--hold``
seconds revokes it. Per listener it measures:

- grant to first audio packet: from the chair sending ``floor.grant`` to the
  first packet of the speaker's audio after silence at that listener;
- revoke to silence: from the chair sending ``floor.revoke`` to the last
  packet of the speaker's audio at that listener (0 when none arrived after).

The server runs in its own process on its own core, as in the forwarding
benchmark; both ends of each interval are read on this process's clock.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

from client import PalabraClient, RemoteStream
from client.clip import LoopTrack, encode_audio
from server.tokens import issue_token
from signaling import RoomCommand, RoomUpdate

from .forwarding import leave_all, percentile, print_table
from .process import cores, cpu_seconds, ensure_loopback_only, run_server
from .server import BENCH_CONFERENCE, delegation_id


async def join(url: str, secret: str, role: str, i: int | None, decode: bool) -> PalabraClient:
    token = issue_token(
        secret,
        conference=BENCH_CONFERENCE,
        role=role,
        name=f"{role} {i}",
        delegation=delegation_id(i) if i is not None else None,
        participant=f"{role}-{i}",
    )
    client = PalabraClient(url, token, media_addresses=["127.0.0.1"], decode=decode)
    await client.join(timeout=30)
    return client


def event_of(update: object, kind: str) -> Mapping[str, object] | None:
    if isinstance(update, RoomUpdate):
        return next((e for e in update.events if e.get("type") == kind), None)
    return None


def audio_from(listener: PalabraClient, speaker: PalabraClient) -> RemoteStream | None:
    speaker_id = speaker.welcome.you.id if speaker.welcome else None
    return next(
        (
            s
            for s in listener.streams.values()
            if s.kind == "audio" and s.participant_id == speaker_id
        ),
        None,
    )


async def poll(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.002)
    return True


async def run(args: argparse.Namespace) -> dict[str, Any]:
    available = cores()
    server_core = available[0] if len(available) > 1 else None
    if server_core is not None:
        os.sched_setaffinity(0, available[1:])
    clip = encode_audio()
    secret = secrets.token_urlsafe(32)
    extra = ["--formal", "--delegations", str(args.speakers + args.listeners + 2)]
    grant_ms: list[float] = []
    silence_ms: list[float] = []
    missed = 0
    with run_server(secret, server_core, extra) as server:
        chair = await join(server.ws_url, secret, "chair", None, True)
        speakers = []
        for i in range(args.speakers):
            speaker = await join(server.ws_url, secret, "head", i, True)
            await speaker.publish(audio=LoopTrack(clip))
            speakers.append(speaker)
        listeners = [
            await join(server.ws_url, secret, "delegate", args.speakers + i, False)
            for i in range(args.listeners)
        ]
        await poll(
            lambda: all(
                audio_from(listener, speaker) is not None
                for listener in listeners
                for speaker in speakers
            ),
            30,
        )
        await asyncio.sleep(1.0)  # every stream negotiated and silent
        cpu0 = cpu_seconds(server.pid)
        for round_ in range(args.rounds):
            speaker = speakers[round_ % len(speakers)]
            reply = await speaker.request(
                RoomCommand(
                    "floor.request",
                    {"delegation_id": delegation_id(round_ % len(speakers))},
                    id=speaker.next_id(),
                )
            )
            requested = event_of(reply, "floor.requested")
            if requested is None:
                raise RuntimeError(f"no floor.requested event in {reply}")
            request_id = requested["request_id"]
            streams = [audio_from(listener, speaker) for listener in listeners]
            granted_at = time.monotonic()
            await chair.request(
                RoomCommand(
                    "floor.grant", {"request_id": request_id, "unlimited": True}, id=chair.next_id()
                )
            )
            await poll(
                lambda s=streams, t=granted_at: all(
                    x is not None and x.resumed_at is not None and x.resumed_at > t for x in s
                ),
                5,
            )
            for stream in streams:
                if stream is not None and stream.resumed_at and stream.resumed_at > granted_at:
                    grant_ms.append((stream.resumed_at - granted_at) * 1000)
                else:
                    missed += 1
            await asyncio.sleep(args.hold)
            revoked_at = time.monotonic()
            await chair.request(
                RoomCommand("floor.revoke", {"request_id": request_id}, id=chair.next_id())
            )
            await asyncio.sleep(1.0)  # well past any packet in flight
            for stream in streams:
                if stream is not None and stream.last_frame_at is not None:
                    silence_ms.append(max(0.0, stream.last_frame_at - revoked_at) * 1000)
            print(
                f"\r  round {round_ + 1}/{args.rounds}  grant->audio p50 "
                f"{percentile(grant_ms, 0.5):6.1f} ms  revoke->silence p50 "
                f"{percentile(silence_ms, 0.5):6.1f} ms",
                end="",
                file=sys.stderr,
                flush=True,
            )
        print(file=sys.stderr)
        server_cpu = cpu_seconds(server.pid) - cpu0
        await leave_all([chair, *speakers, *listeners])
    return {
        "listeners": args.listeners,
        "speakers": args.speakers,
        "rounds": args.rounds,
        "grant_to_first_audio_ms_p50": round(percentile(grant_ms, 0.5), 1),
        "grant_to_first_audio_ms_p95": round(percentile(grant_ms, 0.95), 1),
        "grant_to_first_audio_ms_max": round(max(grant_ms), 1) if grant_ms else None,
        "revoke_to_silence_ms_p50": round(percentile(silence_ms, 0.5), 1),
        "revoke_to_silence_ms_p95": round(percentile(silence_ms, 0.95), 1),
        "revoke_to_silence_ms_max": round(max(silence_ms), 1) if silence_ms else None,
        "listeners_without_audio_after_grant": missed,
        "server_cpu_seconds": round(server_cpu, 2),
        "server_core": server_core,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="palabra bench floor", description=__doc__)
    parser.add_argument("--listeners", type=int, default=20)
    parser.add_argument("--speakers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--hold", type=float, default=1.0, help="seconds each floor is held")
    parser.add_argument("--json", default=None, metavar="PATH")
    args = parser.parse_args(argv)
    module_argv = sys.argv[1:] if argv is None else list(argv)
    ensure_loopback_only([sys.executable, "-m", "bench.floor", *module_argv])
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
