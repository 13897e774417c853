"""The server process of a benchmark: Palabra (or the MediaRelay baseline) on one core.

Runs the real application (``server.app.create_app``) with one conference
``bench`` of ``--delegations`` delegations, open floor and no lobby, so that
synthetic participants are admitted and heard without a chair;
``--conferences C`` opens C such conferences (``bench``, ``bench-1``...), and
``--workers N`` runs them behind a front on N worker processes, as
``palabra serve --workers N`` does (server/workers.py). ``--loop``
picks the event loop, ``--forwarding`` the packet forwarding path;
``--baseline`` swaps the forwarding Router for
:class:`bench.baseline.RelayRouter` (decode + re-encode per subscriber).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from aiohttp import web

BENCH_CONFERENCE = "bench"


def conference_id(index: int) -> str:
    """The benchmark's conferences: ``bench``, ``bench-1``, ``bench-2``..."""
    return BENCH_CONFERENCE if index == 0 else f"{BENCH_CONFERENCE}-{index}"


def delegation_id(i: int) -> str:
    return f"d{i:02d}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.server", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--delegations", type=int, default=40)
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="uvloop")
    parser.add_argument("--baseline", action="store_true")
    parser.add_argument(
        "--forwarding", choices=("native", "python"), default=None, help="packet forwarding path"
    )
    parser.add_argument(
        "--formal", action="store_true", help="floor control enforced (no open floor)"
    )
    parser.add_argument(
        "--interpretation",
        action="store_true",
        help="floor in es, en, pt; en and pt channels; interpreter-0/1 in en, -2 in pt",
    )
    parser.add_argument(
        "--media-port", type=int, default=None, help="one UDP port for all media (0: any)"
    )
    parser.add_argument("--log", action="append", default=[], help="a logger to show at INFO")
    parser.add_argument(
        "--last-n", type=int, default=None, help="videos forwarded to each participant (--last-n)"
    )
    parser.add_argument("--conferences", type=int, default=1, help="conferences, all alike")
    parser.add_argument("--workers", type=int, default=1, help="worker processes behind a front")
    args = parser.parse_args(argv)

    if args.loop == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    if args.baseline:
        import server.palabra

        from .baseline import RelayRouter

        # The conference service builds its Router by this name.
        vars(server.palabra)["Router"] = RelayRouter

    from conference.plans import ConferencePlan, DelegationPlan
    from media import fastpath
    from rooms import AssignInterpreter, Command, OpenChannel, SetLanguages, Settings
    from server.app import create_app
    from server.config import ServerConfig

    logging.basicConfig(level=logging.WARNING, format="server %(levelname)s %(name)s: %(message)s")
    fastpath.select(args.forwarding)
    for name in args.log:
        logging.getLogger(name).setLevel(logging.INFO)
    setup: list[Command] = []
    if args.interpretation:
        setup = [SetLanguages(("es", "en", "pt")), OpenChannel("en"), OpenChannel("pt")]
        setup += [
            AssignInterpreter(f"interpreter-{i}", booth, (booth, "es", "en"))
            for i, booth in enumerate(("en", "en", "pt"))
        ]
    plans = [
        ConferencePlan(
            conference_id(index),
            "Benchmark plenary",
            tuple(
                DelegationPlan(
                    delegation_id(i), f"Delegation {i}", chr(65 + i // 26) + chr(65 + i % 26)
                )
                for i in range(args.delegations)
            ),
            Settings(
                lobby_enabled=False,
                open_floor=not args.formal,
                default_time_limit=None if args.formal else 180.0,
            ),
            setup,
        )
        for index in range(args.conferences)
    ]
    config = ServerConfig(
        host="127.0.0.1",
        port=args.port,
        media_addresses=["127.0.0.1"],
        media_port=args.media_port,
        secret=args.secret,
        forwarding=args.forwarding or "",
        log_level="WARNING",
    )
    if args.last_n is not None:
        config = replace(config, last_n=args.last_n)
    if args.workers > 1:
        asyncio.run(_serve_workers(config, plans, args.workers))
        return 0
    app = create_app(config, plans)
    web.run_app(app, host=config.host, port=config.port, print=None, shutdown_timeout=5.0)
    return 0


async def _serve_workers(config: Any, plans: list[Any], workers: int) -> None:
    """The front and its workers, until SIGTERM."""
    from server.front import create_front_app
    from server.workers import running_workers

    async with running_workers(config, plans, workers) as pool:
        runner = web.AppRunner(create_front_app(config, pool), shutdown_timeout=5.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, config.host, config.port).start()
            stop = asyncio.Event()
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
            await stop.wait()
            await pool.stop()  # the workers first, as palabra serve does
        finally:
            await runner.cleanup()


if __name__ == "__main__":
    sys.exit(main())
