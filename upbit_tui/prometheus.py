"""Prometheus text format for a monitoring stack: `upbit-tui headless --metrics-port PORT`.

Served by aiohttp on the event loop that owns the manager, so every scrape reads the manager's
state from the only thread that changes it (prometheus-client's own HTTP server would read it
from another thread). Values are read at scrape time from `manager.metrics()` and
`manager.dashboard()`; nothing is copied per event.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from collections.abc import Iterable, Iterator
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from upbit_tui.headless_output import LineWriter, OutputStats

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

    def __init__(self, manager: Any) -> None:
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


def manager_families(metrics: Any, dashboard: dict[str, Any]) -> Iterator[Metric]:
    """Prometheus families from a PerformanceMetrics record and the dashboard dict."""
    yield GaugeMetricFamily(
        f"{PREFIX}_active_connections",
        "Open WebSocket connections.",
        value=_number(metrics, "active_connections"),
    )
    yield GaugeMetricFamily(
        f"{PREFIX}_messages_per_second",
        "Messages received per second (recent rate).",
        value=_number(metrics, "messages_per_second"),
    )
    yield CounterMetricFamily(
        f"{PREFIX}_reconnects",
        "Reconnections since start.",
        value=_number(metrics, "reconnection_count"),
    )
    yield CounterMetricFamily(
        f"{PREFIX}_dropped_events",
        "Events dropped by backpressure policies.",
        value=_number(metrics, "dropped_message_count"),
    )
    yield CounterMetricFamily(
        f"{PREFIX}_callback_errors",
        "Callbacks that raised.",
        value=_number(metrics, "callback_error_count"),
    )
    yield GaugeMetricFamily(
        f"{PREFIX}_queue_depth",
        "Events waiting in subscriber queues.",
        value=_number(metrics, "queue_depth"),
    )
    yield GaugeMetricFamily(
        f"{PREFIX}_error_rate_percent",
        "Share of frames or callbacks that failed, percent.",
        value=_number(metrics, "error_rate_percent"),
    )
    latency = GaugeMetricFamily(
        f"{PREFIX}_latency_ms",
        "Exchange timestamp to callback latency, by statistic.",
        labels=["stat"],
    )
    for stat in ("average", "p50", "p99", "max"):
        field = f"{stat}_latency_ms"
        if hasattr(metrics, field):
            latency.add_metric([stat], _number(metrics, field))
    yield latency


def _number(obj: Any, name: str) -> float:
    value = getattr(obj, name, None)
    if value is None and isinstance(obj, dict):
        value = obj.get(name)
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value or 0)


class MetricsExporter:
    """`/metrics` over HTTP on the running event loop; `start()` returns the bound port."""

    def __init__(
        self, manager: Any, stats: OutputStats | None = None, *, writer: LineWriter | None = None
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
