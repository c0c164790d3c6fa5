"""Many components, one connection: the union on the wire, never an overwrite (issue 3)."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest
from runtime_helpers import (
    Collector,
    assert_within_message_limits,
    fast_config,
    live_subscription,
    on_wire,
    requests_sent,
    sessions,
    synced,
    wait_until,
)

from upbit_tui.client.manager import GlobalWebSocketManager
from upbit_tui.client.proxy import WebSocketClientProxy
from upbit_tui.wire.events import TickerEvent


async def test_three_components_share_one_request_with_the_union(
    sim: Any, manager: GlobalWebSocketManager
) -> None:
    chart, book, portfolio = Collector(), Collector(), Collector()
    async with (
        WebSocketClientProxy("chart", manager) as a,
        WebSocketClientProxy("orderbook", manager) as b,
        WebSocketClientProxy("portfolio", manager) as c,
    ):
        await a.subscribe_ticker(["KRW-BTC", "KRW-ETH"], chart)
        await b.subscribe_ticker(["KRW-BTC"], book)
        await c.subscribe_ticker(["KRW-DOGE", "KRW-ADA"], portfolio)
        await synced(manager)
        await on_wire(sim, {"ticker": {"KRW-BTC", "KRW-ETH", "KRW-DOGE", "KRW-ADA"}})
        # The three calls inside one batch window became one request carrying the union.
        assert len(requests_sent(sim)) == 1
        await chart.wait_for(lambda c: c.symbols() == {"KRW-BTC", "KRW-ETH"})
        await book.wait_for(lambda c: c.symbols() == {"KRW-BTC"})
        await portfolio.wait_for(lambda c: c.symbols() == {"KRW-DOGE", "KRW-ADA"})
        assert all(isinstance(e, TickerEvent) and e.epoch == 1 for e in chart.events)
        assert len(sessions(sim)) == 1  # one connection for everyone


async def test_second_client_does_not_overwrite_first(
    sim: Any, manager: GlobalWebSocketManager
) -> None:
    first, second = Collector(), Collector()
    async with (
        WebSocketClientProxy("first", manager) as a,
        WebSocketClientProxy("second", manager) as b,
    ):
        await a.subscribe_trade(["KRW-BTC", "KRW-ETH"], first)
        await synced(manager)
        await b.subscribe_trade(["KRW-ETH", "KRW-XRP"], second)
        await b.subscribe_ticker(["KRW-SOL"], second)
        await synced(manager)
        await on_wire(sim, {"trade": {"KRW-BTC", "KRW-ETH", "KRW-XRP"}, "ticker": {"KRW-SOL"}})
        await b.unsubscribe_trade(["KRW-ETH"])  # still wanted by `first`: no change
        await a.unsubscribe_trade(["KRW-BTC"])
        await on_wire(sim, {"trade": {"KRW-ETH", "KRW-XRP"}, "ticker": {"KRW-SOL"}})
        mark = len(first.events), len(second.events)
        await first.wait_for(lambda c: {e.symbol for e in c.events[mark[0] :]} == {"KRW-ETH"})
        await second.wait_for(
            lambda c: {e.symbol for e in c.events[mark[1] :]} >= {"KRW-XRP", "KRW-SOL"}
        )
        assert "KRW-ETH" not in {
            e.symbol for e in second.events[mark[1] :] if e.__class__.__name__ == "TradeEvent"
        }
    assert_within_message_limits(sim)


async def test_removal_cleanup_leaves_only_what_others_hold(
    sim: Any, manager: GlobalWebSocketManager
) -> None:
    a = WebSocketClientProxy("client_a", manager)
    b = WebSocketClientProxy("client_b", manager)
    await a.subscribe_ticker(["KRW-BTC"], Collector())
    await b.subscribe_ticker(["KRW-ETH"], Collector())
    await synced(manager)
    await a.cleanup()
    # The grace period keeps KRW-BTC on the wire briefly; then the union shrinks.
    await wait_until(lambda: live_subscription(sim) == {"ticker": {"KRW-ETH"}}, what="shrink")
    assert manager.consolidated_subscription() == {"ticker": ["KRW-ETH"]}
    await b.cleanup()


async def test_burst_becomes_one_message_and_no_change_sends_nothing(
    sim: Any, manager: GlobalWebSocketManager
) -> None:
    proxies = [WebSocketClientProxy(f"pane{i}", manager) for i in range(10)]
    symbols = ["KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL", "KRW-DOGE"]
    for i, proxy in enumerate(proxies):
        await proxy.subscribe_ticker([symbols[i % 5]], Collector())
    await synced(manager)
    await on_wire(sim, {"ticker": set(symbols)})
    assert len(requests_sent(sim)) == 1
    # Subscribing what is already on the wire changes nothing: no request.
    extra = WebSocketClientProxy("extra", manager)
    await extra.subscribe_ticker(["KRW-BTC", "KRW-ETH"], Collector())
    await asyncio.sleep(manager.config.connection.batch_window * 3)
    await synced(manager)
    assert len(requests_sent(sim)) == 1
    for proxy in [*proxies, extra]:
        await proxy.cleanup()


async def test_a_recreated_pane_inside_the_grace_period_causes_no_churn(
    sim: Any, manager: GlobalWebSocketManager
) -> None:
    pane = WebSocketClientProxy("pane", manager)
    await pane.subscribe_orderbook(["KRW-BTC"], Collector(), depth=15)
    await synced(manager)
    await on_wire(sim, {"orderbook": {"KRW-BTC.15"}})
    await pane.cleanup()
    pane = WebSocketClientProxy("pane", manager)
    await pane.subscribe_orderbook(["KRW-BTC"], Collector(), depth=15)
    await asyncio.sleep(manager.config.connection.unsubscribe_grace * 2)
    await synced(manager)
    assert len(requests_sent(sim)) == 1
    await pane.cleanup()


async def test_rapid_changes_respect_upbit_message_limits(sim: Any) -> None:
    # No batching: every change wants its own message; the budget must hold them back.
    config = fast_config(sim, batch_window=0.0, unsubscribe_grace=0.0)
    async with GlobalWebSocketManager(config) as manager:
        proxy = WebSocketClientProxy("flapper", manager)
        codes = ["KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL", "KRW-DOGE", "KRW-ADA"]
        for i in range(24):
            await proxy.subscribe_ticker([codes[i % 6]], Collector())
            await asyncio.sleep(0.01)
            await proxy.unsubscribe_ticker()
            await proxy.subscribe_ticker([codes[(i + 1) % 6]], Collector())
        await synced(manager, within=20)
        await on_wire(sim, {"ticker": {codes[24 % 6]}})
        assert_within_message_limits(sim)
        await proxy.cleanup()


async def test_two_live_proxies_with_the_same_id_is_an_error(
    manager: GlobalWebSocketManager,
) -> None:
    first = WebSocketClientProxy("chart", manager)
    with pytest.raises(ValueError, match="already used"):
        WebSocketClientProxy("chart", manager)
    await first.cleanup()
    second = WebSocketClientProxy("chart", manager)  # free again after cleanup
    await second.cleanup()


async def test_garbage_collected_proxy_shrinks_the_union(
    sim: Any, manager: GlobalWebSocketManager
) -> None:
    keeper = WebSocketClientProxy("keeper", manager)
    await keeper.subscribe_ticker(["KRW-BTC"], Collector())
    temp = WebSocketClientProxy("temp", manager)
    await temp.subscribe_ticker(["KRW-ETH"], Collector())
    await temp.subscribe_trade(["KRW-ETH"], Collector())
    await on_wire(sim, {"ticker": {"KRW-BTC", "KRW-ETH"}, "trade": {"KRW-ETH"}})
    tasks_before = len(asyncio.all_tasks())
    del temp
    gc.collect()
    await wait_until(lambda: live_subscription(sim) == {"ticker": {"KRW-BTC"}}, what="gc")
    assert "temp" not in manager.dashboard()["subscriptions"]
    assert not [s for s in manager.subscriber_stats() if s["client_id"] == "temp"]
    assert len(asyncio.all_tasks()) == tasks_before - 2  # its two drain tasks are gone
    await keeper.cleanup()


class Pane:
    """A stand-in for a widget that owns a proxy and subscribes a bound method."""

    def __init__(self, manager: GlobalWebSocketManager) -> None:
        self.seen = 0
        self.proxy = WebSocketClientProxy("pane", manager, owner=self)

    def on_ticker(self, event: TickerEvent) -> None:
        self.seen += 1


async def test_owner_collected_cleans_up_its_proxy(
    sim: Any, manager: GlobalWebSocketManager
) -> None:
    pane = Pane(manager)
    await pane.proxy.subscribe_ticker(["KRW-XRP"], pane.on_ticker)
    await on_wire(sim, {"ticker": {"KRW-XRP"}})
    del pane
    gc.collect()
    await wait_until(lambda: manager.consolidated_subscription() == {}, what="owner gc")
    await wait_until(lambda: not [s for s in sessions(sim) if s["open"]], what="close")
    assert manager.subscriber_stats() == []


async def test_a_pane_switching_symbols_keeps_only_its_current_callbacks(
    sim: Any, manager: GlobalWebSocketManager
) -> None:
    codes = ["KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL", "KRW-DOGE"]
    proxy = WebSocketClientProxy("switcher", manager)
    for i in range(50):
        await proxy.unsubscribe_ticker()
        await proxy.subscribe_ticker([codes[i % 5]], lambda event: None)
    assert len(proxy._callbacks) == 1
    assert len([s for s in manager.subscriber_stats() if s["client_id"] == "switcher"]) == 1
    await on_wire(sim, {"ticker": {codes[49 % 5]}})  # the grace period let the others expire
    await proxy.cleanup()
