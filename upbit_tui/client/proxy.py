"""WebSocketClientProxy: the only object a component (a pane, a bot) touches.

Each component gets its own proxy with its own `client_id`; the proxy's subscriptions are merged
with everyone else's by the manager, so no component can overwrite another's (Upbit replaces a
connection's subscription with every request).

A proxy is used from its manager's event loop only. A call from another loop (another thread's
`asyncio.run`) is refused with a RuntimeError before anything changes: half of it would work
(the request goes out) and delivery would stop silently when that loop ends.

Queues: each `subscribe_*` call is one bounded queue in front of its callback, whatever number of
markets it names: `queue_size` (default `[routing] queue_size`) bounds the events waiting for
that callback across all of them, so a callback that falls behind holds at most that many and
the rest are dropped by its `policy` (counted; `coalesce_by_symbol` and `throttle` keep one
pending event per market inside that bound). `unsubscribe_*(some_markets)` narrows the queue in
place: waiting events of the markets that stay are delivered once, in order; none of the markets
that go is delivered after the call returns.

Lifetime: `async with WebSocketClientProxy(...)` or `await proxy.cleanup()` removes every
subscription, queue and task of the proxy. Two safety nets make forgetting that harmless:
- `owner=`: the proxy is cleaned up when the owner object is garbage-collected (weak reference),
  and bound-method callbacks of the owner are held weakly so the proxy never keeps it alive;
- a proxy that is itself garbage-collected is cleaned up too (`weakref.finalize` schedules the
  cleanup on the manager's loop). The manager never holds a strong reference to a proxy or to a
  callback, so dropping the proxy really frees everything.
"""

from __future__ import annotations

import asyncio
import inspect
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from upbit_tui.client.interface import AbstractWebSocketManager, Callback, ErrorHandler
from upbit_tui.wire.codec import parse_timeframe
from upbit_tui.wire.events import CandleEvent, DataType, OrderbookEvent, TickerEvent

Symbols = Iterable[str] | str


class WebSocketClientProxy:
    """A component's view of the shared connections. See the module docstring."""

    def __init__(
        self,
        client_id: str,
        manager: AbstractWebSocketManager,
        *,
        owner: Any = None,
    ) -> None:
        self.client_id = client_id
        self._manager = manager
        self._token = manager.register_client(client_id, self)
        self._closed = False
        # Callbacks are referenced weakly by the router; the proxy keeps them alive instead,
        # except bound methods of the owner (they would keep the owner alive).
        self._callbacks: dict[int, Callable[..., Any]] = {}
        self._owner_ref: weakref.ReferenceType[Any] | None = None
        self._finalizers = [
            weakref.finalize(self, manager.schedule_remove_client, client_id, self._token)
        ]
        if owner is not None:
            self._owner_ref = weakref.ref(owner)
            self._finalizers.append(
                weakref.finalize(owner, manager.schedule_remove_client, client_id, self._token)
            )

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> WebSocketClientProxy:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.cleanup()

    async def cleanup(self) -> None:
        """Remove every subscription of this proxy. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for finalizer in self._finalizers:
            finalizer.detach()
        self._manager.remove_client(self.client_id, self._token)
        self._callbacks.clear()

    @property
    def closed(self) -> bool:
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"proxy '{self.client_id}' was cleaned up; create a new one")

    def _check_loop(self) -> None:
        """Refuse a call from an event loop other than the manager's (see the module docstring)."""
        # The manager records its loop in start(); until then any loop may set things up.
        loop = self._manager._loop
        if loop is None:
            return
        running = asyncio.get_running_loop()
        if running is not loop:
            raise RuntimeError(
                f"proxy '{self.client_id}' was called from another event loop than its "
                "manager's (another thread's asyncio.run?); call it on the manager's loop, "
                "e.g. asyncio.run_coroutine_threadsafe(proxy.subscribe_ticker(...), loop)"
            )

    def _keep(self, *functions: Callable[..., Any] | None) -> None:
        owner = self._owner_ref() if self._owner_ref is not None else None
        for fn in functions:
            if fn is None:
                continue
            if owner is not None and inspect.ismethod(fn) and fn.__self__ is owner:
                continue  # held weakly by the router; the owner keeps itself alive
            self._callbacks[id(fn)] = fn

    def _prune(self) -> None:
        """Forget callbacks no subscription uses any more (a pane switching symbols often)."""
        used = self._manager.callbacks_of(self.client_id)
        for key in [k for k in self._callbacks if k not in used]:
            del self._callbacks[key]

    async def _subscribe(
        self,
        data_type: DataType,
        symbols: Symbols | None,
        callback: Callback,
        error_handler: ErrorHandler | None,
        policy: str | None,
        queue_size: int | None,
        throttle_per_second: float | None,
        **extra: Any,
    ) -> None:
        self._check_open()
        self._check_loop()
        await self._manager.subscribe(
            self.client_id,
            data_type,
            symbols,
            callback,
            error_handler=error_handler,
            policy=policy,
            queue_size=queue_size,
            throttle_per_second=throttle_per_second,
            **extra,
        )
        self._keep(callback, error_handler)

    # ------------------------------------------------------------------ subscribing

    async def subscribe_ticker(
        self,
        symbols: Symbols,
        callback: Callback,
        *,
        error_handler: ErrorHandler | None = None,
        policy: str | None = None,
        queue_size: int | None = None,
        throttle_per_second: float | None = None,
    ) -> None:
        """`callback(TickerEvent)` (sync or async) for every ticker of `symbols`."""
        await self._subscribe(
            DataType.TICKER, symbols, callback, error_handler, policy, queue_size,
            throttle_per_second,
        )  # fmt: skip

    async def subscribe_trade(
        self,
        symbols: Symbols,
        callback: Callback,
        *,
        error_handler: ErrorHandler | None = None,
        policy: str | None = None,
        queue_size: int | None = None,
        throttle_per_second: float | None = None,
    ) -> None:
        """`callback(TradeEvent)` for every trade; gap-free across reconnects (backfilled).

        One queue for all `symbols`: `queue_size` bounds their waiting trades together.
        """
        await self._subscribe(
            DataType.TRADE, symbols, callback, error_handler, policy, queue_size,
            throttle_per_second,
        )  # fmt: skip

    async def subscribe_orderbook(
        self,
        symbols: Symbols,
        callback: Callback,
        *,
        depth: int = 30,
        level: float = 0,
        error_handler: ErrorHandler | None = None,
        policy: str | None = None,
        queue_size: int | None = None,
        throttle_per_second: float | None = None,
    ) -> None:
        """`callback(OrderbookEvent)` with `depth` units (1, 5, 15, 30) at price `level`."""
        await self._subscribe(
            DataType.ORDERBOOK, symbols, callback, error_handler, policy, queue_size,
            throttle_per_second, depth=depth, level=level,
        )  # fmt: skip

    async def subscribe_candle(
        self,
        symbols: Symbols,
        timeframe: str,
        callback: Callback,
        *,
        error_handler: ErrorHandler | None = None,
        policy: str | None = None,
        queue_size: int | None = None,
        throttle_per_second: float | None = None,
    ) -> None:
        """`callback(CandleEvent)`; timeframe "1s", "1m".."240m" or "minute1".."minute240"."""
        data_type = parse_timeframe(timeframe)
        await self._subscribe(
            data_type, symbols, callback, error_handler, policy, queue_size, throttle_per_second
        )

    async def subscribe_balance(
        self,
        callback: Callback,
        *,
        error_handler: ErrorHandler | None = None,
        policy: str | None = None,
        queue_size: int | None = None,
        throttle_per_second: float | None = None,
    ) -> None:
        """`callback(BalanceEvent)`: seeded from REST, then myAsset (or REST polling)."""
        await self._subscribe(
            DataType.BALANCE, None, callback, error_handler, policy, queue_size,
            throttle_per_second,
        )  # fmt: skip

    async def subscribe_orders(
        self,
        callback: Callback,
        symbols: Symbols | None = None,
        *,
        error_handler: ErrorHandler | None = None,
        policy: str | None = None,
        queue_size: int | None = None,
        throttle_per_second: float | None = None,
    ) -> None:
        """`callback(OrderEvent)` for my orders on `symbols` (None = every market)."""
        await self._subscribe(
            DataType.ORDER, symbols, callback, error_handler, policy, queue_size,
            throttle_per_second,
        )  # fmt: skip

    # ------------------------------------------------------------------ unsubscribing

    async def unsubscribe_ticker(self, symbols: Symbols | None = None) -> None:
        self._check_loop()
        await self._manager.unsubscribe(self.client_id, DataType.TICKER, symbols)
        self._prune()

    async def unsubscribe_trade(self, symbols: Symbols | None = None) -> None:
        self._check_loop()
        await self._manager.unsubscribe(self.client_id, DataType.TRADE, symbols)
        self._prune()

    async def unsubscribe_orderbook(self, symbols: Symbols | None = None) -> None:
        self._check_loop()
        await self._manager.unsubscribe(self.client_id, DataType.ORDERBOOK, symbols)
        self._prune()

    async def unsubscribe_candle(
        self, symbols: Symbols | None = None, timeframe: str | None = None
    ) -> None:
        """Stop candles of `timeframe` (None = every timeframe) for `symbols` (None = all)."""
        self._check_loop()
        types = (
            [parse_timeframe(timeframe)]
            if timeframe is not None
            else [t for t in DataType if t.is_candle]
        )
        for data_type in types:
            await self._manager.unsubscribe(self.client_id, data_type, symbols)
        self._prune()

    async def unsubscribe_balance(self) -> None:
        self._check_loop()
        await self._manager.unsubscribe(self.client_id, DataType.BALANCE, None)
        self._prune()

    async def unsubscribe_orders(self, symbols: Symbols | None = None) -> None:
        self._check_loop()
        await self._manager.unsubscribe(self.client_id, DataType.ORDER, symbols)
        self._prune()

    async def unsubscribe_all(self) -> None:
        self._check_loop()
        await self._manager.unsubscribe_all(self.client_id)
        self._callbacks.clear()

    # ------------------------------------------------------------------ snapshots

    async def get_ticker_snapshot(self, symbols: Symbols) -> list[TickerEvent]:
        """Current tickers: from the live stream when streaming, else one REST request."""
        self._check_open()
        self._check_loop()
        return await self._manager.get_ticker_snapshot(symbols)

    async def get_orderbook_snapshot(
        self, symbols: Symbols, depth: int = 30
    ) -> list[OrderbookEvent]:
        self._check_open()
        self._check_loop()
        return await self._manager.get_orderbook_snapshot(symbols, depth=depth)

    async def get_candle_snapshot(
        self, symbols: Symbols, timeframe: str, count: int = 200
    ) -> dict[str, list[CandleEvent]]:
        """The last `count` candles per symbol, oldest first (more than 200 paginates)."""
        self._check_open()
        self._check_loop()
        return await self._manager.get_candle_snapshot(symbols, timeframe, count)

    # ------------------------------------------------------------------ status

    def is_private_available(self) -> bool:
        return self._manager.is_private_available()

    @property
    def private_unavailable_reason(self) -> str | None:
        return self._manager.private_unavailable_reason

    def subscriptions(self) -> dict[str, list[str]]:
        """What this proxy holds: type -> sorted symbols."""
        return self._manager.client_subscriptions(self.client_id)

    async def health_check(self) -> dict[str, Any]:
        """The manager's health plus this client's own subscriptions and counters."""
        health = await self._manager.health_check()
        health["client_id"] = self.client_id
        health["client_subscriptions"] = self.subscriptions()
        health["client_subscribers"] = [
            s for s in self._manager.subscriber_stats() if s["client_id"] == self.client_id
        ]
        return health

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<WebSocketClientProxy {self.client_id!r} {state}>"
