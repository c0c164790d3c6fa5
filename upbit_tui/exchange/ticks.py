"""Upbit's tick tables, one per quote currency (upbit-protocol.md section 8).

KRW: the policy of 2025-07-31 (the band below 0.0001 KRW is an extrapolation of the table: no
listed market trades there). BTC: one tick, 0.00000001 BTC, whatever the price (docs "BTC 마켓
주문 가격 단위"). USDT: the table of 2024-08-19, 0.01 at 10 USDT and above down to 0.00000001
below 0.0001 (docs "USDT 마켓 주문 가격 단위").

Prices are floats rounded to the tick's decimal places, so `0.000482 + 0.000001` renders as
`0.000483`, never `0.00048300000000000003`. The module-level functions are the KRW table's
(most markets, and the ones every caller before BTC/USDT markets meant).
"""

from __future__ import annotations

import bisect
import functools
import math
from collections.abc import Callable

Band = tuple[float, float, int]  # (lower bound of the band, tick size, decimal places)

# ascending
KRW_TICK_BANDS: tuple[Band, ...] = (
    (0.0, 0.0000001, 7),
    (0.0001, 0.000001, 6),
    (0.001, 0.00001, 5),
    (0.01, 0.0001, 4),
    (0.1, 0.001, 3),
    (1.0, 0.01, 2),
    (10.0, 0.1, 1),
    (100.0, 1.0, 0),
    (5_000.0, 5.0, 0),
    (10_000.0, 10.0, 0),
    (50_000.0, 50.0, 0),
    (100_000.0, 100.0, 0),
    (500_000.0, 500.0, 0),
    (1_000_000.0, 1_000.0, 0),
)
BTC_TICK_BANDS: tuple[Band, ...] = ((0.0, 0.00000001, 8),)
USDT_TICK_BANDS: tuple[Band, ...] = (
    (0.0, 0.00000001, 8),
    (0.0001, 0.0000001, 7),
    (0.001, 0.000001, 6),
    (0.01, 0.00001, 5),
    (0.1, 0.0001, 4),
    (1.0, 0.001, 3),
    (10.0, 0.01, 2),
)


class TickTable:
    """Valid prices of one quote currency's markets."""

    def __init__(self, quote: str, bands: tuple[Band, ...]) -> None:
        self.quote = quote
        self.bands = bands
        self._lower = [band[0] for band in bands]
        self.min_price = bands[0][1]
        # per-table caches (a method decorated with lru_cache would share one cache)
        self.ladder_up: Callable[[float, int], tuple[float, ...]] = functools.lru_cache(4096)(
            self._ladder_up
        )
        self.ladder_down: Callable[[float, int], tuple[float, ...]] = functools.lru_cache(4096)(
            self._ladder_down
        )

    def _band(self, price: float) -> Band:
        return self.bands[max(0, bisect.bisect_right(self._lower, price) - 1)]

    def tick_size(self, price: float) -> float:
        """The tick at `price` (a price exactly on a band's lower bound uses that band's tick)."""
        return self.bands[max(0, bisect.bisect_right(self._lower, price) - 1)][1]

    def tick_decimals(self, price: float) -> int:
        """Decimal places of the tick at `price`."""
        return self._band(price)[2]

    def price_decimals(self, price: float) -> int:
        """Decimal places to render a price of this size with (same as its tick's)."""
        return self._band(price)[2]

    def difference(self, price: float, reference: float, *, signed: bool = False) -> float:
        """|price - reference| (or signed), rounded to the finer of the two prices' decimals."""
        lower, bands = self._lower, self.bands
        decimals = max(
            bands[max(0, bisect.bisect_right(lower, price) - 1)][2],
            bands[max(0, bisect.bisect_right(lower, reference) - 1)][2],
        )
        diff = round(price - reference, decimals)
        return diff if signed else abs(diff)

    def round_price(self, price: float) -> float:
        """`price` rounded to the nearest valid tick (at least the smallest tick)."""
        price = max(price, self.min_price)
        _, tick, decimals = self.bands[bisect.bisect_right(self._lower, price) - 1]
        return round(round(price / tick) * tick, decimals)

    def is_on_tick(self, price: float) -> bool:
        """True when `price` is a valid order price (a whole number of ticks of its band)."""
        if price <= 0:
            return False
        _, tick, _ = self._band(price)
        steps = price / tick
        return math.isclose(steps, round(steps), rel_tol=0.0, abs_tol=1e-6)

    def tick_up(self, price: float) -> float:
        """The next valid price above `price`."""
        _, tick, decimals = self.bands[max(0, bisect.bisect_right(self._lower, price) - 1)]
        return round(price + tick, decimals)

    def tick_down(self, price: float) -> float:
        """The next valid price below `price` (crossing into the lower band's tick at a
        boundary)."""
        index = max(0, bisect.bisect_left(self._lower, price) - 1)
        _, tick, decimals = self.bands[index]
        return max(self.min_price, round(price - tick, decimals))

    def step_up(self, price: float, ticks: int) -> float:
        """The valid price `ticks` ticks above `price` (each band with its own tick)."""
        bands = self.bands
        index = bisect.bisect_right(self._lower, price) - 1
        _, tick, decimals = bands[index]
        stepped = round(price + ticks * tick, decimals)
        if index + 1 == len(bands) or stepped <= bands[index + 1][0]:
            return stepped  # within one band (the common case): plain arithmetic
        while ticks > 0:
            index = max(0, bisect.bisect_right(self._lower, price) - 1)
            _, tick, decimals = bands[index]
            step = ticks
            if index + 1 < len(bands):  # stop at the next band's lower bound
                step = min(ticks, max(1, math.ceil((bands[index + 1][0] - price) / tick - 1e-9)))
            price = round(price + step * tick, decimals)
            ticks -= step
        return price

    def step_down(self, price: float, ticks: int) -> float:
        """The valid price `ticks` ticks below `price` (never below the smallest tick)."""
        bands = self.bands
        index = max(0, bisect.bisect_left(self._lower, price) - 1)
        lower, tick, decimals = bands[index]
        stepped = round(price - ticks * tick, decimals)
        if stepped >= lower and stepped >= self.min_price:
            return stepped  # within one band (the common case): plain arithmetic
        while ticks > 0 and price > self.min_price:
            index = max(0, bisect.bisect_left(self._lower, price) - 1)
            lower, tick, decimals = bands[index]
            room = max(1, math.floor((price - max(lower, self.min_price)) / tick + 1e-9))
            step = min(ticks, room)
            price = max(self.min_price, round(price - step * tick, decimals))
            ticks -= step
        return price

    def walk_up(self, price: float, gaps: list[int]) -> list[float]:
        """The prices reached from `price` going up `gaps[0]`, then `gaps[1]`... ticks."""
        bands = self.bands
        index = bisect.bisect_right(self._lower, price) - 1
        _, tick, decimals = bands[index]
        if index + 1 == len(bands) or price + sum(gaps) * tick <= bands[index + 1][0]:
            walked, total = [], 0
            for gap in gaps:  # one band: plain arithmetic
                total += gap
                walked.append(round(price + total * tick, decimals))
            return walked
        walked = []
        for gap in gaps:
            price = self.step_up(price, gap)
            walked.append(price)
        return walked

    def walk_down(self, price: float, gaps: list[int]) -> list[float]:
        """The prices reached from `price` going down `gaps[0]`, then `gaps[1]`... ticks (never
        below the smallest tick)."""
        index = max(0, bisect.bisect_left(self._lower, price) - 1)
        lower, tick, decimals = self.bands[index]
        if price - sum(gaps) * tick >= max(lower, self.min_price):
            walked, total = [], 0
            for gap in gaps:  # one band: plain arithmetic
                total += gap
                walked.append(round(price - total * tick, decimals))
            return walked
        walked = []
        for gap in gaps:
            price = self.step_down(price, gap)
            walked.append(price)
        return walked

    def _ladder_up(self, price: float, count: int) -> tuple[float, ...]:
        """`price` and the next `count - 1` valid prices above it."""
        bands = self.bands
        index = max(0, bisect.bisect_right(self._lower, price) - 1)
        _, tick, decimals = bands[index]
        upper = bands[index + 1][0] if index + 1 < len(bands) else math.inf
        if price + (count - 1) * tick < upper:  # one band: plain arithmetic
            return tuple(round(price + i * tick, decimals) for i in range(count))
        prices = [price]
        for _ in range(count - 1):
            prices.append(self.tick_up(prices[-1]))
        return tuple(prices)

    def _ladder_down(self, price: float, count: int) -> tuple[float, ...]:
        """`price` and the next `count - 1` valid prices below it (never below the smallest
        tick)."""
        index = max(0, bisect.bisect_left(self._lower, price) - 1)
        lower, tick, decimals = self.bands[index]
        if price - (count - 1) * tick >= max(lower, self.min_price):
            return tuple(round(price - i * tick, decimals) for i in range(count))
        prices = [price]
        for _ in range(count - 1):
            prices.append(self.tick_down(prices[-1]))
        return tuple(prices)


def change_of(price: float, reference: float) -> str:
    """Upbit's `change`: RISE, FALL or EVEN against the previous close."""
    if price > reference:
        return "RISE"
    if price < reference:
        return "FALL"
    return "EVEN"


KRW = TickTable("KRW", KRW_TICK_BANDS)
BTC = TickTable("BTC", BTC_TICK_BANDS)
USDT = TickTable("USDT", USDT_TICK_BANDS)
TABLES = {"KRW": KRW, "BTC": BTC, "USDT": USDT}
MIN_PRICE = KRW.min_price


def table_for(market: str) -> TickTable:
    """The tick table of a market code's quote currency (`KRW-BTC` -> KRW)."""
    return TABLES[market.split("-", 1)[0]]


# The KRW table as plain functions.
tick_size = KRW.tick_size
tick_decimals = KRW.tick_decimals
price_decimals = KRW.price_decimals
round_price = KRW.round_price
is_on_tick = KRW.is_on_tick
tick_up = KRW.tick_up
tick_down = KRW.tick_down
ladder_up = KRW.ladder_up
ladder_down = KRW.ladder_down
