"""The manager's API across processes: a remote manager through a gateway over real NATS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from gateway_harness import (
    Collector,
    live_subscription,
    wait_until,
)

from upbit_tui.client.proxy import WebSocketClientProxy
from upbit_tui.gateway.localserver import LocalNatsServer
from upbit_tui.gateway.remote import RemoteWebSocketManager
from upbit_tui.gateway.service import GatewayService
from upbit_tui.net.markets import UnlistedSymbolError
from upbit_tui.wire.events import TickerEvent, TradeEvent


@pytest.fixture
async def remote(gateway: GatewayService, nats_server: LocalNatsServer, prefix: str
                 ) -> AsyncIterator[RemoteWebSocketManager]:  # fmt: skip
    async with RemoteWebSocketManager(nats_server.url, prefix=prefix, name="bot") as m:
        yield m


async def test_remote_proxy_receives_tickers_and_trades(
    remote: RemoteWebSocketManager, sim: Any
) -> None:
    tickers, trades = Collector(), Collector()
    async with WebSocketClientProxy("chart", remote) as proxy:
        await proxy.subscribe_ticker(["KRW-BTC", "KRW-ETH"], tickers)
        await proxy.subscribe_trade("KRW-BTC", trades)
        await tickers.wait_for(lambda c: {e.symbol for e in c.events} == {"KRW-BTC", "KRW-ETH"})
        await trades.wait_for(lambda c: len(c.events) >= 3)
        assert proxy.subscriptions() == {"ticker": ["KRW-BTC", "KRW-ETH"], "trade": ["KRW-BTC"]}
    assert all(isinstance(e, TickerEvent) and e.epoch >= 1 for e in tickers.events)
    assert all(isinstance(e, TradeEvent) for e in trades.events)
    sids = [e.sequential_id for e in trades.events]
    assert sids == sorted(set(sids))


async def test_two_remote_clients_share_one_upbit_subscription(
    remote: RemoteWebSocketManager, gateway: GatewayService, sim: Any, prefix: str,
    nats_server: LocalNatsServer,
) -> None:  # fmt: skip
    a, b = Collector(), Collector()
    async with RemoteWebSocketManager(nats_server.url, prefix=prefix, name="bot2") as other:
        pa = WebSocketClientProxy("a", remote)
        pb = WebSocketClientProxy("b", other)
        await pa.subscribe_ticker("KRW-BTC", a)
        await pb.subscribe_ticker(["KRW-BTC", "KRW-XRP"], b)
        await wait_until(
            lambda: live_subscription(sim).get("ticker") == {"KRW-BTC", "KRW-XRP"},
            what="the union on the wire",
        )
        await a.wait_for(lambda c: len(c.events) >= 3)
        await b.wait_for(lambda c: {e.symbol for e in c.events} == {"KRW-BTC", "KRW-XRP"})
        assert {e.symbol for e in a.events} == {"KRW-BTC"}
        await pb.cleanup()
        await wait_until(
            lambda: live_subscription(sim).get("ticker") == {"KRW-BTC"}, what="union shrinks"
        )
        await pa.cleanup()


async def test_unlisted_market_fails_that_call_alone_with_suggestion(
    remote: RemoteWebSocketManager, sim: Any
) -> None:
    ticks = Collector()
    proxy = WebSocketClientProxy("watch", remote)
    await proxy.subscribe_ticker("KRW-BTC", ticks)
    with pytest.raises(UnlistedSymbolError) as caught:
        await proxy.subscribe_ticker("BTC-KRW", Collector())
    assert caught.value.suggestions["BTC-KRW"][0] == "KRW-BTC"
    assert "did you mean" in str(caught.value)
    assert proxy.subscriptions() == {"ticker": ["KRW-BTC"]}
    seen = len(ticks.events)
    await ticks.wait_for(lambda c: len(c.events) > seen + 2)
    await proxy.cleanup()


async def test_snapshots_come_from_the_gateway_live_cache(
    remote: RemoteWebSocketManager, sim: Any
) -> None:
    ticks = Collector()
    async with WebSocketClientProxy("snap", remote) as proxy:
        await proxy.subscribe_ticker("KRW-BTC", ticks)
        await ticks.wait_for(lambda c: len(c.events) >= 1)
        rest_before = sim.stats()["rest"]["requests"]
        [ticker] = await proxy.get_ticker_snapshot("KRW-BTC")
        assert ticker.symbol == "KRW-BTC" and ticker.trade_price > 0
        assert sim.stats()["rest"]["requests"] == rest_before
        books = await proxy.get_orderbook_snapshot(["KRW-ETH"], depth=5)
        assert books[0].symbol == "KRW-ETH" and len(books[0].orderbook_units) == 5
        candles = await proxy.get_candle_snapshot("KRW-BTC", "1m", count=3)
        assert len(candles["KRW-BTC"]) == 3


async def test_health_shows_the_gateway_and_its_clients(remote: RemoteWebSocketManager) -> None:
    async with WebSocketClientProxy("mon", remote) as proxy:
        await proxy.subscribe_ticker("KRW-BTC", Collector())
        health = await proxy.health_check()
    assert health["remote"]["nats_connected"] is True
    clients = health["gateway"]["clients"]
    assert [c["name"] for c in clients] == ["bot"]
    assert clients[0]["subscriptions"] == {"mon": {"ticker": ["KRW-BTC"]}}


async def test_garbage_collected_owner_withdraws_its_wish(
    remote: RemoteWebSocketManager, sim: Any
) -> None:
    class Pane:
        def on_tick(self, event: Any) -> None:
            pass

    pane = Pane()
    proxy = WebSocketClientProxy("pane", remote, owner=pane)
    await proxy.subscribe_ticker("KRW-DOGE", pane.on_tick)
    await wait_until(lambda: "KRW-DOGE" in live_subscription(sim).get("ticker", set()))
    del pane, proxy
    import gc

    gc.collect()
    await wait_until(
        lambda: "KRW-DOGE" not in live_subscription(sim).get("ticker", set()),
        what="the owner's wish withdrawn",
    )


async def test_one_subscribe_call_is_one_queue_through_a_gateway_too(
    remote: RemoteWebSocketManager,
) -> None:
    """`queue_size` means what it means locally: one queue for all of a call's markets, narrowed
    in place by a partial unsubscribe (it used to be one queue per market behind a gateway)."""
    trades = Collector()
    router = remote._router
    assert router is not None
    async with WebSocketClientProxy("bot", remote) as proxy:
        await proxy.subscribe_trade(["KRW-BTC", "KRW-ETH", "KRW-XRP"], trades, queue_size=7)
        assert router.subscriber_count == 1
        await proxy.unsubscribe_trade(["KRW-ETH"])
        assert router.subscriber_count == 1
        assert proxy.subscriptions() == {"trade": ["KRW-BTC", "KRW-XRP"]}
        await trades.wait_for(lambda c: {e.symbol for e in c.events} >= {"KRW-BTC", "KRW-XRP"})
        seen = len(trades.events)
        await trades.wait_for(lambda c: len(c.events) >= seen + 10)
        assert {e.symbol for e in trades.events[seen:]} <= {"KRW-BTC", "KRW-XRP"}
        await proxy.unsubscribe_trade(["KRW-BTC", "KRW-XRP"])
        assert router.subscriber_count == 0 and proxy.subscriptions() == {}


async def test_bad_options_fail_the_call_as_locally(remote: RemoteWebSocketManager) -> None:
    """The remote manager opens its subscriber through the local manager's handles: a
    queue_size of 0 is an error there too (it used to mean "the default" here only)."""
    async with WebSocketClientProxy("bot", remote) as proxy:
        with pytest.raises(ValueError, match="queue_size"):
            await proxy.subscribe_trade(["KRW-BTC"], lambda event: None, queue_size=0)
        with pytest.raises(ValueError, match="depth"):
            await proxy.subscribe_orderbook(["KRW-BTC"], lambda event: None, depth=7)
        assert proxy.subscriptions() == {}
