"""Toasts for health changes: one per new kind of problem, "healthy again" after a quiet spell."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

# Seconds of good health before "healthy again" is announced (no flapping toasts).
ALERT_QUIET = 10.0
_NUMBERS = re.compile(r"\d[\d.,]*")


class HealthAlerts:
    """Notify when health changes status or gains a new kind of reason (error rate, latency,
    drops...). Reasons are compared without their numbers, so a climbing drop count is one
    alert, not one per second; "healthy again" needs ALERT_QUIET quiet seconds."""

    def __init__(
        self,
        notify: Callable[..., object],
        readable: Callable[[str], str] = str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._notify = notify
        self._readable = readable
        self._clock = clock
        self._alerted: tuple[str, frozenset[str]] = ("healthy", frozenset())
        self._last_alert_at = 0.0

    def update(self, health: dict[str, Any]) -> None:
        status = str(health.get("status", "healthy"))
        reasons = [self._readable(str(r)) for r in health.get("reasons") or []]
        kinds = frozenset(_NUMBERS.sub("#", r) for r in reasons)
        now = self._clock()
        previous_status, previous_kinds = self._alerted
        if status == "healthy":
            if previous_status != "healthy" and now - self._last_alert_at >= ALERT_QUIET:
                self._alerted = (status, frozenset())
                self._notify("Connection healthy again", severity="information")
            return
        self._last_alert_at = now
        seen = kinds | previous_kinds if status == previous_status else kinds
        self._alerted = (status, seen)
        if status == previous_status and kinds <= previous_kinds:
            return
        self._notify(
            "; ".join(reasons) or status,
            title=f"Health: {status}",
            severity="error" if status == "critical" else "warning",
            timeout=10,
        )
