"""Forwarding benchmark: P publishers and S subscribers over real signaling and WebRTC.

Publishers send pre-encoded VP8 (640x360, ~500 kbit/s) and Opus (encoded
once, packets looped) and also receive every other publisher. By default the
S subscribers are extra, receive-only participants; with ``--plenary`` the
publishers are the subscribers (``--subscribers`` counts every receiver, so
``--publishers 20 --subscribers 20 --plenary`` is 20 delegations each
receiving the 19 others: 380 video + 380 audio streams).

Every client is cheap (``PalabraClient(decode=False)``): RTP is counted at the
socket after SRTP, with no jitter buffer and no decoding, and the clients
still send NACKs and receiver reports. The server runs in its own process on
its own core; the clients share this process on the other cores. When the
load generator's own CPU nears one core, the figures are the clients' limit,
not the server's: the JSON says so (``load_generator_saturated``).

``--conferences C`` runs C such meetings at once (each of P publishers and S
subscribers), and ``--workers N`` serves them from N worker processes behind
one port (``palabra serve --workers N``); the server's CPU is then the front's
and the workers' together (each also reported), and the server is not pinned
to a core. ``--client-processes K`` shares the conferences among K load
generator processes (one Python process receives ~50 000 packets/s at most),
whose measuring windows start together.

``--forwarding both`` measures the native and the Python forwarding paths
(media/fastpath.py) back to back in one run, with fresh servers, and reports
the ratio.

``--against janus`` then measures Debian's Janus VideoRoom (:mod:`bench.janus`)
under the same load, pinned to the same core, in the same run, and reports
both and the ratio Palabra / Janus (per forwarding path).

``--simulcast``: every publisher sends its camera as three pre-encoded VP8
layers (320x180, 640x360, 1280x720; the Python client's synthetic simulcast
sender, RIDs over SRTP as a browser sends them); the server forwards each
subscriber one (the bench conference has an open floor and no chair: every
camera a thumbnail) within the server's last-N (``--last-n``, default 9).
The same run then measures the same meeting as it was before simulcast and
last-N (one 640x360 layer, every video forwarded: ``single_layer_every_video``)
and reports the ratios of ``downlink_mbit_per_receiver``, of the server's
CPU (``server_cpu_cores``, and per forwarded packet) and of what each
publisher uploads (``uplink_mbit_per_publisher``: a thumbnail nobody sees
larger sends its lowest layer only once the server asks, ``publish.layers``;
the window starts after that hold-down). ``--ignore-layers``: the publishers
send every layer whatever the server asks, as before. Loss against what was
sent is not reported (a receiver gets one of three layers).

``--baseline`` also measures aiortc's MediaRelay (decode + re-encode per
subscriber, :mod:`bench.baseline`) and Palabra side by side at a small size
(``--baseline-publishers`` x ``--baseline-subscribers``) and reports the cost
ratio per forwarded stream.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from client import ClientError, PalabraClient, RemoteStream
from client.clip import Clip, LoopTrack, encode_audio, encode_video
from media import fastpath
from media.layer_demand import HOLD_DOWN
from server.tokens import issue_token

from .janus import JanusClient, JanusError, JanusRoom, run_janus
from .process import (
    cores,
    ensure_loopback_only,
    family_cpu_seconds,
    profile_server,
    rss_mb,
    run_server,
    socket_drops,
    udp_counters,
)
from .server import BENCH_CONFERENCE, conference_id, delegation_id


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class Target:
    """Where the clients connect: a server this run started, or ``--url``."""

    ws_url: str
    secret: str
    conference: str
    pid: int | None  # the server's pid when it runs on this machine
    janus: JanusRoom | None = None  # the clients join this Janus room instead


# A synthetic participant: of Palabra, or of Janus's VideoRoom (--against janus).
Client = PalabraClient | JanusClient


@dataclass
class Sample:
    at: float
    server_cpu: float
    server_cpu_by_process: dict[int, float]
    own_cpu: float
    # packets, frames, lost, bytes, and 1 for a video the server forwards (not
    # held for the receiver's downlink or by last-N)
    streams: dict[str, tuple[int, int, int, int, int]]
    sent: int
    udp: dict[str, int]
    server_drops: int
    client_drops: int
    uplink: int = 0  # RTP payload bytes the publishers sent, every layer


def token(target: Target, i: int, role: str) -> str:
    return issue_token(
        target.secret,
        conference=target.conference,
        role=role,
        name=f"{role} {i}",
        delegation=delegation_id(i),
        participant=f"{role}-{i}",
    )


async def sent_packets(clients: Sequence[Client]) -> int:
    total = 0
    for client in clients:
        for sender in client.publisher.getSenders():
            for stats in (await sender.getStats()).values():
                if stats.type == "outbound-rtp":
                    total += stats.packetsSent
    return total


async def sent_bytes(clients: Sequence[Client]) -> int:
    """RTP payload bytes the publishers sent: their aiortc senders' and every
    layer of a synthetic simulcast camera (whatever the server asked to stop)."""
    total = 0
    for client in clients:
        for sender in client.publisher.getSenders():
            for stats in (await sender.getStats()).values():
                if stats.type == "outbound-rtp":
                    total += stats.bytesSent
        simulcast = getattr(client, "simulcast_sender", None)
        if simulcast is not None:
            total += sum(layer.bytes_sent for layer in simulcast.layers)
    return total


def streams_of(clients: Sequence[Client]) -> dict[str, RemoteStream]:
    return {f"{i}:{mid}": s for i, c in enumerate(clients) for mid, s in c.streams.items()}


async def sample(target: Target, clients: Sequence[Client], publishers: Any) -> Sample:
    by_process = family_cpu_seconds(target.pid) if target.pid else {}
    return Sample(
        at=time.monotonic(),
        server_cpu=sum(by_process.values()),
        server_cpu_by_process=by_process,
        own_cpu=time.process_time(),
        streams={
            k: (
                s.packets,
                s.frames,
                s.lost,
                s.bytes,
                int(s.kind == "video" and s.forwarded is not False),
            )
            for k, s in streams_of(clients).items()
        },
        sent=await sent_packets(publishers),
        udp=udp_counters(),
        server_drops=socket_drops(target.pid, descendants=True) if target.pid else 0,
        client_drops=socket_drops(os.getpid()),
        uplink=await sent_bytes(publishers),
    )


async def connect(target: Target, i: int, role: str) -> Client:
    if target.janus is not None:
        return await target.janus.connect(i, role)
    client = PalabraClient(
        target.ws_url, token(target, i, role), media_addresses=["127.0.0.1"], decode=False
    )
    await client.join(timeout=30)
    return client


async def measure(
    target: Target,
    publishers_n: int,
    subscribers_n: int,
    plenary: bool,
    seconds: float,
    warmup: float,
    probes: int,
    clips: tuple[Clip, Clip],
    profile: str | None = None,
    label: str = "",
    profile_native: bool = False,
    conferences: int = 1,
    first_conference: int = 0,
    barrier: Barrier | None = None,
    layers: list[tuple[str, Clip]] | None = None,
    follow_layers: bool = True,
) -> dict[str, Any]:
    video_clip, audio_clip = clips
    publishers: list[Client] = []
    subscribers: list[Client] = []
    incomplete: list[str] = []
    extra = subscribers_n - publishers_n if plenary else subscribers_n
    # Each conference alike (ids conference_id(0...)); one after the other.
    for index in range(first_conference, first_conference + conferences):
        several = conferences > 1 or first_conference > 0
        meeting = replace(target, conference=conference_id(index)) if several else target
        where = f"{meeting.conference} " if several else ""
        its_publishers: list[Client] = []
        for i in range(publishers_n):
            client = await connect(meeting, i, "head")
            if layers:
                assert isinstance(client, PalabraClient)  # not with --against janus
                client.follow_layers = follow_layers
                await client.publish_simulcast(layers, audio=LoopTrack(audio_clip))
            else:
                await client.publish(video=LoopTrack(video_clip), audio=LoopTrack(audio_clip))
            its_publishers.append(client)
        for i, client in enumerate(its_publishers):
            await wait_streams(client, 2 * (publishers_n - 1), f"{where}publisher {i}", incomplete)
        publishers += its_publishers

        # Receive-only participants join once every publisher is live: their join
        # time is hello to the first forwarded frame of each publisher's video.
        # One at a time: a join is timed against a running meeting, not against a
        # crowd of simultaneous joins competing for the same two cores.
        for i in range(max(0, extra)):
            client = await connect(meeting, publishers_n + i, "delegate")
            await wait_streams(client, 2 * publishers_n, f"{where}subscriber {i}", incomplete)
            subscribers.append(client)
    join_ms = join_times(subscribers)
    phases = join_phases(subscribers)

    clients = [*publishers, *subscribers]
    receivers = len(clients) // conferences  # in each conference
    # Simulcast: the layers nobody watches are stopped after the hold-down
    # (publish.layers); the window measures the meeting once they are.
    await asyncio.sleep(max(warmup, HOLD_DOWN + 2) if layers else warmup)
    if barrier is not None:
        await barrier.wait()  # every load generator process starts its window now
    first = await sample(target, clients, publishers)
    last = first
    with profile_server(target.pid or 0, seconds, profile if target.pid else None, profile_native):
        while last.at - first.at < seconds:
            await asyncio.sleep(min(1.0, seconds - (time.monotonic() - first.at)) or 0.01)
            current = await sample(target, clients, publishers)
            progress(label, first, last, current, seconds)
            last = current
    print(file=sys.stderr)
    memory = rss_mb(target.pid) if target.pid else None
    # The machine may be shared: its load says how far to trust absolute figures.
    load_average = round(os.getloadavg()[0], 2)
    dropped_out = [
        f"{i}: {c.close_code} {c.close_reason}" for i, c in enumerate(clients) if c.closed.is_set()
    ]

    if probes and not subscribers:
        # No late joiners in a plenary: measure joins with a few probes after
        # the window (they do not load the measured interval).
        base = publishers_n + max(0, extra)
        probe_clients = []
        for i in range(probes):
            client = await connect(target, base + i, "delegate")
            await wait_streams(client, 2 * publishers_n, f"probe {i}", incomplete)
            probe_clients.append(client)
        join_ms = join_times(probe_clients)
        phases = join_phases(probe_clients)
        await leave_all(probe_clients)
    await leave_all(clients)
    result = summarise(
        first, last, publishers_n, subscribers_n, receivers, plenary, join_ms, memory, conferences
    )
    if layers:
        result["simulcast"] = " / ".join(rid for rid, _ in layers)
        result["loss_ratio_vs_sent"] = None  # a receiver gets one layer of three
    result["join_phases_ms_median"] = phases
    result["load_average_1m"] = load_average
    result["clients_disconnected"] = dropped_out
    result["clients_incomplete_at_start"] = incomplete
    return result


@dataclass
class Barrier:
    """The load generator processes of one run start their windows together."""

    directory: str
    name: str
    count: int

    async def wait(self, timeout: float = 900) -> None:
        with open(os.path.join(self.directory, self.name), "w"):
            pass
        deadline = time.monotonic() + timeout
        while len(os.listdir(self.directory)) < self.count:
            if time.monotonic() > deadline:
                raise TimeoutError("the other load generator processes never got ready")
            await asyncio.sleep(0.05)


async def leave_all(clients: Sequence[Client]) -> None:
    # Leaving together races the renegotiations the departures cause: a
    # client closed mid-answer is expected here, not a failure of the run.
    await asyncio.gather(*(c.leave() for c in clients), return_exceptions=True)


async def wait_streams(client: Client, count: int, who: str, incomplete: list[str]) -> None:
    """Wait for a client's ``count`` streams, each with a frame unless the server
    says it holds it (last-N, the downlink); a shortfall is reported, not fatal."""

    def ready() -> int:
        return sum(1 for s in client.streams.values() if s.frames or s.forwarded is False)

    deadline = time.monotonic() + 60
    while ready() < count and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    if ready() < count:
        incomplete.append(f"{who}: {ready()} of {count} streams")


def join_phases(clients: Sequence[Client]) -> dict[str, float]:
    """Median ms from hello to each step of the join, and to the first video frame."""
    steps: dict[str, list[float]] = {}
    for client in clients:
        if client.hello_sent_at is None:
            continue
        for step, at in client.timeline.items():
            steps.setdefault(step, []).append((at - client.hello_sent_at) * 1000)
        firsts = [s.first_frame_at for s in client.streams.values() if s.first_frame_at]
        if firsts:
            steps.setdefault("first_video_frame_all", []).append(
                (max(firsts) - client.hello_sent_at) * 1000
            )
    return {
        step: round(statistics.median(v), 1)
        for step, v in sorted(steps.items(), key=lambda i: statistics.median(i[1]))
    }


def join_times(clients: Sequence[Client]) -> list[float]:
    return [
        (s.first_frame_at - c.hello_sent_at) * 1000
        for c in clients
        for s in c.streams.values()
        if s.kind == "video" and s.first_frame_at is not None and c.hello_sent_at is not None
    ]


def progress(label: str, first: Sample, last: Sample, now: Sample, seconds: float) -> None:
    interval = max(now.at - last.at, 1e-9)
    packets = sum(v[0] for v in now.streams.values()) - sum(v[0] for v in last.streams.values())
    print(
        f"\r  {label}{now.at - first.at:5.1f}/{seconds:.0f} s "
        f"{packets / interval:8.0f} fwd pkt/s  "
        f"server {100 * (now.server_cpu - last.server_cpu) / interval:5.1f} % cpu  "
        f"clients {100 * (now.own_cpu - last.own_cpu) / interval:5.1f} % cpu",
        end="",
        file=sys.stderr,
        flush=True,
    )


def summarise(
    first: Sample,
    last: Sample,
    publishers: int,
    subscribers: int,
    receivers: int,
    plenary: bool,
    join_ms: list[float],
    memory: float | None,
    conferences: int = 1,
) -> dict[str, Any]:
    duration = last.at - first.at
    zero = (0, 0, 0, 0, 0)
    delta = {
        k: tuple(b - a for a, b in zip(first.streams.get(k, zero), v, strict=True))
        for k, v in last.streams.items()
    }
    forwarded = sum(d[0] for d in delta.values())
    lost = sum(max(0, d[2]) for d in delta.values())
    server_cpu = last.server_cpu - first.server_cpu
    own_cpu = last.own_cpu - first.own_cpu
    # Each publisher's two streams reach every receiver of its conference but itself.
    streams = 2 * publishers * (receivers - 1) * conferences
    fps = [d[1] / duration for k, d in delta.items() if last.streams[k][4]]
    expected = (last.sent - first.sent) * (receivers - 1)
    load = own_cpu / duration
    dropped = last.udp.get("RcvbufErrors", 0) - first.udp.get("RcvbufErrors", 0)
    by_process = {
        str(pid): round((cpu - first.server_cpu_by_process.get(pid, 0.0)) / duration, 3)
        for pid, cpu in last.server_cpu_by_process.items()
    }
    # What several load generator processes' results add up from (merge_helpers).
    counts = {
        "seconds": duration,
        "forwarded": forwarded,
        "lost": lost,
        "expected": expected,
        "server_cpu_seconds": server_cpu,
        "client_cpu_seconds": own_cpu,
        "client_drops": last.client_drops - first.client_drops,
        "streams": streams,
        "fps": fps,
    }
    return {
        "conferences": conferences,
        "publishers": publishers,
        "subscribers": subscribers,
        "plenary": plenary,
        "seconds": round(duration, 2),
        "forwarded_streams": streams,
        # Videos each receiver is sent at the end (fewer than the others' cameras
        # beyond last-N, or where a downlink holds some).
        "videos_per_receiver": round(
            sum(v[4] for v in last.streams.values()) / max(receivers * conferences, 1), 1
        ),
        "forwarded_packets_per_s": round(forwarded / duration, 1),
        # What each publisher uploads (RTP payload, audio and every layer of its camera).
        "uplink_mbit_per_publisher": round(
            (last.uplink - first.uplink) * 8 / duration / 1e6 / max(publishers * conferences, 1), 3
        ),
        "forwarded_mbit_per_s": round(sum(d[3] for d in delta.values()) * 8 / duration / 1e6, 2),
        "downlink_mbit_per_receiver": round(
            sum(d[3] for d in delta.values()) * 8 / duration / 1e6 / max(receivers, 1), 3
        ),
        "server_cpu_cores": round(server_cpu / duration, 3),
        "server_cpu_cores_by_process": by_process,
        "server_cpu_us_per_forwarded_packet": round(server_cpu / max(forwarded, 1) * 1e6, 2),
        # What the server sent includes what the clients' full sockets dropped:
        # when they drop, this is the server's cost, the line above the clients' limit.
        "server_cpu_us_per_sent_packet": round(
            server_cpu / max(forwarded + last.client_drops - first.client_drops, 1) * 1e6, 2
        ),
        "server_cpu_cores_per_forwarded_stream": round(server_cpu / duration / max(streams, 1), 5),
        "loss_ratio": round(lost / max(forwarded + lost, 1), 5),
        "loss_ratio_vs_sent": round(max(0.0, 1 - forwarded / expected), 5) if expected else None,
        "loss_ratio_video": round(
            sum(max(0, d[2]) for k, d in delta.items() if last.streams[k][4])
            / max(sum(d[0] + max(0, d[2]) for k, d in delta.items() if last.streams[k][4]), 1),
            5,
        ),
        "udp_receive_buffer_drops": dropped,
        "udp_drops_at_server_sockets": last.server_drops - first.server_drops,
        "udp_drops_at_client_sockets": last.client_drops - first.client_drops,
        "subscriber_video_fps_min": round(min(fps), 1) if fps else None,
        "subscriber_video_fps_median": round(statistics.median(fps), 1) if fps else None,
        "join_time_ms_p50": round(percentile(join_ms, 0.5), 1),
        "join_time_ms_p95": round(percentile(join_ms, 0.95), 1),
        "server_rss_mb": round(memory, 1) if memory is not None else None,
        "load_generator_cpu_cores": round(load, 3),
        "load_generator_saturated": load > 0.9,
        "counts": counts,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    available = cores()
    # Several workers are several processes: they are not pinned to one core.
    pinned = len(available) > 1 and not args.url and args.workers == 1
    server_core = available[0] if pinned else None
    if server_core is not None:
        os.sched_setaffinity(0, available[1:])
    clips = (encode_video(), encode_audio())
    layers = simulcast_layers() if args.simulcast else None
    result: dict[str, Any] = {}
    loop_flag = ["--loop", args.loop]

    async def one(
        baseline: bool,
        publishers: int,
        subscribers: int,
        seconds: float,
        profile: str | None,
        label: str,
        forwarding: str | None = None,
        single_layer: bool = False,
    ) -> dict[str, Any]:
        """One measured window; ``single_layer``: as before simulcast and last-N
        (one 640x360 layer per camera, every video forwarded), to compare with."""
        run_layers = None if single_layer else layers
        if args.url:
            target = Target(args.url, args.secret, args.conference, None)
            return await measure(
                target,
                publishers,
                subscribers,
                args.plenary,
                seconds,
                args.warmup,
                args.probes,
                clips,
                None,
                label,
                conferences=args.conferences,
                first_conference=args.first_conference,
                barrier=Barrier(args.barrier, f"{args.first_conference}", args.barrier_count)
                if args.barrier
                else None,
                layers=run_layers,
                follow_layers=not args.ignore_layers,
            )
        secret = secrets.token_urlsafe(32)
        extra = [*loop_flag, "--delegations", str(publishers + subscribers + args.probes + 2)]
        if not baseline:
            extra += ["--conferences", str(args.conferences), "--workers", str(args.workers)]
        if baseline:
            extra.append("--baseline")
        if forwarding:
            extra += ["--forwarding", forwarding]
        if single_layer:
            extra += ["--last-n", str(publishers + subscribers)]  # every video
        elif args.last_n is not None:
            extra += ["--last-n", str(args.last_n)]
        if args.media_port is not None and not baseline:
            extra += ["--media-port", str(args.media_port)]
        with run_server(secret, server_core, extra) as server:
            target = Target(server.ws_url, secret, BENCH_CONFERENCE, server.pid)
            if baseline or args.client_processes == 1:
                return await measure(
                    target,
                    publishers,
                    subscribers,
                    args.plenary and not baseline,
                    seconds,
                    args.warmup,
                    args.probes,
                    clips,
                    profile,
                    label,
                    args.profile_native,
                    conferences=1 if baseline else args.conferences,
                    layers=run_layers,
                    follow_layers=not args.ignore_layers,
                )
            return await measure_with_helpers(
                args, target, publishers, subscribers, seconds, clips, profile, label, run_layers
            )

    paths = ["native", "python"] if args.forwarding == "both" else [args.forwarding]
    if paths == [None] and not args.url:
        # What the server will choose, named in the report.
        paths = [os.environ.get(fastpath.ENVIRONMENT) or fastpath.available()[0]]
    with profile_server(os.getpid(), args.seconds + 120, args.profile_clients):
        result = await one(
            False, args.publishers, args.subscribers, args.seconds, args.profile, "", paths[0]
        )
    result["forwarding"] = paths[0] or "default"
    for other in paths[1:]:
        label = f"{other:<7}"
        second = await kept(
            label, one(False, args.publishers, args.subscribers, args.seconds, None, label, other)
        )
        result[f"{other}_path"] = second
        key = "server_cpu_us_per_forwarded_packet"
        if result[key] and second.get(key):
            result[f"{other}_over_{paths[0]}"] = round(second[key] / result[key], 2)
    if args.simulcast and not args.url:
        # Today's meeting without simulcast and last-N, same size, same run.
        label = "1 layer "
        single = await kept(
            label,
            one(
                False, args.publishers, args.subscribers, args.seconds, None, label, paths[0], True
            ),
        )
        result["single_layer_every_video"] = single
        for key in (
            "downlink_mbit_per_receiver",
            "server_cpu_us_per_forwarded_packet",
            "server_cpu_cores",
            "uplink_mbit_per_publisher",
        ):
            if result.get(key) and single.get(key):
                result[f"{key}_simulcast_over_single_layer"] = round(result[key] / single[key], 3)
    if args.against == "janus":
        janus = await kept("janus", against_janus(args, server_core, clips))
        result["janus"] = janus
        palabra = {paths[0] or "default": result, **{p: result[f"{p}_path"] for p in paths[1:]}}
        result["against_janus"] = side_by_side(palabra, janus)
    result["server_workers"] = args.workers
    result["load_average"] = list(os.getloadavg())
    result["server_loop"] = "n/a (--url)" if args.url else args.loop
    result["server_core"] = server_core
    result["client_cores"] = available[1:] if server_core is not None else available
    if args.baseline:
        bp, bs, bt = args.baseline_publishers, args.baseline_subscribers, args.baseline_seconds
        relay = await one(True, bp, bs, bt, None, "MediaRelay ")
        palabra = await one(False, bp, bs, bt, None, "Palabra    ")
        per_stream_relay = relay["server_cpu_cores_per_forwarded_stream"]
        per_stream_palabra = palabra["server_cpu_cores_per_forwarded_stream"]
        result["baseline"] = {
            "size": f"{bp}x{bs}",
            "media_relay": relay,
            "palabra": palabra,
            "media_relay_cores_per_forwarded_stream": per_stream_relay,
            "palabra_cores_per_forwarded_stream": per_stream_palabra,
            "ratio_per_forwarded_stream": round(per_stream_relay / per_stream_palabra, 1)
            if per_stream_palabra
            else None,
        }
    return result


async def kept(label: str, part: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    """A later part of the run; if it fails, the error in its place, not the run lost."""
    try:
        return await part
    except (TimeoutError, RuntimeError, OSError, ClientError, JanusError) as exc:
        print(f"\n{label.strip()}: failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return {"error": f"{type(exc).__name__}: {exc}"}


async def against_janus(
    args: argparse.Namespace, core: int | None, clips: tuple[Clip, Clip]
) -> dict[str, Any]:
    """The same load on Debian's Janus VideoRoom, pinned to the server's core."""
    with run_janus(core) as janus:
        room = JanusRoom(janus.url)
        try:
            await room.create(args.publishers + args.subscribers + args.probes + 2)
            target = Target(janus.url, "", BENCH_CONFERENCE, janus.pid, room)
            return await measure(
                target,
                args.publishers,
                args.subscribers,
                args.plenary,
                args.seconds,
                args.warmup,
                args.probes,
                clips,
                None,
                "janus   ",
            )
        finally:
            await room.close()


# What the side-by-side table compares, and which way is better.
COMPARED = (
    "server_cpu_us_per_forwarded_packet",
    "server_cpu_us_per_sent_packet",
    "udp_drops_at_client_sockets",
    "forwarded_packets_per_s",
    "server_cpu_cores",
    "loss_ratio",
    "subscriber_video_fps_min",
    "join_time_ms_p95",
    "load_average_1m",
)


def side_by_side(palabra: dict[str, dict[str, Any]], janus: dict[str, Any]) -> dict[str, Any]:
    """Each compared figure for every Palabra path and Janus, and the CPU ratios."""
    table: dict[str, Any] = {
        key: {
            **{f"palabra_{path}": r.get(key) for path, r in palabra.items()},
            "janus": janus.get(key),
        }
        for key in COMPARED
    }
    for key, name in (
        ("server_cpu_us_per_forwarded_packet", "over_janus"),
        ("server_cpu_us_per_sent_packet", "over_janus_sent"),
    ):
        for path, r in palabra.items():
            table[f"palabra_{path}_{name}"] = (
                round(r[key] / janus[key], 3) if r.get(key) and janus.get(key) else None
            )
    return table


def print_side_by_side(table: dict[str, Any]) -> None:
    columns = list(table[COMPARED[0]])
    width = max(map(len, COMPARED))
    print()
    print(f"{'':<{width}}  " + "  ".join(f"{c:>15}" for c in columns))
    for key in COMPARED:
        cells = "  ".join(f"{'-' if v is None else v!s:>15}" for v in table[key].values())
        print(f"{key:<{width}}  {cells}")
    for key, value in table.items():
        if "_over_janus" in key:
            print(f"{key}: {value}")


async def measure_with_helpers(
    args: argparse.Namespace,
    target: Target,
    publishers: int,
    subscribers: int,
    seconds: float,
    clips: tuple[Clip, Clip],
    profile: str | None,
    label: str,
    layers: list[tuple[str, Clip]] | None = None,
) -> dict[str, Any]:
    """The conferences shared among ``--client-processes`` load generator
    processes (this one and helpers started with ``--url``), whose windows
    start together; the server's CPU is measured here, the rest added up."""
    processes = args.client_processes
    shares = [
        args.conferences // processes + (i < args.conferences % processes) for i in range(processes)
    ]
    starts = [sum(shares[:i]) for i in range(processes)]
    with tempfile.TemporaryDirectory(prefix="bench-") as work:
        barrier = os.path.join(work, "barrier")
        os.mkdir(barrier)
        helpers = []
        for i in range(1, processes):
            if not shares[i]:
                continue
            command = [
                sys.executable, "-m", "bench.forwarding",
                "--url", target.ws_url, "--secret", target.secret,
                "--publishers", str(publishers), "--subscribers", str(subscribers),
                "--conferences", str(shares[i]), "--first-conference", str(starts[i]),
                "--seconds", str(seconds), "--warmup", str(args.warmup), "--probes", "0",
                "--barrier", barrier, "--barrier-count", str(sum(1 for s in shares if s)),
                "--json", os.path.join(work, f"helper-{i}.json"),
                *(["--plenary"] if args.plenary else []),
                *(["--simulcast"] if layers else []),
                *(["--ignore-layers"] if args.ignore_layers else []),
            ]  # fmt: skip
            helpers.append(
                (i, subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            )
        try:
            result = await measure(
                target,
                publishers,
                subscribers,
                args.plenary,
                seconds,
                args.warmup,
                args.probes,
                clips,
                profile,
                label,
                args.profile_native,
                conferences=shares[0],
                barrier=Barrier(barrier, "0", sum(1 for s in shares if s)),
                layers=layers,
                follow_layers=not args.ignore_layers,
            )
            parts = [result["counts"]]
            for i, helper in helpers:
                status = await asyncio.get_running_loop().run_in_executor(None, helper.wait)
                if status != 0:
                    raise RuntimeError(f"load generator process {i} failed ({status})")
                with open(os.path.join(work, f"helper-{i}.json")) as f:
                    helper_result = json.load(f)
                parts.append(helper_result["counts"])
                for key in ("clients_disconnected", "clients_incomplete_at_start"):
                    result[key] += [f"process {i}: {x}" for x in helper_result[key]]
        finally:
            for _, helper in helpers:
                if helper.poll() is None:
                    helper.kill()
    return merge_counts(result, parts, args.conferences, processes)


def merge_counts(
    result: dict[str, Any], parts: list[dict[str, Any]], conferences: int, processes: int
) -> dict[str, Any]:
    """This process's result, with the packets, loss and frame rates of every
    load generator process added up (the server's CPU is this window's)."""
    seconds = result["counts"]["seconds"]
    rate = sum(p["forwarded"] / p["seconds"] for p in parts)
    forwarded = sum(p["forwarded"] for p in parts)
    lost = sum(p["lost"] for p in parts)
    expected = sum(p["expected"] for p in parts)
    fps = [f for p in parts for f in p["fps"]]
    server_cpu = result["counts"]["server_cpu_seconds"]
    client_cores = sum(p["client_cpu_seconds"] / p["seconds"] for p in parts)
    result.update(
        conferences=conferences,
        load_generator_processes=processes,
        forwarded_streams=sum(p["streams"] for p in parts),
        forwarded_packets_per_s=round(rate, 1),
        server_cpu_us_per_forwarded_packet=round(server_cpu / max(rate * seconds, 1) * 1e6, 2),
        loss_ratio=round(lost / max(forwarded + lost, 1), 5),
        loss_ratio_vs_sent=round(max(0.0, 1 - forwarded / expected), 5) if expected else None,
        udp_drops_at_client_sockets=sum(p["client_drops"] for p in parts),
        subscriber_video_fps_min=round(min(fps), 1) if fps else None,
        subscriber_video_fps_median=round(statistics.median(fps), 1) if fps else None,
        load_generator_cpu_cores=round(client_cores, 3),
        load_generator_saturated=any(p["client_cpu_seconds"] / p["seconds"] > 0.9 for p in parts),
    )
    result.pop("server_cpu_cores_per_forwarded_stream", None)
    result.pop("forwarded_mbit_per_s", None)
    result.pop("loss_ratio_video", None)
    return result


def simulcast_layers() -> list[tuple[str, Clip]]:
    """Three layers of one picture, as a browser's ``sendEncodings`` q, h, f."""
    sizes = (("q", 320, 180, 150_000), ("h", 640, 360, 500_000), ("f", 1280, 720, 1_500_000))
    return [(rid, encode_video(w, h, bitrate=rate)) for rid, w, h, rate in sizes]


def print_table(result: dict[str, Any], indent: str = "") -> None:
    width = max(map(len, result), default=0)
    for key, value in result.items():
        if key == "against_janus":
            continue  # printed as a table of its own
        if isinstance(value, dict):
            print(f"{indent}{key}:")
            print_table(value, indent + "  ")
        else:
            print(f"{indent}{key:<{width}}  {value}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="palabra bench forwarding", description=__doc__)
    parser.add_argument("--publishers", type=int, default=2)
    parser.add_argument("--subscribers", type=int, default=4)
    parser.add_argument(
        "--plenary",
        action="store_true",
        help="publishers are subscribers; --subscribers counts every receiver",
    )
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument(
        "--probes",
        type=int,
        default=4,
        help="late joiners timed after the window when no subscriber joins late",
    )
    parser.add_argument("--json", default=None, metavar="PATH")
    parser.add_argument("--url", default=None, help="target a running server (its ws URL)")
    parser.add_argument(
        "--secret",
        default=os.environ.get("PALABRA_SECRET", ""),
        help="token secret of the --url server",
    )
    parser.add_argument(
        "--conference",
        default=BENCH_CONFERENCE,
        help="conference of the --url server: open floor, no lobby, delegations d00...",
    )
    parser.add_argument(
        "--loop", choices=("uvloop", "asyncio"), default="uvloop", help="the server's event loop"
    )
    parser.add_argument("--client-loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument(
        "--media-port",
        type=int,
        default=None,
        metavar="PORT",
        help="one-port mode: the server's media on this UDP port (0: any free port)",
    )
    parser.add_argument(
        "--forwarding",
        choices=("native", "python", "both"),
        default=None,
        help="the server's forwarding path; both: native then Python, same run (default: native"
        " when built)",
    )
    parser.add_argument(
        "--profile",
        default=None,
        metavar="PATH",
        help="py-spy profile of the server during the window (raw stacks)",
    )
    parser.add_argument(
        "--profile-native", action="store_true", help="with --profile: C frames too (py-spy)"
    )
    parser.add_argument(
        "--profile-clients",
        default=None,
        metavar="PATH",
        help="py-spy profile of the load generator itself (joins and window)",
    )
    parser.add_argument(
        "--against",
        choices=("janus",),
        default=None,
        help="also measure Debian's janus VideoRoom under the same load, same core, same run",
    )
    parser.add_argument(
        "--last-n",
        type=int,
        default=None,
        metavar="N",
        help="the server's --last-n (default: its own, 9)",
    )
    parser.add_argument(
        "--simulcast",
        action="store_true",
        help="publishers send three VP8 layers, each subscriber gets one, with last-N; then "
        "the same size as before both (one layer, every video) for the ratios",
    )
    parser.add_argument(
        "--ignore-layers",
        action="store_true",
        help="with --simulcast: publishers send every layer whatever the server asks "
        "(publish.layers), as before dynacast",
    )
    parser.add_argument(
        "--baseline", action="store_true", help="also measure MediaRelay transcoding side by side"
    )
    parser.add_argument(
        "--conferences", type=int, default=1, help="meetings at once, each of this size"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server worker processes behind one port (palabra serve --workers N)",
    )
    parser.add_argument(
        "--client-processes",
        type=int,
        default=1,
        help="with --conferences: load generator processes the conferences are shared among",
    )
    # A helper process of --client-processes: its conferences, and where to meet the others.
    parser.add_argument("--first-conference", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--barrier", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--barrier-count", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--baseline-publishers", type=int, default=1)
    parser.add_argument("--baseline-subscribers", type=int, default=2)
    parser.add_argument("--baseline-seconds", type=float, default=10)
    args = parser.parse_args(argv)
    if args.plenary and args.subscribers < args.publishers:
        parser.error("--plenary needs --subscribers >= --publishers (publishers receive too)")
    if args.url and args.against:
        parser.error("--against starts its own servers: not with --url")
    if args.against and args.simulcast:
        parser.error("--simulcast is Palabra's: not with --against")
    if args.conferences < 1 or args.workers < 1 or args.client_processes < 1:
        parser.error("--conferences, --workers and --client-processes must be at least 1")
    if args.url and not args.secret:
        parser.error("--url needs --secret (or PALABRA_SECRET) to issue tokens")
    if not args.url:
        module_argv = sys.argv[1:] if argv is None else list(argv)
        ensure_loopback_only([sys.executable, "-m", "bench.forwarding", *module_argv])
    if args.client_loop == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    result = asyncio.run(run(args))
    if not args.barrier:
        result.pop("counts", None)  # a helper's raw figures, for the process that merges them
    print_table(result)
    if "against_janus" in result:
        print_side_by_side(result["against_janus"])
    if args.json:
        with open(args.json, "w") as out:
            json.dump(result, out, indent=2)
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
