"""Upbit's KRW-market tick table (policy of 2025-07-31; upbit-protocol.md section 8).

Prices are floats rounded to the tick's decimal places, so `0.000482 + 0.000001` renders as
`0.000483`, never `0.00048300000000000003`. The band below 0.0001 KRW is an extrapolation of the
table (no listed market trades there).
"""

from __future__ import annotations

import bisect
import functools
import math

# (lower bound of the band, tick size, decimal places of the tick), ascending.
KRW_TICK_BANDS: tuple[tuple[float, float, int], ...] = (
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
_LOWER = [band[0] for band in KRW_TICK_BANDS]
MIN_PRICE = KRW_TICK_BANDS[0][1]


def _band(price: float) -> tuple[float, float, int]:
    return KRW_TICK_BANDS[max(0, bisect.bisect_right(_LOWER, price) - 1)]


def tick_size(price: float) -> float:
    """The tick at `price` (a price exactly on a band's lower bound uses that band's tick)."""
    return _band(price)[1]


def tick_decimals(price: float) -> int:
    """Decimal places of the tick at `price`."""
    return _band(price)[2]


def round_price(price: float) -> float:
    """`price` rounded to the nearest valid tick (at least the smallest tick)."""
    price = max(price, MIN_PRICE)
    _, tick, decimals = _band(price)
    return round(round(price / tick) * tick, decimals)


def is_on_tick(price: float) -> bool:
    """True when `price` is a valid order price (a whole number of ticks of its band)."""
    if price <= 0:
        return False
    _, tick, _ = _band(price)
    steps = price / tick
    return math.isclose(steps, round(steps), rel_tol=0.0, abs_tol=1e-6)


def tick_up(price: float) -> float:
    """The next valid price above `price`."""
    _, tick, decimals = _band(price)
    return round(price + tick, decimals)


def tick_down(price: float) -> float:
    """The next valid price below `price` (crossing into the lower band's tick at a boundary)."""
    index = max(0, bisect.bisect_left(_LOWER, price) - 1)
    _, tick, decimals = KRW_TICK_BANDS[index]
    return max(MIN_PRICE, round(price - tick, decimals))


def price_decimals(price: float) -> int:
    """Decimal places to render a price of this size with (same as its tick's)."""
    return tick_decimals(price)


@functools.lru_cache(maxsize=4096)
def ladder_up(price: float, count: int) -> tuple[float, ...]:
    """`price` and the next `count - 1` valid prices above it."""
    index = max(0, bisect.bisect_right(_LOWER, price) - 1)
    _, tick, decimals = KRW_TICK_BANDS[index]
    upper = KRW_TICK_BANDS[index + 1][0] if index + 1 < len(KRW_TICK_BANDS) else math.inf
    if price + (count - 1) * tick < upper:  # one band: plain arithmetic
        return tuple(round(price + i * tick, decimals) for i in range(count))
    prices = [price]
    for _ in range(count - 1):
        prices.append(tick_up(prices[-1]))
    return tuple(prices)


@functools.lru_cache(maxsize=4096)
def ladder_down(price: float, count: int) -> tuple[float, ...]:
    """`price` and the next `count - 1` valid prices below it (never below the smallest tick)."""
    index = max(0, bisect.bisect_left(_LOWER, price) - 1)
    lower, tick, decimals = KRW_TICK_BANDS[index]
    if price - (count - 1) * tick >= max(lower, MIN_PRICE):
        return tuple(round(price - i * tick, decimals) for i in range(count))
    prices = [price]
    for _ in range(count - 1):
        prices.append(tick_down(prices[-1]))
    return tuple(prices)
