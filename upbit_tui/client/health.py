"""HealthReport: the manager's state read as a verdict (healthy / degraded / critical) and reports.

Reads only; changes nothing. The verdict gathers every reason an operator must act on or know
about: a public connection down, private data on REST polling, a refused request or code, a
recent trade gap, a market whose live trades are all being dropped. `metrics()` is the spec's
section 6.1 record with that verdict; `health_check()` adds the connections and the private
side; `dashboard()` is everything an operator screen shows.

    report = HealthReport(manager)
    await report.count_frames(metrics)          # the manager's task: message rates
    report.connection_status() / verdict() / metrics() / health() / dashboard()
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from upbit_tui.net.metrics import DEGRADED, HEALTHY, MetricsCollector, PerformanceMetrics

if TYPE_CHECKING:
    from upbit_tui.client.manager import GlobalWebSocketManager

PUBLIC = "public"


class HealthReport:
    """Health, metrics and the dashboard of one manager; see the module docstring."""

    def __init__(self, manager: GlobalWebSocketManager) -> None:
        self._manager = manager
        self.rates: dict[str, float] = {}  # smoothed messages/s per connection kind

    async def count_frames(self, metrics: MetricsCollector, period: float = 0.25) -> None:
        """Feed frame counts to the rate windows a few times a second (not per frame)."""
        counted: dict[int, int] = {}
        rates = self.rates
        while True:
            await asyncio.sleep(period)
            for conn in self._manager.connections().values():
                seen = conn.frames_received
                delta = seen - counted.get(id(conn), 0)
                counted[id(conn)] = seen
                if delta > 0:
                    metrics.record_message(delta)
                # Smoothed per-connection rate for the dashboard (about a 2 s memory).
                rate = rates.get(conn.kind, 0.0)
                rates[conn.kind] = rate + 0.125 * (delta / period - rate)

    def connection_status(self) -> dict[str, dict[str, Any]]:
        """Per connection: state, epoch, uptime, reconnects, last error, messages per second."""
        out = {}
        for kind, conn in self._manager.connections().items():
            status = conn.status()
            status["messages_per_second"] = round(self.rates.get(kind, 0.0), 1)
            out[kind] = status
        return out

    def verdict(self) -> tuple[str | None, list[str]]:
        """(critical problem or None, degraded reasons)."""
        m = self._manager
        critical: str | None = None
        degraded: list[str] = []
        for conn in m.connections().values():
            if m._request(conn.kind) is None or conn.is_live:
                continue
            what = f"{conn.kind} connection {conn.state.value}"
            if conn.last_error:
                what += f" ({conn.last_error})"
            if conn.is_critical and conn.kind == PUBLIC:
                critical = f"{what} after {conn.recovery.attempts} attempts"
            elif conn.kind == PUBLIC:
                degraded.append(f"{what}; reconnecting")
        if m.private_degraded_reason:
            degraded.append(m.private_degraded_reason)
        refusal = m.refusals.standing(m._request(PUBLIC))
        if refusal is not None:
            degraded.append(
                f"Upbit refused the subscription request ({refusal}); not sent again until "
                "the subscription changes"
            )
        refused = m.refused_codes
        if refused:
            degraded.append(
                f"Upbit refused {', '.join(sorted(refused))} "
                f"({next(iter(refused.values()))}): not streamed; unsubscribe or "
                "correct the code (the other codes stream)"
            )
        silenced = m.trades.silenced()
        if silenced:
            degraded.append(
                "live trades of "
                + ", ".join(f"{s} ({n} in a row)" for s, n in sorted(silenced.items()))
                + " are all being dropped (duplicate or invalid sequential_id)"
            )
        gaps = m.trades.recent_gap_symbols()
        if gaps:
            degraded.append(
                f"trade gap in {', '.join(gaps)}: missed trades could not be fetched from REST "
                "(dashboard trades.gaps has the ranges)"
            )
        return critical, degraded

    def metrics(self) -> PerformanceMetrics:
        """The spec's section 6.1 record, with status and reasons."""
        m = self._manager
        connections = m.connections().values()
        live = [c for c in connections if c.is_live]
        uptime = max((c.uptime for c in live), default=0.0)
        critical, degraded = self.verdict()
        snapshot = m._metrics.snapshot(
            active_connections=len(live),
            connection_uptime=timedelta(seconds=uptime),
            wants_connection=False,
            queue_depth=m._router.queue_depth(),
            dropped=m._router.dropped(),
            callback_errors=m._router.callback_errors(),
            subscriptions=m._state.summary(),
            connection_problem=critical,
        )
        reasons = [*snapshot.reasons, *degraded]
        status = snapshot.status
        if degraded and status == HEALTHY:
            status = DEGRADED
        return dataclasses.replace(
            snapshot,
            reconnection_count=sum(c.reconnects for c in connections),
            status=status,
            reasons=tuple(reasons),
        )

    def health(self) -> dict[str, Any]:
        """JSON-serialisable health: status, reasons, active_connections, metrics, private."""
        m = self._manager
        data = self.metrics().to_dict()
        data["connections"] = self.connection_status()
        data["private"] = m.private.report()
        data["trade_gaps"] = [dict(g) for g in m.trade_gaps]
        data["refused_codes"] = dict(m.refused_codes)
        data["unsolicited_events"] = m.frames.unsolicited
        data["invalid_trades"] = m.trades.invalid_trades
        return data

    def dashboard(self) -> dict[str, Any]:
        """Everything an operator screen shows, JSON-serialisable."""
        m = self._manager
        metrics = self.metrics()
        return {
            "timestamp": time.time(),
            "status": metrics.status,
            "reasons": list(metrics.reasons),
            "connections": self.connection_status(),
            "epochs": m.epochs.snapshot(),
            "messages_per_second": round(metrics.messages_per_second, 3),
            "latency_ms": {
                "average": round(metrics.average_latency_ms, 3),
                "p50": round(metrics.p50_latency_ms, 3),
                "p99": round(metrics.p99_latency_ms, 3),
                "max": round(metrics.max_latency_ms, 3),
            },
            "queue_depth": metrics.queue_depth,
            "dropped": metrics.dropped_message_count,
            "callback_errors": metrics.callback_error_count,
            "malformed_frames": metrics.malformed_message_count,
            "reconnects": metrics.reconnection_count,
            "rate_limit_tokens": m.rate_limiter.get_remaining_tokens(),
            "subscriptions": m._state.summary(),
            "consolidated": m.consolidated_subscription(),
            "refused_codes": dict(m.refused_codes),
            # Events for codes nobody subscribed: dropped before any state is kept for them.
            "unsolicited_events": m.frames.unsolicited,
            "markets": m.markets.status() if "markets" in m.__dict__ else None,
            "subscribers": m._router.stats(),
            "trades": m.trades.report(),
            "private": m.private.report(),
            "memory_mb": round(metrics.memory_usage_mb, 1),
            "cpu_percent": round(metrics.cpu_usage_percent, 1),
        }
