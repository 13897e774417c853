"""``palabra`` command line."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from aiohttp import web

from .app import create_app
from .config import ServerConfig
from .demo import DEMO_CONFERENCE, demo_links
from .palabra import palabra_of
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
    serve.add_argument("--log-level", default="INFO")

    token = commands.add_parser("token", help="print a join token")
    token.add_argument("--secret", required=True)
    token.add_argument("--conference", required=True)
    token.add_argument("--role", required=True)
    token.add_argument("--name", required=True)
    token.add_argument("--delegation", default=None)
    token.add_argument("--ttl", type=float, default=24 * 3600, help="seconds")

    args = parser.parse_args(argv)
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
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    config = ServerConfig(
        host=args.host,
        port=args.port,
        media_addresses=args.media_address,
        public_url=args.public_url,
        demo=args.demo,
    )
    if args.secret:
        config.secret = args.secret
    app = create_app(config)
    if config.demo:
        palabra_of(app).add_conference(DEMO_CONFERENCE)
        print(f"Demo conference '{DEMO_CONFERENCE.title}' — join links:")
        for label, url in demo_links(config).items():
            print(f"  {label:<12} {url}")
        sys.stdout.flush()
    web.run_app(app, host=config.host, port=config.port, print=None, shutdown_timeout=5.0)
    return 0
