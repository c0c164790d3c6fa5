"""AbstractWebSocketManager: what a WebSocketClientProxy needs from a manager (spec 9.1.3).

Two managers implement it: GlobalWebSocketManager (this process holds Upbit's connections) and
the gateway's remote manager (another process holds them and serves them over NATS). A proxy, a
pane or a bot written against this interface works unchanged with either.

The client methods (`register_client` ... `callbacks_of`) are for proxies; applications hold a
proxy and call its `subscribe_*` instead.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from upbit_tui.client.proxy import WebSocketClientProxy
    from upbit_tui.net.markets import MarketDirectory
    from upbit_tui.net.metrics import PerformanceMetrics
    from upbit_tui.wire.events import CandleEvent, DataType, OrderbookEvent, TickerEvent

Callback = Callable[[Any], Any]
ErrorHandler = Callable[[BaseException], Any]
Symbols = Iterable[str] | str


class AbstractWebSocketManager(ABC):
    """The shared-connection owner behind every proxy; see the module docstring."""

    # The event loop the manager runs on (set by start()); proxies refuse calls from others.
    _loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------------ lifecycle

    @abstractmethod
    async def start(self) -> None:
        """Connect (or attach) and start serving proxies."""

    @abstractmethod
    async def stop(self) -> None:
        """Close everything this manager owns. Idempotent."""

    @property
    @abstractmethod
    def started(self) -> bool:
        """True between a successful start() and stop()."""

    async def __aenter__(self) -> AbstractWebSocketManager:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ clients (proxies)

    @abstractmethod
    def register_client(self, client_id: str, proxy: WebSocketClientProxy) -> int:
        """Record a live proxy and return its token; a second live proxy with the id raises."""

    @abstractmethod
    def remove_client(self, client_id: str, token: int | None = None) -> None:
        """Drop every subscription of a client, synchronously and idempotently."""

    def schedule_remove_client(self, client_id: str, token: int) -> None:
        """remove_client from a finalizer: may run in the GC on any thread, so the removal is
        handed to the manager's own loop (`_loop`, set while it runs)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            loop.call_soon(self.remove_client, client_id, token)
        else:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self.remove_client, client_id, token)

    @abstractmethod
    async def subscribe(
        self,
        client_id: str,
        data_type: DataType,
        symbols: Symbols | None,
        callback: Callback,
        *,
        error_handler: ErrorHandler | None = None,
        policy: str | None = None,
        queue_size: int | None = None,
        throttle_per_second: float | None = None,
        depth: int | None = None,
        level: float | None = None,
    ) -> None:
        """Add one subscription; bad input raises before anything changes."""

    @abstractmethod
    async def unsubscribe(
        self, client_id: str, data_type: DataType, symbols: Symbols | None
    ) -> None:
        """Remove a client's subscription to these symbols (None: all of the type)."""

    @abstractmethod
    async def unsubscribe_all(self, client_id: str) -> None:
        """Remove every subscription of a client but keep it registered."""

    @abstractmethod
    def client_subscriptions(self, client_id: str) -> dict[str, list[str]]:
        """What one client holds: {type: [codes]}."""

    @abstractmethod
    def callbacks_of(self, client_id: str) -> set[int]:
        """ids of the callbacks and error handlers a client's subscriptions still use."""

    # ------------------------------------------------------------------ snapshots

    @abstractmethod
    async def get_ticker_snapshot(self, symbols: Symbols) -> list[TickerEvent]: ...

    @abstractmethod
    async def get_orderbook_snapshot(
        self, symbols: Symbols, depth: int = 30
    ) -> list[OrderbookEvent]: ...

    @abstractmethod
    async def get_candle_snapshot(
        self, symbols: Symbols, timeframe: str, count: int = 200
    ) -> dict[str, list[CandleEvent]]: ...

    # ------------------------------------------------------------------ private side

    @abstractmethod
    def is_private_available(self) -> bool: ...

    @property
    @abstractmethod
    def private_unavailable_reason(self) -> str | None:
        """Why balances and orders cannot be had (no keys, refused keys), or None."""

    # ------------------------------------------------------------------ health

    @property
    @abstractmethod
    def markets(self) -> MarketDirectory:
        """Upbit's market list: every subscription's codes are checked against it first."""

    @abstractmethod
    async def health_check(self) -> dict[str, Any]:
        """JSON-ready health: status, reasons, connections, private side, trade gaps."""

    @abstractmethod
    def metrics(self) -> PerformanceMetrics: ...

    @abstractmethod
    def dashboard(self) -> dict[str, Any]:
        """Everything an operator screen shows."""

    @abstractmethod
    def subscriber_stats(self) -> list[dict[str, Any]]:
        """Per subscriber: client, type, symbols, queue depth, drops, errors."""

    @abstractmethod
    async def reconnect(self) -> None:
        """Drop and re-open the connections now."""
