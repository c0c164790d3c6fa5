"""Upbit's REST API as the simulator serves it: quotation snapshots and the private queries.

``add_rest_routes(app, sim)`` registers, under ``/v1/``:

=====================================  ============  =========================================
endpoint                               limit group   parameters
=====================================  ============  =========================================
GET /v1/market/all                     market        is_details
GET /v1/ticker                         ticker        markets (required)
GET /v1/ticker/all                     ticker        quote_currencies (required)
GET /v1/orderbook                      orderbook     markets (required), level, count
GET /v1/orderbook/instruments          orderbook     markets (required)
GET /v1/candles/seconds                candles       market (required), to, count
GET /v1/candles/minutes/{unit}         candles       market (required), to, count
GET /v1/candles/days                   candles       market, to, count, converting_price_unit
GET /v1/trades/ticks                   crix-trades   market (required), to, count, cursor,
                                                     days_ago
GET /v1/accounts                       default       (JWT)
GET /v1/orders/open                    default       (JWT) market, state | states[], page,
                                                     limit, order_by
POST /v1/orders                        order         (JWT) JSON body: market, side, ord_type,
                                                     price, volume, identifier, time_in_force
DELETE /v1/order                       default       (JWT) uuid | identifier
=====================================  ============  =========================================

A POST's ``query_hash`` covers its JSON body rendered ``k=v&k2=v2`` (values as sent, lists as
``k[]=a&k[]=b``), as Upbit specifies.

``sim`` provides ``model`` (a :class:`~upbit_tui.exchange.market.MarketModel`), ``limits``
(:class:`~upbit_tui.exchange.limits.RateLimits`), ``keys``
(:class:`~upbit_tui.exchange.auth.KeyStore`) and optionally ``faults`` with
``take_rest_fault() -> int | None`` (an HTTP status to answer instead of serving the request).

What a response looks like, as recorded from the real server (shared/upbit-protocol.md §5, §7):
key order of the real responses; quotation numbers as JSON numbers and exchange amounts as
strings; ``Content-Type: application/json;charset=UTF-8``; ``Remaining-Req`` on every answer;
quotation answers add ``Limit-By-Ip: Yes``, no-cache headers and a weak ``ETag`` (an
``If-None-Match`` hit answers 304) and are gzip-compressed when the client accepts it. Errors:
quotation ``{"error": {"name": 400, "message": "Invalid parameter. Check the given value!"}}``
(integer name; 404 ``Code not found``), exchange ``{"error": {"name": "invalid_parameter", ...}}``.

Where Upbit is silent, the simulator decides (documented for the README):

- Market codes are exact and uppercase; an unknown one in ``markets`` answers 404 for the whole
  request; duplicates are answered once, in request order.
- ``/v1/orderbook``: ``count`` above 30 is served as 30 (as the WebSocket's ``.N``); an
  unsupported ``level`` leaves that market out (Upbit: "empty list").
- ``/v1/trades/ticks``: with ``to`` or ``days_ago`` only that UTC day's trades are returned
  (``to`` = exclusive time of day); without either, the latest trades whatever their day. The
  model keeps the last 5,000 trades per market.
- Candle ``to`` without a zone is UTC; an unescaped ``+09:00`` that arrived as `` 09:00`` is read
  as ``+09:00``. Candles come newest first.
- 429 body ``{"error": {"name": 429, "message": "Too Many Requests"}}`` (exchange: name
  ``"too_many_requests"``); 418 body names 418 (exchange: ``"blocked"``) and says how long the
  block lasts; both carry ``Retry-After`` (whole seconds) and ``Remaining-Req`` with ``sec=0``.
- Faulted calls (``take_rest_fault``) answer that status with the same bodies (5xx: name = the
  status, message = its reason) and consume no rate-limit budget.
- Exchange calls are limited per access key once the token verifies, otherwise per IP; an
  authentication failure still answers ``Remaining-Req``.
- ``DELETE /v1/order`` answers the order as it stood before the cancel (``state: "wait"``, as in
  the recorded real answer: cancelling is asynchronous on Upbit); the cancel is immediate here.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from http import HTTPStatus
from typing import Any, Protocol

from aiohttp import web
from multidict import MultiDict, MultiMapping

from upbit_tui.exchange.auth import AuthError, KeyStore
from upbit_tui.exchange.history import DAY_S, utc_midnight
from upbit_tui.exchange.ledger import OrderRejected
from upbit_tui.exchange.limits import RateLimits
from upbit_tui.exchange.market import MarketModel, UnknownMarket
from upbit_tui.exchange.records import (
    Balance,
    Candle,
    MarketInfo,
    Order,
    Orderbook,
    Ticker,
    Trade,
    iso_kst,
)
from upbit_tui.exchange.ticks import price_decimals

__all__ = ["RestSimulator", "add_rest_routes"]

Json = Any
_Query = MultiMapping[str]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CONTENT_TYPE = "application/json;charset=UTF-8"
_QUOTATION_HEADERS = {
    "Cache-Control": "no-cache, no-store, max-age=0, must-revalidate",
    "Pragma": "no-cache",
    "Expires": "0",
    "Limit-By-Ip": "Yes",
    "Vary": "origin,access-control-request-method,access-control-request-headers,accept-encoding",
}
_EXCHANGE_HEADERS = {
    "Cache-Control": "no-cache, no-store, max-age=0, must-revalidate",
    "Vary": "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
}

INVALID_PARAMETER = "Invalid parameter. Check the given value!"
TYPE_MISMATCH = "Type mismatch error. Check the parameters type!"
MISSING_PARAMETER = "Missing request parameter error. Check the required parameters!"
CODE_NOT_FOUND = "Code not found"

MINUTE_UNITS = (1, 3, 5, 10, 15, 30, 60, 240)
MAX_CANDLES = 200
MAX_TRADES = 500
MAX_ORDERBOOK_UNITS = 30
MAX_ORDERS_PER_PAGE = 100
QUOTE_CURRENCIES = ("KRW", "BTC", "USDT")
_CAUTIONS = (
    "PRICE_FLUCTUATIONS",
    "TRADING_VOLUME_SOARING",
    "DEPOSIT_AMOUNT_SOARING",
    "GLOBAL_PRICE_DIFFERENCES",
    "CONCENTRATION_OF_SMALL_ACCOUNTS",
)


class RestSimulator(Protocol):
    """What the REST routes need from the simulator object."""

    @property
    def model(self) -> MarketModel: ...

    @property
    def limits(self) -> RateLimits: ...

    @property
    def keys(self) -> KeyStore: ...


class _RequestError(Exception):
    """A request Upbit refuses: status and the error body's name and message."""

    def __init__(self, status: int, name: int | str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.name = name
        self.message = message


def _quotation_error(status: int, message: str) -> _RequestError:
    return _RequestError(status, status, message)


def _exchange_error(status: int, name: str, message: str) -> _RequestError:
    return _RequestError(status, name, message)


# -- rendering ---------------------------------------------------------------------------------


def _dumps(body: Json) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _plain(value: float) -> str:
    """A number as Upbit's exchange API strings it: no exponent, no trailing zeros ("0.0005")."""
    text = format(Decimal(repr(float(value))), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _optional_plain(value: float | None) -> str | None:
    return None if value is None else _plain(value)


def _number(value: float) -> int | float:
    """A level as Upbit prints it: 10000 and 0 as integers, 0.1 as a fraction."""
    return int(value) if float(value).is_integer() else value


def _market_json(info: MarketInfo, details: bool) -> dict[str, Json]:
    body: dict[str, Json] = {
        "market": info.market,
        "korean_name": info.korean_name,
        "english_name": info.english_name,
    }
    if details:
        body["market_event"] = {
            "warning": bool(info.warning),
            "caution": dict.fromkeys(_CAUTIONS, False),
        }
    return body


def _ticker_json(t: Ticker) -> dict[str, Json]:
    return {
        "market": t.market,
        "trade_date": t.trade_date,
        "trade_time": t.trade_time,
        "trade_date_kst": t.trade_date_kst,
        "trade_time_kst": t.trade_time_kst,
        "trade_timestamp": t.trade_timestamp,
        "opening_price": t.opening_price,
        "high_price": t.high_price,
        "low_price": t.low_price,
        "trade_price": t.trade_price,
        "prev_closing_price": t.prev_closing_price,
        "change": t.change,
        "change_price": t.change_price,
        "change_rate": t.change_rate,
        "signed_change_price": t.signed_change_price,
        "signed_change_rate": t.signed_change_rate,
        "trade_volume": t.trade_volume,
        "acc_trade_price": t.acc_trade_price,
        "acc_trade_price_24h": t.acc_trade_price_24h,
        "acc_trade_volume": t.acc_trade_volume,
        "acc_trade_volume_24h": t.acc_trade_volume_24h,
        "highest_52_week_price": t.highest_52_week_price,
        "highest_52_week_date": t.highest_52_week_date,
        "lowest_52_week_price": t.lowest_52_week_price,
        "lowest_52_week_date": t.lowest_52_week_date,
        "timestamp": t.timestamp,
    }


def _orderbook_json(book: Orderbook) -> dict[str, Json]:
    # Real REST responses list each unit bid-first (the WebSocket's are ask-first).
    return {
        "market": book.market,
        "timestamp": book.timestamp,
        "total_ask_size": book.total_ask_size,
        "total_bid_size": book.total_bid_size,
        "orderbook_units": [
            {
                "bid_price": u.bid_price,
                "bid_size": u.bid_size,
                "ask_price": u.ask_price,
                "ask_size": u.ask_size,
            }
            for u in book.orderbook_units
        ],
        "level": _number(book.level),
    }


def _candle_json(c: Candle, *, unit: int | None = None) -> dict[str, Json]:
    body: dict[str, Json] = {
        "market": c.market,
        "candle_date_time_utc": c.candle_date_time_utc,
        "candle_date_time_kst": c.candle_date_time_kst,
        "opening_price": c.opening_price,
        "high_price": c.high_price,
        "low_price": c.low_price,
        "trade_price": c.trade_price,
        "timestamp": c.timestamp,
        "candle_acc_trade_price": c.candle_acc_trade_price,
        "candle_acc_trade_volume": c.candle_acc_trade_volume,
    }
    if unit is not None:
        body["unit"] = unit
    return body


def _day_candle_json(c: Candle, *, converting: bool) -> dict[str, Json]:
    body = _candle_json(c)
    prev = c.prev_closing_price if c.prev_closing_price is not None else c.opening_price
    decimals = max(price_decimals(c.trade_price), price_decimals(prev))
    body["prev_closing_price"] = prev
    body["change_price"] = round(c.trade_price - prev, decimals)
    body["change_rate"] = round((c.trade_price - prev) / prev, 10) if prev else 0.0
    if converting:
        body["converted_trade_price"] = c.trade_price  # every simulated market quotes in KRW
    return body


def _trade_json(t: Trade) -> dict[str, Json]:
    return {
        "market": t.market,
        "trade_date_utc": t.trade_date_utc,
        "trade_time_utc": t.trade_time_utc,
        "timestamp": t.trade_timestamp,
        "trade_price": t.trade_price,
        "trade_volume": t.trade_volume,
        "prev_closing_price": t.prev_closing_price,
        "change_price": t.change_price,
        "ask_bid": t.ask_bid,
        "sequential_id": t.sequential_id,
    }


def _balance_json(b: Balance) -> dict[str, Json]:
    return {
        "currency": b.currency,
        "balance": _plain(b.balance),
        "locked": _plain(b.locked),
        "avg_buy_price": _plain(b.avg_buy_price),
        "avg_buy_price_modified": b.avg_buy_price_modified,
        "unit_currency": b.unit_currency,
    }


def _order_json(o: Order, *, listing: bool = True) -> dict[str, Json]:
    """Key order of the real responses (2026-03): list endpoints add ``executed_funds``,
    the create and cancel answers do not."""
    body: dict[str, Json] = {
        "uuid": o.uuid,
        "side": o.side,
        "ord_type": o.ord_type,
        "price": _optional_plain(o.price),
        "state": o.state,
        "market": o.market,
        "created_at": iso_kst(o.created_at),
        "volume": _optional_plain(o.volume),
        "remaining_volume": _optional_plain(o.remaining_volume),
        "prevented_volume": _plain(o.prevented_volume),
        "reserved_fee": _plain(o.reserved_fee),
        "remaining_fee": _plain(o.remaining_fee),
        "paid_fee": _plain(o.paid_fee),
        "locked": _plain(o.locked),
        "prevented_locked": _plain(o.prevented_locked),
        "executed_volume": _plain(o.executed_volume),
        "executed_funds": _plain(o.executed_funds),
        "trades_count": o.trades_count,
    }
    if not listing:
        del body["executed_funds"]
    for key in ("time_in_force", "identifier", "smp_type"):
        value = getattr(o, key)
        if value is not None:
            body[key] = value
    return body


# -- parameters --------------------------------------------------------------------------------


class _Params:
    """Query parameters with Upbit's quotation errors for missing, mistyped or invalid values."""

    def __init__(self, request: web.Request) -> None:
        self._query = request.query

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self._query.get(name)
        if value is None or value.strip() == "":
            if required:
                raise _quotation_error(400, MISSING_PARAMETER)
            return None
        return value.strip()

    def integer(self, name: str, default: int, low: int, high: int | None = None) -> int:
        raw = self.text(name)
        if raw is None:
            return default
        if not re.fullmatch(r"[+-]?\d+", raw):
            raise _quotation_error(400, TYPE_MISMATCH)
        value = int(raw)
        if value < low or (high is not None and value > high):
            raise _quotation_error(400, INVALID_PARAMETER)
        return value

    def boolean(self, name: str, default: bool) -> bool:
        raw = self.text(name)
        if raw is None:
            return default
        lowered = raw.lower()
        if lowered not in ("true", "false"):
            raise _quotation_error(400, TYPE_MISMATCH)
        return lowered == "true"

    def codes(self, name: str) -> list[str]:
        raw = self.text(name, required=True)
        assert raw is not None
        codes = [code.strip() for code in raw.split(",")]
        if any(not code for code in codes):
            raise _quotation_error(400, INVALID_PARAMETER)
        return list(dict.fromkeys(codes))


def _markets(model: MarketModel, params: _Params, name: str = "markets") -> list[str]:
    codes = params.codes(name)
    if not all(model.has_market(code) for code in codes):
        raise _quotation_error(404, CODE_NOT_FOUND)
    return codes


def _market(model: MarketModel, params: _Params) -> str:
    code = params.text("market", required=True)
    assert code is not None
    if not model.has_market(code):
        raise _quotation_error(404, CODE_NOT_FOUND)
    return code


_ZONE_AFTER_SPACE = re.compile(r"^(.*\d) (\d{2}:?\d{2})$")


def _candle_to(params: _Params) -> int | None:
    """Upbit's candle ``to`` (ISO 8601; UTC when no zone) as epoch seconds, rounded up."""
    raw = params.text("to")
    if raw is None:
        return None
    fixed = _ZONE_AFTER_SPACE.sub(r"\1+\2", raw)  # "+09:00" that arrived unescaped
    try:
        moment = datetime.fromisoformat(fixed)
    except ValueError:
        raise _quotation_error(400, INVALID_PARAMETER) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return math.ceil(moment.timestamp())


_TIME_OF_DAY = re.compile(r"^(\d{2}):?(\d{2}):?(\d{2})$")


def _time_of_day(raw: str) -> int:
    """``HHmmss`` or ``HH:mm:ss`` as seconds after midnight."""
    match = _TIME_OF_DAY.fullmatch(raw)
    if not match or (":" in raw and raw.count(":") != 2):
        raise _quotation_error(400, INVALID_PARAMETER)
    hours, minutes, seconds = (int(part) for part in match.groups())
    if hours > 23 or minutes > 59 or seconds > 59:
        raise _quotation_error(400, INVALID_PARAMETER)
    return hours * 3600 + minutes * 60 + seconds


# -- the routes --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Answer:
    body: Json
    status: int = 200


class _RestApi:
    def __init__(self, sim: RestSimulator) -> None:
        self._sim = sim

    @property
    def model(self) -> MarketModel:
        return self._sim.model

    # shared plumbing

    def _fault(self) -> int | None:
        faults = getattr(self._sim, "faults", None)
        take = getattr(faults, "take_rest_fault", None)
        return take() if callable(take) else None

    def quotation(self, group: str, serve: Callable[[web.Request], _Answer]) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            limits = self._sim.limits
            fault = self._fault()
            if fault is not None:
                remaining = limits.group(group)
                header = f"group={remaining.name}; min={remaining.min_value}; sec=0"
                return _refusal(fault, header, 1.0, exchange=False)
            decision = limits.rest(
                group, request.remote or "unknown", origin="Origin" in request.headers
            )
            if not decision.allowed:
                return _refusal(
                    decision.status, decision.remaining_req, decision.retry_after, exchange=False
                )
            await self._build_named_markets(request)
            try:
                answer = serve(request)
            except _RequestError as error:
                answer = _Answer(
                    {"error": {"name": error.name, "message": error.message}}, error.status
                )
            return _quotation_response(request, answer, decision.remaining_req)

        return handler

    def exchange(self, group: str, serve: Callable[[_Query, str], _Answer]) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            limits = self._sim.limits
            fault = self._fault()
            if fault is not None:
                remaining = limits.group(group)
                header = f"group={remaining.name}; min={remaining.min_value}; sec=0"
                return _refusal(fault, header, 1.0, exchange=True)
            params: _Query
            body_error: _RequestError | None = None
            if request.method == "POST":
                try:
                    params, signed = _json_body_params(await request.read())
                except _RequestError as error:
                    params, signed, body_error = MultiDict(), "", error
            else:
                params, signed = request.query, request.rel_url.raw_query_string
            auth = self._sim.keys.verify(request.headers.get("Authorization"), query=signed)
            who = auth.access_key if not isinstance(auth, AuthError) else request.remote
            decision = limits.rest(group, who or "unknown")
            if not decision.allowed:
                return _refusal(
                    decision.status, decision.remaining_req, decision.retry_after, exchange=True
                )
            if body_error is not None:
                answer = _error_answer(body_error.status, body_error.name, body_error.message)
            elif isinstance(auth, AuthError):
                answer = _Answer(auth.body(), auth.status)
            else:
                try:
                    answer = serve(params, auth.access_key)
                except (_RequestError, OrderRejected) as error:
                    answer = _error_answer(error.status, error.name, error.message)
            return _exchange_response(answer, decision.remaining_req)

        return handler

    async def _build_named_markets(self, request: web.Request) -> None:
        """Right after start-up some markets' seeded past may not exist yet (market.py builds
        it on first use): build the ones this request reads with the server's yielding
        build_markets, so a request for many markets does not stall every connection."""
        build = getattr(self._sim, "build_markets", None)
        if build is None or not self.model.unbuilt_markets():
            return
        if request.path.rstrip("/").endswith("/ticker/all"):
            codes = self.model.market_codes()
        else:
            named = ",".join(
                request.query.getall("markets", []) + request.query.getall("market", [])
            )
            codes = [code.strip() for code in named.split(",") if code.strip()]
        await build(codes)

    # quotation

    def market_all(self, request: web.Request) -> _Answer:
        details = _Params(request).boolean("is_details", False)
        return _Answer([_market_json(info, details) for info in self.model.markets()])

    def ticker(self, request: web.Request) -> _Answer:
        codes = _markets(self.model, _Params(request))
        return _Answer([_ticker_json(self.model.ticker(code)) for code in codes])

    def ticker_all(self, request: web.Request) -> _Answer:
        quotes = _Params(request).codes("quote_currencies")
        if not all(quote in QUOTE_CURRENCIES for quote in quotes):
            raise _quotation_error(400, INVALID_PARAMETER)
        wanted = {f"{quote}-" for quote in quotes}
        return _Answer(
            [
                _ticker_json(self.model.ticker(info.market))
                for info in self.model.markets()
                if info.market[: info.market.index("-") + 1] in wanted
            ]
        )

    def orderbook(self, request: web.Request) -> _Answer:
        params = _Params(request)
        codes = _markets(self.model, params)
        level_text = params.text("level") or "0"
        try:
            level = float(level_text)
        except ValueError:
            raise _quotation_error(400, TYPE_MISMATCH) from None
        if not math.isfinite(level) or level < 0:
            raise _quotation_error(400, INVALID_PARAMETER)
        count = min(params.integer("count", MAX_ORDERBOOK_UNITS, 1), MAX_ORDERBOOK_UNITS)
        books = (self.model.orderbook(code, depth=count, level=level) for code in codes)
        return _Answer([_orderbook_json(book) for book in books if book is not None])

    def orderbook_instruments(self, request: web.Request) -> _Answer:
        codes = _markets(self.model, _Params(request))
        return _Answer(
            [
                {
                    "market": code,
                    "quote_currency": code.split("-", 1)[0],
                    "tick_size": _plain(self.model.tick_size(code)),
                    "supported_levels": [_plain(lv) for lv in self.model.supported_levels(code)],
                }
                for code in codes
            ]
        )

    def _candles(self, request: web.Request, interval: str) -> list[Candle]:
        params = _Params(request)
        code = _market(self.model, params)
        to = _candle_to(params)
        count = params.integer("count", 1, 1, MAX_CANDLES)
        try:
            return self.model.candles(code, interval, to=to, count=count)
        except UnknownMarket:
            raise _quotation_error(404, CODE_NOT_FOUND) from None

    def candles_seconds(self, request: web.Request) -> _Answer:
        return _Answer([_candle_json(c) for c in self._candles(request, "1s")])

    def candles_minutes(self, request: web.Request) -> _Answer:
        raw_unit = request.match_info.get("unit", "")
        if not re.fullmatch(r"\d+", raw_unit):
            raise _quotation_error(400, TYPE_MISMATCH)
        unit = int(raw_unit)
        if unit not in MINUTE_UNITS:
            raise _quotation_error(400, INVALID_PARAMETER)
        candles = self._candles(request, f"{unit}m")
        return _Answer([_candle_json(c, unit=unit) for c in candles])

    def candles_days(self, request: web.Request) -> _Answer:
        converting = _Params(request).text("converting_price_unit")
        if converting is not None and converting != "KRW":
            raise _quotation_error(400, INVALID_PARAMETER)
        candles = self._candles(request, "1d")
        return _Answer([_day_candle_json(c, converting=converting is not None) for c in candles])

    def trades_ticks(self, request: web.Request) -> _Answer:
        params = _Params(request)
        code = _market(self.model, params)
        count = params.integer("count", 1, 1, MAX_TRADES)
        days_ago = params.integer("days_ago", 0, 1, 7) if params.text("days_ago") else 0
        to_text = params.text("to")
        to_of_day = _time_of_day(to_text) if to_text is not None else None
        cursor_text = params.text("cursor")
        cursor = None
        if cursor_text is not None:
            if not re.fullmatch(r"\d+", cursor_text):
                raise _quotation_error(400, TYPE_MISMATCH)
            cursor = int(cursor_text)
        to_ms: int | None = None
        day_start_ms: int | None = None
        if to_of_day is not None or days_ago:
            day = utc_midnight(self.model.now_ms() / 1000) - days_ago * DAY_S
            day_start_ms = day * 1000
            seconds = to_of_day if to_of_day is not None else DAY_S
            to_ms = (day + seconds) * 1000
        trades = self.model.trades(code, count=count, to_ms=to_ms, cursor=cursor)
        if day_start_ms is not None:
            trades = [t for t in trades if t.trade_timestamp >= day_start_ms]
        return _Answer([_trade_json(t) for t in trades])

    # exchange

    def accounts(self, params: _Query, access_key: str) -> _Answer:
        return _Answer([_balance_json(b) for b in self.model.accounts(access_key)])

    def orders_open(self, query: _Query, access_key: str) -> _Answer:
        invalid = _exchange_error(400, "invalid_parameter", "잘못된 파라미터")
        state = query.get("state")
        states = query.getall("states[]", [])
        if state is not None and states:
            raise invalid
        wanted = [state] if state is not None else (states or ["wait"])
        if not all(s in ("wait", "watch") for s in wanted):
            raise invalid
        order_by = query.get("order_by", "desc")
        if order_by not in ("asc", "desc"):
            raise invalid
        page = _exchange_int(query.get("page"), 1, 1, None, invalid)
        limit = _exchange_int(query.get("limit"), MAX_ORDERS_PER_PAGE, 1, 100, invalid)
        market = query.get("market") or None
        if market is not None and not self.model.has_market(market):
            return _Answer([])
        orders = self.model.open_orders(access_key, market=market, states=wanted)
        if order_by == "asc":
            orders = list(reversed(orders))
        window = orders[(page - 1) * limit : page * limit]
        return _Answer([_order_json(o) for o in window])

    def place_order(self, body: _Query, access_key: str) -> _Answer:
        market = body.get("market")
        if not market:
            raise _exchange_error(400, "validation_error", "market 값이 필요합니다.")
        order = self.model.place_order(
            access_key,
            market,
            body.get("side", ""),
            body.get("ord_type", ""),
            price=_amount(body.get("price"), "price"),
            volume=_amount(body.get("volume"), "volume"),
            identifier=body.get("identifier") or None,
            time_in_force=body.get("time_in_force") or None,
        )
        return _Answer(_order_json(order, listing=False), 201)

    def cancel_order(self, query: _Query, access_key: str) -> _Answer:
        uuid, identifier = query.get("uuid") or None, query.get("identifier") or None
        if (uuid is None) == (identifier is None):
            raise _exchange_error(
                400, "validation_error", "uuid 또는 identifier 중 하나가 필요합니다."
            )
        order = self.model.cancel_order(access_key, uuid=uuid, identifier=identifier)
        # Upbit answers a cancel with the order as it stood (state "wait"): cancelling is async.
        return _Answer({**_order_json(order, listing=False), "state": "wait"})


def _amount(raw: str | None, name: str) -> float | None:
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise _exchange_error(400, "validation_error", f"{name} 값이 올바르지 않습니다.") from None
    if not math.isfinite(value):
        raise _exchange_error(400, "validation_error", f"{name} 값이 올바르지 않습니다.")
    return value


def _json_body_params(raw: bytes) -> tuple[MultiDict[str], str]:
    """A POST body's parameters and the ``k=v&...`` text its ``query_hash`` covers.

    Values keep the text they were sent with (``"0.01"`` or ``0.01`` both render ``0.01``);
    a list renders as ``k[]=a&k[]=b``.
    """
    if not raw.strip():
        return MultiDict(), ""
    try:
        body = json.loads(raw, parse_float=str, parse_int=str)
    except (ValueError, UnicodeDecodeError):
        raise _exchange_error(400, "validation_error", "잘못된 API 요청입니다.") from None
    if not isinstance(body, dict):
        raise _exchange_error(400, "validation_error", "잘못된 API 요청입니다.")
    pairs: list[tuple[str, str]] = []
    for key, value in body.items():
        values = value if isinstance(value, list) else [value]
        name = f"{key}[]" if isinstance(value, list) and not key.endswith("[]") else key
        for item in values:
            if item is None:
                continue
            text = ("true" if item else "false") if isinstance(item, bool) else str(item)
            pairs.append((name, text))
    return MultiDict(pairs), "&".join(f"{k}={v}" for k, v in pairs)


def _error_answer(status: int, name: int | str, message: str) -> _Answer:
    return _Answer({"error": {"name": name, "message": message}}, status)


def _exchange_int(
    raw: str | None, default: int, low: int, high: int | None, error: _RequestError
) -> int:
    if raw is None or raw == "":
        return default
    if not re.fullmatch(r"\d+", raw):
        raise error
    value = int(raw)
    if value < low or (high is not None and value > high):
        raise error
    return value


# -- responses ---------------------------------------------------------------------------------


def _etag(body: bytes) -> str:
    return f'W/"0{hashlib.md5(body, usedforsecurity=False).hexdigest()}"'


def _quotation_response(request: web.Request, answer: _Answer, remaining_req: str) -> web.Response:
    body = _dumps(answer.body)
    headers = {"Content-Type": CONTENT_TYPE, **_QUOTATION_HEADERS, "Remaining-Req": remaining_req}
    if answer.status == 200:
        etag = _etag(body)
        headers["ETag"] = etag
        if request.headers.get("If-None-Match") == etag:
            del headers["Content-Type"]
            return web.Response(status=304, headers=headers)
    response = web.Response(body=body, status=answer.status, headers=headers)
    if "gzip" in request.headers.get("Accept-Encoding", "").lower():
        response.enable_compression(web.ContentCoding.gzip)  # Upbit serves gzip, not deflate
    return response


def _exchange_response(answer: _Answer, remaining_req: str) -> web.Response:
    headers = {"Content-Type": CONTENT_TYPE, **_EXCHANGE_HEADERS, "Remaining-Req": remaining_req}
    return web.Response(body=_dumps(answer.body), status=answer.status, headers=headers)


def _refusal(
    status: int, remaining_req: str, retry_after: float, *, exchange: bool
) -> web.Response:
    """429 / 418 / 5xx with Upbit-style bodies (see the module docstring: undocumented)."""
    wait = max(1, math.ceil(retry_after))
    if status == 429:
        name: int | str = "too_many_requests" if exchange else 429
        message = "Too Many Requests"
    elif status == 418:
        name = "blocked" if exchange else 418
        message = f"I'm a teapot: too many requests after 429, blocked for {wait} seconds"
    else:
        name = status
        try:
            message = HTTPStatus(status).phrase
        except ValueError:
            message = "Error"
    headers = {
        "Content-Type": CONTENT_TYPE,
        **(_EXCHANGE_HEADERS if exchange else _QUOTATION_HEADERS),
        "Remaining-Req": remaining_req,
    }
    if status in (429, 418):
        headers["Retry-After"] = str(wait)
    return web.Response(
        body=_dumps({"error": {"name": name, "message": message}}), status=status, headers=headers
    )


def add_rest_routes(app: web.Application, sim: RestSimulator) -> None:
    """Register Upbit's REST endpoints under /v1/ on ``app`` (see the module docstring)."""
    api = _RestApi(sim)
    quotation: Iterable[tuple[str, str, Callable[[web.Request], _Answer]]] = (
        ("/v1/market/all", "market", api.market_all),
        ("/v1/ticker", "ticker", api.ticker),
        ("/v1/ticker/all", "ticker", api.ticker_all),
        ("/v1/orderbook", "orderbook", api.orderbook),
        ("/v1/orderbook/instruments", "orderbook", api.orderbook_instruments),
        ("/v1/candles/seconds", "candles", api.candles_seconds),
        ("/v1/candles/minutes/{unit}", "candles", api.candles_minutes),
        ("/v1/candles/days", "candles", api.candles_days),
        ("/v1/trades/ticks", "crix-trades", api.trades_ticks),
    )
    for path, group, serve in quotation:
        app.router.add_get(path, api.quotation(group, serve))
    app.router.add_get("/v1/accounts", api.exchange("default", api.accounts))
    app.router.add_get("/v1/orders/open", api.exchange("default", api.orders_open))
    app.router.add_post("/v1/orders", api.exchange("order", api.place_order))
    app.router.add_delete("/v1/order", api.exchange("default", api.cancel_order))
