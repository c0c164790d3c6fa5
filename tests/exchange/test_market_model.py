"""The market model on its own: ticks, determinism, candles, books, trades, the ledger."""

from __future__ import annotations

import pytest

from upbit_tui.exchange import INTERVALS, MarketModel, OrderRejected
from upbit_tui.exchange.records import AssetUpdate, OrderUpdate
from upbit_tui.exchange.ticks import is_on_tick, round_price, tick_down, tick_size, tick_up

NOW = 1_780_000_000.0


def make_model(seed: int = 1, markets: int = 30, keys: tuple[str, ...] = ()) -> MarketModel:
    return MarketModel(seed=seed, markets=markets, clock=lambda: NOW, api_keys=keys)


@pytest.mark.parametrize(
    ("price", "tick"),
    [
        (148_500_000, 1000),
        (1_000_000, 1000),
        (999_500, 500),
        (500_000, 500),
        (261_300, 100),
        (50_000, 50),
        (30_150, 10),
        (5_000, 5),
        (3_420, 1),
        (331, 1),
        (61.3, 0.1),
        (3.21, 0.01),
        (0.321, 0.001),
        (0.0321, 0.0001),
        (0.00854, 0.00001),
        (0.000482, 0.000001),
    ],
)
def test_krw_tick_table(price: float, tick: float) -> None:
    assert tick_size(price) == tick


def test_tick_steps_cross_band_boundaries() -> None:
    assert tick_down(1_000_000) == 999_500
    assert tick_up(999_500) == 1_000_000
    assert tick_up(0.000482) == 0.000483
    assert tick_down(100.0) == 99.9
    assert round_price(148_500_499) == 148_500_000
    assert is_on_tick(148_501_000) and not is_on_tick(148_500_500)


def test_same_seed_and_clock_give_the_same_market() -> None:
    a, b = make_model(seed=7), make_model(seed=7)
    for _ in range(200):
        assert a.generate_trade() == b.generate_trade()
    assert a.ticker("KRW-BTC") == b.ticker("KRW-BTC")
    assert a.orderbook("KRW-ETH") == b.orderbook("KRW-ETH")
    assert a.candles("KRW-XRP", "1m", None, 50) == b.candles("KRW-XRP", "1m", None, 50)
    assert make_model(seed=8).trades("KRW-BTC", 5) != a.trades("KRW-BTC", 5)


def test_markets_span_the_price_bands_with_names() -> None:
    model = make_model()
    infos = model.markets()
    assert len(infos) == 30
    assert infos[0].market == "KRW-BTC" and infos[0].korean_name == "비트코인"
    prices = [model.ticker(info.market).trade_price for info in infos]
    assert max(prices) > 100_000_000 and min(prices) < 0.001
    assert len(make_model(markets=50).markets()) == 50


def test_sequential_ids_strictly_increase_even_on_a_frozen_clock() -> None:
    model = MarketModel(seed=1, markets=3, clock=lambda: NOW, out_of_order_ids=0.0)
    trades = [model.generate_trade() for _ in range(500)]
    sids = [t.sequential_id for t in trades]
    assert sids == sorted(sids) and len(set(sids)) == len(sids)
    assert all(t.sequential_id // 10_000 >= t.trade_timestamp for t in trades)
    for code in model.market_codes():
        history = [t.sequential_id for t in reversed(model.trades(code, 5000))]
        assert history == sorted(history)


def test_book_is_consistent_with_the_last_trade() -> None:
    model = make_model()
    for _ in range(300):
        trade = model.generate_trade()
        book = model.orderbook(trade.market)
        assert book is not None and len(book.orderbook_units) == 30
        best = book.orderbook_units[0]
        assert best.bid_price < best.ask_price
        assert trade.trade_price in (best.bid_price, best.ask_price)
        assert (trade.best_ask_price, trade.best_bid_price) == (best.ask_price, best.bid_price)
        asks = [u.ask_price for u in book.orderbook_units]
        bids = [u.bid_price for u in book.orderbook_units]
        assert asks == sorted(asks) and bids == sorted(bids, reverse=True)
        assert all(is_on_tick(p) for p in asks + bids)
        assert book.total_ask_size == pytest.approx(sum(u.ask_size for u in book.orderbook_units))


def test_aggregated_book_and_unsupported_level() -> None:
    model = make_model()
    assert model.supported_levels("KRW-BTC") == [0.0, 1e4, 1e5, 1e6, 1e7, 1e8]
    book = model.orderbook("KRW-BTC", depth=15, level=100_000)
    assert book is not None and len(book.orderbook_units) == 15
    assert all(
        u.ask_price % 100_000 == 0 and u.bid_price % 100_000 == 0 for u in book.orderbook_units
    )
    assert book.orderbook_units[0].bid_price < book.orderbook_units[0].ask_price
    assert model.orderbook("KRW-BTC", level=5_000) is None


@pytest.mark.parametrize("interval", list(INTERVALS))
def test_four_hundred_candles_of_every_interval_newest_first(interval: str) -> None:
    model = make_model(markets=2)
    first = model.candles("KRW-BTC", interval, None, 200)
    second = model.candles("KRW-BTC", interval, first[-1].start, 200)
    starts = [c.start for c in first + second]
    assert len(starts) == 400 and len(set(starts)) == 400
    assert starts == sorted(starts, reverse=True)
    length = INTERVALS[interval]
    assert all(s % length == 0 for s in starts)
    for c in first + second:
        assert c.low_price <= min(c.opening_price, c.trade_price)
        assert c.high_price >= max(c.opening_price, c.trade_price)
        assert c.candle_acc_trade_volume > 0


def test_candles_follow_trades_and_ticker_follows_the_day_candle() -> None:
    clock = [NOW]
    model = MarketModel(seed=3, markets=2, clock=lambda: clock[0])
    before = model.ticker("KRW-BTC")
    trades = []
    for step in range(120):
        clock[0] = NOW + step * 0.5
        trades.append(model.generate_trade("KRW-BTC"))
    minute = model.latest_candle("KRW-BTC", "1m")
    in_minute = [t for t in trades if t.trade_timestamp // 60_000 * 60 == minute.start]
    assert minute.trade_price == trades[-1].trade_price
    assert minute.high_price >= max(t.trade_price for t in in_minute)
    ticker = model.ticker("KRW-BTC")
    day = model.latest_candle("KRW-BTC", "1d")
    assert ticker.trade_price == trades[-1].trade_price
    assert ticker.acc_trade_volume == pytest.approx(day.candle_acc_trade_volume)
    added = sum(t.trade_volume for t in trades)
    assert ticker.acc_trade_volume == pytest.approx(before.acc_trade_volume + added)
    assert ticker.acc_ask_volume + ticker.acc_bid_volume == pytest.approx(ticker.acc_trade_volume)
    assert ticker.prev_closing_price == day.prev_closing_price
    assert ticker.lowest_52_week_price <= ticker.low_price <= ticker.high_price
    assert ticker.high_price <= ticker.highest_52_week_price


def test_trades_paginate_by_cursor_and_time() -> None:
    model = make_model(markets=2)
    page = model.trades("KRW-BTC", 10)
    older = model.trades("KRW-BTC", 10, cursor=page[-1].sequential_id)
    assert older[0].sequential_id < page[-1].sequential_id
    by_time = model.trades("KRW-BTC", 5, to_ms=page[4].trade_timestamp)
    assert all(t.trade_timestamp < page[4].trade_timestamp for t in by_time)


def test_limit_order_moves_through_wait_trade_done_with_balances() -> None:
    model = make_model(keys=("k",))
    events: list[object] = []
    model.add_listener(events.append)
    price = model.ticker("KRW-BTC").trade_price
    order = model.place_order(
        "k", "KRW-BTC", "bid", "limit", price=tick_down(price - 50_000), volume=0.01
    )
    assert order.state == "wait"
    assert model.open_orders("k")[0].uuid == order.uuid
    krw = next(b for b in model.accounts("k") if b.currency == "KRW")
    assert krw.locked == pytest.approx(float(order.locked))
    for _ in range(20_000):
        model.generate_trade("KRW-BTC")
        if not model.open_orders("k"):
            break
    updates = [e for e in events if isinstance(e, OrderUpdate)]
    states = [u.state for u in updates]
    assert states[0] == "wait" and states[-1] == "done" and "trade" in states
    assert model.get_order("k", order.uuid).state == "done"
    balances = {b.currency: b for b in model.accounts("k")}
    assert balances["BTC"].balance == pytest.approx(0.51)
    assert balances["KRW"].locked == pytest.approx(0.0, abs=1e-6)
    assert any(isinstance(e, AssetUpdate) for e in events)


def test_cancel_releases_funds_and_bad_orders_are_rejected() -> None:
    model = make_model(keys=("k",))
    price = model.ticker("KRW-ETH").trade_price
    order = model.place_order(
        "k", "KRW-ETH", "ask", "limit", price=price * 2 // 1000 * 1000, volume=1.0
    )
    cancelled = model.cancel_order("k", order.uuid)
    assert cancelled.state == "cancel"
    assert {b.currency: b.balance for b in model.accounts("k")}["ETH"] == 5.0
    with pytest.raises(OrderRejected) as error:
        model.cancel_order("k", order.uuid)
    assert error.value.name == "order_not_found"
    cases = [
        ({"price": 1_000.5, "volume": 10.0}, "invalid_price_bid"),
        ({"price": 1_000.0, "volume": 1.0}, "under_min_total_bid"),
        ({"price": 1_000_000.0, "volume": 1000.0}, "insufficient_funds_bid"),
    ]
    for kwargs, name in cases:
        with pytest.raises(OrderRejected) as error:
            model.place_order("k", "KRW-XRP", "bid", "limit", **kwargs)
        assert error.value.name == name
    with pytest.raises(OrderRejected):
        model.accounts("nobody")
