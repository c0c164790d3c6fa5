"""The synthetic history's fast paths give exactly what the plain definitions give."""

from __future__ import annotations

import math
import random

import pytest

from upbit_tui.exchange.catalog import listings
from upbit_tui.exchange.history import DAY_S, SyntheticHistory, hash_key, utc_midnight

HISTORY_END = 1_764_000_000 // 60 * 60


def make_history(salt: int, base_price: float, volatility: float = 0.035) -> SyntheticHistory:
    return SyntheticHistory(salt, base_price, HISTORY_END, volatility, 3.0)


def naive_extremes(history: SyntheticHistory, first: int, stop: int) -> tuple[float, ...] | None:
    """The definition: max/min of every day's price_range, the earliest day winning a tie."""
    high, high_day, low, low_day = -math.inf, first, math.inf, first
    for day in range(first, stop, DAY_S):
        _, day_high, day_low, _ = history.price_range(day, DAY_S)
        if day_high > high:
            high, high_day = day_high, day
        if day_low < low:
            low, low_day = day_low, day
    return None if high == -math.inf else (high, high_day, low, low_day)


def test_midnight_prices_are_the_path_at_midnight_bit_for_bit() -> None:
    for salt in (1, 2, 3, hash_key(99)):
        fast = make_history(salt, 5_230_000.0)
        plain = make_history(salt, 5_230_000.0)
        first = fast.span_start + 17 * DAY_S
        prices = fast._midnight_prices(first, 400)
        assert prices == [plain.price(first + k * DAY_S) for k in range(400)]


@pytest.mark.parametrize("listing", listings(60), ids=lambda listing: listing.market)
def test_52_week_extremes_match_the_definition_for_every_listing(listing: object) -> None:
    base = listing.base_price  # type: ignore[attr-defined]
    history = make_history(hash_key(1, 5, base.as_integer_ratio()[0] & 0xFFFF), base)
    today = utc_midnight(HISTORY_END)
    first = today - 364 * DAY_S
    assert history.day_extremes(first, today) == naive_extremes(history, first, today)


def test_52_week_extremes_match_on_random_paths_and_windows() -> None:
    rng = random.Random(4)
    for _ in range(40):
        base = 10 ** rng.uniform(-4.5, 8.5)  # from below KRW-BTT to above KRW-BTC
        volatility = rng.choice((0.004, 0.035, 0.2))
        history = make_history(rng.getrandbits(64), base, volatility)
        today = utc_midnight(HISTORY_END)
        first = today - rng.randrange(1, 480) * DAY_S
        stop = min(today, first + rng.randrange(0, 400) * DAY_S)
        assert history.day_extremes(first, stop) == naive_extremes(history, first, stop)


def test_no_whole_day_gives_none() -> None:
    history = make_history(7, 1_000.0)
    today = utc_midnight(HISTORY_END)
    assert history.day_extremes(today, today) is None
