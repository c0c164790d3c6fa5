"""Upbit's request limits, enforced by the simulator (docs.upbit.com/kr/reference/rate-limits).

Documented by Upbit and enforced here:

==================  =======  ==================  ==========================================
group (header)      limit    counted per         requests
==================  =======  ==================  ==========================================
market              10/s     IP                  GET /v1/market/all
candles             10/s     IP                  GET /v1/candles/*
crix-trades         10/s     IP                  GET /v1/trades/ticks
ticker              10/s     IP                  GET /v1/ticker, /v1/ticker/all
orderbook           10/s     IP                  GET /v1/orderbook, /v1/orderbook/instruments
default             30/s     access key          accounts, orders queries, ...
order               8/s      access key          POST /v1/orders (real headers, min=480)
order-test          8/s      access key          POST /v1/orders/test
order-cancel-all    1/2s     access key          DELETE /v1/orders/open
websocket-connect   5/s      IP (or access key)  WebSocket handshakes
websocket-message   5/s and  connection          WebSocket request messages
                    100/min
==================  =======  ==================  ==========================================

The names are those the real server prints in ``Remaining-Req`` (``candles`` and
``crix-trades``, where the docs' table says ``candle`` and ``trade``); the docs' names are
accepted as aliases. ``Remaining-Req: group=<g>; min=<n>; sec=<left>`` carries ``sec`` = requests
left in the current second and ``min`` = the deprecated fixed value (60 x the per-second limit,
as in real headers: 600, 1800, 480, 30).

Exceeding a limit answers 429; continuing after 429 answers 418 with a block whose length grows
on each repeat (docs: "repeat violations lengthen the block"; lengths are not documented).

Where Upbit is silent, the simulator decides (documented for the README):

- Windows are fixed and aligned on the clock (each whole second; each whole minute for the
  100/min message limit), so ``sec`` is literally "left in this second".
- "Continued abuse": more than ``abuse_threshold`` refused requests (default 10) within
  ``abuse_window`` seconds (default 10) from the same IP / key / connection starts a block of
  ``block_base`` seconds (default 5), doubled on every further block up to ``block_max``
  (default 300); the doubling is forgiven after ``forgive_after`` seconds (default 600) without
  a block. While blocked every request answers 418 and ``retry_after`` says how long is left;
  requests during a block do not extend it (the next violation after it starts a longer one).
- A refused request consumes nothing.
- ``Origin`` header on a quotation REST request or a quotation WebSocket handshake (docs: 1
  request per 10 s): one counter per IP over all quotation groups and the handshakes, 10-second
  windows; ``origin_limit=False`` turns it off.
- WebSocket messages over the limit (``message_violation``, default ``"error"``): the message is
  not applied (the connection keeps its previous subscription) and the server answers an error
  frame named ``Too Many Requests``; when the connection keeps going it gets ``I'm a teapot`` and
  is closed (the block's scope includes the connection). Those two names are the ones Upbit's
  per-type WebSocket pages list in their error tables, next to WRONG_FORMAT and the others, so
  a client sees the refusal instead of silently running on a stale subscription. ``"ignore"``
  (drop the message, say nothing) and ``"close"`` (close at the first violation) are available.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "BLOCKED",
    "REST_GROUPS",
    "TOO_MANY_REQUESTS",
    "Decision",
    "GroupLimit",
    "MessageBudget",
    "MessageViolation",
    "RateLimits",
]

Clock = Callable[[], float]
MessageViolation = Literal["error", "ignore", "close"]

TOO_MANY_REQUESTS = 429
BLOCKED = 418
OK = 200

# Names of the WebSocket error objects for message-rate violations (see module docstring).
WEBSOCKET_TOO_MANY_REQUESTS = "Too Many Requests"
WEBSOCKET_BLOCKED = "I'm a teapot"


@dataclass(frozen=True, slots=True)
class GroupLimit:
    """One REST group: ``limit`` requests per ``period`` seconds."""

    name: str
    limit: int
    period: float = 1.0

    @property
    def min_value(self) -> int:
        """The deprecated ``min=`` of ``Remaining-Req``: requests per minute at this rate."""
        return round(self.limit * 60.0 / self.period)


REST_GROUPS: dict[str, GroupLimit] = {
    g.name: g
    for g in (
        GroupLimit("market", 10),
        GroupLimit("candles", 10),
        GroupLimit("crix-trades", 10),
        GroupLimit("ticker", 10),
        GroupLimit("orderbook", 10),
        GroupLimit("default", 30),
        GroupLimit("order", 8),
        GroupLimit("order-test", 8),
        GroupLimit("order-cancel-all", 1, 2.0),
    )
}
_ALIASES = {"candle": "candles", "trade": "crix-trades"}
QUOTATION_GROUPS = frozenset({"market", "candles", "crix-trades", "ticker", "orderbook"})


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict on one request: allowed, or refused with 429 (slow down) or 418 (blocked)."""

    allowed: bool
    status: int
    group: str
    remaining: int
    retry_after: float = 0.0
    min_value: int = 0

    @property
    def remaining_req(self) -> str:
        """The ``Remaining-Req`` header value, as the real server writes it."""
        return f"group={self.group}; min={self.min_value}; sec={self.remaining}"

    @property
    def blocked(self) -> bool:
        return self.status == BLOCKED


@dataclass(slots=True)
class _Counter:
    """A fixed window counter plus the strikes and blocks of one IP / key / connection."""

    window: int = -1
    count: int = 0
    last_seen: float = -math.inf
    strikes: deque[float] = field(default_factory=deque)
    blocked_until: float = 0.0
    blocks: int = 0
    last_block: float = -math.inf


@dataclass(frozen=True, slots=True)
class _Escalation:
    abuse_threshold: int
    abuse_window: float
    block_base: float
    block_max: float
    forgive_after: float

    def refuse(self, state: _Counter, now: float, retry_after: float) -> tuple[int, float]:
        """Record a refused request; 429 with ``retry_after``, or 418 when it starts a block."""
        strikes = state.strikes
        while strikes and strikes[0] <= now - self.abuse_window:
            strikes.popleft()
        strikes.append(now)
        if len(strikes) <= self.abuse_threshold:
            return TOO_MANY_REQUESTS, retry_after
        if now - state.last_block > self.forgive_after:
            state.blocks = 0
        duration = min(self.block_base * 2.0**state.blocks, self.block_max)
        state.blocks += 1
        state.last_block = now
        state.blocked_until = now + duration
        strikes.clear()
        return BLOCKED, duration


def _take(
    state: _Counter, now: float, limit: int, period: float, escalation: _Escalation
) -> tuple[bool, int, int, float]:
    """Apply one request to ``state``: (allowed, status, remaining, retry_after)."""
    state.last_seen = now
    if now < state.blocked_until:
        return False, BLOCKED, 0, state.blocked_until - now
    window = math.floor(now / period)
    if window != state.window:
        state.window, state.count = window, 0
    if state.count < limit:
        state.count += 1
        return True, OK, limit - state.count, 0.0
    status, retry_after = escalation.refuse(state, now, (window + 1) * period - now)
    return False, status, 0, retry_after


class MessageBudget:
    """One WebSocket connection's message allowance: 5 per second and 100 per minute."""

    def __init__(
        self,
        clock: Clock,
        *,
        per_second: int,
        per_minute: int,
        escalation: _Escalation,
        enabled: bool = True,
    ) -> None:
        self._clock = clock
        self._per_second = per_second
        self._per_minute = per_minute
        self._escalation = escalation
        self._enabled = enabled
        self._second = _Counter()
        self._minute = _Counter()

    def allow(self) -> bool:
        """Count one request message; False when it must not be applied."""
        return self.check().allowed

    def check(self) -> Decision:
        """Count one request message; 429 = refuse this one, 418 = blocked: close the connection."""
        if not self._enabled:
            return Decision(True, OK, "websocket-message", self._per_second)
        now = self._clock()
        if now < self._second.blocked_until:
            wait = self._second.blocked_until - now
            return Decision(False, BLOCKED, "websocket-message", 0, wait)
        minute_window = math.floor(now / 60.0)
        if minute_window != self._minute.window:
            self._minute.window, self._minute.count = minute_window, 0
        if self._minute.count >= self._per_minute:
            status, wait = self._escalation.refuse(
                self._second, now, (minute_window + 1) * 60.0 - now
            )
            return Decision(False, status, "websocket-message", 0, wait)
        allowed, status, remaining, wait = _take(
            self._second, now, self._per_second, 1.0, self._escalation
        )
        if allowed:
            self._minute.count += 1
        return Decision(allowed, status, "websocket-message", remaining, wait)


class RateLimits:
    """Every limit the simulator enforces, keyed by IP, access key or connection.

    ``clock`` returns seconds (epoch by default); tests pass a fake one. ``enabled=False`` lets
    everything through (benchmarks) while still producing ``Remaining-Req`` values.
    """

    def __init__(
        self,
        *,
        clock: Clock = time.time,
        enabled: bool = True,
        websocket_connects_per_second: int = 5,
        websocket_messages_per_second: int = 5,
        websocket_messages_per_minute: int = 100,
        quotation_per_second: int = 10,
        default_per_second: int = 30,
        order_per_second: int = 8,
        abuse_threshold: int = 10,
        abuse_window: float = 10.0,
        block_base: float = 5.0,
        block_max: float = 300.0,
        forgive_after: float = 600.0,
        message_violation: MessageViolation = "error",
        origin_limit: bool = True,
    ) -> None:
        self.clock = clock
        self.enabled = enabled
        self.message_violation: MessageViolation = message_violation
        self.origin_limit = origin_limit
        self._connects = GroupLimit("websocket-connect", websocket_connects_per_second)
        self._messages_per_second = websocket_messages_per_second
        self._messages_per_minute = websocket_messages_per_minute
        self._escalation = _Escalation(
            abuse_threshold, abuse_window, block_base, block_max, forgive_after
        )
        self.groups: dict[str, GroupLimit] = {
            name: GroupLimit(name, quotation_per_second) if name in QUOTATION_GROUPS else g
            for name, g in REST_GROUPS.items()
        }
        self.groups["default"] = GroupLimit("default", default_per_second)
        self.groups["order"] = GroupLimit("order", order_per_second)
        self._states: dict[tuple[str, str], _Counter] = {}
        self._calls = 0

    def group(self, name: str) -> GroupLimit:
        """A group by header name (``candles``) or docs name (``candle``); KeyError if none."""
        return self.groups[_ALIASES.get(name, name)]

    def rest(self, group: str, who: str, *, origin: bool = False) -> Decision:
        """Count one REST request of ``group`` from ``who`` (the IP for quotation groups, the
        access key for exchange groups).

        ``origin``: the request carried an ``Origin`` header (a browser). Upbit then allows
        quotation requests only once per 10 seconds; the simulator counts those per IP across
        every quotation group, and ``Remaining-Req`` names the request's group with ``min=6``.
        """
        limit = self.group(group)
        if origin and self.origin_limit and limit.name in QUOTATION_GROUPS:
            return self._decide(GroupLimit(limit.name, 1, 10.0), who, counter="origin")
        return self._decide(limit, who)

    def websocket_connect(self, who: str, *, origin: bool = False) -> Decision:
        """Count one WebSocket handshake from ``who`` (the IP; the access key when authenticated):
        refuse with 429, or 418 when blocked.

        ``origin``: a quotation handshake that carried an ``Origin`` header (a browser); it
        also spends the IP's Origin budget, shared with quotation REST (1 per 10 s)."""
        if origin and self.origin_limit:
            decision = self._decide(GroupLimit(self._connects.name, 1, 10.0), who, "origin")
            if not decision.allowed:
                return decision
        return self._decide(self._connects, who)

    def new_message_budget(self) -> MessageBudget:
        """A fresh allowance for one WebSocket connection's request messages."""
        return MessageBudget(
            self.clock,
            per_second=self._messages_per_second,
            per_minute=self._messages_per_minute,
            escalation=self._escalation,
            enabled=self.enabled,
        )

    @property
    def tracked(self) -> int:
        """How many (group, caller) counters are held (bounded: idle ones are dropped)."""
        return len(self._states)

    def reset(self) -> None:
        """Forget every counter and block (the /_sim/ API's way to start clean)."""
        self._states.clear()

    def _decide(self, limit: GroupLimit, who: str, counter: str = "") -> Decision:
        if not self.enabled:
            return Decision(True, OK, limit.name, limit.limit, 0.0, limit.min_value)
        now = self.clock()
        self._forget_idle(now)
        state = self._states.setdefault((counter or limit.name, who), _Counter())
        allowed, status, remaining, wait = _take(
            state, now, limit.limit, limit.period, self._escalation
        )
        return Decision(allowed, status, limit.name, remaining, wait, limit.min_value)

    def _forget_idle(self, now: float) -> None:
        """Drop counters with nothing left to remember, now and then, to bound memory."""
        self._calls += 1
        if self._calls % 1024:
            return
        horizon = now - max(self._escalation.forgive_after, self._escalation.abuse_window, 60.0)
        for key, state in list(self._states.items()):
            if state.last_seen < horizon and state.blocked_until < now:
                del self._states[key]
