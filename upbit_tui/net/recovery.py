"""Reconnect timing and connection generations.

`RecoveryEngine` decides how long to wait before the next connection attempt: capped exponential
backoff with jitter (so a fleet of clients does not reconnect in lock-step), reset once a
connection has stayed up for a while, and never giving up. After `reconnect_critical_after`
failed attempts in a row it reports itself critical and keeps trying at the maximum delay.

A connection that delivered data before the server ended it resets the backoff too, however short
its life: with a fault every few seconds, each incident is new and recovers as fast as from calm.
One that delivered nothing (a server accepting and dropping at once) keeps backing off.

A server that refuses the handshake (HTTP 429/418) is obeyed, proportionately:
- `Retry-After` in any RFC 9110 form (delta-seconds or an HTTP-date; `0` or a past date = now) is
  a floor for the next delay, capped at `MAX_SERVER_WAIT` (86400, 1e9 or inf must not park the
  client for good); a wait of `CRITICAL_SERVER_WAIT` or more makes the engine critical while it
  lasts, with `server_wait_reason()` saying how long and until when;
- no usable Retry-After (absent, negative, garbage): 1 s, doubling per refusal in a row, jittered,
  capped at `REFUSAL_MAX_WAIT`, as the REST path does (Upbit's connect limit is per second).

`EpochManager` counts connection generations per connection kind ("public", "private"). Every
event carries the epoch of the connection that delivered it, and nothing from an older epoch may
reach a callback (shared/spec-v6.md 3.3.2).
"""

from __future__ import annotations

import asyncio
import calendar
import math
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_tz

from upbit_tui.config import ConnectionConfig

# A server-imposed wait (Retry-After) is obeyed up to this long, then the client tries again.
MAX_SERVER_WAIT = 600.0
# A server-imposed wait this long or longer is reported as critical while it lasts.
CRITICAL_SERVER_WAIT = 60.0
# A refusal without a usable Retry-After: 1 s, doubling per refusal in a row, capped.
REFUSAL_INITIAL_WAIT = 1.0
REFUSAL_MAX_WAIT = 30.0


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds a `Retry-After` value asks for (RFC 9110 10.2.3); None when absent or unusable.

    Delta-seconds (`120`; a fraction is tolerated) or an HTTP-date (IMF-fixdate, RFC 850 or
    asctime; a date in the past means now). `0` means now. Negative, NaN or garbage: None (the
    caller's own policy applies). Infinity is returned as is, for the caller to cap.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if seconds >= 0 else None  # NaN >= 0 is False: unusable too
    parsed = parsedate_tz(text)
    if parsed is None:
        return None
    try:
        when = calendar.timegm(parsed[:6]) - (parsed[9] or 0)  # asctime carries no zone: GMT
    except (OverflowError, ValueError):
        return None
    return max(when - (time.time() if now is None else now), 0.0)


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
        self._refusals = 0  # handshakes refused in a row without a usable Retry-After
        self._imposed_until = 0.0  # clock() until which a long server-imposed wait lasts
        self._imposed_reason: str | None = None
        self.total_reconnects = 0
        self.last_delay = 0.0

    @property
    def attempts(self) -> int:
        """Consecutive failed attempts since the last healthy connection."""
        return self._attempts

    @property
    def is_critical(self) -> bool:
        """Too many failed attempts in a row, or the server imposed a long wait (still running)."""
        return (
            self._attempts >= self._config.reconnect_critical_after
            or self.server_wait_reason() is not None
        )

    def server_wait_reason(self) -> str | None:
        """What long wait the server imposed and until when, while it lasts; else None."""
        if self._imposed_reason is not None and self._clock() < self._imposed_until:
            return self._imposed_reason
        return None

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

    def request_wait(self, seconds: float | None) -> float:
        """The server refused the handshake (429/418) asking for `seconds` (None: it did not say
        usably, see `parse_retry_after`). Returns the floor set for the next delay."""
        if seconds is None:
            wait = min(REFUSAL_INITIAL_WAIT * 2 ** min(self._refusals, 32), REFUSAL_MAX_WAIT)
            jitter = min(max(self._config.reconnect_jitter, 0.0), 1.0)
            wait *= 1.0 - jitter * self._rng.random()
            self._refusals += 1
        else:
            wait = min(seconds, MAX_SERVER_WAIT)
            if wait >= CRITICAL_SERVER_WAIT:
                until = datetime.fromtimestamp(time.time() + wait, UTC).strftime("%H:%M:%S UTC")
                asked = "forever" if math.isinf(seconds) else f"{seconds:g} s"
                capped = f", obeyed for {wait:g} s" if wait < seconds else ""
                self._imposed_reason = f"the server asked to wait {asked}{capped}, until {until}"
                self._imposed_until = self._clock() + wait
        self._server_wait = max(self._server_wait, wait)
        return wait

    def connected(self) -> None:
        """A connection is open (handshake done, subscription sent)."""
        if self._connected_at is None:
            self._connected_at = self._clock()
        self._refusals = 0
        self._imposed_reason = None

    def disconnected(self, *, count: bool = True, delivered: bool = False) -> None:
        """The connection ended; reset the backoff if it had been healthy long enough, or if it
        `delivered` data before the server ended it (so the next outage starts from calm).

        `count=False` for closes we chose (shutdown, nothing left to subscribe to).
        """
        if self._connected_at is not None:
            uptime = self._clock() - self._connected_at
            if uptime >= self._config.reconnect_reset_after or delivered:
                self._attempts = 0
            self._connected_at = None
        if count:
            self.total_reconnects += 1

    def reset(self) -> None:
        """Forget the failure history (a user-requested reconnect, or new credentials)."""
        self._attempts = 0
        self._server_wait = 0.0
        self._refusals = 0


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
