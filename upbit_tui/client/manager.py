"""GlobalWebSocketManager: one shared Upbit connection per endpoint for many components.

It owns everything with a lifetime: the public and private `Connection`s, the router's drain
tasks, trade backfill tasks, grace timers, the REST client and the private fallback poller. Proxies
(`WebSocketClientProxy`) are the only thing components touch; they call the `_add` / `_remove`
methods here.

How a subscription reaches the wire: the proxy's call updates `SubscriptionStateManager`
(per-client, ref-counted) and the router; the connection is told the desired state changed; its
writer waits `batch_window`, builds ONE request with the whole union (Upbit replaces, never
merges) and sends it only if it differs from what the socket already carries, inside the
per-connection message budget. A symbol that loses its last subscriber stays in the union for
`unsubscribe_grace` seconds so that a pane being re-created does not cause churn.

Unknown markets: one unlisted code in the union would make Upbit refuse the whole request,
every component's stream with it. So each subscribe call is first checked against the market
list (`manager.markets`, markets.py) and a bad code fails that call alone (UnknownSymbolError).
A code Upbit refuses anyway (INVALID_PARAM: the list was unavailable, or the market was delisted
since) is kept off the wire while anyone holds it (`refused_codes`, in health and the dashboard),
so the rest streams and the refused request is not re-sent.

Reliability (issue 4): each (re)connect is a new epoch; the router drops events of older epochs
even from queues. After a reconnect the manager fetches the trades missed during the outage from
REST for every subscribed trade symbol and delivers them (marked `backfilled`) before live ones,
de-duplicated by `sequential_id`; candle subscribers get the current candle refreshed from REST.
A silent public stream is probed with LIST_SUBSCRIPTIONS before it is given up (connection.py):
quiet markets stay connected; a subscription the server lost is sent again on the same socket and
caught up as after a reconnect; only a server that does not answer at all is reconnected.

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
    await manager.reconnect()                        # drop and re-open now
    await manager.update_credentials(access_key, secret_key)  # fixed keys: private reconnects
    manager.is_private_available(), manager.private_unavailable_reason,
    manager.private_degraded_reason                  # set while on REST polling
    await manager.get_ticker_snapshot(...) / get_orderbook_snapshot(...) / get_candle_snapshot(...)
    await manager.wait_synced()                      # the wire carries the current union
    get_default_manager(config=None)                 # a shared one, for convenience only

Nothing here imports Textual.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import inspect
import itertools
import logging
import re
import time
import uuid
import weakref
from collections import deque
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import msgspec

from upbit_tui.client.interface import AbstractWebSocketManager, Callback, ErrorHandler
from upbit_tui.config import AuthConfig, Config
from upbit_tui.net.auth import NO_KEYS_REASON, Credentials, bearer
from upbit_tui.net.connection import Connection, ConnectionState
from upbit_tui.net.metrics import DEGRADED, HEALTHY, MetricsCollector, PerformanceMetrics
from upbit_tui.net.ratelimit import GlobalRateLimiter
from upbit_tui.net.recovery import EpochManager
from upbit_tui.net.routing import Router, Subscriber
from upbit_tui.wire.codec import (
    DesiredSubscription,
    ErrorMessage,
    FrameDecoder,
    OrderbookOptions,
    SubscriptionList,
    build_request,
    list_subscriptions_request,
    listing_matches,
    parse_timeframe,
)
from upbit_tui.wire.events import (
    BalanceEvent,
    CandleEvent,
    DataType,
    MarketEvent,
    OrderbookEvent,
    OrderEvent,
    StreamType,
    TickerEvent,
    TradeEvent,
)
from upbit_tui.wire.subscriptions import SubscriptionDiff, SubscriptionStateManager
from upbit_tui.wire.symbols import normalize_symbols

if TYPE_CHECKING:
    from upbit_tui.client.private import RestFallbackPoller
    from upbit_tui.client.proxy import WebSocketClientProxy
    from upbit_tui.net.markets import MarketDirectory
    from upbit_tui.net.rest import UpbitRestClient

log = logging.getLogger(__name__)

PUBLIC = "public"
PRIVATE = "private"
# Private WebSocket attempts that fail in a row before balances/orders switch to REST polling.
PRIVATE_FALLBACK_AFTER = 3
# Types whose events are events, not state: routed with one subscriber per symbol.
_PER_SYMBOL = frozenset({DataType.TRADE, DataType.ORDER})
# How many REST attempts a trade backfill makes before it gives up for this epoch.
BACKFILL_ATTEMPTS = 3
# How long a trade gap (a backfill that failed) keeps health degraded; the dashboard lists the
# last MAX_TRADE_GAPS gaps for good.
GAP_REPORT_SECONDS = 300.0
MAX_TRADE_GAPS = 50
# Market codes quoted in an error frame's message (Upbit names the code it refuses).
_CODE_IN_TEXT = re.compile(r"\b(?:KRW|BTC|USDT)-[A-Z0-9]{1,15}\b")


@dataclass(eq=False)
class _TradeTrack:
    """Per-symbol trade sequencing: the newest delivered id and trades held during backfill."""

    last_sid: int | None = None
    last_ts: int = 0
    held: list[TradeEvent] | None = None  # not None while a backfill runs


@dataclass
class _ClientRecord:
    client_id: str
    token: int
    proxy: weakref.ReferenceType[WebSocketClientProxy] | None
    handles: list[Any] = field(default_factory=list)


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
        self._credentials: AuthConfig = config.auth
        self._rest = rest_client
        self._own_rest = rest_client is None
        self._state = SubscriptionStateManager()
        self._metrics = MetricsCollector(config.health)
        self._router = self._make_router()
        self._publish = self._router.publish
        self._started = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._budgets = {
            PUBLIC: self.rate_limiter.connection_budget(PUBLIC),
            PRIVATE: self.rate_limiter.connection_budget(PRIVATE),
        }
        self._public: Connection | None = None
        self._private: Connection | None = None
        self._decoders = {PUBLIC: FrameDecoder(), PRIVATE: FrameDecoder()}
        self._public_decode = self._decoders[PUBLIC].decode
        self._clients: dict[str, _ClientRecord] = {}
        self._tokens = itertools.count(1)
        self._grace: dict[
            tuple[DataType, str], tuple[asyncio.TimerHandle, OrderbookOptions | None]
        ] = {}
        self._request_cache: dict[str, tuple[int, bytes | None]] = {}
        self._version = 0
        self._last_options: dict[str, OrderbookOptions] = {}
        self._trades: dict[str, _TradeTrack] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._backfills: dict[str, asyncio.Task[None]] = {}
        self._fallback: RestFallbackPoller | None = None
        self._rates: dict[str, float] = {}
        self._fallback_reason: str | None = None
        self.backfilled_trades = 0
        self.duplicate_trades = 0
        self.backfill_failures = 0
        self.trade_gaps: deque[dict[str, Any]] = deque(maxlen=MAX_TRADE_GAPS)
        self.last_error_frame: dict[str, str] = {}
        # Public codes Upbit refused (INVALID_PARAM): kept off the wire while anyone holds them,
        # so the rest of the union streams and the refused request is not sent again and again.
        self.refused_codes: dict[str, str] = {}
        # A public request Upbit refused without our finding which code: (request, error text).
        self._refused_request: tuple[bytes, str] | None = None

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
        self._loop = asyncio.get_running_loop()
        self._started = True
        self._public = self._make_connection(PUBLIC)
        self._public.start()
        self._spawn(self._pump_metrics(), "upbit-metrics")
        if self._private_wanted():
            self._ensure_private()

    async def stop(self) -> None:
        """Close every socket and end every task this manager owns (idempotent)."""
        if not self._started:
            return
        self._started = False
        for handle, _ in self._grace.values():
            handle.cancel()
        self._grace.clear()
        await self._stop_fallback("stopping")
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
        self._router = self._make_router()
        self._publish = self._router.publish
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
            on_frame=self._on_private_frame if private else self._on_public_frame,
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
            probe_matches=self._listing_matches,
        )

    async def _pump_metrics(self) -> None:
        """Feed frame counts to the rate windows a few times a second (not per frame)."""
        counted: dict[int, int] = {}
        period = 0.25
        while True:
            await asyncio.sleep(period)
            for conn in self.connections().values():
                seen = conn.frames_received
                delta = seen - counted.get(id(conn), 0)
                counted[id(conn)] = seen
                if delta > 0:
                    self._metrics.record_message(delta)
                # Smoothed per-connection rate for the dashboard (about a 2 s memory).
                rate = self._rates.get(conn.kind, 0.0)
                self._rates[conn.kind] = rate + 0.125 * (delta / period - rate)

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
        if not isinstance(client_id, str) or not client_id:
            raise ValueError("client_id must be a non-empty string")
        record = self._clients.get(client_id)
        if record is not None:
            alive = record.proxy is not None and record.proxy() is not None
            if alive:
                raise ValueError(
                    f"client_id '{client_id}' is already used by a live WebSocketClientProxy; "
                    "each component needs its own id (or clean up the old proxy first)"
                )
            # The old proxy was collected but its cleanup has not run yet: run it now.
            self.remove_client(client_id, record.token)
        token = next(self._tokens)
        self._clients[client_id] = _ClientRecord(client_id, token, weakref.ref(proxy))
        return token

    def remove_client(self, client_id: str, token: int | None = None) -> None:
        """Drop every subscription, queue and task of one client (synchronous, idempotent)."""
        record = self._clients.get(client_id)
        if record is None or (token is not None and record.token != token):
            return
        del self._clients[client_id]
        for handle in record.handles:
            self._router_remove(handle)
        record.handles.clear()
        diff = self._state.remove_client(client_id)
        self._after_change(diff)

    def schedule_remove_client(self, client_id: str, token: int) -> None:
        """Called by a finalizer (maybe from the GC on any thread): clean up on our loop."""
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
        record = self._clients.get(client_id)
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
        codes = None if symbols is None else _normalize(data_type, symbols)
        if codes is not None and codes != ["*"]:
            await self.markets.validate(codes)
            self._require_started()
            if self._clients.get(client_id) is not record:
                raise RuntimeError(f"client '{client_id}' was cleaned up while subscribing")
        handle = self._router_add(
            client_id,
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
        try:
            if data_type is DataType.ORDERBOOK:
                diff = self._state.add_subscription(
                    client_id, data_type, symbols, depth=depth, level=level
                )
            else:
                diff = self._state.add_subscription(client_id, data_type, symbols)
        except Exception:
            self._router_remove(handle)  # refused: leave no subscriber behind
            raise
        record.handles.append(handle)
        self._after_change(diff)
        if data_type is DataType.BALANCE:
            # myAsset has no snapshot: seed balances from REST for every new subscriber.
            self._spawn(self._seed_balances(), "upbit-seed-balances")

    async def unsubscribe(
        self, client_id: str, data_type: DataType, symbols: Iterable[str] | str | None
    ) -> None:
        record = self._clients.get(client_id)
        if record is None:
            return
        wanted = None if symbols is None else _normalize(data_type, symbols)
        keep = []
        for handle in record.handles:
            if handle.data_type is data_type and not self._router_remove(handle, wanted):
                continue  # the subscription has no symbols left
            keep.append(handle)
        record.handles[:] = keep
        diff = self._state.remove_subscription(client_id, data_type, wanted)
        self._after_change(diff)

    def client_subscriptions(self, client_id: str) -> dict[str, list[str]]:
        held = self._state.client_subscriptions(client_id)
        return {t.value: sorted(s) for t, s in held.items()}

    def callbacks_of(self, client_id: str) -> set[int]:
        """ids of the callbacks and error handlers a client's subscriptions still use."""
        record = self._clients.get(client_id)
        used: set[int] = set()
        for handle in record.handles if record is not None else ():
            for ref in (handle.callback, handle.error_handler):
                fn = ref() if ref is not None else None
                if fn is not None:
                    used.add(id(fn))
        return used

    async def unsubscribe_all(self, client_id: str) -> None:
        record = self._clients.get(client_id)
        if record is None:
            return
        for handle in record.handles:
            self._router_remove(handle)
        record.handles.clear()
        diff = self._state.remove_client(client_id)
        self._after_change(diff)

    # ------------------------------------------------------------------ desired state

    def _after_change(self, diff: SubscriptionDiff) -> None:
        """Apply a union change: grace for removed public symbols, then wake the connections."""
        if diff.is_empty:
            return
        grace = self.config.connection.unsubscribe_grace
        options = self._state.get_orderbook_options()
        kinds: set[str] = set()
        for data_type, symbols in diff.added.items():
            kinds.add(PRIVATE if data_type.is_private else PUBLIC)
            for symbol in symbols:
                held = self._grace.pop((data_type, symbol), None)
                if held is not None:
                    held[0].cancel()
        for data_type, symbols in diff.removed.items():
            kinds.add(PRIVATE if data_type.is_private else PUBLIC)
            for symbol in symbols:
                if data_type.is_private or grace <= 0 or self._loop is None or not self._started:
                    self._forget_symbol(data_type, symbol)
                    continue
                handle = self._loop.call_later(grace, self._grace_expired, (data_type, symbol))
                self._grace[(data_type, symbol)] = (handle, self._last_options.get(symbol))
        if diff.options_changed:
            kinds.add(PUBLIC)
        self._last_options = options
        self._version += 1
        for kind in kinds:
            self._wake(kind)

    def _wake(self, kind: str) -> None:
        if kind == PRIVATE:
            if self._private_wanted():
                self._ensure_private()
            elif self._private is not None:
                self._private.request_changed()
            if not self._private_wanted():
                self._spawn(
                    self._stop_fallback("no private subscription left"), "upbit-stop-fallback"
                )
        elif self._public is not None:
            self._public.request_changed()

    def _grace_expired(self, key: tuple[DataType, str]) -> None:
        if self._grace.pop(key, None) is None:
            return
        data_type, symbol = key
        if not self._state.is_subscribed(data_type, symbol):
            self._forget_symbol(data_type, symbol)
        self._version += 1
        if self._public is not None:
            self._public.request_changed()

    def _forget_symbol(self, data_type: DataType, symbol: str) -> None:
        """The symbol left the wire: its cached value and trade sequence would go stale."""
        if not data_type.is_private:
            self._router.forget(data_type, [symbol])
        if data_type is DataType.TRADE:
            self._trades.pop(symbol, None)
            task = self._backfills.pop(symbol, None)
            if task is not None:
                task.cancel()

    def _request(self, kind: str) -> bytes | None:
        """The whole subscription of one connection as one request, or None if nothing."""
        cached = self._request_cache.get(kind)
        if cached is not None and cached[0] == self._version:
            return cached[1]
        request = self._build_request(kind)
        self._request_cache[kind] = (self._version, request)
        refused = self._refused_request
        if kind == PUBLIC and refused is not None and request != refused[0]:
            self._refused_request = None  # the subscription changed: the new one is sent
        return request

    def _build_request(self, kind: str) -> bytes | None:
        if kind == PRIVATE:
            if not self._credentials.has_keys:
                return None
            desired = self._state.desired(private=True)
            return None if desired.is_empty else build_request(self._ticket, desired)
        desired = self._state.desired(private=False)
        if self._grace:
            codes = {t: set(s) for t, s in desired.codes.items()}
            orderbook = dict(desired.orderbook)
            for (data_type, symbol), (_, options) in self._grace.items():
                codes.setdefault(data_type, set()).add(symbol)
                if data_type is DataType.ORDERBOOK and symbol not in orderbook:
                    orderbook[symbol] = options or OrderbookOptions()
            desired = DesiredSubscription(
                codes={t: frozenset(s) for t, s in codes.items()}, orderbook=orderbook
            )
        if self.refused_codes:
            desired = self._without_refused(desired)
        return None if desired.is_empty else build_request(self._ticket, desired)

    def _without_refused(self, desired: DesiredSubscription) -> DesiredSubscription:
        """`desired` minus the refused codes (forgetting those nobody holds any more)."""
        held = set().union(*desired.codes.values())
        for code in [c for c in self.refused_codes if c not in held]:
            del self.refused_codes[code]
        refused = set(self.refused_codes)
        codes = {t: frozenset(set(s) - refused) for t, s in desired.codes.items()}
        return dataclasses.replace(
            desired,
            codes={t: s for t, s in codes.items() if s},
            orderbook={c: o for c, o in desired.orderbook.items() if c not in refused},
        )

    async def wait_synced(self) -> None:
        """Wait until every connection carries the current union (tests, tools); wrap it in
        `asyncio.timeout()`."""
        for conn in (self._public, self._private):
            if conn is not None and self._request(conn.kind) is not None:
                await conn.wait_synced()

    def consolidated_subscription(self) -> dict[str, list[str]]:
        """The union each connection carries or will carry (grace symbols included)."""
        out: dict[str, set[str]] = {}
        for data_type, symbols in self._state.get_consolidated_subscription().items():
            out.setdefault(data_type.value, set()).update(symbols)
        for data_type, symbol in self._grace:
            out.setdefault(data_type.value, set()).add(symbol)
        return {t: sorted(s) for t, s in out.items()}

    # ------------------------------------------------------------------ frames

    def _on_public_frame(self, data: bytes, epoch: int, received_at: float) -> bool:
        """Decode and route one public frame. Runs in the read loop: never awaits.

        Frames are counted by the connection and fed to the metrics by `_pump_metrics`.
        """
        result = self._public_decode(data, epoch=epoch, received_at=received_at)
        cls = result.__class__
        if cls is TradeEvent:
            trade: TradeEvent = result  # type: ignore[assignment]
            track = self._trades.get(trade.symbol)
            # Hot path: the next trade of a symbol already in sequence.
            if (
                track is not None
                and track.held is None
                and track.last_sid is not None
                and trade.sequential_id > track.last_sid
                and trade.trade_timestamp
            ):
                track.last_sid = trade.sequential_id
                track.last_ts = trade.trade_timestamp
                self._publish(trade)
            else:
                self._on_trade(trade)
            return True
        if cls is TickerEvent or cls is OrderbookEvent or cls is CandleEvent:
            self._publish(result)  # type: ignore[arg-type]
            return True
        if cls is list:
            for event in result:  # type: ignore[union-attr]
                if event.__class__ is TradeEvent:
                    self._on_trade(event)
                else:
                    self._publish(event)
            return True
        return self._on_control(PUBLIC, result, epoch)

    def _on_private_frame(self, data: bytes, epoch: int, received_at: float) -> bool:
        result = self._decoders[PRIVATE].decode(data, epoch=epoch, received_at=received_at)
        if isinstance(result, BalanceEvent | OrderEvent):
            self._publish(result)
            return True
        if isinstance(result, list):
            for event in result:
                self._publish(event)
            return True
        return self._on_control(PRIVATE, result, epoch)

    def _on_control(self, kind: str, result: object, epoch: int) -> bool:
        if isinstance(result, SubscriptionList):
            # The answer to the watchdog's probe: alive, and what the server thinks we want.
            conn = self._public if kind == PUBLIC else self._private
            if conn is not None:
                conn.subscription_listed(result, epoch)
        elif result is None:
            self._metrics.record_bad_frame()
        elif isinstance(result, ErrorMessage):
            self._metrics.record_bad_frame()
            text = f"{result.name}: {result.message}" if result.message else result.name
            self.last_error_frame[kind] = text
            log.warning("Upbit %s WebSocket error frame: %s", kind, text)
            name = result.name.upper()
            if name == "INVALID_AUTH" and kind == PRIVATE and self._private is not None:
                self._spawn(
                    self._private.auth_failed(
                        "private WebSocket refused the API keys (INVALID_AUTH)"
                    ),
                    "upbit-private-auth-failed",
                )
            elif "TOO MANY" in name or "TOO_MANY" in name:
                self._budgets[kind].pause(1.0)
            elif name == "INVALID_PARAM" and kind == PUBLIC:
                self._on_request_refused(text)
        elif isinstance(result, MarketEvent):
            # A public type on the private socket (or vice versa) is still data.
            self._publish(result)
            return True
        return False

    def _standing_refusal(self) -> str | None:
        """Upbit's error text while the current public request is one it refused."""
        refused = self._refused_request
        if refused is None or refused[0] != self._request(PUBLIC):
            return None
        return refused[1]

    def _listing_matches(self, request: bytes | str, listing: SubscriptionList) -> bool:
        refused = self._refused_request
        if refused is not None and request == refused[0]:
            return True  # the watchdog must not re-send it: it would be refused again, forever
        return listing_matches(request, listing)

    def _on_request_refused(self, text: str) -> None:
        """Upbit refused the public request: keep the codes it refused off the wire.

        Checked codes only reach the wire when the market list was unavailable, or for a market
        delisted since; Upbit then refuses the whole request, so without this every stream
        would stay stopped (and a resend would be refused again).
        """
        union = self._public_codes()
        named = {c for c in _CODE_IN_TEXT.findall(text) if c in union}
        self.markets.expire()
        if named:
            self._refuse(named, text)
        else:  # the message names no code we send: the market list says which are gone
            self._spawn(self._find_refused(text, self._request(PUBLIC)), "upbit-find-refused")

    def _public_codes(self) -> set[str]:
        codes = {s for _, s in self._grace}
        for data_type, symbols in self._state.get_consolidated_subscription().items():
            if not data_type.is_private:
                codes.update(symbols)
        return codes

    async def _find_refused(self, text: str, request: bytes | None) -> None:
        listed = await self.markets.listed(refresh=True)
        union = self._public_codes()
        gone = set() if listed is None else union - listed
        if gone:
            self._refuse(gone, text)
            return
        log.error(
            "Upbit refused the public subscription request (%s) and the market list does not "
            "say which code; not sent again until the subscription changes: %s",
            text,
            ", ".join(sorted(union)),
        )
        if request is not None:
            self._refused_request = (request, text)

    def _refuse(self, codes: set[str], text: str) -> None:
        fresh = codes - self.refused_codes.keys()
        for code in codes:
            self.refused_codes[code] = text
        if not fresh:
            return
        log.error(
            "Upbit refused %s (%s): not streamed while subscribed; the other codes go on",
            ", ".join(sorted(fresh)),
            text,
        )
        self._version += 1
        self._wake(PUBLIC)

    # ------------------------------------------------------------------ trades: gap-free

    def _on_trade(self, event: TradeEvent) -> None:
        track = self._trades.get(event.symbol)
        if track is None:
            track = self._trades[event.symbol] = _TradeTrack()
        if track.held is not None:
            track.held.append(event)  # a backfill is running: live trades wait behind it
            return
        if track.last_sid is not None and event.sequential_id <= track.last_sid:
            self.duplicate_trades += 1  # e.g. the snapshot trade re-sent after a resubscribe
            return
        track.last_sid = event.sequential_id
        track.last_ts = event.trade_timestamp or event.timestamp_ms
        self._publish(event)

    def _on_open(self, kind: str, epoch: int) -> None:
        """A new connection (epoch) is open; runs before its first frame is read."""
        self._router.set_epoch(kind, epoch)
        if epoch > 1:
            self._metrics.record_reconnect()
        if kind == PRIVATE:
            self._spawn(self._stop_fallback(), "upbit-stop-fallback")
            return
        self._catch_up(epoch, refresh_candles=epoch > 1)

    def _on_resubscribe(self, kind: str, epoch: int) -> None:
        """The server had lost our subscription; it is being sent again on the same socket.

        Whatever traded meanwhile never came: fetched exactly as after a reconnect.
        """
        if kind == PUBLIC:
            self._catch_up(epoch, refresh_candles=True)

    def _catch_up(self, epoch: int, *, refresh_candles: bool) -> None:
        """Hold live trades behind a REST backfill per trade symbol; refresh current candles.

        Runs before the frames of the (re)sent subscription are read."""
        for task in self._backfills.values():
            task.cancel()
        self._backfills.clear()
        subscribed = self._state.get_consolidated_subscription()
        trade_symbols = set(subscribed.get(DataType.TRADE, ())) | {
            s for t, s in self._grace if t is DataType.TRADE
        }
        for symbol in trade_symbols:
            track = self._trades.get(symbol)
            if track is None or track.last_sid is None:
                continue  # nothing delivered yet: nothing can be missing
            track.held = []
            self._backfills[symbol] = self._spawn(
                self._backfill_trades(symbol, track, epoch), f"upbit-backfill-{symbol}"
            )
        if refresh_candles:
            candles = {t: set(s) for t, s in subscribed.items() if t.is_candle}
            if candles:
                self._spawn(self._refresh_candles(candles, epoch), "upbit-refresh-candles")

    async def _backfill_trades(self, symbol: str, track: _TradeTrack, epoch: int) -> None:
        """Fetch the trades missed during the outage, deliver them in order, then the held
        live ones; everything de-duplicated by sequential_id. Live trades are released whatever
        happens: a failed backfill is counted and reported as a gap, never a stalled stream."""
        this = asyncio.current_task()
        missed: list[TradeEvent] = []
        failure: str | None = None
        try:
            missed = await self._fetch_missed_trades(symbol, track)
        except asyncio.CancelledError:
            newer = self._backfills.get(symbol)
            if newer is None or newer is this:
                # Shutdown or the symbol left: let what was held through.
                self._backfills.pop(symbol, None)
                self._release_held(track, [])
            # else: a newer connection took over and backfills from the same point.
            raise
        except Exception as exc:
            self.backfill_failures += 1
            failure = f"{type(exc).__name__}: {exc}"[:200]
            log.warning("trade backfill for %s failed: %s", symbol, failure)
        if self._backfills.get(symbol) is this:
            del self._backfills[symbol]
        now = time.time()
        for trade in missed:
            trade.backfilled = True
            trade.epoch = epoch
            trade.stream_type = StreamType.REST
            trade.received_at = now
        if failure is not None:
            self._record_gap(symbol, track, failure)
        self._release_held(track, missed)

    def _record_gap(self, symbol: str, track: _TradeTrack, failure: str) -> None:
        """Trades after the last delivered one and before the first live one held behind the
        failed backfill may be missing: say exactly which range, for health and the dashboard."""
        after = track.last_sid
        resumed = [
            t.sequential_id for t in track.held or () if after is None or t.sequential_id > after
        ]
        gap = {
            "symbol": symbol,
            "after_sequential_id": after,
            # None: no live trade yet; the gap then ends at the next trade delivered.
            "resumed_sequential_id": min(resumed) if resumed else None,
            "detected_at": time.time(),
            "error": failure,
        }
        self.trade_gaps.append(gap)
        log.warning(
            "trades of %s between sequential_id %s and %s may be missing (backfill failed)",
            symbol,
            gap["after_sequential_id"],
            gap["resumed_sequential_id"],
        )

    def _recent_gaps(self) -> list[str]:
        since = time.time() - GAP_REPORT_SECONDS
        return sorted({g["symbol"] for g in self.trade_gaps if g["detected_at"] >= since})

    async def _fetch_missed_trades(self, symbol: str, track: _TradeTrack) -> list[TradeEvent]:
        rest = self._rest_client()
        for attempt in range(BACKFILL_ATTEMPTS):
            try:
                return await rest.get_trades_since(
                    symbol, since_sequential_id=track.last_sid, since_timestamp_ms=track.last_ts
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if attempt == BACKFILL_ATTEMPTS - 1:
                    raise
                log.info("trade backfill for %s failed (%s); retrying", symbol, exc)
                await asyncio.sleep(0.2 * (attempt + 1))
        return []

    def _release_held(self, track: _TradeTrack, missed: list[TradeEvent]) -> None:
        held = track.held or []
        track.held = None
        merged: dict[int, TradeEvent] = {t.sequential_id: t for t in missed}
        merged.update((t.sequential_id, t) for t in held)  # the live copy wins
        for sid in sorted(merged):
            trade = merged[sid]
            if track.last_sid is not None and sid <= track.last_sid:
                self.duplicate_trades += 1
                continue
            if trade.backfilled:
                self.backfilled_trades += 1
            track.last_sid = sid
            track.last_ts = trade.trade_timestamp or trade.timestamp_ms
            self._publish(trade)

    async def _refresh_candles(self, candles: dict[DataType, set[str]], epoch: int) -> None:
        """After a reconnect, re-read the current candle of every subscribed timeframe."""
        rest = self._rest_client()
        for data_type, symbols in candles.items():
            for symbol in sorted(symbols):
                try:
                    latest = await rest.get_candles(symbol, data_type, count=1)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("candle refresh for %s %s failed: %s", symbol, data_type, exc)
                    continue
                if not latest or not self.epochs.is_current_epoch(PUBLIC, epoch):
                    continue
                candle = latest[-1]
                cached = self._router_latest(data_type, symbol)
                if cached is not None and cached.timestamp_ms >= candle.timestamp_ms:
                    continue  # the stream already delivered something newer
                candle.epoch = epoch
                candle.stream_type = StreamType.REST
                candle.received_at = time.time()
                self._publish(candle)

    # ------------------------------------------------------------------ private side

    @property
    def private_unavailable_reason(self) -> str | None:
        """Why balances/orders cannot be provided at all (None when they can)."""
        if not self._credentials.has_keys:
            return NO_KEYS_REASON
        return None

    def is_private_available(self) -> bool:
        return self.private_unavailable_reason is None

    @property
    def private_degraded_reason(self) -> str | None:
        """Set while balances/orders come from REST polling instead of the WebSocket."""
        return self._fallback_reason if self._fallback is not None else None

    def _private_wanted(self) -> bool:
        return self._credentials.has_keys and not self._state.desired(private=True).is_empty

    def _ensure_private(self) -> None:
        if self._private is None and self._started:
            self._private = self._make_connection(PRIVATE)
            self._private.start()
        elif self._private is not None:
            self._private.request_changed()

    def _auth_headers(self) -> dict[str, str]:
        # A fresh token (new nonce) for every handshake; never logged.
        creds = self._credentials
        assert creds.access_key and creds.secret_key
        return bearer(Credentials(creds.access_key.reveal(), creds.secret_key.reveal()))

    async def update_credentials(self, access_key: str, secret_key: str) -> None:
        """Use new API keys (e.g. after the user fixed them); reconnects the private side."""
        self._credentials = AuthConfig(access_key=access_key, secret_key=secret_key)
        if self._rest is not None:
            self._rest.set_credentials(Credentials(access_key, secret_key))
        self._version += 1
        if self._private is not None:
            await self._private.reconnect()
        elif self._private_wanted():
            self._ensure_private()
        if DataType.BALANCE in self._state.get_consolidated_subscription():
            self._spawn(self._seed_balances(), "upbit-seed-balances")

    def _on_connection_state(self, conn: Connection) -> None:
        if conn.kind != PRIVATE or not self._started:
            return
        if conn.state is ConnectionState.LIVE:
            self._spawn(self._stop_fallback(), "upbit-stop-fallback")
            return
        if not self._private_wanted():
            return
        failing = conn.state is ConnectionState.UNAUTHORIZED or (
            conn.state in (ConnectionState.FAILED, ConnectionState.BACKOFF)
            and conn.recovery.attempts >= PRIVATE_FALLBACK_AFTER
        )
        if failing and self._fallback is None:
            reason = conn.last_error or "private WebSocket unavailable"
            self._start_fallback(f"balances and orders polled over REST: {reason}")

    def _start_fallback(self, reason: str) -> None:
        from upbit_tui.client.private import RestFallbackPoller

        self._fallback_reason = reason
        log.warning("%s", reason)
        self._fallback = RestFallbackPoller(
            self._rest_client(),
            self._on_fallback_event,
            interval=self.config.private.rest_poll_interval,
            orders=lambda: DataType.ORDER in self._state.get_consolidated_subscription(),
            balances=lambda: DataType.BALANCE in self._state.get_consolidated_subscription(),
        )
        self._fallback.start()

    async def _stop_fallback(self, why: str = "private WebSocket is back") -> None:
        poller, self._fallback = self._fallback, None
        if poller is not None:
            log.info("%s: REST polling stopped", why)
            await poller.stop()
        self._fallback_reason = None

    def _on_fallback_event(self, event: MarketEvent) -> None:
        # REST data belongs to no connection: epoch 0, so a reconnect never discards it.
        self._publish(event)

    async def _seed_balances(self) -> None:
        from upbit_tui.client.private import seed_balances

        try:
            event = await seed_balances(self._rest_client())
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("could not seed balances from REST: %s", exc)
            return
        self._publish(event)

    # ------------------------------------------------------------------ snapshots

    def _live(self, data_type: DataType, symbol: str) -> MarketEvent | None:
        """The latest streamed value when the symbol streams on a live current-epoch socket."""
        conn = self._public
        if conn is None or not conn.is_live:
            return None
        if (
            not self._state.is_subscribed(data_type, symbol)
            and (data_type, symbol) not in self._grace
        ):
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
        codes = normalize_symbols(symbols)  # type: ignore[arg-type]
        found: dict[str, TickerEvent] = {}
        for code in codes:
            live = self._live(DataType.TICKER, code)
            if isinstance(live, TickerEvent):
                found[code] = live
        missing = [c for c in codes if c not in found]
        if missing:
            for event in await self._rest_client().get_tickers(missing):
                found[event.symbol] = event
        return [found[c] for c in codes if c in found]

    async def get_orderbook_snapshot(
        self, symbols: Iterable[str] | str, depth: int = 30
    ) -> list[OrderbookEvent]:
        if depth not in (1, 5, 15, 30):
            raise ValueError(f"orderbook depth {depth!r} is not one of 1, 5, 15, 30")
        codes = normalize_symbols(symbols)  # type: ignore[arg-type]
        found: dict[str, OrderbookEvent] = {}
        for code in codes:
            live = self._live(DataType.ORDERBOOK, code)
            if isinstance(live, OrderbookEvent) and len(live.orderbook_units) >= depth:
                found[code] = msgspec.structs.replace(
                    live, orderbook_units=live.orderbook_units[:depth]
                )
        missing = [c for c in codes if c not in found]
        if missing:
            for event in await self._rest_client().get_orderbooks(missing, depth=depth):
                found[event.symbol] = event
        return [found[c] for c in codes if c in found]

    async def get_candle_snapshot(
        self, symbols: Iterable[str] | str, timeframe: str, count: int = 200
    ) -> dict[str, list[CandleEvent]]:
        """REST candles, oldest first. Besides the streamable timeframes, "1d" / "day" gives
        day candles (Upbit streams no day candle: the ticker carries the current day's)."""
        from upbit_tui.net.rest import DAY_TIMEFRAMES

        day = isinstance(timeframe, str) and timeframe.strip().lower() in DAY_TIMEFRAMES
        period: str | DataType = "1d" if day else parse_timeframe(timeframe)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"count must be a whole number >= 1, got {count!r}")
        codes = normalize_symbols(symbols)  # type: ignore[arg-type]
        rest = self._rest_client()
        out: dict[str, list[CandleEvent]] = {}
        for code in codes:
            out[code] = await rest.get_candles(code, period, count=count)
        return out

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
        out = {}
        for kind, conn in self.connections().items():
            status = conn.status()
            status["messages_per_second"] = round(self._rates.get(kind, 0.0), 1)
            out[kind] = status
        return out

    def _connection_verdict(self) -> tuple[str | None, list[str]]:
        """(critical problem or None, degraded reasons) from the connections' states."""
        critical: str | None = None
        degraded: list[str] = []
        for conn in self.connections().values():
            if self._request(conn.kind) is None or conn.is_live:
                continue
            what = f"{conn.kind} connection {conn.state.value}"
            if conn.last_error:
                what += f" ({conn.last_error})"
            if conn.is_critical and conn.kind == PUBLIC:
                critical = f"{what} after {conn.recovery.attempts} attempts"
            elif conn.kind == PUBLIC:
                degraded.append(f"{what}; reconnecting")
        if self.private_degraded_reason:
            degraded.append(self.private_degraded_reason)
        refusal = self._standing_refusal()
        if refusal is not None:
            degraded.append(
                f"Upbit refused the subscription request ({refusal}); not sent again until "
                "the subscription changes"
            )
        if self.refused_codes:
            degraded.append(
                f"Upbit refused {', '.join(sorted(self.refused_codes))} "
                f"({next(iter(self.refused_codes.values()))}): not streamed; unsubscribe or "
                "correct the code (the other codes stream)"
            )
        gaps = self._recent_gaps()
        if gaps:
            degraded.append(
                f"trade gap in {', '.join(gaps)}: missed trades could not be fetched from REST "
                "(dashboard trades.gaps has the ranges)"
            )
        return critical, degraded

    def metrics(self) -> PerformanceMetrics:
        """The spec's section 6.1 record, with status and reasons."""
        live = [c for c in self.connections().values() if c.is_live]
        uptime = max((c.uptime for c in live), default=0.0)
        critical, degraded = self._connection_verdict()
        snapshot = self._metrics.snapshot(
            active_connections=len(live),
            connection_uptime=timedelta(seconds=uptime),
            wants_connection=False,
            queue_depth=self._router.queue_depth(),
            dropped=self._router.dropped(),
            callback_errors=self._router.callback_errors(),
            subscriptions=self._state.summary(),
            connection_problem=critical,
        )
        reasons = [*snapshot.reasons, *degraded]
        status = snapshot.status
        if degraded and status == HEALTHY:
            status = DEGRADED
        return dataclasses.replace(
            snapshot,
            reconnection_count=sum(c.reconnects for c in self.connections().values()),
            status=status,
            reasons=tuple(reasons),
        )

    async def health_check(self) -> dict[str, Any]:
        """JSON-serialisable health: status, reasons, active_connections, metrics, private."""
        data = self.metrics().to_dict()
        data["connections"] = self.connection_status()
        data["private"] = {
            "available": self.is_private_available(),
            "reason": self.private_unavailable_reason,
            "mode": "rest-fallback" if self._fallback is not None else "websocket",
            "degraded_reason": self.private_degraded_reason,
        }
        data["trade_gaps"] = [dict(g) for g in self.trade_gaps]
        data["refused_codes"] = dict(self.refused_codes)
        return data

    def dashboard(self) -> dict[str, Any]:
        """Everything an operator screen shows, JSON-serialisable."""
        m = self.metrics()
        return {
            "timestamp": time.time(),
            "status": m.status,
            "reasons": list(m.reasons),
            "connections": self.connection_status(),
            "epochs": self.epochs.snapshot(),
            "messages_per_second": round(m.messages_per_second, 3),
            "latency_ms": {
                "average": round(m.average_latency_ms, 3),
                "p50": round(m.p50_latency_ms, 3),
                "p99": round(m.p99_latency_ms, 3),
                "max": round(m.max_latency_ms, 3),
            },
            "queue_depth": m.queue_depth,
            "dropped": m.dropped_message_count,
            "callback_errors": m.callback_error_count,
            "malformed_frames": m.malformed_message_count,
            "reconnects": m.reconnection_count,
            "rate_limit_tokens": self.rate_limiter.get_remaining_tokens(),
            "subscriptions": self._state.summary(),
            "consolidated": self.consolidated_subscription(),
            "refused_codes": dict(self.refused_codes),
            "markets": self.markets.status() if "markets" in self.__dict__ else None,
            "subscribers": self._router.stats(),
            "trades": {
                "backfilled": self.backfilled_trades,
                "duplicates_dropped": self.duplicate_trades,
                "backfill_failures": self.backfill_failures,
                "gaps": [dict(g) for g in self.trade_gaps],
            },
            "private": {
                "available": self.is_private_available(),
                "reason": self.private_unavailable_reason,
                "mode": "rest-fallback" if self._fallback is not None else "websocket",
                "degraded_reason": self.private_degraded_reason,
            },
            "memory_mb": round(m.memory_usage_mb, 1),
            "cpu_percent": round(m.cpu_usage_percent, 1),
        }

    # ------------------------------------------------------------------ routing

    def _make_router(self) -> Router:
        return Router(metrics=self._metrics, slow_callback=self.config.routing.slow_callback)

    def _router_add(
        self,
        client_id: str,
        data_type: DataType,
        symbols: Iterable[str] | str | None,
        callback: Callback,
        **options: Any,
    ) -> _Handle:
        routing = self.config.routing
        options = {
            "error_handler": options.get("error_handler"),
            "policy": options.get("policy") or routing.policy,
            "queue_size": options.get("queue_size") or routing.queue_size,
            "throttle_per_second": options.get("throttle_per_second")
            or routing.throttle_per_second,
            "depth": options.get("depth"),
            "level": options.get("level"),
        }
        codes = None if symbols is None else _normalize(data_type, symbols)
        if codes is not None and "*" in codes:
            codes = None
        if data_type is DataType.ORDERBOOK:
            _check_depth(options["depth"])
        else:
            options.pop("depth")
            options.pop("level")
        subs: dict[str | None, Subscriber] = {}
        if data_type in _PER_SYMBOL and codes is not None:
            # Events, not state: one subscriber per symbol, so dropping a symbol later never
            # discards (or re-delivers) queued events of the symbols that stay.
            for code in codes:
                subs[code] = self._router.subscribe(
                    data_type, [code], callback, client_id=client_id, weak=True, **options
                )
        else:
            subs[None] = self._router.subscribe(
                data_type, codes, callback, client_id=client_id, weak=True, **options
            )
        handler = options.pop("error_handler")
        weak_handler = None if handler is None else _weak_callable(handler)
        return _Handle(
            data_type, client_id, codes, _weak_callable(callback), weak_handler, options, subs
        )

    def _router_remove(self, handle: _Handle, symbols: Iterable[str] | None = None) -> bool:
        """Remove `symbols` (None = all) from a subscription; True if it still has some."""
        if symbols is None or handle.symbols is None:
            for sub in handle.subs.values():
                self._router.unsubscribe(sub)
            handle.subs.clear()
            return False
        gone = set(symbols)
        left = [s for s in handle.symbols if s not in gone]
        if len(left) == len(handle.symbols):
            return True
        handle.symbols = left
        if None not in handle.subs:  # per-symbol subscribers: close only the dropped ones
            for symbol in gone & handle.subs.keys():
                self._router.unsubscribe(handle.subs.pop(symbol))
            return bool(left)
        # State-like data (ticker, orderbook, candle): rebuild for the remaining symbols; the
        # new subscriber starts from the latest value, so nothing is lost.
        self._router.unsubscribe(handle.subs.pop(None))
        callback = handle.callback()
        if not left or callback is None:
            return False
        handler = handle.error_handler() if handle.error_handler is not None else None
        handle.subs[None] = self._router.subscribe(
            handle.data_type,
            left,
            callback,
            error_handler=handler,
            client_id=handle.client_id,
            weak=True,
            **handle.options,
        )
        return True

    def _router_latest(self, data_type: DataType, symbol: str) -> MarketEvent | None:
        return self._router.latest(data_type, symbol)

    def subscriber_stats(self) -> list[dict[str, Any]]:
        """Per-subscriber queue depth, drops, stale events, callback errors."""
        return self._router.stats()


@dataclass(eq=False)
class _Handle:
    """One subscribe call: what it asked for, so a partial unsubscribe can rebuild it."""

    data_type: DataType
    client_id: str
    symbols: list[str] | None
    callback: Callable[[], Callback | None]  # weak: the manager must not keep owners alive
    error_handler: Callable[[], ErrorHandler | None] | None
    options: dict[str, Any]
    subs: dict[str | None, Subscriber]  # by symbol (trades, orders) or one under None


def _weak_callable(fn: Callable[..., Any]) -> Callable[[], Any]:
    if inspect.ismethod(fn):
        return weakref.WeakMethod(fn)
    try:
        return weakref.ref(fn)
    except TypeError:  # not weakly referenceable (a builtin): the proxy holds it anyway
        return lambda: fn


def _normalize(data_type: DataType, symbols: Iterable[str] | str) -> list[str]:
    items = [symbols] if isinstance(symbols, str) else list(symbols)
    if data_type is DataType.ORDER and items == ["*"]:
        return ["*"]
    return normalize_symbols(items)


def _check_depth(depth: int | None) -> None:
    if depth is not None and (isinstance(depth, bool) or depth not in (1, 5, 15, 30)):
        raise ValueError(f"orderbook depth {depth!r} is not one of 1, 5, 15, 30")


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
