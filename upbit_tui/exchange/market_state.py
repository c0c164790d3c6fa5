"""One simulated market's state and what is read from it: candles, ticker, order book views.

The MarketModel (market.py) decides what happens (trades, book changes, the seeded past, the
private ledger); a MarketState keeps one market's result of that (its price, book, candle bars,
day and 24h accumulators) and renders the records the REST and WebSocket layers send.

Decisions where Upbit is silent (documented in SIMULATOR.md):
- total_ask_size / total_bid_size sum the returned units only.
- Aggregated books (`level` > 0, KRW markets only): bucket prices are multiples of the level
  (asks rounded up, bids down), sizes grow with the square root of the ticks per bucket.
- Day candles and ticker days roll over at 00:00 UTC; the 52-week range spans the last 364 days
  plus today.
"""

from __future__ import annotations

import bisect
import math
import random
from collections import deque
from dataclasses import dataclass

from upbit_tui.exchange.book import MAX_BOOK_DEPTH, RestingBook
from upbit_tui.exchange.catalog import Listing
from upbit_tui.exchange.history import DAY_S, SyntheticHistory, hash_key, uniform, utc_midnight
from upbit_tui.exchange.past_trades import PastTrades
from upbit_tui.exchange.records import (
    KST_OFFSET_S,
    Candle,
    Orderbook,
    OrderbookUnit,
    Ticker,
    Trade,
    utc_date,
    utc_time,
)
from upbit_tui.exchange.ticks import change_of, table_for

INTERVALS: dict[str, int] = {
    "1s": 1,
    "1m": 60,
    "3m": 180,
    "5m": 300,
    "10m": 600,
    "15m": 900,
    "30m": 1800,
    "60m": 3600,
    "240m": 14_400,
    "1d": DAY_S,
}
_INTERVAL_ITEMS = tuple(INTERVALS.items())
MAX_TRADES = 5_000
_MAX_BARS = {"1s": 3_600}
_DEFAULT_MAX_BARS = 2_000
_DAILY_VOLATILITY = 0.035
_STABLE_DAILY_VOLATILITY = 0.004
_STEP_VOLATILITY = 0.00025  # log-price standard deviation of one trade
_STABLE_STEP_VOLATILITY = 0.00003
# Mean distance between non-empty book levels, as a share of the price (book.py): KRW books are
# dense (only KRW-BTC's 1,000 KRW tick is fine enough for gaps); BTC and USDT books are thin.
_LEVEL_SPACING = {"KRW": 0.000015, "BTC": 0.0002, "USDT": 0.0002}


class Bar:
    """A candle being built from trades (mutable; turned into a Candle on read)."""

    __slots__ = ("close", "high", "last_ms", "low", "open", "start", "value", "volume")

    def __init__(
        self,
        start: int,
        open_: float,
        high: float,
        low: float,
        close: float,
        volume: float,
        value: float,
        last_ms: int,
    ) -> None:
        self.start = start
        self.open = open_
        self.high = high
        self.low = low
        self.close = close
        self.volume = volume
        self.value = value
        self.last_ms = last_ms


@dataclass(slots=True)
class Week52:
    day_start: int
    high: float
    high_date: str
    low: float
    low_date: str


class MarketState:
    """Everything the model tracks for one market."""

    def __init__(self, index: int, listing: Listing, seed: int, history_end: int) -> None:
        self.index = index
        self.listing = listing
        self.code = listing.market
        self.history_end = history_end
        self.salt = hash_key(seed, index, *listing.market.encode())
        self.rng = random.Random(f"{seed}:{listing.market}")
        self.ticks = ticks = table_for(listing.market)
        stable = listing.market == "KRW-USDT"
        self.step_volatility = _STABLE_STEP_VOLATILITY if stable else _STEP_VOLATILITY
        volume_per_second = (
            listing.trades_per_minute / 60 * listing.trade_value / listing.base_price
        )
        self.history = SyntheticHistory(
            self.salt,
            listing.base_price,
            history_end,
            _STABLE_DAILY_VOLATILITY if stable else _DAILY_VOLATILITY,
            volume_per_second,
            ticks,
        )
        self.past_trades = PastTrades(
            listing.market, self.history, ticks, listing.trades_per_minute, self.salt
        )
        self.anchor = listing.base_price
        self.last_price = ticks.round_price(self.history.price(history_end))
        spacing = _LEVEL_SPACING[listing.quote] * listing.base_price / ticks.tick_size(self.anchor)
        # The native book, index 0 = best; shifted as the best prices move.
        self.book = RestingBook(
            ticks,
            self.rng,
            listing.depth_value,
            max(1.0, spacing),
            ticks.tick_up(self.last_price),
            self.last_price,
        )
        self.version = 0
        self.last_trade: Trade | None = None
        self.trades: deque[Trade] = deque(maxlen=MAX_TRADES)
        self.bars: dict[str, list[Bar]] = {interval: [] for interval in INTERVALS}
        # (bars, bucket length, trim threshold) per interval, in INTERVALS order
        self.bar_slots = tuple(
            (self.bars[interval], length, _bar_limit(interval))
            for interval, length in _INTERVAL_ITEMS
        )
        # Seeded trades not applied yet, as (trade_timestamp, sequential_id): a market's seeded
        # past is built on its first use (MarketModel._ready), so start-up stays cheap.
        self.pending: list[tuple[int, int]] | None = []
        self.prev_close: tuple[int, float] = (-1, 0.0)  # (UTC day, close of the day before)
        self.acc_day = utc_midnight(history_end)
        self.acc_ask_volume = 0.0
        self.acc_bid_volume = 0.0
        self.minutes: deque[list[float]] = deque()  # [minute_start, volume, value], live era
        self.volume_24h = 0.0
        self.value_24h = 0.0
        self.synthetic_24h: tuple[int, float, float] = (-1, 0.0, 0.0)
        self.week52: Week52 | None = None

    @property
    def best_ask(self) -> float:
        return self.book.ask_prices[0]

    @property
    def best_bid(self) -> float:
        return self.book.bid_prices[0]

    # -- the past and each trade ---------------------------------------------------------------

    def open_partial_bars(self) -> None:
        """Start each interval's current bucket with the synthetic part before history_end."""
        end = self.history_end
        for interval, length in INTERVALS.items():
            start = end // length * length
            if start == end:
                continue
            synthetic = self.history.candle(start, length)
            self.bars[interval].append(
                Bar(
                    start,
                    synthetic.open,
                    synthetic.high,
                    synthetic.low,
                    synthetic.close,
                    synthetic.volume,
                    synthetic.value,
                    synthetic.last_trade_ms,
                )
            )
            if interval == "1d":
                ask_share = 0.45 + 0.1 * uniform(hash_key(self.salt, 9, start))
                self.acc_ask_volume = synthetic.volume * ask_share
                self.acc_bid_volume = synthetic.volume - self.acc_ask_volume

    def update_bars(self, ts_ms: int, price: float, volume: float) -> None:
        second = ts_ms // 1000
        value = price * volume
        for bars, length, limit in self.bar_slots:
            start = second - second % length
            if bars:
                bar = bars[-1]
                if bar.start == start:
                    if price > bar.high:
                        bar.high = price
                    elif price < bar.low:
                        bar.low = price
                    bar.close = price
                    bar.volume += volume
                    bar.value += value
                    bar.last_ms = ts_ms
                    continue
            bars.append(Bar(start, price, price, price, price, volume, value, ts_ms))
            if len(bars) > limit + limit // 4:
                del bars[: len(bars) - limit]

    def update_day_and_24h(self, ts_ms: int, price: float, volume: float, side: str) -> None:
        day = ts_ms // 86_400_000 * DAY_S  # utc_midnight(ts_ms / 1000), in integers
        if day != self.acc_day:
            self.acc_day = day
            self.acc_ask_volume = 0.0
            self.acc_bid_volume = 0.0
        if side == "ASK":
            self.acc_ask_volume += volume
        else:
            self.acc_bid_volume += volume
        minute = ts_ms // 60_000 * 60
        if self.minutes and self.minutes[-1][0] == minute:
            entry = self.minutes[-1]
            entry[1] += volume
            entry[2] += price * volume
        else:
            self.minutes.append([minute, volume, price * volume])
        self.volume_24h += volume
        self.value_24h += price * volume

    # -- candles -------------------------------------------------------------------------------

    def prev_close_for(self, epoch_s: int) -> float:
        """Close of the UTC day before the day containing `epoch_s`."""
        day = utc_midnight(epoch_s)
        bars = self.bars["1d"]
        index = bisect.bisect_left(bars, day, key=lambda bar: bar.start)
        if index > 0:
            return bars[index - 1].close
        # The previous day is synthetic: its close is the path's price at this midnight.
        return self.ticks.round_price(self.history.price(min(day, self.history_end)))

    def prev_close_of_day(self, day: int) -> float:
        """prev_close_for a UTC midnight, cached: the days before `day` are closed, so their
        last close is final once `day` has begun."""
        cached_day, prev_close = self.prev_close
        if cached_day != day:
            prev_close = self.prev_close_for(day)
            self.prev_close = (day, prev_close)
        return prev_close

    def candle(self, interval: str, bar: Bar) -> Candle:
        prev_close = self.prev_close_for(bar.start) if interval == "1d" else None
        return Candle(
            self.code,
            interval,
            bar.start,
            bar.open,
            bar.high,
            bar.low,
            bar.close,
            round(bar.volume, 8),
            bar.value,
            bar.last_ms,
            prev_close,
        )

    def candles(self, interval: str, to: float | None, count: int) -> list[Candle]:
        """See MarketModel.candles."""
        length = INTERVALS[interval]
        bars = self.bars[interval]
        end = len(bars) if to is None else bisect.bisect_left(bars, to, key=lambda b: b.start)
        result = [self.candle(interval, bars[i]) for i in range(end - 1, -1, -1)]
        del result[count:]
        if len(result) >= count:
            return result
        # The synthetic past: buckets that end at or before history_end.
        start = self.history_end // length * length - length
        if bars:
            start = min(start, bars[0].start - length)
        if to is not None:
            start = min(start, (math.ceil(to) - 1) // length * length)
        span_start = self.history.span_start
        if interval == "1s":  # the seconds that traded, from the past trades
            self._past_second_candles(result, start, count, span_start)
            return result
        while len(result) < count and start >= span_start:
            result.append(self._synthetic_candle(interval, start, length))
            start -= length
        return result

    def _past_second_candles(
        self, result: list[Candle], last: int, count: int, span_start: int
    ) -> None:
        """Append 1s candles of the synthetic past, newest first, from second `last` down:
        only the seconds with trades exist (as on Upbit), each made of its trades."""
        minute = last // 60 * 60
        past = self.past_trades
        while len(result) < count and minute >= span_start:
            seconds: dict[int, list[Trade]] = {}
            for trade in past.minute(minute):
                second = trade.trade_timestamp // 1000
                if second <= last:
                    seconds.setdefault(second, []).append(trade)
            for second in sorted(seconds, reverse=True):
                trades = seconds[second]
                prices = [t.trade_price for t in trades]
                result.append(
                    Candle(
                        self.code,
                        "1s",
                        second,
                        prices[0],
                        max(prices),
                        min(prices),
                        prices[-1],
                        round(math.fsum(t.trade_volume for t in trades), 8),
                        math.fsum(t.trade_price * t.trade_volume for t in trades),
                        trades[-1].trade_timestamp,
                    )
                )
                if len(result) >= count:
                    return
            minute -= 60

    def _synthetic_candle(self, interval: str, start: int, length: int) -> Candle:
        c = self.history.candle(start, length)
        prev_close = self.ticks.round_price(self.history.price(start)) if interval == "1d" else None
        return Candle(
            self.code,
            interval,
            start,
            c.open,
            c.high,
            c.low,
            c.close,
            c.volume,
            c.value,
            c.last_trade_ms,
            prev_close,
        )

    # -- ticker --------------------------------------------------------------------------------

    def ticker(self, now_ms: int) -> Ticker:
        last = self.last_trade
        assert last is not None  # every market has seeded trades
        now_ms = max(now_ms, last.trade_timestamp)
        day_bar = self.bars["1d"][-1]
        prev_close = self.prev_close_of_day(day_bar.start)
        price = last.trade_price
        signed = self.ticks.difference(price, prev_close, signed=True)
        signed_rate = round(signed / prev_close, 10) if prev_close else 0.0
        volume_24h, value_24h = self._rolling_24h(now_ms // 1000)
        week = self.week_52(day_bar)
        kst_ms = last.trade_timestamp + KST_OFFSET_S * 1000
        return Ticker(
            market=self.code,
            trade_date=utc_date(last.trade_timestamp, ""),
            trade_time=utc_time(last.trade_timestamp, ""),
            trade_date_kst=utc_date(kst_ms, ""),
            trade_time_kst=utc_time(kst_ms, ""),
            trade_timestamp=last.trade_timestamp,
            opening_price=day_bar.open,
            high_price=day_bar.high,
            low_price=day_bar.low,
            trade_price=price,
            prev_closing_price=prev_close,
            change=change_of(price, prev_close),
            change_price=abs(signed),
            change_rate=abs(signed_rate),
            signed_change_price=signed,
            signed_change_rate=signed_rate,
            trade_volume=last.trade_volume,
            acc_trade_price=day_bar.value,
            acc_trade_price_24h=value_24h,
            acc_trade_volume=round(day_bar.volume, 8),
            acc_trade_volume_24h=round(volume_24h, 8),
            highest_52_week_price=week.high,
            highest_52_week_date=week.high_date,
            lowest_52_week_price=week.low,
            lowest_52_week_date=week.low_date,
            timestamp=now_ms,
            ask_bid=last.ask_bid,
            acc_ask_volume=round(self.acc_ask_volume, 8),
            acc_bid_volume=round(self.acc_bid_volume, 8),
        )

    def _rolling_24h(self, now_s: int) -> tuple[float, float]:
        window_start = now_s - DAY_S
        while self.minutes and self.minutes[0][0] < window_start:
            _, volume, value = self.minutes.popleft()
            self.volume_24h -= volume
            self.value_24h -= value
        synthetic_volume = synthetic_value = 0.0
        history_end = self.history_end
        if window_start < history_end:
            cached_at, synthetic_volume, synthetic_value = self.synthetic_24h
            if cached_at != now_s:
                history = self.history
                synthetic_volume = history.cumulative_volume(
                    history_end
                ) - history.cumulative_volume(window_start)
                mean_price = (history.price(window_start) + history.price(history_end)) / 2
                synthetic_value = synthetic_volume * mean_price
                self.synthetic_24h = (now_s, synthetic_volume, synthetic_value)
        return self.volume_24h + synthetic_volume, self.value_24h + synthetic_value

    def week_52(self, day_bar: Bar) -> Week52:
        today = utc_midnight(day_bar.start)
        cached = self.week52
        if cached is None or cached.day_start != today:
            # The whole synthetic days of the window (the day around history_end is a live bar).
            stop = min(today, utc_midnight(self.history_end))
            extremes = self.history.day_extremes(today - 364 * DAY_S, stop)
            high, high_day, low, low_day = extremes or (-math.inf, today, math.inf, today)
            cached = Week52(today, high, utc_date(high_day * 1000), low, utc_date(low_day * 1000))
            self.week52 = cached
        high, high_date, low, low_date = cached.high, cached.high_date, cached.low, cached.low_date
        for bar in self.bars["1d"]:
            if bar.start < today - 364 * DAY_S:
                continue
            if bar.high > high:
                high, high_date = bar.high, utc_date(bar.start * 1000)
            if bar.low < low:
                low, low_date = bar.low, utc_date(bar.start * 1000)
        return Week52(today, high, high_date, low, low_date)

    # -- order book ----------------------------------------------------------------------------

    def supported_levels(self) -> list[float]:
        """[0.0, 10**k ...]: powers of ten above the tick, up to the price (KRW markets)."""
        levels = [0.0]
        if self.ticks.quote != "KRW":
            return levels  # Upbit aggregates KRW books only ("level" 0 elsewhere)
        tick = self.ticks.tick_size(self.last_price)
        exponent = math.floor(math.log10(tick)) + 1
        while 10.0**exponent <= self.last_price:
            levels.append(float(f"1e{exponent}"))
            exponent += 1
        return levels

    def _unit_size(self, side: int, index: int, price: float) -> float:
        # Deeper levels change less often than the top of the book.
        key = hash_key(self.salt, 7, side, index, self.version // (1 + index // 3))
        value = self.listing.depth_value * (0.15 + 1.7 * uniform(key)) * (1 + 0.04 * index)
        return max(round(value / price, 8), 0.00000001)

    def orderbook(self, depth: int, level: float, timestamp: int) -> Orderbook | None:
        """See MarketModel.orderbook."""
        depth = max(1, min(depth, MAX_BOOK_DEPTH))
        if level and level not in self.supported_levels():
            return None
        if not level:
            book = self.book
            asks, bids = book.ask_prices[:depth], book.bid_prices[:depth]
            ask_sizes, bid_sizes = book.ask_sizes[:depth], book.bid_sizes[:depth]
            return Orderbook(
                market=self.code,
                timestamp=timestamp,
                total_ask_size=round(math.fsum(ask_sizes), 8),
                total_bid_size=round(math.fsum(bid_sizes), 8),
                orderbook_units=tuple(map(OrderbookUnit, asks, bids, ask_sizes, bid_sizes)),
                level=level,
            )
        units: list[OrderbookUnit] = []
        decimals = max(0, -math.floor(math.log10(level)))
        ask_bucket = math.ceil(self.best_ask / level - 1e-9)
        bid_bucket = math.floor(self.best_bid / level + 1e-9)
        growth = math.sqrt(level / self.ticks.tick_size(self.last_price))
        for i in range(depth):
            ask = round((ask_bucket + i) * level, decimals)
            bid = round((bid_bucket - i) * level, decimals)
            if bid <= 0:
                bid = 0.0
            ask_size = round(self._unit_size(0, i, ask) * growth, 8)
            bid_size = round(self._unit_size(1, i, bid) * growth, 8) if bid else 0.0
            units.append(OrderbookUnit(ask, bid, ask_size, bid_size))
        return Orderbook(
            market=self.code,
            timestamp=timestamp,
            total_ask_size=round(math.fsum([u.ask_size for u in units]), 8),
            total_bid_size=round(math.fsum([u.bid_size for u in units]), 8),
            orderbook_units=tuple(units),
            level=level,
        )


def _bar_limit(interval: str) -> int:
    """Bars kept per interval (trimmed to this once 25% more have piled up)."""
    return _MAX_BARS.get(interval, _DEFAULT_MAX_BARS)
