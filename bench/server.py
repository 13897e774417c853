"""The server process of a benchmark: Palabra (or the MediaRelay baseline) on one core.

Runs the real application (``server.app.create_app``) with one conference
``bench`` of ``--delegations`` delegations, open floor and no lobby, so that
synthetic participants are admitted and heard without a chair. ``--loop``
picks the event loop, ``--forwarding`` the packet forwarding path;
``--baseline`` swaps the forwarding Router for
:class:`bench.baseline.RelayRouter` (decode + re-encode per subscriber).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from aiohttp import web

BENCH_CONFERENCE = "bench"


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
    args = parser.parse_args(argv)

    if args.loop == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    if args.baseline:
        import server.palabra

        from .baseline import RelayRouter

        # The conference service builds its Router by this name.
        vars(server.palabra)["Router"] = RelayRouter

    from media import fastpath
    from rooms import AssignInterpreter, Command, OpenChannel, SetLanguages, Settings
    from server.app import create_app
    from server.conference import ConferencePlan, DelegationPlan
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
    plan = ConferencePlan(
        BENCH_CONFERENCE,
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
    config = ServerConfig(
        host="127.0.0.1",
        port=args.port,
        media_addresses=["127.0.0.1"],
        media_port=args.media_port,
        secret=args.secret,
    )
    app = create_app(config, [plan])
    web.run_app(app, host=config.host, port=config.port, print=None, shutdown_timeout=5.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
