"""``palabra`` command line."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

import uvloop
from aiohttp import web

from . import logs
from .app import create_app
from .config import ServerConfig
from .demo import DEMO_CONFERENCE, demo_links
from .tokens import issue_token


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="palabra", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the signaling server and SFU")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument(
        "--media-address",
        action="append",
        default=[],
        metavar="ADDR",
        help="address announced as ICE host candidate (repeatable); "
        "default: the machine's interfaces",
    )
    serve.add_argument("--secret", default=None, help="token secret (default: $PALABRA_SECRET)")
    serve.add_argument("--public-url", default="", help="base URL used in printed links")
    serve.add_argument("--demo", action="store_true", help="create the demo conference")
    serve.add_argument(
        "--recordings",
        default="recordings",
        metavar="DIR",
        help="folder for recordings of the floor (default: ./recordings)",
    )
    serve.add_argument(
        "--redis-url",
        default=None,
        help="Redis for durable state and several nodes (default: in memory)",
    )
    serve.add_argument("--node-id", default=None, help="this node's name (with --redis-url)")
    serve.add_argument(
        "--resume-grace",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long a dropped participant keeps its seat (default 30)",
    )
    serve.add_argument("--log-level", default="INFO")
    serve.add_argument("--log-json", action="store_true", help="log JSON lines")

    token = commands.add_parser("token", help="print a join token")
    token.add_argument("--secret", required=True)
    token.add_argument("--conference", required=True)
    token.add_argument("--role", required=True)
    token.add_argument("--name", required=True)
    token.add_argument("--delegation", default=None)
    token.add_argument("--ttl", type=float, default=24 * 3600, help="seconds")

    bench = commands.add_parser(
        "bench",
        help="benchmarks: forwarding (load generator, MediaRelay baseline), floor latency, "
        "interpretation (channel switch, handover)",
        add_help=False,
    )
    bench.add_argument("benchmark", choices=("forwarding", "floor", "interpretation"))
    bench.add_argument("options", nargs=argparse.REMAINDER, help="see palabra bench NAME --help")

    args = parser.parse_args(argv)
    if args.command == "bench":
        return bench_command(args.benchmark, args.options)
    if args.command == "token":
        print(
            issue_token(
                args.secret,
                conference=args.conference,
                role=args.role,
                name=args.name,
                delegation=args.delegation,
                ttl=args.ttl,
            )
        )
        return 0
    return serve_command(args)


def serve_command(args: argparse.Namespace) -> int:
    logs.configure(args.log_level, args.log_json)
    config = ServerConfig(
        host=args.host,
        port=args.port,
        media_addresses=args.media_address,
        public_url=args.public_url,
        demo=args.demo,
        log_json=args.log_json,
        recordings=Path(args.recordings),
        resume_grace=args.resume_grace,
        redis_url=args.redis_url,
    )
    if args.secret:
        config.secret = args.secret
    if args.node_id:
        config.node_id = args.node_id
    app = create_app(config, [DEMO_CONFERENCE] if config.demo else [])
    print(f"Palabra listening on {config.base_url}")
    if config.demo:
        print(f"Demo conference '{DEMO_CONFERENCE.title}' — join links:")
        for label, url in demo_links(config).items():
            print(f"  {label:<12} {url}")
        sys.stdout.flush()
    # uvloop's datagram path saves about 1 µs per forwarded packet.
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    web.run_app(app, host=config.host, port=config.port, print=None, shutdown_timeout=5.0)
    return 0


def bench_command(benchmark: str, options: Sequence[str]) -> int:
    """Run ``bench.forwarding`` or ``bench.floor`` with the remaining options."""
    if benchmark == "floor":
        from bench import floor

        return floor.main(options)
    if benchmark == "interpretation":
        from bench import interpretation

        return interpretation.main(options)
    from bench import forwarding

    return forwarding.main(options)
