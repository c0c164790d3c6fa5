"""The book as Upbit shows it, and BTC- / USDT-quoted markets (issue 10 item 5).

Upbit's book lists the best 30 non-empty levels: on a market whose tick is fine for its price
(KRW-BTC, the BTC and USDT markets) they have gaps and the spread is several ticks; orders
placed and cancelled change the book far more often than trades do.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest
from sim_harness import FIXED_NOW, recv, send, subscription, sync
from websockets.asyncio.client import connect

from upbit_tui.exchange import ExchangeServer, MarketModel
from upbit_tui.exchange.book import BookChange
from upbit_tui.exchange.ticks import BTC, KRW, USDT, table_for


def make_model(seed: int = 3) -> MarketModel:
    return MarketModel(
        seed=seed, markets=16, clock=lambda: FIXED_NOW, btc_markets=8, usdt_markets=8
    )


def check_book(model: MarketModel, code: str) -> tuple[int, int]:
    """Assert the book is well formed; return (spread in ticks, gaps among the levels)."""
    book = model.orderbook(code, 30)
    assert book is not None and len(book.orderbook_units) == 30
    ticks = table_for(code)
    asks = [u.ask_price for u in book.orderbook_units]
    bids = [u.bid_price for u in book.orderbook_units if u.bid_price > 0]
    assert asks == sorted(set(asks)) and bids == sorted(set(bids), reverse=True)
    assert bids[0] < asks[0], f"{code} crossed"
    assert all(ticks.is_on_tick(p) for p in asks + bids)
    assert all(u.ask_size > 0 for u in book.orderbook_units)
    spread = 1
    while ticks.step_up(bids[0], spread) < asks[0]:
        spread += 1
    gaps = sum(ticks.tick_up(a) != b for a, b in itertools.pairwise(asks))
    return spread, gaps


def test_tick_tables_of_the_three_quotes() -> None:
    assert [BTC.tick_size(p) for p in (0.03522, 0.00000223)] == [0.00000001] * 2
    assert [USDT.tick_size(p) for p in (106_760, 10, 2.459, 0.238, 0.05, 0.005, 0.0005)] == [
        0.01, 0.01, 0.001, 0.0001, 0.00001, 0.000001, 0.0000001,
    ]  # fmt: skip
    assert USDT.tick_size(0.00000614) == 0.00000001
    assert KRW.tick_size(148_500_000) == 1000
    rng = random.Random(2)
    for table, top in ((KRW, 8.3), (USDT, 6.0), (BTC, 0.0)):
        for _ in range(500):
            price = table.round_price(10 ** rng.uniform(-6, top))
            steps = rng.randrange(1, 40)
            up = down = price
            for _ in range(steps):
                up, down = table.tick_up(up), table.tick_down(down)
            assert (table.step_up(price, steps), table.step_down(price, steps)) == (up, down)


def test_btc_and_usdt_markets_are_listed_after_krw_with_level_zero_only() -> None:
    model = make_model()
    codes = model.market_codes()
    assert codes[:16] == [c for c in codes if c.startswith("KRW-")]
    assert {c.split("-")[0] for c in codes[16:]} == {"BTC", "USDT"} and len(codes) == 32
    assert model.supported_levels("BTC-ETH") == [0.0] == model.supported_levels("USDT-BTC")
    assert model.orderbook("BTC-ETH", 15, 0.0001) is None
    assert model.tick_size("BTC-ETH") == 0.00000001 and model.tick_size("USDT-BTC") == 0.01
    ticker = model.ticker("USDT-XRP")
    assert USDT.is_on_tick(ticker.trade_price) and 1 < ticker.trade_price < 10
    assert MarketModel(seed=3, markets=16).market_codes() == codes[:16]  # opt-in in Python


def test_fine_tick_books_have_gaps_and_wide_spreads_coarse_ones_do_not() -> None:
    model = make_model()
    seen: dict[str, list[tuple[int, int]]] = {}
    for _ in range(1_500):
        trade = model.generate_trade()
        for _ in range(4):
            change = model.generate_book_change()
            seen.setdefault(change.market, []).append(check_book(model, change.market))
        seen.setdefault(trade.market, []).append(check_book(model, trade.market))
    krw_btc = seen["KRW-BTC"]
    assert sum(s for s, _ in krw_btc) / len(krw_btc) >= 2.5  # several ticks on average
    assert max(s for s, _ in krw_btc) >= 6 and min(g for _, g in krw_btc) >= 5
    usdt_btc = seen["USDT-BTC"]
    assert min(s for s, _ in usdt_btc) >= 20 and min(g for _, g in usdt_btc) >= 20
    xrp = seen["KRW-XRP"]  # a 1 KRW tick on ~3,400 KRW: every tick holds orders
    assert sum(s for s, _ in xrp) / len(xrp) < 1.8  # cancels may empty the best level a while
    assert sum(g for _, g in xrp) / len(xrp) < 1.5  # of 29 steps between levels


def test_orders_placed_and_cancelled_change_the_book_without_a_trade() -> None:
    model = make_model()
    events: list[Any] = []
    model.add_listener(events.append)
    trades_before = model.trades("KRW-BTC", 5)
    books = [model.orderbook("KRW-BTC", 30)]
    for _ in range(200):
        assert model.generate_book_change("KRW-BTC") == BookChange("KRW-BTC")
        books.append(model.orderbook("KRW-BTC", 30))
        check_book(model, "KRW-BTC")
    assert events == [BookChange("KRW-BTC")] * 200
    assert model.trades("KRW-BTC", 5) == trades_before
    changed = sum(a.orderbook_units != b.orderbook_units for a, b in itertools.pairwise(books))
    assert changed >= 190
    tops = {(b.orderbook_units[0].ask_price, b.orderbook_units[0].bid_price) for b in books}
    assert len(tops) >= 10  # the best prices move too (improvements, emptied best levels)


def test_the_book_is_the_same_for_the_same_seed_and_calls() -> None:
    def run(seed: int) -> list[Any]:
        model = make_model(seed)
        for _ in range(300):
            model.generate_trade()
            model.generate_book_change()
        return [model.orderbook(code, 30) for code in model.market_codes()]

    assert run(5) == run(5)
    assert run(5) != run(6)


async def test_book_changes_reach_orderbook_subscribers_only() -> None:
    async with ExchangeServer(
        seed=2, markets=3, rate=0.0, clock=lambda: FIXED_NOW, candle_interval=3600.0,
        btc_markets=1, usdt_markets=1,
    ) as sim, connect(sim.websocket_url) as ws:  # fmt: skip
        realtime = {"codes": ["KRW-BTC", "BTC-ETH"], "is_only_realtime": True}
        await send(ws, subscription({"type": "orderbook", **realtime},
                                    {"type": "trade", **realtime}))  # fmt: skip
        await sync(ws)
        for _ in range(5):
            sim.model.generate_book_change("KRW-BTC")
        sim.model.generate_book_change("BTC-ETH")
        got = await sync(ws)
        assert [(m["type"], m["code"]) for m in got] == [("orderbook", "KRW-BTC")] * 5 + [
            ("orderbook", "BTC-ETH")
        ]
        assert (
            got[-1]["orderbook_units"][0]["ask_price"]
            == sim.model.orderbook("BTC-ETH", 30).orderbook_units[0].ask_price
        )  # type: ignore[union-attr]


async def test_the_trade_loop_changes_books_several_times_per_trade() -> None:
    async with ExchangeServer(seed=2, markets=2, rate=200.0, candle_interval=3600.0) as sim:
        async with connect(sim.websocket_url) as ws:
            codes = sim.model.market_codes()
            realtime = {"codes": codes, "is_only_realtime": True}
            await send(ws, subscription({"type": "orderbook", **realtime},
                                        {"type": "trade", **realtime}))  # fmt: skip
            counts = {"orderbook": 0, "trade": 0}
            while counts["trade"] < 100:
                counts[(await recv(ws))["type"]] += 1
        assert counts["orderbook"] >= 3 * counts["trade"]  # 1 per trade + 4 changes per trade


def test_book_changes_per_trade_is_configurable() -> None:
    assert ExchangeServer(book_changes_per_trade=0.0).book_changes_per_trade == 0.0


@pytest.mark.parametrize("code", ["BTC-ETH", "USDT-BTC", "USDT-SHIB"])
def test_quote_markets_trade_on_their_tick_table(code: str) -> None:
    model = make_model()
    ticks = table_for(code)
    trades = [model.generate_trade(code) for _ in range(300)]
    assert all(ticks.is_on_tick(t.trade_price) for t in trades)
    assert all(ticks.is_on_tick(t.change_price) or t.change_price == 0 for t in trades)
    candle = model.candles(code, "1m", count=1)[0]
    assert ticks.is_on_tick(candle.opening_price)
