"""Prometheus text format for a monitoring stack: `upbit-tui headless --metrics-port PORT`.

Served by aiohttp on the event loop that owns the manager, so every scrape reads the manager's
state from the only thread that changes it (prometheus-client's own HTTP server would read it
from another thread). Values are read at scrape time from `manager.metrics()` and
`manager.dashboard()`; nothing is copied per event.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    StateSetMetricFamily,
)
from prometheus_client.registry import Collector

from upbit_tui.headless.output import LineWriter, OutputStats
from upbit_tui.net.connection import ConnectionState
from upbit_tui.net.metrics import CRITICAL, DEGRADED, HEALTHY, PerformanceMetrics

if TYPE_CHECKING:
    from upbit_tui.client.interface import AbstractWebSocketManager

log = logging.getLogger(__name__)

PREFIX = "upbit_tui"


class HeadlessCollector(Collector):
    """What the JSON-lines pipe wrote: lines by type, latency, output buffer and stalls."""

    def __init__(self, stats: OutputStats, writer: LineWriter | None = None) -> None:
        self._stats = stats
        self._writer = writer

    def collect(self) -> Iterable[Metric]:
        written = CounterMetricFamily(
            f"{PREFIX}_headless_events_written",
            "Events written to stdout as JSON lines, by Upbit type.",
            labels=["type"],
        )
        for name, count in sorted(self._stats.by_type.items()):
            written.add_metric([name], count)
        yield written
        latency = self._stats.latency
        histogram = HistogramMetricFamily(
            f"{PREFIX}_event_latency_seconds",
            "Exchange timestamp to the event's line handed to the output.",
        )
        histogram.add_metric([], latency.cumulative(), latency.total)
        yield histogram
        if self._writer is not None:
            yield CounterMetricFamily(
                f"{PREFIX}_headless_output_bytes",
                "Bytes written to stdout.",
                value=self._writer.bytes_written,
            )
            yield CounterMetricFamily(
                f"{PREFIX}_headless_output_stalls",
                "Times the output buffer was full and events waited (slow reader).",
                value=self._writer.stalls,
            )
            yield GaugeMetricFamily(
                f"{PREFIX}_headless_output_buffer_bytes",
                "Encoded lines waiting for the writer thread.",
                value=self._writer.buffered,
            )


class ManagerCollector(Collector):
    """The manager's metrics and dashboard, re-read at every scrape."""

    def __init__(self, manager: AbstractWebSocketManager) -> None:
        self._manager = manager

    def collect(self) -> Iterable[Metric]:
        try:
            metrics = self._manager.metrics()
            dashboard = self._manager.dashboard()
        except Exception:
            # A scrape must not take the stream down; the error is visible in the log.
            log.exception("reading the manager's metrics failed")
            return
        yield from manager_families(metrics, dashboard)


def manager_families(metrics: PerformanceMetrics, dashboard: dict[str, Any]) -> Iterator[Metric]:
    """Prometheus families from `manager.metrics()` and `manager.dashboard()`."""
    health = StateSetMetricFamily(
        f"{PREFIX}_health_status", "Health verdict (healthy, degraded, critical)."
    )
    health.add_metric([], {s: metrics.status == s for s in (HEALTHY, DEGRADED, CRITICAL)})
    yield health
    yield _gauge("active_connections", "Live WebSocket connections.", metrics.active_connections)
    yield from _connection_families(dashboard.get("connections", {}))
    yield _counter("reconnects", "Reconnections since start.", metrics.reconnection_count)
    yield _gauge(
        "messages_per_second", "Frames read per second (recent).", metrics.messages_per_second
    )
    yield _counter(
        "malformed_messages",
        "Frames that could not be decoded (skipped).",
        metrics.malformed_message_count,
    )
    yield _counter(
        "dropped_events",
        "Events dropped by backpressure policies.",
        metrics.dropped_message_count,
    )
    yield _counter("callback_errors", "Callbacks that raised.", metrics.callback_error_count)
    yield _gauge(
        "error_rate_percent",
        "Failed frames and callbacks, percent (recent).",
        metrics.error_rate_percent,
    )
    yield _gauge("queue_depth", "Events waiting in subscriber queues.", metrics.queue_depth)
    latency = GaugeMetricFamily(
        f"{PREFIX}_callback_latency_milliseconds",
        "Exchange timestamp to callback, over the recent deliveries.",
        labels=["stat"],
    )
    latency.add_metric(["average"], metrics.average_latency_ms)
    latency.add_metric(["p50"], metrics.p50_latency_ms)
    latency.add_metric(["p99"], metrics.p99_latency_ms)
    latency.add_metric(["max"], metrics.max_latency_ms)
    yield latency
    tokens = GaugeMetricFamily(
        f"{PREFIX}_rate_limit_tokens",
        "Requests each Upbit rate-limit group could send now without waiting.",
        labels=["group"],
    )
    for group, value in sorted(dashboard.get("rate_limit_tokens", {}).items()):
        tokens.add_metric([group], value)
    yield tokens
    yield from _subscriber_families(dashboard.get("subscribers", []))
    trades = dashboard.get("trades", {})
    yield _counter(
        "trades_backfilled",
        "Trades fetched over REST after a reconnect.",
        trades.get("backfilled", 0),
    )
    yield _counter(
        "trades_duplicates_dropped",
        "Trades seen twice and delivered once.",
        trades.get("duplicates_dropped", 0),
    )
    private = dashboard.get("private", {})
    yield _gauge(
        "private_available",
        "1 when the balance and order streams can run.",
        1 if private.get("available") else 0,
    )


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}_{name}", documentation, value=value)


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(f"{PREFIX}_{name}", documentation, value=value)


def _connection_families(connections: dict[str, dict[str, Any]]) -> Iterator[Metric]:
    label = ["connection"]
    up = GaugeMetricFamily(
        f"{PREFIX}_connection_up", "1 while the connection is live.", labels=label
    )
    state = StateSetMetricFamily(f"{PREFIX}_connection_state", "Connection state.", labels=label)
    epoch = GaugeMetricFamily(
        f"{PREFIX}_connection_epoch",
        "Generation of the connection: +1 on every (re)connect.",
        labels=label,
    )
    uptime = GaugeMetricFamily(
        f"{PREFIX}_connection_uptime_seconds", "Seconds the socket has been open.", labels=label
    )
    reconnects = CounterMetricFamily(
        f"{PREFIX}_connection_reconnects", "Reconnections of this connection.", labels=label
    )
    frames = CounterMetricFamily(
        f"{PREFIX}_connection_frames_received", "Frames read on this connection.", labels=label
    )
    for kind, status in sorted(connections.items()):
        current = str(status.get("state", ""))
        up.add_metric([kind], 1 if current == ConnectionState.LIVE.value else 0)
        state.add_metric([kind], {s.value: s.value == current for s in ConnectionState})
        epoch.add_metric([kind], status.get("epoch", 0))
        uptime.add_metric([kind], status.get("uptime", 0.0))
        reconnects.add_metric([kind], status.get("reconnects", 0))
        frames.add_metric([kind], status.get("frames_received", 0))
    yield from (up, state, epoch, uptime, reconnects, frames)


def _subscriber_families(subscribers: list[dict[str, Any]]) -> Iterator[Metric]:
    labels = ["client", "type"]
    delivered = CounterMetricFamily(
        f"{PREFIX}_events_delivered", "Events handed to subscriber callbacks.", labels=labels
    )
    dropped = CounterMetricFamily(
        f"{PREFIX}_subscriber_dropped_events",
        "Events this subscriber's policy dropped.",
        labels=[*labels, "policy"],
    )
    errors = CounterMetricFamily(
        f"{PREFIX}_subscriber_callback_errors",
        "Callbacks of this subscriber that raised.",
        labels=labels,
    )
    depth = GaugeMetricFamily(
        f"{PREFIX}_subscriber_queue_depth", "Events waiting for this subscriber.", labels=labels
    )
    # A client has one queue per market for trades (and may subscribe a type twice): a label
    # set must appear once per scrape, so the subscriptions of one (client, type) are summed.
    totals: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    drops: Counter[tuple[str, str, str]] = Counter()
    for sub in subscribers:
        key = (str(sub.get("client_id") or "?"), str(sub.get("type")))
        for field in ("delivered", "callback_errors", "queue_depth"):
            totals[key][field] += sub.get(field, 0)
        drops[(*key, str(sub.get("policy")))] += sub.get("dropped", 0)
    for client_type, total in sorted(totals.items()):
        delivered.add_metric(client_type, total["delivered"])
        errors.add_metric(client_type, total["callback_errors"])
        depth.add_metric(client_type, total["queue_depth"])
    for with_policy, count in sorted(drops.items()):
        dropped.add_metric(with_policy, count)
    yield from (delivered, dropped, errors, depth)


class MetricsExporter:
    """`/metrics` over HTTP on the running event loop; `start()` returns the bound port."""

    def __init__(
        self,
        manager: AbstractWebSocketManager,
        stats: OutputStats | None = None,
        *,
        writer: LineWriter | None = None,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        ProcessCollector(registry=self.registry)
        self.registry.register(ManagerCollector(manager))
        if stats is not None:
            self.registry.register(HeadlessCollector(stats, writer))
        self._runner: web.AppRunner | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        app = web.Application()
        app.router.add_get("/metrics", self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        return int(runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(self.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )
