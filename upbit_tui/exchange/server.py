"""ExchangeServer: the simulated Upbit exchange on one aiohttp port.

    async with ExchangeServer(seed=1, markets=20, rate=50.0, host="127.0.0.1", port=0,
                              api_keys={"test-access": "test-secret"}, idle_timeout=120.0,
                              clock=None) as sim:
        sim.websocket_url, sim.private_websocket_url, sim.rest_url, sim.stats(), sim.faults

Why one module of ~770 lines: the handshakes, the per-connection read loop and the timed loops
(trades, candles, idle, status UP, firehose, warm-up) all work on the one session table and
model of this class; everything that is its own job already lives elsewhere (control.py,
faults.py, fanout.py, session.py, limits.py, ws_request.py, rest.py).

One port serves `/websocket/v1` (quotation), `/websocket/v1/private` (myOrder, myAsset,
announcement; JWT on the handshake), `/websocket/v1/info` (indicator, indicator_signal; the
same JWT check; info_channel.py), REST under `/v1/` (rest.py) and the control API under
`/_sim/`:

    GET  /_sim/                        this list
    GET  /_sim/stats                   same JSON as sim.stats()
    POST /_sim/faults/drop             [endpoint=public|private|info]
    POST /_sim/faults/close            [code=1001] [reason=...] [endpoint=]
    POST /_sim/faults/stall            [seconds=] [endpoint=]   (no seconds: until resume)
    POST /_sim/faults/resume
    POST /_sim/faults/error            [name=INVALID_PARAM] [message=...] [endpoint=]
    POST /_sim/faults/malformed        [endpoint=]
    POST /_sim/faults/reject-handshakes  count=N [status=429|418]
    POST /_sim/faults/rest             count=N [status=500]   (429, 418 or 5xx)
    POST /_sim/faults/clear            forget pending faults and end stalls
    POST /_sim/trades                  [count=1] [market=KRW-BTC]  generate trades now
    POST /_sim/rate                    trades_per_second=X
    POST /_sim/firehose                messages_per_second=X (0 = off, inf = as fast as possible)
    POST /_sim/limits/reset            forget every rate-limit counter and block
    POST /_sim/orders                  market= side=bid|ask [ord_type=limit|price|market]
                                       [price=] [volume=] [identifier=] [access_key=]
                                       place an order for a test account (drives myOrder/myAsset)
    POST /_sim/orders/cancel           uuid= | identifier= [access_key=]
    POST /_sim/clock/advance           seconds=X  move the market clock forward (candles close,
                                       /info pushes); it never goes back
    GET  /_sim/announcements           the notices published so far
    POST /_sim/announcements           [category=] [title=] [body=]  publish a notice (CREATED);
                                       without a title, a seeded one (of `category` if given)
    POST /_sim/announcements/update    uuid= [category=] [title=] [body=]  edit one (UPDATED)
Parameters go in the query string (the announcement routes also take them as a JSON object
body, for long Markdown bodies); answers are JSON (`{"ok": true, ...}` or 400 with
`{"error": "..."}`).

Decisions where Upbit is silent (documented for the README; see also ws_request.py, fanout.py,
session.py, market.py, ledger.py):
- Every server frame (data, `{"status":"UP"}`, errors) is a binary frame of UTF-8 JSON.
- Text `PING` (trimmed; text or binary frame) starts `{"status":"UP"}`: one at once, then one
  every `status_up_interval` (10 s) while the connection lives (the docs' wording and example);
  a later PING changes nothing. PING does not count against the message rate limit. WebSocket
  ping frames are answered with pongs.
- Idle timeout: a connection with no frame sent or received for `idle_timeout` seconds is closed
  with code 1001 "idle timeout" (stalled connections are exempt: a hung server does not clean
  up).
- Private endpoint: a token may be used again for a handshake (ccxt reuses its cached token on
  every reconnect against the real exchange); `private_token_reuse="refuse"` makes a reused
  nonce 401 `nonce_used` instead. A missing or invalid token is refused at the handshake with
  HTTP 401 and Upbit's exchange error body (`private_auth_failure="http"`, default), or
  accepted with every request then answered by an INVALID_AUTH error frame
  (`private_auth_failure="error"`).
- Connects: a public handshake with an `Origin` header also spends the IP's Origin budget
  (1 per 10 s, shared with quotation REST). 5/s per IP (per access key for a verified private
  handshake) -> HTTP 429 with `{"error": {"name": 429, "message": "Too Many Requests"}}`;
  continued abuse -> 418 (limits.py).
- Request messages: 5/s and 100/min per connection; over the limit the message is not applied
  and answered `{"error": {"name": "Too Many Requests", ...}}`, and a connection that keeps going
  gets "I'm a teapot" and is closed with 1008 (limits.py, `message_violation`).
- Messages larger than `max_message_size` (1 MiB) close the connection with 1009; a frame that is
  not UTF-8 answers WRONG_FORMAT.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Literal

from aiohttp import WSMsgType, web

from upbit_tui.exchange.announcements import AnnouncementBoard, Notice
from upbit_tui.exchange.auth import AuthError, AuthOk, KeyStore
from upbit_tui.exchange.catalog import DEFAULT_MARKET_COUNT
from upbit_tui.exchange.control import add_control_routes
from upbit_tui.exchange.fanout import Fanout
from upbit_tui.exchange.faults import Endpoint, Faults
from upbit_tui.exchange.info_channel import InfoChannel
from upbit_tui.exchange.info_request import InfoRequest, parse_info_request
from upbit_tui.exchange.limits import BLOCKED, MessageViolation, RateLimits
from upbit_tui.exchange.market import OUT_OF_ORDER_IDS, MarketModel, ModelEvent
from upbit_tui.exchange.records import Trade
from upbit_tui.exchange.rest import Quotation429Body, add_rest_routes, json_errors
from upbit_tui.exchange.session import CLOSE_TIMEOUT, Session
from upbit_tui.exchange.wire import STATUS_UP, error_frame
from upbit_tui.exchange.ws_request import (
    ListRequest,
    RequestError,
    SubscribeRequest,
    UnknownCodes,
    parse_request,
)

logger = logging.getLogger(__name__)
DEFAULT_API_KEYS: Mapping[str, str] = {"test-access": "test-secret"}
PUBLIC_PATH = "/websocket/v1"
PRIVATE_PATH = "/websocket/v1/private"
INFO_PATH = "/websocket/v1/info"
INVALID_AUTH_MESSAGE = "인증 정보가 올바르지 않습니다."
MAX_CLOSED_SESSIONS = 200
_FIREHOSE_HIGH_WATER = 2_000  # frames queued on the busiest connection before generating more
_FIREHOSE_BATCH = 64  # trades per slice before yielding to the senders

PrivateAuthFailure = Literal["http", "error"]


class ExchangeServer:
    """The simulated exchange (async context manager; also start() / stop()).

    seed, markets: the market model (markets: number of KRW markets, listing order).
    rate: trades per second over all markets (0 = only generate_trades() / POST /_sim/trades).
    host, port: where to listen (port 0 = any free port; read .port after start).
    api_keys: access key -> secret key accepted on the private endpoint and REST (each gets a
        test account); default {"test-access": "test-secret"}.
    idle_timeout: seconds without a frame either way before a connection is closed.
    clock: callable returning epoch seconds for every timestamp (None = time.time).
    firehose: total messages per second generated in the subscribed markets (0 = off,
        math.inf = as fast as the connections drain).
    rate_limits, websocket_connects_per_second, websocket_messages_per_second,
        websocket_messages_per_minute, message_violation: Upbit's limits (see limits.py).
    private_auth_failure: "http" (401 at the handshake) or "error" (INVALID_AUTH frames).
    unknown_codes: "error" (INVALID_PARAM) or "ignore" (accepted, no data).
    candle_interval: seconds between candle pushes (Upbit: 1).
    max_message_size: largest request frame accepted (bytes; larger closes with 1009).
    max_backlog: queued frames per connection before it is closed as too slow (1008).
    quotation_429_body: "text" (Upbit's plain "Too many API requests.", the default) or "json"
        (`{"error": {"name": 429, ...}}`) for a quotation REST call over its limit.
    out_of_order_ids: share of live trades (0..1, seeded) whose sequential_id is below the
        previous trade's (still unique), as Upbit allows; default 0.05 so that every client
        meets the weaker promise (0 for strictly increasing ids).
    book_changes_per_trade: orders placed or cancelled (orderbook messages without a trade)
        the `rate` loop makes per trade, in markets chosen by activity.
    status_up_interval: seconds between the `{"status":"UP"}` messages a connection gets once
        it has sent `PING` (Upbit's docs: every 10 s).
    private_token_reuse: "accept" (a private handshake may reuse a token, as ccxt does) or
        "refuse" (401 nonce_used, each handshake needs a fresh nonce).
    btc_markets, usdt_markets: BTC- and USDT-quoted markets listed after the KRW ones (up to
        8 each; default 0).
    announcements_every: mean seconds between seeded notices on the `announcement` stream
        (0 = none, the default: only post_announcement() / POST /_sim/announcements).
    """

    def __init__(
        self,
        *,
        seed: int = 1,
        markets: int = DEFAULT_MARKET_COUNT,
        rate: float = 10.0,
        host: str = "127.0.0.1",
        port: int = 0,
        api_keys: Mapping[str, str] | None = None,
        idle_timeout: float = 120.0,
        clock: Callable[[], float] | None = None,
        firehose: float = 0.0,
        rate_limits: bool = True,
        websocket_connects_per_second: int = 5,
        websocket_messages_per_second: int = 5,
        websocket_messages_per_minute: int = 100,
        message_violation: MessageViolation = "error",
        private_auth_failure: PrivateAuthFailure = "http",
        unknown_codes: UnknownCodes = "error",
        candle_interval: float = 1.0,
        max_message_size: int = 1 << 20,
        max_backlog: int = 20_000,
        quotation_429_body: Quotation429Body = "text",
        out_of_order_ids: float = OUT_OF_ORDER_IDS,
        book_changes_per_trade: float = 4.0,
        status_up_interval: float = 10.0,
        private_token_reuse: Literal["accept", "refuse"] = "accept",
        btc_markets: int = 0,
        usdt_markets: int = 0,
        announcements_every: float = 0.0,
    ) -> None:
        if rate < 0 or firehose < 0 or not announcements_every >= 0:
            raise ValueError("rate, firehose and announcements_every must be >= 0")
        if idle_timeout <= 0 or candle_interval <= 0 or status_up_interval <= 0:
            raise ValueError("idle_timeout, candle_interval and status_up_interval must be > 0")
        self.seed = seed
        self.market_count = markets
        self.rate = rate
        self.firehose = firehose
        self.host = host
        self._requested_port = port
        self.port = port
        self.api_keys = dict(DEFAULT_API_KEYS if api_keys is None else api_keys)
        self.idle_timeout = idle_timeout
        self.clock = clock
        self._clock_offset = 0.0  # advance_clock(): seconds added to `clock`
        self.private_auth_failure: PrivateAuthFailure = private_auth_failure
        self.unknown_codes: UnknownCodes = unknown_codes
        self.candle_interval = candle_interval
        self.max_message_size = max_message_size
        self.max_backlog = max_backlog
        self.quotation_429_body: Quotation429Body = quotation_429_body
        self.out_of_order_ids = out_of_order_ids
        self.book_changes_per_trade = book_changes_per_trade
        self.status_up_interval = status_up_interval
        self.private_token_reuse = private_token_reuse
        self.btc_markets = btc_markets
        self.usdt_markets = usdt_markets
        self.announcements_every = announcements_every
        self.keys = KeyStore(self.api_keys)
        self.limits = RateLimits(
            enabled=rate_limits,
            websocket_connects_per_second=websocket_connects_per_second,
            websocket_messages_per_second=websocket_messages_per_second,
            websocket_messages_per_minute=websocket_messages_per_minute,
            message_violation=message_violation,
        )
        self.faults = Faults(self)
        self._model: MarketModel | None = None
        self._fanout: Fanout | None = None
        self._info: InfoChannel | None = None
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._session_tasks: set[asyncio.Task[None]] = set()
        self._sessions: dict[int, Session] = {}
        self._closed: deque[Session] = deque(maxlen=MAX_CLOSED_SESSIONS)
        self._next_session_id = 1
        self._frames_sent_closed = 0
        self._handshakes_accepted = 0
        self._rest_requests = 0
        self._handshakes_refused: dict[str, int] = {}
        self._market_trades: dict[str, list[int]] = {}  # code -> [count, first_sid, last_sid]
        self._firehose_wakeup = asyncio.Event()
        self.warmed_up = asyncio.Event()  # set once every market's seeded past is built
        self._connections_changed = asyncio.Condition()
        self._started_at = 0.0

    # -- lifecycle -----------------------------------------------------------------------------

    async def __aenter__(self) -> ExchangeServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Build the market, bind the port, start the trade, candle and idle loops."""
        if self._runner is not None:
            raise RuntimeError("ExchangeServer already started")
        self._model = MarketModel(
            seed=self.seed,
            markets=self.market_count,
            clock=self._model_clock,
            api_keys=self.api_keys,
            out_of_order_ids=self.out_of_order_ids,
            btc_markets=self.btc_markets,
            usdt_markets=self.usdt_markets,
        )
        self._fanout = Fanout(self._model, self.seed)
        self._model.add_listener(self._fanout.on_event)
        self._info = InfoChannel(self._model, self._fanout.send)
        self._model.add_listener(self._count_trade)
        app = web.Application(
            client_max_size=self.max_message_size,
            middlewares=[self._count_rest_request, json_errors],
        )
        app.router.add_get(PUBLIC_PATH, self._handle_public)
        app.router.add_get(PRIVATE_PATH, self._handle_private)
        app.router.add_get(INFO_PATH, self._handle_info)
        self._add_control_routes(app)
        add_rest_routes(app, self)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self._requested_port).start()
        except BaseException:  # e.g. the port is taken: release what setup() acquired
            await runner.cleanup()
            raise
        self._runner = runner
        address = runner.addresses[0]
        self.port = int(address[1])
        self._started_at = time.time()
        self._tasks = [
            asyncio.create_task(self._trade_loop(), name="sim-trades"),
            asyncio.create_task(self._candle_loop(), name="sim-candles"),
            asyncio.create_task(self._idle_loop(), name="sim-idle"),
            asyncio.create_task(self._status_up_loop(), name="sim-status-up"),
            asyncio.create_task(self._firehose_loop(), name="sim-firehose"),
            asyncio.create_task(self._warm_up_loop(), name="sim-warm-up"),
        ]
        if self.announcements_every > 0 and not math.isinf(self.announcements_every):
            self._tasks.append(
                asyncio.create_task(self._announcement_loop(), name="sim-announcements")
            )

    async def stop(self) -> None:
        """Close every connection, stop the loops, release the port."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        for session in list(self._sessions.values()):
            session.close_soon(1001, "server shutting down")
        if self._session_tasks:
            _, pending = await asyncio.wait(self._session_tasks, timeout=2.0)
            for task in pending:
                task.cancel()
            for session in list(self._sessions.values()):
                session.abort()
            if pending:
                await asyncio.wait(pending, timeout=1.0)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- public attributes ---------------------------------------------------------------------

    @property
    def model(self) -> MarketModel:
        if self._model is None:
            raise RuntimeError("ExchangeServer not started")
        return self._model

    @property
    def fanout(self) -> Fanout:
        if self._fanout is None:
            raise RuntimeError("ExchangeServer not started")
        return self._fanout

    @property
    def info(self) -> InfoChannel:
        if self._info is None:
            raise RuntimeError("ExchangeServer not started")
        return self._info

    @property
    def announcements(self) -> AnnouncementBoard:
        """The notice board of the `announcement` stream (its notices and subscribers)."""
        return self.fanout.announcements

    def post_announcement(
        self, category: str | None = None, title: str | None = None, body: str = ""
    ) -> Notice:
        """Publish a notice now (CREATED); without a title, a seeded one (of `category` if
        given). Raises ValueError for an unknown category or an empty title."""
        board = self.announcements
        if title is None:
            return board.publish_seeded(self.model.markets(), category)
        return board.post(category or "notice", title, body)

    def update_announcement(
        self,
        notice_uuid: str,
        *,
        category: str | None = None,
        title: str | None = None,
        body: str | None = None,
    ) -> Notice:
        """Edit a published notice now (UPDATED); raises UnknownNotice or ValueError."""
        return self.announcements.edit(notice_uuid, category=category, title=title, body=body)

    @property
    def websocket_url(self) -> str:
        return f"ws://{self._url_host}:{self.port}{PUBLIC_PATH}"

    @property
    def private_websocket_url(self) -> str:
        return f"ws://{self._url_host}:{self.port}{PRIVATE_PATH}"

    @property
    def info_websocket_url(self) -> str:
        """`indicator` / `indicator_signal` (JWT on the handshake, like the private endpoint)."""
        return f"ws://{self._url_host}:{self.port}{INFO_PATH}"

    @property
    def rest_url(self) -> str:
        """REST base without /v1 (like https://api.upbit.com)."""
        return f"http://{self._url_host}:{self.port}"

    @property
    def _url_host(self) -> str:
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return f"[{host}]" if ":" in host else host

    def set_rate(self, trades_per_second: float) -> None:
        if trades_per_second < 0:
            raise ValueError("rate must be >= 0")
        self.rate = trades_per_second

    def set_firehose(self, messages_per_second: float) -> None:
        if messages_per_second < 0:
            raise ValueError("firehose must be >= 0")
        self.firehose = messages_per_second
        self._firehose_wakeup.set()

    async def build_markets(self, codes: Iterable[str]) -> None:
        """Build the seeded past of every named market not built yet, yielding between markets
        (a few ms each), so a request naming many markets right after start-up does not hold
        up every other connection while it waits."""
        model = self.model
        for code in codes:
            if model.ensure_built(code):
                await asyncio.sleep(0)

    def generate_trades(self, count: int = 1, market: str | None = None) -> list[Trade]:
        """Trades now (pushed to subscribers like any other), e.g. with rate=0 in tests."""
        return [self.model.generate_trade(market) for _ in range(count)]

    def push_candles(self) -> None:
        """Run the once-a-second candle push now (tests with a long candle_interval)."""
        self.fanout.push_candles(self.model.take_changed_candles())

    def _model_clock(self) -> float:
        return (self.clock or time.time)() + self._clock_offset

    def advance_clock(self, seconds: float) -> int:
        """Move the market's clock forward (e.g. past a candle's end, so that indicators push
        now instead of in five minutes); returns the /info messages the move pushed."""
        if not seconds >= 0 or math.isinf(seconds):
            raise ValueError("seconds must be a finite number >= 0")
        self._clock_offset += seconds
        return self.push_indicators()

    def push_indicators(self) -> int:
        """Run the /info channel's candle-close check now (it also runs with the candle push);
        returns the messages sent."""
        return self.info.check_closes()

    async def wait_for_connections(self, count: int, endpoint: Endpoint | None = None) -> None:
        """Return once exactly `count` connections (of `endpoint`, or all) are open.

        For tests: e.g. `await asyncio.wait_for(sim.wait_for_connections(1), 5)` after a fault,
        until the client under test has reconnected.
        """
        async with self._connections_changed:
            await self._connections_changed.wait_for(lambda: len(self.sessions(endpoint)) == count)

    async def _notify_connections_changed(self) -> None:
        async with self._connections_changed:
            self._connections_changed.notify_all()

    def sessions(self, endpoint: Endpoint | None = None) -> list[Session]:
        return [
            s
            for s in self._sessions.values()
            if s.is_open and (endpoint is None or s.endpoint == endpoint)
        ]

    # -- statistics ----------------------------------------------------------------------------

    def _count_trade(self, event: ModelEvent) -> None:
        if isinstance(event, Trade):
            entry = self._market_trades.get(event.market)
            if entry is None:
                self._market_trades[event.market] = [1, event.sequential_id, event.sequential_id]
            else:
                entry[0] += 1
                entry[2] = event.sequential_id

    @web.middleware
    async def _count_rest_request(self, request: web.Request, handler: Any) -> web.StreamResponse:
        # Ground truth of REST calls (the gateway's "no Upbit REST call" claims rest on it).
        if request.path.startswith("/v1/"):
            self._rest_requests += 1
        response: web.StreamResponse = await handler(request)
        return response

    def stats(self) -> dict[str, Any]:
        """Ground truth for tests: connections, requests received, messages sent, trades."""
        open_sessions = [s for s in self._sessions.values() if s.is_open]
        items = [s.stats() for s in self._closed] + [s.stats() for s in open_sessions]
        sent = self._frames_sent_closed + sum(s.frames_sent for s in self._sessions.values())
        markets: dict[str, Any] = {}
        if self._model is not None:
            for code in self._model.market_codes():
                count, first, last = self._market_trades.get(code, (0, None, None))
                markets[code] = {
                    "trades": count,
                    "first_sequential_id": first,
                    "last_sequential_id": last,
                }
        return {
            "uptime_s": round(time.time() - self._started_at, 3) if self._started_at else 0.0,
            "rate": self.rate,
            "firehose": "inf" if math.isinf(self.firehose) else self.firehose,
            "connections": {
                "open": len(open_sessions),
                "open_public": sum(1 for s in open_sessions if s.endpoint == "public"),
                "open_private": sum(1 for s in open_sessions if s.endpoint == "private"),
                "open_info": sum(1 for s in open_sessions if s.endpoint == "info"),
                "accepted_total": self._handshakes_accepted,
                "refused": dict(self._handshakes_refused),
                "items": sorted(items, key=lambda item: item["id"]),
            },
            "messages_sent": sent,
            "rest": {"requests": self._rest_requests},
            "messages_enqueued": self._fanout.frames_enqueued if self._fanout else 0,
            "markets": markets,
            "faults": self.faults.pending(),
            "announcements": {
                "notices": len(self._fanout.announcements.notices()) if self._fanout else 0,
                "subscribers": self._fanout.announcements.subscriber_count if self._fanout else 0,
            },
        }

    # -- fault target (see faults.py) ----------------------------------------------------------

    def drop_connections(self, endpoint: Endpoint | None) -> int:
        sessions = self.sessions(endpoint)
        for session in sessions:
            session.close_reason = session.close_reason or "dropped by fault"
            session.abort()
        return len(sessions)

    def close_connections(self, endpoint: Endpoint | None, code: int, reason: str) -> int:
        sessions = self.sessions(endpoint)
        for session in sessions:
            session.close_soon(code, reason)
        return len(sessions)

    def stall_connections(self, endpoint: Endpoint | None, seconds: float | None) -> int:
        until = math.inf if seconds is None else asyncio.get_running_loop().time() + seconds
        sessions = self.sessions(endpoint)
        for session in sessions:
            session.stalled_until = until
        return len(sessions)

    def resume_connections(self) -> int:
        sessions = [s for s in self.sessions() if s.stalled_until is not None]
        for session in sessions:
            session.stalled_until = None
            session.wake()
        return len(sessions)

    def broadcast_raw(self, endpoint: Endpoint | None, data: bytes) -> int:
        return self.fanout.broadcast_raw(self.sessions(endpoint), data)

    def forget_subscriptions(self, endpoint: Endpoint | None) -> int:
        sessions = self.sessions(endpoint)
        for session in sessions:
            self.fanout.unsubscribe(session)
            self.info.unsubscribe(session)
            session.subscription = None
        return len(sessions)

    # -- handshakes ----------------------------------------------------------------------------

    async def _handle_public(self, request: web.Request) -> web.StreamResponse:
        return await self._accept(request, "public")

    async def _handle_private(self, request: web.Request) -> web.StreamResponse:
        return await self._accept(request, "private")

    async def _handle_info(self, request: web.Request) -> web.StreamResponse:
        return await self._accept(request, "info")

    def _refuse(self, status: int, retry_after: float | None = 1.0) -> web.Response:
        key = str(status)
        self._handshakes_refused[key] = self._handshakes_refused.get(key, 0) + 1
        message = "Too Many Requests" if status != BLOCKED else "I'm a teapot"
        headers = (
            {} if retry_after is None else {"Retry-After": str(max(1, math.ceil(retry_after)))}
        )
        return web.json_response(
            {"error": {"name": status, "message": message}}, status=status, headers=headers
        )

    async def _accept(self, request: web.Request, endpoint: Endpoint) -> web.StreamResponse:
        fault = self.faults.take_handshake_fault()
        if fault is not None:
            return self._refuse(fault[0], 1.0 if fault[1] else None)
        access_key: str | None = None
        auth_error: AuthError | None = None
        if endpoint != "public":  # private and info: the same JWT check
            verdict = self.keys.verify(
                request.headers.get("Authorization"),
                query=None,
                one_shot=self.private_token_reuse == "refuse",
            )
            if isinstance(verdict, AuthOk):
                access_key = verdict.access_key
            else:
                auth_error = verdict
        decision = self.limits.websocket_connect(
            access_key or request.remote or "?",
            origin=endpoint == "public" and "Origin" in request.headers,
        )
        if not decision.allowed:
            return self._refuse(decision.status, decision.retry_after)
        if auth_error is not None and self.private_auth_failure == "http":
            key = str(auth_error.status)
            self._handshakes_refused[key] = self._handshakes_refused.get(key, 0) + 1
            return web.json_response(auth_error.body(), status=auth_error.status)
        ws = web.WebSocketResponse(
            autoping=False, heartbeat=None, max_msg_size=self.max_message_size, compress=True
        )
        if not ws.can_prepare(request).ok:
            return web.json_response(
                {"error": {"name": 400, "message": "WebSocket upgrade expected"}}, status=400
            )
        await ws.prepare(request)
        self._handshakes_accepted += 1
        session = Session(
            self._next_session_id,
            endpoint,
            ws,
            request,
            self.limits.new_message_budget(),
            access_key=access_key,
            auth_error=auth_error.name if auth_error is not None else None,
            max_backlog=self.max_backlog,
        )
        self._next_session_id += 1
        self._sessions[session.id] = session
        await self._notify_connections_changed()
        current = asyncio.current_task()
        if current is not None:
            self._session_tasks.add(current)
        sender = asyncio.create_task(session.run_sender(), name=f"sim-send-{session.id}")
        session.sender = sender
        try:
            reader = asyncio.create_task(self._read_loop(session), name=f"sim-read-{session.id}")
            await asyncio.wait({reader, sender}, return_when=asyncio.FIRST_COMPLETED)
            for task in (reader, sender):
                task.cancel()
            for task in (reader, sender):
                with contextlib.suppress(asyncio.CancelledError, ConnectionError, RuntimeError):
                    await task
        finally:
            self._end_session(session)
            await self._notify_connections_changed()
            await self._close_ws(session)
            if current is not None:
                self._session_tasks.discard(current)
        return ws

    @staticmethod
    async def _close_ws(session: Session) -> None:
        """Send the close frame asked for (or 1000); abort if the peer does not let it through."""
        code, reason = session.pending_close or (1000, "")
        try:
            await asyncio.wait_for(
                session.ws.close(code=code, message=reason.encode()), CLOSE_TIMEOUT
            )
        except (TimeoutError, ConnectionError, RuntimeError):
            session.abort()

    def _end_session(self, session: Session) -> None:
        if self._fanout is not None:
            self._fanout.unsubscribe(session)
        if self._info is not None:
            self._info.unsubscribe(session)
        session.closed_at_ms = int(time.time() * 1000)
        if session.close_reason is None:
            code = session.ws.close_code
            session.close_reason = f"{code} closed" if code is not None else "connection lost"
        self._sessions.pop(session.id, None)
        self._frames_sent_closed += session.frames_sent
        self._closed.append(session)

    # -- reading -------------------------------------------------------------------------------

    async def _read_loop(self, session: Session) -> None:
        ws = session.ws
        loop = asyncio.get_running_loop()
        while True:
            msg = await ws.receive()
            now = loop.time()
            session.last_activity = now
            if msg.type == WSMsgType.PING:
                if not session.is_stalled(now):
                    await ws.pong(msg.data)
            elif msg.type == WSMsgType.PONG:
                continue
            elif msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                try:
                    request = self._on_message(session, msg.data)
                    if isinstance(request, InfoRequest):
                        await self.build_markets(request.markets)
                        if session.is_open:
                            self.info.subscribe(session, request)
                    elif request is not None:
                        await self.build_markets(m for t in request.types for m in t.markets)
                        if session.is_open:
                            self.fanout.subscribe(session, request)
                            self._firehose_wakeup.set()
                except Exception:  # a simulator bug: end this connection, keep serving
                    logger.exception("request handling failed on connection %d", session.id)
                    session.close_soon(1011, "internal error")
            else:  # CLOSE, CLOSING, CLOSED, ERROR (e.g. message too big: aiohttp sent 1009)
                if msg.type == WSMsgType.ERROR and session.close_reason is None:
                    session.close_reason = f"{ws.close_code} {msg.data}"
                return

    def _on_message(
        self, session: Session, data: str | bytes
    ) -> SubscribeRequest | InfoRequest | None:
        """Answer what needs no market data; return a subscription for the caller to apply."""
        fanout = self.fanout
        if isinstance(data, bytes):
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                session.record_request(repr(data[:200]))
                fanout.broadcast_raw([session], error_frame("WRONG_FORMAT", "UTF-8 이 아닙니다."))
                return None
        else:
            text = data
        session.record_request(text)
        if text.strip() == "PING":
            now = asyncio.get_running_loop().time()
            if not session.is_stalled(now) and session.status_up_at is None:
                session.status_up_at = now  # the UP stream starts (_status_up_loop)
                fanout.broadcast_raw([session], STATUS_UP)
            return None
        decision = session.budget.check()
        if not decision.allowed:
            self._on_message_limit(session, decision.status)
            return None
        if session.auth_error is not None:
            fanout.broadcast_raw([session], error_frame("INVALID_AUTH", INVALID_AUTH_MESSAGE))
            return None
        if session.endpoint == "info":
            return self._on_info_message(session, text)
        try:
            request = parse_request(
                text,
                private=session.endpoint == "private",
                known_codes=self.model.known_codes,
                unknown_codes=self.unknown_codes,
            )
        except RequestError as error:
            fanout.broadcast_raw([session], error_frame(error.name, error.message))
            return None
        if isinstance(request, ListRequest):
            if request.format is not None:
                session.format = request.format
            fanout.send_list(session, request.ticket)
            return None
        return request

    def _on_info_message(self, session: Session, text: str) -> InfoRequest | None:
        try:
            request = parse_info_request(
                text, known_codes=self.model.known_codes, unknown_codes=self.unknown_codes
            )
        except RequestError as error:
            self.fanout.broadcast_raw([session], error_frame(error.name, error.message))
            return None
        if isinstance(request, ListRequest):
            if request.format is not None:
                session.format = request.format
            self.info.send_list(session, request.ticket)
            return None
        return request

    def _on_message_limit(self, session: Session, status: int) -> None:
        mode = self.limits.message_violation
        if mode == "ignore" and status != BLOCKED:
            return
        if status == BLOCKED:
            name, message = "I'm a teapot", "요청 제한을 반복해서 초과하여 차단되었습니다."
        else:
            name, message = "Too Many Requests", "요청 수 제한을 초과했습니다."
        self.fanout.broadcast_raw([session], error_frame(name, message))
        if status == BLOCKED or mode == "close":
            session.close_soon(1008, name)

    # -- loops ---------------------------------------------------------------------------------

    async def _trade_loop(self) -> None:
        """`rate` trades per second over all markets, spread evenly in time, and
        `book_changes_per_trade` times as many book changes (orders placed and cancelled)."""
        loop = asyncio.get_running_loop()
        last = loop.time()
        carry = book_carry = 0.0
        while True:
            period = 0.05 if self.rate <= 0 else min(0.05, max(0.002, 1.0 / self.rate))
            await asyncio.sleep(period)
            now = loop.time()
            carry += (now - last) * self.rate
            last = now
            count = int(carry)
            carry -= count
            book_carry += count * self.book_changes_per_trade
            changes = int(book_carry)
            book_carry -= changes
            model = self.model
            for _ in range(min(count, 10_000)):
                model.generate_trade()  # listener failures are contained by the model
            for _ in range(min(changes, 50_000)):
                model.generate_book_change()

    async def _warm_up_loop(self) -> None:
        """Build the markets' seeded pasts one at a time (a few ms each) between other work,
        so the first request for every market (GET /v1/ticker/all) does not do it all at once
        while every connection waits."""
        model = self.model
        more = True
        while more:
            more = model.warm_up(1)
            await asyncio.sleep(0)  # a yield to the senders and handlers, not a wait
        self.warmed_up.set()

    async def _candle_loop(self) -> None:
        while True:
            await asyncio.sleep(self.candle_interval)
            try:
                self.push_candles()
            except Exception:  # a simulator bug must not stop the candle stream for good
                logger.exception("candle push failed")
            try:
                self.push_indicators()
            except Exception:
                logger.exception("indicator push failed")

    async def _announcement_loop(self) -> None:
        """A seeded notice (or a follow-up edit) every `announcements_every` s on average."""
        board = self.announcements
        while True:
            await asyncio.sleep(board.next_delay(self.announcements_every))
            try:
                board.publish_seeded(self.model.markets())
            except Exception:  # a simulator bug must not stop the notices for good
                logger.exception("seeded announcement failed")

    async def _status_up_loop(self) -> None:
        """`{"status":"UP"}` every `status_up_interval` s to connections that sent PING."""
        loop = asyncio.get_running_loop()
        interval = self.status_up_interval
        while True:
            await asyncio.sleep(interval / 4)
            now = loop.time()
            due = [
                s
                for s in self.sessions()
                if s.status_up_at is not None and now - s.status_up_at >= interval
            ]
            for session in due:
                session.status_up_at = now
            self.fanout.broadcast_raw(due, STATUS_UP)

    async def _idle_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(1.0, self.idle_timeout / 4))
            now = loop.time()
            for session in self.sessions():
                if session.stalled_until is not None:
                    continue
                if now - session.last_activity > self.idle_timeout:
                    session.close_soon(1001, "idle timeout")

    async def _firehose_loop(self) -> None:
        """Generate trades in subscribed markets to push `firehose` messages per second."""
        loop = asyncio.get_running_loop()
        fanout = self.fanout
        cursor = 0
        while True:
            markets = fanout.subscribed_markets()
            if self.firehose <= 0 or not markets:
                self._firehose_wakeup.clear()
                await self._firehose_wakeup.wait()
                continue
            started = loop.time()
            sent_at_start = fanout.frames_enqueued
            while self.firehose > 0 and markets == fanout.subscribed_markets():
                busiest = max((s.backlog for s in self.sessions()), default=0)
                if busiest > _FIREHOSE_HIGH_WATER:
                    await asyncio.sleep(0.001)
                    continue
                if not math.isinf(self.firehose) and (
                    fanout.frames_enqueued - sent_at_start
                    >= (loop.time() - started) * self.firehose
                ):
                    await asyncio.sleep(0.001)
                    continue
                for _ in range(_FIREHOSE_BATCH):
                    cursor = (cursor + 1) % len(markets)
                    self.model.generate_trade(markets[cursor])
                await asyncio.sleep(0)

    # -- control API ---------------------------------------------------------------------------

    def _add_control_routes(self, app: web.Application) -> None:
        add_control_routes(app, self)
