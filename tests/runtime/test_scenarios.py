"""The spec's section 5 scenarios against the simulator, plus isolation and the live cache."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from runtime_helpers import (
    ACCESS,
    SECRET,
    Collector,
    fast_config,
    on_wire,
    requests_sent,
    wait_until,
)

from upbit_tui.client.manager import GlobalWebSocketManager
from upbit_tui.client.proxy import WebSocketClientProxy
from upbit_tui.exchange import ExchangeServer
from upbit_tui.wire.events import DataType, OrderbookEvent, TickerEvent, TradeEvent


@pytest.fixture
async def quiet_sim() -> AsyncIterator[Any]:
    """No automatic trades: every event in these tests is one the test generated."""
    async with ExchangeServer(
        seed=3, markets=20, rate=0.0, host="127.0.0.1", port=0, api_keys={ACCESS: SECRET}
    ) as server:
        yield server


@pytest.fixture
async def quiet_manager(quiet_sim: Any) -> AsyncIterator[GlobalWebSocketManager]:
    async with GlobalWebSocketManager(fast_config(quiet_sim)) as m:
        yield m


def realtime(events: list[Any]) -> list[Any]:
    return [e for e in events if e.stream_type == "REALTIME"]


async def test_multi_component_scenario(
    quiet_sim: Any, quiet_manager: GlobalWebSocketManager
) -> None:
    tickers, books = Collector(), Collector()
    chart = WebSocketClientProxy("chart_main", quiet_manager)
    orderbook = WebSocketClientProxy("orderbook_main", quiet_manager)
    await chart.subscribe_ticker(["KRW-BTC"], tickers)
    await orderbook.subscribe_orderbook(["KRW-BTC"], books, depth=15)
    await on_wire(quiet_sim, {"ticker": {"KRW-BTC"}, "orderbook": {"KRW-BTC.15"}})
    await tickers.wait_for(lambda c: len(c.events) == 1)  # the snapshot
    await books.wait_for(lambda c: len(c.events) == 1)
    (trade,) = quiet_sim.generate_trades(1, market="KRW-BTC")
    await tickers.wait_for(lambda c: len(realtime(c.events)) == 1)
    await books.wait_for(lambda c: len(realtime(c.events)) == 1)
    ticker = realtime(tickers.events)[0]
    assert isinstance(ticker, TickerEvent) and ticker.symbol == "KRW-BTC"
    assert ticker.trade_price == trade.trade_price
    book = realtime(books.events)[0]
    assert isinstance(book, OrderbookEvent) and len(book.orderbook_units) == 15
    assert all(isinstance(e, TickerEvent) for e in tickers.events)
    await chart.cleanup()
    await orderbook.cleanup()


async def test_thousand_events_none_lost(
    quiet_sim: Any, quiet_manager: GlobalWebSocketManager
) -> None:
    trades = Collector()
    proxy = WebSocketClientProxy("perf_test", quiet_manager)
    await proxy.subscribe_trade(["KRW-BTC"], trades)
    await on_wire(quiet_sim, {"trade": {"KRW-BTC"}})
    await trades.wait_for(lambda c: len(c.events) == 1)  # the snapshot trade
    generated = []
    for _ in range(10):
        generated += quiet_sim.generate_trades(100, market="KRW-BTC")
        await asyncio.sleep(0.01)
    await trades.wait_for(lambda c: len(realtime(c.events)) >= 1000, within=10)
    received = [e.sequential_id for e in realtime(trades.events)]
    assert received == [t.sequential_id for t in generated]
    assert all(isinstance(e, TradeEvent) for e in trades.events)
    health = await proxy.health_check()
    assert health["dropped_message_count"] == 0
    await proxy.cleanup()


async def test_backpressure_keeps_status_out_of_critical_and_isolates(
    quiet_sim: Any, quiet_manager: GlobalWebSocketManager
) -> None:
    slow_seen, fast = [], Collector()

    async def slow_callback(event: Any) -> None:
        slow_seen.append(event)
        await asyncio.sleep(0.1)

    slow = WebSocketClientProxy("slow_consumer", quiet_manager)
    quick = WebSocketClientProxy("fast_consumer", quiet_manager)
    await slow.subscribe_ticker(["KRW-BTC"], slow_callback, queue_size=5)
    await quick.subscribe_ticker(["KRW-BTC"], fast)
    await on_wire(quiet_sim, {"ticker": {"KRW-BTC"}})
    await fast.wait_for(lambda c: len(c.events) == 1)
    quiet_sim.generate_trades(100, market="KRW-BTC")
    # The fast subscriber gets every tick while the slow one is still asleep.
    await fast.wait_for(lambda c: len(realtime(c.events)) == 100)
    assert len(slow_seen) < 10
    health = await quiet_manager.health_check()
    assert health["status"] in ("healthy", "degraded")
    assert health["dropped_message_count"] >= 90
    (slow_stats,) = [
        s for s in quiet_manager.subscriber_stats() if s["client_id"] == "slow_consumer"
    ]
    assert slow_stats["dropped"] >= 90 and slow_stats["queue_depth"] <= 5
    await slow.cleanup()
    await quick.cleanup()


async def test_coalescing_subscriber_gets_the_latest_value_per_symbol(
    quiet_sim: Any, quiet_manager: GlobalWebSocketManager
) -> None:
    gate = asyncio.Event()
    seen = Collector()

    async def blocked(event: Any) -> None:
        seen(event)
        await gate.wait()

    proxy = WebSocketClientProxy("coalescer", quiet_manager)
    await proxy.subscribe_ticker(["KRW-BTC", "KRW-ETH"], blocked, policy="coalesce_by_symbol")
    await on_wire(quiet_sim, {"ticker": {"KRW-BTC", "KRW-ETH"}})
    await seen.wait_for(lambda c: len(c.events) >= 1)
    btc = quiet_sim.generate_trades(50, market="KRW-BTC")[-1]
    eth = quiet_sim.generate_trades(50, market="KRW-ETH")[-1]

    def arrived() -> bool:  # both bursts are in, coalescing behind the blocked callback
        latest = [quiet_manager._router_latest(DataType.TICKER, c) for c in ("KRW-BTC", "KRW-ETH")]
        return [e.trade_price if e else None for e in latest] == [btc.trade_price, eth.trade_price]

    await wait_until(arrived, what="both bursts received")
    gate.set()
    latest = {btc.trade_price, eth.trade_price}
    await seen.wait_for(lambda c: {e.trade_price for e in c.events[-2:]} == latest)
    assert len(seen.events) <= 4  # the blocked one, maybe the other snapshot, then one per symbol
    await proxy.cleanup()


async def test_a_raising_callback_is_isolated(
    quiet_sim: Any, quiet_manager: GlobalWebSocketManager
) -> None:
    errors, good = Collector(), Collector()

    def bad(event: Any) -> None:
        raise RuntimeError("widget bug")

    broken = WebSocketClientProxy("broken", quiet_manager)
    healthy = WebSocketClientProxy("healthy", quiet_manager)
    await broken.subscribe_trade(["KRW-ETH"], bad, error_handler=errors)
    await healthy.subscribe_trade(["KRW-ETH"], good)
    await on_wire(quiet_sim, {"trade": {"KRW-ETH"}})
    quiet_sim.generate_trades(20, market="KRW-ETH")
    await good.wait_for(lambda c: len(realtime(c.events)) == 20)
    await errors.wait_for(lambda c: len(c.events) == 21)  # 20 trades and the snapshot
    assert all(isinstance(e, RuntimeError) for e in errors.events)
    health = await broken.health_check()
    assert health["callback_error_count"] == 21
    await broken.cleanup()
    await healthy.cleanup()


async def test_late_joiner_gets_the_latest_value_without_a_request(
    quiet_sim: Any, quiet_manager: GlobalWebSocketManager
) -> None:
    early, late = Collector(), Collector()
    first = WebSocketClientProxy("first", quiet_manager)
    await first.subscribe_ticker(["KRW-XRP"], early)
    await on_wire(quiet_sim, {"ticker": {"KRW-XRP"}})
    await early.wait_for(lambda c: len(c.events) == 1)
    second = WebSocketClientProxy("second", quiet_manager)
    await second.subscribe_ticker(["KRW-XRP"], late)
    await late.wait_for(lambda c: len(c.events) == 1)
    assert late.events[0] is early.events[0]
    await asyncio.sleep(quiet_manager.config.connection.batch_window * 3)
    assert len(requests_sent(quiet_sim)) == 1
    # A snapshot of a streaming symbol comes from the live cache: the very same event.
    (snapshot,) = await second.get_ticker_snapshot(["KRW-XRP"])
    assert snapshot is early.events[-1]
    await first.cleanup()
    await second.cleanup()


async def test_bad_input_is_a_clear_error_and_loses_nothing(
    quiet_sim: Any, quiet_manager: GlobalWebSocketManager
) -> None:
    good = Collector()
    proxy = WebSocketClientProxy("careful", quiet_manager)
    await proxy.subscribe_ticker(["KRW-BTC"], good)
    with pytest.raises(ValueError, match="not an Upbit market code"):
        await proxy.subscribe_ticker(["BTC"], good)
    with pytest.raises(ValueError, match="timeframe"):
        await proxy.subscribe_candle(["KRW-BTC"], "minut1", good)
    with pytest.raises(ValueError, match="depth"):
        await proxy.subscribe_orderbook(["KRW-BTC"], good, depth=7)
    with pytest.raises(ValueError, match="policy"):
        await proxy.subscribe_ticker(["KRW-ETH"], good, policy="fastest")
    with pytest.raises(ValueError, match="level"):
        await proxy.subscribe_orderbook(["KRW-BTC"], good, level=-5)
    with pytest.raises(TypeError, match="callable"):
        await proxy.subscribe_ticker(["KRW-ETH"], "not a function")  # type: ignore[arg-type]
    await on_wire(quiet_sim, {"ticker": {"KRW-BTC"}})
    assert proxy.subscriptions() == {"ticker": ["KRW-BTC"]}
    assert len(quiet_manager.subscriber_stats()) == 1  # refused calls left no subscriber
    await proxy.cleanup()


async def test_snapshots_come_from_rest_when_not_streaming(
    quiet_sim: Any, quiet_manager: GlobalWebSocketManager
) -> None:
    proxy = WebSocketClientProxy("snapshots", quiet_manager)
    tickers = await proxy.get_ticker_snapshot(["KRW-ETH", "krw-btc"])
    assert [t.symbol for t in tickers] == ["KRW-ETH", "KRW-BTC"]
    assert all(t.stream_type == "REST" for t in tickers)
    assert tickers[1].trade_price == quiet_sim.model.ticker("KRW-BTC").trade_price
    (book,) = await proxy.get_orderbook_snapshot(["KRW-BTC"], depth=5)
    assert len(book.orderbook_units) == 5
    candles = await proxy.get_candle_snapshot(["KRW-BTC"], "minute1", count=450)
    series = candles["KRW-BTC"]
    assert len(series) == 450  # beyond Upbit's 200 per request: paginated
    starts = [c.candle_date_time_utc for c in series]
    assert starts == sorted(set(starts))  # oldest first, no duplicates across pages
    assert all(c.timeframe == "1m" for c in series)
    assert quiet_sim.stats()["connections"]["open"] == 0  # no WebSocket was needed
    await proxy.cleanup()


async def test_day_candles_come_from_rest_and_match_the_exchange(
    quiet_sim: Any, quiet_manager: GlobalWebSocketManager
) -> None:
    proxy = WebSocketClientProxy("daily", quiet_manager)
    days = (await proxy.get_candle_snapshot(["KRW-BTC"], "day", count=30))["KRW-BTC"]
    assert len(days) == 30
    assert [c.candle_date_time_utc for c in days] == sorted(c.candle_date_time_utc for c in days)
    assert all(c.candle_date_time_utc.endswith("T00:00:00") for c in days)  # UTC day starts
    newest = quiet_sim.model.candles("KRW-BTC", "1d", count=1)[0]
    assert days[-1].trade_price == newest.trade_price
    with pytest.raises(ValueError, match="timeframe"):
        await proxy.subscribe_candle(["KRW-BTC"], "day", print)  # Upbit streams no day candle
    await proxy.cleanup()


async def test_dropping_one_trade_symbol_keeps_the_others_exact(
    quiet_sim: Any, quiet_manager: GlobalWebSocketManager
) -> None:
    gate = asyncio.Event()
    trades = Collector()

    async def slow(event: Any) -> None:
        await gate.wait()
        trades(event)

    proxy = WebSocketClientProxy("tape", quiet_manager)
    await proxy.subscribe_trade(["KRW-BTC", "KRW-ETH"], slow)
    await on_wire(quiet_sim, {"trade": {"KRW-BTC", "KRW-ETH"}})
    generated = quiet_sim.generate_trades(30, market="KRW-BTC")
    quiet_sim.generate_trades(5, market="KRW-ETH")

    def queued() -> int:
        return sum(s["queue_depth"] for s in quiet_manager.subscriber_stats())

    await wait_until(lambda: queued() >= 30, what="trades queued behind the blocked callback")
    await proxy.unsubscribe_trade(["KRW-ETH"])
    gate.set()
    await trades.wait_for(
        lambda c: (
            [e.sequential_id for e in realtime(c.events) if e.symbol == "KRW-BTC"]
            == [t.sequential_id for t in generated]
        )
    )
    btc = [e.sequential_id for e in trades.events if e.symbol == "KRW-BTC"]
    assert len(btc) == len(set(btc))  # queued trades neither lost nor re-delivered
    await proxy.cleanup()
