"""Trades of the synthetic past, a minute at a time, consistent with the minute candles.

Upbit's `GET /v1/trades/ticks` reaches seven days back (`days_ago=1..7`), further than the
simulator's recorded trades (from a few minutes before start-up). The trades before that are
a pure function of (market, minute): built on demand, kept in a small cache, the same whenever
and in whatever order they are asked for. Each minute's trades agree with its synthetic 1m
candle: the first trades at the open, the last at the close and at the candle's `timestamp`,
one at the high and one at the low, every price inside [low, high] on the tick table, and the
volumes sum to the candle's volume (to 1e-8 per trade). Sequential ids are
`trade_timestamp_ms * 10000 + n` (n counting trades in the same millisecond), below every
recorded trade's.
"""

from __future__ import annotations

import math
from collections import OrderedDict

from upbit_tui.exchange.history import SyntheticHistory, hash_key, uniform, utc_midnight
from upbit_tui.exchange.records import Trade
from upbit_tui.exchange.ticks import TickTable, change_of

TRADE_HISTORY_DAYS = 7  # Upbit: days_ago 1..7
_CACHED_MINUTES = 512
_MIN_VOLUME = 0.00000001


class PastTrades:
    """The synthetic past's trades of one market."""

    def __init__(
        self,
        market: str,
        history: SyntheticHistory,
        ticks: TickTable,
        trades_per_minute: float,
        salt: int,
    ) -> None:
        self.market = market
        self.history = history
        self.ticks = ticks
        self.trades_per_minute = trades_per_minute
        self._salt = salt
        self._cache: OrderedDict[int, tuple[Trade, ...]] = OrderedDict()

    def minute(self, start: int) -> tuple[Trade, ...]:
        """The trades of the minute beginning at `start` (epoch s), oldest first; none after
        the end of the synthetic history."""
        cached = self._cache.get(start)
        if cached is not None:
            self._cache.move_to_end(start)
            return cached
        trades = self._build(start) if start + 60 <= self.history.history_end else ()
        self._cache[start] = trades
        if len(self._cache) > _CACHED_MINUTES:
            self._cache.popitem(last=False)
        return trades

    def _build(self, start: int) -> tuple[Trade, ...]:
        candle = self.history.candle(start, 60)
        if candle.volume <= 0:
            return ()
        ticks = self.ticks
        key = hash_key(self._salt, 11, start)
        open_, high, low, close = candle.open, candle.high, candle.low, candle.close
        extremes = [p for p in (high, low) if p not in (open_, close)]
        count = max(
            int(self.trades_per_minute * (0.4 + 1.2 * uniform(key))),
            2 + len(extremes) if extremes or open_ != close else 1,
        )
        # Prices: open first, close last, the extremes at seeded places in between.
        prices = [0.0] * count
        prices[0], prices[-1] = open_, close
        free = list(range(1, count - 1))
        for index, extreme in enumerate(extremes):
            slot = free.pop(int(uniform(hash_key(key, 2, index)) * len(free)))
            prices[slot] = extreme
        span = high - low
        for slot in free:
            price = ticks.round_price(low + span * uniform(hash_key(key, 3, slot)))
            prices[slot] = min(max(price, low), high)
        # Times: the last at the candle's timestamp, the others before it in the minute.
        first_ms, last_ms = start * 1000, candle.last_trade_ms
        times = sorted(
            first_ms + int(uniform(hash_key(key, 4, i)) * (last_ms - first_ms))
            for i in range(count - 1)
        )
        times.append(last_ms)
        # Volumes: seeded shares of the candle's volume, the last taking what is left.
        weights = [0.2 - math.log(1.0 - uniform(hash_key(key, 5, i))) for i in range(count)]
        scale = candle.volume / math.fsum(weights)
        volumes = [max(round(w * scale, 8), _MIN_VOLUME) for w in weights[:-1]]
        volumes.append(max(round(candle.volume - math.fsum(volumes), 8), _MIN_VOLUME))
        prev_close = ticks.round_price(self.history.price(utc_midnight(start)))
        trades = []
        previous_price, previous_ms, same_ms = open_, -1, 0
        for i in range(count):
            price, ts_ms, volume = prices[i], times[i], volumes[i]
            if price > previous_price:
                side = "BID"
            elif price < previous_price:
                side = "ASK"
            else:
                side = "BID" if hash_key(key, 6, i) & 1 else "ASK"
            same_ms = same_ms + 1 if ts_ms == previous_ms else 0
            previous_price, previous_ms = price, ts_ms
            best_ask = price if side == "BID" else ticks.tick_up(price)
            best_bid = price if side == "ASK" else ticks.tick_down(price)
            trades.append(
                Trade(
                    market=self.market,
                    trade_timestamp=ts_ms,
                    trade_price=price,
                    trade_volume=volume,
                    ask_bid=side,
                    prev_closing_price=prev_close,
                    change=change_of(price, prev_close),
                    change_price=ticks.difference(price, prev_close),
                    sequential_id=ts_ms * 10_000 + same_ms,
                    best_ask_price=best_ask,
                    best_ask_size=round(volume * (1 + 3 * uniform(hash_key(key, 7, i))), 8),
                    best_bid_price=best_bid,
                    best_bid_size=round(volume * (1 + 3 * uniform(hash_key(key, 8, i))), 8),
                )
            )
        return tuple(trades)

    def before(
        self,
        bound_ms: int,
        floor_ms: int,
        count: int,
        to_ms: int | None,
        cursor: int | None,
    ) -> list[Trade]:
        """Up to `count` trades newest first, older than `bound_ms`, not older than `floor_ms`,
        with `trade_timestamp < to_ms` and `sequential_id < cursor` when given."""
        result: list[Trade] = []
        if to_ms is not None:
            bound_ms = min(bound_ms, to_ms)
        if cursor is not None:  # ids here are ms * 10000 + n: nothing at or after this ms
            bound_ms = min(bound_ms, cursor // 10_000 + 1)
        minute = (bound_ms - 1) // 60_000 * 60
        while len(result) < count and minute * 1000 >= floor_ms:
            for trade in reversed(self.minute(minute)):
                if trade.trade_timestamp >= bound_ms:
                    continue
                if to_ms is not None and trade.trade_timestamp >= to_ms:
                    continue
                if cursor is not None and trade.sequential_id >= cursor:
                    continue
                result.append(trade)
                if len(result) >= count:
                    break
            minute -= 60
        return result
