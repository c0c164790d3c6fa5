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

import asyncio
import contextlib
import inspect
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final

from upbit_tui.net.metrics import MetricsCollector
from upbit_tui.net.subscribers import (
    POLICY_CLASSES,
    PRIVATE,
    PUBLIC,
    Callback,
    DropOldestSubscriber,
    ErrorHandler,
    Policy,
    Subscriber,
)
from upbit_tui.net.transport_base import after_read_burst
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
        self.plain: list[DropOldestSubscriber] = []
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
        elif isinstance(sub, DropOldestSubscriber):
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
        # Subscribers with sync callbacks woken since the last flush (see Subscriber._inline):
        # one loop callback delivers to all of them.
        self._ready: list[Subscriber] = []
        self._flush_scheduled = False
        self._flush_handle: asyncio.Handle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
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
            self._loop = asyncio.get_running_loop()
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
        cls = POLICY_CLASSES[policy]
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
        for symbol in gone:
            route = table.get(symbol)
            if route is not None:
                route.remove(sub)
        sub._narrow(wanted)
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

    def replay_values(
        self, data_type: DataType | str, symbols: Iterable[str] | None, level: float | None = None
    ) -> list[MarketEvent]:
        """What `subscribe` hands a new subscriber of `symbols` (None: every symbol) at once:
        each latest value of the current epoch, none for myOrder; `level` filters orderbooks
        as a subscriber's level does. A gateway serves a late joiner elsewhere with these."""
        data_type = DataType(data_type)
        if data_type.value in _NO_REPLAY:
            return []
        table = self._routes.get(data_type.value, {})
        if data_type is DataType.BALANCE:
            symbols = [ALL_SYMBOLS]
        connection = PRIVATE if data_type.is_private else PUBLIC
        found: list[MarketEvent] = []
        for symbol in list(table) if symbols is None else symbols:
            route = table.get(symbol)
            latest = None if route is None else route.latest
            if latest is None or not self._is_current(latest, connection):
                continue
            if level is not None and getattr(latest, "level", level) != level:
                continue
            found.append(latest)
        return found

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
            # DropOldestSubscriber.offer, inlined: a call per event per subscriber is measurable.
            queue = sub._queue
            if len(queue) == sub.queue_size:
                sub._drop()
            queue.append(event)
            if sub._waiter is not None:
                sub._wake()
        if route.others:
            for offer in route.others:
                offer(event)

    def _schedule(self, sub: Subscriber) -> None:
        """`sub` (sync callback, task parked) has events: deliver them in the next flush."""
        self._ready.append(sub)
        if not self._flush_scheduled and self._loop is not None:
            self._flush_scheduled = True
            # Inside a transport's read: flush when it has handed over the whole read (same
            # loop iteration); otherwise in the next iteration.
            if not after_read_burst(self._flush_after_read):
                self._flush_handle = self._loop.call_soon(self._flush)

    def _flush_after_read(self) -> None:
        if self._flush_scheduled:  # not closed meanwhile
            self._flush()

    def _flush(self) -> None:
        """Deliver one batch to each woken sync subscriber whose drain task is parked.

        The sync half of `Subscriber._drain_loop`, for many subscribers at once (its comments
        apply): epochs, sampled latency, counters, slow-callback timing. A callback that
        returns an awaitable or raises hands that, with the rest of its batch, to its task.
        """
        self._flush_scheduled = False
        self._flush_handle = None
        ready, self._ready = self._ready, []
        epochs = self._epochs
        metrics = self.metrics
        latency = metrics.latency if metrics is not None else None
        ring = latency._ring if latency is not None else None
        mask = latency._mask if latency is not None else 0
        index = latency._index if latency is not None else 0
        slow = self.slow_callback
        isawaitable = inspect.isawaitable
        now = time.time
        before = now()
        total = 0
        try:
            for sub in ready:
                parked = sub._parked
                if sub.closed or sub._busy or parked is None or parked.done():
                    continue  # closed, or its task runs and takes the batch itself
                sub._waiter = parked  # offers made by the callbacks below flush again
                batch = sub._take_batch()
                if batch is None:
                    continue
                sub._halt = False  # the queue already reflects any narrowing
                callback = sub._callback
                if callback is None:
                    callback = sub._resolve_callback()
                    if callback is None:
                        continue
                current = epochs[sub.connection]
                sub._in_flight = len(batch) if batch.__class__ is deque else 0
                before_ms = before * 1000.0
                delivered = stale = 0
                events = iter(batch)
                handover: tuple[Any, Iterator[MarketEvent]] | None = None
                try:
                    for event in events:
                        if event.epoch < current and event.epoch:
                            stale += 1
                            continue
                        if (
                            not delivered & 7
                            and ring is not None
                            and event.timestamp_ms
                            and event.stream_type == "REALTIME"
                        ):
                            ring[index & mask] = before_ms - event.timestamp_ms
                            index += 1
                        delivered += 1
                        try:
                            result = callback(event)
                        except Exception as exc:
                            handover = (exc, events)
                            break
                        if result is not None and isawaitable(result):
                            handover = (result, events)
                            break
                        if sub._halt:
                            break  # closed, or narrowed: the task delivers the rest
                finally:
                    sub._in_flight = 0
                    sub.delivered += delivered
                    sub.stale += stale
                    total += delivered
                if handover is None and sub._halt and not sub.closed:
                    handover = (None, sub._rest_of_batch(events))
                if handover is not None and not sub.closed:
                    sub._waiter = None
                    sub._handover = handover
                    parked.set_result(None)  # its task awaits it, then delivers the rest
                    continue
                after = now()
                if delivered and after - before > slow:
                    sub._slow(after - before)
                before = after
        finally:
            if latency is not None:
                latency._index = index
            if metrics is not None and total:
                metrics.record_deliveries(total)

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
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        self._flush_scheduled = False
        self._ready.clear()
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
        # By identity: Upbit's trade ids are unique, not ordered, so a snapshot trade with a
        # lower id than the latest may still be new (the manager de-duplicates trades before).
        return event.sequential_id != than.sequential_id  # type: ignore[attr-defined]
    return event.timestamp_ms > than.timestamp_ms
