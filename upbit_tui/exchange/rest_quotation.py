"""Upbit's quotation REST endpoints as the simulator serves them (market data, no key).

Each handler takes the aiohttp request and returns an :class:`~upbit_tui.exchange.rest_answers.
Answer`; rest.py wraps them with rate limits, headers, ETags and gzip. Numbers are JSON numbers
(exchange amounts are strings, rest_exchange.py). Repeated parameters (``markets=KRW-BTC&
markets=KRW-ETH``, as pyupbit sends them) count like the comma form; ``isDetails`` is read as
``is_details``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from aiohttp import web

from upbit_tui.exchange.candle_periods import period_candles
from upbit_tui.exchange.history import DAY_S, utc_midnight
from upbit_tui.exchange.market import MarketModel, UnknownMarket
from upbit_tui.exchange.records import Candle, MarketInfo, Orderbook, Ticker, Trade
from upbit_tui.exchange.rest_answers import (
    CODE_NOT_FOUND,
    INVALID_PARAMETER,
    MISSING_PARAMETER,
    TYPE_MISMATCH,
    Answer,
    Json,
    quotation_error,
)
from upbit_tui.exchange.ticks import price_decimals

__all__ = ["QuotationApi"]

MINUTE_UNITS = (1, 3, 5, 10, 15, 30, 60, 240)
MAX_CANDLES = 200
MAX_TRADES = 500
MAX_ORDERBOOK_UNITS = 30
QUOTE_CURRENCIES = ("KRW", "BTC", "USDT")
_CAUTIONS = (
    "PRICE_FLUCTUATIONS",
    "TRADING_VOLUME_SOARING",
    "DEPOSIT_AMOUNT_SOARING",
    "GLOBAL_PRICE_DIFFERENCES",
    "CONCENTRATION_OF_SMALL_ACCOUNTS",
)


def _float_plain(value: float) -> str:
    """A float as Upbit strings it: no exponent, no trailing zeros ("0.0005")."""
    text = format(Decimal(repr(float(value))), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


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


class _Params:
    """Query parameters with Upbit's quotation errors for missing, mistyped or invalid values."""

    def __init__(self, request: web.Request) -> None:
        self._query = request.query

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self._query.get(name)
        if value is None or value.strip() == "":
            if required:
                raise quotation_error(400, MISSING_PARAMETER)
            return None
        return value.strip()

    def integer(self, name: str, default: int, low: int, high: int | None = None) -> int:
        raw = self.text(name)
        if raw is None:
            return default
        if not re.fullmatch(r"[+-]?\d+", raw):
            raise quotation_error(400, TYPE_MISMATCH)
        value = int(raw)
        if value < low or (high is not None and value > high):
            raise quotation_error(400, INVALID_PARAMETER)
        return value

    def boolean(self, name: str, default: bool) -> bool:
        raw = self.text(name)
        if raw is None:
            return default
        lowered = raw.lower()
        if lowered not in ("true", "false"):
            raise quotation_error(400, TYPE_MISMATCH)
        return lowered == "true"

    def codes(self, name: str) -> list[str]:
        """A list parameter: comma-separated, repeated (``markets=A&markets=B``) or both."""
        self.text(name, required=True)
        raw = ",".join(self._query.getall(name))
        codes = [code.strip() for code in raw.split(",")]
        if any(not code for code in codes):
            raise quotation_error(400, INVALID_PARAMETER)
        return list(dict.fromkeys(codes))


def _markets(model: MarketModel, params: _Params, name: str = "markets") -> list[str]:
    codes = params.codes(name)
    if not all(model.has_market(code) for code in codes):
        raise quotation_error(404, CODE_NOT_FOUND)
    return codes


def _market(model: MarketModel, params: _Params) -> str:
    code = params.text("market", required=True)
    assert code is not None
    if not model.has_market(code):
        raise quotation_error(404, CODE_NOT_FOUND)
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
        raise quotation_error(400, INVALID_PARAMETER) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return math.ceil(moment.timestamp())


_TIME_OF_DAY = re.compile(r"^(\d{2}):?(\d{2}):?(\d{2})$")


def _time_of_day(raw: str) -> int:
    """``HHmmss`` or ``HH:mm:ss`` as seconds after midnight."""
    match = _TIME_OF_DAY.fullmatch(raw)
    if not match or (":" in raw and raw.count(":") != 2):
        raise quotation_error(400, INVALID_PARAMETER)
    hours, minutes, seconds = (int(part) for part in match.groups())
    if hours > 23 or minutes > 59 or seconds > 59:
        raise quotation_error(400, INVALID_PARAMETER)
    return hours * 3600 + minutes * 60 + seconds


class QuotationApi:
    """The quotation handlers over one market model."""

    def __init__(self, model: MarketModel) -> None:
        self.model = model

    def market_all(self, request: web.Request) -> Answer:
        params = _Params(request)
        details = params.boolean("is_details", params.boolean("isDetails", False))
        return Answer([_market_json(info, details) for info in self.model.markets()])

    def ticker(self, request: web.Request) -> Answer:
        codes = _markets(self.model, _Params(request))
        return Answer([_ticker_json(self.model.ticker(code)) for code in codes])

    def ticker_all(self, request: web.Request) -> Answer:
        quotes = _Params(request).codes("quote_currencies")
        if not all(quote in QUOTE_CURRENCIES for quote in quotes):
            raise quotation_error(400, INVALID_PARAMETER)
        wanted = {f"{quote}-" for quote in quotes}
        return Answer(
            [
                _ticker_json(self.model.ticker(info.market))
                for info in self.model.markets()
                if info.market[: info.market.index("-") + 1] in wanted
            ]
        )

    def orderbook(self, request: web.Request) -> Answer:
        params = _Params(request)
        codes = _markets(self.model, params)
        level_text = params.text("level") or "0"
        try:
            level = float(level_text)
        except ValueError:
            raise quotation_error(400, TYPE_MISMATCH) from None
        if not math.isfinite(level) or level < 0:
            raise quotation_error(400, INVALID_PARAMETER)
        count = min(params.integer("count", MAX_ORDERBOOK_UNITS, 1), MAX_ORDERBOOK_UNITS)
        books = (self.model.orderbook(code, depth=count, level=level) for code in codes)
        return Answer([_orderbook_json(book) for book in books if book is not None])

    def orderbook_instruments(self, request: web.Request) -> Answer:
        codes = _markets(self.model, _Params(request))
        return Answer(
            [
                {
                    "market": code,
                    "quote_currency": code.split("-", 1)[0],
                    "tick_size": _float_plain(self.model.tick_size(code)),
                    "supported_levels": [
                        _float_plain(level) for level in self.model.supported_levels(code)
                    ],
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
            raise quotation_error(404, CODE_NOT_FOUND) from None

    def candles_seconds(self, request: web.Request) -> Answer:
        return Answer([_candle_json(c) for c in self._candles(request, "1s")])

    def candles_minutes(self, request: web.Request) -> Answer:
        raw_unit = request.match_info.get("unit", "")
        if not re.fullmatch(r"\d+", raw_unit):
            raise quotation_error(400, TYPE_MISMATCH)
        unit = int(raw_unit)
        if unit not in MINUTE_UNITS:
            raise quotation_error(400, INVALID_PARAMETER)
        candles = self._candles(request, f"{unit}m")
        return Answer([_candle_json(c, unit=unit) for c in candles])

    def candles_days(self, request: web.Request) -> Answer:
        converting = _Params(request).text("converting_price_unit")
        if converting is not None and converting != "KRW":
            raise quotation_error(400, INVALID_PARAMETER)
        candles = self._candles(request, "1d")
        return Answer([_day_candle_json(c, converting=converting is not None) for c in candles])

    def trades_ticks(self, request: web.Request) -> Answer:
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
                raise quotation_error(400, TYPE_MISMATCH)
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
        return Answer([_trade_json(t) for t in trades])

    def candles_of_period(self, period: str) -> Callable[[web.Request], Answer]:
        """GET /v1/candles/{weeks,months,years}: day candles aggregated per UTC period."""

        def serve(request: web.Request) -> Answer:
            params = _Params(request)
            code = _market(self.model, params)
            to = _candle_to(params)
            count = params.integer("count", 1, 1, MAX_CANDLES)
            try:
                candles = period_candles(self.model, code, period, to=to, count=count)
            except UnknownMarket:
                raise quotation_error(404, CODE_NOT_FOUND) from None
            return Answer([_period_candle_json(c, first_day) for c, first_day in candles])

        return serve


def _period_candle_json(c: Candle, first_day: str) -> dict[str, Json]:
    return {**_candle_json(c), "first_day_of_period": first_day}
