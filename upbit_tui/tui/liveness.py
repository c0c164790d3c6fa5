"""Whether each connection is delivering, since when it is not, and when it retries.

Fed once a health tick with the manager's connection states; the app marks the panes a dead
connection feeds as stale ("stale since 16:57:10") and the status line says "disconnected,
retrying in N s", and clears both when the connection is live again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# States in which data flows (or nothing is asked of the connection).
LIVE_STATES = frozenset({"live", "idle"})
# The connection is not down but refused: the pane says why instead of "stale".
REFUSED_STATES = frozenset({"unauthorized", "closed"})


@dataclass(frozen=True)
class Outage:
    since: float | None  # wall-clock time data last flowed; None: never connected yet
    retry_in: float | None  # seconds until the next attempt; None: attempting now
    reason: str | None


class Liveness:
    """Per connection kind ("public", "private"): the current outage, if any."""

    def __init__(self, wall: Callable[[], float], monotonic: Callable[[], float]) -> None:
        self._wall = wall
        self._monotonic = monotonic
        self._last_live: dict[str, float] = {}
        self._backoff: dict[str, tuple[int, float]] = {}  # kind -> (attempts, retry at)
        self.outages: dict[str, Outage] = {}

    def update(
        self, connections: Mapping[str, Mapping[str, Any]], delays: Mapping[str, float]
    ) -> None:
        """`connections`: health's per-kind status; `delays`: each one's last backoff delay."""
        now, mono = self._wall(), self._monotonic()
        # Before the first live moment a connection is starting, not lost: no outage unless an
        # attempt failed (then the status line says so; no pane has data to call stale).
        for kind, status in connections.items():
            state = str(status.get("state", "live"))
            if state in LIVE_STATES or state in REFUSED_STATES:
                if state == "live":
                    self._last_live[kind] = now
                self._backoff.pop(kind, None)
                self.outages.pop(kind, None)
                continue
            if kind not in self._last_live and state == "connecting":
                continue
            retry_in = None
            if state == "backoff":
                attempts = int(status.get("attempts", 0) or 0)
                seen = self._backoff.get(kind)
                if seen is None or seen[0] != attempts:  # a new wait began since the last tick
                    seen = (attempts, mono + float(delays.get(kind, 0.0)))
                    self._backoff[kind] = seen
                retry_in = max(0.0, seen[1] - mono)
            else:
                self._backoff.pop(kind, None)
            reason = status.get("last_error")
            self.outages[kind] = Outage(
                self._last_live.get(kind), retry_in, str(reason) if reason else None
            )
