"""Upbit's REST API for snapshots, trade backfill and the private fallback (upbit-protocol.md §7).

Every call waits for its rate-limit group (ratelimit.py), honours `Remaining-Req`, retries 429
and 5xx answers and network errors with backoff (bounded), waits out a 418 block when it is
short and raises otherwise. Results are the typed events of events.py with
`stream_type=StreamType.REST` and `epoch=0`. Exchange amounts arrive as strings and are decoded
to floats. No `Origin` header is ever sent (it would cut Upbit's quotation limit to 1 per 10 s).

Public API::

    client = UpbitRestClient(base_url_or_config, rate_limiter=None, credentials=None, *,
                             timeout=10.0, max_retries=3, retry_base_delay=0.5,
                             retry_max_delay=8.0, max_block_wait=30.0)
    async with client: ...          # or call methods directly and `await client.close()`
    client.set_credentials(creds: Credentials | None)
    client.has_credentials -> bool

    await client.get_markets(is_details=False) -> list[MarketInfo]
    await client.get_tickers(symbols) -> list[TickerEvent]                  # >100 split per call
    await client.get_orderbooks(symbols, depth=30, level=0) -> list[OrderbookEvent]
    await client.get_candles(symbol, timeframe, count=200, to=None) -> list[CandleEvent]
        # oldest first; count > 200 paginates with `to`; timeframe: "1s", "1m".."240m",
        # "minute1".., "candle.1m" / DataType, or "1d" / "day" / "days" (day candles)
    await client.get_trades(symbol, count=100, to=None, cursor=None, days_ago=None)
        -> list[TradeEvent]   # oldest first; the next older page: cursor=result[0].sequential_id
    await client.get_trades_since(symbol, since_sequential_id=None, since_timestamp_ms=None, *,
                                  max_pages=20) -> list[TradeEvent]
        # every trade after the given one, oldest first, de-duplicated, backfilled=True
    await client.get_accounts() -> BalanceEvent                     # all currencies (needs keys)
    await client.get_open_orders(symbol=None, states=("wait", "watch"), *, max_pages=10)
        -> list[OrderEvent]                                        # needs keys
    await client.get_order(uuid) -> OrderEvent                     # one order, any state
    await client.request(method, path, params=None, *, group, auth=False, json_body=None) -> Any
        # the raw call (decoded JSON) for endpoints without a method here (e.g. POST /v1/orders)

Errors (all subclasses of UpbitApiError(status, name, message), worded for the user, never
holding a key): UnknownSymbolError (404 "Code not found", names the unknown codes),
UpbitAuthError (401/403, with what to fix), UpbitBlockedError (418 longer than
`max_block_wait`), UpbitRateLimitedError (429 after every retry), UpbitServerError (5xx after
every retry), UpbitConnectionError (network/timeouts after every retry; status 0),
PrivateUnavailableError (a private call without keys; status 0). Bad arguments (a malformed
market code, an unknown timeframe, a bad count) raise ValueError (SymbolError) before any request.

Layout: this module is the HTTP layer (one request path: limits, retries, errors) and the
endpoints; the error types live in rest_errors.py and the reading of answers into our types in
rest_decoding.py. Both are re-exported here, so callers import everything from this module.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import msgspec
from yarl import URL

from upbit_tui.config import Config
from upbit_tui.net.auth import (
    Credentials,
    Params,
    bearer,
    credentials_from_config,
    query_pairs,
    query_string,
)
from upbit_tui.net.ratelimit import (
    GlobalRateLimiter,
    RateLimitBlockedError,
    parse_block_seconds,
    parse_retry_after,
)
from upbit_tui.net.rest_decoding import (
    MarketInfo,
    amount,
    convert_quotation,
    list_of_objects,
    order_from_rest,
    trade_from_rest,
    unexpected,
)
from upbit_tui.net.rest_errors import (
    AUTH_HINTS,
    PrivateUnavailableError,
    UnknownSymbolError,
    UpbitApiError,
    UpbitAuthError,
    UpbitBlockedError,
    UpbitConnectionError,
    UpbitRateLimitedError,
    UpbitServerError,
)
from upbit_tui.redaction import redact
from upbit_tui.wire.codec import parse_timeframe
from upbit_tui.wire.events import (
    Asset,
    BalanceEvent,
    CandleEvent,
    DataType,
    OrderbookEvent,
    OrderEvent,
    StreamType,
    TickerEvent,
    TradeEvent,
)
from upbit_tui.wire.symbols import normalize_symbol, normalize_symbols

__all__ = [
    "DAY_TIMEFRAMES",
    "MarketInfo",
    "PrivateUnavailableError",
    "UnknownSymbolError",
    "UpbitApiError",
    "UpbitAuthError",
    "UpbitBlockedError",
    "UpbitConnectionError",
    "UpbitRateLimitedError",
    "UpbitRestClient",
    "UpbitServerError",
]

log = logging.getLogger(__name__)

MAX_TICKER_CODES = 100  # per /v1/ticker call (pyupbit's split; Upbit's own cap is undocumented)
MAX_CANDLES_PER_CALL = 200
MAX_TRADES_PER_CALL = 500
MAX_ORDERS_PER_PAGE = 100
ORDERBOOK_DEPTHS = (1, 5, 15, 30)
# Spellings of the day timeframe (REST only: Upbit streams no day candle).
DAY_TIMEFRAMES = {"1d", "d", "day", "days", "candle.1d"}


class _Retry(Exception):
    """Internal: this attempt failed in a way worth another try.

    `backoff` False means the rate limiter already holds the group back (429/418).
    """

    def __init__(self, error: UpbitApiError, *, backoff: bool) -> None:
        self.error = error
        self.backoff = backoff


def _now_ms() -> int:
    return int(time.time() * 1000)


def _format_to(to: datetime | str | None) -> str | None:
    """Upbit's `to` for candles: ISO 8601 in UTC ('2025-06-24T04:56:53Z')."""
    if to is None or isinstance(to, str):
        return to
    if to.tzinfo is None:
        to = to.replace(tzinfo=UTC)
    return to.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _candle_path(timeframe: str | DataType) -> tuple[str, str]:
    """(REST path, event type) for a timeframe."""
    if isinstance(timeframe, str) and timeframe.strip().lower() in DAY_TIMEFRAMES:
        return "/candles/days", "candle.1d"
    data_type = parse_timeframe(timeframe)
    unit = data_type.value.removeprefix("candle.")
    if unit == "1s":
        return "/candles/seconds", data_type.value
    return f"/candles/minutes/{unit.removesuffix('m')}", data_type.value


def _check_count(count: int, name: str = "count") -> None:
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"{name} must be a whole number >= 1, got {count!r}")


class UpbitRestClient:
    """An aiohttp session to Upbit's REST API, shared by snapshots, backfill and the fallback.

    `base_url_or_config` is the REST base without /v1 ("https://api.upbit.com", or the
    simulator's `rest_url`) or a Config (its exchange.rest_url and auth keys are used).
    The session is opened on first use inside the running loop; `close()` ends it.
    """

    def __init__(
        self,
        base_url_or_config: str | Config,
        rate_limiter: GlobalRateLimiter | None = None,
        credentials: Credentials | None = None,
        *,
        timeout: float = 10.0,
        max_retries: int = 3,
        retry_base_delay: float = 0.5,
        retry_max_delay: float = 8.0,
        max_block_wait: float = 30.0,
    ) -> None:
        if isinstance(base_url_or_config, Config):
            base_url = base_url_or_config.exchange.rest_url
            if credentials is None:
                credentials = credentials_from_config(base_url_or_config.auth)
        else:
            base_url = base_url_or_config
        base_url = base_url.rstrip("/").removesuffix("/v1")
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"REST base URL must start with http:// or https://, got {base_url!r}")
        self.base_url = base_url
        self.rate_limiter = rate_limiter or GlobalRateLimiter()
        self._credentials = credentials
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self.max_retries = max_retries
        self.retry_base_delay = retry_base_delay
        self.retry_max_delay = retry_max_delay
        self.max_block_wait = max_block_wait
        self._session: aiohttp.ClientSession | None = None
        # Market codes per /v1/ticker or /v1/orderbook call.
        self.codes_per_call = MAX_TICKER_CODES
        self.requests_sent = 0
        self.retries = 0

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> UpbitRestClient:
        self._get_session()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, headers={"Accept": "application/json"}
            )
        return self._session

    def set_credentials(self, credentials: Credentials | None) -> None:
        """Use other API keys from the next request on (e.g. after the user fixed them)."""
        self._credentials = credentials

    @property
    def has_credentials(self) -> bool:
        return self._credentials is not None

    # ------------------------------------------------------------------ the one request path

    async def request(
        self,
        method: str,
        path: str,
        params: Params | None = None,
        *,
        group: str,
        auth: bool = False,
        json_body: dict[str, Any] | None = None,
    ) -> Any:
        """Send one call under `group`'s limit, with retries; return the decoded JSON body.

        `path` is relative to /v1 ("/ticker"). `auth=True` signs it with a fresh JWT whose
        query_hash covers the params (or the JSON body rendered `k=v&...`).
        """
        if auth and self._credentials is None:
            raise PrivateUnavailableError()
        pairs = query_pairs(params)
        url_text = f"{self.base_url}/v1{path}"
        if pairs:
            url_text += "?" + urlencode(pairs, quote_via=quote)
        url = URL(url_text, encoded=True)
        signed_query = query_string(json_body) if json_body is not None else query_string(pairs)
        last: UpbitApiError | None = None
        for attempt in range(self.max_retries + 1):
            try:
                return await self._attempt(method, url, path, group, auth, signed_query, json_body)
            except _Retry as retry:
                last = retry.error
                if attempt == self.max_retries:
                    break
                self.retries += 1
                delay = self._backoff(attempt) if retry.backoff else 0.0
                log.info("%s %s: %s; retry %d in %.2f s", method, path, last, attempt + 1, delay)
                if delay > 0:
                    await asyncio.sleep(delay)
        assert last is not None
        raise last

    def _backoff(self, attempt: int) -> float:
        base = min(self.retry_base_delay * 2**attempt, self.retry_max_delay)
        return base * random.uniform(0.75, 1.25)

    async def _attempt(
        self,
        method: str,
        url: URL,
        path: str,
        group: str,
        auth: bool,
        signed_query: str,
        json_body: dict[str, Any] | None,
    ) -> Any:
        try:
            await self.rate_limiter.acquire(group, max_block_wait=self.max_block_wait)
        except RateLimitBlockedError as exc:
            raise UpbitBlockedError(group, exc.seconds_left) from None
        headers: dict[str, str] = {}
        if auth:
            assert self._credentials is not None
            headers.update(bearer(self._credentials, signed_query or None))
        session = self._get_session()
        self.requests_sent += 1
        try:
            async with session.request(method, url, headers=headers, json=json_body) as resp:
                body = await resp.read()
                status = resp.status
                resp_headers = {k: v for k, v in resp.headers.items()}
        except (aiohttp.ClientError, TimeoutError) as exc:
            reason = str(exc) or type(exc).__name__
            message = f"cannot reach Upbit ({path}): {self._redact(reason)}"
            raise _Retry(
                UpbitConnectionError(0, "connection_error", message), backoff=True
            ) from None
        self.rate_limiter.observe_remaining_req(group, resp_headers.get("Remaining-Req"))
        log.debug("%s %s -> %d", method, path, status)
        if 200 <= status < 300:
            try:
                return msgspec.json.decode(body) if body else None
            except msgspec.DecodeError:
                raise UpbitApiError(status, "bad_response", f"{path}: answer is not JSON") from None
        name, message = self._error_fields(status, body)
        if status == 429:
            # The limiter pauses the group, so the next acquire waits; no extra sleep here.
            self.rate_limiter.note_too_many_requests(group, parse_retry_after(resp_headers))
            error: UpbitApiError = UpbitRateLimitedError(
                status, name, message, hint="too many requests"
            )
            raise _Retry(error, backoff=False)
        if status == 418:
            seconds = parse_block_seconds(resp_headers, body.decode("utf-8", "replace"))
            self.rate_limiter.note_blocked(group, seconds)
            if seconds > self.max_block_wait:
                raise UpbitBlockedError(group, seconds)
            raise _Retry(UpbitBlockedError(group, seconds), backoff=False)
        if status >= 500:
            error = UpbitServerError(status, name, message, hint="Upbit had a server error")
            raise _Retry(error, backoff=True)
        if status in (401, 403):
            if name == "nonce_used":
                error = UpbitAuthError(status, name, message, hint=AUTH_HINTS[name])
                raise _Retry(error, backoff=False)
            raise UpbitAuthError(status, name, message, hint=AUTH_HINTS.get(name, ""))
        raise UpbitApiError(status, name, message)

    def _error_fields(self, status: int, body: bytes) -> tuple[str, str]:
        """Upbit's `{"error": {"name": ..., "message": ...}}`, redacted, or the HTTP reason."""
        name, message = str(status), ""
        try:
            data = msgspec.json.decode(body)
            error = data.get("error") if isinstance(data, dict) else None
            if isinstance(error, dict):
                name = str(error.get("name", name))
                message = str(error.get("message", ""))
        except msgspec.DecodeError:
            message = body.decode("utf-8", "replace")[:200]
        return self._redact(name), self._redact(message)

    def _redact(self, text: str) -> str:
        text = redact(text)  # a quoted Authorization header (bearer JWT)
        return self._credentials.redact(text) if self._credentials is not None else text

    # ------------------------------------------------------------------ quotation

    async def get_markets(self, is_details: bool = False) -> list[MarketInfo]:
        """Every listed market (with warning/caution flags when `is_details`)."""
        data = await self.request("GET", "/market/all", {"is_details": is_details}, group="market")
        out = []
        for item in list_of_objects(data, "/market/all"):
            event = item.get("market_event") or {}
            out.append(
                MarketInfo(
                    market=item["market"],
                    korean_name=item.get("korean_name", ""),
                    english_name=item.get("english_name", ""),
                    warning=bool(event.get("warning", False)),
                    cautions={k: bool(v) for k, v in (event.get("caution") or {}).items()},
                )
            )
        return out

    async def get_tickers(self, symbols: str | Iterable[str]) -> list[TickerEvent]:
        """Current tickers, in the order asked; more than 100 codes take several calls."""
        codes = normalize_symbols(list(symbols) if not isinstance(symbols, str) else symbols)
        out: list[TickerEvent] = []
        for start in range(0, len(codes), self.codes_per_call):
            chunk = codes[start : start + self.codes_per_call]
            data = await self._quotation("/ticker", {"markets": ",".join(chunk)}, "ticker", chunk)
            now = time.time()
            for item in list_of_objects(data, "/ticker"):
                out.append(convert_quotation(item, TickerEvent, "/ticker", received_at=now))
        return out

    async def get_orderbooks(
        self, symbols: str | Iterable[str], depth: int = 30, level: float = 0
    ) -> list[OrderbookEvent]:
        """Orderbook snapshots with `depth` units (1, 5, 15, 30); `level` groups prices (KRW)."""
        if depth not in ORDERBOOK_DEPTHS:
            raise ValueError(f"orderbook depth {depth!r} is not one of 1, 5, 15, 30")
        codes = normalize_symbols(list(symbols) if not isinstance(symbols, str) else symbols)
        out: list[OrderbookEvent] = []
        for start in range(0, len(codes), self.codes_per_call):
            chunk = codes[start : start + self.codes_per_call]
            params: list[tuple[str, Any]] = [("markets", ",".join(chunk)), ("count", depth)]
            if level:
                params.append(("level", int(level) if float(level).is_integer() else level))
            data = await self._quotation("/orderbook", params, "orderbook", chunk)
            now = time.time()
            for item in list_of_objects(data, "/orderbook"):
                event = convert_quotation(item, OrderbookEvent, "/orderbook", received_at=now)
                del event.orderbook_units[depth:]
                out.append(event)
        return out

    async def get_candles(
        self,
        symbol: str,
        timeframe: str | DataType,
        count: int = 200,
        to: datetime | str | None = None,
    ) -> list[CandleEvent]:
        """The `count` most recent candles before `to` (exclusive), oldest first.

        Upbit serves at most 200 per call; more are fetched page by page going back in time.
        Fewer come back when the market has no older candles (Upbit skips empty intervals).
        """
        code = normalize_symbol(symbol)
        path, event_type = _candle_path(timeframe)
        _check_count(count)
        by_start: dict[str, CandleEvent] = {}
        cursor = _format_to(to)
        while len(by_start) < count:
            wanted = min(MAX_CANDLES_PER_CALL, count - len(by_start))
            params: list[tuple[str, Any]] = [("market", code), ("count", wanted)]
            if cursor is not None:
                params.append(("to", cursor))
            data = await self._quotation(path, params, "candle", [code])
            page = list_of_objects(data, path)
            now = time.time()
            before = len(by_start)
            oldest: str | None = None
            for item in page:
                candle = convert_quotation(
                    item, CandleEvent, path, received_at=now, type=event_type
                )
                by_start.setdefault(candle.candle_date_time_utc, candle)
                if oldest is None or candle.candle_date_time_utc < oldest:
                    oldest = candle.candle_date_time_utc
            if len(page) < wanted or oldest is None or len(by_start) == before:
                break  # no older candles
            cursor = oldest + "Z"
        candles = sorted(by_start.values(), key=lambda c: c.candle_date_time_utc)
        return candles[-count:]

    async def get_trades(
        self,
        symbol: str,
        count: int = 100,
        to: str | None = None,
        cursor: int | None = None,
        days_ago: int | None = None,
    ) -> list[TradeEvent]:
        """Recent trades (at most 500), oldest first.

        `to` is a UTC time of day ("HH:mm:ss", exclusive), `days_ago` 1..7 picks an earlier UTC
        day, `cursor` a sequential_id: only trades before it (Upbit's pagination).
        """
        code = normalize_symbol(symbol)
        _check_count(count)
        if count > MAX_TRADES_PER_CALL:
            raise ValueError(f"count must be at most {MAX_TRADES_PER_CALL} per call, got {count}")
        params: list[tuple[str, Any]] = [("market", code), ("count", count)]
        if to is not None:
            params.append(("to", to))
        if cursor is not None:
            params.append(("cursor", cursor))
        if days_ago is not None:
            params.append(("days_ago", days_ago))
        data = await self._quotation("/trades/ticks", params, "trade", [code])
        now = time.time()
        trades = [trade_from_rest(item, now) for item in list_of_objects(data, "/trades/ticks")]
        trades.reverse()  # Upbit answers newest first
        return trades

    async def get_trades_since(
        self,
        symbol: str,
        since_sequential_id: int | None = None,
        since_timestamp_ms: int | None = None,
        *,
        max_pages: int = 20,
    ) -> list[TradeEvent]:
        """Every trade after the trade `since_sequential_id` (or after `since_timestamp_ms`).

        For gap-free trades after a reconnect: pages back from the newest trade until it reaches
        the given one, then returns the newer trades oldest first, de-duplicated by
        sequential_id and marked `backfilled=True`. Upbit does not promise that sequential_id
        grows with time, so "after" is by position in Upbit's newest-first answer: the walk ends
        at the given trade itself, or at the first trade older than `since_timestamp_ms`
        (trades in that same millisecond are then all returned: callers de-duplicate). Ids are
        compared by size only when neither ends it. Stops after `max_pages` pages of 500
        (logged: older missed trades are then not fetched).
        """
        if since_sequential_id is None and since_timestamp_ms is None:
            raise ValueError("give since_sequential_id or since_timestamp_ms")
        _check_count(max_pages, "max_pages")
        found: dict[int, TradeEvent] = {}
        cursor: int | None = None
        reached = False
        for _ in range(max_pages):
            page = await self.get_trades(symbol, count=MAX_TRADES_PER_CALL, cursor=cursor)
            if not page:
                reached = True
                break
            for trade in reversed(page):  # newest first, as Upbit answers
                if _is_older(trade, since_sequential_id, since_timestamp_ms):
                    reached = True
                    break
                trade.backfilled = True
                found.setdefault(trade.sequential_id, trade)
            if reached or len(page) < MAX_TRADES_PER_CALL:
                reached = True
                break
            cursor = page[0].sequential_id  # the oldest of this page
        if not reached:
            log.warning(
                "trade backfill for %s stopped after %d pages; older missed trades not fetched",
                symbol,
                max_pages,
            )
        # Oldest first by time; within a millisecond, Upbit's own order (its ids may disagree).
        return sorted(reversed(found.values()), key=lambda t: t.trade_timestamp)

    # ------------------------------------------------------------------ exchange (private)

    async def get_accounts(self) -> BalanceEvent:
        """Every currency held (balance, locked, average buy price), as one BalanceEvent."""
        data = await self.request("GET", "/accounts", group="default", auth=True)
        now_ms = _now_ms()
        try:
            assets = [
                Asset(
                    currency=str(item["currency"]),
                    balance=amount(item.get("balance")) or 0.0,
                    locked=amount(item.get("locked")) or 0.0,
                    avg_buy_price=amount(item.get("avg_buy_price")),
                    unit_currency=str(item.get("unit_currency") or "KRW"),
                )
                for item in list_of_objects(data, "/accounts")
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise unexpected("/accounts", exc) from None
        return BalanceEvent(
            assets=assets,
            timestamp_ms=now_ms,
            asset_timestamp=now_ms,
            stream_type=StreamType.REST,
            received_at=time.time(),
        )

    async def get_open_orders(
        self,
        symbol: str | None = None,
        states: Sequence[str] = ("wait", "watch"),
        *,
        max_pages: int = 10,
    ) -> list[OrderEvent]:
        """Open orders (oldest first), every page up to `max_pages` of 100."""
        code = normalize_symbol(symbol) if symbol is not None else None
        _check_count(max_pages, "max_pages")
        bad = [s for s in states if s not in ("wait", "watch")]
        if bad or not states:
            raise ValueError(f"open-order states must be 'wait' and/or 'watch', got {list(states)}")
        out: list[OrderEvent] = []
        for page in range(1, max_pages + 1):
            params: list[tuple[str, Any]] = []
            if code is not None:
                params.append(("market", code))
            params += [
                ("states", list(states)),
                ("page", page),
                ("limit", MAX_ORDERS_PER_PAGE),
                ("order_by", "asc"),
            ]
            data = await self.request("GET", "/orders/open", params, group="default", auth=True)
            items = list_of_objects(data, "/orders/open")
            now = time.time()
            out.extend(order_from_rest(item, now) for item in items)
            if len(items) < MAX_ORDERS_PER_PAGE:
                break
        return out

    async def get_order(self, uuid: str) -> OrderEvent:
        """One order by uuid (GET /v1/order), whatever its state (done and cancelled too)."""
        data = await self.request("GET", "/order", {"uuid": uuid}, group="default", auth=True)
        if not isinstance(data, dict):
            raise UpbitApiError(200, "bad_response", "/order: expected a JSON object")
        return order_from_rest(data, time.time())

    # ------------------------------------------------------------------ decoding

    async def _quotation(self, path: str, params: Params, group: str, codes: Sequence[str]) -> Any:
        try:
            return await self.request("GET", path, params, group=group)
        except UpbitApiError as exc:
            if exc.status == 404 and "code not found" in exc.message.lower():
                raise UnknownSymbolError(await self._unknown_among(codes), exc.message) from None
            raise

    async def _unknown_among(self, codes: Sequence[str]) -> list[str]:
        """Which of `codes` are not listed (all of them when the market list is unavailable)."""
        if len(codes) == 1:
            return list(codes)
        try:
            listed = {m.market for m in await self.get_markets()}
        except UpbitApiError:
            return list(codes)
        return [c for c in codes if c not in listed] or list(codes)


def _is_older(trade: TradeEvent, since_sid: int | None, since_ts: int | None) -> bool:
    """Whether the newest-first walk of get_trades_since has passed the given trade."""
    if trade.sequential_id == since_sid:
        return True
    if since_ts is not None:
        return trade.trade_timestamp < since_ts
    return since_sid is not None and trade.sequential_id < since_sid
