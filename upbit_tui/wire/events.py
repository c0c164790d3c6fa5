"""Typed market events: what every callback receives.

Field names are Upbit's DEFAULT-format names (shared/upbit-protocol.md section 3), so anyone who
knows Upbit's docs knows these objects, with three changes the spec asks for:
- `code` is exposed as `symbol`;
- the message time `timestamp` (ms since the epoch) is kept as `timestamp_ms`, and `timestamp`
  is a `datetime` (UTC) computed from it on access;
- `epoch` says which connection generation delivered the event (0 = REST / not yet assigned);
  `received_at` is the local wall-clock time (seconds) the frame was read, for latency.

The structs are msgspec Structs so the codec can decode frame bytes straight into them; the wire
names are given with `msgspec.field(name=...)`. Unknown wire fields are ignored by msgspec.
Events are treated as immutable once routed: a callback must not modify one (several
subscribers share the same object). `BalanceEvent.symbol` is always "*" (myAsset has no market
code), so every event has a `symbol` to route on.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, ClassVar

import msgspec


class DataType(StrEnum):
    """One Upbit stream type. Candle timeframes are separate types, as on the wire."""

    TICKER = "ticker"
    TRADE = "trade"
    ORDERBOOK = "orderbook"
    CANDLE_1S = "candle.1s"
    CANDLE_1M = "candle.1m"
    CANDLE_3M = "candle.3m"
    CANDLE_5M = "candle.5m"
    CANDLE_10M = "candle.10m"
    CANDLE_15M = "candle.15m"
    CANDLE_30M = "candle.30m"
    CANDLE_60M = "candle.60m"
    CANDLE_240M = "candle.240m"
    BALANCE = "myAsset"
    ORDER = "myOrder"

    @property
    def is_private(self) -> bool:
        return self in (DataType.BALANCE, DataType.ORDER)

    @property
    def is_candle(self) -> bool:
        return self.value.startswith("candle.")


class StreamType(StrEnum):
    SNAPSHOT = "SNAPSHOT"
    REALTIME = "REALTIME"
    # Not Upbit's: events fetched over REST (snapshots, trade backfill, fallback polling).
    REST = "REST"


# Upbit documents `timestamp` as a Long. A bigger number (JSON allows 10**400) makes the frame
# malformed rather than an event whose latency arithmetic overflows and kills its subscriber.
Long = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_FIRST_MS = (datetime.min.replace(tzinfo=UTC) - _EPOCH) // _MS
_LAST_MS = (datetime.max.replace(tzinfo=UTC) - _EPOCH) // _MS


def _utc(ms: int) -> datetime:
    # A Long reaches far past the years datetime can hold (1-9999); a callback reading
    # `event.timestamp` gets the nearest representable moment rather than an OverflowError.
    return _EPOCH + min(max(ms, _FIRST_MS), _LAST_MS) * _MS


class MarketEvent(msgspec.Struct, kw_only=True):
    """Fields every event has."""

    timestamp_ms: Long = msgspec.field(default=0, name="timestamp")
    stream_type: str = StreamType.REALTIME
    epoch: int = 0
    received_at: float = 0.0

    @property
    def timestamp(self) -> datetime:
        return _utc(self.timestamp_ms)


class TickerEvent(MarketEvent, kw_only=True):
    symbol: str = msgspec.field(name="code")
    trade_price: float
    opening_price: float = 0.0
    high_price: float = 0.0
    low_price: float = 0.0
    prev_closing_price: float = 0.0
    change: str = "EVEN"
    change_price: float = 0.0
    signed_change_price: float = 0.0
    change_rate: float = 0.0
    signed_change_rate: float = 0.0
    trade_volume: float = 0.0
    acc_trade_price: float = 0.0
    acc_trade_price_24h: float = 0.0
    acc_trade_volume: float = 0.0
    acc_trade_volume_24h: float = 0.0
    ask_bid: str = ""
    trade_date: str = ""
    trade_time: str = ""
    trade_timestamp: int = 0
    acc_ask_volume: float = 0.0
    acc_bid_volume: float = 0.0
    highest_52_week_price: float = 0.0
    highest_52_week_date: str = ""
    lowest_52_week_price: float = 0.0
    lowest_52_week_date: str = ""
    market_state: str = "ACTIVE"
    market_warning: str = "NONE"
    delisting_date: str | None = None


class TradeEvent(MarketEvent, kw_only=True):
    symbol: str = msgspec.field(name="code")
    trade_price: float
    trade_volume: float
    ask_bid: str
    sequential_id: int
    trade_timestamp: int = 0
    trade_date: str = ""
    trade_time: str = ""
    prev_closing_price: float = 0.0
    change: str = "EVEN"
    change_price: float = 0.0
    best_ask_price: float | None = None
    best_ask_size: float | None = None
    best_bid_price: float | None = None
    best_bid_size: float | None = None
    # True for trades fetched from REST after a reconnect to fill the outage.
    backfilled: bool = False


class OrderbookUnit(msgspec.Struct, kw_only=True, array_like=False):
    ask_price: float
    bid_price: float
    ask_size: float
    bid_size: float


class OrderbookEvent(MarketEvent, kw_only=True):
    symbol: str = msgspec.field(name="code")
    orderbook_units: list[OrderbookUnit]
    total_ask_size: float = 0.0
    total_bid_size: float = 0.0
    level: float = 0.0


class CandleEvent(MarketEvent, kw_only=True):
    """One candle as Upbit streams it: the same start time is re-sent while it updates."""

    symbol: str = msgspec.field(name="code")
    type: str = "candle.1m"
    candle_date_time_utc: str
    candle_date_time_kst: str = ""
    opening_price: float
    high_price: float
    low_price: float
    trade_price: float
    candle_acc_trade_volume: float = 0.0
    candle_acc_trade_price: float = 0.0

    @property
    def timeframe(self) -> str:
        """Upbit's unit, e.g. '1m', '240m', '1s', or '1d' for REST day candles."""
        return self.type.removeprefix("candle.")

    @property
    def start(self) -> datetime:
        return datetime.fromisoformat(self.candle_date_time_utc).replace(tzinfo=UTC)

    # The spec's names (shared/spec-v6.md 3.2.1).
    @property
    def open_price(self) -> float:
        return self.opening_price

    @property
    def close_price(self) -> float:
        return self.trade_price

    @property
    def volume(self) -> float:
        return self.candle_acc_trade_volume


class Asset(msgspec.Struct, kw_only=True):
    currency: str
    balance: float
    locked: float = 0.0
    # Only known from REST /v1/accounts; myAsset does not carry it.
    avg_buy_price: float | None = None
    unit_currency: str = "KRW"


class BalanceEvent(MarketEvent, kw_only=True):
    """myAsset: the assets whose balance changed (or all of them, when seeded from REST)."""

    # myAsset has no market code; routing files it under "*" (every symbol).
    symbol: ClassVar[str] = "*"
    asset_uuid: str = ""
    assets: list[Asset]
    asset_timestamp: int = 0

    @property
    def balances(self) -> list[Asset]:
        # The spec's name (shared/spec-v6.md 4.1.1).
        return self.assets


class OrderEvent(MarketEvent, kw_only=True):
    """myOrder. Volume fields are None for market-buy ('price') orders, as on Upbit."""

    symbol: str = msgspec.field(name="code")
    uuid: str
    ask_bid: str
    order_type: str
    state: str
    trade_uuid: str | None = None
    price: float | None = None
    avg_price: float | None = None
    volume: float | None = None
    remaining_volume: float | None = None
    executed_volume: float | None = None
    trades_count: int = 0
    reserved_fee: float | None = None
    remaining_fee: float | None = None
    paid_fee: float | None = None
    locked: float | None = None
    executed_funds: float | None = None
    time_in_force: str | None = None
    trade_fee: float | None = None
    is_maker: bool | None = None
    identifier: str | None = None
    smp_type: str | None = None
    prevented_volume: float | None = None
    prevented_locked: float | None = None
    trade_timestamp: int | None = None
    order_timestamp: int = 0


Event = TickerEvent | TradeEvent | OrderbookEvent | CandleEvent | BalanceEvent | OrderEvent
