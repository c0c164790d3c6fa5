"""GlobalWebSocketManager: one shared Upbit connection per endpoint for many components.

It owns everything with a lifetime: the public and private `Connection`s, the router's drain
tasks, grace timers, the REST client and the tasks of its collaborators. Proxies
(`WebSocketClientProxy`) are the only thing components touch. The manager conducts; each part
of the work is a collaborator in its own module:

- handles.py: one subscribe call's router subscriber (one queue for all its symbols).
- trades.py (TradeContinuity): every trade once, in order, with REST backfill after a
  (re)connect and gaps reported when the backfill fails.
- refusals.py (Refusals): codes or requests Upbit refused (INVALID_PARAM), kept off the wire.
- private_channel.py (PrivateChannel): the keys, REST polling while the private socket fails,
  balance seeding.
- snapshots.py (Snapshots): ticker/orderbook/candle snapshots, candles refreshed on reconnect.
- health.py (HealthReport): connection status, verdict, metrics, health and the dashboard.

What stays here (~640 lines, a third of it this docstring and the public methods' signatures):
the lifecycle, the subscribe/unsubscribe path every proxy call takes, and the connection hooks
that tie the collaborators together.

How a subscription reaches the wire: the proxy's call updates `SubscriptionStateManager`
(per-client, ref-counted) and the router; the connection is told the desired state changed; its
writer waits `batch_window`, builds ONE request with the whole union (Upbit replaces, never
merges) and sends it only if it differs from what the socket already carries, inside the
per-connection message budget. A symbol that loses its last subscriber stays in the union for
`unsubscribe_grace` seconds so that a pane being re-created does not cause churn.

Unknown markets: one unlisted code in the union would make Upbit refuse the whole request, so
each subscribe call is first checked against the market list (`manager.markets`) and a bad code
fails that call alone (UnknownSymbolError); what Upbit refuses anyway is `refused_codes`.

Reliability (issue 4): each (re)connect is a new epoch; the router drops events of older epochs
even from queues. After a reconnect, or when the watchdog finds the server lost the subscription
and sends it again, missed trades are backfilled and current candles re-read from REST.

Public API (components use a WebSocketClientProxy; these are for the app, bots and tools)::

    manager = GlobalWebSocketManager(config, *, rate_limiter=None, rest_client=None)
    async with manager: ...          # or await manager.start() / await manager.stop()
    await manager.run()              # start, wait until cancelled, stop (Textual worker)
    manager.metrics() -> PerformanceMetrics          # spec 6.1 + status and reasons
    await manager.health_check() -> dict             # JSON-ready: connections, private, trade_gaps
    manager.dashboard() -> dict                      # everything an operator screen shows
    manager.connection_status() -> {kind: {state, epoch, uptime, reconnects, ...}}
    manager.subscriber_stats() -> list[dict]         # per subscriber queue/drops/errors
    manager.consolidated_subscription() -> {type: [codes]}   # the union (grace included)
    manager.markets -> MarketDirectory                # the listed codes; validate(symbols)
    manager.refused_codes -> {code: error text}       # codes Upbit refused, kept off the wire
    manager.trade_gaps, backfilled_trades, duplicate_trades, backfill_failures
    await manager.reconnect()                        # drop and re-open now
    await manager.update_credentials(access_key, secret_key)  # fixed keys: private reconnects
    manager.is_private_available(), manager.private_unavailable_reason,
    manager.private_degraded_reason                  # set while on REST polling
    await manager.get_ticker_snapshot(...) / get_orderbook_snapshot(...) / get_candle_snapshot(...)
        # candles: count 1 .. 10,000 per symbol (Upbit pages 200 per call)
    await manager.wait_synced()                      # the wire carries the current union
    get_default_manager(config=None)                 # a shared one, for convenience only

Nothing here imports Textual.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections import deque
from collections.abc import Coroutine, Iterable
from typing import TYPE_CHECKING, Any

from upbit_tui.client.clients import ClientRegistry
from upbit_tui.client.frames import FrameDispatch
from upbit_tui.client.handles import normalize
from upbit_tui.client.health import HealthReport
from upbit_tui.client.interface import AbstractWebSocketManager, Callback, ErrorHandler
from upbit_tui.client.private_channel import PrivateChannel
from upbit_tui.client.refusals import Refusals
from upbit_tui.client.snapshots import Snapshots
from upbit_tui.client.trades import TradeContinuity
from upbit_tui.client.union import WireUnion
from upbit_tui.config import Config
from upbit_tui.net.connection import Connection, ConnectionState
from upbit_tui.net.metrics import MetricsCollector, PerformanceMetrics
from upbit_tui.net.ratelimit import GlobalRateLimiter
from upbit_tui.net.recovery import EpochManager
from upbit_tui.net.routing import Router
from upbit_tui.wire.codec import (
    SubscriptionList,
    list_subscriptions_request,
)
from upbit_tui.wire.events import (
    CandleEvent,
    DataType,
    MarketEvent,
    OrderbookEvent,
    TickerEvent,
)
from upbit_tui.wire.subscriptions import SubscriptionStateManager

if TYPE_CHECKING:
    from upbit_tui.client.proxy import WebSocketClientProxy
    from upbit_tui.net.markets import MarketDirectory
    from upbit_tui.net.rest import UpbitRestClient

log = logging.getLogger(__name__)

PUBLIC = "public"
PRIVATE = "private"


class PrivateUnavailableError(RuntimeError):
    """Private data (balances, orders) was asked for but cannot be provided; says why."""


class GlobalWebSocketManager(AbstractWebSocketManager):
    """Shared connections, subscription consolidation, routing, recovery and health.

    One per process is typical, but nothing is global: tests and bots create as many as they
    like. `get_default_manager(config)` offers a shared one for convenience.
    """

    def __init__(
        self,
        config: Config,
        *,
        rate_limiter: GlobalRateLimiter | None = None,
        rest_client: UpbitRestClient | None = None,
    ) -> None:
        self.config = config
        self.rate_limiter = rate_limiter or GlobalRateLimiter()
        self.epochs = EpochManager()
        self._ticket = f"upbit-tui-{uuid.uuid4()}"
        self._rest = rest_client
        self._own_rest = rest_client is None
        self._state = SubscriptionStateManager()
        self._metrics = MetricsCollector(config.health)
        self._router = Router(metrics=self._metrics, slow_callback=config.routing.slow_callback)
        self._publish = self._router.publish
        self._started = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._budgets = {
            PUBLIC: self.rate_limiter.connection_budget(PUBLIC),
            PRIVATE: self.rate_limiter.connection_budget(PRIVATE),
        }
        self._public: Connection | None = None
        self._private: Connection | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.trades = TradeContinuity(self._publish, self._rest_client, self._spawn)
        self.refusals = Refusals(
            lambda: self.markets,
            lambda: self.union.public_codes(),
            self._spawn,
            self._request_refused,
            self._public_data_frames,
        )
        self.union = WireUnion(
            self._state,
            self._ticket,
            config.connection.unsubscribe_grace,
            self.refusals,
            lambda: self.private.has_keys,
            self._forget_symbol,
            self._wake,
        )
        self.frames = FrameDispatch(
            self._publish,
            self.trades.on_trade,
            self._metrics,
            self._on_listing,
            self._on_error_frame,
            self.union.wanted,
        )
        self.private = PrivateChannel(
            config.auth,
            self._rest_client,
            self._publish,
            self._spawn,
            subscribed=lambda t: t in self._state.get_consolidated_subscription(),
            poll_interval=config.private.rest_poll_interval,
        )
        self.snapshots = Snapshots(
            self._rest_client,
            self._live,
            self._router_latest,
            self._publish,
            functools.partial(self.epochs.is_current_epoch, PUBLIC),
        )
        self.clients = ClientRegistry(
            lambda: self._router, config.routing, self._state, self.union.apply
        )
        self._clients = self.clients.records  # bench_proxy_churn counts it
        self.health = HealthReport(self)

    # ------------------------------------------------------------------ collaborators' numbers

    @property
    def refused_codes(self) -> dict[str, str]:
        """Public codes Upbit refused (INVALID_PARAM), kept off the wire while anyone holds them."""
        return self.refusals.codes

    @property
    def trade_gaps(self) -> deque[dict[str, Any]]:
        return self.trades.trade_gaps

    @property
    def backfilled_trades(self) -> int:
        return self.trades.backfilled_trades

    @property
    def duplicate_trades(self) -> int:
        return self.trades.duplicate_trades

    @property
    def backfill_failures(self) -> int:
        return self.trades.backfill_failures

    @property
    def _backfills(self) -> dict[str, asyncio.Task[None]]:
        return self.trades.backfills  # tests and bench_chaos wait for it to empty

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> GlobalWebSocketManager:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Get ready; the sockets open lazily, on the first subscription of their kind."""
        if self._started:
            return
        self._loop = self.union.loop = asyncio.get_running_loop()
        self._started = True
        self._public = self._make_connection(PUBLIC)
        self._public.start()
        self._spawn(self.health.count_frames(self._metrics), "upbit-metrics")
        if self._private_wanted():
            self._ensure_private()

    async def stop(self) -> None:
        """Close every socket and end every task this manager owns (idempotent)."""
        if not self._started:
            return
        self._started = False
        self.union.loop = None  # symbols removed from now on leave at once
        self.union.cancel_grace()
        await self.private.stop_fallback("stopping")
        if "markets" in self.__dict__:
            await self.markets.aclose()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for conn in (self._public, self._private):
            if conn is not None:
                await conn.stop()
        self._public = self._private = None
        await self._router.aclose()
        self._router = Router(
            metrics=self._metrics, slow_callback=self.config.routing.slow_callback
        )
        self._publish = self._router.publish
        for part in (self.frames, self.trades, self.private, self.snapshots):
            part.publish = self._publish
        if self._own_rest and self._rest is not None:
            await self._rest.close()
            self._rest = None

    async def run(self) -> None:
        """Start, wait until cancelled, stop (for a Textual worker or a bot's main task)."""
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.shield(self.stop())

    @property
    def started(self) -> bool:
        return self._started

    def _require_started(self) -> None:
        if not self._started:
            raise RuntimeError(
                "the GlobalWebSocketManager is not running: use `async with manager:` "
                "or `await manager.start()` first"
            )

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s failed", task.get_name(), exc_info=task.exception())

    def _make_connection(self, kind: str) -> Connection:
        private = kind == PRIVATE
        exchange = self.config.exchange
        return Connection(
            kind,
            exchange.private_websocket_url if private else exchange.websocket_url,
            self.config.connection,
            epochs=self.epochs,
            on_frame=self.frames.private if private else self.frames.public,
            request_factory=functools.partial(self._request, kind),
            message_budget=self._budgets[kind],
            connect_gate=functools.partial(self.rate_limiter.acquire, "websocket-connect"),
            headers_factory=self._auth_headers if private else None,
            on_open=functools.partial(self._on_open, kind),
            on_resubscribe=functools.partial(self._on_resubscribe, kind),
            on_state=self._on_connection_state,
            # Private streams are silent until a balance or an order changes: no watchdog.
            watchdog=not private,
            # A silent public stream is asked what it carries before it is given up.
            probe=functools.partial(list_subscriptions_request, self._ticket),
            probe_matches=self.refusals.listing_matches,
        )

    @functools.cached_property
    def markets(self) -> MarketDirectory:
        """Upbit's market list: every subscription's codes are checked against it first."""
        from upbit_tui.net.markets import MarketDirectory

        return MarketDirectory(self._fetch_markets)

    async def _fetch_markets(self) -> list[Any]:
        return await self._rest_client().get_markets()

    # ------------------------------------------------------------------ clients (proxies)

    def register_client(self, client_id: str, proxy: WebSocketClientProxy) -> int:
        """Record a live proxy; a second live proxy with the same id is an error."""
        return self.clients.register(client_id, proxy)

    def remove_client(self, client_id: str, token: int | None = None) -> None:
        """Drop every subscription, queue and task of one client (synchronous, idempotent)."""
        self.clients.remove(client_id, token)

    async def subscribe(
        self,
        client_id: str,
        data_type: DataType,
        symbols: Iterable[str] | str | None,
        callback: Callback,
        *,
        error_handler: ErrorHandler | None = None,
        policy: str | None = None,
        queue_size: int | None = None,
        throttle_per_second: float | None = None,
        depth: int | None = None,
        level: float | None = None,
    ) -> None:
        self._require_started()
        record = self.clients.records.get(client_id)
        if record is None:
            raise RuntimeError(f"client '{client_id}' is not registered (was it cleaned up?)")
        if not callable(callback):
            raise TypeError(f"callback must be callable, got {type(callback).__name__}")
        if error_handler is not None and not callable(error_handler):
            raise TypeError(f"error_handler must be callable, got {type(error_handler).__name__}")
        if data_type.is_private:
            reason = self.private_unavailable_reason
            if reason is not None:
                raise PrivateUnavailableError(reason)
        # Validate everything before changing any state, so a bad call loses nothing. An
        # unlisted code would make Upbit refuse the whole union: every component's stream.
        codes = None if symbols is None else normalize(data_type, symbols)
        if codes is not None and codes != ["*"]:
            await self.markets.validate(codes)
            self._require_started()
            if self.clients.records.get(client_id) is not record:
                raise RuntimeError(f"client '{client_id}' was cleaned up while subscribing")
        self.clients.add(
            record,
            data_type,
            symbols,
            callback,
            error_handler=error_handler,
            policy=policy,
            queue_size=queue_size,
            throttle_per_second=throttle_per_second,
            depth=depth,
            level=level,
        )
        if data_type is DataType.BALANCE:
            self.private.seed_balances()  # myAsset has no snapshot

    async def unsubscribe(
        self, client_id: str, data_type: DataType, symbols: Iterable[str] | str | None
    ) -> None:
        codes = None if symbols is None else normalize(data_type, symbols)
        self.clients.unsubscribe(client_id, data_type, codes)

    async def unsubscribe_all(self, client_id: str) -> None:
        self.clients.unsubscribe_all(client_id)

    def client_subscriptions(self, client_id: str) -> dict[str, list[str]]:
        return self.clients.subscriptions(client_id)

    def callbacks_of(self, client_id: str) -> set[int]:
        """ids of the callbacks and error handlers a client's subscriptions still use."""
        return self.clients.callbacks_of(client_id)

    # ------------------------------------------------------------------ desired state

    def _wake(self, kind: str) -> None:
        if kind == PRIVATE:
            if self._private_wanted():
                self._ensure_private()
            elif self._private is not None:
                self._private.request_changed()
            if not self._private_wanted():
                self._spawn(
                    self.private.stop_fallback("no private subscription left"),
                    "upbit-stop-fallback",
                )
        elif self._public is not None:
            self._public.request_changed()

    def _forget_symbol(self, data_type: DataType, symbol: str) -> None:
        """The symbol left the wire: its cached value and trade sequence would go stale."""
        if not data_type.is_private:
            self._router.forget(data_type, [symbol])
        if data_type is DataType.TRADE:
            self.trades.forget(symbol)

    def _request(self, kind: str) -> bytes | None:
        """The whole subscription of one connection as one request, or None if nothing."""
        return self.union.request(kind)

    async def wait_synced(self) -> None:
        """Wait until every connection carries the current union (tests, tools); wrap it in
        `asyncio.timeout()`. Raises RuntimeError when the manager is not running."""
        self._require_started()  # stopped, nothing will ever be synced: say so, do not return
        for conn in (self._public, self._private):
            if conn is not None and self._request(conn.kind) is not None:
                await conn.wait_synced()

    def consolidated_subscription(self) -> dict[str, list[str]]:
        """The union each connection carries or will carry (grace symbols included)."""
        return self.union.consolidated()

    # ------------------------------------------------------------------ control frames

    def _on_listing(self, kind: str, listing: SubscriptionList, epoch: int) -> None:
        conn = self._public if kind == PUBLIC else self._private
        if conn is not None:
            conn.subscription_listed(listing, epoch)

    def _on_error_frame(self, kind: str, name: str, text: str) -> None:
        if name == "INVALID_AUTH" and kind == PRIVATE and self._private is not None:
            self._spawn(
                self._private.auth_failed("private WebSocket refused the API keys (INVALID_AUTH)"),
                "upbit-private-auth-failed",
            )
        elif "TOO MANY" in name or "TOO_MANY" in name:
            self._budgets[kind].pause(1.0)
        elif name == "INVALID_PARAM" and kind == PUBLIC:
            self.refusals.on_refused(text, self._request(PUBLIC))

    @property
    def last_error_frame(self) -> dict[str, str]:
        """The last error frame's text per connection kind."""
        return self.frames.last_error_frame

    def _public_data_frames(self) -> int:
        conn = self._public
        return 0 if conn is None else conn.frames_received - self.frames.control_frames[PUBLIC]

    def _request_refused(self) -> None:
        """Refusals changed the refused codes: rebuild the public request and send it."""
        self.union.changed()
        self._wake(PUBLIC)

    # ------------------------------------------------------------------ (re)connects

    def _on_open(self, kind: str, epoch: int) -> None:
        """A new connection (epoch) is open; runs before its first frame is read."""
        self._router.set_epoch(kind, epoch)
        if epoch > 1:
            self._metrics.record_reconnect()
        if kind == PRIVATE:
            self._spawn(self.private.stop_fallback(), "upbit-stop-fallback")
            return
        self.refusals.resent(self._request(PUBLIC))
        self._catch_up(epoch, refresh_candles=epoch > 1)

    def _on_resubscribe(self, kind: str, epoch: int) -> None:
        """The server had lost our subscription; it is being sent again on the same socket.

        Whatever traded meanwhile never came: fetched exactly as after a reconnect.
        """
        if kind == PUBLIC:
            self.refusals.resent(self._request(PUBLIC))
            self._catch_up(epoch, refresh_candles=True)

    def _catch_up(self, epoch: int, *, refresh_candles: bool) -> None:
        """Backfill missed trades behind held live ones; refresh current candles."""
        self.trades.catch_up(self.union.symbols(DataType.TRADE), epoch)
        if refresh_candles:
            subscribed = self._state.get_consolidated_subscription()
            candles = {t: set(s) for t, s in subscribed.items() if t.is_candle}
            if candles:
                self._spawn(self.snapshots.refresh_candles(candles, epoch), "upbit-refresh-candles")

    # ------------------------------------------------------------------ private side

    @property
    def private_unavailable_reason(self) -> str | None:
        """Why balances/orders cannot be provided at all (None when they can)."""
        return self.private.unavailable_reason

    def is_private_available(self) -> bool:
        return self.private.unavailable_reason is None

    @property
    def private_degraded_reason(self) -> str | None:
        """Set while balances/orders come from REST polling instead of the WebSocket."""
        return self.private.degraded_reason

    def _private_wanted(self) -> bool:
        return self.private.has_keys and not self._state.desired(private=True).is_empty

    def _ensure_private(self) -> None:
        if self._private is None and self._started:
            self._private = self._make_connection(PRIVATE)
            self._private.start()
        elif self._private is not None:
            self._private.request_changed()

    def _auth_headers(self) -> dict[str, str]:
        return self.private.auth_headers()

    async def update_credentials(self, access_key: str, secret_key: str) -> None:
        """Use new API keys (e.g. after the user fixed them); reconnects the private side."""
        from upbit_tui.net.auth import Credentials

        self.private.set_credentials(access_key, secret_key)
        if self._rest is not None:
            self._rest.set_credentials(Credentials(access_key, secret_key))
        self.union.changed()
        if self._private is not None:
            await self._private.reconnect()
        elif self._private_wanted():
            self._ensure_private()
        if DataType.BALANCE in self._state.get_consolidated_subscription():
            self.private.seed_balances()

    def _on_connection_state(self, conn: Connection) -> None:
        if conn.kind == PRIVATE and self._started:
            self.private.on_connection_state(conn, self._private_wanted())

    # ------------------------------------------------------------------ snapshots

    def _live(self, data_type: DataType, symbol: str) -> MarketEvent | None:
        """The latest streamed value when the symbol streams on a live current-epoch socket."""
        conn = self._public
        if conn is None or not conn.is_live:
            return None
        if not self.union.holds(data_type, symbol):
            return None
        event = self._router_latest(data_type, symbol)
        if event is None or event.epoch != self.epochs.current(PUBLIC):
            return None
        return event

    def _rest_client(self) -> UpbitRestClient:
        """The REST client (created on first use, closed by `stop()`)."""
        self._require_started()
        if self._rest is None:
            from upbit_tui.net.rest import UpbitRestClient

            self._rest = UpbitRestClient(self.config, rate_limiter=self.rate_limiter)
        return self._rest

    async def get_ticker_snapshot(self, symbols: Iterable[str] | str) -> list[TickerEvent]:
        return await self.snapshots.tickers(symbols)

    async def get_orderbook_snapshot(
        self, symbols: Iterable[str] | str, depth: int = 30
    ) -> list[OrderbookEvent]:
        return await self.snapshots.orderbooks(symbols, depth)

    async def get_candle_snapshot(
        self, symbols: Iterable[str] | str, timeframe: str, count: int = 200
    ) -> dict[str, list[CandleEvent]]:
        """REST candles, oldest first; count 1 .. 10,000; "1d" / "day" gives day candles."""
        return await self.snapshots.candles(symbols, timeframe, count)

    # ------------------------------------------------------------------ health

    async def reconnect(self) -> None:
        """Drop and re-open every connection now (backoff reset)."""
        for conn in (self._public, self._private):
            if conn is not None and conn.state is not ConnectionState.IDLE:
                await conn.reconnect()

    def connections(self) -> dict[str, Connection]:
        return {c.kind: c for c in (self._public, self._private) if c is not None}

    def connection_status(self) -> dict[str, dict[str, Any]]:
        """Per connection: state, epoch, uptime, reconnects, last error, messages per second."""
        return self.health.connection_status()

    def metrics(self) -> PerformanceMetrics:
        """The spec's section 6.1 record, with status and reasons."""
        return self.health.metrics()

    async def health_check(self) -> dict[str, Any]:
        """JSON-serialisable health: status, reasons, active_connections, metrics, private."""
        return self.health.health()

    def dashboard(self) -> dict[str, Any]:
        """Everything an operator screen shows, JSON-serialisable."""
        return self.health.dashboard()

    # ------------------------------------------------------------------ routing

    def _router_latest(self, data_type: DataType, symbol: str) -> MarketEvent | None:
        return self._router.latest(data_type, symbol)

    def replay_values(
        self, data_type: DataType, symbols: list[str] | None, level: float | None = None
    ) -> list[MarketEvent]:
        """What a new subscriber of `symbols` is handed at once (Router.replay_values)."""
        return self._router.replay_values(data_type, symbols, level)

    def subscriber_stats(self) -> list[dict[str, Any]]:
        """Per-subscriber queue depth, drops, stale events, callback errors."""
        return self._router.stats()


_default_manager: GlobalWebSocketManager | None = None


def get_default_manager(config: Config | None = None) -> GlobalWebSocketManager:
    """A process-wide manager for convenience (created on first call; not started).

    Everything else takes a manager explicitly, so tests and bots can use their own.
    """
    global _default_manager
    if _default_manager is None:
        from upbit_tui.config import load_config

        _default_manager = GlobalWebSocketManager(config or load_config())
    return _default_manager
