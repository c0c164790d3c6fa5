"""Reconnect timing and connection generations.

`RecoveryEngine` decides how long to wait before the next connection attempt: capped exponential
backoff with jitter (so a fleet of clients does not reconnect in lock-step), reset once a
connection has stayed up for a while, and never giving up. After `reconnect_critical_after`
failed attempts in a row it reports itself critical and keeps trying at the maximum delay. A
server that asks for a wait (HTTP 429/418 with Retry-After at the handshake) is obeyed.

`EpochManager` counts connection generations per connection kind ("public", "private"). Every
event carries the epoch of the connection that delivered it, and nothing from an older epoch may
reach a callback (shared/spec-v6.md 3.3.2).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

from upbit_tui.config import ConnectionConfig

# How long to wait after a 418 ("blocked") when the server does not say; Upbit documents only
# that the block lasts a while and grows with repeated violations.
DEFAULT_BLOCK_WAIT = 30.0


class RecoveryEngine:
    """Backoff state of one connection. Not thread-safe; used from one event loop."""

    def __init__(
        self,
        config: ConnectionConfig,
        *,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._rng = rng or random.Random()
        self._clock = clock
        self._attempts = 0  # consecutive attempts that did not lead to a healthy connection
        self._connected_at: float | None = None
        self._server_wait = 0.0
        self.total_reconnects = 0
        self.last_delay = 0.0

    @property
    def attempts(self) -> int:
        """Consecutive failed attempts since the last healthy connection."""
        return self._attempts

    @property
    def is_critical(self) -> bool:
        return self._attempts >= self._config.reconnect_critical_after

    def base_delay(self, attempt: int) -> float:
        """The un-jittered delay before attempt number `attempt` (0-based), capped."""
        c = self._config
        # Multiply step by step: multiplier**attempt would overflow after ~1000 tries.
        delay = c.reconnect_initial_delay
        for _ in range(min(attempt, 64)):
            delay *= c.reconnect_multiplier
            if delay >= c.reconnect_max_delay:
                return c.reconnect_max_delay
        return min(delay, c.reconnect_max_delay)

    def next_delay(self) -> float:
        """The delay before the next attempt; counts the attempt.

        Jitter only shortens the delay (by up to `reconnect_jitter` of it), so the cap holds.
        A wait the server asked for is a floor.
        """
        base = self.base_delay(self._attempts)
        jitter = min(max(self._config.reconnect_jitter, 0.0), 1.0)
        delay = base * (1.0 - jitter * self._rng.random())
        delay = max(delay, self._server_wait)
        self._server_wait = 0.0
        self._attempts += 1
        self.last_delay = delay
        return delay

    async def wait(self) -> float:
        """Sleep for `next_delay()`; cancellable. Returns the delay slept."""
        delay = self.next_delay()
        if delay > 0:
            await asyncio.sleep(delay)
        return delay

    def request_wait(self, seconds: float | None, *, blocked: bool = False) -> None:
        """The server asked us to wait (429 Retry-After, or a 418 block) before the next try."""
        if seconds is None or seconds <= 0:
            seconds = DEFAULT_BLOCK_WAIT if blocked else self._config.reconnect_max_delay
        self._server_wait = max(self._server_wait, seconds)

    def connected(self) -> None:
        """A connection is open (handshake done, subscription sent)."""
        if self._connected_at is None:
            self._connected_at = self._clock()

    def disconnected(self, *, count: bool = True) -> None:
        """The connection ended; reset the backoff if it had been healthy long enough.

        `count=False` for closes we chose (shutdown, nothing left to subscribe to).
        """
        if self._connected_at is not None:
            uptime = self._clock() - self._connected_at
            if uptime >= self._config.reconnect_reset_after:
                self._attempts = 0
            self._connected_at = None
        if count:
            self.total_reconnects += 1

    def reset(self) -> None:
        """Forget the failure history (a user-requested reconnect, or new credentials)."""
        self._attempts = 0
        self._server_wait = 0.0


class EpochManager:
    """Connection generations per connection kind; epoch 0 means "never connected"."""

    def __init__(self) -> None:
        self._current: dict[str, int] = {"public": 0, "private": 0}

    def increment_epoch(self, kind: str) -> int:
        self._current[kind] = self._current.get(kind, 0) + 1
        return self._current[kind]

    def current(self, kind: str) -> int:
        return self._current.get(kind, 0)

    def is_current_epoch(self, kind: str, epoch: int) -> bool:
        return epoch == self._current.get(kind, 0)

    def snapshot(self) -> dict[str, int]:
        return dict(self._current)
