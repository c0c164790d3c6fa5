"""One line above the Footer: connection state, message rate, health, clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from rich.text import Text
from textual.widgets import Static

KST = timedelta(hours=9)
HEALTH_STYLE = {"healthy": "green", "degraded": "yellow", "critical": "bold red"}


class StatusBar(Static):
    """Fed by the app once a second from `health_check()`; never from the data path.

    Its height is fixed (one line), so updates skip the layout pass a full-screen re-layout
    would cost (and with it a rebuild of every chart on screen)."""

    def show_starting(self, where: str) -> None:
        self.update(Text.assemble(("◌ ", "yellow"), f"connecting to {where}..."))

    def show_connected(self, where: str) -> None:
        self.update(Text.assemble(("● ", "green"), f"{where} · manager running"))

    def show_failure(self, reason: str) -> None:
        self.update(Text.assemble(("✖ ", "bold red"), ("stopped: ", "bold red"), reason))

    def show_health(self, health: dict[str, Any], now: float, where: str) -> None:
        status = str(health.get("status", "unknown"))
        connections = health.get("active_connections", 0)
        rate = health.get("messages_per_second", 0.0) or 0.0
        p99 = health.get("p99_latency_ms")
        reasons = health.get("reasons") or []
        dot = ("● ", "green") if connections else ("○ ", "yellow")
        clock = (datetime.fromtimestamp(now, tz=UTC) + KST).strftime("%H:%M:%S KST")
        parts: list[str | tuple[str, str]] = [
            dot,
            f"{where} · {connections} connection{'s' if connections != 1 else ''} · ",
            f"{float(rate):,.0f} msg/s",
        ]
        if p99 is not None:
            parts.append(f" · p99 {float(p99):,.0f} ms")
        parts += [" · ", (status, HEALTH_STYLE.get(status, "bold"))]
        if reasons and status != "healthy":
            parts.append(f" ({'; '.join(map(str, reasons))})")
        parts.append(f"   {clock}")
        self.update(Text.assemble(*parts, no_wrap=True, overflow="ellipsis"), layout=False)
