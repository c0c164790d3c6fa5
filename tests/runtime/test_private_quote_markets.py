"""Our client's private side after trades on BTC- and USDT-quoted markets: the balances it
reports (REST seed, then myAsset) are the simulator's, quote currencies included, and myOrder
arrives with the quote market's code."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from runtime_helpers import ACCESS, SECRET, Collector, fast_config, on_wire

from upbit_tui.client.manager import GlobalWebSocketManager
from upbit_tui.client.proxy import WebSocketClientProxy
from upbit_tui.exchange import ExchangeServer
from upbit_tui.wire.events import BalanceEvent, OrderEvent, StreamType

PRIVATE_WIRE = {"myAsset": set(), "myOrder": set()}


@pytest.fixture
async def sim() -> AsyncIterator[Any]:
    async with ExchangeServer(
        seed=5,
        markets=10,
        btc_markets=8,
        usdt_markets=8,
        rate=0.0,
        port=0,
        api_keys={ACCESS: SECRET},
    ) as server:
        yield server


def sim_balances(sim: Any) -> dict[str, tuple[float, float]]:
    return {b.currency: (b.balance, b.locked) for b in sim.model.accounts(ACCESS)}


def known_balances(events: list[Any]) -> dict[str, tuple[float, float]]:
    """What a subscriber knows after applying every event (updates may list changes only)."""
    known: dict[str, tuple[float, float]] = {}
    for event in events:
        assert isinstance(event, BalanceEvent)
        known.update({a.currency: (round(a.balance, 8), round(a.locked, 8)) for a in event.assets})
    return {c: v for c, v in known.items() if v != (0.0, 0.0) or c == "KRW"}


async def test_balances_and_orders_follow_btc_and_usdt_market_trades(sim: Any) -> None:
    async with GlobalWebSocketManager(fast_config(sim, keys=True)) as manager:
        balances, orders = Collector(), Collector()
        proxy = WebSocketClientProxy("wallet", manager)
        await proxy.subscribe_balance(balances)
        await proxy.subscribe_orders(orders)
        await balances.wait_for(lambda c: len(c.events) >= 1)
        seed = balances.events[0]
        assert seed.stream_type == StreamType.REST
        assert {"BTC", "USDT"} <= {a.currency for a in seed.assets}
        await on_wire(sim, PRIVATE_WIRE, endpoint="private")

        book = sim.model.orderbook("BTC-ETH", depth=1).orderbook_units[0]
        bought = sim.model.place_order(
            ACCESS, "BTC-ETH", "bid", "limit", price=book.ask_price, volume=0.5
        )
        sold = sim.model.place_order(ACCESS, "USDT-BTC", "ask", "market", volume=0.002)
        resting = sim.model.place_order(
            ACCESS, "USDT-ETH", "bid", "limit", price=100.0, volume=0.1, identifier="low"
        )
        assert (bought.state, sold.state, resting.state) == ("done", "done", "wait")
        expected = sim_balances(sim)
        assert expected["USDT"][1] > 0  # the resting bid locks USDT
        await balances.wait_for(lambda c: known_balances(c.events) == expected)
        assert balances.events[-1].stream_type == StreamType.REALTIME

        def final(c: Collector) -> dict[str, str]:
            return {e.uuid: e.state for e in c.events if isinstance(e, OrderEvent)}

        wanted = {bought.uuid: "done", sold.uuid: "done", resting.uuid: "wait"}
        await orders.wait_for(lambda c: final(c) == wanted)
        codes = {e.uuid: e.symbol for e in orders.events}
        assert codes == {bought.uuid: "BTC-ETH", sold.uuid: "USDT-BTC", resting.uuid: "USDT-ETH"}
        await proxy.cleanup()
