"""Router: exact routing, backpressure policies, isolation, epochs, late joiners, cleanup."""

from __future__ import annotations

import asyncio
import gc
import inspect
import logging
import time
import weakref
from typing import Any

import pytest
from core_harness import TIMEOUT, Collector

from upbit_tui.net.metrics import MetricsCollector
from upbit_tui.net.routing import Router
from upbit_tui.wire.events import (
    Asset,
    BalanceEvent,
    CandleEvent,
    DataType,
    OrderbookEvent,
    OrderbookUnit,
    OrderEvent,
    TickerEvent,
    TradeEvent,
)

NOW_MS = int(time.time() * 1000)


def ticker(
    symbol: str = "KRW-BTC",
    price: float = 100.0,
    ts: int | None = None,
    epoch: int = 1,
    stream_type: str = "REALTIME",
) -> TickerEvent:
    return TickerEvent(
        symbol=symbol,
        trade_price=price,
        timestamp_ms=NOW_MS if ts is None else ts,
        epoch=epoch,
        stream_type=stream_type,
    )


def trade(symbol: str = "KRW-BTC", seq: int = 1, stream_type: str = "REALTIME") -> TradeEvent:
    return TradeEvent(
        symbol=symbol,
        trade_price=1.0,
        trade_volume=1.0,
        ask_bid="BID",
        sequential_id=seq,
        timestamp_ms=NOW_MS,
        epoch=1,
        stream_type=stream_type,
    )


def orderbook(symbol: str = "KRW-BTC", units: int = 30, level: float = 0.0) -> OrderbookEvent:
    return OrderbookEvent(
        symbol=symbol,
        orderbook_units=[
            OrderbookUnit(ask_price=100.0 + i, bid_price=99.0 - i, ask_size=1.0, bid_size=1.0)
            for i in range(units)
        ],
        level=level,
        timestamp_ms=NOW_MS,
        epoch=1,
    )


def candle(symbol: str = "KRW-BTC", kind: str = "candle.1m") -> CandleEvent:
    return CandleEvent(
        symbol=symbol,
        type=kind,
        candle_date_time_utc="2026-01-01T00:00:00",
        opening_price=1.0,
        high_price=1.0,
        low_price=1.0,
        trade_price=1.0,
        timestamp_ms=NOW_MS,
        epoch=1,
    )


def prices(events: list[Any]) -> list[float]:
    return [e.trade_price for e in events]


# --------------------------------------------------------------------------- exact routing


async def test_each_event_reaches_exactly_its_type_and_symbol(router: Router) -> None:
    btc_ticker, eth_ticker, btc_trade = Collector(), Collector(), Collector()
    router.subscribe(DataType.TICKER, ["KRW-BTC"], btc_ticker)
    router.subscribe(DataType.TICKER, ["KRW-ETH"], eth_ticker)
    router.subscribe(DataType.TRADE, ["KRW-BTC"], btc_trade)
    router.publish(ticker("KRW-BTC", 1))
    router.publish(ticker("KRW-ETH", 2))
    router.publish(trade("KRW-BTC", seq=5))
    router.publish(ticker("KRW-XRP", 3))  # nobody wants it
    router.publish(ticker("KRW-BTC", 4))
    assert prices(await btc_ticker.wait_count(2)) == [1, 4]
    assert prices(await eth_ticker.wait_count(1)) == [2]
    assert [e.sequential_id for e in await btc_trade.wait_count(1)] == [5]
    # Sentinels prove nothing else was queued behind.
    router.publish(ticker("KRW-ETH", 9))
    assert prices(await eth_ticker.wait_count(2)) == [2, 9]
    assert len(btc_trade.events) == 1 and len(btc_ticker.events) == 2


async def test_candle_timeframes_are_separate_streams(router: Router) -> None:
    one, fifteen = Collector(), Collector()
    router.subscribe(DataType.CANDLE_1M, ["KRW-BTC"], one)
    router.subscribe(DataType.CANDLE_15M, ["KRW-BTC"], fifteen)
    router.publish(candle(kind="candle.15m"))
    router.publish(candle(kind="candle.1m"))
    assert [e.type for e in await one.wait_count(1)] == ["candle.1m"]
    assert [e.type for e in await fifteen.wait_count(1)] == ["candle.15m"]


async def test_orderbook_level_filter_and_depth_trimming(router: Router) -> None:
    five, full, level = Collector(), Collector(), Collector()
    router.subscribe(DataType.ORDERBOOK, ["KRW-BTC"], five, depth=5)
    router.subscribe(DataType.ORDERBOOK, ["KRW-BTC"], full)
    router.subscribe(DataType.ORDERBOOK, ["KRW-BTC"], level, level=10000)
    book = orderbook(units=30, level=0.0)
    router.publish(book)
    router.publish(orderbook(units=15, level=10000.0))
    trimmed, _ = await five.wait_count(2)
    assert len(trimmed.orderbook_units) == 5
    assert trimmed.orderbook_units == book.orderbook_units[:5]
    assert len(book.orderbook_units) == 30  # the shared event is untouched
    first, second = await full.wait_count(2)
    assert first is book and len(second.orderbook_units) == 15
    (only,) = await level.wait_count(1)
    assert only.level == 10000.0


async def test_wildcard_and_private_routes(router: Router) -> None:
    all_orders, btc_orders, balances = Collector(), Collector(), Collector()
    router.subscribe(DataType.ORDER, None, all_orders)
    router.subscribe(DataType.ORDER, ["KRW-BTC"], btc_orders)
    router.subscribe(DataType.BALANCE, None, balances)

    def order(symbol: str) -> OrderEvent:
        return OrderEvent(
            symbol=symbol, uuid="u", ask_bid="BID", order_type="limit", state="wait", epoch=1
        )

    router.publish(order("KRW-ETH"))
    router.publish(order("KRW-BTC"))
    router.publish(BalanceEvent(assets=[Asset(currency="KRW", balance=1.0)], epoch=1))
    assert [e.symbol for e in await all_orders.wait_count(2)] == ["KRW-ETH", "KRW-BTC"]
    assert [e.symbol for e in await btc_orders.wait_count(1)] == ["KRW-BTC"]
    assert (await balances.wait_count(1))[0].assets[0].currency == "KRW"


async def test_async_callbacks_and_async_error_handlers(router: Router) -> None:
    got: list[float] = []
    errors: list[BaseException] = []
    done = asyncio.Event()

    async def on_ticker(event: TickerEvent) -> None:
        await asyncio.sleep(0)
        if event.trade_price == 2:
            raise ValueError("bad tick")
        got.append(event.trade_price)
        if event.trade_price == 3:
            done.set()

    async def on_error(exc: BaseException) -> None:
        await asyncio.sleep(0)
        errors.append(exc)

    router.subscribe(DataType.TICKER, ["KRW-BTC"], on_ticker, error_handler=on_error)
    for p in (1, 2, 3):
        router.publish(ticker(price=p))
    await asyncio.wait_for(done.wait(), TIMEOUT)
    assert got == [1, 3]
    assert [str(e) for e in errors] == ["bad tick"]


# --------------------------------------------------------------------------- policies


async def test_drop_oldest_keeps_the_newest_and_counts_drops(router: Router) -> None:
    got = Collector()
    sub = router.subscribe(DataType.TICKER, ["KRW-BTC"], got, queue_size=3)
    for p in range(10):  # publish never yields, so the drain cannot run in between
        router.publish(ticker(price=p))
    assert sub.queue_depth == 3
    assert prices(await got.wait_count(3)) == [7, 8, 9]
    assert sub.dropped == 7 and router.dropped() == 7


async def test_coalesce_by_symbol_latest_wins_in_arrival_order(router: Router) -> None:
    got = Collector()
    sub = router.subscribe(
        DataType.TICKER, ["KRW-BTC", "KRW-ETH"], got, policy="coalesce_by_symbol"
    )
    for p in range(5):
        router.publish(ticker("KRW-BTC", p))
    for p in range(10, 13):
        router.publish(ticker("KRW-ETH", p))
    router.publish(ticker("KRW-BTC", 99))  # replaces BTC's pending value, keeps its turn
    assert sub.queue_depth == 2
    events = await got.wait_count(2)
    assert [(e.symbol, e.trade_price) for e in events] == [("KRW-BTC", 99), ("KRW-ETH", 12)]
    assert sub.dropped == 7 and sub.superseded == 7


async def test_coalesce_full_queue_drops_the_oldest_symbol(router: Router) -> None:
    got = Collector()
    symbols = ["KRW-A", "KRW-B", "KRW-C"]
    sub = router.subscribe(DataType.TICKER, symbols, got, policy="coalesce_by_symbol", queue_size=2)
    for i, s in enumerate(symbols):
        router.publish(ticker(s, i))
    events = await got.wait_count(2)
    assert [e.symbol for e in events] == ["KRW-B", "KRW-C"]
    assert sub.dropped == 1 and sub.superseded == 0  # a real loss: KRW-A's value is gone


async def test_superseded_values_are_not_losses_for_health() -> None:
    # Coalescing is what the subscriber asked for; a full drop_oldest queue loses data. Health
    # watches the drop window (MetricsCollector.drops), so only the losses may reach it.
    metrics = MetricsCollector()
    router = Router(metrics=metrics)
    coalesced = Collector()
    sub = router.subscribe(DataType.TICKER, ["KRW-BTC"], coalesced, policy="coalesce_by_symbol")
    for p in range(50):
        router.publish(ticker(price=p))
    await coalesced.wait_count(1)
    assert sub.dropped == 49 and sub.superseded == 49
    assert metrics.drops.total == 0
    lossy = Collector()
    router.subscribe(DataType.TICKER, ["KRW-ETH"], lossy, queue_size=2)
    for p in range(10):
        router.publish(ticker("KRW-ETH", p))
    await lossy.wait_count(2)
    assert metrics.drops.total == 8
    assert metrics.drops.count(time.monotonic() + 1) == 8  # this second, once complete
    await router.aclose()


async def test_throttle_delivers_at_most_n_per_second_per_symbol_latest_kept(
    router: Router,
) -> None:
    got = Collector()
    sub = router.subscribe(
        DataType.TICKER,
        ["KRW-BTC", "KRW-ETH"],
        got,
        policy="throttle",
        throttle_per_second=20.0,  # one per 50 ms per symbol
    )
    started = time.monotonic()
    for p in range(5):
        router.publish(ticker("KRW-BTC", p))
    router.publish(ticker("KRW-ETH", 50))  # another symbol is not held back by BTC
    events = await got.wait_count(3)
    assert [(e.symbol, e.trade_price) for e in events] == [
        ("KRW-BTC", 0),
        ("KRW-ETH", 50),
        ("KRW-BTC", 4),
    ]
    # The held BTC tick waited for BTC's interval (a lower bound: never early).
    assert time.monotonic() - started >= 0.05 - 0.005
    assert sub.dropped == 3 and sub.superseded == 3  # ticks 1, 2, 3 replaced while held
    router.publish(ticker("KRW-ETH", 51))
    await got.wait_count(4)
    assert sub.queue_depth == 0


# --------------------------------------------------------------------------- isolation


async def test_a_raising_callback_does_not_stop_others(
    router: Router, caplog: pytest.LogCaptureFixture
) -> None:
    healthy, handled_errors = Collector(), []

    def broken(event: TickerEvent) -> None:
        raise RuntimeError(f"boom {event.trade_price}")

    handled = router.subscribe(
        DataType.TICKER, ["KRW-BTC"], broken, error_handler=handled_errors.append
    )
    unhandled = router.subscribe(DataType.TICKER, ["KRW-BTC"], broken, client_id="noisy")
    router.subscribe(DataType.TICKER, ["KRW-BTC"], healthy)
    with caplog.at_level(logging.ERROR, logger="upbit_tui.net.routing"):
        for p in range(5):
            router.publish(ticker(price=p))
        assert prices(await healthy.wait_count(5)) == [0, 1, 2, 3, 4]
        router.publish(ticker(price=5))  # sentinel: the broken ones processed everything
        await healthy.wait_count(6)
        await asyncio.sleep(0)
    assert [str(e) for e in handled_errors][:5] == [f"boom {p}" for p in range(5)]
    assert handled.callback_errors == 6 and unhandled.callback_errors >= 5
    assert router.callback_errors() >= 11
    logged = [r for r in caplog.records if "noisy" in r.getMessage()]
    assert len(logged) == 1  # the first error is logged with its traceback, not every one
    assert logged[0].exc_info is not None


async def test_an_error_handler_that_raises_is_contained(
    router: Router, caplog: pytest.LogCaptureFixture
) -> None:
    got = Collector()

    def broken(event: TickerEvent) -> None:
        raise RuntimeError("callback")

    def worse(exc: BaseException) -> None:
        raise RuntimeError("handler")

    router.subscribe(DataType.TICKER, ["KRW-BTC"], broken, error_handler=worse)
    router.subscribe(DataType.TICKER, ["KRW-BTC"], got)
    with caplog.at_level(logging.ERROR, logger="upbit_tui.net.routing"):
        router.publish(ticker(price=1))
        router.publish(ticker(price=2))
        await got.wait_count(2)
    assert any("error handler" in r.getMessage() for r in caplog.records)


async def test_a_blocked_consumer_delays_only_itself(router: Router) -> None:
    gate = asyncio.Event()
    caught_up = asyncio.Event()
    slow_seen: list[float] = []

    async def blocked(event: TickerEvent) -> None:
        slow_seen.append(event.trade_price)
        if len(slow_seen) == 11:
            caught_up.set()
        await gate.wait()

    fast = Collector()
    slow = router.subscribe(DataType.TICKER, ["KRW-BTC"], blocked, queue_size=10)
    router.subscribe(DataType.TICKER, ["KRW-BTC"], fast)
    for p in range(100):
        router.publish(ticker(price=p))
        if p % 10 == 0:
            await asyncio.sleep(0)  # like a socket read between frames
    assert prices(await fast.wait_count(100)) == list(range(100))
    assert slow_seen == [0]  # still stuck in its first callback
    assert slow.queue_depth == 10 and slow.dropped == 89
    gate.set()
    # Once released it catches up with the newest ten.
    await asyncio.wait_for(caught_up.wait(), TIMEOUT)
    assert slow_seen[1:] == list(range(90, 100))


async def test_publish_is_synchronous_and_bounded(router: Router) -> None:
    assert not inspect.iscoroutinefunction(router.publish)
    gate = asyncio.Event()

    async def stuck(event: TickerEvent) -> None:
        await gate.wait()

    sub = router.subscribe(DataType.TICKER, ["KRW-BTC"], stuck, queue_size=50)
    for p in range(10_000):
        router.publish(ticker(price=p))
    assert sub.queue_depth == 50  # memory stays bounded however far behind it is
    gate.set()


# --------------------------------------------------------------------------- epochs


async def test_stale_epoch_events_still_queued_are_never_delivered(router: Router) -> None:
    gate = asyncio.Event()
    seen: list[tuple[int, float]] = []
    done = asyncio.Event()

    async def consumer(event: TickerEvent) -> None:
        seen.append((event.epoch, event.trade_price))
        if event.trade_price == 0:
            await gate.wait()
        if event.trade_price == 200:
            done.set()

    router.set_epoch("public", 1)
    sub = router.subscribe(DataType.TICKER, ["KRW-BTC"], consumer)
    router.publish(ticker(price=0, epoch=1))
    await asyncio.sleep(0)  # the consumer is now inside its first callback
    for p in range(1, 6):
        router.publish(ticker(price=p, epoch=1))  # queued behind the blocked callback
    router.set_epoch("public", 2)  # reconnect: everything from epoch 1 is stale now
    router.publish(ticker(price=200, epoch=2))
    gate.set()
    await asyncio.wait_for(done.wait(), TIMEOUT)
    assert seen == [(1, 0), (2, 200)]
    assert sub.stale == 5


async def test_private_epoch_does_not_affect_public_streams(router: Router) -> None:
    got = Collector()
    router.subscribe(DataType.TICKER, ["KRW-BTC"], got)
    router.set_epoch("private", 9)
    router.publish(ticker(epoch=1))
    assert len(await got.wait_count(1)) == 1
    with pytest.raises(ValueError, match="unknown connection 'side'"):
        router.set_epoch("side", 1)


# --------------------------------------------------------------------------- late joiners


async def test_late_joiner_gets_the_latest_value_at_once(router: Router) -> None:
    first = Collector()
    router.subscribe(DataType.TICKER, ["KRW-BTC"], first)
    router.publish(ticker(price=1, ts=NOW_MS))
    router.publish(ticker(price=2, ts=NOW_MS + 1))
    await first.wait_count(2)
    late = Collector()
    router.subscribe(DataType.TICKER, ["KRW-BTC", "KRW-ETH"], late)
    assert prices(await late.wait_count(1)) == [2]  # no publish needed
    assert router.latest(DataType.TICKER, "KRW-BTC").trade_price == 2


async def test_late_joiner_does_not_get_a_value_from_an_old_epoch(router: Router) -> None:
    router.subscribe(DataType.TICKER, ["KRW-BTC"], Collector())
    router.publish(ticker(price=1, epoch=1))
    router.set_epoch("public", 2)
    late = Collector()
    router.subscribe(DataType.TICKER, ["KRW-BTC"], late)
    router.publish(ticker(price=5, epoch=2, ts=NOW_MS + 10))
    assert prices(await late.wait_count(1)) == [5]


async def test_resent_snapshot_reaches_only_subscribers_without_newer_data(
    router: Router,
) -> None:
    early = Collector()
    router.subscribe(DataType.TICKER, ["KRW-BTC"], early)
    router.publish(ticker(price=1, ts=NOW_MS + 100, stream_type="REALTIME"))
    await early.wait_count(1)
    # A re-subscription makes Upbit re-send a snapshot of data the early subscriber has.
    router.publish(ticker(price=1, ts=NOW_MS + 100, stream_type="SNAPSHOT"))
    router.publish(ticker(price=0.5, ts=NOW_MS + 50, stream_type="SNAPSHOT"))  # even older
    router.publish(ticker(price=2, ts=NOW_MS + 200))  # sentinel
    assert prices(await early.wait_count(2)) == [1, 2]

    # After a reconnect the cache is stale: a new subscriber has nothing and needs the snapshot.
    router.set_epoch("public", 2)
    joined = Collector()
    router.subscribe(DataType.TICKER, ["KRW-BTC"], joined)
    router.publish(ticker(price=2, ts=NOW_MS + 200, epoch=2, stream_type="SNAPSHOT"))
    assert prices(await joined.wait_count(1)) == [2]
    # A newer snapshot is news for everybody.
    router.publish(ticker(price=3, ts=NOW_MS + 300, epoch=2, stream_type="SNAPSHOT"))
    assert prices(await joined.wait_count(2)) == [2, 3]
    assert prices(await early.wait_count(3)) == [1, 2, 3]


async def test_trade_snapshots_are_compared_by_sequential_id(router: Router) -> None:
    got = Collector()
    router.subscribe(DataType.TRADE, ["KRW-BTC"], got)
    router.publish(trade(seq=10))
    router.publish(trade(seq=10, stream_type="SNAPSHOT"))  # the same trade, re-sent
    router.publish(trade(seq=11))
    assert [e.sequential_id for e in await got.wait_count(2)] == [10, 11]


async def test_a_snapshot_trade_with_a_lower_id_is_a_new_trade(router: Router) -> None:
    # Upbit's trade ids are unique but not ordered: the snapshot of a re-sent subscription may
    # be a trade nobody has seen whose id is below the latest one's (found by bench_chaos).
    got = Collector()
    router.subscribe(DataType.TRADE, ["KRW-BTC"], got)
    router.publish(trade(seq=20))
    router.publish(trade(seq=15, stream_type="SNAPSHOT"))
    assert [e.sequential_id for e in await got.wait_count(2)] == [20, 15]


async def test_forget_drops_the_cached_value(router: Router) -> None:
    router.publish(ticker(price=1))  # cached even before anyone subscribes
    assert router.latest(DataType.TICKER, "KRW-BTC") is not None
    router.forget(DataType.TICKER, ["KRW-BTC"])
    assert router.latest(DataType.TICKER, "KRW-BTC") is None
    late = Collector()
    router.subscribe(DataType.TICKER, ["KRW-BTC"], late)
    router.publish(ticker(price=7, ts=NOW_MS + 5))
    assert prices(await late.wait_count(1)) == [7]


# --------------------------------------------------------------------------- cleanup


async def test_unsubscribe_cancels_the_task_and_frees_everything() -> None:
    router = Router()
    got = Collector()
    sub = router.subscribe(DataType.TICKER, ["KRW-BTC"], got, client_id="pane")
    task = sub._task
    assert task is not None
    router.publish(ticker(price=1))
    await got.wait_count(1)
    gate = asyncio.Event()  # leave something queued to prove the queue is freed
    router.publish(ticker(price=2))
    sub_ref = weakref.ref(sub)
    callback_ref = weakref.ref(got)
    router.unsubscribe(sub)
    router.unsubscribe(sub)  # idempotent
    await asyncio.wait_for(task, TIMEOUT)  # ends by itself, promptly
    freed = (task.done(), sub.queue_depth, sub.closed)
    assert freed == (True, 0, True)
    del sub, task, got
    gc.collect()
    assert sub_ref() is None, gc.get_referrers(sub_ref())
    assert callback_ref() is None
    assert router.subscriber_count == 0
    router.publish(ticker(price=3))  # nobody left: nothing happens, nothing raises
    gate.set()
    await router.aclose()


async def test_many_subscribe_unsubscribe_cycles_leave_nothing_behind() -> None:
    router = Router()
    refs = []
    for i in range(200):
        sub = router.subscribe(DataType.TICKER, [f"KRW-C{i % 7}"], Collector())
        router.publish(ticker(f"KRW-C{i % 7}", i))
        refs.append(weakref.ref(sub))
        await sub.aclose()
    del sub
    gc.collect()
    assert all(r() is None for r in refs)
    assert router.subscriber_count == 0
    assert all(not t.get_name().startswith("drain") for t in asyncio.all_tasks())
    await router.aclose()


class Pane:
    def __init__(self, got: Collector) -> None:
        self.got = got

    def on_ticker(self, event: TickerEvent) -> None:
        self.got(event)


async def test_weak_callback_does_not_keep_its_owner_alive(router: Router) -> None:
    got = Collector()
    pane = Pane(got)
    sub = router.subscribe(DataType.TICKER, ["KRW-BTC"], pane.on_ticker, weak=True)
    task = sub._task
    assert task is not None
    router.publish(ticker(price=1))
    await got.wait_count(1)
    await asyncio.sleep(0)  # the drain goes idle
    pane_ref = weakref.ref(pane)
    del pane
    gc.collect()
    assert pane_ref() is None  # the router did not keep the pane alive
    router.publish(ticker(price=2))  # the next event finds the owner gone
    await asyncio.wait_for(task, TIMEOUT)
    assert sub.closed and router.subscriber_count == 0 and len(got.events) == 1


async def test_aclose_cancels_every_drain() -> None:
    router = Router()
    subs = [router.subscribe(DataType.TICKER, ["KRW-BTC"], Collector()) for _ in range(5)]
    tasks = [s._task for s in subs]
    await router.aclose()
    assert all(t is not None and t.done() for t in tasks)
    assert router.subscriber_count == 0


# --------------------------------------------------------------------------- stats, metrics


async def test_metrics_get_latency_deliveries_and_errors() -> None:
    metrics = MetricsCollector()
    router = Router(metrics=metrics)
    got = Collector()
    router.subscribe(DataType.TICKER, ["KRW-BTC"], got)
    router.subscribe(DataType.TICKER, ["KRW-BTC"], lambda e: 1 / 0)
    past = int(time.time() * 1000) - 250
    for p in range(4):
        router.publish(ticker(price=p, ts=past))
    await got.wait_count(4)
    router.publish(ticker(price=9, ts=past))
    await got.wait_count(5)
    await asyncio.sleep(0)
    stats = metrics.latency.stats()
    # Sampled: the first event of every batch (and every 8th), for each subscriber.
    assert stats.samples >= 2 and 250 <= stats.p50_ms < 250 + 5000 * TIMEOUT
    assert metrics.deliveries.total >= 5 and metrics.callback_errors.total >= 4
    rows = {s["callback_errors"] > 0: s for s in router.stats()}
    assert rows[False]["delivered"] == 5 and rows[True]["type"] == "ticker"
    await router.aclose()


async def test_bad_arguments_are_clear_errors(router: Router) -> None:
    with pytest.raises(ValueError, match=r"unknown policy 'fastest'.*drop_oldest"):
        router.subscribe(DataType.TICKER, ["KRW-BTC"], print, policy="fastest")
    with pytest.raises(ValueError, match="queue_size must be at least 1"):
        router.subscribe(DataType.TICKER, ["KRW-BTC"], print, queue_size=0)
    with pytest.raises(ValueError, match="throttle_per_second must be > 0"):
        router.subscribe(
            DataType.TICKER, ["KRW-BTC"], print, policy="throttle", throttle_per_second=0
        )
    with pytest.raises(ValueError, match="depth and level apply to orderbook"):
        router.subscribe(DataType.TICKER, ["KRW-BTC"], print, depth=5)
    with pytest.raises(TypeError, match="callback must be callable"):
        router.subscribe(DataType.TICKER, ["KRW-BTC"], "print")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no symbols given"):
        router.subscribe(DataType.TICKER, [], print)
    assert router.subscriber_count == 0


async def test_a_single_symbol_string_is_one_symbol(router: Router) -> None:
    got = Collector()
    sub = router.subscribe(DataType.TICKER, "KRW-BTC", got)
    assert sub.symbols == {"KRW-BTC"}


async def test_latency_is_sampled_first_of_each_batch_and_every_eighth() -> None:
    metrics = MetricsCollector()
    router = Router(metrics=metrics)
    got = Collector()
    router.subscribe(DataType.TICKER, ["KRW-BTC"], got)
    old = int(time.time() * 1000) - 5000
    router.publish(ticker(price=0, ts=old))  # the oldest event heads the batch
    for p in range(1, 20):  # no yield in between: one batch of 20
        router.publish(ticker(price=p))
    await got.wait_count(20)
    stats = metrics.latency.stats()
    assert stats.samples == 3  # events 0, 8 and 16
    assert stats.max_ms >= 5000  # the batch's oldest event is always measured
    await router.aclose()


async def test_snapshot_and_rest_events_are_not_latency_samples() -> None:
    # Their timestamp is the data's age (a quiet market's snapshot may be hours old), not our
    # delivery delay: sampling them would turn health degraded for no reason.
    metrics = MetricsCollector()
    router = Router(metrics=metrics)
    got = Collector()
    router.subscribe(DataType.TICKER, ["KRW-BTC", "KRW-ETH"], got)
    hour_ago = int(time.time() * 1000) - 3_600_000
    router.publish(ticker(price=1, ts=hour_ago, stream_type="SNAPSHOT"))
    await got.wait_count(1)
    router.publish(ticker(symbol="KRW-ETH", price=2, ts=hour_ago, stream_type="REST"))
    await got.wait_count(2)
    assert metrics.latency.stats().samples == 0
    router.publish(ticker(price=3))
    await got.wait_count(3)
    stats = metrics.latency.stats()
    assert stats.samples == 1 and stats.max_ms < 3_600_000
    await router.aclose()


async def test_private_events_are_never_deduplicated(router: Router) -> None:
    got = Collector()
    router.subscribe(DataType.ORDER, None, got)

    def order(uuid: str, stream_type: str) -> OrderEvent:
        return OrderEvent(
            symbol="KRW-BTC",
            uuid=uuid,
            ask_bid="BID",
            order_type="limit",
            state="wait",
            timestamp_ms=NOW_MS,
            epoch=1,
            stream_type=stream_type,
        )

    router.publish(order("a", "REALTIME"))
    router.publish(order("b", "SNAPSHOT"))  # same timestamp, but a different order
    assert [e.uuid for e in await got.wait_count(2)] == ["a", "b"]


def test_subscribe_outside_a_loop_is_a_clear_error_and_changes_nothing() -> None:
    router = Router()
    with pytest.raises(RuntimeError, match="needs a running event loop"):
        router.subscribe(DataType.TICKER, ["KRW-BTC"], print)
    assert router.subscriber_count == 0
