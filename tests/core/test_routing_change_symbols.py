"""Router.change_symbols: one subscriber (one queue, one drain task) over a changing symbol set."""

from __future__ import annotations

import time

import pytest
from core_harness import Collector

from upbit_tui.net.routing import Router
from upbit_tui.wire.events import DataType, TickerEvent, TradeEvent

NOW_MS = int(time.time() * 1000)


def trade(symbol: str, seq: int) -> TradeEvent:
    return TradeEvent(
        symbol=symbol,
        trade_price=1.0,
        trade_volume=1.0,
        ask_bid="BID",
        sequential_id=seq,
        timestamp_ms=NOW_MS,
        epoch=1,
        stream_type="REALTIME",
    )


def sids(events: list[TradeEvent]) -> list[tuple[str, int]]:
    return [(e.symbol, e.sequential_id) for e in events]


async def test_gained_symbols_are_routed_and_lost_ones_are_not(router: Router) -> None:
    got = Collector()
    sub = router.subscribe(DataType.TRADE, ["KRW-BTC"], got)
    router.change_symbols(sub, ["KRW-ETH", "KRW-XRP"])
    router.publish(trade("KRW-BTC", 1))
    router.publish(trade("KRW-ETH", 2))
    router.publish(trade("KRW-XRP", 3))
    assert sids(await got.wait_count(2)) == [("KRW-ETH", 2), ("KRW-XRP", 3)]
    assert sub.symbols == frozenset({"KRW-ETH", "KRW-XRP"})
    assert router.subscriber_count == 1


@pytest.mark.parametrize("policy", ["drop_oldest", "coalesce_by_symbol", "throttle"])
async def test_queued_events_of_a_lost_symbol_are_discarded_the_rest_kept_in_order(
    router: Router, policy: str
) -> None:
    got = Collector()
    sub = router.subscribe(
        DataType.TRADE, ["KRW-BTC", "KRW-ETH"], got, policy=policy, throttle_per_second=1e6
    )
    # Queued, not yet drained (the drain task has not run since these publishes).
    router.publish(trade("KRW-BTC", 1))
    router.publish(trade("KRW-ETH", 2))
    router.publish(trade("KRW-BTC", 3))
    router.change_symbols(sub, ["KRW-ETH"])
    router.publish(trade("KRW-ETH", 4))
    events = await got.wait_for(lambda e: ("KRW-ETH", 4) in sids(e))
    assert all(e.symbol == "KRW-ETH" for e in events)
    assert sids(events)[-1] == ("KRW-ETH", 4)


async def test_a_gained_symbol_replays_its_latest_value(router: Router) -> None:
    router.subscribe(DataType.TICKER, ["KRW-ETH"], Collector())
    router.publish(TickerEvent(symbol="KRW-ETH", trade_price=7.0, timestamp_ms=NOW_MS, epoch=1))
    got = Collector()
    sub = router.subscribe(DataType.TICKER, ["KRW-BTC"], got)
    router.change_symbols(sub, ["KRW-BTC", "KRW-ETH"])
    assert [e.trade_price for e in await got.wait_count(1)] == [7.0]


async def test_change_symbols_refuses_what_it_cannot_do(router: Router) -> None:
    every = router.subscribe(DataType.TRADE, None, Collector())
    with pytest.raises(ValueError, match="every symbol"):
        router.change_symbols(every, ["KRW-BTC"])
    sub = router.subscribe(DataType.TRADE, ["KRW-BTC"], Collector())
    with pytest.raises(ValueError, match="no symbols"):
        router.change_symbols(sub, [])
    router.unsubscribe(sub)
    with pytest.raises(ValueError, match="not subscribed"):
        router.change_symbols(sub, ["KRW-ETH"])
