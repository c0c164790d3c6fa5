"""RemoteWebSocketManager: the manager interface, served by a gateway over NATS.

    async with RemoteWebSocketManager("nats://127.0.0.1:4222", name="bot-1") as manager:
        async with WebSocketClientProxy("signals", manager) as proxy:
            await proxy.subscribe_trade(["KRW-BTC"], on_trade)

WebSocketClientProxy and everything above it work unchanged. Here:
- events arrive on `upbit.<type>.<code>` and are decoded once (msgspec), then routed by a local
  Router into each subscriber's own bounded queue with its own policy, as in the local manager;
- wishes go to the gateway by request/reply: a call fails alone with the gateway's error
  (UnlistedSymbolError with its suggestions); the whole state is re-sent every `heartbeat`
  seconds as the lease, so a restarted or standby gateway rebuilds it by itself;
- trades are de-duplicated by identity (a window of seen sequential_ids: Upbit's ids are unique,
  not ordered; never one twice, even across a gateway switch), and
  `resume_trades={code: last_sequential_id}` replays what was missed from the gateway's
  JetStream stream before going live, with no Upbit REST call; `keep_wishes_for=S` asks the
  gateway to keep this process's wishes S seconds after it goes silent (crash, restart), so
  its trades keep being recorded meanwhile;
- snapshots and health are asked of the gateway (its live cache first, like the local manager).

One module of ~700 lines on purpose: it is the local manager's whole face (clients, wishes,
lease, replay, health) against one NATS connection, and its parts share that connection's
state; the wire format is protocol.py and the trade window trade_ids.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
import uuid
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import msgspec
import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy

from upbit_tui.client.handles import Handle, open_handle, shrink_handle
from upbit_tui.client.interface import AbstractWebSocketManager, Callback, ErrorHandler, Symbols
from upbit_tui.config import GatewayConfig, HealthConfig, RoutingConfig
from upbit_tui.gateway import protocol
from upbit_tui.gateway.natslink import connect_nats, redact_url
from upbit_tui.gateway.protocol import (
    EVENT_CLASSES,
    GatewayUnavailableError,
    SnapshotRequest,
    SubscribeRequest,
    SyncRequest,
    Wish,
)
from upbit_tui.gateway.trade_ids import SeenTradeIds
from upbit_tui.net.markets import MarketDirectory
from upbit_tui.net.metrics import DEGRADED, MetricsCollector, PerformanceMetrics
from upbit_tui.net.routing import Router
from upbit_tui.wire.events import (
    CandleEvent,
    DataType,
    MarketEvent,
    OrderbookEvent,
    TickerEvent,
)
from upbit_tui.wire.symbols import normalize_symbols

if TYPE_CHECKING:
    from upbit_tui.client.proxy import WebSocketClientProxy

log = logging.getLogger("upbit_tui.gateway.remote")
# A type wanted for at least this many codes (or all) comes in batches, filtered here: one NATS
# message per gateway read instead of one per event. Fewer codes keep their own subjects, so a
# consumer of a few quiet markets does not receive every market's traffic.
BATCH_MIN_CODES = 16


@dataclass(eq=False)
class _Handle:
    """One subscribe call: the local manager's handle (one router subscriber for all its codes,
    so `queue_size` means the same here) and what the gateway is told."""

    data_type: DataType
    local: Handle
    callback_id: int
    handler_id: int | None
    depth: int | None = None
    level: float | None = None

    @property
    def codes(self) -> list[str] | None:
        return self.local.symbols


@dataclass(frozen=True)
class _BatchFilter:
    """The codes a batch receiver keeps (None: all), minus those with their own subject."""

    codes: frozenset[str] | None
    own: frozenset[str]


@dataclass(eq=False)
class _ClientRecord:
    token: int
    proxy: weakref.ReferenceType[Any]
    handles: list[_Handle] = field(default_factory=list)


class RemoteWebSocketManager(AbstractWebSocketManager):
    """See the module docstring."""

    def __init__(
        self,
        nats_url: str,
        *,
        name: str | None = None,
        prefix: str = protocol.DEFAULT_PREFIX,
        routing: RoutingConfig | None = None,
        health: HealthConfig | None = None,
        heartbeat: float = 1.0,
        request_timeout: float = 5.0,
        connect_timeout: float = 2.0,
        resume_trades: Mapping[str, int] | None = None,
        keep_wishes_for: float = 0.0,
        auth: GatewayConfig | None = None,
        batch_min_codes: int | None = BATCH_MIN_CODES,
    ) -> None:
        self.nats_url = nats_url
        self._auth = auth  # [gateway]'s NATS credentials and TLS files
        self.name = name or f"remote-{uuid.uuid4().hex[:6]}"
        self.prefix = prefix
        self.routing = routing or RoutingConfig()
        self.heartbeat = heartbeat
        self.request_timeout = request_timeout
        self.connect_timeout = connect_timeout
        self.session = uuid.uuid4().hex
        self._resume = dict(resume_trades or {})
        # Asked of the gateway: how long our wishes outlive us (0: its lease_ttl).
        self.keep_wishes_for = keep_wishes_for
        self._metrics = MetricsCollector(health)
        self._nc: NatsClient | None = None
        self._router: Router | None = None
        self._clients: dict[str, _ClientRecord] = {}
        self._tokens = itertools.count(1)
        self._nats_subs: dict[str, Any] = {}
        self._last_trade: dict[str, int] = {}  # the resume cursor: last delivered, per market
        self._seen = SeenTradeIds()
        # Markets replaying from JetStream: skip up to and including this id (by position).
        self._replay_from: dict[str, int] = {}
        # Batches (protocol.py): a type with this many codes wanted, or all, takes its batch
        # subject (None: never). `_batched` is what each batch receiver keeps, by type.
        self.batch_min_codes = batch_min_codes
        self._batched: dict[str, _BatchFilter] = {}
        self._batch_prefix = protocol.batch_subject(prefix, "")
        self._js_codes: set[str] = set()  # trade codes on their own JetStream consumer
        self._loop: asyncio.AbstractEventLoop | None = None
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._sync_now = asyncio.Event()
        self._interest_lock = asyncio.Lock()
        self._markets: MarketDirectory | None = None
        self._started = False
        # What the last answer from the gateway said (health, private side).
        self.gateway: dict[str, Any] = {}
        self.gateway_switches = 0
        self.last_gateway_reply: float | None = None
        self.last_gateway_error: str | None = None
        self.duplicate_trades = 0
        self.bad_messages = 0
        self.jetstream_trades = 0

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self._started:
            return
        self._loop = asyncio.get_running_loop()
        self._nc = await connect_nats(
            self.nats_url,
            name=self.name,
            start_within=self.connect_timeout,
            on_disconnected=self._on_disconnected,
            on_reconnected=self._on_reconnected,
            on_error=self._on_nats_error,
            auth=self._auth,
        )
        self._router = Router(metrics=self._metrics, slow_callback=self.routing.slow_callback)
        self._started = True
        self._heartbeat_task = asyncio.create_task(self._heartbeat_loop(), name="remote-heartbeat")

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        # Each step is bounded: a stop (an app quitting, a worker cancelled) never hangs on NATS.
        if self._heartbeat_task is not None:
            self._heartbeat_task.cancel()
            await asyncio.wait([self._heartbeat_task], timeout=STOP_STEP_TIMEOUT)
        for client_id in list(self._clients):
            self.remove_client(client_id)
        nc = self._nc
        if nc is not None and nc.is_connected:
            with contextlib.suppress(Exception):
                await nc.request(
                    protocol.control_subject(self.prefix, "bye"),
                    protocol.encode({"session": self.session}),
                    timeout=min(1.0, self.request_timeout),
                )
        if self._router is not None:
            await _bounded(self._router.aclose())
        if self._markets is not None:
            await _bounded(self._markets.aclose())
        if nc is not None:
            await _bounded(nc.close())

    @property
    def started(self) -> bool:
        return self._started

    def _require_started(self) -> tuple[NatsClient, Router]:
        if not self._started or self._nc is None or self._router is None:
            raise RuntimeError("the remote manager is not started (use `async with` or start())")
        return self._nc, self._router

    async def _request(self, op: str, body: Any, wait: float | None = None) -> Any:
        nc, _ = self._require_started()
        try:
            msg = await nc.request(
                protocol.control_subject(self.prefix, op),
                protocol.encode(body),
                timeout=wait or self.request_timeout,
            )
        except (nats.errors.NoRespondersError, nats.errors.TimeoutError) as exc:
            self.last_gateway_error = f"no gateway answered ({exc.__class__.__name__})"
            raise GatewayUnavailableError(self.last_gateway_error) from None
        except nats.errors.Error as exc:
            self.last_gateway_error = f"NATS: {exc.__class__.__name__}"
            raise GatewayUnavailableError(self.last_gateway_error) from None
        self.last_gateway_reply = time.monotonic()
        self.last_gateway_error = None
        return protocol.unwrap(msg.data)

    # ------------------------------------------------------------------ clients

    def register_client(self, client_id: str, proxy: WebSocketClientProxy) -> int:
        if not isinstance(client_id, str) or not client_id:
            raise ValueError("client_id must be a non-empty string")
        record = self._clients.get(client_id)
        if record is not None:
            if record.proxy() is not None:
                raise ValueError(
                    f"client_id '{client_id}' is already used by a live WebSocketClientProxy; "
                    "each component needs its own id (or clean up the old proxy first)"
                )
            self.remove_client(client_id, record.token)
        token = next(self._tokens)
        self._clients[client_id] = _ClientRecord(token, weakref.ref(proxy))
        return token

    def remove_client(self, client_id: str, token: int | None = None) -> None:
        record = self._clients.get(client_id)
        if record is None or (token is not None and record.token != token):
            return
        del self._clients[client_id]
        for handle in record.handles:
            self._close_handle(handle)
        record.handles.clear()
        self._changed()

    def _close_handle(self, handle: _Handle) -> None:
        if self._router is not None:
            shrink_handle(self._router, handle.local)
        handle.local.sub = None

    # ------------------------------------------------------------------ subscribing

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
        _, router = self._require_started()
        record = self._clients.get(client_id)
        if record is None:
            raise RuntimeError(f"client '{client_id}' is not registered (was it cleaned up?)")
        data_type = DataType(data_type)
        codes = _codes(data_type, symbols)
        if data_type is not DataType.ORDERBOOK and (depth is not None or level is not None):
            raise ValueError(f"depth and level apply to orderbook subscriptions, not {data_type}")
        # Local subscriber and NATS interest first: the first events (Upbit's snapshot) may
        # come right after the gateway accepts the wish. Options and checks as locally.
        local = open_handle(
            router, self.routing, client_id, data_type, codes, callback,
            error_handler=error_handler, policy=policy, queue_size=queue_size,
            throttle_per_second=throttle_per_second, depth=depth, level=level,
        )  # fmt: skip
        handle = _Handle(
            data_type, local, id(callback), None if error_handler is None else id(error_handler),
            depth, level,
        )  # fmt: skip
        record.handles.append(handle)
        await self._refresh_interest()
        wish = Wish(client_id, data_type.value, codes, depth, level)
        try:
            reply = await self._request(
                "subscribe",
                SubscribeRequest(
                    session=self.session, name=self.name, wish=wish, lease=self.keep_wishes_for
                ),
            )
        except GatewayUnavailableError as exc:
            # Kept: the heartbeat delivers it when the gateway is back (as Upbit outages).
            log.warning("gateway unavailable (%s): the subscription waits for it", exc)
        except BaseException:
            if handle in record.handles:
                record.handles.remove(handle)
            self._close_handle(handle)
            await self._refresh_interest()
            raise
        else:
            if isinstance(reply, dict):  # a gateway before the replay answered `true`
                self._replay_latest(data_type, reply.get("latest") or ())

    def _replay_latest(self, data_type: DataType, values: Any) -> None:
        """Hand on the gateway's cached latest values (what a local late subscriber gets at
        once), unless this process already holds the same or newer: a live event may have
        come on the bus before the reply."""
        router = self._router
        if router is None:
            return
        cls = EVENT_CLASSES[data_type]
        for value in values:
            try:
                event: Any = msgspec.convert(value, cls)
            except (msgspec.ValidationError, TypeError):
                self.bad_messages += 1
                continue
            code = event.symbol
            if data_type is DataType.TRADE:
                if code in self._replay_from or not self._seen.add(code, event.sequential_id):
                    continue  # replayed from JetStream, or already delivered
                self._last_trade[code] = event.sequential_id
            else:
                held = router.latest(data_type, code)
                if held is not None and held.timestamp_ms >= event.timestamp_ms:
                    continue
            router.publish(event)

    async def unsubscribe(self, client_id: str, data_type: DataType, symbols: Symbols | None
                          ) -> None:  # fmt: skip
        record = self._clients.get(client_id)
        if record is None:
            return
        data_type = DataType(data_type)
        gone = None if symbols is None else set(_codes(data_type, symbols) or ["*"])
        keep: list[_Handle] = []
        for handle in record.handles:
            if handle.data_type is not data_type:
                keep.append(handle)
                continue
            if gone is None or handle.codes is None:
                if gone is None or "*" in gone:
                    self._close_handle(handle)
                    continue
                keep.append(handle)
                continue
            if not any(c not in gone for c in handle.codes):
                self._close_handle(handle)
                continue
            if self._router is not None:  # same queue: what waits for the rest stays, in order
                shrink_handle(self._router, handle.local, gone)
            else:
                handle.local.symbols = [c for c in handle.codes if c not in gone]
            keep.append(handle)
        record.handles[:] = keep
        self._changed()

    async def unsubscribe_all(self, client_id: str) -> None:
        record = self._clients.get(client_id)
        if record is None:
            return
        for handle in record.handles:
            self._close_handle(handle)
        record.handles.clear()
        self._changed()

    def client_subscriptions(self, client_id: str) -> dict[str, list[str]]:
        out: dict[str, set[str]] = {}
        record = self._clients.get(client_id)
        for handle in record.handles if record is not None else ():
            out.setdefault(handle.data_type.value, set()).update(handle.codes or ["*"])
        return {t: sorted(codes) for t, codes in out.items()}

    def callbacks_of(self, client_id: str) -> set[int]:
        record = self._clients.get(client_id)
        ids: set[int] = set()
        for handle in record.handles if record is not None else ():
            ids.add(handle.callback_id)
            if handle.handler_id is not None:
                ids.add(handle.handler_id)
        return ids

    def wishes(self) -> list[Wish]:
        """Everything this manager's proxies hold, one Wish per (client, type)."""
        merged: dict[tuple[str, DataType], Wish] = {}
        for client_id, record in self._clients.items():
            for handle in record.handles:
                key = (client_id, handle.data_type)
                wish = merged.get(key)
                if wish is None:
                    merged[key] = Wish(
                        client_id, handle.data_type.value,
                        None if handle.codes is None else list(handle.codes),
                        handle.depth, handle.level,
                    )  # fmt: skip
                elif wish.codes is not None:
                    wish.codes = None if handle.codes is None else [
                        *wish.codes, *(c for c in handle.codes if c not in wish.codes)
                    ]  # fmt: skip
        return list(merged.values())

    def _changed(self) -> None:
        """The wishes changed: re-send them now and adjust the NATS interest."""
        self._sync_now.set()

    # ------------------------------------------------------------------ NATS interest

    def _wanted_subjects(
        self,
    ) -> tuple[dict[str, tuple[DataType, str | None]], dict[str, _BatchFilter]]:
        """Subject -> (type, code or None), and the batch filters by type. A type whose codes
        are all, or at least `batch_min_codes`, comes from its batch subject, except the trade
        codes resuming from JetStream, which keep their own ordered consumer."""
        per_type: dict[DataType, set[str] | None] = {}
        for record in self._clients.values():
            for handle in record.handles:
                if handle.codes is None:
                    per_type[handle.data_type] = None
                else:
                    codes = per_type.setdefault(handle.data_type, set())
                    if codes is not None:
                        codes.update(handle.codes)
        wanted: dict[str, tuple[DataType, str | None]] = {}
        batched: dict[str, _BatchFilter] = {}
        for data_type, codes in per_type.items():
            if self._takes_batch(data_type, codes):
                own = self._js_codes | self._resume.keys() if data_type is DataType.TRADE else set()
                own = own if codes is None else own & codes
                subject = protocol.batch_subject(self.prefix, data_type.value)
                wanted[subject] = (data_type, None)
                batched[data_type.value] = _BatchFilter(
                    None if codes is None else frozenset(codes), frozenset(own)
                )
                each: list[str | None] = [*sorted(own)]
            else:
                each = [None] if codes is None else [*sorted(codes)]
            for code in each:
                subject = protocol.subscription_subject(self.prefix, data_type, code)
                wanted[subject] = (data_type, code)
        return wanted, batched

    def _takes_batch(self, data_type: DataType, codes: set[str] | None) -> bool:
        if self.batch_min_codes is None or data_type.is_private:
            return False
        return codes is None or len(codes) >= self.batch_min_codes

    async def _refresh_interest(self) -> None:
        # Serialised: subscribe() and the heartbeat both call this, and two concurrent runs
        # would each open a subscription for the same new subject.
        async with self._interest_lock:
            await self._refresh_interest_now()

    async def _refresh_interest_now(self) -> None:
        nc, _ = self._require_started()
        wanted, batched = self._wanted_subjects()
        # New subjects first, then the batch filters, then the old subjects go: a type moving
        # between its codes' subjects and its batch overlaps (trades are de-duplicated; a
        # ticker may come twice) instead of missing what was published in between.
        for subject, (data_type, code) in wanted.items():
            if subject in self._nats_subs:
                continue
            if code is None and subject.startswith(self._batch_prefix):
                on_message = self._make_batch_receiver(data_type)
            else:
                on_message = self._make_receiver(data_type)
            if data_type is DataType.TRADE and code is not None and code in self._resume:
                self._nats_subs[subject] = await self._replay_trades(subject, code, on_message)
            else:
                self._nats_subs[subject] = await nc.subscribe(subject, cb=on_message)
        self._batched = batched
        for subject in [s for s in self._nats_subs if s not in wanted]:
            sub = self._nats_subs.pop(subject)
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _replay_trades(self, subject: str, code: str, on_message: Any) -> Any:
        """Trades after the cursor from JetStream, then live, on one ordered consumer."""
        nc, _ = self._require_started()
        after = self._resume.pop(code)
        self._replay_from[code] = after
        self._js_codes.add(code)
        try:
            return await nc.jetstream().subscribe(
                subject,
                cb=on_message,
                ordered_consumer=True,
                deliver_policy=DeliverPolicy.ALL,
            )
        except Exception as exc:  # no stream (yet): live trades only, and say so
            log.warning("no JetStream trades for %s (%s): resuming live only", code, exc)
            return await nc.subscribe(subject, cb=on_message)

    def _make_receiver(self, data_type: DataType) -> Callable[[Msg], Any]:
        decoder = msgspec.json.Decoder(EVENT_CLASSES[data_type])
        router = self._router
        assert router is not None
        metrics = self._metrics
        is_trade = data_type is DataType.TRADE

        async def on_message(msg: Msg) -> None:
            try:
                event = decoder.decode(msg.data)
            except (msgspec.DecodeError, msgspec.ValidationError):
                self.bad_messages += 1  # nothing on the bus is trusted more than a frame
                metrics.record_bad_frame()
                return
            if is_trade:
                code = event.symbol  # type: ignore[attr-defined]
                sid = event.sequential_id  # type: ignore[attr-defined]
                if self._replaying(code, sid, msg):
                    return
                if not self._new_trade(code, sid):
                    return
                if _has_js_meta(msg):
                    self.jetstream_trades += 1
            metrics.record_message()
            if event.received_at:
                metrics.latency.record((time.time() - event.received_at) * 1000)
            router.publish(event)

        return on_message

    def _make_batch_receiver(self, data_type: DataType) -> Callable[[Msg], Any]:
        """One batch message: its events of the codes wanted (and not resuming on their own
        subject), each handled as if it had come alone."""
        decoder: msgspec.json.Decoder[list[MarketEvent]] = msgspec.json.Decoder(
            list[EVENT_CLASSES[data_type]]  # type: ignore[valid-type]
        )
        router = self._router
        assert router is not None
        metrics = self._metrics
        kind = data_type.value
        is_trade = data_type is DataType.TRADE

        async def on_batch(msg: Msg) -> None:
            try:
                events = decoder.decode(msg.data)
            except (msgspec.DecodeError, msgspec.ValidationError):
                self.bad_messages += 1
                metrics.record_bad_frame()
                return
            wanted = self._batched.get(kind)
            if wanted is None:
                return  # no longer batched: the codes' own subjects deliver
            codes, own = wanted.codes, wanted.own
            now = time.time()
            delivered = 0
            for event in events:
                code: str = event.symbol  # type: ignore[attr-defined]  # every public event
                if (codes is not None and code not in codes) or code in own:
                    continue
                if is_trade and not self._new_trade(code, event.sequential_id):  # type: ignore[attr-defined]
                    continue
                # Latency sampled as the router does: the batch's first (oldest), every 8th.
                if not delivered & 7 and event.received_at:
                    metrics.latency.record((now - event.received_at) * 1000)
                delivered += 1
                router.publish(event)
            if delivered:
                metrics.record_message(delivered)

        return on_batch

    def _new_trade(self, code: str, sid: int) -> bool:
        """Remember a live trade; False (counted) when it was delivered already."""
        if not self._seen.add(code, sid):
            self.duplicate_trades += 1
            return False
        self._last_trade[code] = sid
        return True

    def _replaying(self, code: str, sid: int, msg: Msg) -> bool:
        """True for a replayed trade at or before the resume cursor: delivered before the
        restart. The stream keeps publish order, so the cursor is found by position; when it
        has left the stream, everything replayed is new."""
        cursor = self._replay_from.get(code)
        if cursor is None:
            return False
        self._seen.add(code, sid)
        if sid == cursor:
            del self._replay_from[code]
            return True
        pending = msg.metadata.num_pending if _has_js_meta(msg) else 0
        if pending == 0:  # the end of the stream without the cursor: it expired
            del self._replay_from[code]
            self._last_trade[code] = sid
            return False
        return True

    def last_trade_ids(self) -> dict[str, int]:
        """The last sequential_id delivered per market: the cursor for `resume_trades`."""
        return dict(self._last_trade)

    # ------------------------------------------------------------------ lease (heartbeat)

    async def _heartbeat_loop(self) -> None:
        # Checks the flag too: nats-py's request() can turn a cancellation into its own
        # TimeoutError, so a cancel alone may not end this loop.
        while self._started:
            self._sync_now.clear()
            with contextlib.suppress(RuntimeError):
                await self._refresh_interest()
            await self._sync()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.heartbeat):
                    await self._sync_now.wait()

    async def _sync(self) -> None:
        body = SyncRequest(
            session=self.session, name=self.name, wishes=self.wishes(), lease=self.keep_wishes_for
        )
        try:
            reply = await self._request("sync", body, wait=max(self.heartbeat, 1.0))
        except GatewayUnavailableError:
            return
        except Exception as exc:
            self.last_gateway_error = str(exc)
            return
        instance = reply.get("instance")
        if self.gateway.get("instance") not in (None, instance):
            self.gateway_switches += 1
            log.warning("now served by gateway %s", reply.get("gateway"))
        self.gateway = reply
        for rejected in reply.get("rejected", ()):
            log.warning("gateway refused %s: %s", rejected.get("type"), rejected.get("error"))

    # ------------------------------------------------------------------ snapshots

    async def get_ticker_snapshot(self, symbols: Symbols) -> list[TickerEvent]:
        codes = normalize_symbols(symbols)  # type: ignore[arg-type]
        data = await self._request("snapshot", SnapshotRequest(kind="ticker", codes=codes))
        return msgspec.convert(data, list[TickerEvent])

    async def get_orderbook_snapshot(self, symbols: Symbols, depth: int = 30
                                     ) -> list[OrderbookEvent]:  # fmt: skip
        if depth not in (1, 5, 15, 30):
            raise ValueError(f"orderbook depth {depth!r} is not one of 1, 5, 15, 30")
        codes = normalize_symbols(symbols)  # type: ignore[arg-type]
        req = SnapshotRequest(kind="orderbook", codes=codes, depth=depth)
        return msgspec.convert(await self._request("snapshot", req), list[OrderbookEvent])

    async def get_candle_snapshot(self, symbols: Symbols, timeframe: str, count: int = 200
                                  ) -> dict[str, list[CandleEvent]]:  # fmt: skip
        codes = normalize_symbols(symbols)  # type: ignore[arg-type]
        req = SnapshotRequest(kind="candle", codes=codes, timeframe=timeframe, count=count)
        data = await self._request("snapshot", req, wait=max(self.request_timeout, 30.0))
        return msgspec.convert(data, dict[str, list[CandleEvent]])

    # ------------------------------------------------------------------ private side

    def is_private_available(self) -> bool:
        return bool(self.gateway.get("private", {}).get("available"))

    @property
    def private_unavailable_reason(self) -> str | None:
        if not self.gateway:
            return "no gateway has answered yet"
        reason: str | None = self.gateway.get("private", {}).get("reason")
        return reason

    # ------------------------------------------------------------------ health

    @property
    def markets(self) -> MarketDirectory:
        if self._markets is None:
            self._markets = MarketDirectory(self._fetch_markets)
        return self._markets

    async def _fetch_markets(self) -> list[str]:
        listed = await self._request("markets", {})
        if not listed:
            raise GatewayUnavailableError("the gateway has no market list yet")
        return list(listed)

    def link_status(self) -> dict[str, Any]:
        """This process's side of the link: NATS, the serving gateway, last answer."""
        nc = self._nc
        age = (
            None if self.last_gateway_reply is None else time.monotonic() - self.last_gateway_reply
        )
        return {
            "nats_url": redact_url(self.nats_url),
            "nats_connected": nc is not None and nc.is_connected,
            "session": self.session,
            "name": self.name,
            "gateway": self.gateway.get("gateway"),
            "gateway_switches": self.gateway_switches,
            "last_reply_s": None if age is None else round(age, 3),
            "last_error": self.last_gateway_error,
            "duplicate_trades_dropped": self.duplicate_trades,
            "jetstream_trades": self.jetstream_trades,
            "bad_messages": self.bad_messages,
        }

    def _link_problem(self) -> str | None:
        nc = self._nc
        if nc is None or not nc.is_connected:
            url = redact_url(self.nats_url)
            return f"NATS unreachable at {url}; subscriptions resume when it is back"
        if self.last_gateway_error is not None:
            return f"gateway: {self.last_gateway_error}; subscriptions resume when it is back"
        return None

    async def health_check(self) -> dict[str, Any]:
        """The gateway's health (its manager, clients) plus this link; degraded when cut off."""
        link = self.link_status()
        try:
            data: dict[str, Any] = await self._request("health", {}, wait=2.0)
        except (GatewayUnavailableError, RuntimeError):
            data = self.metrics().to_dict()
        problem = self._link_problem()
        if problem is not None:
            data["status"] = "critical" if data.get("status") == "critical" else DEGRADED
            reasons = list(data.get("reasons", []))
            data["reasons"] = reasons if problem in reasons else [*reasons, problem]
        data["remote"] = link
        data["subscribers"] = self.subscriber_stats()
        return data

    def metrics(self) -> PerformanceMetrics:
        router = self._router
        problem = self._link_problem() if self._started else None
        return self._metrics.snapshot(
            active_connections=1 if problem is None and self._started else 0,
            connection_uptime=timedelta(0),
            wants_connection=self._started,
            queue_depth=0 if router is None else router.queue_depth(),
            dropped=None if router is None else router.dropped(),
            callback_errors=None if router is None else router.callback_errors(),
            subscriptions={c: self.client_subscriptions(c) for c in self._clients},
            connection_problem=problem,
        )

    def dashboard(self) -> dict[str, Any]:
        m = self.metrics()
        return {
            "timestamp": time.time(),
            "status": m.status,
            "reasons": list(m.reasons),
            "gateway": self.link_status(),
            "messages_per_second": round(m.messages_per_second, 3),
            "latency_ms": {"p50": round(m.p50_latency_ms, 3), "p99": round(m.p99_latency_ms, 3)},
            "queue_depth": m.queue_depth,
            "dropped": m.dropped_message_count,
            "callback_errors": m.callback_error_count,
            "subscriptions": dict(m.subscriptions),
            "subscribers": self.subscriber_stats(),
        }

    def subscriber_stats(self) -> list[dict[str, Any]]:
        return [] if self._router is None else self._router.stats()

    async def reconnect(self) -> None:
        """Re-send every wish now (the gateway owns Upbit's connections)."""
        self._require_started()
        await self._sync()

    # ------------------------------------------------------------------ NATS callbacks

    async def _on_nats_error(self, exc: Exception) -> None:
        log.debug("NATS: %s", exc)

    async def _on_disconnected(self) -> None:
        if self._started:
            log.warning("lost NATS at %s; reconnecting", redact_url(self.nats_url))

    async def _on_reconnected(self) -> None:
        log.info("reconnected to NATS at %s", redact_url(self.nats_url))
        self._sync_now.set()


STOP_STEP_TIMEOUT = 2.0


async def _bounded(step: Any) -> None:
    """Await one clean-up step for at most STOP_STEP_TIMEOUT seconds, whatever it raises."""
    task = asyncio.ensure_future(step)
    done, _ = await asyncio.wait([task], timeout=STOP_STEP_TIMEOUT)
    if not done:
        log.warning("remote manager clean-up step timed out; continuing")
        task.cancel()
    elif not task.cancelled() and task.exception() is not None:
        log.debug("clean-up step failed: %s", task.exception())


def _codes(data_type: DataType, symbols: Symbols | None) -> list[str] | None:
    if symbols is None or data_type is DataType.BALANCE:
        return None
    items = [symbols] if isinstance(symbols, str) else list(symbols)
    if data_type is DataType.ORDER and items == ["*"]:
        return None
    return normalize_symbols(items)


def _has_js_meta(msg: Msg) -> bool:
    return bool(msg.reply) and msg.reply.startswith("$JS.ACK")
