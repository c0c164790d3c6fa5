"""Counters, rates and latency: cheap to update on the hot path, summarised on demand.

The manager owns one `MetricsCollector`; the connection's read loop and the router feed it:

    metrics = MetricsCollector(health=config.health)
    metrics.record_message()                 # per frame read (the read loop)
    metrics.record_bad_frame()               # malformed / error frame (the read loop)
    metrics.latency.record(ms)               # exchange timestamp -> callback (the router,
                                             #   sampled: see upbit_tui.net.routing)
    metrics.record_deliveries(n)             # callbacks run, per batch (the router)
    metrics.record_callback_error()          # a callback raised (the router)
    metrics.record_reconnect()               # a connection came back (the connection)
    m = metrics.snapshot(active_connections=1, connection_uptime=timedelta(seconds=42),
                         queue_depth=router.queue_depth(), dropped=router.dropped(),
                         callback_errors=router.callback_errors(), subscriptions=state.summary())
    m.status, m.reasons, m.to_dict()

`PerformanceMetrics` carries the spec's section 6.1 fields plus p50/p99 latency, status and
reasons. Rates and the error rate cover the last `window` seconds (default 10); latency
statistics cover the last `latency_samples` samples (a fixed-memory ring). Error rate =
(bad frames + callback errors) / (frames + deliveries) over the window, in percent.

Implausible timestamps: a latency sample more than `MAX_PLAUSIBLE_LATENCY_MS` (one day) either
way, or not finite, comes from a timestamp no live exchange message can carry (a hostile or
broken server sent 1e30, a negative number, a date far off): it is left out of the statistics
and counted (`implausible_timestamp_count`). One day, because a real clock skew or a stalled
stream is seconds to hours, and one poisoned sample must not move the average by 1e28 ms.

Health (`evaluate_health`): critical when the average latency exceeds `health.latency_ms` or no
connection is up while something is subscribed (or `connection_problem` says so); degraded when
the error rate exceeds `health.error_rate_percent`, messages are being dropped, or p99 latency
exceeds the threshold; healthy otherwise. Every non-healthy status comes with reasons.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any, Final

import psutil

from upbit_tui.config import HealthConfig

# Latency samples beyond this (either way) come from implausible timestamps: not statistics.
MAX_PLAUSIBLE_LATENCY_MS: Final = 86_400_000.0

HEALTHY: Final = "healthy"
DEGRADED: Final = "degraded"
CRITICAL: Final = "critical"


class RateWindow:
    """Counts per whole second over a sliding window of `seconds` seconds (fixed memory)."""

    __slots__ = ("_buckets", "_current", "_seconds", "total")

    def __init__(self, seconds: int = 10) -> None:
        if seconds < 1:
            raise ValueError("a rate window needs at least 1 second")
        self._seconds = seconds
        self._buckets = [0] * seconds
        self._current = int(time.monotonic())
        self.total = 0

    def add(self, n: int = 1, now: float | None = None) -> None:
        second = int(time.monotonic() if now is None else now)
        if second != self._current:
            self._advance(second)
        self._buckets[second % self._seconds] += n
        self.total += n

    def _advance(self, second: int) -> None:
        gap = second - self._current
        if gap >= self._seconds or gap < 0:
            self._buckets = [0] * self._seconds
        else:
            for s in range(self._current + 1, second + 1):
                self._buckets[s % self._seconds] = 0
        self._current = second

    def count(self, now: float | None = None) -> int:
        """Events in the window, excluding the current partial second."""
        second = int(time.monotonic() if now is None else now)
        if second != self._current:
            self._advance(second)
        return sum(self._buckets) - self._buckets[second % self._seconds]

    def per_second(self, now: float | None = None) -> float:
        """Average rate over the last `seconds - 1` complete seconds."""
        full = self._seconds - 1 if self._seconds > 1 else 1
        return self.count(now) / full


def _plausible(ms: float) -> bool:
    # NaN fails both comparisons; inf fails the bound.
    return -MAX_PLAUSIBLE_LATENCY_MS <= ms <= MAX_PLAUSIBLE_LATENCY_MS


class LatencyWindow:
    """The last `size` latency samples (ms) in a ring; statistics computed on demand.

    Samples from implausible timestamps (see the module docstring) are left out of `stats()` and
    counted in `implausible`. The router writes the ring directly (hot path), so they are counted
    when statistics are taken: a sample overwritten before that (more than `size` samples between
    two `stats()` calls) is not counted, but never reaches a statistic either.
    """

    __slots__ = ("_checked", "_index", "_mask", "_ring", "implausible")

    def __init__(self, size: int = 4096) -> None:
        if size < 1 or size & (size - 1):
            raise ValueError("latency window size must be a power of two")
        # A list, not an array('d'): storing an existing float object is cheaper than converting.
        self._ring: list[float] = [0.0] * size
        self._mask = size - 1
        # Total samples ever recorded; the router inlines record() and updates it directly.
        self._index = 0
        self._checked = 0  # samples up to here were looked at for `implausible`
        self.implausible = 0

    @property
    def count(self) -> int:
        return self._index

    def record(self, ms: float) -> None:
        i = self._index
        self._ring[i & self._mask] = ms
        self._index = i + 1

    def samples(self) -> list[float]:
        n = min(self._index, self._mask + 1)
        return self._ring[:n] if n <= self._mask else list(self._ring)

    def _count_implausible(self) -> None:
        index, size = self._index, self._mask + 1
        start = max(self._checked, index - size)
        ring, mask = self._ring, self._mask
        self.implausible += sum(1 for i in range(start, index) if not _plausible(ring[i & mask]))
        self._checked = index

    def stats(self) -> LatencyStats:
        self._count_implausible()
        values = sorted(ms for ms in self.samples() if _plausible(ms))
        if not values:
            return LatencyStats()
        n = len(values)
        return LatencyStats(
            average_ms=math.fsum(values) / n,
            p50_ms=values[_rank(n, 0.50)],
            p99_ms=values[_rank(n, 0.99)],
            max_ms=values[-1],
            samples=n,
        )


def _rank(n: int, q: float) -> int:
    # Nearest-rank percentile.
    return max(0, min(n - 1, math.ceil(q * n) - 1))


@dataclass(frozen=True)
class LatencyStats:
    average_ms: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    samples: int = 0


@dataclass(frozen=True)
class PerformanceMetrics:
    """shared/spec-v6.md 6.1, plus percentiles, totals and the health verdict."""

    # connections
    active_connections: int = 0
    connection_uptime: timedelta = timedelta(0)
    reconnection_count: int = 0
    # throughput and latency (exchange timestamp -> callback)
    messages_per_second: float = 0.0
    average_latency_ms: float = 0.0
    p50_latency_ms: float = 0.0
    p99_latency_ms: float = 0.0
    max_latency_ms: float = 0.0
    # resources
    memory_usage_mb: float = 0.0
    cpu_usage_percent: float = 0.0
    queue_depth: int = 0
    # errors
    error_rate_percent: float = 0.0
    dropped_message_count: int = 0
    callback_error_count: int = 0
    malformed_message_count: int = 0
    implausible_timestamp_count: int = 0  # left out of the latency statistics
    # totals
    messages_total: int = 0
    deliveries_total: int = 0
    subscriptions: Mapping[str, Mapping[str, list[str]]] = field(default_factory=dict)
    # verdict
    status: str = HEALTHY
    reasons: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable (uptime in seconds, floats rounded for humans)."""
        data = asdict(self)
        data["connection_uptime"] = round(self.connection_uptime.total_seconds(), 3)
        data["reasons"] = list(self.reasons)
        data["subscriptions"] = {c: dict(t) for c, t in self.subscriptions.items()}
        for key, value in data.items():
            if isinstance(value, float):
                data[key] = round(value, 3)
        return data


@dataclass(frozen=True)
class HealthVerdict:
    status: str
    reasons: tuple[str, ...]


def evaluate_health(
    *,
    health: HealthConfig,
    active_connections: int,
    wants_connection: bool,
    error_rate_percent: float,
    average_latency_ms: float,
    p99_latency_ms: float,
    drops_in_window: int = 0,
    connection_problem: str | None = None,
) -> HealthVerdict:
    """healthy / degraded / critical with the reasons (see the module docstring)."""
    critical: list[str] = []
    degraded: list[str] = []
    if connection_problem:
        critical.append(connection_problem)
    elif wants_connection and active_connections == 0:
        critical.append("no connection is up")
    if average_latency_ms > health.latency_ms:
        critical.append(
            f"average latency {average_latency_ms:.0f} ms above {health.latency_ms:.0f} ms"
        )
    elif p99_latency_ms > health.latency_ms:
        degraded.append(f"p99 latency {p99_latency_ms:.0f} ms above {health.latency_ms:.0f} ms")
    if error_rate_percent > health.error_rate_percent:
        degraded.append(
            f"error rate {error_rate_percent:.1f}% above {health.error_rate_percent:.1f}%"
        )
    if drops_in_window:
        degraded.append(f"{drops_in_window} events dropped by slow consumers")
    if critical:
        return HealthVerdict(CRITICAL, tuple(critical + degraded))
    if degraded:
        return HealthVerdict(DEGRADED, tuple(degraded))
    return HealthVerdict(HEALTHY, ())


class MetricsCollector:
    """Hot-path counters plus the on-demand `snapshot()`. See the module docstring."""

    def __init__(
        self,
        health: HealthConfig | None = None,
        *,
        window: int = 10,
        latency_samples: int = 4096,
    ) -> None:
        self.health = health or HealthConfig()
        self.messages = RateWindow(window)
        self.deliveries = RateWindow(window)
        self.bad_frames = RateWindow(window)
        self.callback_errors = RateWindow(window)
        self.drops = RateWindow(window)
        self.latency = LatencyWindow(latency_samples)
        self.reconnections = 0
        self._process = psutil.Process(os.getpid())
        self._process.cpu_percent(None)  # the first call only starts the measurement

    # ---------------------------------------------------------------- hot path

    def record_message(self, n: int = 1) -> None:
        self.messages.add(n)

    def record_bad_frame(self) -> None:
        self.bad_frames.add(1)

    def record_deliveries(self, n: int) -> None:
        self.deliveries.add(n)

    def record_callback_error(self) -> None:
        self.callback_errors.add(1)

    def record_drops(self, n: int = 1) -> None:
        self.drops.add(n)

    def record_reconnect(self) -> None:
        self.reconnections += 1

    # ---------------------------------------------------------------- summary

    def error_rate_percent(self) -> float:
        errors = self.bad_frames.count() + self.callback_errors.count()
        work = self.messages.count() + self.deliveries.count()
        if errors == 0:
            return 0.0
        return min(100.0, 100.0 * errors / max(work, errors))

    def snapshot(
        self,
        *,
        active_connections: int = 0,
        connection_uptime: timedelta = timedelta(0),
        wants_connection: bool = False,
        queue_depth: int = 0,
        dropped: int | None = None,
        callback_errors: int | None = None,
        subscriptions: Mapping[str, Mapping[str, list[str]]] | None = None,
        connection_problem: str | None = None,
    ) -> PerformanceMetrics:
        """Everything in one record. Arguments the collector cannot know come from the owner
        (connections, the router's totals, the subscription state)."""
        latency = self.latency.stats()
        error_rate = self.error_rate_percent()
        verdict = evaluate_health(
            health=self.health,
            active_connections=active_connections,
            wants_connection=wants_connection,
            error_rate_percent=error_rate,
            average_latency_ms=latency.average_ms,
            p99_latency_ms=latency.p99_ms,
            drops_in_window=self.drops.count(),
            connection_problem=connection_problem,
        )
        try:
            rss = self._process.memory_info().rss / (1024 * 1024)
            cpu = self._process.cpu_percent(None)
        except psutil.Error:
            rss, cpu = 0.0, 0.0
        return PerformanceMetrics(
            active_connections=active_connections,
            connection_uptime=connection_uptime,
            reconnection_count=self.reconnections,
            messages_per_second=self.messages.per_second(),
            average_latency_ms=latency.average_ms,
            p50_latency_ms=latency.p50_ms,
            p99_latency_ms=latency.p99_ms,
            max_latency_ms=latency.max_ms,
            memory_usage_mb=rss,
            cpu_usage_percent=cpu,
            queue_depth=queue_depth,
            error_rate_percent=error_rate,
            dropped_message_count=self.drops.total if dropped is None else dropped,
            callback_error_count=(
                self.callback_errors.total if callback_errors is None else callback_errors
            ),
            malformed_message_count=self.bad_frames.total,
            implausible_timestamp_count=self.latency.implausible,
            messages_total=self.messages.total,
            deliveries_total=self.deliveries.total,
            subscriptions=dict(subscriptions or {}),
            status=verdict.status,
            reasons=verdict.reasons,
        )
