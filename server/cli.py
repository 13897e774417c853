"""``palabra`` command line."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import uvloop
from aiohttp import web

from . import logs
from .app import create_app
from .config import ServerConfig
from .credentials import CredentialError, check_credential, read_or_create
from .demo import DEMO_CONFERENCE, demo_links
from .tokens import check_ttl, issue_token


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
    serve.add_argument(
        "--secret",
        default=None,
        help="token signing key, >= 32 bytes (default: $PALABRA_SECRET, else STATE/secret)",
    )
    serve.add_argument(
        "--admin-token",
        default=None,
        help="admin API bearer token, >= 32 bytes "
        "(default: $PALABRA_ADMIN_TOKEN, else STATE/admin-token)",
    )
    serve.add_argument(
        "--metrics-token",
        default=None,
        help="GET /metrics bearer token, >= 32 bytes "
        "(default: $PALABRA_METRICS_TOKEN, else STATE/metrics-token)",
    )
    serve.add_argument(
        "--state-dir",
        default="state",
        metavar="DIR",
        help="where credentials not given are generated and kept, mode 0600 (default ./state)",
    )
    serve.add_argument("--public-url", default="", help="base URL used in printed links")
    serve.add_argument(
        "--allowed-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="another origin (scheme://host[:port]) whose pages may connect (repeatable)",
    )
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
    key = token.add_mutually_exclusive_group(required=True)
    key.add_argument("--secret", help="the server's token signing key")
    key.add_argument("--secret-file", type=Path, help="file holding it (e.g. state/secret)")
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
        try:
            secret = args.secret or args.secret_file.read_text(encoding="utf-8").strip()
            print(
                issue_token(
                    check_credential(secret, "token secret"),
                    conference=args.conference,
                    role=args.role,
                    name=args.name,
                    delegation=args.delegation,
                    ttl=check_ttl(args.ttl),
                )
            )
        except (OSError, ValueError) as exc:
            token.error(str(exc))
        return 0
    try:
        return serve_command(args)
    except CredentialError as exc:
        serve.error(str(exc))


# Each credential: its option, its environment variable, its file in the state folder.
CREDENTIALS = (
    ("secret", "PALABRA_SECRET", "secret", "token signing key"),
    ("admin_token", "PALABRA_ADMIN_TOKEN", "admin-token", "admin API token"),
    ("metrics_token", "PALABRA_METRICS_TOKEN", "metrics-token", "metrics token"),
)


def credentials(args: argparse.Namespace) -> dict[str, str]:
    """Each credential from its option or variable, else from (or made into) its file.

    Only where a credential is kept is printed, never its value.
    """
    found = {}
    for option, variable, filename, what in CREDENTIALS:
        value = getattr(args, option) or os.environ.get(variable, "")
        if not value:
            path = Path(args.state_dir) / filename
            value, made = read_or_create(path, what)
            print(f"{what[0].upper()}{what[1:]}: {path}{' (generated)' if made else ''}")
        found[option] = value
    return found


def serve_command(args: argparse.Namespace) -> int:
    logs.configure(args.log_level, args.log_json)
    found = credentials(args)
    config = ServerConfig(
        host=args.host,
        port=args.port,
        media_addresses=args.media_address,
        public_url=args.public_url,
        allowed_origins=args.allowed_origin,
        demo=args.demo,
        log_json=args.log_json,
        recordings=Path(args.recordings),
        resume_grace=args.resume_grace,
        redis_url=args.redis_url,
        secret=found["secret"],
        admin_token=found["admin_token"],
        metrics_token=found["metrics_token"],
    )
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
