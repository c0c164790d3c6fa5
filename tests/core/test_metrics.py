"""metrics: sliding rates, latency percentiles, health verdicts, the PerformanceMetrics record."""

from __future__ import annotations

import json
import math
from datetime import timedelta

import pytest

from upbit_tui.config import HealthConfig
from upbit_tui.net.metrics import (
    CRITICAL,
    DEGRADED,
    HEALTHY,
    LatencyWindow,
    MetricsCollector,
    PerformanceMetrics,
    RateWindow,
    evaluate_health,
)


def test_rate_window_counts_complete_seconds_only() -> None:
    window = RateWindow(seconds=5)
    for t in (100.1, 100.5, 101.2, 101.3, 101.9, 102.0):
        window.add(1, now=t)
    # At 102.x the current second (102) is partial and excluded: 2 + 3 in the window.
    assert window.count(now=102.5) == 5
    assert window.per_second(now=102.5) == pytest.approx(5 / 4)
    assert window.total == 6


def test_rate_window_forgets_old_seconds() -> None:
    window = RateWindow(seconds=3)
    window.add(10, now=50.0)
    window.add(1, now=51.0)
    assert window.count(now=52.0) == 11
    assert window.count(now=53.0) == 1  # second 50 slid out
    assert window.count(now=500.0) == 0  # a long gap clears everything
    assert window.total == 11
    with pytest.raises(ValueError, match="at least 1 second"):
        RateWindow(0)


def test_latency_percentiles_over_the_ring() -> None:
    window = LatencyWindow(size=128)
    for ms in range(1, 101):  # 1..100 ms
        window.record(float(ms))
    stats = window.stats()
    assert stats.samples == 100
    assert stats.average_ms == pytest.approx(50.5)
    assert stats.p50_ms == 50.0 and stats.p99_ms == 99.0 and stats.max_ms == 100.0


def test_latency_ring_keeps_fixed_memory_and_recent_samples() -> None:
    window = LatencyWindow(size=8)
    for ms in range(1000):
        window.record(float(ms))
    stats = window.stats()
    assert stats.samples == 8 and window.count == 1000
    assert stats.max_ms == 999.0 and stats.p50_ms == 995.0  # only the last eight remain
    assert LatencyWindow().stats().samples == 0
    with pytest.raises(ValueError, match="power of two"):
        LatencyWindow(size=100)


@pytest.mark.parametrize(
    "poison", [-1e30, 1e30, 2e11, -2e11, math.inf, -math.inf, math.nan, -(10.0**300)]
)
def test_implausible_timestamps_never_reach_latency_statistics(poison: float) -> None:
    # A timestamp of 1e30 ms gives a latency of about -1e30 ms; a negative one about +now.
    window = LatencyWindow(size=16)
    for ms in (10.0, 20.0, poison, 30.0):
        window.record(ms)
    stats = window.stats()
    assert (stats.samples, stats.average_ms, stats.max_ms) == (3, 20.0, 30.0)
    assert window.implausible == 1
    window.stats()  # counted once, however often statistics are taken
    assert window.implausible == 1


def test_implausible_samples_written_straight_into_the_ring_are_counted() -> None:
    # The router inlines record(): it writes the ring and the index itself.
    collector = MetricsCollector(HEALTH)
    ring, index = collector.latency._ring, collector.latency._index
    ring[index] = 5.0
    ring[index + 1] = 1000.0 * 1e6 - 1e30
    collector.latency._index = index + 2
    m = collector.snapshot(active_connections=1, wants_connection=True)
    assert m.average_latency_ms == 5.0 and m.implausible_timestamp_count == 1
    assert m.status == HEALTHY


def test_plausible_extremes_stay_in_the_statistics() -> None:
    # A real clock skew (exchange ahead of us) or an hour-old stream is not hidden.
    window = LatencyWindow(size=4)
    window.record(-5000.0)
    window.record(3.6e6)
    assert window.stats().samples == 2 and window.implausible == 0


HEALTH = HealthConfig(error_rate_percent=5.0, latency_ms=1000.0)


def verdict(**kwargs: object) -> tuple[str, tuple[str, ...]]:
    args: dict[str, object] = {
        "health": HEALTH,
        "active_connections": 1,
        "wants_connection": True,
        "error_rate_percent": 0.0,
        "average_latency_ms": 10.0,
        "p99_latency_ms": 20.0,
    }
    args.update(kwargs)
    v = evaluate_health(**args)  # type: ignore[arg-type]
    return v.status, v.reasons


def test_health_is_healthy_without_problems() -> None:
    assert verdict() == (HEALTHY, ())
    assert verdict(active_connections=0, wants_connection=False) == (HEALTHY, ())


def test_error_rate_and_drops_degrade() -> None:
    status, reasons = verdict(error_rate_percent=7.5)
    assert status == DEGRADED and reasons == ("error rate 7.5% above 5.0%",)
    status, reasons = verdict(drops_in_window=12)
    assert status == DEGRADED and "12 events dropped" in reasons[0]
    status, _ = verdict(p99_latency_ms=1500.0)
    assert status == DEGRADED


def test_latency_and_lost_connection_are_critical() -> None:
    status, reasons = verdict(average_latency_ms=1200.0, error_rate_percent=9.0)
    assert status == CRITICAL
    assert reasons == ("average latency 1200 ms above 1000 ms", "error rate 9.0% above 5.0%")
    assert verdict(active_connections=0) == (CRITICAL, ("no connection is up",))
    assert verdict(connection_problem="reconnecting (attempt 12)")[0] == CRITICAL


def test_thresholds_come_from_config() -> None:
    strict = HealthConfig(error_rate_percent=0.5, latency_ms=50.0)
    assert verdict(health=strict, error_rate_percent=1.0)[0] == DEGRADED
    assert verdict(health=strict, average_latency_ms=60.0)[0] == CRITICAL


def test_collector_snapshot_has_every_spec_field_and_serialises() -> None:
    collector = MetricsCollector(HEALTH)
    for _ in range(5):
        collector.latency.record(12.0)
    collector.record_reconnect()
    m = collector.snapshot(
        active_connections=1,
        connection_uptime=timedelta(seconds=42.5),
        wants_connection=True,
        queue_depth=3,
        dropped=4,
        callback_errors=2,
        subscriptions={"chart": {"ticker": ["KRW-BTC"]}},
    )
    assert isinstance(m, PerformanceMetrics)
    spec_fields = {
        "active_connections",
        "connection_uptime",
        "reconnection_count",
        "messages_per_second",
        "average_latency_ms",
        "max_latency_ms",
        "memory_usage_mb",
        "cpu_usage_percent",
        "queue_depth",
        "error_rate_percent",
        "dropped_message_count",
        "callback_error_count",
    }
    assert spec_fields <= set(PerformanceMetrics.__dataclass_fields__)
    assert m.reconnection_count == 1 and m.queue_depth == 3
    assert m.average_latency_ms == 12.0 and m.p99_latency_ms == 12.0
    assert m.dropped_message_count == 4 and m.callback_error_count == 2
    assert m.memory_usage_mb > 1.0  # this process's RSS, from psutil
    assert m.cpu_usage_percent >= 0.0
    assert m.status == HEALTHY
    data = json.loads(json.dumps(m.to_dict()))
    assert data["connection_uptime"] == 42.5
    assert data["subscriptions"] == {"chart": {"ticker": ["KRW-BTC"]}}
    assert data["status"] == "healthy" and data["reasons"] == []


def test_error_rate_counts_bad_frames_and_callback_errors() -> None:
    collector = MetricsCollector(HEALTH, window=5)
    now = collector.messages._current  # the window's clock (monotonic seconds)
    collector.messages.add(90, now=now - 1)
    collector.deliveries.add(90, now=now - 1)
    collector.bad_frames.add(6, now=now - 1)
    collector.callback_errors.add(12, now=now - 1)
    # 18 errors out of 180 units of work = 10%.
    assert collector.error_rate_percent() == pytest.approx(10.0)
    m = collector.snapshot(active_connections=1, wants_connection=True)
    assert m.status == DEGRADED and "error rate 10.0%" in m.reasons[0]
    assert m.malformed_message_count == 6 and m.callback_error_count == 12


def test_error_rate_is_capped_and_zero_without_errors() -> None:
    collector = MetricsCollector(HEALTH)
    assert collector.error_rate_percent() == 0.0
    collector.callback_errors.add(5, now=collector.messages._current - 1)
    assert collector.error_rate_percent() == 100.0
