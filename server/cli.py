"""``palabra`` command line."""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import ssl
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import uvloop
from aiohttp import web

from conference.plans import ConferencePlan
from media import fastpath
from rooms import AddAgendaItem

from . import logs, preflight
from .app import create_app
from .config import ServerConfig
from .credentials import check_credential
from .demo import DEMO_CONFERENCE, demo_links
from .front import create_front_app
from .https import redirect_app
from .options import ConfigError, add_serve_arguments, merged_settings
from .plan_file import read_plan_file
from .tokens import check_ttl, issue_token
from .workers import WorkersFailed, running_workers, worker_count


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="palabra", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the signaling server and SFU")
    add_serve_arguments(serve)

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
    return serve_command(args)


def _say_where(what: str, path: Path, made: bool) -> None:
    """Where a credential is kept is printed, never its value."""
    print(f"{what[0].upper()}{what[1:]}: {path}{' (generated)' if made else ''}")


def _select_forwarding(name: str) -> None:
    try:
        fastpath.select(name or None)
    except (ValueError, RuntimeError) as exc:
        raise ConfigError(f"forwarding: {exc}") from None


def serve_command(args: argparse.Namespace) -> int:
    """Check every setting, the certificate, the ports and TURN; then serve."""
    flags = {k: v for k, v in vars(args).items() if k != "command"}
    try:
        config = merged_settings(flags, credential_files=_say_where)
        plans = _start_up_conferences(config)
        _select_forwarding(config.forwarding)
        logs.configure(config.log_level, config.log_json, config.access_log)
        context = preflight.tls_context(config)
        sockets = [preflight.listen(config.host, config.port, "port")]
        if config.redirect_http_port is not None:
            sockets.append(
                preflight.listen(config.host, config.redirect_http_port, "redirect_http_port")
            )
    except ConfigError as exc:
        print(f"palabra serve: {exc}", file=sys.stderr)
        return 2
    # uvloop's datagram path saves about 1 µs per forwarded packet.
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    workers = worker_count(config.workers)
    try:
        if workers > 1:
            asyncio.run(_serve_front(config, context, sockets, plans, workers))
        else:
            asyncio.run(_serve(config, context, sockets, plans))
    except ConfigError as exc:
        print(f"palabra serve: {exc}", file=sys.stderr)
        return 2
    finally:
        for sock in sockets:
            sock.close()
    return 0


def _start_up_conferences(config: ServerConfig) -> list[ConferencePlan]:
    """The demo and the conference file's, checked before anything listens."""
    plans = [DEMO_CONFERENCE] if config.demo else []
    if config.conference_file is not None:
        plan = read_plan_file(config.conference_file)
        if any(p.id == plan.id for p in plans):
            raise ConfigError(f"conference_file: conference {plan.id!r} is the demo's id")
        plans.append(plan)
    return plans


async def _serve(
    config: ServerConfig,
    context: ssl.SSLContext | None,
    sockets: list[socket.socket],
    plans: list[ConferencePlan],
) -> None:
    if config.turn_urls and config.turn_check:
        await preflight.check_turn(config)
    app = create_app(config, plans)
    await _run_until_stopped(app, config, context, sockets, plans)


async def _serve_front(
    config: ServerConfig,
    context: ssl.SSLContext | None,
    sockets: list[socket.socket],
    plans: list[ConferencePlan],
    count: int,
) -> None:
    """The front and its ``count`` workers (server/workers.py, server/front.py)."""
    if config.turn_urls and config.turn_check:
        await preflight.check_turn(config)
    try:
        async with running_workers(config, plans, count) as pool:
            front = create_front_app(config, pool)
            # The workers stop first: their clients hear "server shutting down"
            # (1001) from them, through the front, as from a single process.
            await _run_until_stopped(front, config, context, sockets, plans, pool.stop)
    except WorkersFailed as exc:
        raise ConfigError(str(exc)) from None


async def _run_until_stopped(
    app: web.Application,
    config: ServerConfig,
    context: ssl.SSLContext | None,
    sockets: list[socket.socket],
    plans: list[ConferencePlan],
    before_cleanup: Callable[[], Awaitable[None]] | None = None,
) -> None:
    runner = web.AppRunner(app, shutdown_timeout=5.0)
    await runner.setup()
    runners = [runner]
    try:
        await web.SockSite(runner, sockets[0], ssl_context=context).start()
        if len(sockets) > 1:
            redirect = web.AppRunner(redirect_app(config))
            await redirect.setup()
            runners.append(redirect)
            await web.SockSite(redirect, sockets[1]).start()
        print(f"Palabra listening on {config.base_url}")
        for plan in plans:
            if plan is not DEMO_CONFERENCE:
                items = sum(isinstance(c, AddAgendaItem) for c in plan.setup)
                print(f"Conference '{plan.id}' ({plan.title}) opened with {items} agenda items")
        if config.demo:
            print(f"Demo conference '{DEMO_CONFERENCE.title}' — join links:")
            for label, url in demo_links(config).items():
                print(f"  {label:<12} {url}")
        sys.stdout.flush()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        if before_cleanup is not None:
            await before_cleanup()
    finally:
        for each in reversed(runners):
            await each.cleanup()


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
