"""Seven days of trades (issue 10 item 4): Upbit's `/v1/trades/ticks` reaches `days_ago=7`.

The simulator's recorded trades start a few minutes before start-up; older trades come from
the synthetic past, a minute at a time, and must agree with the candles REST serves for the
same minutes, be the same whatever the order they are asked in, and page without a seam.
"""

from __future__ import annotations

import itertools
import math
import random
from typing import Any

import aiohttp
import pytest
from sim_harness import FIXED_NOW

from upbit_tui.exchange import ExchangeServer, MarketModel
from upbit_tui.exchange.history import DAY_S, utc_midnight
from upbit_tui.exchange.ticks import table_for

CODES = ("KRW-BTC", "KRW-XRP", "KRW-SHIB", "BTC-ETH", "USDT-BTC")


def make_model() -> MarketModel:
    return MarketModel(seed=4, markets=12, clock=lambda: FIXED_NOW, btc_markets=2, usdt_markets=2)


def minute_trades(model: MarketModel, code: str, start: int, most: int = 400) -> list[Any]:
    """Every trade of the minute [start, start + 60), oldest first (`most`: more than a minute
    of the market holds)."""
    trades = model.trades(code, most, to_ms=(start + 60) * 1000)
    return [t for t in reversed(trades) if t.trade_timestamp >= start * 1000]


@pytest.mark.parametrize("code", CODES)
def test_a_past_minute_s_trades_make_its_candle(code: str) -> None:
    model = make_model()
    ticks = table_for(code)
    for days_back in (0.1, 1.5, 6.9):
        start = int(FIXED_NOW - days_back * DAY_S) // 60 * 60
        (candle,) = model.candles(code, "1m", to=start + 60, count=1)
        assert candle.start == start
        trades = minute_trades(model, code, start)
        assert trades, f"no trades in {code} at {start}"
        prices = [t.trade_price for t in trades]
        assert prices[0] == candle.opening_price and prices[-1] == candle.trade_price
        assert max(prices) == candle.high_price and min(prices) == candle.low_price
        assert all(ticks.is_on_tick(p) for p in prices)
        assert trades[-1].trade_timestamp == candle.timestamp
        volume = math.fsum(t.trade_volume for t in trades)
        assert volume == pytest.approx(candle.candle_acc_trade_volume, abs=1e-8 * len(trades))
        day = utc_midnight(start)
        assert {t.prev_closing_price for t in trades} == {
            model.candles(code, "1d", to=day + 1, count=1)[0].prev_closing_price
        }
        ids = [t.sequential_id for t in trades]
        assert ids == sorted(set(ids))
        assert all(t.sequential_id // 10_000 == t.trade_timestamp for t in trades)


def test_trades_reach_back_to_the_start_of_the_day_seven_days_ago_and_no_further() -> None:
    model = make_model()
    floor = utc_midnight(FIXED_NOW) - 7 * DAY_S
    oldest_day = model.trades("KRW-XRP", 500, to_ms=(floor + DAY_S) * 1000)
    assert oldest_day and all(t.trade_timestamp >= floor * 1000 for t in oldest_day)
    assert model.trades("KRW-XRP", 500, to_ms=(floor + 60) * 1000)  # its first minute
    assert model.trades("KRW-XRP", 500, to_ms=floor * 1000) == []
    assert model.trades("KRW-XRP", 5, cursor=oldest_day[-1].sequential_id - 10**12) == []


def test_the_past_is_the_same_whatever_is_asked_first() -> None:
    starts = [int(FIXED_NOW - k * 7_919) // 60 * 60 for k in range(1, 60)]
    first = make_model()
    forward = {s: minute_trades(first, "KRW-BTC", s) for s in starts}
    second = make_model()
    backward = {s: minute_trades(second, "KRW-BTC", s) for s in reversed(starts)}
    assert forward == backward
    assert make_model().trades("USDT-BTC", 300) == make_model().trades("USDT-BTC", 300)


def test_cursor_paging_crosses_from_recorded_to_synthetic_trades_without_a_seam() -> None:
    model = make_model()
    recorded_from = model.history_end * 1000
    seen: list[Any] = []
    cursor = None
    while len(seen) < 3_000:
        page = model.trades("KRW-BTC", 500, cursor=cursor)
        assert page
        seen += page
        cursor = page[-1].sequential_id
    ids = [t.sequential_id for t in seen]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    times = [t.trade_timestamp for t in seen]
    assert times == sorted(times, reverse=True)
    assert times[0] >= recorded_from > times[-1]  # both kinds were paged through
    # no hole at the seam: the step there is an ordinary one
    steps = [a - b for a, b in itertools.pairwise(times)]
    seam = next(i for i, t in enumerate(times) if t < recorded_from)
    assert steps[seam - 1] <= max(steps) and steps[seam - 1] < 60_000


def test_paging_across_utc_midnight_changes_the_previous_close_there() -> None:
    model = make_model()
    midnight = utc_midnight(FIXED_NOW) - 2 * DAY_S
    around = model.trades("KRW-XRP", 5_000, to_ms=(midnight + 600) * 1000)
    before = [t for t in around if t.trade_timestamp < midnight * 1000][:50]
    after = [t for t in around if t.trade_timestamp >= midnight * 1000]
    assert before and after
    assert len({t.prev_closing_price for t in after}) == 1
    assert len({t.prev_closing_price for t in before}) == 1
    # the close before midnight is the previous close after it
    last_before = before[0]
    (day_candle,) = model.candles("KRW-XRP", "1d", to=midnight + 1, count=1)
    assert after[0].prev_closing_price == day_candle.prev_closing_price
    assert last_before.prev_closing_price != after[0].prev_closing_price


async def test_rest_serves_days_ago_one_to_seven() -> None:
    async with ExchangeServer(
        seed=4, markets=5, rate=0.0, clock=lambda: FIXED_NOW, candle_interval=3600.0
    ) as sim, aiohttp.ClientSession() as http:  # fmt: skip
        today = utc_midnight(FIXED_NOW)
        for days_ago in range(1, 8):
            params = {"market": "KRW-ETH", "count": "200", "days_ago": str(days_ago),
                      "to": "12:00:00"}  # fmt: skip
            async with http.get(f"{sim.rest_url}/v1/trades/ticks", params=params) as response:
                assert response.status == 200
                body = await response.json()
            day = today - days_ago * DAY_S
            assert len(body) == 200
            assert all(day * 1000 <= t["timestamp"] < (day + 12 * 3600) * 1000 for t in body)
            ids = [t["sequential_id"] for t in body]
            assert ids == sorted(ids, reverse=True)


@pytest.mark.parametrize("code", ["KRW-BTC", "KRW-SHIB", "USDT-BTC"])
def test_past_second_candles_are_made_of_the_past_trades(code: str) -> None:
    model = make_model()
    start = int(FIXED_NOW - 3 * DAY_S) // 60 * 60
    trades = minute_trades(model, code, start)
    by_second: dict[int, list[Any]] = {}
    for trade in trades:
        by_second.setdefault(trade.trade_timestamp // 1000, []).append(trade)
    candles = model.candles(code, "1s", to=start + 60, count=len(by_second) + 5)
    assert [c.start for c in candles[: len(by_second)]] == sorted(by_second, reverse=True)
    assert candles[len(by_second)].start < start  # then the minute before: no empty seconds
    for candle in candles[: len(by_second)]:
        group = by_second[candle.start]
        assert candle.opening_price == group[0].trade_price
        assert candle.trade_price == group[-1].trade_price
        assert candle.high_price == max(t.trade_price for t in group)
        assert candle.low_price == min(t.trade_price for t in group)
        assert candle.timestamp == group[-1].trade_timestamp
        volume = math.fsum(t.trade_volume for t in group)
        assert candle.candle_acc_trade_volume == pytest.approx(volume, abs=1e-8)
    assert len(model.candles(code, "1s", count=400)) == 400


def test_every_market_builds_its_past_minutes() -> None:
    model = MarketModel(seed=8, markets=40, clock=lambda: FIXED_NOW, btc_markets=8, usdt_markets=8)
    rng = random.Random(8)
    for code in model.market_codes():
        for _ in range(5):
            start = int(FIXED_NOW - rng.uniform(600, 7 * DAY_S)) // 60 * 60
            (candle,) = model.candles(code, "1m", to=start + 60, count=1)
            trades = minute_trades(model, code, start, most=150)  # up to 90 trades a minute
            assert trades and trades[0].trade_price == candle.opening_price, code
            prices = [t.trade_price for t in trades]
            assert candle.low_price == min(prices) and candle.high_price == max(prices), code
