"""``GET /metrics`` in the Prometheus text format.

Gauges are read from the live state at scrape time; counters come from the
process-wide totals the monitor keeps, so they only ever grow. Labels stay
bounded: per conference, per media kind, per alert kind and per floor event
type, never per stream or participant.
"""

from __future__ import annotations

from collections.abc import Iterator

from aiohttp import web
from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from media import fastpath
from media.udp_mux import DROP_REASONS

from .admin import bearer_matches, problem
from .palabra import Palabra, palabra_of


class PalabraCollector(Collector):
    def __init__(self, palabra: Palabra) -> None:
        self.palabra = palabra

    def collect(self) -> Iterator[Metric]:
        conferences = self.palabra.conferences.values()
        yield GaugeMetricFamily("palabra_conferences", "Open conferences", len(conferences))
        participants = GaugeMetricFamily(
            "palabra_participants", "Connected participants", labels=["conference", "where"]
        )
        producers = GaugeMetricFamily(
            "palabra_producers", "Published tracks", labels=["conference", "kind"]
        )
        consumers = GaugeMetricFamily(
            "palabra_consumers", "Forwarded tracks", labels=["conference", "kind"]
        )
        for c in conferences:
            in_room = sum(1 for m in c.members.values() if m.transport is not None)
            participants.add_metric([c.id, "room"], in_room)
            participants.add_metric([c.id, "lobby"], len(c.members) - in_room)
            for kind in ("audio", "video"):
                producers.add_metric(
                    [c.id, kind], sum(1 for p in c.router.producers.values() if p.kind == kind)
                )
                consumers.add_metric(
                    [c.id, kind],
                    sum(
                        1
                        for t in c.router.peers.values()
                        for k in t.consumers.values()
                        if k.kind == kind
                    ),
                )
        yield participants
        yield producers
        yield consumers
        totals = self.palabra.totals
        for name, value, text in (
            ("palabra_forwarded_packets", totals.forwarded_packets, "RTP packets forwarded"),
            ("palabra_forwarded_bytes", totals.forwarded_bytes, "RTP payload bytes forwarded"),
            ("palabra_received_packets", totals.received_packets, "RTP packets from publishers"),
            ("palabra_received_bytes", totals.received_bytes, "RTP payload bytes received"),
            (
                "palabra_media_probes",
                totals.media_probes,
                "Clients whose media fell silent, pinged to see if they are still there",
            ),
        ):
            yield CounterMetricFamily(name, text, value=value)
        alerts = CounterMetricFamily("palabra_alerts", "Alerts raised", labels=["kind"])
        for kind in ("freeze", "loss", "rtt", "publisher_gone", "media_reconnecting"):
            alerts.add_metric([kind], totals.alerts[kind])
        yield alerts
        floor = CounterMetricFamily("palabra_floor_events", "Floor events", labels=["type"])
        for event_type, count in sorted(totals.floor_events.items()):
            floor.add_metric([event_type], count)
        yield floor
        path = GaugeMetricFamily(
            "palabra_forwarding_path", "Packet forwarding implementation in use", labels=["path"]
        )
        for name in fastpath.IMPLEMENTATIONS:
            path.add_metric([name], 1 if name == fastpath.implementation() else 0)
        yield path
        native = fastpath.native_stats()
        yield CounterMetricFamily(
            "palabra_forwarding_send_errors",
            "Forwarded datagrams the kernel refused (native path)",
            value=native.get("send_errors", 0),
        )
        mux = self.palabra.udp_mux
        if mux is not None:
            figures = mux.stats()
            yield GaugeMetricFamily(
                "palabra_media_port_connections",
                "Connections on the shared media port",
                figures["connections"],
            )
            yield GaugeMetricFamily(
                "palabra_media_port_addresses",
                "Remote addresses bound on the shared media port",
                figures["addresses"],
            )
            dropped = CounterMetricFamily(
                "palabra_media_port_dropped",
                "Datagrams dropped on the shared media port",
                labels=["reason"],
            )
            for reason in DROP_REASONS:
                dropped.add_metric([reason], figures[f"dropped_{reason}"])
            yield dropped


def registry_for(palabra: Palabra) -> CollectorRegistry:
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)  # CPU seconds, resident memory, open files
    PlatformCollector(registry=registry)
    registry.register(PalabraCollector(palabra))
    return registry


METRICS_REGISTRY: web.AppKey[CollectorRegistry] = web.AppKey("metrics", CollectorRegistry)


async def metrics(request: web.Request) -> web.Response:
    """Only with the metrics token: the figures name every open conference."""
    if not bearer_matches(request, palabra_of(request.app).config.metrics_token):
        return problem(401, "unauthorized", "metrics need the metrics token")
    body = generate_latest(request.app[METRICS_REGISTRY])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def add_routes(app: web.Application) -> None:
    app[METRICS_REGISTRY] = registry_for(palabra_of(app))
    app.router.add_get("/metrics", metrics)
