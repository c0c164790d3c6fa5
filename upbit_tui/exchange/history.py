"""Deterministic synthetic history: a price path and a volume curve defined at any instant.

The simulator starts with a past (so REST can serve 400+ candles of every interval at once)
without generating millions of trades. The log price is a Brownian motion built with Lévy's
construction (a sum of Schauder tent functions with hashed Gaussian coefficients) over a
512-day span aligned to UTC midnight: its value at any instant costs ~26 hash evaluations and
needs no state, and every interval's candles share the same path (a 5m candle opens where the
enclosing 15m candle's price was at that instant). Cumulative volume is a strictly increasing
curve built the same way, so volumes ARE additive across intervals (the 1m volumes of a day sum
to that day's volume). Highs and lows extend each candle's open/close by a hashed excursion
scaled to the candle's length: plausible, but not an exact max over the sub-candles (a synthetic
5m high may exceed the high of the synthetic 15m candle around it). Traded value is volume times
a typical price inside the candle.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from upbit_tui.exchange.ticks import KRW, TickTable

DAY_S = 86_400
SPAN_DAYS = 512  # a power of two times a day: day boundaries are dyadic points of the span
_SPAN_MS = SPAN_DAYS * DAY_S * 1000
_PRICE_LEVELS = 26  # finest tent ~0.66 s
# Volume modulation on levels from ~256 days down to ~1 min (coarse levels make days differ).
_VOLUME_LEVELS = range(1, 24)
_VOLUME_AMPLITUDE = 0.04  # times the number of levels < 1: the curve stays strictly increasing
_MASK = (1 << 64) - 1
_HASH_START = 0x243F6A8885A308D3
_DAY_LEVELS = 9  # log2(SPAN_DAYS): at a day boundary every tent finer than this is zero
_G_MAX = 3.4641016151377544 + 1e-9  # bound of |gaussian()| (Irwin-Hall of four parts)


def _tent_scales() -> tuple[float, ...]:
    """The per-level tent scales, by the same repeated multiplication the sum always used."""
    scales = []
    scale = 1.0
    for _ in range(_PRICE_LEVELS):
        scales.append(scale)
        scale *= 0.7071067811865476
    return tuple(scales)


_SCALES = _tent_scales()


def _mix(value: int) -> int:
    """splitmix64 finaliser: a fast, well-spread 64-bit hash of an integer."""
    value = (value + 0x9E3779B97F4A7C15) & _MASK
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK
    return value ^ (value >> 31)


def hash_key(*parts: int) -> int:
    """A 64-bit hash of a tuple of integers (order matters)."""
    acc = _HASH_START
    for part in parts:
        acc = _mix(acc ^ (part & _MASK))
    return acc


def gaussian(key: int) -> float:
    """An approximately standard normal number from a hash (Irwin-Hall of four 16-bit parts)."""
    total = (key & 0xFFFF) + ((key >> 16) & 0xFFFF) + ((key >> 32) & 0xFFFF) + (key >> 48)
    return (total / 65535.0 - 2.0) * 1.7320508075688772


def uniform(key: int) -> float:
    """A uniform number in [0, 1) from a hash."""
    return (key >> 11) * (1.0 / (1 << 53))


def utc_midnight(epoch_s: float) -> int:
    return int(epoch_s // DAY_S) * DAY_S


@dataclass(frozen=True, slots=True)
class SyntheticCandle:
    start: int  # epoch seconds
    end: int  # epoch seconds, exclusive (may be cut short by the end of history)
    open: float
    high: float
    low: float
    close: float
    volume: float
    value: float
    last_trade_ms: int


class SyntheticHistory:
    """The past of one market, up to `history_end` (epoch seconds), ending at `base_price`."""

    def __init__(
        self,
        salt: int,
        base_price: float,
        history_end: int,
        daily_volatility: float,
        volume_per_second: float,
        ticks: TickTable = KRW,
    ) -> None:
        self.salt = salt
        self.ticks = ticks
        self.history_end = history_end
        self.span_start = utc_midnight(history_end) - (SPAN_DAYS - 12) * DAY_S
        self._start_ms = self.span_start * 1000
        self._sigma = daily_volatility * math.sqrt(SPAN_DAYS)
        self._sigma_per_sqrt_s = daily_volatility / math.sqrt(DAY_S)
        self._log_base = math.log(base_price)
        self._volume_per_second = volume_per_second
        # hash_key(salt, tag, level, index) == _mix(<prefix of salt, tag, level> ^ index): the
        # prefixes are computed once, so a tent coefficient costs one _mix instead of four.
        salted = _mix(_HASH_START ^ salt)
        price_tag, volume_tag = _mix(salted ^ 1), _mix(salted ^ 2)
        self._price_keys = [_mix(price_tag ^ level) for level in range(_PRICE_LEVELS)]
        self._volume_keys = [_mix(volume_tag ^ level) for level in range(_VOLUME_LEVELS.stop)]
        self._range_key = _mix(salted ^ 3)  # hash_key(salt, 3, start, length) continues here
        self._g0 = gaussian(_mix(salted ^ 0))  # hash_key(salt, 0)
        self._offset = 0.0
        self._offset = self._brownian(history_end * 1000)
        self._price_cache: dict[int, float] = {}
        self._volume_at_end: float | None = None

    def _brownian(self, t_ms: int) -> float:
        """Standard Brownian motion on the span (W(0)=0, Var W(1)=1) at instant t_ms."""
        x = t_ms - self._start_ms
        x = min(max(x, 0), _SPAN_MS)
        value = self._g0 * (x / _SPAN_MS)
        keys = self._price_keys
        for level in range(_PRICE_LEVELS):
            index, rest = divmod(x << level, _SPAN_MS)
            if rest == 0:
                break  # a dyadic point of this level: every finer tent is zero here
            frac = rest / _SPAN_MS
            tent = 0.5 - abs(frac - 0.5)
            value += gaussian(_mix(keys[level] ^ index)) * tent * _SCALES[level]
        return value

    def _midnight_prices(self, first: int, count: int) -> list[float]:
        """price(first + k * DAY_S) for k in range(count), `first` a midnight inside the span.

        The same sums as _brownian, in the same order (so bit for bit the same floats), done a
        level at a time over all the days: a day boundary is a dyadic point of level 9, so only
        the 9 coarsest tents are non-zero there and their coefficients are shared by many days.
        """
        k0 = (first - self.span_start) // DAY_S
        ks = range(k0, k0 + count)
        assert (first - self.span_start) % DAY_S == 0 and k0 >= 0 and k0 + count - 1 <= SPAN_DAYS
        g0 = self._g0
        values = [g0 * (k / SPAN_DAYS) for k in ks]
        for level in range(_DAY_LEVELS):
            shift = _DAY_LEVELS - level
            mask = (1 << shift) - 1
            key = self._price_keys[level]
            scale = _SCALES[level]
            low = k0 >> shift
            coefficients = [
                gaussian(_mix(key ^ index)) for index in range(low, ((k0 + count - 1) >> shift) + 1)
            ]
            tents = [0.5 - abs((rest << level) / SPAN_DAYS - 0.5) for rest in range(mask + 1)]
            values = [
                value + coefficients[(k >> shift) - low] * tents[k & mask] * scale
                if k & mask
                else value  # the sum stopped at this level: every finer tent is zero here
                for value, k in zip(values, ks, strict=True)
            ]
        log_base, sigma, offset = self._log_base, self._sigma, self._offset
        prices = [math.exp(log_base + sigma * (value - offset)) for value in values]
        if len(self._price_cache) + count <= 50_000:  # price_range() of these days reuses them
            days = range(first, first + count * DAY_S, DAY_S)
            self._price_cache.update(zip(days, prices, strict=True))
        return prices

    def price(self, epoch_s: int) -> float:
        """The (unrounded) price at a whole second, cached: candle boundaries repeat a lot."""
        cached = self._price_cache.get(epoch_s)
        if cached is None:
            w = self._brownian(epoch_s * 1000) - self._offset
            cached = math.exp(self._log_base + self._sigma * w)
            if len(self._price_cache) > 50_000:
                self._price_cache.clear()
            self._price_cache[epoch_s] = cached
        return cached

    def cumulative_volume(self, epoch_s: int) -> float:
        """Volume traded from the start of the span to `epoch_s` (strictly increasing).

        The value at history_end is kept: every partial bar at start-up and the 24h window
        subtract from it."""
        if epoch_s == self.history_end:
            if self._volume_at_end is None:
                self._volume_at_end = self._cumulative_volume(epoch_s)
            return self._volume_at_end
        return self._cumulative_volume(epoch_s)

    def _cumulative_volume(self, epoch_s: int) -> float:
        x = min(max(epoch_s * 1000 - self._start_ms, 0), _SPAN_MS)
        u = x / _SPAN_MS
        total = u
        for level in _VOLUME_LEVELS:
            index, rest = divmod(x << level, _SPAN_MS)
            if rest == 0:
                break  # a dyadic point of this level: every finer tent is zero here
            sign = 1.0 if _mix(self._volume_keys[level] ^ index) & 1 else -1.0
            frac = rest / _SPAN_MS
            total += sign * _VOLUME_AMPLITUDE * (0.5 - abs(frac - 0.5)) / (1 << level)
        return total * _SPAN_MS / 1000 * self._volume_per_second

    def price_range(self, start: int, length: int) -> tuple[float, float, float, float]:
        """(open, high, low, close) of the synthetic candle [start, start+length), rounded."""
        end = min(start + length, self.history_end)
        round_price = self.ticks.round_price
        open_ = round_price(self.price(start))
        close = round_price(self.price(end))
        excursion = self._sigma_per_sqrt_s * math.sqrt(max(end - start, 1)) * 0.6
        key = _mix(_mix(self._range_key ^ start) ^ length)  # hash_key(salt, 3, start, length)
        up = abs(gaussian(key)) * excursion
        down = abs(gaussian(_mix(key))) * excursion
        high = max(round_price(max(open_, close) * math.exp(up)), open_, close)
        low = min(round_price(min(open_, close) * math.exp(-down)), open_, close)
        return open_, high, low, close

    def candle(self, start: int, length: int) -> SyntheticCandle:
        """The synthetic candle [start, start+length), cut at the end of history."""
        end = min(start + length, self.history_end)
        open_, high, low, close = self.price_range(start, length)
        volume = self.cumulative_volume(end) - self.cumulative_volume(start)
        volume = round(volume, 8)
        typical = (open_ + high + low + close) / 4
        key = _mix(_mix(self._range_key ^ start) ^ length)
        last_ms = end * 1000 - 1 - (key >> 40) % min(1000, (end - start) * 1000)
        return SyntheticCandle(
            start, end, open_, high, low, close, volume, volume * typical, last_ms
        )

    def day_extremes(self, first: int, stop: int) -> tuple[float, int, float, int] | None:
        """(high, its day, low, its day) over the whole synthetic days [first, stop).

        Exactly max/min of price_range(day, DAY_S) over those days (the earliest day wins a
        tie), without computing every day: midnight prices come a level at a time
        (_midnight_prices), and a day's high can exceed its open/close by at most the largest
        hashed excursion (plus rounding), so only the days whose bound reaches the best high
        found so far are computed exactly (the same for lows). None when there is no day.
        """
        count = (stop - first) // DAY_S
        if count <= 0:
            return None
        if first < self.span_start or stop > self.span_start + SPAN_DAYS * DAY_S:
            return self._day_extremes_exact(first, count)  # outside the span: the path is flat
        prices = self._midnight_prices(first, count + 1)
        if min(prices) < 0.0001:  # a tick there may exceed 1% of the price: no safe bound
            return self._day_extremes_exact(first, count)
        excursion = self._sigma_per_sqrt_s * math.sqrt(DAY_S) * 0.6
        tick_size = self.ticks.tick_size
        grow = math.exp(_G_MAX * excursion) * (1 + 1e-9)
        highs = [max(a, b) for a, b in itertools.pairwise(prices)]
        lows = [min(a, b) for a, b in itertools.pairwise(prices)]
        high, high_i = -math.inf, 0
        for i in sorted(range(count), key=highs.__getitem__, reverse=True):
            bound = highs[i] * grow
            if bound + 2 * tick_size(2 * bound) < high:
                break  # every remaining day has a lower bound than this one
            day_high = self.price_range(first + i * DAY_S, DAY_S)[1]
            if day_high > high or (day_high == high and i < high_i):
                high, high_i = day_high, i
        low, low_i = math.inf, 0
        for i in sorted(range(count), key=lows.__getitem__):
            bound = lows[i] / grow
            if bound - 2 * tick_size(2 * lows[i]) > low:
                break
            day_low = self.price_range(first + i * DAY_S, DAY_S)[2]
            if day_low < low or (day_low == low and i < low_i):
                low, low_i = day_low, i
        return high, first + high_i * DAY_S, low, first + low_i * DAY_S

    def _day_extremes_exact(self, first: int, count: int) -> tuple[float, int, float, int]:
        high, high_day, low, low_day = -math.inf, first, math.inf, first
        for day in range(first, first + count * DAY_S, DAY_S):
            _, day_high, day_low, _ = self.price_range(day, DAY_S)
            if day_high > high:
                high, high_day = day_high, day
            if day_low < low:
                low, low_day = day_low, day
        return high, high_day, low, low_day
