"""Routing: each event reaches exactly the callbacks subscribed to its (type, symbol).

The read loop calls `router.publish(event)`, which is synchronous and never waits: it offers the
event to every matching subscriber's own bounded queue. Each subscriber has one drain task that
calls its callback, so a slow or failing consumer only ever delays or hurts itself.

    router = Router(metrics=collector)          # inside a running event loop
    sub = router.subscribe(DataType.TICKER, ["KRW-BTC"], on_ticker,
                           error_handler=on_error, policy="coalesce_by_symbol",
                           queue_size=1024, throttle_per_second=10.0,
                           depth=None, level=None, client_id="chart", weak=False)
    router.publish(event)                        # from the read loop; never blocks
    router.set_epoch("public", 4)                # after a reconnect: older events are stale
    router.forget(DataType.TICKER, ["KRW-BTC"])  # symbol left the wire: drop its cached value
    router.change_symbols(sub, ["KRW-ETH"])      # same queue and task, another symbol set
    router.unsubscribe(sub)  # or sub.close() / await sub.aclose(): ends its task, frees its queue
    await router.aclose()                        # ends and awaits every drain task
    router.latest(DataType.TICKER, "KRW-BTC")    # the cached latest event, or None

Subscribers
- `symbols=None` subscribes every symbol of the type (myOrder for all markets, myAsset).
- Candle timeframes are separate DataTypes (`DataType.CANDLE_1M`...), as on the wire.
- Orderbook: `level` (None = any) delivers only events of that level; `depth` (None = all)
  trims `orderbook_units` to that many levels when queued (a trimmed copy; the shared event is
  untouched).
- `callback(event)` and `error_handler(exc)` may be sync or async. A callback that raises calls
  its error_handler (or logs), is counted in `sub.callback_errors`, and delivery goes on. Events
  are shared between subscribers: callbacks must not modify them.
- `weak=True` holds a bound-method callback (and error handler) through a weak reference, so the
  subscription does not keep its owner alive; once the owner is collected the subscriber closes
  itself.

Delivery
- A drain takes everything queued as one batch and delivers it in order; events offered
  meanwhile form the next batch (so a subscriber holds at most one batch in flight plus a full
  queue). Sync callbacks run back to back; the task yields between batches and at every await.
- A blocking *sync* callback blocks the whole event loop (nothing in asyncio can prevent it); it
  is reported as slow (`sub.slow_callbacks`, a log line) when a batch takes longer than
  `slow_callback` seconds. Async callbacks are timed one by one.

Policies (per subscriber; each drop counted in `sub.dropped`; of those, the pending values that a
newer value of the same symbol replaced under coalesce/throttle also in `sub.superseded`, and
only the others, real losses, count towards health)
- `drop_oldest`: a full queue discards its oldest event.
- `coalesce_by_symbol`: at most one pending event per symbol, the latest wins (O(1)); a full
  queue (more pending symbols than `queue_size`) discards the oldest symbol's event.
- `throttle`: at most `throttle_per_second` events per second per symbol; in between, the latest
  one is held and delivered when the symbol's interval has passed (held ones replaced = drops).

Latest value and snapshots
- The router keeps the latest event per (type, symbol) (not for myOrder, which are events, not
  state). A new subscriber of a symbol already streaming gets that value at once (if it is from
  the current epoch).
- A public SNAPSHOT event that is not newer than the cached value (timestamp, or sequential_id
  for trades) is delivered only to subscribers that have not seen the cached value (joined while
  it was stale); everyone else already has newer or equal data. Private events are never
  de-duplicated.

Epochs
- `set_epoch(connection, n)` ("public" / "private"): at delivery time an event whose `epoch` is
  non-zero and older than its connection's epoch is dropped (`sub.stale`), so events still queued
  from before a reconnect never reach a callback. Epoch 0 means "not from a connection" (REST).

Metrics (with `metrics=`): drops, callback errors and deliveries (per batch) are recorded;
latency (exchange `timestamp` -> callback) is sampled: the first event of every batch (its
oldest, so the worst) and every 8th after it, REALTIME events only (a SNAPSHOT or REST event
carries its data's age, not our delivery delay).

Stats: `sub.delivered`, `sub.dropped`, `sub.stale`, `sub.callback_errors`, `sub.slow_callbacks`,
`sub.queue_depth`; router-wide `queue_depth()`, `dropped()`, `callback_errors()` (totals include
removed subscribers), `stats()` (JSON-ready per subscriber), `subscribers()`, `subscriber_count`.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import inspect
import logging
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from enum import StrEnum
from typing import Any, Final

import msgspec

from upbit_tui.net.metrics import MetricsCollector
from upbit_tui.wire.events import (
    BalanceEvent,
    CandleEvent,
    DataType,
    MarketEvent,
    OrderbookEvent,
    OrderEvent,
    TickerEvent,
    TradeEvent,
)
from upbit_tui.wire.subscriptions import ALL_SYMBOLS

log = logging.getLogger(__name__)

Callback = Callable[[Any], Any]
ErrorHandler = Callable[[BaseException], Any]

PUBLIC: Final = "public"
PRIVATE: Final = "private"


class Policy(StrEnum):
    DROP_OLDEST = "drop_oldest"
    COALESCE_BY_SYMBOL = "coalesce_by_symbol"
    THROTTLE = "throttle"


# Event class -> route kind (the wire type string); candles use their own `type`.
_KINDS: Final[dict[type, str]] = {
    TickerEvent: DataType.TICKER.value,
    TradeEvent: DataType.TRADE.value,
    OrderbookEvent: DataType.ORDERBOOK.value,
    BalanceEvent: DataType.BALANCE.value,
    OrderEvent: DataType.ORDER.value,
}
# myOrder events are happenings, not state: never replayed to a late joiner.
_NO_REPLAY: Final = frozenset({DataType.ORDER.value})
# Private events are each news (an order update, a balance change): never de-duplicated.
_PRIVATE_CLASSES: Final = frozenset({BalanceEvent, OrderEvent})


class _Route:
    """Everything known about one (kind, symbol): its subscribers and latest value."""

    __slots__ = ("lacking", "latest", "others", "plain", "subscribers")

    def __init__(self, subscribers: Iterable[Subscriber] = ()) -> None:
        self.subscribers: list[Subscriber] = []
        # drop_oldest subscribers without a level: publish() inlines their offer (the hot loop).
        self.plain: list[_DropOldest] = []
        # Bound offer methods of everyone else (other policies, orderbook level filters).
        self.others: list[Callable[[MarketEvent], None]] = []
        self.latest: MarketEvent | None = None
        # Subscribers that joined when `latest` was stale or absent, with the `latest` of that
        # moment: while it is still `latest`, they have seen nothing newer (no per-publish work).
        self.lacking: dict[Subscriber, MarketEvent | None] = {}
        for sub in subscribers:
            self.add(sub)

    def add(self, sub: Subscriber) -> None:
        self.subscribers.append(sub)
        if sub.level is not None or sub.depth is not None:
            self.others.append(sub._offer_orderbook)
        elif isinstance(sub, _DropOldest):
            self.plain.append(sub)
        else:
            self.others.append(sub.offer)

    def remove(self, sub: Subscriber) -> None:
        if sub in self.subscribers:
            self.subscribers.remove(sub)
            if sub in self.plain:
                self.plain.remove(sub)
            elif sub.level is not None or sub.depth is not None:
                self.others.remove(sub._offer_orderbook)
            else:
                self.others.remove(sub.offer)
        self.lacking.pop(sub, None)


class Router:
    """See the module docstring. Create it inside the event loop that will run the drains."""

    def __init__(
        self,
        *,
        metrics: MetricsCollector | None = None,
        slow_callback: float = 0.5,
    ) -> None:
        # kind ("ticker", "candle.1m", ...) -> symbol -> route. Nested string-keyed dicts: a
        # tuple key costs a tuple allocation and comparison on every publish.
        self._routes: dict[str, dict[str, _Route]] = {t.value: {} for t in DataType}
        # Event class -> its kind's table, for every class but candles (kind = event.type).
        self._tables: dict[type, dict[str, _Route]] = {
            cls: self._routes[kind] for cls, kind in _KINDS.items()
        }
        self._wildcards: dict[str, list[Subscriber]] = {}
        self._subscribers: set[Subscriber] = set()
        self._epochs: dict[str, int] = {PUBLIC: 0, PRIVATE: 0}
        self.metrics = metrics
        self.slow_callback = slow_callback
        # Counters of subscribers already removed, so router totals never go backwards.
        self._closed_dropped = 0
        self._closed_errors = 0

    # ----------------------------------------------------------------- subscribing

    def subscribe(
        self,
        data_type: DataType | str,
        symbols: Iterable[str] | None,
        callback: Callback,
        *,
        error_handler: ErrorHandler | None = None,
        policy: Policy | str = Policy.DROP_OLDEST,
        queue_size: int = 1024,
        throttle_per_second: float = 10.0,
        depth: int | None = None,
        level: float | None = None,
        client_id: str = "",
        weak: bool = False,
    ) -> Subscriber:
        """Register a subscriber and start its drain task (needs a running loop)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError("Router.subscribe() needs a running event loop") from None
        data_type = DataType(data_type)
        try:
            policy = Policy(policy)
        except ValueError:
            raise ValueError(
                f"unknown policy {policy!r} (expected one of {', '.join(p.value for p in Policy)})"
            ) from None
        if queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, got {queue_size}")
        if policy is Policy.THROTTLE and not throttle_per_second > 0:
            raise ValueError(f"throttle_per_second must be > 0, got {throttle_per_second}")
        if not callable(callback):
            raise TypeError(f"callback must be callable, got {type(callback).__name__}")
        if error_handler is not None and not callable(error_handler):
            raise TypeError(f"error_handler must be callable, got {type(error_handler).__name__}")
        if (depth is not None or level is not None) and data_type is not DataType.ORDERBOOK:
            raise ValueError(f"depth and level apply to orderbook subscriptions, not {data_type}")
        if isinstance(symbols, str):
            symbols = [symbols]
        symbol_set = None if symbols is None else frozenset(symbols)
        if symbol_set is not None and not symbol_set:
            raise ValueError("no symbols given (use symbols=None for every symbol)")
        if data_type is DataType.BALANCE:
            symbol_set = frozenset({ALL_SYMBOLS})
        cls = _POLICY_CLASSES[policy]
        sub = cls(
            self,
            data_type=data_type,
            symbols=symbol_set,
            callback=callback,
            error_handler=error_handler,
            queue_size=queue_size,
            throttle_per_second=throttle_per_second,
            depth=depth,
            level=None if level is None else float(level),
            client_id=client_id,
            weak=weak,
        )
        kind = data_type.value
        self._subscribers.add(sub)
        if symbol_set is None:
            self._wildcards.setdefault(kind, []).append(sub)
            routes = list(self._routes.get(kind, {}).values())
            for route in routes:
                route.add(sub)
        else:
            routes = []
            for symbol in symbol_set:
                existing = self._routes.get(kind, {}).get(symbol)
                if existing is None:
                    routes.append(self._new_route(kind, symbol))
                else:
                    existing.add(sub)
                    routes.append(existing)
        self._replay(sub, routes)
        sub.start()
        return sub

    def change_symbols(self, sub: Subscriber, symbols: Iterable[str]) -> None:
        """Give a live subscriber a new set of symbols, keeping its queue and drain task.

        Symbols it gains are routed to it from now on (their latest value replayed as for a new
        subscriber); events of symbols it loses that are still queued are discarded, those of
        the symbols it keeps stay queued in order. So one subscriber can serve a changing set of
        event streams (trades) instead of one subscriber, queue and drain task per symbol.
        """
        if sub not in self._subscribers:
            raise ValueError(f"{sub!r} is not subscribed here")
        if sub.symbols is None or sub.data_type is DataType.BALANCE:
            raise ValueError(f"{sub!r} takes every symbol: there is no set to change")
        wanted = frozenset([symbols] if isinstance(symbols, str) else symbols)
        if not wanted:
            raise ValueError("no symbols given (unsubscribe instead)")
        kind = sub.data_type.value
        table = self._routes.get(kind, {})
        gone, added = sub.symbols - wanted, wanted - sub.symbols
        sub.symbols = wanted
        for symbol in gone:
            route = table.get(symbol)
            if route is not None:
                route.remove(sub)
        if gone:
            sub._discard(gone)
        routes = []
        for symbol in added:
            route = table.get(symbol)
            if route is None:
                routes.append(self._new_route(kind, symbol))  # includes `sub`: it wants it now
            else:
                route.add(sub)
                routes.append(route)
        self._replay(sub, routes)

    def _replay(self, sub: Subscriber, routes: Iterable[_Route]) -> None:
        """A subscriber joins `routes`: hand it their current latest value, or note it lacks one."""
        if sub.data_type.value in _NO_REPLAY:
            return
        for route in routes:
            latest = route.latest
            if latest is not None and self._is_current(latest, sub.connection):
                sub._offer_matching(latest)
            else:
                route.lacking[sub] = latest

    def _new_route(self, kind: str, symbol: str) -> _Route:
        # A new route starts with the wildcard subscribers of its kind (and the new one, if any,
        # is added by subscribe() through the symbol loop: it is already registered).
        subs = list(self._wildcards.get(kind, ()))
        subs += [
            s
            for s in self._subscribers
            if s.symbols is not None and symbol in s.symbols and s.data_type.value == kind
        ]
        route = self._routes.setdefault(kind, {})[symbol] = _Route(subs)
        return route

    def unsubscribe(self, sub: Subscriber) -> None:
        """Remove a subscriber: its task is cancelled and its queue freed. Idempotent."""
        if sub not in self._subscribers:
            return
        self._subscribers.discard(sub)
        kind = sub.data_type.value
        if sub.symbols is None:
            subs = self._wildcards.get(kind, [])
            if sub in subs:
                subs.remove(sub)
            if not subs:
                self._wildcards.pop(kind, None)
            for route in self._routes.get(kind, {}).values():
                route.remove(sub)
        else:
            for symbol in sub.symbols:
                found = self._routes.get(kind, {}).get(symbol)
                if found is not None:
                    found.remove(sub)
        sub._stop()

    def forget(self, data_type: DataType | str, symbols: Iterable[str] | None = None) -> None:
        """Drop cached latest values (the symbols left the wire: the cache would go stale)."""
        kind = DataType(data_type).value
        table = self._routes.get(kind, {})
        for symbol in list(table) if symbols is None else list(symbols):
            route = table.get(symbol)
            if route is None:
                continue
            if route.subscribers:
                route.latest = None
                route.lacking = dict.fromkeys(route.subscribers)
            else:
                del table[symbol]

    def latest(self, data_type: DataType | str, symbol: str) -> MarketEvent | None:
        """The cached latest event of (type, symbol), current epoch or not (None if none)."""
        route = self._routes.get(DataType(data_type).value, {}).get(symbol)
        return None if route is None else route.latest

    def set_epoch(self, connection: str, epoch: int) -> None:
        """The current epoch of "public" or "private": older events are never delivered."""
        if connection not in self._epochs:
            raise ValueError(f"unknown connection {connection!r} (expected public or private)")
        self._epochs[connection] = epoch

    def epoch(self, connection: str) -> int:
        return self._epochs[connection]

    def _is_current(self, event: MarketEvent, connection: str) -> bool:
        return not event.epoch or event.epoch >= self._epochs[connection]

    # ----------------------------------------------------------------- publishing

    def publish(self, event: MarketEvent) -> None:
        """Offer `event` to every matching subscriber. Synchronous; never waits."""
        table = self._tables.get(event.__class__)
        if table is None:  # a candle: its kind is its `type` ("candle.1m", ...)
            table = self._routes.setdefault(event.type, {})  # type: ignore[attr-defined]
        route = table.get(event.symbol)  # type: ignore[attr-defined]
        if route is None:
            route = self._new_route(_kind_of(event), event.symbol)  # type: ignore[attr-defined]
        if event.stream_type == "SNAPSHOT" and event.__class__ not in _PRIVATE_CLASSES:
            latest = route.latest
            if latest is not None and not _is_newer(event, latest):
                self._resent_snapshot(route, event, latest)
                return
        route.latest = event
        for sub in route.plain:
            # _DropOldest.offer, inlined: a Python call per event per subscriber is measurable.
            queue = sub._queue
            if len(queue) == sub.queue_size:
                sub._drop()
            queue.append(event)
            if sub._waiter is not None:
                sub._wake()
        if route.others:
            for offer in route.others:
                offer(event)

    @staticmethod
    def _resent_snapshot(route: _Route, event: MarketEvent, latest: MarketEvent) -> None:
        # Upbit re-sent a snapshot after a re-subscription: only those lacking it need it.
        if route.lacking:
            lacking = [sub for sub, missed in route.lacking.items() if missed is latest]
            route.lacking.clear()
            for sub in lacking:
                sub._offer_matching(event)
        if event.epoch > latest.epoch:
            route.latest = event

    # ----------------------------------------------------------------- totals

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def subscribers(self) -> list[Subscriber]:
        return list(self._subscribers)

    def queue_depth(self) -> int:
        return sum(s.queue_depth for s in self._subscribers)

    def dropped(self) -> int:
        return sum(s.dropped for s in self._subscribers) + self._closed_dropped

    def callback_errors(self) -> int:
        return sum(s.callback_errors for s in self._subscribers) + self._closed_errors

    def stats(self) -> list[dict[str, Any]]:
        """Per-subscriber counters, JSON-ready (for dashboards and health)."""
        return [s.stats() for s in self._subscribers]

    async def aclose(self) -> None:
        """Cancel every drain task and wait for them to finish."""
        subs = list(self._subscribers)
        tasks = [s._task for s in subs if s._task is not None]
        for sub in subs:
            self.unsubscribe(sub)
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for table in self._routes.values():
            table.clear()


def _kind_of(event: MarketEvent) -> str:
    return event.type if event.__class__ is CandleEvent else _KINDS[event.__class__]


def _is_newer(event: MarketEvent, than: MarketEvent) -> bool:
    if event.__class__ is TradeEvent:
        return event.sequential_id > than.sequential_id  # type: ignore[attr-defined]
    return event.timestamp_ms > than.timestamp_ms


def _is_async_callable(fn: Callable[..., Any]) -> bool:
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 - callable objects with async __call__
    return call is not None and inspect.iscoroutinefunction(call)


class Subscriber(abc.ABC):
    """One subscription: its queue (by policy), its drain task and its counters."""

    __slots__ = (
        "__weakref__",
        "_busy",
        "_callback",
        "_callback_ref",
        "_error_handler",
        "_error_ref",
        "_in_flight",
        "_is_async",
        "_router",
        "_task",
        "_waiter",
        "callback_errors",
        "client_id",
        "closed",
        "connection",
        "data_type",
        "delivered",
        "depth",
        "dropped",
        "level",
        "queue_size",
        "slow_callbacks",
        "stale",
        "superseded",
        "symbols",
        "throttle_per_second",
    )

    def __init__(
        self,
        router: Router,
        *,
        data_type: DataType,
        symbols: frozenset[str] | None,
        callback: Callback,
        error_handler: ErrorHandler | None,
        queue_size: int,
        throttle_per_second: float,
        depth: int | None,
        level: float | None,
        client_id: str,
        weak: bool,
    ) -> None:
        self._router: Router | None = router
        self.data_type = data_type
        self.symbols = symbols
        self.client_id = client_id
        self.connection = PRIVATE if data_type.is_private else PUBLIC
        self.queue_size = queue_size
        self.throttle_per_second = throttle_per_second
        self.depth = depth
        self.level = level
        self._callback_ref: Callable[[], Callback | None] | None = None
        self._error_ref: Callable[[], ErrorHandler | None] | None = None
        self._callback: Callback | None = callback
        self._error_handler: ErrorHandler | None = error_handler
        if weak:
            self._callback_ref = _weak(callback)
            self._callback = None
            if error_handler is not None:
                self._error_ref = _weak(error_handler)
                self._error_handler = None
        self._is_async = _is_async_callable(callback)
        self._task: asyncio.Task[None] | None = None
        self._waiter: asyncio.Future[None] | None = None
        # True while the drain runs (started and not idle): only then must close() cancel it.
        self._busy = False
        # Events of the batch being delivered that have not reached the callback yet (kept
        # exact at every await; during a run of sync callbacks nobody else can look).
        self._in_flight = 0
        self.closed = False
        self.delivered = 0
        self.dropped = 0
        self.superseded = 0
        self.stale = 0
        self.callback_errors = 0
        self.slow_callbacks = 0

    # Each policy implements the queue.
    @abc.abstractmethod
    def offer(self, event: MarketEvent) -> None: ...

    @abc.abstractmethod
    def _take_batch(self) -> Iterable[MarketEvent] | None:
        """Everything queued now, as one batch to deliver in order (None when empty).

        Events offered while the batch is delivered go to the next batch. Bounded: a batch
        never holds more than `queue_size` events."""

    @abc.abstractmethod
    def _clear(self) -> None: ...

    @abc.abstractmethod
    def _discard(self, symbols: frozenset[str]) -> None:
        """Drop the queued events of `symbols` (the subscriber no longer wants them)."""

    @property
    @abc.abstractmethod
    def queue_depth(self) -> int: ...

    def _offer_matching(self, event: MarketEvent) -> None:
        """Offer through the same filter and trim as publish() (for replays)."""
        if self.level is not None or self.depth is not None:
            self._offer_orderbook(event)
        else:
            self.offer(event)

    def _offer_orderbook(self, event: MarketEvent) -> None:
        # Orderbook subscribers with a level and/or a depth: filter, then trim a copy (the shared
        # event is untouched).
        if self.level is not None and event.level != self.level:  # type: ignore[attr-defined]
            return
        depth = self.depth
        if depth is not None and len(event.orderbook_units) > depth:  # type: ignore[attr-defined]
            event = _trim(event, depth)  # type: ignore[arg-type]
        self.offer(event)

    def _drop(self, n: int = 1) -> None:
        self.dropped += n
        router = self._router
        if router is not None and router.metrics is not None:
            router.metrics.record_drops(n)

    def _supersede(self) -> None:
        # A pending value replaced by a newer one of the same symbol: what coalesce/throttle
        # subscribers asked for. Counted as a drop, but it is no sign of a struggling consumer,
        # so health (which watches the drop rate) does not see it.
        self.dropped += 1
        self.superseded += 1

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> None:
        name = f"drain {self.client_id or '?'} {self.data_type.value}"
        self._task = asyncio.get_running_loop().create_task(self._drain(), name=name)

    def close(self) -> None:
        """Unsubscribe (same as `router.unsubscribe(self)`)."""
        router = self._router
        if router is not None:
            router.unsubscribe(self)
        else:
            self._stop()

    async def aclose(self) -> None:
        """Unsubscribe and wait for the drain task to end."""
        task = self._task
        self.close()
        if task is not None and task is not asyncio.current_task():
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _stop(self) -> None:
        if self.closed:
            return
        self.closed = True
        router = self._router
        if router is not None:
            router._closed_dropped += self.dropped
            router._closed_errors += self.callback_errors
        self._router = None
        self._clear()
        task, self._task = self._task, None
        waiter, self._waiter = self._waiter, None
        # End the drain without cancelling when we can: a task that ends normally stores no
        # exception whose traceback would keep frames (and this subscriber) alive.
        if waiter is not None and not waiter.done():
            waiter.set_result(None)  # idle: it wakes, sees `closed`, returns
        elif task is not None and self._busy and task is not asyncio.current_task():
            task.cancel()  # inside a callback that awaits: interrupt it
        # Not started yet: it will start, see `closed` and return.
        self._callback = self._error_handler = None
        self._callback_ref = self._error_ref = None

    # ----------------------------------------------------------------- delivery

    async def _drain(self) -> None:
        if self.closed:
            return  # closed before it ever ran
        self._busy = True
        try:
            await self._drain_loop()
        except asyncio.CancelledError:
            if not self.closed:
                raise
            # Cancelled by our own close(): end quietly, so that no stored traceback keeps the
            # loop's frame (this subscriber, its callback's owner) alive after the task ends.

    async def _drain_loop(self) -> None:
        # The hot loop: one batch (everything queued) at a time, iterated in C; locals instead
        # of attribute lookups; the clock read once per batch and after every await (latency is
        # in ms, a run of sync callbacks takes microseconds).
        loop = asyncio.get_running_loop()
        router = self._router
        assert router is not None
        epochs = router._epochs
        connection = self.connection
        metrics = router.metrics
        latency = metrics.latency if metrics is not None else None
        record_deliveries = metrics.record_deliveries if metrics is not None else None
        slow = router.slow_callback
        is_async = self._is_async
        now = time.time
        take_batch = self._take_batch
        isawaitable = inspect.isawaitable
        del router  # the task must not keep the router alive
        ring = latency._ring if latency is not None else None
        mask = latency._mask if latency is not None else 0
        index = 0
        callback: Callback | None = None
        event: MarketEvent | None = None
        while not self.closed:
            batch = take_batch()
            if batch is None:
                # Idle: hold no reference to the callback (a weak subscriber's owner may go).
                callback = event = None
                waiter = self._waiter = loop.create_future()
                self._busy = False
                await waiter
                self._busy = True
                continue
            callback = self._callback
            if callback is None:
                callback = self._resolve_callback()
                if callback is None:
                    return
            size = len(batch) if isinstance(batch, deque) else 0
            self._in_flight = size
            current = epochs[connection]
            delivered = stale = 0
            started = before = now()
            before_ms = before * 1000.0
            if latency is not None:
                index = latency._index
            try:
                for event in batch:
                    if event.epoch < current and event.epoch:
                        stale += 1
                        continue
                    if (
                        not delivered & 7
                        and ring is not None
                        and event.timestamp_ms
                        and event.stream_type == "REALTIME"
                    ):
                        # Inlined LatencyWindow.record, for the batch's first (oldest, so
                        # highest-latency) event and every 8th after it: a sample is enough
                        # for the statistics, and recording costs on every delivery. Snapshots
                        # and REST events carry their data's age, not our delay: not sampled.
                        ring[index & mask] = before_ms - event.timestamp_ms
                        index += 1
                    delivered += 1
                    try:
                        result = callback(event)
                        if result is not None and (is_async or isawaitable(result)):
                            # Others run meanwhile: publish what they may look at.
                            if size:
                                self._in_flight = size - delivered - stale
                            if latency is not None:
                                latency._index = index
                            await result
                            after = now()
                            if after - before > slow:
                                self._slow(after - before)
                            before = after
                            before_ms = before * 1000.0
                            if latency is not None:
                                index = latency._index
                            current = epochs[connection]
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:
                        if size:
                            self._in_flight = size - delivered - stale
                        if latency is not None:
                            latency._index = index
                        await self._failed(exc)
                        if latency is not None:
                            index = latency._index
                        current = epochs[connection]
                    if self.closed:
                        break  # closed by its own callback: not one more delivery
            finally:
                self._in_flight = 0
                self.delivered += delivered
                self.stale += stale
                if latency is not None:
                    latency._index = index
                if record_deliveries is not None and delivered:
                    record_deliveries(delivered)
            if not is_async and delivered and now() - started > slow:
                # Sync callbacks are timed per batch: a blocking one stalls the whole loop.
                self._slow(now() - started)

    def _resolve_callback(self) -> Callback | None:
        ref = self._callback_ref
        callback = ref() if ref is not None else None
        if callback is None:
            # The owner is gone: nobody can receive these events any more.
            self.close()
        return callback

    async def _failed(self, exc: Exception) -> None:
        self.callback_errors += 1
        router = self._router
        if router is not None and router.metrics is not None:
            router.metrics.record_callback_error()
        handler = self._error_handler
        if handler is None and self._error_ref is not None:
            handler = self._error_ref()
        if handler is None:
            if self.callback_errors == 1 or self.callback_errors % 1000 == 0:
                log.error(
                    "callback of %s (%s) raised (%d so far)",
                    self.client_id or "?",
                    self.data_type.value,
                    self.callback_errors,
                    exc_info=exc,
                )
            return
        try:
            result = handler(exc)
            if result is not None and inspect.isawaitable(result):
                await result
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("error handler of %s raised", self.client_id or "?")

    def _slow(self, seconds: float) -> None:
        self.slow_callbacks += 1
        if self.slow_callbacks == 1 or self.slow_callbacks % 100 == 0:
            log.warning(
                "callback of %s (%s) took %.3f s (%d slow so far)",
                self.client_id or "?",
                self.data_type.value,
                seconds,
                self.slow_callbacks,
            )

    def stats(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "type": self.data_type.value,
            "symbols": None if self.symbols is None else sorted(self.symbols),
            "policy": self.policy.value,
            "queue_depth": self.queue_depth,
            "queue_size": self.queue_size,
            "delivered": self.delivered,
            "dropped": self.dropped,
            "superseded": self.superseded,
            "stale": self.stale,
            "callback_errors": self.callback_errors,
            "slow_callbacks": self.slow_callbacks,
        }

    policy: Policy = Policy.DROP_OLDEST

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.client_id or '?'} {self.data_type.value} "
            f"queue={self.queue_depth}/{self.queue_size} dropped={self.dropped}>"
        )


def _weak(fn: Callable[..., Any]) -> Callable[[], Any]:
    if inspect.ismethod(fn):
        return weakref.WeakMethod(fn)
    try:
        return weakref.ref(fn)
    except TypeError:
        # Not weakly referenceable (e.g. a builtin): hold it strongly.
        return lambda: fn


def _trim(event: OrderbookEvent, depth: int) -> OrderbookEvent:
    return msgspec.structs.replace(event, orderbook_units=event.orderbook_units[:depth])


class _DropOldest(Subscriber):
    __slots__ = ("_queue",)
    policy = Policy.DROP_OLDEST

    def __init__(self, router: Router, **kwargs: Any) -> None:
        super().__init__(router, **kwargs)
        self._queue: deque[MarketEvent] = deque(maxlen=self.queue_size)

    def offer(self, event: MarketEvent) -> None:
        queue = self._queue
        if len(queue) == self.queue_size:
            self._drop()  # the deque's maxlen discards the oldest on append
        queue.append(event)
        if self._waiter is not None:
            self._wake()

    def _take_batch(self) -> Iterable[MarketEvent] | None:
        # Swap the deque out: the drain iterates it in C, and new events queue in a fresh one.
        # (So up to twice `queue_size` events can be held: one batch in flight plus a queue.)
        queue = self._queue
        if not queue:
            return None
        self._queue = deque(maxlen=self.queue_size)
        return queue

    def _clear(self) -> None:
        self._queue = deque(maxlen=self.queue_size)

    def _discard(self, symbols: frozenset[str]) -> None:
        kept = (e for e in self._queue if getattr(e, "symbol", ALL_SYMBOLS) not in symbols)
        self._queue = deque(kept, maxlen=self.queue_size)

    @property
    def queue_depth(self) -> int:
        return len(self._queue) + self._in_flight


class _Coalescing(Subscriber):
    """Pending symbols in arrival order (a deque) and their latest event (a dict): O(1)."""

    __slots__ = ("_latest", "_order")
    policy = Policy.COALESCE_BY_SYMBOL

    def __init__(self, router: Router, **kwargs: Any) -> None:
        super().__init__(router, **kwargs)
        self._order: deque[str] = deque()
        self._latest: dict[str, MarketEvent] = {}

    def offer(self, event: MarketEvent) -> None:
        latest = self._latest
        symbol = getattr(event, "symbol", ALL_SYMBOLS)
        if symbol in latest:
            self._supersede()  # replaced in place: the symbol keeps its turn
        else:
            if len(latest) >= self.queue_size:
                del latest[self._order.popleft()]
                self._drop()
            self._order.append(symbol)
        latest[symbol] = event
        if self._waiter is not None:
            self._wake()

    def _take_batch(self) -> Iterable[MarketEvent] | None:
        count = len(self._order)
        return self._pending(count) if count else None

    def _pending(self, count: int) -> Iterator[MarketEvent]:
        # Pops lazily, so a value replaced while the batch is delivered is still the latest.
        order, latest = self._order, self._latest
        for _ in range(count):
            if not order:
                return
            yield latest.pop(order.popleft())

    def _clear(self) -> None:
        self._order.clear()
        self._latest.clear()

    def _discard(self, symbols: frozenset[str]) -> None:
        for symbol in symbols & self._latest.keys():
            del self._latest[symbol]
        # In place: a batch being delivered pops from this very deque.
        kept = [s for s in self._order if s not in symbols]
        self._order.clear()
        self._order.extend(kept)

    @property
    def queue_depth(self) -> int:
        return len(self._order)


class _Throttled(Subscriber):
    __slots__ = ("_held", "_interval", "_last_sent", "_ready", "_timer")
    policy = Policy.THROTTLE

    def __init__(self, router: Router, **kwargs: Any) -> None:
        super().__init__(router, **kwargs)
        self._interval = 1.0 / self.throttle_per_second
        self._ready: deque[MarketEvent] = deque()
        self._held: dict[str, MarketEvent] = {}
        self._last_sent: dict[str, float] = {}
        self._timer: asyncio.TimerHandle | None = None

    def offer(self, event: MarketEvent) -> None:
        symbol = getattr(event, "symbol", ALL_SYMBOLS)
        now = time.monotonic()
        held = self._held
        if symbol not in held and now - self._last_sent.get(symbol, -1e18) >= self._interval:
            self._last_sent[symbol] = now
            self._enqueue(event)
            return
        if symbol in held:
            self._supersede()
        held[symbol] = event
        if self._timer is None:
            self._schedule(now)

    def _enqueue(self, event: MarketEvent) -> None:
        ready = self._ready
        if len(ready) >= self.queue_size:
            ready.popleft()
            self._drop()
        ready.append(event)
        if self._waiter is not None:
            self._wake()

    def _schedule(self, now: float) -> None:
        if not self._held:
            return
        due = min(self._last_sent.get(s, now) for s in self._held) + self._interval
        loop = asyncio.get_running_loop()
        # loop.time() and time.monotonic() share a clock on every asyncio loop in use.
        self._timer = loop.call_at(loop.time() + max(0.0, due - now), self._release)

    def _release(self) -> None:
        self._timer = None
        if self.closed:
            return
        now = time.monotonic()
        for symbol in list(self._held):
            if now - self._last_sent.get(symbol, -1e18) >= self._interval - 1e-6:
                self._last_sent[symbol] = now
                self._enqueue(self._held.pop(symbol))
        self._schedule(now)

    def _take_batch(self) -> Iterable[MarketEvent] | None:
        ready = self._ready
        if not ready:
            return None
        self._ready = deque()
        return ready

    def _discard(self, symbols: frozenset[str]) -> None:
        self._ready = deque(e for e in self._ready if getattr(e, "symbol", None) not in symbols)
        for symbol in symbols & self._held.keys():
            del self._held[symbol]

    def _clear(self) -> None:
        self._ready = deque()
        self._held.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    @property
    def queue_depth(self) -> int:
        return len(self._ready) + len(self._held) + self._in_flight


_POLICY_CLASSES: Final[dict[Policy, type[Subscriber]]] = {
    Policy.DROP_OLDEST: _DropOldest,
    Policy.COALESCE_BY_SYMBOL: _Coalescing,
    Policy.THROTTLE: _Throttled,
}
