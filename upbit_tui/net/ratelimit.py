"""Client-side rate limiting for Upbit's request groups (shared/upbit-protocol.md section 5).

Upbit counts requests per group and per second (WebSocket messages also per minute) and answers
excess with HTTP 429, then blocks with HTTP 418. We stay a little under every limit, so that our
own traffic never trips it, and obey what the server tells us when something else (another
process on the same IP) used the budget.

Public API::

    limiter = GlobalRateLimiter(limits=None, *, on_block=None)
    await limiter.acquire(group, *, max_block_wait=None)  # waits for a token of `group`
    limiter.observe_remaining_req(group, header_value)    # REST `Remaining-Req`; sec=0 -> pause 1 s
    limiter.note_too_many_requests(group, retry_after=None) -> float  # 429: pause, returns delay
    limiter.note_blocked(group, seconds) -> None          # 418: block the group `seconds`
    limiter.blocked_for(group) -> float                   # seconds left of a 418 block (0 = none)
    limiter.connection_budget(name="websocket") -> MessageBudget  # one per WebSocket connection
    limiter.get_remaining_tokens() -> dict[str, float]   # for the dashboard
    limiter.blocks() -> dict[str, float]                 # groups under a 418 block, seconds left

    budget = limiter.connection_budget("public")
    await budget.acquire()        # before every request message on that connection
    budget.pause(seconds)         # the server said "Too Many Requests" on this connection
    budget.remaining_tokens() -> float

    parse_block_seconds(headers, body, default=DEFAULT_BLOCK_SECONDS) -> float  # a 418's duration

Groups (GROUPS, Upbit's documented names): "market", "candle", "trade", "ticker", "orderbook"
(quotation REST, Upbit 10/s each), "default" (exchange REST, 30/s), "order" (8/s),
"websocket-connect" (5/s). WebSocket messages are limited per connection by MessageBudget
(Upbit 5/s and 100/min).

What we allow ourselves (GroupLimit: a leaky bucket of `burst` tokens refilled at `rate`/s, so
any one-second window holds at most about burst + rate - 1 requests):
    quotation groups  burst 3, 6/s   -> at most 9 in any second (Upbit 10)
    default           burst 8, 20/s  -> at most 28 (Upbit 30)
    order             burst 2, 5/s   -> at most 7 (Upbit 8 in older docs, 12 now)
    websocket-connect burst 1, 4/s   -> at most 4 (Upbit 5; JKorf uses 4)
    websocket-message burst 1, 4/s   -> at most 4 per second (Upbit 5), and
                      burst 10, 80/min -> at most 90 in any minute (Upbit 100)
A plain `AsyncLimiter(10, 1)` would allow a burst of 10 plus 10 more within the same sliding
second, which is why bursts are kept small.

aiolimiter's limiters are bound to the loop that first uses them, so every limiter here is
created lazily on first use and re-created if a different loop shows up (tests run one loop each).
All times are the running loop's clock (`loop.time()`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from aiolimiter import AsyncLimiter

from upbit_tui.net.recovery import MAX_SERVER_WAIT
from upbit_tui.net.recovery import parse_retry_after as retry_after_seconds

log = logging.getLogger(__name__)

QUOTATION_GROUPS = ("market", "candle", "trade", "ticker", "orderbook")
GROUPS = (*QUOTATION_GROUPS, "default", "order", "websocket-connect")

# A 418 whose duration we cannot read is assumed to last this long.
DEFAULT_BLOCK_SECONDS = 60.0
# After a 429 without Retry-After the group pauses for this long, doubling on repeats.
TOO_MANY_REQUESTS_PAUSE = 1.0
_MAX_TOO_MANY_REQUESTS_PAUSE = 30.0


@dataclass(frozen=True)
class GroupLimit:
    """How fast we let ourselves go: a bucket of `burst` tokens refilled at `rate` per second."""

    upbit_per_second: float
    burst: int
    rate: float


DEFAULT_LIMITS: Mapping[str, GroupLimit] = {
    **{g: GroupLimit(10, 3, 6.0) for g in QUOTATION_GROUPS},
    "default": GroupLimit(30, 8, 20.0),
    "order": GroupLimit(8, 2, 5.0),
    "websocket-connect": GroupLimit(5, 1, 4.0),
}
# Per WebSocket connection: Upbit allows 5 messages/s and 100 messages/min.
MESSAGE_PER_SECOND = GroupLimit(5, 1, 4.0)
MESSAGE_PER_MINUTE = GroupLimit(100 / 60, 10, 80 / 60)


class RateLimitBlockedError(Exception):
    """Upbit blocked this group (HTTP 418) for longer than the caller is willing to wait."""

    def __init__(self, group: str, seconds_left: float) -> None:
        self.group = group
        self.seconds_left = seconds_left
        super().__init__(
            f"Upbit has blocked the '{group}' request group for another {seconds_left:.0f} s "
            "after too many requests (HTTP 418); requests resume automatically when it ends"
        )


class _Bucket:
    """One aiolimiter bucket plus a mirror of its level, so the dashboard can read tokens."""

    def __init__(self, limit: GroupLimit) -> None:
        self.limit = limit
        self._limiter: AsyncLimiter | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._level = 0.0
        self._last = 0.0

    def _get(self) -> AsyncLimiter:
        loop = asyncio.get_running_loop()
        if self._limiter is None or self._loop is not loop:
            # aiolimiter binds to the loop of first use; a new loop gets a fresh bucket.
            self._limiter = AsyncLimiter(self.limit.burst, self.limit.burst / self.limit.rate)
            self._loop = loop
            self._level = 0.0
            self._last = loop.time()
        return self._limiter

    async def acquire(self) -> None:
        await self._get().acquire()
        self._leak()
        self._level += 1.0

    def _leak(self) -> None:
        if self._loop is None:
            return
        now = self._loop.time()
        self._level = max(0.0, self._level - (now - self._last) * self.limit.rate)
        self._last = now

    def tokens(self) -> float:
        self._leak()
        return max(0.0, self.limit.burst - self._level)


class _Pause:
    """A time before which nothing may be sent (429 / Remaining-Req sec=0 / 418)."""

    def __init__(self) -> None:
        self.until = 0.0
        self.blocked_until = 0.0  # the 418 part, reported separately
        self.strikes = 0  # consecutive 429s, for doubling the pause


class MessageBudget:
    """The request-message budget of ONE WebSocket connection: Upbit 5/s and 100/min.

    Create one per connection with `GlobalRateLimiter.connection_budget()` (a reconnect is a new
    connection with a fresh budget on Upbit's side, so a new budget is fine, but keeping the old
    one is the safer choice).
    """

    def __init__(
        self,
        name: str,
        per_second: GroupLimit = MESSAGE_PER_SECOND,
        per_minute: GroupLimit = MESSAGE_PER_MINUTE,
    ) -> None:
        self.name = name
        self._second = _Bucket(per_second)
        self._minute = _Bucket(per_minute)
        self._paused_until = 0.0
        self.sent = 0

    async def acquire(self) -> None:
        """Wait until one more request message may be sent on this connection."""
        loop = asyncio.get_running_loop()
        while True:
            wait = self._paused_until - loop.time()
            if wait <= 0:
                break
            await asyncio.sleep(wait)  # a pause can be extended while we sleep
        await self._minute.acquire()
        await self._second.acquire()
        self.sent += 1

    def pause(self, seconds: float) -> None:
        """Send nothing on this connection for `seconds` (after a rate-limit error frame)."""
        until = asyncio.get_running_loop().time() + max(0.0, seconds)
        self._paused_until = max(self._paused_until, until)

    def remaining_tokens(self) -> float:
        """Messages that could go out right now without waiting."""
        try:
            now = asyncio.get_running_loop().time()
        except RuntimeError:
            now = None
        if now is not None and self._paused_until > now:
            return 0.0
        return min(self._second.tokens(), self._minute.tokens())


class GlobalRateLimiter:
    """All of Upbit's request groups for one process (IP), shared by every connection and call.

    `limits` overrides DEFAULT_LIMITS per group (unknown groups are a ValueError).
    `on_block(group, seconds)` is called when a group gets blocked (418), for health reporting.
    """

    def __init__(
        self,
        limits: Mapping[str, GroupLimit] | None = None,
        *,
        on_block: Callable[[str, float], None] | None = None,
    ) -> None:
        merged = dict(DEFAULT_LIMITS)
        for group, limit in (limits or {}).items():
            if group not in merged:
                raise ValueError(
                    f"unknown rate-limit group '{group}' (expected one of {', '.join(GROUPS)})"
                )
            merged[group] = limit
        self._buckets = {g: _Bucket(limit) for g, limit in merged.items()}
        self._pauses = {g: _Pause() for g in merged}
        self._budgets: weakref.WeakSet[MessageBudget] = weakref.WeakSet()
        self.on_block = on_block

    def _check(self, group: str) -> None:
        if group not in self._buckets:
            raise ValueError(
                f"unknown rate-limit group '{group}' (expected one of {', '.join(GROUPS)})"
            )

    async def acquire(self, group: str, *, max_block_wait: float | None = None) -> None:
        """Wait for a token of `group`, first waiting out any pause or block.

        With `max_block_wait`, a 418 block lasting longer than that raises RateLimitBlockedError
        at once instead of waiting.
        """
        self._check(group)
        loop = asyncio.get_running_loop()
        pause = self._pauses[group]
        bucket = self._buckets[group]
        while True:
            now = loop.time()
            blocked = pause.blocked_until - now
            if max_block_wait is not None and blocked > max_block_wait:
                raise RateLimitBlockedError(group, blocked)
            wait = max(pause.until, pause.blocked_until) - now
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            await bucket.acquire()
            # A pause may have begun while we waited for the token: honour it too.
            if max(pause.until, pause.blocked_until) <= loop.time():
                return

    def observe_remaining_req(self, group: str, header: str | None) -> int | None:
        """Read a `Remaining-Req: group=...; min=...; sec=N` header; sec=0 pauses the group 1 s.

        Returns `sec`, or None when the header is missing or unreadable. The header's own group
        name is not used (real responses say 'candles'/'crix-trades' for 'candle'/'trade').
        """
        self._check(group)
        sec = parse_remaining_req(header)
        pause = self._pauses[group]
        if sec is None:
            return None
        pause.strikes = 0
        if sec <= 0:
            # Upbit counts per second; waiting a whole second is right for any window alignment.
            now = asyncio.get_running_loop().time()
            pause.until = max(pause.until, now + 1.0)
        return sec

    def note_too_many_requests(self, group: str, retry_after: float | None = None) -> float:
        """Record an HTTP 429 for `group`: pause it (Retry-After, else doubling from 1 s).

        Returns the pause in seconds. Continuing after a 429 is what gets an IP blocked (418).
        """
        self._check(group)
        pause = self._pauses[group]
        if retry_after is not None and retry_after > 0:
            delay = retry_after
        else:
            delay = min(TOO_MANY_REQUESTS_PAUSE * 2**pause.strikes, _MAX_TOO_MANY_REQUESTS_PAUSE)
        pause.strikes += 1
        now = asyncio.get_running_loop().time()
        pause.until = max(pause.until, now + delay)
        log.warning("Upbit rate limit hit (HTTP 429) for group '%s'; pausing %.1f s", group, delay)
        return delay

    def note_blocked(self, group: str, seconds: float) -> None:
        """Record an HTTP 418 block of `group` lasting `seconds`, and report it."""
        self._check(group)
        pause = self._pauses[group]
        now = asyncio.get_running_loop().time()
        pause.blocked_until = max(pause.blocked_until, now + max(0.0, seconds))
        log.error(
            "Upbit blocked the '%s' request group for %.0f s (HTTP 418, too many requests); "
            "requests in this group wait until the block ends",
            group,
            seconds,
        )
        if self.on_block is not None:
            self.on_block(group, seconds)

    def blocked_for(self, group: str) -> float:
        """Seconds left of a 418 block on `group` (0.0 when not blocked)."""
        self._check(group)
        try:
            now = asyncio.get_running_loop().time()
        except RuntimeError:
            return 0.0
        return max(0.0, self._pauses[group].blocked_until - now)

    def blocks(self) -> dict[str, float]:
        """Groups currently blocked by a 418, with the seconds left."""
        return {g: left for g in self._pauses if (left := self.blocked_for(g)) > 0}

    def connection_budget(self, name: str = "websocket") -> MessageBudget:
        """A message budget for one WebSocket connection (Upbit: 5/s and 100/min each)."""
        budget = MessageBudget(name)
        self._budgets.add(budget)
        return budget

    def get_remaining_tokens(self) -> dict[str, float]:
        """Requests each group could send right now without waiting (0 while paused/blocked).

        Keys are the group names, plus `websocket-message:<name>` for each live connection budget.
        """
        try:
            now: float | None = asyncio.get_running_loop().time()
        except RuntimeError:
            now = None
        tokens: dict[str, float] = {}
        for group, bucket in self._buckets.items():
            pause = self._pauses[group]
            if now is not None and max(pause.until, pause.blocked_until) > now:
                tokens[group] = 0.0
            else:
                tokens[group] = round(bucket.tokens(), 3)
        for budget in list(self._budgets):
            tokens[f"websocket-message:{budget.name}"] = round(budget.remaining_tokens(), 3)
        return tokens


_REMAINING_SEC = re.compile(r"(?:^|;)\s*sec\s*=\s*(-?\d+)")


def parse_remaining_req(header: str | None) -> int | None:
    """`group=default; min=1800; sec=29` -> 29; None if absent or unreadable."""
    if not header:
        return None
    match = _REMAINING_SEC.search(header)
    return int(match.group(1)) if match else None


_DURATION = re.compile(
    r"(\d+(?:\.\d+)?)\s*(ms|milliseconds?|s\b|secs?|seconds?|초|m\b|mins?|minutes?|분|h\b|hours?|시간)",
    re.IGNORECASE,
)


def parse_block_seconds(
    headers: Mapping[str, str], body: str, default: float = DEFAULT_BLOCK_SECONDS
) -> float:
    """How long a 418 block lasts: `Retry-After` (seconds), else a duration in the body text
    ("blocked for 30 seconds", "5분", ...), else `default`. Upbit documents that the response
    carries the block duration but not its format, so several spellings are accepted.
    """
    retry_after = parse_retry_after(headers)
    if retry_after is not None:
        return retry_after
    match = _DURATION.search(body or "")
    if match:
        amount = float(match.group(1))
        unit = match.group(2).lower()
        if unit.startswith("milli") or unit == "ms":
            factor = 0.001
        elif unit.startswith("h") or unit == "시간":
            factor = 3600.0
        elif unit.startswith("m") or unit == "분":
            factor = 60.0
        else:
            factor = 1.0
        return amount * factor
    return default


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """An HTTP answer's `Retry-After` in seconds, in any RFC 9110 form (recovery.py reads it for
    both REST and the WebSocket handshake), capped at MAX_SERVER_WAIT so that 86400 or inf
    cannot park a REST call for good; None when absent or unusable."""
    seconds = retry_after_seconds(headers.get("Retry-After"))
    return None if seconds is None else min(seconds, MAX_SERVER_WAIT)
