"""The market model's read-side records: what REST and WebSocket renderers format.

Frozen records with Upbit's DEFAULT field names, so a renderer maps them one to one: the ones
made per trade (Trade, Ticker, Orderbook, Candle) are frozen msgspec Structs, built several
times faster than frozen dataclasses, and untracked by the cyclic GC (gc=False: they hold only
scalars and other such records, so they cannot be part of a cycle; a market keeps thousands of
trades); the others are frozen dataclasses.
Prices and volumes are floats already rounded (prices to the tick, volumes to 8 decimals);
timestamps are integer milliseconds since the epoch, candle starts are integer epoch seconds.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from decimal import Decimal

import msgspec

KST_OFFSET_S = 9 * 3600


def utc_date(ms: int, sep: str = "-") -> str:
    """`yyyy-MM-dd` (or `yyyyMMdd` with sep="") of an epoch-ms instant, in UTC."""
    return _date_of_second(ms // 1000, sep)


def utc_time(ms: int, sep: str = ":") -> str:
    """`HH:mm:ss` (or `HHmmss` with sep="") of an epoch-ms instant, in UTC."""
    return _time_of_second(ms // 1000, sep)


@functools.lru_cache(maxsize=256)
def _date_of_second(second: int, sep: str) -> str:
    t = time.gmtime(second)
    return f"{t.tm_year:04d}{sep}{t.tm_mon:02d}{sep}{t.tm_mday:02d}"


@functools.lru_cache(maxsize=256)
def _time_of_second(second: int, sep: str) -> str:
    t = time.gmtime(second)
    return f"{t.tm_hour:02d}{sep}{t.tm_min:02d}{sep}{t.tm_sec:02d}"


def iso_seconds(epoch_s: int) -> str:
    """`yyyy-MM-ddTHH:mm:ss` (no zone) of an epoch-seconds instant, as Upbit's candle times."""
    t = time.gmtime(epoch_s)
    return (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"
        f"T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
    )


def iso_kst(epoch_ms: int) -> str:
    """`yyyy-MM-ddTHH:mm:ss+09:00`: how Upbit's exchange API renders `created_at`."""
    return iso_seconds(epoch_ms // 1000 + KST_OFFSET_S) + "+09:00"


@dataclass(frozen=True, slots=True)
class MarketInfo:
    market: str  # "KRW-BTC"
    korean_name: str
    english_name: str
    warning: bool = False  # market_event.warning (투자유의)


class Trade(msgspec.Struct, frozen=True, gc=False):
    market: str
    trade_timestamp: int  # ms
    trade_price: float
    trade_volume: float
    ask_bid: str  # "ASK" (seller was the taker) | "BID" (buyer was the taker)
    prev_closing_price: float  # close of the previous UTC day
    change: str  # "RISE" | "EVEN" | "FALL" versus prev_closing_price
    change_price: float  # absolute difference
    sequential_id: int  # strictly increasing over the whole exchange
    best_ask_price: float  # the book right after this trade
    best_ask_size: float
    best_bid_price: float
    best_bid_size: float

    @property
    def trade_date_utc(self) -> str:
        """`yyyy-MM-dd` (the WS trade `trade_date` and REST `trade_date_utc`)."""
        return utc_date(self.trade_timestamp)

    @property
    def trade_time_utc(self) -> str:
        """`HH:mm:ss` (the WS trade `trade_time` and REST `trade_time_utc`)."""
        return utc_time(self.trade_timestamp)


class Candle(msgspec.Struct, frozen=True, gc=False):
    market: str
    interval: str  # "1s", "1m", ..., "240m", "1d" (see market.INTERVALS)
    start: int  # epoch seconds (UTC), the bucket start
    opening_price: float
    high_price: float
    low_price: float
    trade_price: float  # close
    candle_acc_trade_volume: float
    candle_acc_trade_price: float
    timestamp: int  # ms of the last trade in the candle
    prev_closing_price: float | None = None  # day candles only: the previous day's close

    @property
    def candle_date_time_utc(self) -> str:
        return iso_seconds(self.start)

    @property
    def candle_date_time_kst(self) -> str:
        return iso_seconds(self.start + KST_OFFSET_S)

    @property
    def unit(self) -> int | None:
        """Minutes of a minute candle (REST's `unit`), else None."""
        if self.interval.endswith("m"):
            return int(self.interval[:-1])
        return None


class Ticker(msgspec.Struct, frozen=True, gc=False):
    market: str
    trade_date: str  # yyyyMMdd, UTC
    trade_time: str  # HHmmss, UTC
    trade_date_kst: str
    trade_time_kst: str
    trade_timestamp: int
    opening_price: float
    high_price: float
    low_price: float
    trade_price: float
    prev_closing_price: float
    change: str
    change_price: float
    change_rate: float
    signed_change_price: float
    signed_change_rate: float
    trade_volume: float
    acc_trade_price: float  # since 00:00 UTC
    acc_trade_price_24h: float
    acc_trade_volume: float
    acc_trade_volume_24h: float
    highest_52_week_price: float
    highest_52_week_date: str  # yyyy-MM-dd
    lowest_52_week_price: float
    lowest_52_week_date: str
    timestamp: int
    ask_bid: str  # WS only
    acc_ask_volume: float  # WS only
    acc_bid_volume: float  # WS only
    market_state: str = "ACTIVE"
    is_trading_suspended: bool = False
    delisting_date: str | None = None
    market_warning: str = "NONE"


class OrderbookUnit(msgspec.Struct, frozen=True, gc=False):
    """One price level pair (a book makes 30 of these per trade). Its field names are the
    WebSocket's DEFAULT unit keys, in order, so wire.py encodes it as it is."""

    ask_price: float
    bid_price: float
    ask_size: float
    bid_size: float


class Orderbook(msgspec.Struct, frozen=True, gc=False):
    market: str
    timestamp: int
    total_ask_size: float  # sum over the returned units only
    total_bid_size: float
    orderbook_units: tuple[OrderbookUnit, ...]  # best first
    level: float


@dataclass(frozen=True, slots=True)
class Balance:
    """One currency of an account, as floats rounded to 8 decimals (the model's read API)."""

    currency: str
    balance: float  # available
    locked: float  # held by open orders
    avg_buy_price: float
    avg_buy_price_modified: bool
    unit_currency: str  # "KRW"


@dataclass(frozen=True, slots=True)
class ExactBalance:
    """One row of GET /v1/accounts: exact decimals, which REST renders as strings."""

    currency: str
    balance: Decimal
    locked: Decimal
    avg_buy_price: Decimal
    avg_buy_price_modified: bool
    unit_currency: str


@dataclass(frozen=True, slots=True)
class OrderTrade:
    """One fill of an order, as GET /v1/order lists it under `trades`."""

    market: str
    uuid: str
    price: Decimal
    volume: Decimal
    funds: Decimal
    trend: str  # "up" (a buy took the book) | "down" (a sell did)
    created_at: int  # ms
    side: str  # the order's side, "bid" | "ask"


@dataclass(frozen=True, slots=True)
class Order:
    """An order as the exchange API reports it (exact decimals; None = a key Upbit omits for
    this order type: `volume` of a market buy, `price` of a market sell)."""

    uuid: str
    side: str  # "bid" | "ask"
    ord_type: str  # "limit" | "price" | "market" | "best"
    price: Decimal | None
    state: str  # "wait" | "done" | "cancel" (a partly filled order stays "wait", as on Upbit)
    market: str
    created_at: int  # ms; render with records.iso_kst
    volume: Decimal | None
    remaining_volume: Decimal | None
    reserved_fee: Decimal
    remaining_fee: Decimal
    paid_fee: Decimal
    locked: Decimal
    executed_volume: Decimal
    executed_funds: Decimal
    trades_count: int
    time_in_force: str | None = None
    identifier: str | None = None
    prevented_volume: Decimal = Decimal(0)
    prevented_locked: Decimal = Decimal(0)
    smp_type: str | None = None
    trades: tuple[OrderTrade, ...] = ()

    @property
    def avg_price(self) -> Decimal:
        if not self.executed_volume:
            return Decimal(0)
        return self.executed_funds / self.executed_volume

    def summary(self) -> dict[str, object]:
        """Plain JSON-ready fields (decimals as strings), for the control API's answers."""
        return {
            "uuid": self.uuid,
            "market": self.market,
            "side": self.side,
            "ord_type": self.ord_type,
            "state": self.state,
            "price": None if self.price is None else str(self.price),
            "volume": None if self.volume is None else str(self.volume),
            "executed_volume": str(self.executed_volume),
            "locked": str(self.locked),
            "identifier": self.identifier,
        }


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """One myOrder message (DEFAULT fields; `state="trade"` carries the fill)."""

    access_key: str
    code: str
    uuid: str
    ask_bid: str  # "ASK" | "BID"
    order_type: str
    state: str
    trade_uuid: str | None
    price: float | None  # order price, or the fill price when state == "trade"
    avg_price: float
    volume: float | None  # order volume, or the fill volume when state == "trade"
    remaining_volume: float | None
    executed_volume: float | None
    trades_count: int
    reserved_fee: float
    remaining_fee: float
    paid_fee: float
    locked: float
    executed_funds: float
    time_in_force: str | None
    trade_fee: float | None
    is_maker: bool | None
    identifier: str | None
    smp_type: str | None
    prevented_volume: float | None
    prevented_locked: float
    trade_timestamp: int | None
    order_timestamp: int
    timestamp: int


@dataclass(frozen=True, slots=True)
class AssetUpdate:
    """One myAsset message: every currency of the account (see market.py for why all)."""

    access_key: str
    asset_uuid: str
    assets: tuple[tuple[str, float, float], ...]  # (currency, balance, locked)
    asset_timestamp: int
    timestamp: int
