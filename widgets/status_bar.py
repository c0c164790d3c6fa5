"""One line above the Footer: connection state, message rate, health, clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from rich.text import Text
from textual.widgets import Static

KST = timedelta(hours=9)


def kst_time(now: float) -> str:
    """'16:57:10' in Korea time, as Upbit shows it."""
    return (datetime.fromtimestamp(now, tz=UTC) + KST).strftime("%H:%M:%S")


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

    def show_disconnected(
        self,
        where: str,
        since: str | None,
        retry_in: float | None,
        why: str | None,
        status: str | None = None,
    ) -> None:
        """The exchange is gone: since when (None: never reached), when the next attempt is."""
        retry = (
            "retrying now"
            if retry_in is None or retry_in < 0.5
            else (f"retrying in {retry_in:.0f} s")
        )
        parts: list[str | tuple[str, str]] = [
            ("✖ ", "bold red"),
            ("disconnected" if since else "cannot connect", "bold red"),
            f" from {where} since {since} · {retry}" if since else f" to {where} · {retry}",
        ]
        if why:
            parts.append(f" ({why})")
        if status and status != "healthy":
            parts += [" · ", (status, HEALTH_STYLE.get(status, "bold"))]
        self.update(Text.assemble(*parts, no_wrap=True, overflow="ellipsis"), layout=False)

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
